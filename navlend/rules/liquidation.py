"""Liquidation: when a position may be liquidated, how much is repaid and
seized, what the protocol keeps, and when the rest is written off.

- **Close factor.** At most half the debt, unless the health factor is
  below 0.95 or the debt or the seized collateral's value is below the
  small-position limit: then all of it.
- **Seizure.** seized = repaid x (1 + bonus) / price, rounded down; when
  that exceeds the balance, the whole balance goes and the repayment is
  cut to what it buys, rounded up.
- **Dust.** A partial liquidation leaves at least the dust floor of debt
  and of that collateral's value, or is trimmed until it does.
- **Protocol's fee.** Its share of the bonus part of the seizure, rounded
  down; the rest (``taken``) leaves the books, and its real units
  (``sent``) leave the market.
- **Write-off.** Debt left with collateral worth less than it and than the
  dust floor (or nothing) is written off, reserves first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from navlend.constants import BPS, CLOSE_FACTOR_BPS, CLOSE_FACTOR_HF_THRESHOLD, PAUSE_LIQUIDATION, WAD
from navlend.rules.arith import at_ratio, mul_div, require
from navlend.rules.valuation import value


@dataclass(frozen=True)
class CloseLimits:
    """The market-wide limits of a liquidation: the small-position and
    dust-floor limits in whole base units (as the market stores them),
    the base unit, and the protocol's share of the bonus."""

    base_unit: int
    small_position: int
    dust_floor: int
    liquidation_fee_bps: int = 0

    @property
    def small(self) -> int:
        """The small-position limit in base units."""
        return self.small_position * self.base_unit

    @property
    def dust(self) -> int:
        """The dust floor in base units."""
        return self.dust_floor * self.base_unit


@dataclass(frozen=True)
class Seizable:
    """The collateral a liquidation seizes: the position's balance of it,
    its market price per booked unit, its value exponent, its bonus, and
    the market's ratio of real to booked units of it (WAD: whole)."""

    balance: int
    price: int
    exponent: int
    bonus_bps: int
    ratio: int = WAD

    @cached_property
    def value(self) -> int:
        """The balance's value at price, rounded down (computed once: a
        keeper's search probes the same target many times)."""
        return value(self.balance, self.price, self.exponent)

    def seized_for(self, repaid: int) -> int:
        """The units a repayment seizes: repaid x (1 + bonus) / price,
        rounded down."""
        return mul_div(repaid * (BPS + self.bonus_bps), 10**self.exponent, BPS * self.price, False)

    def repaid_for(self, seized: int) -> int:
        """The repayment that seizes ``seized`` units, rounded up."""
        return mul_div(seized * self.price, BPS, 10**self.exponent * (BPS + self.bonus_bps), True)


@dataclass(frozen=True)
class Amounts:
    """A liquidation's amounts: the debt repaid, the units seized, the
    protocol's fee (units to the treasury), the units that leave the
    books (``taken``) and the real units that leave the market (``sent``)."""

    repaid: int
    seized: int
    fee: int
    taken: int
    sent: int


def close_cap(debt: int, liquidation_value: int, target_value: int, limits: CloseLimits) -> int:
    """The most one liquidation may repay (the close factor)."""
    small = limits.small
    if liquidation_value * WAD >= CLOSE_FACTOR_HF_THRESHOLD * debt and debt >= small and target_value >= small:
        return debt * CLOSE_FACTOR_BPS // BPS
    return debt


def check_liquidation(
    debt: int, liquidation_value: int, target: Seizable, *, now: int, resume_at: int, paused: int
) -> None:
    """``_liquidation_check``: the preconditions, in the market's order
    (past the grace period, not paused, some debt, some of this collateral,
    below the threshold, a price); raises the first that fails."""
    require(now >= resume_at, "market: liquidation grace period")
    require(not paused & PAUSE_LIQUIDATION, "market: liquidation paused")
    require(debt != 0, "market: no debt")
    require(target.balance != 0, "market: no such collateral")
    require(liquidation_value < debt, "market: position healthy")
    require(target.price != 0, "market: bad price")


def repay_and_seize(
    debt: int, liquidation_value: int, target: Seizable, limits: CloseLimits, max_repay: int
) -> tuple[int, int]:
    """``_liquidation_amounts``: (repaid, seized) for ``max_repay`` ("up
    to": trimmed to the close factor, the balance and the dust rules);
    raises "market: nothing to liquidate" when nothing is left."""
    repaid = min(max_repay, close_cap(debt, liquidation_value, target.value, limits))
    seized = target.seized_for(repaid)
    if seized >= target.balance:
        seized = target.balance
        repaid = min(repaid, target.repaid_for(seized))
    elif repaid < debt:
        dust = limits.dust
        most = 0
        if debt > dust and target.value > dust:
            most = min(debt - dust, (target.value - dust) * BPS // (BPS + target.bonus_bps))
        if repaid > most:
            repaid = most
            seized = target.seized_for(repaid)
    require((seized != 0 and repaid != 0) or seized == target.balance, "market: nothing to liquidate")
    return repaid, seized


def protocol_fee(seized: int, bonus_bps: int, fee_bps: int) -> int:
    """The protocol's share of the bonus part of ``seized``, rounded down
    (the bonus part itself is seized less its cost, the cost rounded up)."""
    if fee_bps == 0:
        return 0
    bonus_part = seized - mul_div(seized, BPS, BPS + bonus_bps, True)
    return bonus_part * fee_bps // BPS


def amounts(debt: int, liquidation_value: int, target: Seizable, limits: CloseLimits, max_repay: int) -> Amounts:
    """Everything a liquidation moves (see :class:`Amounts`); raises as
    :func:`repay_and_seize` does."""
    repaid, seized = repay_and_seize(debt, liquidation_value, target, limits, max_repay)
    fee = protocol_fee(seized, target.bonus_bps, limits.liquidation_fee_bps)
    taken = seized - fee
    return Amounts(repaid=repaid, seized=seized, fee=fee, taken=taken, sent=at_ratio(taken, target.ratio))


def write_off_due(debt_left: int, remaining_value: int, limits: CloseLimits) -> bool:
    """Whether a liquidation's remainder is written off: debt left, with
    collateral worth less than it and either nothing or less than the dust
    floor (a remnant worth more than the debt is left alone)."""
    return debt_left != 0 and remaining_value < debt_left and (remaining_value == 0 or remaining_value < limits.dust)
