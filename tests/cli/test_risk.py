"""Values, liquidation NAV and principal, computed as the market does (no chain)."""

from dataclasses import replace
from fractions import Fraction

import pytest

from navlend.cli.records import Holding, Position
from navlend.cli.risk import (
    DebtEvent,
    borrow_value,
    liquidation_prices,
    liquidation_value,
    max_borrow,
    max_withdraw,
    principal_from_events,
    summarize,
    total_value,
)
from navlend.constants import VALUE_BORROW, VALUE_LIQUIDATION, VALUE_WITHDRAW, WAD
from navlend.rules.valuation import Collateral

USD = 10**6

# 1,000 fund A shares (6 decimals) at $10.50; 2,000 wrapper shares (18) at $1.
FUND_A = Holding("fund_a", "TBFA", "0xa", 1_000 * 10**6, 6, 10_50_000_000, 8, 6, 8_500, 9_000)
WRAPPER = Holding("wrapper", "aDLFB", "0xw", 2_000 * 10**18, 18, 1_00_000_000, 8, 6, 8_000, 8_800)


def position(debt, *holdings, principal=None):
    return Position(
        "0xb",
        debt,
        debt,
        borrow_value(holdings),
        liquidation_value(holdings),
        liquidation_value(holdings) * WAD // debt if debt else 2**256 - 1,
        tuple(holdings),
        principal,
    )


def test_values_follow_the_market_rounding():
    assert FUND_A.exponent == 8 and WRAPPER.exponent == 20
    assert FUND_A.value() == 10_500 * USD
    assert borrow_value([FUND_A, WRAPPER]) == 8_925 * USD + 1_600 * USD
    assert liquidation_value([FUND_A, WRAPPER]) == 9_450 * USD + 1_760 * USD


def test_stale_and_frozen_assets_at_ltv():
    stale, frozen = replace(FUND_A, stale=True), replace(FUND_A, frozen=True)
    assert borrow_value([stale, WRAPPER]) == 1_600 * USD
    assert borrow_value([frozen, WRAPPER], VALUE_BORROW) == 1_600 * USD
    assert borrow_value([frozen, WRAPPER], VALUE_WITHDRAW) == 10_525 * USD
    assert liquidation_value([stale]) == 9_450 * USD


def test_pending_lower_nav__lent_at_it__liquidation_value_unchanged():
    """As the market: a lower NAV pending for the guardian caps borrowing
    and withdrawing; the liquidation value keeps the confirmed price."""
    pending = replace(FUND_A, pending_price=7_35_000_000)  # -30 %: $7.35
    assert pending.collateral.lend_value() == 7_350 * USD
    assert borrow_value([pending]) == 7_350 * USD * 85 // 100
    assert liquidation_value([pending]) == liquidation_value([FUND_A])
    lower = max_withdraw((pending,), "fund_a", 5_000 * USD)
    assert lower < max_withdraw((FUND_A,), "fund_a", 5_000 * USD)


def test_pending_higher_nav__ignored():
    higher = replace(FUND_A, pending_price=11_00_000_000)
    assert borrow_value([higher]) == borrow_value([FUND_A])


