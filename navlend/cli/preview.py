"""The risk preview shown before every state change: a position's figures
before and after it (health factor, debt, borrow headroom, and per asset
the NAV at which it liquidates and the fall to it), and whether the change
takes the health factor under the warning level. No chain, no I/O.

The "after" position is the "before" one with the change applied to its
debt and balances, revalued by the market's own rules
(:mod:`navlend.rules.valuation`, :mod:`navlend.rules.health`), so the
preview is what the market will compute, up to the interest of the blocks
between the preview and the transaction and the market's rounding of a new
debt up (``BORROW_ROUNDING`` units).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from navlend.cli.records import Holding, Position
from navlend.cli.risk import LiquidationPrice, borrow_value, liquidation_prices, liquidation_value
from navlend.constants import MAX_UINT256, VALUE_BORROW, WAD
from navlend.rules import health

# Default health factor under which a change asks for confirmation (WAD).
DEFAULT_WARN_HEALTH = WAD * 110 // 100


@dataclass(frozen=True)
class RiskFigures:
    """What the preview shows of one position at one moment."""

    debt: int
    health_factor: int
    borrow_value: int
    liquidation: tuple[LiquidationPrice, ...] = ()

    @property
    def headroom(self) -> int:
        """What the position may still borrow (value at LTV minus debt)."""
        return max(self.borrow_value - self.debt, 0)

    @property
    def liquidatable(self) -> bool:
        return self.debt > 0 and self.health_factor < WAD


@dataclass(frozen=True)
class Preview:
    """One position's figures before and after a change."""

    account: str
    before: RiskFigures
    after: RiskFigures

    def warns(self, warn_below: int) -> bool:
        """Whether the change lowers the health factor to under
        ``warn_below`` (WAD): a repayment that leaves it low does not."""
        after, before = self.after, self.before
        return after.debt > 0 and after.health_factor < warn_below and after.health_factor < before.health_factor


def figures(position: Position) -> RiskFigures:
    """The figures of ``position`` as the market reported them."""
    return RiskFigures(
        debt=position.debt,
        health_factor=position.health_factor,
        borrow_value=position.borrow_value,
        liquidation=tuple(liquidation_prices(position.holdings, position.debt)),
    )


def project(
    position: Position,
    debt_change: int = 0,
    balances: Mapping[str, int] | None = None,
    new_holdings: Iterable[Holding] = (),
) -> Position:
    """``position`` after its debt moves by ``debt_change`` (floored at
    zero) and the named holdings take the ``balances`` given; assets the
    position does not hold yet come in ``new_holdings`` (their balance is
    what they will hold). Values are recomputed by the market's rules."""
    balances = dict(balances or {})
    holdings: list[Holding] = []
    for h in position.holdings:
        holdings.append(h.with_balance(balances.pop(h.name, h.balance)))
    for h in new_holdings:
        if position.holding(h.name) is None:
            holdings.append(h.with_balance(balances.pop(h.name, h.balance)))
    if balances:
        raise ValueError(f"no holding named {', '.join(balances)}")
    kept = tuple(h for h in holdings if h.balance > 0)
    debt = max(position.debt + debt_change, 0)
    liq = liquidation_value(kept)
    return replace(
        position,
        holdings=kept,
        debt=debt,
        borrow_value=borrow_value(kept, VALUE_BORROW),
        liquidation_value=liq,
        health_factor=health.health_factor(liq, debt),
    )


def preview(before: Position, after: Position) -> Preview:
    """The preview of a change from ``before`` to ``after``."""
    return Preview(before.account, figures(before), figures(after))


def no_health(health_factor: int) -> bool:
    """Whether a health factor means "no debt" (the market's MAX_UINT256)."""
    return health_factor >= MAX_UINT256
