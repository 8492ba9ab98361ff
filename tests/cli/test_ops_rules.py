"""The operators' pure rules (no chain): settings in human units, who a
change puts at risk, a liquidation's quote and refusals, a NAV strike."""

from decimal import Decimal

import pytest

from navlend.cli import liquidation, navstrike, settings
from navlend.cli.errors import BadInput, Refusal
from navlend.cli.impact import AssetTerms, BookEntry, at_risk, lowest_first, reprice
from navlend.cli.preview import DEFAULT_WARN_HEALTH, project
from navlend.cli.records import Control, Holding, Position, Token
from navlend.constants import MAX_UINT256, WAD

USD = 10**6
BASE = Token("stablecoin", "USDC", 6)
FUND = Token("fund_a", "TBFA", 6)
# 1,000 fund A shares (6 decimals) at $10.50, LTV 85 %, threshold 90 %.
FUND_A = Holding("fund_a", "TBFA", "0xa", 1_000 * 10**6, 6, 10_50_000_000, 8, 6, 8_500, 9_000)


def position(account, debt, *holdings):
    """A position valued by the rules (as the market reports it)."""
    return project(Position(account, debt, 0, 0, 0, 0, holdings))


# ---- settings ----


@pytest.mark.parametrize(
    "seconds, text",
    [(360_000, "100h"), (4 * 86_400, "4d"), (5_400, "90m"), (45, "45s"), (604_800, "1w"), (0, "0s"), (3_601, "3601s")],
)
def test_duration_text__exact_in_the_largest_unit(seconds, text):
    assert settings.duration_text(seconds) == text


def test_settings_texts__never_raw_integers():
    assert settings.supply_cap_text(settings.UNLIMITED, FUND) == "unlimited"
    assert settings.supply_cap_text(5_000 * 10**6, FUND) == "5,000.00 TBFA"
    assert settings.price_cap_text(0, 8) == "none"
    assert settings.price_cap_text(10_25_000_000, 8) == "$10.25"
    assert settings.rate_text(4 * 10**16) == "4%"
    assert settings.rate_text(5 * 10**15) == "0.5%"
    assert settings.whole_text(2_000, BASE) == "2,000 USDC"
    assert settings.bps_change("LTV", 8_500, 7_000).after == "70.00%"
    assert settings.names_text([]) == "none"


# ---- impact ----


def test_reprice__lower_threshold__market_figures():
    p = position("0xb", 8_900 * USD, FUND_A)
    after = reprice(p, AssetTerms("fund_a", ltv_bps=7_000, threshold_bps=8_000))
    assert after.liquidation_value == 8_400 * USD
    assert after.health_factor == 8_400 * WAD // 8_900
    assert after.borrow_value == 7_350 * USD


def test_reprice__other_asset__unchanged():
    p = position("0xb", 100 * USD, FUND_A)
    assert reprice(p, AssetTerms("wrapper", price=1)) is p


def test_at_risk__lists_liquidatable_and_under_warning_lowest_first():
    pushed = position("0x1", 8_900 * USD, FUND_A)  # 1.0617 → 0.9438
    near = position("0x2", 7_500 * USD, FUND_A)  # 1.26 → 1.12: above 1.10, left out
    warned = position("0x3", 8_000 * USD, FUND_A)  # 1.18 → 1.05
    idle = position("0x4", 0, FUND_A)
    found = at_risk([near, warned, pushed, idle], AssetTerms("fund_a", threshold_bps=8_000), DEFAULT_WARN_HEALTH)
    assert [p.account for p in found] == ["0x1", "0x3"]
    assert found[0].after.liquidatable and not found[0].before.liquidatable
    assert not found[1].after.liquidatable


def test_at_risk__change_that_raises_health__nobody():
    p = position("0x1", 9_300 * USD, FUND_A)  # 1.016: under the warning level already
    assert at_risk([p], AssetTerms("fund_a", price=11 * 10**8), DEFAULT_WARN_HEALTH) == []


