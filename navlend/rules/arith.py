"""Integer arithmetic with the contracts' rounding, and the revert every
rule raises.

Each function names its rounding: the contracts round every conversion in
the protocol's favour, and the callers pick the direction that does. A
rule the contract enforces with ``assert cond, reason`` calls
:func:`require`, which raises :class:`Revert` with the contract's reason."""

from __future__ import annotations

from navlend.constants import WAD


class Revert(Exception):
    """The market reverts with ``reason`` (its own string, verbatim).

    ``message`` says the same to a person: what is wrong and what would be
    accepted (the tools show it; the property suite compares ``reason``)."""

    def __init__(self, reason: str, message: str = ""):
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason


def require(cond: bool, reason: str, message: str = "") -> None:
    """The contract's ``assert cond, reason``."""
    if not cond:
        raise Revert(reason, message)


def ceil_div(n: int, d: int) -> int:
    """``n / d`` rounded up (``_ceil_div``)."""
    q, r = divmod(n, d)
    return q + 1 if r else q


def mul_div(x: int, y: int, d: int, roundup: bool) -> int:
    """``x * y / d`` at full precision, rounded up when ``roundup``
    (snekmate's ``math._mul_div``, which reverts on a zero divisor)."""
    require(d != 0, "")
    q, r = divmod(x * y, d)
    return q + 1 if (roundup and r) else q


def at_ratio(amount: int, ratio: int) -> int:
    """``amount`` times a WAD ratio of real to booked units, rounded down:
    the real units of a booked amount (``_real_amount``), or the price of a
    booked unit (``_price``) of an asset the market is short of."""
    return amount * ratio // WAD
