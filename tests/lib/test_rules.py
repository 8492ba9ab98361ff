"""The market's rules (``navlend.rules``) on their own: no chain, no model.

Every expected figure is worked out by hand from the contract's formula
(``contracts/market/modules/market_core.vy`` and the modules it names), the
working in a comment beside it, never taken from the function under test.
Amounts are in a 6-decimal base (USDC); prices in 8-decimal feeds.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from navlend.constants import (
    MASK96,
    MAX_UINT256,
    PAUSE_LIQUIDATION,
    VALUE_BORROW,
    VALUE_LIQUIDATION,
    VALUE_OPEN_BORROW,
    VALUE_WITHDRAW,
    WAD,
    YEAR,
)
from navlend.rules import arith, fees, health, interest, liquidation, params, shares, valuation
from navlend.rules.arith import Revert, require
from navlend.rules.interest import Book, Rates
from navlend.rules.liquidation import CloseLimits, Seizable
from navlend.rules.valuation import Collateral

USD = 10**6
# $1.00 and $10.50 in an 8-decimal feed.
DOLLAR = 10**8
TEN_FIFTY = 1_050_000_000
# 1,000 fund A shares (6 decimals) at $10.50: exponent 6 + 8 - 6 = 8;
# value 10,500, at its 90 % threshold 9,450, at its 85 % LTV 8,925 USDC.
FUND_A = Collateral(
    balance=1_000 * 10**6, price=TEN_FIFTY, exponent=8, ltv_bps=8_500, threshold_bps=9_000
)
# 2,000 wrapper shares (18 decimals) at $1.00: exponent 18 + 8 - 6 = 20;
# value 2,000, at its 88 % threshold 1,760, at its 80 % LTV 1,600 USDC.
WRAPPER = Collateral(
    balance=2_000 * 10**18, price=DOLLAR, exponent=20, ltv_bps=8_000, threshold_bps=8_800
)
# Small-position limit 2,000 USDC, dust floor 1,000 USDC.
LIMITS = CloseLimits(base_unit=USD, small_position=2_000, dust_floor=1_000)


def reverts(reason: str, fn, *args, **kwargs) -> Revert:
    """Asserts ``fn`` raises the market's ``reason`` exactly; returns it."""
    with pytest.raises(Revert) as info:
        fn(*args, **kwargs)
    assert info.value.reason == reason
    return info.value


# ---- errors ----


def test_require__holds__nothing_raised():
    require(True, "market: never")


def test_require__fails__reason_and_message():
    err = reverts("market: x", require, False, "market: x", "what a person reads")
    assert err.message == "what a person reads" and str(err) == "what a person reads"
    # Without a message, a person reads the reason.
    assert Revert("market: y").message == "market: y"


# ---- arith ----


def test_ceil_div__exact_and_rounded_up():
    assert arith.ceil_div(6, 2) == 3
    assert arith.ceil_div(7, 2) == 4  # 3.5 up


def test_mul_div__rounding_both_ways():
    assert arith.mul_div(7, 3, 2, False) == 10  # 21 / 2 = 10.5 down
    assert arith.mul_div(7, 3, 2, True) == 11  # up
    assert arith.mul_div(4, 3, 2, True) == 6  # exact: no unit added


def test_mul_div__zero_divisor__reverts():
    reverts("", arith.mul_div, 1, 1, 0, False)


def test_at_ratio__rounded_down():
    assert arith.at_ratio(1_000, 8 * 10**17) == 800
    assert arith.at_ratio(3, 5 * 10**17) == 1  # 1.5 down
    assert arith.at_ratio(7, WAD) == 7


# ---- interest ----

# base 10, slope1 1,000, slope2 5,000 (per second, WAD), kink 80 %, reserves 10 %.
CURVE = Rates(base_rate=10, slope1=1_000, slope2=5_000, kink_bps=8_000, reserve_factor_bps=1_000)


def test_rates_from_annual__each_divided_by_a_year_rounded_down():
    rates = Rates.from_annual(3 * YEAR + 5, YEAR, 2 * YEAR - 1, 9_000, 1_000)
    assert (rates.base_rate, rates.slope1, rates.slope2) == (3, 1, 1)
    assert (rates.kink_bps, rates.reserve_factor_bps) == (9_000, 1_000)


def test_rate_at__below_and_at_the_kink__slope1_pro_rata():
    # kink = 8,000 x 10^14 = 8 x 10^17.
    assert CURVE.rate_at(0) == 10
    assert CURVE.rate_at(4 * 10**17) == 10 + 1_000 * 4 // 8  # 510
    assert CURVE.rate_at(8 * 10**17) == 1_010
    assert CURVE.rate_at(1) == 10  # 1,000 x 1 / 8 x 10^17 rounds to nothing