def test_lowest_first__order_filter_limit():
    entries = [
        BookEntry(position(a, d * USD, FUND_A), False)
        for a, d in (("0xa", 5_000), ("0xb", 9_000), ("0xc", 8_000), ("0xd", 0))
    ]
    assert [e.account for e in lowest_first(entries)] == ["0xb", "0xc", "0xa"]
    assert [e.account for e in lowest_first(entries, below=WAD * 12 // 10)] == ["0xb", "0xc"]
    assert [e.account for e in lowest_first(entries, limit=1)] == ["0xb"]
    assert entries[0].collateral_value == 10_500 * USD


# ---- liquidation ----


LIMITS = liquidation.limits_of(Control(small_position=2_000 * USD, dust_floor=10 * USD), BASE)


def test_quote__seize_route__bonus_is_the_profit():
    target = liquidation.seizable(FUND_A, 300)
    a = liquidation.amounts(8_900 * USD, 8_400 * USD, target, LIMITS, 1_000 * USD, BASE)
    q = liquidation.quote("seize", "fund_a", a, target, LIMITS, 8_900 * USD, 10_500 * USD)
    assert a.repaid == 1_000 * USD and a.seized == 1_000 * USD * 103 * 100 // (100 * 1050)
    assert q.proceeds == q.seized_value and q.profit == q.bonus_value
    assert 29 * USD < q.profit < 31 * USD and not q.write_off


def test_quote__redeem_route__profit_is_payout_less_repaid():
    target = liquidation.seizable(FUND_A, 300)
    a = liquidation.amounts(8_900 * USD, 8_400 * USD, target, LIMITS, MAX_UINT256, BASE)
    q = liquidation.quote("redeem", "fund_a", a, target, LIMITS, 8_900 * USD, 10_500 * USD, payout=9_000 * USD)
    assert a.repaid == 8_900 * USD  # health under 0.95: all of it
    assert q.profit == 100 * USD


def test_amounts__above_what_may_be_repaid__refused():
    target = liquidation.seizable(FUND_A, 300)
    # Health 1.0 - 1e-?: above 0.95, so half the debt at most.
    with pytest.raises(Refusal, match="at most 4,500.00 USDC may be repaid now"):
        liquidation.amounts(9_000 * USD, 8_999 * USD, target, LIMITS, 5_000 * USD, BASE)


def test_check_liquidatable__refusals():
    target = liquidation.seizable(FUND_A, 300)
    with pytest.raises(Refusal, match="healthy"):
        liquidation.check_liquidatable(Control(), 0, 100 * USD, 9_450 * USD, target)
    with pytest.raises(Refusal, match="paused liquidation"):
        liquidation.check_liquidatable(Control(paused=64), 0, 100 * USD, 50 * USD, target)
    with pytest.raises(Refusal, match="grace period"):
        liquidation.check_liquidatable(Control(liquidations_resume_at=10), 5, 100 * USD, 50 * USD, target)


def test_check_route_and_funds__refusals():
    with pytest.raises(Refusal, match="no redemption facility"):
        liquidation.check_route("redeem", "fund_a", "0x" + "0" * 40, 1, 10, 10, FUND, BASE)
    with pytest.raises(Refusal, match="can take 5.00 TBFA now"):
        liquidation.check_route("redeem", "fund_a", "0x1", 6 * 10**6, 5 * 10**6, 10, FUND, BASE)
    liquidation.check_route("seize", "fund_a", "", 1, 0, 0, FUND, BASE)
    target = liquidation.seizable(FUND_A, 300)
    a = liquidation.amounts(8_900 * USD, 8_400 * USD, target, LIMITS, 1_000 * USD, BASE)
    q = liquidation.quote("redeem", "fund_a", a, target, LIMITS, 8_900 * USD, 10_500 * USD, payout=1_020 * USD)
    liquidation.check_funds("redeem", 0, q, BASE)  # the payout funds it
    with pytest.raises(Refusal, match="less than the 1,000.00 USDC to repay"):
        liquidation.check_funds("seize", 999 * USD, q, BASE)


# ---- NAV strikes ----


def test_new_nav__set_move_refresh():
    assert navstrike.new_nav(10_50_000_000, 8, "10.25", None) == 10_25_000_000
    assert navstrike.new_nav(10_50_000_000, 8, None, "-3%") == 10_18_500_000
    assert navstrike.new_nav(10_50_000_000, 8, None, "+0.01") == 10_60_500_000
    assert navstrike.new_nav(10_50_000_000, 8, None, None) == 10_50_000_000
    with pytest.raises(BadInput, match="not both"):
        navstrike.new_nav(1, 8, "1", "1%")
    with pytest.raises(BadInput, match="zero or below"):
        navstrike.new_nav(1, 8, None, "-100%")
    assert navstrike.parse_move("-2.5%") == Decimal("-0.025")


def test_strike__interval_and_bound():
    strike = navstrike.Strike(nav=10_18_500_000, as_of=1_000 + 3_600, previous=10_50_000_000, previous_as_of=1_000)
    assert strike.move_bps == 300 and navstrike.needs_guardian(strike, 100)
    with pytest.raises(Refusal, match="add --advance 19h"):
        navstrike.check_strike(strike, 72_000)
    navstrike.check_strike(strike, 3_600)
    assert navstrike.move_bps(10_000, 10_001) == 1  # rounded up, as the oracle


def test_wrapper_price__as_the_adapter():
    # Fund B: 18 decimals, 8-decimal feed; 1.02 fund shares a wrapper share.
    assert navstrike.wrapper_price(1_00_000_000, 102 * 10**16, 18, 8) == 1_02_000_000
