"""The risk preview's pure parts (no chain): a position projected by the
market's rules, the warning rule, the lent side's cost basis and yield,
and how amounts are echoed and written in JSON."""

from dataclasses import replace
from fractions import Fraction

import jsonschema
import pytest

from navlend.cli import schema
from navlend.cli.lending import ShareEvent, apy, cost_basis
from navlend.cli.preview import DEFAULT_WARN_HEALTH, figures, preview, project
from navlend.cli.records import Holding, Position, Quantity, Token
from navlend.cli.render_preview import amount_json, echo_line, preview_json, preview_rows
from navlend.cli.risk import borrow_value, liquidation_value
from navlend.constants import MAX_UINT256, WAD

USD = 10**6
BASE = Token("usdc", "USDC", 6)
# 1,000 fund A shares (6 decimals) at $10.50, LTV 85 %, threshold 90 %.
FUND_A = Holding("fund_a", "TBFA", "0x" + "a" * 40, 1_000 * 10**6, 6, 10_50_000_000, 8, 6, 8_500, 9_000)
WRAPPER = Holding("wrapper", "aDLFB", "0x" + "b" * 40, 0, 18, 1_00_000_000, 8, 6, 8_000, 8_800)


def position(debt: int, *holdings: Holding) -> Position:
    liq = liquidation_value(holdings)
    hf = liq * WAD // debt if debt else MAX_UINT256
    return Position("0x" + "c" * 40, debt, debt, borrow_value(holdings), liq, hf, tuple(holdings))


def test_project__borrow__debt_and_health_as_the_market_computes():
    before = position(0, FUND_A)
    after = project(before, debt_change=6_000 * USD)
    # The scaled debt is the market's to set: the preview leaves it.
    assert replace(after, scaled_debt=6_000 * USD) == position(6_000 * USD, FUND_A)
    assert after.health_factor == 9_450 * USD * WAD // (6_000 * USD)


def test_project__withdraw_all__holding_dropped_and_health_zero():
    after = project(position(6_000 * USD, FUND_A), balances={"fund_a": 0})
    assert after.holdings == () and after.health_factor == 0 and after.borrow_value == 0


def test_project__new_asset__comes_in_with_its_balance():
    more = replace(WRAPPER, balance=2_000 * 10**18)
    after = project(position(6_000 * USD, FUND_A), new_holdings=[more])
    assert after == replace(position(6_000 * USD, FUND_A, more), scaled_debt=6_000 * USD)


def test_project__unknown_holding__raises():
    with pytest.raises(ValueError, match="no holding named fund_z"):
        project(position(0, FUND_A), balances={"fund_z": 1})


def test_project__repay_more_than_the_debt__floored_at_zero():
    after = project(position(1_000 * USD, FUND_A), debt_change=-5_000 * USD)
    assert after.debt == 0 and after.health_factor == MAX_UINT256


def test_warns__falling_under_the_level__yes_rising_or_above__no():
    base = position(6_000 * USD, FUND_A)
    risky = preview(base, project(base, debt_change=2_700 * USD))  # HF 1.08
    assert risky.after.health_factor < DEFAULT_WARN_HEALTH and risky.warns(DEFAULT_WARN_HEALTH)
    assert not risky.warns(WAD * 105 // 100)
    low = project(base, debt_change=2_700 * USD)
    repaid = preview(low, project(low, debt_change=-10 * USD))
    assert repaid.after.health_factor < DEFAULT_WARN_HEALTH and not repaid.warns(DEFAULT_WARN_HEALTH)
    safe = preview(base, project(base, debt_change=100 * USD))
    assert not safe.warns(DEFAULT_WARN_HEALTH)


def test_preview_rows_and_json__liquidation_nav_and_fall():
    before = position(0, FUND_A)
    p = preview(before, project(before, debt_change=6_000 * USD))
    rows = dict((figure, (b, a)) for figure, b, a in preview_rows(p, BASE))
    assert rows["health factor"] == ("∞", "1.575")
    assert rows["borrow headroom"] == ("8,925.00 USDC", "2,925.00 USDC")
    assert rows["fund_a liquidates at NAV"] == ("-", "$6.666666 (36.50% below)")
    doc = preview_json(p, BASE)
    jsonschema.validate(doc, schema.PREVIEW)
    (liq,) = doc["after"]["liquidation"]
    assert liq["nav"] == "6.66666666" and liq["fall"].startswith("0.365079")
    assert figures(before).liquidation == ()


def test_amount_json_and_echo__exact_units():
    doc = amount_json(1_000_500_000, BASE)
    jsonschema.validate(doc, schema.AMOUNT)
    assert doc == {"raw": "1000500000", "value": "1000.50", "symbol": "USDC", "decimals": 6}
    assert echo_line("amount", Quantity(1_000_500_000, BASE)) == (
        "amount: 1,000.50 USDC = 1000500000 units (6 decimals)"
    )
    assert amount_json(None, BASE) is None


def test_cost_basis__deposits_and_a_withdrawal__pro_rata():
    events = [
        ShareEvent("deposit", 1_000 * USD, 1_000, (1, 0)),
        ShareEvent("deposit", 1_100 * USD, 1_000, (2, 0)),
        ShareEvent("withdraw", 1_200 * USD, 1_000, (3, 0)),
    ]
    basis = cost_basis(reversed(events))
    assert basis.shares == 1_000 and basis.basis == 1_050 * USD


def test_cost_basis__shares_in_by_transfer__unknown():
    events = [ShareEvent("deposit", 10 * USD, 10, (1, 0)), ShareEvent("transfer_in", 0, 5, (2, 0))]
    assert cost_basis(events).basis is None and cost_basis(events).shares == 15


def test_cost_basis__everything_withdrawn__zero():
    events = [ShareEvent("deposit", 10 * USD, 10, (1, 0)), ShareEvent("transfer_out", 0, 10, (2, 0))]
    assert cost_basis(events) == cost_basis([]) == type(cost_basis([]))(0, 0)


def test_apy__continuous_compounding():
    assert apy(0) == 0
    assert apy(WAD * 5 // 100) == Fraction(51_271_096_376, 10**12)