def test_rate_at__above_the_kink__slope2_on_the_excess():
    # 10 + 1,000 + 5,000 x (0.9 - 0.8) / (1 - 0.8) = 3,510; at 100 %: 6,010.
    assert CURVE.rate_at(9 * 10**17) == 3_510
    assert CURVE.rate_at(WAD) == 6_010


def test_growth__third_order_taylor_rounded_down():
    # x = 10^9 x 10^6 = 10^15; x^2 / 2 WAD = 5 x 10^11;
    # (x^2 / WAD) x x / 6 WAD = 10^12 x 10^15 / 6 x 10^18 = 166,666,666.67 -> down.
    assert interest.growth(10**9, 10**6) == 10**15 + 5 * 10**11 + 166_666_666


def test_growth__nothing_elapsed_or_no_rate__zero():
    assert interest.growth(10**9, 0) == 0 and interest.growth(0, 10**6) == 0


def test_accrue_index__exact_product__no_unit_added():
    # WAD x growth / WAD = growth exactly.
    assert interest.accrue_index(WAD, 10**9, 10**6) == WAD + 1_000_500_166_666_666


def test_accrue_index__rounds_up():
    # (WAD + 1) x g / WAD = g + g / WAD = g + 0.0010005...: up to g + 1.
    g = 1_000_500_166_666_666
    assert interest.accrue_index(WAD + 1, 10**9, 10**6) == WAD + 1 + g + 1


def test_accrue_index__at_96_bits__kept():
    assert interest.accrue_index(MASK96, 0, 10**6) == MASK96


def test_accrue_index__past_96_bits__reverts():
    # growth(1, 1) = 1: the index gains ceil((2^96 - 1) / 10^18) > 0 units.
    reverts("market: index overflow", interest.accrue_index, MASK96, 1, 1)


def test_borrows_of_rounds_down__debt_of_rounds_up():
    # 3 x 1.5 = 4.5: the lenders' claim 4, the borrower's debt 5.
    assert interest.borrows_of(3, 15 * 10**17) == 4
    assert interest.debt_of(3, 15 * 10**17) == 5
    assert interest.debt_of(2, 15 * 10**17) == 3  # exact


def test_utilization__no_borrows__zero():
    assert interest.utilization(0, WAD, 500) == 0


def test_utilization__borrows_over_borrows_and_cash__rounded_down():
    assert interest.utilization(100, WAD, 300) == 25 * 10**16
    assert interest.utilization(1, WAD, 2) == 333_333_333_333_333_333


def test_accrued__no_time__unchanged():
    book = Book(index=WAD, last_accrual=100, total_scaled=10**12, cash=10**12, reserves=7)
    a = interest.accrued(book, CURVE, 100)
    assert (a.index, a.last, a.reserves, a.interest) == (WAD, 100, 7, 0)


def test_accrued__no_debt__moves_only_the_time():
    book = Book(index=WAD, last_accrual=100, total_scaled=0, cash=500, reserves=7)
    a = interest.accrued(book, CURVE, 200)
    assert (a.index, a.last, a.reserves, a.interest) == (WAD, 200, 7, 0)


def test_accrued__with_debt__index_interest_and_reserves():
    # Borrows 4 x 10^12, cash 4 x 10^12: utilisation 50 %; with slope1 10^9
    # and the kink at 80 %, rate = 10^9 x 0.5 / 0.8 = 625,000,000.
    # x = 625,000,000 x 1,000 = 6.25 x 10^11; x^2 / 2 WAD = 195,312.5 -> 195,312;
    # the cubic term 390,625 x 6.25 x 10^11 / 6 x 10^18 = 0.04 -> 0.
    # index = WAD + 625,000,195,312; interest = 4 x 10^12 x 625,000,195,312 / WAD
    # = 2,500,000.78 -> 2,500,000 (down); reserves + 10 % = 250,000.
    rates = Rates(base_rate=0, slope1=10**9, slope2=0, kink_bps=8_000, reserve_factor_bps=1_000)
    book = Book(index=WAD, last_accrual=0, total_scaled=4 * 10**12, cash=4 * 10**12, reserves=0)
    a = interest.accrued(book, rates, 1_000)
    assert (a.index, a.last) == (WAD + 625_000_195_312, 1_000)
    assert (a.interest, a.reserves) == (2_500_000, 250_000)


