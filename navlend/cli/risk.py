"""A position's numbers as the market computes them: values at LTV and at
the liquidation threshold, headroom, the NAV at which it becomes
liquidatable, and its principal. No chain, no I/O.

The valuation, the most that can be withdrawn, the liquidation NAV and
whether a position is liquidatable are the rules' own
(:mod:`navlend.rules.valuation`, :mod:`navlend.rules.health`): each
function here turns the holdings into the rules' ``Collateral``, keyed by
asset name, and calls them, so the CLI shows what the market and the
keeper compute.

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

from navlend.cli.records import Holding, Position
from navlend.constants import VALUE_BORROW, VALUE_LIQUIDATION
from navlend.rules import health, valuation
from navlend.rules.valuation import Collateral, Valuation

# The market rounds a new borrow's debt up twice (scaled debt, then debt):
# a borrow of the whole headroom can end up to this many units above it.
BORROW_ROUNDING = 2


def collateral_of(holdings: Iterable[Holding]) -> dict[str, Collateral]:
    """The holdings as the rules take them, keyed by asset name in the
    order given (the market's)."""
    return {h.name: h.collateral for h in holdings}


def _valued(holdings: Iterable[Holding], mode: int) -> Valuation:
    """One pass of the market's valuation over ``holdings`` in ``mode``
    (a ``navlend.constants.VALUE_*``)."""
    return valuation.valuation(collateral_of(holdings), mode)


def borrow_value(holdings: Iterable[Holding], mode: int = VALUE_BORROW) -> int:
    """The value at LTV (what a borrow counts in ``VALUE_BORROW``, what a
    withdrawal counts in ``VALUE_WITHDRAW``)."""
    return _valued(holdings, mode).borrow_value


def liquidation_value(holdings: Iterable[Holding]) -> int:
    """The value at the liquidation threshold, every asset at its last price."""
    return _valued(holdings, VALUE_LIQUIDATION).liquidation_value


def total_value(holdings: Iterable[Holding]) -> int:
    """The collateral's value at price, no haircut."""
    return _valued(holdings, VALUE_LIQUIDATION).total_value


def max_borrow(position: Position) -> int:
    """The most the account may borrow now: value at LTV minus debt, less
    the market's rounding of a new borrow."""
    return max(position.borrow_value - position.debt - BORROW_ROUNDING, 0)


def max_withdraw(holdings: Iterable[Holding], name: str, debt: int) -> int:
    """The most of asset ``name`` that can leave the position while its
    value at LTV (withdraw mode) still covers ``debt``."""
    return valuation.max_withdraw(collateral_of(holdings), name, debt)


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
    collateral = collateral_of(holdings)
    now = health.liquidatable(
        valuation.valuation(collateral, VALUE_LIQUIDATION).liquidation_value, debt
    )
    return [
        LiquidationPrice(
            h.name,
            h.symbol,
            h.price,
            h.price_decimals,
            health.liquidation_price(collateral, h.name, debt),
            now=now,
        )
        for h in holdings
    ]


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
        """As the market decides: some debt above the value at the
        liquidation threshold (the same as a health factor below one, the
        market's own views computing it from these two figures)."""
        return health.liquidatable(self.liquidation_value, self.debt)


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
