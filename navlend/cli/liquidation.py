"""A liquidation by hand (``ape run liquidate``): what it would repay,
seize and pay the liquidator, and the refusals before sending. No chain,
no I/O.

The amounts are the market's own (:mod:`navlend.rules.liquidation`: the
close factor, the small-position full close, the dust trims, the
seizure's rounding, the protocol's share of the bonus), as the keeper
computes them (keepers/decide.py). What is left here is what only a
person's command decides:

- the route: ``seize`` (the liquidator repays from its stablecoin and
  receives the fund shares, so the fund must admit it) or ``redeem`` (the
  market redeems the seized shares through the asset's facility and pays
  the liquidator the stablecoin; the repayment is pulled after the
  payout, so the route can fund itself);
- the proceeds: the shares at the market's price (seize) or the
  facility's payout (redeem), and the profit = proceeds - repaid, before
  gas, in the stablecoin (USD).
"""

from __future__ import annotations

from dataclasses import dataclass

from navlend.cli.checks import fmt
from navlend.cli.errors import Refusal
from navlend.cli.records import Control, Holding, Token
from navlend.constants import MAX_UINT256
from navlend.rules import liquidation
from navlend.rules.arith import Revert
from navlend.rules.liquidation import Amounts, CloseLimits, Seizable
from navlend.rules.valuation import value

ROUTES = ("seize", "redeem")

# The market's preconditions, worded for the person liquidating.
_REASONS = {
    "market: liquidation grace period": "liquidations are in their grace period after an unpause",
    "market: liquidation paused": "the market has paused liquidation",
    "market: no debt": "the borrower has no debt",
    "market: no such collateral": "the borrower has none of this collateral",
    "market: position healthy": "the position is healthy: not liquidatable",
    "market: bad price": "the collateral's feed gives no price: it cannot be seized by value",
    "market: nothing to liquidate": "the rules leave nothing to repay for this amount (the dust floor trims it away)",
}


@dataclass(frozen=True)
class Quote:
    """What one liquidation would do, in the asset's and the stablecoin's
    units: the market's amounts, the proceeds to the liquidator (base
    units), and whether the remainder would be written off."""

    route: str
    asset: str
    amounts: Amounts
    # Base units: the seized shares' value at price (the bonus included).
    seized_value: int
    # Base units: the protocol's share of the bonus at price.
    fee_value: int
    # Base units the liquidator ends with for the repayment: the shares at
    # price (seize) or the facility's payout (redeem).
    proceeds: int
    write_off: bool = False

    @property
    def repaid(self) -> int:
        return self.amounts.repaid

    @property
    def bonus_value(self) -> int:
        """The bonus the seizure carries over the repayment (base units)."""
        return self.seized_value - self.amounts.repaid

    @property
    def profit(self) -> int:
        """Proceeds minus the repayment, before gas (may be negative)."""
        return self.proceeds - self.amounts.repaid


def limits_of(control: Control, base: Token) -> CloseLimits:
    """The market's close limits from its control word (whole base units)."""
    unit = 10**base.decimals
    return CloseLimits(
        base_unit=unit,
        small_position=control.small_position // unit,
        dust_floor=control.dust_floor // unit,
        liquidation_fee_bps=control.liquidation_fee_bps,
    )


def seizable(holding: Holding, bonus_bps: int) -> Seizable:
    return Seizable(holding.balance, holding.price, holding.exponent, bonus_bps, holding.ratio)


def _refuse(err: Revert) -> Refusal:
    return Refusal(f"{_REASONS.get(err.reason, err.message or err.reason)}: nothing sent")


def check_liquidatable(
    control: Control, now: int, debt: int, liquidation_value: int, target: Seizable
) -> None:
    """The market's preconditions, in its order; refuses the first that fails."""
    try:
        liquidation.check_liquidation(
            debt,
            liquidation_value,
            target,
            now=now,
            resume_at=control.liquidations_resume_at,
            paused=control.paused,
        )
    except Revert as err:
        raise _refuse(err) from None


def most_repayable(debt: int, liquidation_value: int, target: Seizable, limits: CloseLimits) -> int:
    """The most one liquidation on ``target`` may repay now (close factor,
    the balance, the dust rules)."""
    try:
        return liquidation.repay_and_seize(debt, liquidation_value, target, limits, MAX_UINT256)[0]
    except Revert as err:
        raise _refuse(err) from None


def amounts(
    debt: int, liquidation_value: int, target: Seizable, limits: CloseLimits, max_repay: int, base: Token
) -> Amounts:
    """The market's amounts for ``max_repay``; refuses an amount above what
    may be repaid now (rather than let the market trim it silently)."""
    most = most_repayable(debt, liquidation_value, target, limits)
    if max_repay != MAX_UINT256 and max_repay > most:
        raise Refusal(
            f"at most {fmt(most, base)} may be repaid now (close factor, collateral and dust rules): "
            f"not {fmt(max_repay, base)}; pass --repay max"
        )
    try:
        return liquidation.amounts(debt, liquidation_value, target, limits, max_repay)
    except Revert as err:
        raise _refuse(err) from None


def quote(
    route: str,
    asset: str,
    a: Amounts,
    target: Seizable,
    limits: CloseLimits,
    debt: int,
    total_value: int,
    payout: int | None = None,
) -> Quote:
    """The liquidation's figures. ``total_value``: the position's collateral
    at price (all assets), for the write-off test; ``payout``: the
    facility's payout for ``a.sent`` shares (redeem route)."""
    seized_value = value(a.seized, target.price, target.exponent)
    left_value = total_value - target.value + value(target.balance - a.seized, target.price, target.exponent)
    proceeds = value(a.taken, target.price, target.exponent) if route == "seize" else int(payout or 0)
    return Quote(
        route=route,
        asset=asset,
        amounts=a,
        seized_value=seized_value,
        fee_value=value(a.fee, target.price, target.exponent),
        proceeds=proceeds,
        write_off=liquidation.write_off_due(debt - a.repaid, left_value, limits),
    )


def check_route(route: str, asset: str, facility: str, sent: int, max_redeem: int, payout: int, asset_token: Token, base: Token) -> None:
    """The redeem route needs the asset's facility, able to take the
    shares now and paying something for them."""
    if route != "redeem":
        return
    if not facility or int(facility, 16) == 0:
        raise Refusal(f"{asset} has no redemption facility on the market: use --route seize")
    if max_redeem < sent:
        raise Refusal(
            f"{asset}'s facility can take {fmt(max_redeem, asset_token)} now (liquidity, daily limit, pause "
            f"or a stale NAV), less than the {fmt(sent, asset_token)} seized: use --route seize or repay less"
        )
    if payout == 0:
        raise Refusal(f"{asset}'s facility would pay nothing now (its NAV is stale or it is paused): use --route seize")


def check_funds(route: str, balance: int, q: Quote, base: Token) -> None:
    """The liquidator must hold the repayment; on the redeem route the
    payout, paid first, counts."""
    available = balance + (q.proceeds if route == "redeem" else 0)
    if available < q.repaid:
        extra = " with the facility's payout" if route == "redeem" else ""
        raise Refusal(
            f"the liquidator holds {fmt(balance, base)}{extra}, less than the {fmt(q.repaid, base)} to repay"
        )