def test_scaled_for_borrow__rounded_up():
    # 10 / 3 = 3.33 -> 4; 9 / 3 = 3 exactly.
    assert interest.scaled_for_borrow(10, 3 * WAD) == 4
    assert interest.scaled_for_borrow(9, 3 * WAD) == 3


def test_scaled_repaid__whole_debt__all_the_scaled_debt():
    assert interest.scaled_repaid(20, 20, 7, 3 * WAD) == 7


def test_scaled_repaid__partial__rounded_down_and_capped():
    assert interest.scaled_repaid(10, 20, 7, 3 * WAD) == 3  # 3.33 down
    assert interest.scaled_repaid(19, 20, 5, 3 * WAD) == 5  # 6.33 down, capped at 5


# ---- shares ----


def test_total_assets__cash_plus_borrows_less_reserves():
    # 1,000 + 3 x 1.5 (4, down) - 10.
    assert shares.total_assets(1_000, 3, 15 * 10**17, 10) == 994


def test_to_shares__rounding_both_ways():
    # Empty vault: 1 x (0 + 10^6) / (2 + 1) = 333,333.33.
    assert shares.to_shares(1, 0, 2, False) == 333_333
    assert shares.to_shares(1, 0, 2, True) == 333_334


def test_to_assets__rounding_both_ways():
    # 1 x (2 + 1) / (0 + 10^6) = 0.000003.
    assert shares.to_assets(1, 0, 2, False) == 0
    assert shares.to_assets(1, 0, 2, True) == 1


def test_max_withdraw__claim_or_cash_whichever_less():
    # 10^6 shares of 10^6 (+10^6 virtual) over 999 (+1) assets: 500.
    assert shares.max_withdraw(10**6, 10**6, 999, 1_000) == 500
    assert shares.max_withdraw(10**6, 10**6, 999, 300) == 300


def test_max_redeem__shares_within_what_the_cash_buys_back():
    assert shares.max_redeem(10**6, 10**6, 999, 1_000) == 10**6
    # 100 of cash buys 100 x 2 x 10^6 / 1,000 = 200,000 shares back.
    assert shares.max_redeem(10**6, 10**6, 999, 100) == 200_000


def test_max_redeem__worthless_shares__zero():
    # 1 share is worth 1 x 1,000 / 2 x 10^6 = 0.0005 assets: redeem refuses it.
    assert shares.max_redeem(1, 10**6, 999, 1_000) == 0


# ---- valuation ----


def test_value__rounded_down():
    assert valuation.value(1_000 * 10**6, TEN_FIFTY, 8) == 10_500 * USD
    assert valuation.value(3, TEN_FIFTY, 8) == 31  # 31.5 down


def test_market_price__fresh__capped_then_per_booked_unit():
    assert valuation.market_price(TEN_FIFTY, 100, 200, 0, WAD, 3_600) == (TEN_FIFTY, False)
    assert valuation.market_price(TEN_FIFTY, 100, 200, 10 * DOLLAR, WAD, 3_600) == (
        10 * DOLLAR,
        False,
    )
    # $10.50 at 80 % real: $8.40 a booked unit; capped at $10 first: $8.00.
    assert valuation.market_price(TEN_FIFTY, 100, 200, 0, 8 * 10**17, 3_600) == (840_000_000, False)
    assert valuation.market_price(TEN_FIFTY, 100, 200, 10 * DOLLAR, 8 * 10**17, 3_600) == (
        8 * DOLLAR,
        False,
    )


def test_market_price__stale_only_past_the_maximum_age():
    assert valuation.market_price(DOLLAR, 0, 3_600, 0, WAD, 3_600) == (DOLLAR, False)
    assert valuation.market_price(DOLLAR, 0, 3_601, 0, WAD, 3_600) == (DOLLAR, True)


@pytest.mark.parametrize("answer, updated_at", [(0, 100), (-1, 100), (DOLLAR, 201)])
def test_market_price__broken_feed__zero_and_stale(answer, updated_at):
    assert valuation.market_price(answer, updated_at, 200, 0, WAD, 3_600) == (0, True)


def test_pending_price__announced__per_booked_unit_rounded_down():
    assert valuation.pending_price(9 * DOLLAR, 8 * 10**17) == 720_000_000
    assert valuation.pending_price(1, 5 * 10**17) == 0  # 0.5 down: lends at zero


def test_pending_price__none_or_negative():
    assert valuation.pending_price(0, WAD) is None
    assert valuation.pending_price(-1, WAD) == 0


