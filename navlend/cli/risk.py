"""A position's numbers, computed as the market computes them: values at
LTV and at the liquidation threshold, headroom, the NAV at which it becomes
liquidatable, and its principal. No chain, no I/O.

Liquidation NAV. The value at the liquidation threshold is a sum over the
assets held, each term proportional to the asset's (capped) price. Holding
every other asset's price fixed, the position becomes liquidatable when
asset *i*'s price falls below::

    p_i* = p_i × (debt − LV_others) / LV_i

(for a single-asset position, ``price × debt / liquidation_value``). When
the other assets alone cover the debt, no fall in *i*'s price can make the
position liquidatable.

Principal. Interest accrued is the debt minus the principal. Principal is
what was borrowed; a repayment (or a liquidation) reduces principal and
accrued interest pro rata, i.e. principal scales with the scaled debt:
``principal × scaled_after / scaled_before``. Only the market's own events
are needed (each carries the borrower's scaled debt after it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from navlend.cli.model import BPS, WAD, Holding, Position

# Valuation modes, as in the market (contracts/market/modules/market_core.vy).
BORROW = "borrow"  # stale or frozen assets count for nothing at LTV
WITHDRAW = "withdraw"  # stale assets count for nothing; frozen ones count
# The market rounds a new borrow's debt up twice (scaled debt, then debt):
# a borrow of the whole headroom can end up to this many units above it.
BORROW_ROUNDING = 2


def counts_at_ltv(holding: Holding, mode: str) -> bool:
    """Whether the market counts ``holding`` at LTV in ``mode``."""
    if holding.stale:
        return False
    return not (mode == BORROW and holding.frozen)


def borrow_value(holdings: Iterable[Holding], mode: str = BORROW) -> int:
    """The value at LTV, summed per asset with the market's rounding, each
    asset at the lower of its price and a pending NAV (as the market lends)."""
    return sum(h.lend_value() * h.ltv_bps // BPS for h in holdings if counts_at_ltv(h, mode))


def liquidation_value(holdings: Iterable[Holding]) -> int:
    """The value at the liquidation threshold, every asset at its last price."""
    return sum(h.value() * h.threshold_bps // BPS for h in holdings)


def total_value(holdings: Iterable[Holding]) -> int:
    """The collateral's value at price, no haircut."""
    return sum(h.value() for h in holdings)


def max_borrow(position: Position) -> int:
    """The most the account may borrow now: value at LTV minus debt, less
    the market's rounding of a new borrow."""
    return max(position.borrow_value - position.debt - BORROW_ROUNDING, 0)


def max_withdraw(holdings: tuple[Holding, ...], name: str, debt: int) -> int:
    """The most of asset ``name`` that can leave the position while its
    value at LTV (withdraw mode) still covers ``debt``."""
    target = next(h for h in holdings if h.name == name)
    if debt == 0:
        return target.balance
    others = tuple(h for h in holdings if h.name != name)
    base = borrow_value(others, WITHDRAW)

    def fits(amount: int) -> bool:
        return (
            base + borrow_value((target.with_balance(target.balance - amount),), WITHDRAW) >= debt
        )

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


@dataclass(frozen=True)
class LiquidationPrice:
    """Where one asset's price makes the position liquidatable."""

    name: str
    symbol: str
    price: int
    price_decimals: int
    # None: the other assets cover the debt whatever this price does.
    liquidation_price: Fraction | None
    # True when the position is liquidatable at the current prices.
    now: bool = False

    @property
    def drop(self) -> Fraction | None:
        """The fall from the current price, as a fraction of it."""
        if self.liquidation_price is None or self.price == 0:
            return None
        return max(Fraction(self.price) - self.liquidation_price, Fraction(0)) / self.price


def liquidation_prices(holdings: tuple[Holding, ...], debt: int) -> list[LiquidationPrice]:
    """For each asset held, the price (oracle units) below which the
    position becomes liquidatable, the others held fixed."""
    if debt == 0:
        return []
    lv_total = liquidation_value(holdings)
    out = []
    for h in holdings:
        lv_own = h.value() * h.threshold_bps // BPS
        lv_others = lv_total - lv_own
        price = None
        if lv_own and debt > lv_others:
            price = Fraction(h.price * (debt - lv_others), lv_own)
        out.append(
            LiquidationPrice(
                h.name, h.symbol, h.price, h.price_decimals, price, now=lv_total < debt
            )
        )
    return out


@dataclass(frozen=True)
class DebtEvent:
    """A change of a borrower's debt, from the market's events: ``kind`` is
    "borrow", "repay" or "liquidate"; ``scaled_after`` the borrower's
    scaled debt after it."""

    kind: str
    amount: int
    scaled_after: int


def principal_from_events(events: Iterable[DebtEvent]) -> int:
    """Principal outstanding after ``events`` (in order): a borrow adds its
    amount; a repayment or liquidation scales the principal down with the
    scaled debt (interest and principal repaid pro rata)."""
    principal = 0
    scaled = 0
    for event in events:
        if event.kind == "borrow":
            principal += event.amount
        elif scaled:
            principal = principal * event.scaled_after // scaled
        else:
            principal = 0
        scaled = event.scaled_after
    return principal if scaled else 0


@dataclass(frozen=True)
class PositionSummary:
    """What ``position`` shows."""

    debt: int
    principal: int | None
    interest: int | None
    collateral_value: int
    borrow_value: int
    liquidation_value: int
    headroom: int
    health_factor: int
    # Debt over the collateral's value (no haircut), and over the value at LTV.
    ltv_used: Fraction | None
    limit_used: Fraction | None
    liquidation: list[LiquidationPrice]

    @property
    def liquidatable(self) -> bool:
        return self.debt != 0 and self.health_factor < WAD


def summarize(position: Position) -> PositionSummary:
    """The summary of ``position`` (figures from the market's own views,
    per-asset figures recomputed from the holdings)."""
    value = total_value(position.holdings)
    debt = position.debt
    interest = None if position.principal is None else max(debt - position.principal, 0)
    return PositionSummary(
        debt=debt,
        principal=position.principal,
        interest=interest,
        collateral_value=value,
        borrow_value=position.borrow_value,
        liquidation_value=position.liquidation_value,
        headroom=max(position.borrow_value - debt, 0),
        health_factor=position.health_factor,
        ltv_used=Fraction(debt, value) if value else None,
        limit_used=Fraction(debt, position.borrow_value) if position.borrow_value else None,
        liquidation=liquidation_prices(position.holdings, debt),
    )
