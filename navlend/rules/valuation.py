"""Valuation: what a position's collateral is worth to the market.

- A price is the feed's answer, capped, per booked unit (times the ratio
  of real to booked units when the market is short of the asset); a
  broken feed (no positive answer, or one from the future) prices the
  asset at zero and stale (``_price``).
- A value is ``amount x price / 10^exponent`` base units, rounded down,
  where the exponent is token + oracle - base decimals.
- At the liquidation threshold every asset counts at its price. At LTV a
  stale asset counts for nothing, a frozen one for nothing except when
  collateral leaves (``VALUE_WITHDRAW``: freezing stops new exposure, it
  does not trap collateral), and an asset whose feed announces a lower
  pending NAV counts at that NAV (``_valuation``). Each asset's share is
  rounded down on its own.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, replace

from navlend.constants import BPS, VALUE_LIQUIDATION, VALUE_WITHDRAW
from navlend.rules.arith import at_ratio


@dataclass(frozen=True)
class Collateral:
    """One asset of a position, priced as the market prices it.

    ``price`` and ``pending`` are per booked unit in the oracle's decimals
    (see :func:`market_price`, :func:`pending_price`); ``pending`` is None
    when the feed announces nothing."""

    balance: int
    price: int
    exponent: int
    ltv_bps: int
    threshold_bps: int
    stale: bool = False
    frozen: bool = False
    pending: int | None = None

    def value(self) -> int:
        """The balance's value at price, rounded down."""
        return value(self.balance, self.price, self.exponent)

    def lend_value(self) -> int:
        """The balance's value at the price the market lends at: the lower
        pending NAV when one is announced, rounded down."""
        if self.pending is not None and self.pending < self.price:
            return value(self.balance, self.pending, self.exponent)
        return self.value()

    def counts_at_ltv(self, mode: int) -> bool:
        """Whether the market counts this asset at LTV in ``mode``."""
        if mode == VALUE_LIQUIDATION or self.stale:
            return False
        return mode == VALUE_WITHDRAW or not self.frozen

    def with_balance(self, balance: int) -> Collateral:
        """The same asset holding ``balance``."""
        return replace(self, balance=balance)


@dataclass
class Valuation:
    """One pass over a position (``_Valuation``): its values at LTV, at the
    liquidation threshold and at price, and the target asset's value,
    price, balance and staleness."""

    borrow_value: int = 0
    liquidation_value: int = 0
    total_value: int = 0
    target_value: int = 0
    target_price: int = 0
    target_balance: int = 0
    target_stale: bool = False


def value(amount: int, price: int, exponent: int) -> int:
    """``amount`` at ``price`` in base units, rounded down."""
    return amount * price // 10**exponent


def market_price(answer: int, updated_at: int, now: int, price_cap: int, ratio: int, max_age: int) -> tuple[int, bool]:
    """``_price``: a feed's answer as the market prices a booked unit, and
    whether it is stale (older than ``max_age``). ``price_cap`` 0: none."""
    if answer <= 0 or updated_at > now:
        return 0, True
    capped = min(answer, price_cap) if price_cap else answer
    return at_ratio(capped, ratio), now - updated_at > max_age


def pending_price(answer: int, ratio: int) -> int | None:
    """``_pending_price``: the answer an ``IPendingNav`` feed announces as
    pending (per real unit) per booked unit, rounded down; None when it
    announces none (0). A negative answer reads as a pending price of zero
    (the asset then counts for nothing at LTV, the safe side), as does a
    feed that fails to answer (the caller passes -1 for that)."""
    if answer == 0:
        return None
    if answer < 0:
        return 0
    return at_ratio(answer, ratio)


def valuation(collateral: Mapping[Hashable, Collateral], mode: int, target: Hashable = None) -> Valuation:
    """``_valuation`` over ``collateral`` (keyed by asset, in the market's
    asset order), reporting on ``target``. Assets with no balance are
    skipped. The compliance check of ``VALUE_OPEN_BORROW`` is the caller's
    (it reverts, it values nothing): here it values as ``VALUE_BORROW``."""
    v = Valuation()
    for key, c in collateral.items():
        if c.balance == 0:
            continue
        val = c.value()
        v.total_value += val
        v.liquidation_value += val * c.threshold_bps // BPS
        if c.counts_at_ltv(mode):
            v.borrow_value += c.lend_value() * c.ltv_bps // BPS
        if key == target:
            v.target_value, v.target_price, v.target_balance, v.target_stale = val, c.price, c.balance, c.stale
    return v


def max_withdraw(collateral: Mapping[Hashable, Collateral], key: Hashable, debt: int) -> int:
    """The most of asset ``key`` that can leave a position owing ``debt``
    while its value at LTV (``VALUE_WITHDRAW``) still covers the debt.

    A search rather than an inverse formula: each asset's share is rounded
    down on its own, so the inverse is off by a unit here and there, while
    the value is non-decreasing in the balance, which is all a bisection
    needs."""
    target = collateral[key]
    if debt == 0:
        return target.balance
    others = valuation({k: c for k, c in collateral.items() if k != key}, VALUE_WITHDRAW).borrow_value

    def fits(amount: int) -> bool:
        left = target.with_balance(target.balance - amount)
        return others + valuation({key: left}, VALUE_WITHDRAW).borrow_value >= debt

    if not fits(0):
        return 0
    low, high = 0, target.balance
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return low