def test_collateral_lend_value__pending_below_price__at_pending():
    # 1,000 x $7.35.
    assert replace(FUND_A, pending=735_000_000).lend_value() == 7_350 * USD
    assert replace(FUND_A, pending=0).lend_value() == 0


def test_collateral_lend_value__pending_at_or_above_price__at_price():
    for pending in (None, TEN_FIFTY, 11 * DOLLAR):
        assert replace(FUND_A, pending=pending).lend_value() == 10_500 * USD


def test_counts_at_ltv__by_mode():
    frozen = replace(FUND_A, frozen=True)
    stale = replace(FUND_A, stale=True)
    assert FUND_A.counts_at_ltv(VALUE_BORROW) and FUND_A.counts_at_ltv(VALUE_WITHDRAW)
    assert not FUND_A.counts_at_ltv(VALUE_LIQUIDATION)
    assert frozen.counts_at_ltv(VALUE_WITHDRAW)
    assert not frozen.counts_at_ltv(VALUE_BORROW) and not frozen.counts_at_ltv(VALUE_OPEN_BORROW)
    assert not stale.counts_at_ltv(VALUE_WITHDRAW) and not stale.counts_at_ltv(VALUE_BORROW)


def test_valuation__each_mode():
    both = {"a": FUND_A, "w": WRAPPER}
    v = valuation.valuation(both, VALUE_BORROW)
    # At LTV 8,925 + 1,600; at the threshold 9,450 + 1,760; at price 10,500 + 2,000.
    assert (v.borrow_value, v.liquidation_value, v.total_value) == (
        10_525 * USD,
        11_210 * USD,
        12_500 * USD,
    )
    assert valuation.valuation(both, VALUE_LIQUIDATION).borrow_value == 0


def test_valuation__stale_and_frozen_at_ltv():
    stale = {"a": replace(FUND_A, stale=True), "w": WRAPPER}
    frozen = {"a": replace(FUND_A, frozen=True), "w": WRAPPER}
    assert valuation.valuation(stale, VALUE_WITHDRAW).borrow_value == 1_600 * USD
    assert valuation.valuation(frozen, VALUE_BORROW).borrow_value == 1_600 * USD
    assert valuation.valuation(frozen, VALUE_WITHDRAW).borrow_value == 10_525 * USD
    # The threshold values every asset at its price, stale or frozen.
    assert valuation.valuation(stale, VALUE_BORROW).liquidation_value == 11_210 * USD


def test_valuation__each_assets_share_rounded_down_on_its_own():
    # Two assets worth 3 units at 50 %: 1.5 -> 1 each, 2 in all (not 3).
    three = Collateral(balance=3, price=1, exponent=0, ltv_bps=5_000, threshold_bps=5_000)
    assert valuation.valuation({"x": three, "y": three}, VALUE_BORROW).borrow_value == 2


def test_valuation__target_reported__empty_asset_skipped():
    v = valuation.valuation({"a": FUND_A, "w": WRAPPER}, VALUE_LIQUIDATION, target="a")
    assert (v.target_value, v.target_price, v.target_balance, v.target_stale) == (
        10_500 * USD,
        TEN_FIFTY,
        1_000 * 10**6,
        False,
    )
    empty = valuation.valuation({"a": FUND_A.with_balance(0)}, VALUE_BORROW, target="a")
    assert (empty.total_value, empty.target_price) == (0, 0)


def test_max_withdraw__what_leaves_the_value_at_ltv_covering_the_debt():
    # Left must be worth v with v x 0.85 >= 5,000 (v >= 5,882.352942 USDC):
    # 10.5 x left >= 5,882,352,942 -> left >= 560,224,090 (10.5 x 560,224,089
    # = 5,882,352,934.5 falls short). 10^9 - 560,224,090 = 439,775,910.
    assert valuation.max_withdraw({"a": FUND_A}, "a", 5_000 * USD) == 439_775_910


def test_max_withdraw__no_debt_or_others_covering__all_of_it():
    assert valuation.max_withdraw({"a": FUND_A}, "a", 0) == FUND_A.balance
    # The wrapper alone counts 1,600 at LTV.
    assert valuation.max_withdraw({"a": FUND_A, "w": WRAPPER}, "a", 1_600 * USD) == FUND_A.balance


def test_max_withdraw__debt_above_the_value_at_ltv__nothing():
    assert valuation.max_withdraw({"a": FUND_A}, "a", 8_925 * USD + 1) == 0
    stale = replace(FUND_A, stale=True)
    assert valuation.max_withdraw({"a": stale}, "a", 1) == 0


