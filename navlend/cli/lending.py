"""A lender's side of a position: what was put in, what the shares are
worth, what they earned and at what yield. No chain, no I/O.

Cost basis. A deposit adds its assets and shares; a withdrawal (or a
transfer of shares out) takes the basis down pro rata to the shares that
left, so what remains is the cost of the shares still held. Shares that
came in by transfer have no known cost: the interest earned is then
unknown (None), not a guess.

Yield. The market accrues interest every second at the supply rate, so a
lender's annual yield is the rate compounded continuously:
``APY = e^APR - 1``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from navlend.constants import WAD


@dataclass(frozen=True)
class ShareEvent:
    """A change of an account's lender shares, from the market's events:
    ``kind`` is "deposit", "withdraw", "transfer_in" or "transfer_out";
    ``assets`` is 0 for transfers. ``order`` sorts them (block, log index)."""

    kind: str
    assets: int
    shares: int
    order: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class CostBasis:
    """What the shares held cost (None: some came in by transfer)."""

    shares: int
    basis: int | None


def cost_basis(events: Iterable[ShareEvent]) -> CostBasis:
    """The basis of the shares held after ``events`` (see the module)."""
    shares, basis = 0, 0
    known = True
    for e in sorted(events, key=lambda e: e.order):
        if e.kind == "deposit":
            shares += e.shares
            basis += e.assets
        elif e.kind == "transfer_in":
            shares += e.shares
            known = False
        else:
            left = min(e.shares, shares)
            if shares:
                # Rounded up: the basis that leaves is never understated.
                basis -= -(-basis * left // shares)
            shares -= left
    return CostBasis(shares, max(basis, 0) if known else None)


@dataclass(frozen=True)
class LenderView:
    """What ``position`` shows of the lent side."""

    shares: int
    balance: int
    basis: int | None
    supply_apr: int

    @property
    def interest_earned(self) -> int | None:
        """The balance above what the shares held cost (None: unknown)."""
        if self.basis is None:
            return None
        return max(self.balance - self.basis, 0)

    @property
    def supply_apy(self) -> Fraction:
        """The supply rate compounded every second, as a fraction."""
        return apy(self.supply_apr)


def apy(apr_wad: int) -> Fraction:
    """``e^APR - 1`` for an APR in WAD (per-second compounding's limit),
    to 12 places: a display figure, not an accounting one."""
    value = math.expm1(apr_wad / WAD)
    return Fraction(round(value * 10**12), 10**12)
