"""The seize route against the market's own arithmetic, with the market
terms read the way the chain edge reads them: ``control()`` returns the
small-position and dust-floor limits in base units, ``MarketTerms`` and the
reference model take whole units (``keepers.chain.whole_limits``).

The demo's facility-dry scenario (carry trades at high LTV, debts far above
the small-position limit) found the keeper passing base units through: the
model then saw every position as "small" (full close, where the market caps
at half) and every partial liquidation as a dust violation, so seize plans
promised more shares than the market delivers ("market: slippage") or none
at all ("buys nothing past the dust rules")."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from navlend import model
from navlend.constants import WAD

from keepers import decide as d
from keepers.chain import whole_limits
from keepers.types import Route, SkipReason

from conftest import (
    BORROWER,
    FUND_A,
    FUND_C,
    LIQUIDATOR,
    NOW,
    USD,
    balances_of,
    feed_of,
    lens_health,
    model_market,
    open_position,
    terms_of,
)

PRICES = {0: 6 * 10**8, 1: 10**8}


def _chain_terms(m, prices, **overrides):
    """The terms as ``ChainReader.market_terms`` builds them from
    ``control()`` (limits in base units)."""
    unit = 10**m.base_decimals
    small, dust = whole_limits(m.small_position * unit, m.dust_floor * unit, m.base_decimals)
    return replace(terms_of(m, prices, **overrides), small_position=small, dust_floor=dust)


def _seize_plan(m, keeper_cash, ctx, policy):
    health = lens_health(m, BORROWER, PRICES)
    keeper = replace(ctx, stable_balance=keeper_cash, allowlisted_tokens=frozenset({FUND_A}))
    decision = d.decide(health, balances_of(m, BORROWER), _chain_terms(m, PRICES, facility_max_redeem=0), keeper, policy)
    return health, decision


def _settle(m, plan):
    """``Market.liquidate(borrower, token, max_repay, min_out, False, receiver)`` in the reference model."""
    return m.liquidate(LIQUIDATOR, BORROWER, plan.token, plan.max_repay, plan.min_out, False, LIQUIDATOR, NOW, feed_of(PRICES))


def test_whole_limits__control_base_units__whole_units():
    assert whole_limits(2_000 * USD, 1_000 * USD, 6) == (2_000, 1_000)
    assert whole_limits(0, 0, 18) == (0, 0)


def test_seize__large_carry_trade_hf_above_095__plans_the_close_factor_and_settles(ctx, policy):
    # A carry trade far above the small-position limit: $1.2M of fund A at
    # $6 against $1.12M of debt, HF 0.964 -> the market repays half.
    m = model_market()
    open_position(m, BORROWER, {0: 200_000 * USD}, 1_120_000 * USD)
    health, decision = _seize_plan(m, 3_100_000 * USD, ctx, policy)
    assert 95 * WAD // 100 <= health.health_factor < WAD
    plan = decision.plan
    assert plan is not None and plan.route is Route.SEIZE, decision.detail
    assert plan.repaid == health.debt // 2
    result = _settle(m, plan)  # raises ModelRevert("market: slippage") on a wrong min_out
    assert (result.repaid, result.seized, result.taken) == (plan.repaid, plan.seized, plan.taken)
    assert plan.min_out <= result.taken


def test_seize__partial_where_the_dust_floor_bites__plans_the_trim_and_settles(ctx, policy):
    # Keeper cash below the close-factor cap: a partial liquidation, fund A
    # the target with fund C holding the HF above 0.95; the dust rule trims.
    m = model_market(liquidation_fee_bps=1_000)
    open_position(m, BORROWER, {0: 350 * USD, 1: 2_200 * 10**18}, 4_000 * USD)
    _, decision = _seize_plan(m, 3_100_000 * USD, ctx, policy)
    plan = decision.plan
    assert plan is not None, decision.detail
    if plan.token == FUND_A:
        result = _settle(m, plan)
        assert result.taken == plan.taken >= plan.min_out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shares=st.integers(1_000 * USD, 500_000 * USD),
    ltv_bps=st.integers(8_600, 9_400),
    cash=st.integers(1 * USD, 5_000_000 * USD),
    fee_bps=st.sampled_from([0, 1_000, 5_000]),
)
def test_seize__any_position__the_market_accepts_the_plans_min_out(shares, ltv_bps, cash, fee_bps, ctx, policy):
    m = model_market(liquidation_fee_bps=fee_bps)
    debt = model.value(shares, PRICES[0], 8) * ltv_bps // 10_000
    open_position(m, BORROWER, {0: shares}, debt)
    health, decision = _seize_plan(m, cash, ctx, policy)
    if decision.plan is None or decision.plan.route is not Route.SEIZE:
        return
    result = _settle(m, decision.plan)
    assert result.taken == decision.plan.taken and result.repaid == decision.plan.repaid


def test_seize__keeper_frozen_by_the_fund__skips_with_keeper_frozen(ctx, policy):
    m = model_market()
    open_position(m, BORROWER, {0: 1_000 * USD}, 6_000 * USD)
    health = lens_health(m, BORROWER, PRICES)
    keeper = replace(
        ctx, stable_balance=100_000 * USD, allowlisted_tokens=frozenset({FUND_A}), frozen_tokens=frozenset({FUND_A})
    )
    decision = d.decide(health, balances_of(m, BORROWER), _chain_terms(m, PRICES, facility_max_redeem=0), keeper, policy)
    assert decision.plan is None
    assert SkipReason.KEEPER_FROZEN in {r.reason for r in decision.rejected}
    assert "frozen" in decision.detail



def test_seize__frozen_in_another_fund__still_seizes_this_one(ctx, policy):
    m = model_market()
    open_position(m, BORROWER, {0: 1_000 * USD}, 6_000 * USD)
    health = lens_health(m, BORROWER, PRICES)
    keeper = replace(
        ctx, stable_balance=100_000 * USD, allowlisted_tokens=frozenset({FUND_A}), frozen_tokens=frozenset({FUND_C})
    )
    decision = d.decide(health, balances_of(m, BORROWER), _chain_terms(m, PRICES, facility_max_redeem=0), keeper, policy)
    assert decision.plan is not None and decision.plan.route is Route.SEIZE