# ---- health ----


def test_health_factor__value_over_debt_rounded_down():
    assert health.health_factor(9_450, 5_000) == 189 * 10**16
    assert health.health_factor(2, 3) == 666_666_666_666_666_666


def test_health_factor__no_debt__infinite():
    assert health.health_factor(0, 0) == MAX_UINT256


def test_liquidatable__only_below_the_debt():
    assert health.liquidatable(99, 100)
    assert not health.liquidatable(100, 100)
    assert not health.liquidatable(0, 0)


def test_liquidation_price__single_asset__price_times_debt_over_value():
    # $10.50 x 5,000 / 9,450 = $5.5555...: 5 x 10^9 / 9 in the feed's units.
    assert health.liquidation_price({"a": FUND_A}, "a", 5_000 * USD) == Fraction(5 * 10**9, 9)


def test_liquidation_price__others_held_fixed():
    # Fund A must cover 9,000 - 1,760 of the 9,450 it counts at $10.50.
    both = {"a": FUND_A, "w": WRAPPER}
    assert health.liquidation_price(both, "a", 9_000 * USD) == Fraction(TEN_FIFTY * 7_240, 9_450)


def test_liquidation_price__none_when_others_cover_or_no_debt_or_nothing_held():
    both = {"a": FUND_A, "w": WRAPPER}
    assert health.liquidation_price(both, "w", 9_000 * USD) is None  # fund A counts 9,450
    # The wrapper's 1,760 covers a debt of exactly 1,760 even at a zero NAV of
    # fund A (liquidatable only below the debt).
    assert health.liquidation_price(both, "a", 1_760 * USD) is None
    assert health.liquidation_price(both, "a", 0) is None
    assert health.liquidation_price({"a": FUND_A.with_balance(0)}, "a", USD) is None


# ---- liquidation ----

# $1.00 collateral with 6 decimals (exponent 8) and a 5 % bonus.
COIN = Seizable(balance=20_000 * USD, price=DOLLAR, exponent=8, bonus_bps=500)


def test_close_limits__in_base_units():
    assert (LIMITS.small, LIMITS.dust) == (2_000 * USD, 1_000 * USD)


def test_close_cap__half_at_or_above_hf_095():
    # 9,500 / 10,000 is exactly 0.95: half; an odd debt's half rounds down.
    assert liquidation.close_cap(10_000 * USD, 9_500 * USD, 20_000 * USD, LIMITS) == 5_000 * USD
    assert (
        liquidation.close_cap(10_000 * USD + 1, 9_500 * USD + 1, 20_000 * USD, LIMITS)
        == 5_000 * USD
    )
    # At the small-position limit exactly, still half.
    assert liquidation.close_cap(2_000 * USD, 1_900 * USD, 2_000 * USD, LIMITS) == 1_000 * USD


def test_close_cap__full_below_hf_095_or_small():
    assert (
        liquidation.close_cap(10_000 * USD, 9_500 * USD - 1, 20_000 * USD, LIMITS) == 10_000 * USD
    )
    assert (
        liquidation.close_cap(2_000 * USD - 1, 1_990 * USD, 20_000 * USD, LIMITS) == 2_000 * USD - 1
    )
    assert liquidation.close_cap(10_000 * USD, 9_600 * USD, 2_000 * USD - 1, LIMITS) == 10_000 * USD


def test_seizable__seized_down_repaid_up():
    assert COIN.value == 20_000 * USD
    assert COIN.seized_for(1_000 * USD) == 1_050 * USD  # x 1.05
    assert COIN.repaid_for(1_050 * USD) == 1_000 * USD  # exact
    # At $3: 1 x 1.05 / 3 = 0.35 -> 0 seized; 1 unit seized costs 0.95 x 3 = 2.86 -> 3.
    at_three = Seizable(balance=10, price=3 * DOLLAR, exponent=8, bonus_bps=500)
    assert at_three.seized_for(1) == 0 and at_three.repaid_for(1) == 3


def test_repay_and_seize__half_the_debt_at_hf_096():
    # Cap 5,000; 5,250 seized of 20,000; the floors (9,000 of debt, 18,095 of
    # value) do not bind.
    assert liquidation.repay_and_seize(10_000 * USD, 9_600 * USD, COIN, LIMITS, MAX_UINT256) == (
        5_000 * USD,
        5_250 * USD,
    )


def test_repay_and_seize__all_the_debt_below_hf_095():
    assert liquidation.repay_and_seize(10_000 * USD, 9_400 * USD, COIN, LIMITS, MAX_UINT256) == (
        10_000 * USD,
        10_500 * USD,
    )


