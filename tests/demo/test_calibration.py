"""The demo's book and listing calibration (pure: no chain)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from devkit.demo.calibration import (
    DemoRisk,
    Kind,
    cutoff_bps,
    drift_bps,
    facility_liquidity_usd,
    health_after,
    health_after_liquidation,
    liquidatable_after,
    plan_book,
)

SHOCK = Decimal("0.97")
RISK = DemoRisk()


def test_default_listing__default_shock__liquidates_only_above_the_cutoff():
    cut = cutoff_bps(RISK, SHOCK)
    assert cut < RISK.ltv_bps
    assert liquidatable_after(int(cut) + 1, RISK, SHOCK)
    assert not liquidatable_after(int(cut), RISK, SHOCK)
    assert health_after(int(cut) + 1, RISK, SHOCK) < 1 <= health_after(int(cut), RISK, SHOCK)


def test_market_default_listing__break_the_buck__would_liquidate_nobody():
    market_default = DemoRisk(ltv_bps=8_500, threshold_bps=9_000, bonus_bps=300)
    assert not liquidatable_after(market_default.ltv_bps, market_default, SHOCK)


def test_one_liquidation__of_the_riskiest_position__leaves_it_healthy():
    assert health_after(RISK.ltv_bps, RISK, SHOCK) > Decimal("0.95")  # a partial close
    assert health_after_liquidation(RISK.ltv_bps, RISK, SHOCK) > 1


@pytest.mark.parametrize("count", [1, 7, 200, 333])
def test_plan_book__is_deterministic_and_sized(count):
    plan = plan_book(count)
    assert plan == plan_book(count)
    assert len(plan.positions) == count
    assert [p.index for p in plan.positions] == list(range(count))
    assert plan.total_supply_usd * Decimal("0.80") >= plan.total_debt_usd


def test_plan_book__default__liquidates_a_third_and_spares_the_rest():
    plan = plan_book(200)
    assert Decimal("0.25") <= plan.expected_share <= Decimal("0.45")
    kinds = {p.kind for p in plan.expected_liquidatable}
    assert kinds == {Kind.PLAIN, Kind.CARRY}
    assets = {p.asset for p in plan.expected_liquidatable}
    assert assets == {"fund_a", "wrapper"}


def test_plan_book__keeps_every_ltv_off_the_cutoff_by_the_margin_and_under_the_limit():
    plan = plan_book(200, margin_bps=30)
    cut = cutoff_bps(RISK, SHOCK)
    for p in plan.positions:
        assert abs(Decimal(p.ltv_bps) - cut) > 30
        assert p.ltv_bps < RISK.ltv_bps


def test_plan_book__carry_positions__are_levered_equity():
    plan = plan_book(50)
    carry = [p for p in plan.positions if p.kind is Kind.CARRY]
    assert carry
    for p in carry:
        assert p.collateral_usd == p.equity_usd * 10_000 // (10_000 - p.ltv_bps)
        assert p.collateral_usd > p.equity_usd


def test_plan_book__margin_too_wide_for_the_shock__is_refused():
    with pytest.raises(ValueError, match="no room"):
        plan_book(10, shock=Decimal("0.995"))


@pytest.mark.parametrize("kwargs", [{"count": 0}, {"count": 5, "utilization": Decimal(1)}, {"count": 5, "lenders": 0}])
def test_plan_book__bad_inputs__are_refused(kwargs):
    with pytest.raises(ValueError):
        plan_book(**kwargs)


def test_demo_risk__threshold_times_bonus_at_one__is_refused():
    with pytest.raises(ValueError, match="threshold x"):
        DemoRisk(ltv_bps=9_000, threshold_bps=9_500, bonus_bps=600)


def test_drift__normal_days__stays_inside_the_margin():
    # A $1 fund (no NAV accrual) at the most interest the kinked curve charges below the kink.
    assert drift_bps(8, Decimal("0.04"), Decimal(0), RISK.ltv_bps) < 30
    assert drift_bps(8, Decimal("0.04"), Decimal("0.05"), RISK.ltv_bps) == 0


def test_facility_liquidity__covers_the_need_or_the_chosen_share():
    plan = plan_book(200)
    need = plan.expected_payout_usd("fund_a")
    assert need > 0
    assert facility_liquidity_usd(plan, "fund_a", None) >= 3 * need
    assert facility_liquidity_usd(plan, "fund_a", Decimal("0.35")) == int(need * Decimal("0.35"))