def test_short_asset__pending_nav_counted_per_booked_unit():
    """As the market after a sync that found 80 % of fund A: the price (the
    market's) is per booked unit, the feed's pending answer per real unit,
    so the lower of the two is taken after the ratio."""
    ratio = 8 * 10**17
    short = replace(FUND_A, price=FUND_A.price * ratio // WAD, ratio=ratio)
    # $10.50 x 0.8 = $8.40 a booked unit; a pending $9.00 is $7.20 a booked unit.
    pending = replace(short, pending_price=9_00_000_000)
    assert pending.collateral.lend_value() == 7_200 * USD
    # Taken per real unit, $9.00 would look above $8.40 and be ignored.
    assert pending.collateral.lend_value() < short.value()
    assert short.short and short.real(1_000 * 10**6) == 800 * 10**6
    assert not FUND_A.short and FUND_A.real(7) == 7


def test_single_asset_liquidation_nav_is_price_times_debt_over_liquidation_value():
    debt = 5_000 * USD
    (p,) = liquidation_prices((FUND_A,), debt)
    assert p.liquidation_price == Fraction(FUND_A.price * debt, 9_450 * USD)
    assert p.drop == 1 - Fraction(debt, 9_450 * USD)
    assert not p.now
    # At that price the value at the threshold equals the debt.
    at = FUND_A.value() * p.liquidation_price / FUND_A.price * Fraction(9, 10)
    assert at == debt


def test_multi_asset_liquidation_nav_holds_the_others_fixed():
    debt = 9_000 * USD
    a, w = liquidation_prices((FUND_A, WRAPPER), debt)
    assert a.liquidation_price == Fraction(FUND_A.price * (debt - 1_760 * USD), 9_450 * USD)
    # The wrapper alone cannot push the position under: fund A covers 9,450 > 9,000.
    assert w.liquidation_price is None and w.drop is None


def test_liquidation_nav_when_already_liquidatable_and_without_debt():
    (p,) = liquidation_prices((FUND_A,), 10_000 * USD)
    assert p.now and p.liquidation_price > FUND_A.price and p.drop == 0
    assert liquidation_prices((FUND_A,), 0) == []


def test_max_borrow_and_max_withdraw():
    p = position(5_000 * USD, FUND_A)
    assert max_borrow(p) == 8_925 * USD - 5_000 * USD - 2
    most = max_withdraw((FUND_A,), "fund_a", 5_000 * USD)
    # What is left at LTV still covers the debt; one unit more does not.
    left = FUND_A.with_balance(FUND_A.balance - most)
    assert borrow_value([left], VALUE_WITHDRAW) >= 5_000 * USD
    one_more = FUND_A.with_balance(FUND_A.balance - most - 1)
    assert borrow_value([one_more], VALUE_WITHDRAW) < 5_000 * USD
    assert max_withdraw((FUND_A,), "fund_a", 0) == FUND_A.balance
    assert max_withdraw((replace(FUND_A, stale=True),), "fund_a", 1) == 0


def test_principal_is_scaled_pro_rata_by_repayments():
    events = [
        DebtEvent("borrow", 1_000 * USD, 1_000 * USD),
        DebtEvent("borrow", 500 * USD, 1_480 * USD),  # index rose: 500 buys 480 scaled
        DebtEvent("repay", 300 * USD, 1_184 * USD),  # a fifth of the scaled debt
        DebtEvent("liquidate", 100 * USD, 592 * USD),  # half of what was left
    ]
    assert principal_from_events(events[:2]) == 1_500 * USD
    assert principal_from_events(events[:3]) == 1_200 * USD
    assert principal_from_events(events) == 600 * USD
    assert principal_from_events([*events, DebtEvent("repay", 700 * USD, 0)]) == 0
    assert principal_from_events([]) == 0


def test_summary():
    s = summarize(position(5_000 * USD, FUND_A, principal=4_990 * USD))
    assert s.interest == 10 * USD
    assert s.headroom == 3_925 * USD
    assert s.ltv_used == Fraction(5_000, 10_500)
    assert s.limit_used == Fraction(5_000, 8_925)
    assert not s.liquidatable
    empty = summarize(position(0))
    assert empty.ltv_used is None and empty.limit_used is None and empty.liquidation == []


# ---- the holdings as the rules take them ----


def test_holding_collateral__as_the_market_prices_it():
    assert FUND_A.collateral == Collateral(
        balance=1_000 * 10**6, price=10_50_000_000, exponent=8, ltv_bps=8_500, threshold_bps=9_000
    )
    assert FUND_A.collateral.pending is None


def test_holding_collateral__pending_nav__per_booked_unit():
    # $9.00 per real unit at 80 % real: $7.20 per booked unit (rounded down).
    short = replace(FUND_A, pending_price=9_00_000_000, ratio=8 * 10**17, stale=True, frozen=True)
    c = short.collateral
    assert c.pending == 7_20_000_000 and c.stale and c.frozen


def test_holding_value__delegates_to_the_rules():
    # 1,000 x $10.50 = 10,500 USDC; 3 units of 10^-6 at $10.50: 31.5 -> 31 (down).
    assert FUND_A.value() == 10_500 * USD
    assert FUND_A.with_balance(3).value() == 31


def test_total_value__every_asset_at_price__no_haircut():
    # 1,000 x $10.50 + 2,000 x $1.00, stale and frozen included.
    stale, frozen = replace(FUND_A, stale=True), replace(WRAPPER, frozen=True)
    assert total_value([stale, frozen]) == 12_500 * USD


def test_total_value__nothing_held__zero():
    assert total_value([FUND_A.with_balance(0)]) == 0 and total_value([]) == 0


def test_borrow_value__liquidation_mode__counts_nothing_at_ltv():
    assert borrow_value([FUND_A, WRAPPER], VALUE_LIQUIDATION) == 0


def test_max_withdraw__others_cover_the_debt__all_of_it():
    # The wrapper alone counts 1,600 at LTV: a debt of 1,600 leaves fund A free.
    assert max_withdraw((FUND_A, WRAPPER), "fund_a", 1_600 * USD) == FUND_A.balance


def test_max_withdraw__debt_above_the_value_at_ltv__nothing():
    assert max_withdraw((FUND_A,), "fund_a", 8_925 * USD + 1) == 0


def test_max_withdraw__unknown_asset__raises():
    with pytest.raises(KeyError):
        max_withdraw((FUND_A,), "wrapper", USD)


def test_liquidation_prices__nothing_held_of_an_asset__none():
    (a, w) = liquidation_prices((FUND_A, WRAPPER.with_balance(0)), 5_000 * USD)
    assert a.liquidation_price == Fraction(FUND_A.price * 5_000, 9_450)
    assert w.liquidation_price is None and not w.now


def test_summary__liquidation_value_equal_to_debt__not_liquidatable():
    # Fund A counts 9,450 USDC at its threshold: health factor exactly one.
    s = summarize(position(9_450 * USD, FUND_A))
    assert s.health_factor == WAD and not s.liquidatable


def test_summary__debt_a_unit_above_the_liquidation_value__liquidatable():
    s = summarize(position(9_450 * USD + 1, FUND_A))
    assert s.health_factor < WAD and s.liquidatable
    assert all(p.now for p in s.liquidation)