def test_repay_and_seize__whole_balance__repaid_rounded_up():
    # 10,000 x 1.05 > 3,000 held: all 3,000 go, for 3,000 / 1.05 = 2,857.142857142... -> up.
    small = Seizable(balance=3_000 * USD, price=DOLLAR, exponent=8, bonus_bps=500)
    assert liquidation.repay_and_seize(10_000 * USD, 9_400 * USD, small, LIMITS, MAX_UINT256) == (
        2_857_142_858,
        3_000 * USD,
    )


def test_repay_and_seize__trimmed_to_leave_the_collateral_floor():
    # 5,500 held: at most (5,500 - 1,000) / 1.05 = 4,285.714285 repaid (down),
    # seizing 4,285.714285 x 1.05 = 4,499.99999925 -> 4,499.999999.
    held = Seizable(balance=5_500 * USD, price=DOLLAR, exponent=8, bonus_bps=500)
    assert liquidation.repay_and_seize(10_000 * USD, 9_600 * USD, held, LIMITS, 5_000 * USD) == (
        4_285_714_285,
        4_499_999_999,
    )


def test_repay_and_seize__trimmed_to_leave_the_debt_floor():
    # Full close allowed, but 9,500 offered would leave 500 < 1,000 of debt: 9,000.
    assert liquidation.repay_and_seize(10_000 * USD, 9_400 * USD, COIN, LIMITS, 9_500 * USD) == (
        9_000 * USD,
        9_450 * USD,
    )


def test_repay_and_seize__nothing_left_to_liquidate__reverts():
    # 1,000 held is worth no more than the floor: the trim leaves nothing.
    at_floor = Seizable(balance=1_000 * USD, price=DOLLAR, exponent=8, bonus_bps=500)
    reverts(
        "market: nothing to liquidate",
        liquidation.repay_and_seize,
        10_000 * USD,
        9_400 * USD,
        at_floor,
        LIMITS,
        100 * USD,
    )
    reverts(
        "market: nothing to liquidate",
        liquidation.repay_and_seize,
        10_000 * USD,
        9_400 * USD,
        COIN,
        LIMITS,
        0,
    )


def test_protocol_fee__share_of_the_bonus_part():
    # 10,500 seized: cost 10,500 / 1.05 = 10,000 (up), bonus part 500, half is 250.
    assert liquidation.protocol_fee(10_500 * USD, 500, 5_000) == 250 * USD


def test_protocol_fee__none_or_rounded_away():
    assert liquidation.protocol_fee(10_500 * USD, 500, 0) == 0
    # 22 seized: cost 20.95 -> 21, bonus part 1, half of it 0.5 -> 0.
    assert liquidation.protocol_fee(22, 500, 5_000) == 0


def test_amounts__fee_taken_and_real_units_sent():
    # Full close (10,000 repaid, 10,500 seized), fee 250; 10,250 leave the
    # books; at 80 % real, 8,200 leave the market.
    limits = CloseLimits(
        base_unit=USD, small_position=2_000, dust_floor=1_000, liquidation_fee_bps=5_000
    )
    short = Seizable(
        balance=20_000 * USD, price=DOLLAR, exponent=8, bonus_bps=500, ratio=8 * 10**17
    )
    a = liquidation.amounts(10_000 * USD, 9_400 * USD, short, limits, MAX_UINT256)
    assert (a.repaid, a.seized, a.fee, a.taken, a.sent) == (
        10_000 * USD,
        10_500 * USD,
        250 * USD,
        10_250 * USD,
        8_200 * USD,
    )


def test_amounts__nothing_to_liquidate__reverts():
    reverts(
        "market: nothing to liquidate",
        liquidation.amounts,
        10_000 * USD,
        9_400 * USD,
        COIN,
        LIMITS,
        0,
    )


def test_write_off_due__remnant_below_debt_and_dust():
    assert liquidation.write_off_due(100, 0, LIMITS)
    assert liquidation.write_off_due(5_000 * USD, 1_000 * USD - 1, LIMITS)
    assert liquidation.write_off_due(500 * USD, 500 * USD - 1, LIMITS)


def test_write_off_due__no_debt_or_remnant_worth_keeping():
    assert not liquidation.write_off_due(0, 0, LIMITS)
    assert not liquidation.write_off_due(5_000 * USD, 1_000 * USD, LIMITS)  # at the floor
    assert not liquidation.write_off_due(500 * USD, 600 * USD, LIMITS)  # worth more than the debt


def test_check_liquidation__all_preconditions_hold__passes():
    liquidation.check_liquidation(10_000 * USD, 9_400 * USD, COIN, now=100, resume_at=100, paused=0)


NO_COLLATERAL = Seizable(balance=0, price=0, exponent=8, bonus_bps=500)
NO_PRICE = Seizable(balance=1, price=0, exponent=8, bonus_bps=500)


@pytest.mark.parametrize(
    "now, paused, debt, target, reason",
    [
        # Everything wrong: the grace period first; lifted one at a time, the next.
        (99, PAUSE_LIQUIDATION, 0, NO_COLLATERAL, "market: liquidation grace period"),
        (100, PAUSE_LIQUIDATION, 0, NO_COLLATERAL, "market: liquidation paused"),
        (100, 0, 0, NO_COLLATERAL, "market: no debt"),
        (100, 0, 9_400 * USD, NO_COLLATERAL, "market: no such collateral"),
        # A liquidation value equal to the debt is healthy.
        (100, 0, 9_400 * USD, NO_PRICE, "market: position healthy"),
        (100, 0, 10_000 * USD, NO_PRICE, "market: bad price"),
    ],
)
def test_check_liquidation__reasons_in_the_markets_order(now, paused, debt, target, reason):
    reverts(
        reason,
        liquidation.check_liquidation,
        debt,
        9_400 * USD,
        target,
        now=now,
        resume_at=100,
        paused=paused,
    )


# ---- fees ----


def test_flash_fee__rounded_up():
    assert fees.flash_fee(10_000, 5) == 5  # exact
    assert fees.flash_fee(20_001, 5) == 11  # 10.0005 up
    assert fees.flash_fee(1, 5) == 1  # never rounds to nothing


def test_flash_fee__no_fee__zero():
    assert fees.flash_fee(10**12, 0) == 0


def test_redemption_payout__gross_down_fee_kept():
    # 1,000 shares at $10.50 into 6 decimals (exponent 8): 10,500 gross;
    # 10 bps: 10,489.50 net, 10.50 kept.
    assert fees.redemption_payout(1_000 * 10**6, TEN_FIFTY, 8, 10) == (10_489_500_000, 10_500_000)
    # 10,001 units gross: net 10,001 x 0.999 = 9,990.999 -> 9,990, fee 11.
    assert fees.redemption_payout(10_001, DOLLAR, 8, 10) == (9_990, 11)


def test_redemption_payout__negative_exponent__scaled_up_exactly():
    # 3 units of a 6-decimal share at $1.05 into an 18-decimal coin
    # (exponent 6 + 8 - 18 = -4): 3 x 105,000,000 x 10^4 = 3.15 x 10^12.
    assert fees.redemption_payout(3, 105_000_000, -4, 0) == (3_150_000_000_000, 0)


# ---- params ----


def test_check_risk__at_the_bounds__passes():
    # LTV 95 %, threshold 95.01 %, bonus 5.25 %: 9,501 x 10,525 = 99,998,025 < 10^8.
    params.check_risk(9_500, 9_501, 525)
    params.check_risk(7_000, 8_000, 2_000)  # 8,000 x 12,000 < 10^8


@pytest.mark.parametrize(
    "risk, reason, message",
    [
        ((0, 9_000, 300), "market: bad ltv", "LTV must be above 0 and at most 95.00%"),
        ((9_501, 9_600, 100), "market: bad ltv", "LTV must be above 0 and at most 95.00%"),
        (
            (8_500, 8_500, 300),
            "market: threshold not above ltv",
            "the liquidation threshold must be above the LTV",
        ),
        (
            (8_500, 9_000, 0),
            "market: bad bonus",
            "the liquidation bonus must be above 0 and at most 20.00%",
        ),
        (
            (7_000, 8_000, 2_001),
            "market: bad bonus",
            "the liquidation bonus must be above 0 and at most 20.00%",
        ),
        (
            (9_500, 9_501, 526),  # 9,501 x 10,526 = 100,007,526
            "market: threshold x bonus >= 1",
            "threshold × (1 + bonus) must stay below 1, or a liquidation could create bad debt",
        ),
        # All wrong: the LTV first, as the contract checks.
        ((0, 0, 0), "market: bad ltv", "LTV must be above 0 and at most 95.00%"),
    ],
)
def test_check_risk__refused(risk, reason, message):
    assert reverts(reason, params.check_risk, *risk).message == message


def test_check_asset_limits__at_the_bounds__passes():
    params.check_asset_limits(2**120 - 1, 3_600)
    params.check_asset_limits(0, 7 * 86_400)


@pytest.mark.parametrize(
    "limits, reason, message",
    [
        (
            (2**120, 0),
            "market: bad supply cap",
            "the supply cap is above the market's largest (2^120 - 1 units)",
        ),
        (
            (0, 3_599),
            "market: bad oracle age",
            "the maximum oracle age must be from 1 hour to 7 days",
        ),
        (
            (0, 7 * 86_400 + 1),
            "market: bad oracle age",
            "the maximum oracle age must be from 1 hour to 7 days",
        ),
    ],
)
def test_check_asset_limits__refused(limits, reason, message):
    assert reverts(reason, params.check_asset_limits, *limits).message == message


def test_check_rates__at_the_bounds__passes():
    params.check_rates(10 * WAD, 10 * WAD, 10 * WAD, 1_000, 5_000)
    params.check_rates(0, 0, 0, 9_900, 0)


@pytest.mark.parametrize(
    "rates, reason, message",
    [
        (
            (10 * WAD + 1, 0, 0, 9_000, 0),
            "market: rate too high",
            "a rate term is above 1000% a year",
        ),
        (
            (0, 0, 10 * WAD + 1, 9_000, 0),
            "market: rate too high",
            "a rate term is above 1000% a year",
        ),
        ((0, 5, 4, 9_000, 0), "market: slope2 below slope1", "slope2 must be at least slope1"),
        ((0, 4, 5, 999, 0), "market: bad kink", "the kink must be from 10.00% to 99.00%"),
        ((0, 4, 5, 9_901, 0), "market: bad kink", "the kink must be from 10.00% to 99.00%"),
        (
            (0, 4, 5, 9_000, 5_001),
            "market: bad reserve factor",
            "the reserve factor is at most 50.00%",
        ),
        (
            (10 * WAD + 1, 5, 4, 0, 5_001),
            "market: rate too high",
            "a rate term is above 1000% a year",
        ),
    ],
)
def test_check_rates__refused(rates, reason, message):
    assert reverts(reason, params.check_rates, *rates).message == message


def test_check_fees__at_the_bounds__passes():
    params.check_fees(100, 5_000)


@pytest.mark.parametrize(
    "fee, reason, message",
    [
        ((101, 0), "market: flash fee too high", "the flash-loan fee is at most 1.00%"),
        (
            (0, 5_001),
            "market: liquidation fee too high",
            "the protocol's share of the liquidation bonus is at most 50.00%",
        ),
        ((101, 5_001), "market: flash fee too high", "the flash-loan fee is at most 1.00%"),
    ],
)
def test_check_fees__refused(fee, reason, message):
    assert reverts(reason, params.check_fees, *fee).message == message


def test_check_borrow_limits__at_the_bounds__passes():
    params.check_borrow_limits(2**48 - 1, 2**48 - 1, 2**48 - 1)
    params.check_borrow_limits(0, 0, 0)


@pytest.mark.parametrize(
    "limits, reason, message",
    [
        ((2**48, 0, 0), "market: limit too high", "a borrow limit is too large"),
        ((0, 2**48, 0), "market: limit too high", "a borrow limit is too large"),
        (
            (0, 1_000, 1_001),
            "market: dust above small position",
            "the dust floor must not exceed the small-position threshold",
        ),
    ],
)
def test_check_borrow_limits__refused(limits, reason, message):
    assert reverts(reason, params.check_borrow_limits, *limits).message == message


def test_check_actions__known_bits__passes():
    params.check_actions(1)
    params.check_actions(127)


@pytest.mark.parametrize("actions", [0, 128, 127 | 256])
def test_check_actions__none_or_unknown_bits__refused(actions):
    err = reverts("market: bad actions", params.check_actions, actions)
    assert (
        err.message == "the actions must be a non-zero combination of the pause bits (at most 127)"
    )


def test_check_grace__within_bounds__passes():
    params.check_grace(PAUSE_LIQUIDATION, 4 * 3_600)
    params.check_grace(PAUSE_LIQUIDATION, 0)
    params.check_grace(1, 0)


def test_check_grace__refused():
    too_long = reverts(
        "market: grace too long", params.check_grace, PAUSE_LIQUIDATION | 1, 4 * 3_600 + 1
    )
    assert too_long.message == "the grace period is at most 4 hours"
    without = reverts("market: grace without liquidation", params.check_grace, 1, 1)
    assert without.message == "a grace period applies only when unpausing liquidation"
