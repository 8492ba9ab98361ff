"""Pure decision functions (keepers/decide.py): amounts under the market's
close-factor and dust rules, route choice, profit, and the block's plan."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from navlend import model
from navlend.constants import MAX_UINT256, WAD

from keepers import decide as d
from keepers.types import ExecutionContext, Route, SkipReason

from conftest import (
    BORROWER,
    NOW,
    LensWouldRevert,
    FUND_A,
    FUND_C,
    LIQUIDATOR,
    OTHER_BORROWER,
    USD,
    balances_of,
    feed_of,
    lens_health,
    model_market,
    open_position,
    terms_of,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


PRICES = {0: 6 * 10**8, 1: 10**8}  # fund A after a NAV drop to $6.00, fund C at $1.00


def _scene(collateral, debt, **market):
    """A model market with the borrower's position at ``PRICES``: (model,
    prices, the Lens's view of the borrower, the market terms)."""
    m = model_market(**market)
    open_position(m, BORROWER, collateral, debt)
    return m, PRICES, lens_health(m, BORROWER, PRICES), terms_of(m, PRICES)


def _plan(m, prices, ctx, policy, account=BORROWER, **asset_overrides):
    health = lens_health(m, account, prices)
    return d.decide(health, balances_of(m, account), terms_of(m, prices, **asset_overrides), ctx, policy)


# ---------------------------------------------------------------- #
#                 amounts: the market's rules, exactly              #
# ---------------------------------------------------------------- #


positions = st.fixed_dictionaries(
    {
        "shares_a": st.integers(0, 50_000 * USD),
        "shares_b": st.integers(0, 10**24),
        "price_a": st.integers(10**6, 20 * 10**8),
        "price_b": st.integers(10**6, 2 * 10**8),
        "debt_ratio_bps": st.integers(9_001, 30_000),
        "fee_bps": st.sampled_from([0, 1_000, 5_000]),
    }
).filter(lambda p: p["shares_a"] or p["shares_b"])


def _scanned(m, prices):
    """The Lens's view of the borrower, or None where the Lens reverts."""
    try:
        return lens_health(m, BORROWER, prices)
    except LensWouldRevert:
        event("lens reverts on a dust position")
        return None


def _random_position(p):
    m = model_market(liquidation_fee_bps=p["fee_bps"])
    prices = {0: p["price_a"], 1: p["price_b"]}
    value = model.value(p["shares_a"], prices[0], 8) + model.value(p["shares_b"], prices[1], 20)
    debt = max(1, value * p["debt_ratio_bps"] // 10_000)
    open_position(m, BORROWER, {0: p["shares_a"], 1: p["shares_b"]}, debt)
    return m, prices


@FAST
@given(p=positions, fraction_bps=st.integers(1, 10_000))
def test_liquidation_amounts__any_position__equal_the_reference_market(p, fraction_bps):
    m, prices = _random_position(p)
    health = _scanned(m, prices)
    if health is None:
        return
    terms = terms_of(m, prices)
    for asset in terms.assets:
        balance = m.balance(BORROWER, asset.asset_id)
        if not balance:
            continue
        for max_repay in (MAX_UINT256, max(1, health.debt * fraction_bps // 10_000)):
            got = d.liquidation_amounts(health, balance, asset, terms, max_repay)
            try:
                result = m.clone().liquidate(LIQUIDATOR, BORROWER, asset.token, max_repay, 0, True, LIQUIDATOR, NOW, feed_of(prices))
            except model.ModelRevert as revert:
                if revert.reason == "market: position healthy":
                    continue  # the Lens would not list it
                assert revert.reason == "market: nothing to liquidate" and got is None
                continue
            assert got is not None
            assert (got.repaid, got.seized, got.taken) == (result.repaid, result.seized, result.taken)
            event("compared with the model's liquidate")


def test_liquidation_amounts__lens_best_token__equal_the_lens_figures(underwater):
    m, prices = underwater
    health = lens_health(m, BORROWER, prices)
    terms = terms_of(m, prices)
    got = d.liquidation_amounts(health, m.balance(BORROWER, 0), terms.asset(FUND_A), terms, MAX_UINT256)
    assert (got.repaid, got.seized) == (health.max_repay, health.max_seize)


def test_redeem_payout__facility_formula__matches_model_facility_payout(underwater):
    m, prices = underwater
    asset = terms_of(m, prices).asset(FUND_A)
    shares = 123_456_789
    net, fee = d.redeem_payout(asset, shares)
    assert net == model.facility_payout(shares, prices[0], 6, 8, 6, asset.redemption_fee_bps)
    assert net + fee == model.value(shares, prices[0], 8)


def test_gas_cost__fractional_cent__rounds_up():
    assert d.gas_cost(1, 1, 1) == 1
    assert d.gas_cost(100_000, 10**9, 3_000 * USD) == 300_000  # 0.0001 ETH at $3,000 = $0.30
    assert d.gas_cost(0, 10**9, 3_000 * USD) == 0


# ---------------------------------------------------------------- #
#                    close factor and dust, end to end              #
# ---------------------------------------------------------------- #


def test_decide__below_hf_095__redeem_route_closes_in_full(underwater, ctx, policy):
    m, prices = underwater
    decision = _plan(m, prices, ctx, policy)
    plan = decision.plan
    assert plan is not None and plan.route is Route.REDEEM
    assert plan.max_repay == MAX_UINT256 and not plan.partial_for_liquidity
    health = lens_health(m, BORROWER, prices)
    assert (plan.repaid, plan.seized) == (health.max_repay, health.max_seize)
    assert plan.net_profit == plan.proceeds - plan.repaid - plan.flash_fee - plan.gas_cost - plan.safety_buffer
    assert plan.net_profit >= policy.min_profit


def test_decide__hf_between_095_and_1__repays_half_the_debt(ctx, policy):
    m, prices, health, _ = _scene({0: 1_000 * USD}, 5_600 * USD)  # HF = 5,400 / 5,600 = 0.964
    assert 95 * WAD // 100 <= health.health_factor < WAD
    plan = _plan(m, prices, ctx, policy).plan
    assert plan.repaid == health.debt // 2


def test_decide__small_position__closes_in_full_above_hf_095(ctx, policy):
    m, prices, health, _ = _scene({0: 300 * USD}, 1_680 * USD)  # $1,800 of collateral, HF 0.964
    assert health.health_factor >= 95 * WAD // 100 and health.debt < 2_000 * USD
    plan = _plan(m, prices, ctx, policy).plan
    assert plan.repaid > health.debt // 2
    assert plan.seized == 300 * USD or plan.repaid == health.debt


def test_decide__partial_would_leave_dust__trims_to_leave_the_floor(ctx, policy):
    # Fund A worth $2,100 is the target; fund C keeps the HF at 0.9675.
    m, prices, health, terms = _scene({0: 350 * USD, 1: 2_200 * 10**18}, 4_000 * USD)
    amounts = d.liquidation_amounts(health, 350 * USD, terms.asset(FUND_A), terms, MAX_UINT256)
    assert amounts.repaid < health.debt // 2  # trimmed below the close factor
    left_value = model.value(350 * USD - amounts.seized, prices[0], 8)
    assert left_value >= m.dust_floor * USD - 1
    untrimmed = d.liquidation_amounts(health, 350 * USD, terms.asset(FUND_A), terms, amounts.repaid + 10 * USD)
    assert untrimmed.repaid == amounts.repaid  # asking for more changes nothing


def test_decide__nothing_left_to_take__skips_nothing_to_liquidate(ctx, policy):
    # Debt exactly at the floor and HF >= 0.95: a partial must leave the
    # floor, so no repayment is allowed on fund A.
    _, _, health, terms = _scene({0: 200 * USD, 1: 1_000 * 10**18}, 1_000 * USD, small_position=1_000, dust_floor=1_000)
    assert health.health_factor >= 95 * WAD // 100
    assert d.liquidation_amounts(health, 200 * USD, terms.asset(FUND_A), terms, MAX_UINT256) is None


# ---------------------------------------------------------------- #
#                               routes                              #
# ---------------------------------------------------------------- #


def test_decide__facility_takes_part__repay_cut_to_what_it_takes(underwater, ctx, policy):
    m, prices = underwater
    cap = 300 * USD  # shares
    plan = _plan(m, prices, ctx, policy, facility_max_redeem=cap).plan
    assert plan.route is Route.REDEEM and plan.partial_for_liquidity
    assert plan.taken <= cap
    health = lens_health(m, BORROWER, prices)
    terms = terms_of(m, prices, facility_max_redeem=cap)
    more = d.liquidation_amounts(health, m.balance(BORROWER, 0), terms.asset(FUND_A), terms, plan.max_repay + 1)
    assert more.taken > cap  # the largest repayment that fits


def test_decide__flash_cash_short__repay_cut_to_the_cash(underwater, ctx, policy):
    m, prices = underwater
    health = lens_health(m, BORROWER, prices)
    terms = replace(terms_of(m, prices), max_flash_loan=1_000 * USD)
    plan = d.decide(health, balances_of(m, BORROWER), terms, ctx, policy).plan
    assert plan.partial_for_liquidity and plan.repaid <= 1_000 * USD


def test_decide__facility_dry_not_allowlisted__skips_with_facility_dry(underwater, ctx, policy):
    m, prices = underwater
    decision = _plan(m, prices, ctx, policy, facility_max_redeem=0)
    assert decision.plan is None and decision.reason is SkipReason.FACILITY_DRY
    assert {r.reason for r in decision.rejected} == {SkipReason.FACILITY_DRY, SkipReason.NOT_ALLOWLISTED}
    assert "facility_dry" in decision.detail and "not_allowlisted" in decision.detail


def test_decide__facility_dry_allowlisted__falls_back_to_seize(underwater, ctx, policy):
    m, prices = underwater
    keeper = replace(ctx, stable_balance=100_000 * USD, allowlisted_tokens=frozenset({FUND_A}))
    plan = _plan(m, prices, keeper, policy, facility_max_redeem=0).plan
    assert plan is not None and plan.route is Route.SEIZE
    assert plan.max_repay == keeper.stable_balance and plan.flash_fee == 0
    assert plan.min_out == plan.taken * 9_900 // 10_000
    assert plan.net_profit >= policy.min_profit


def test_decide__facility_dry_allowlisted_without_stablecoin__skips_with_both_reasons(underwater, ctx, policy):
    m, prices = underwater
    keeper = replace(ctx, allowlisted_tokens=frozenset({FUND_A}))
    decision = _plan(m, prices, keeper, policy, facility_max_redeem=0)
    assert decision.reason is SkipReason.FACILITY_DRY
    assert SkipReason.INSUFFICIENT_BALANCE in {r.reason for r in decision.rejected}


def test_decide__seize_with_little_stablecoin__repays_up_to_the_balance(underwater, ctx, policy):
    m, prices = underwater
    keeper = replace(ctx, stable_balance=2_000 * USD, allowlisted_tokens=frozenset({FUND_A}))
    plan = _plan(m, prices, keeper, policy, facility_max_redeem=0).plan
    assert plan.route is Route.SEIZE and plan.repaid <= 2_000 * USD and plan.partial_for_liquidity


def test_decide__facility_has_liquidity_and_keeper_can_seize__prefers_redeem(underwater, ctx, policy):
    m, prices = underwater
    keeper = replace(ctx, stable_balance=100_000 * USD, allowlisted_tokens=frozenset({FUND_A}))
    assert _plan(m, prices, keeper, policy).plan.route is Route.REDEEM


def test_decide__no_flash_liquidator_not_allowlisted__skips_flash_unavailable(underwater, ctx, policy):
    m, prices = underwater
    decision = _plan(m, prices, replace(ctx, flash_liquidator_ready=False), policy)
    assert decision.reason is SkipReason.FLASH_UNAVAILABLE


def test_decide__no_facility__skips_no_facility(underwater, ctx, policy):
    m, prices = underwater
    decision = _plan(m, prices, ctx, policy, facility="0x" + "00" * 20)
    assert decision.reason is SkipReason.NO_FACILITY


def test_decide__below_facility_minimum__skips(underwater, ctx, policy):
    m, prices = underwater
    decision = _plan(m, prices, ctx, policy, facility_min_redeem=10**40)
    assert decision.reason is SkipReason.FACILITY_BELOW_MINIMUM


def test_decide__facility_pays_below_cost__skips_payout_below_cost(underwater, ctx, policy):
    m, prices = underwater
    # The facility's NAV is 5 % under the market's price: the 3 % bonus
    # cannot cover it, and the FlashLiquidator would revert.
    decision = _plan(m, prices, ctx, policy, redeem_price=prices[0] * 95 // 100)
    assert decision.reason is SkipReason.PAYOUT_BELOW_COST


def test_decide__fund_a_dry_fund_c_liquid__liquidates_fund_c(ctx, policy):
    m, prices, health, terms = _scene({0: 500 * USD, 1: 3_000 * 10**18}, 6_000 * USD)
    dry_a = replace(terms, assets=(replace(terms.assets[0], facility_max_redeem=0), terms.assets[1]))
    plan = d.decide(health, balances_of(m, BORROWER), dry_a, ctx, policy).plan
    assert plan.token == FUND_C


# ---------------------------------------------------------------- #
#                               profit                              #
# ---------------------------------------------------------------- #


def test_decide__gas_dearer_than_the_bonus__skips_unprofitable(ctx, policy):
    m, prices, _, _ = _scene({0: 30 * USD}, 170 * USD)  # a $180 position: ~$5 of bonus
    decision = _plan(m, prices, replace(ctx, gas_price_wei=20 * 10**9), policy)  # ~$27 of gas
    assert decision.reason is SkipReason.UNPROFITABLE


def test_decide__cleanup_mode__liquidates_at_a_loss_with_no_profit_floor(ctx, policy):
    m, prices, _, _ = _scene({0: 30 * USD}, 170 * USD)
    plan = _plan(m, prices, replace(ctx, gas_price_wei=20 * 10**9), replace(policy, cleanup_mode=True)).plan
    assert plan is not None and plan.cleanup and plan.net_profit < 0 and plan.min_profit == 0


def test_decide__profitable__on_chain_floor_covers_gas_and_minimum(underwater, ctx, policy):
    m, prices = underwater
    plan = _plan(m, prices, ctx, policy).plan
    assert plan.min_profit == plan.gas_cost + policy.min_profit
    assert plan.gross_profit >= plan.min_profit + policy.safety_buffer


def test_decide__gas_price_above_cap__skips(underwater, ctx, policy):
    m, prices = underwater
    decision = _plan(m, prices, replace(ctx, gas_price_wei=policy.max_fee_wei + 1), policy)
    assert decision.reason is SkipReason.GAS_PRICE_ABOVE_CAP


@FAST
@given(
    p=positions,
    gas_gwei=st.integers(0, 150),
    max_redeem=st.one_of(st.just(10**40), st.integers(0, 10**24)),
    cleanup=st.booleans(),
)
def test_decide__any_position__never_plans_a_loss_outside_cleanup(p, gas_gwei, max_redeem, cleanup, policy):
    m, prices = _random_position(p)
    keeper = ExecutionContext(gas_price_wei=gas_gwei * 10**9)
    pol = replace(policy, cleanup_mode=cleanup)
    health = _scanned(m, prices)
    if health is None:
        return
    terms = terms_of(m, prices, facility_max_redeem=max_redeem)
    decision = d.decide(health, balances_of(m, BORROWER), terms, keeper, pol)
    if not health.liquidatable:
        assert decision.reason in (SkipReason.HEALTHY, SkipReason.NO_DEBT)
        return
    if decision.plan is None:
        assert decision.reason is not None and decision.rejected
        event(f"skip: {decision.reason.value}")
        return
    plan = decision.plan
    event(f"plan: {plan.route.value}{' partial' if plan.partial_for_liquidity else ''}")
    assert plan.taken <= terms.asset(plan.token).facility_max_redeem
    assert plan.proceeds >= plan.repaid + plan.flash_fee  # the FlashLiquidator would not revert
    assert plan.repaid <= health.debt
    if not cleanup:
        assert plan.net_profit >= pol.min_profit


# ---------------------------------------------------------------- #
#                          guards and targets                       #
# ---------------------------------------------------------------- #


def test_decide__healthy_position__skips_healthy(ctx, policy):
    m = model_market()
    open_position(m, BORROWER, {0: 1_000 * USD}, 3_000 * USD)
    decision = _plan(m, {0: 6 * 10**8, 1: 10**8}, ctx, policy)
    assert decision.reason is SkipReason.HEALTHY


def test_decide__in_flight__skips_in_flight(underwater, ctx, policy):
    m, prices = underwater
    health = lens_health(m, BORROWER, prices)
    decision = d.decide(health, balances_of(m, BORROWER), terms_of(m, prices), ctx, policy, in_flight=True)
    assert decision.reason is SkipReason.IN_FLIGHT


def test_decide__liquidation_paused__skips_closed(underwater, ctx, policy):
    m, prices = underwater
    health = lens_health(m, BORROWER, prices)
    terms = replace(terms_of(m, prices), liquidation_open=False)
    assert d.decide(health, balances_of(m, BORROWER), terms, ctx, policy).reason is SkipReason.LIQUIDATION_CLOSED


def test_decide__index_lacks_the_collateral__skips_no_collateral(underwater, ctx, policy):
    m, prices = underwater
    health = lens_health(m, BORROWER, prices)
    decision = d.decide(health, {}, terms_of(m, prices), ctx, policy)
    assert decision.reason is SkipReason.NO_COLLATERAL


def test_decide__index_balance_differs_from_lens__plan_notes_the_drift(underwater, ctx, policy):
    m, prices = underwater
    health = lens_health(m, BORROWER, prices)
    stale = {FUND_A: m.balance(BORROWER, 0) - 10 * USD}
    plan = d.decide(health, stale, terms_of(m, prices), ctx, policy).plan
    assert "index drift" in plan.note


def test_select_targets__mixed_scan__liquidatable_not_in_flight_largest_first():
    m = model_market()
    third = "0x" + "b2" * 20
    open_position(m, BORROWER, {0: 1_000 * USD}, 6_000 * USD)
    open_position(m, OTHER_BORROWER, {0: 3_000 * USD}, 18_000 * USD)
    open_position(m, third, {0: 3_000 * USD}, 1_000 * USD)  # healthy
    healths = [lens_health(m, a, PRICES) for a in (BORROWER, OTHER_BORROWER, third)]
    assert [h.account for h in d.select_targets(healths)] == [OTHER_BORROWER, BORROWER]
    assert [h.account for h in d.select_targets(healths, in_flight={OTHER_BORROWER})] == [BORROWER]
    assert {h.account for h in d.at_risk(healths, 105 * WAD // 100)} == {BORROWER, OTHER_BORROWER}


@pytest.fixture
def two_underwater():
    """Two borrowers at HF 0.90 (1,000 and 800 fund A shares): the model,
    the Lens's view of both, and the index's balances."""
    m = model_market()
    open_position(m, BORROWER, {0: 1_000 * USD}, 6_000 * USD)
    open_position(m, OTHER_BORROWER, {0: 800 * USD}, 4_800 * USD)
    healths = [lens_health(m, a, PRICES) for a in (BORROWER, OTHER_BORROWER)]
    balances = {a: balances_of(m, a) for a in (BORROWER, OTHER_BORROWER)}
    return m, healths, balances


def test_decide_block__facility_shared__second_position_gets_what_is_left(two_underwater, ctx, policy):
    m, healths, balances = two_underwater
    prices = PRICES
    cap = 1_300 * USD  # shares: all of the first position, part of the second
    decisions = d.decide_block(healths, balances, terms_of(m, prices, facility_max_redeem=cap), ctx, policy)
    first, second = (x.plan for x in decisions)
    assert first.borrower == BORROWER and not first.partial_for_liquidity
    assert second.partial_for_liquidity and first.taken + second.taken <= cap


def test_decide_block__one_in_flight__gets_in_flight_skip_others_plan(two_underwater, ctx, policy):
    m, healths, balances = two_underwater
    decisions = d.decide_block(healths, balances, terms_of(m, PRICES), ctx, policy, in_flight={BORROWER})
    by = {x.borrower: x for x in decisions}
    assert by[BORROWER].reason is SkipReason.IN_FLIGHT and by[OTHER_BORROWER].act


# ---------------------------------------------------------------- #
#        the keeper's own pending transactions, the re-check        #
# ---------------------------------------------------------------- #


def test_decide_block__own_pending_redeem_holds_the_facility__next_block_plans_on_what_is_left(
    two_underwater, ctx, policy
):
    m, healths, balances = two_underwater
    cap = 1_300 * USD
    terms = terms_of(m, PRICES, facility_max_redeem=cap)
    pending = d.decide_block(healths[:1], balances, terms, ctx, policy)[0].plan
    # Next block: the facility still shows `cap` (the first transaction is not mined yet).
    second = d.decide_block(healths[1:], balances, terms, ctx, policy, reserved=[pending])[0].plan
    assert second.partial_for_liquidity and pending.taken + second.taken <= cap


def test_decide_block__own_pending_redeem_took_all__next_position_skips_facility_dry(two_underwater, ctx, policy):
    m, healths, balances = two_underwater
    pending = d.decide_block(healths[:1], balances, terms_of(m, PRICES), ctx, policy)[0].plan
    terms = terms_of(m, PRICES, facility_max_redeem=pending.taken)  # exactly what the first takes
    decision = d.decide_block(healths[1:], balances, terms, ctx, policy, reserved=[pending])[0]
    assert decision.plan is None and decision.reason is SkipReason.FACILITY_DRY


def test_decide_block__nothing_pending__whole_facility_for_the_block(two_underwater, ctx, policy):
    m, healths, balances = two_underwater
    terms = terms_of(m, PRICES, facility_max_redeem=1_000 * USD)
    decision = d.decide_block(healths[1:], balances, terms, ctx, policy, reserved=[])[0]
    assert decision.plan is not None and not decision.plan.partial_for_liquidity


def test_decide_block__own_pending_seize_spent_stablecoin__next_plan_repays_what_is_left(two_underwater, ctx, policy):
    m, healths, balances = two_underwater
    keeper = replace(ctx, stable_balance=5_000 * USD, allowlisted_tokens=frozenset({FUND_A}))
    terms = terms_of(m, PRICES, facility_max_redeem=0)
    pending = d.decide_block(healths[:1], balances, terms, keeper, policy)[0].plan
    assert pending.route is Route.SEIZE
    second = d.decide_block(healths[1:], balances, terms, keeper, policy, reserved=[pending])[0].plan
    assert second.route is Route.SEIZE and second.max_repay == keeper.stable_balance - pending.repaid


def test_decide__facility_dry_keeper_frozen__headline_is_keeper_frozen(underwater, ctx, policy):
    m, prices = underwater
    keeper = replace(ctx, stable_balance=100_000 * USD, allowlisted_tokens=frozenset({FUND_A}),
                     frozen_tokens=frozenset({FUND_A}))
    decision = _plan(m, prices, keeper, policy, facility_max_redeem=0)
    assert decision.plan is None and decision.reason is SkipReason.KEEPER_FROZEN
    assert {r.reason for r in decision.rejected} == {SkipReason.FACILITY_DRY, SkipReason.KEEPER_FROZEN}


def test_decide__facility_open_keeper_frozen__redeems_all_the_same(underwater, ctx, policy):
    m, prices = underwater
    keeper = replace(ctx, allowlisted_tokens=frozenset({FUND_A}), frozen_tokens=frozenset({FUND_A}))
    plan = _plan(m, prices, keeper, policy).plan
    assert plan is not None and plan.route is Route.REDEEM


def test_still_liquidatable__recheck_finds_one_healthy__only_the_other_kept(two_underwater, ctx, policy):
    m, healths, balances = two_underwater
    plans = [x.plan for x in d.decide_block(healths, balances, terms_of(m, PRICES), ctx, policy)]
    healed = replace(healths[0], liquidatable=False, health_factor=WAD + 1)
    kept, gone = d.still_liquidatable(plans, [healed, healths[1]])
    assert [p.borrower for p in kept] == [OTHER_BORROWER] and [p.borrower for p in gone] == [BORROWER]


def test_still_liquidatable__recheck_agrees__all_kept_in_order(two_underwater, ctx, policy):
    m, healths, balances = two_underwater
    plans = [x.plan for x in d.decide_block(healths, balances, terms_of(m, PRICES), ctx, policy)]
    kept, gone = d.still_liquidatable(plans, list(reversed(healths)))
    assert kept == plans and gone == []


def test_still_liquidatable__no_answer_for_a_position__not_sent(two_underwater, ctx, policy):
    m, healths, balances = two_underwater
    plans = [x.plan for x in d.decide_block(healths, balances, terms_of(m, PRICES), ctx, policy)]
    kept, gone = d.still_liquidatable(plans, healths[1:])
    assert [p.borrower for p in gone] == [BORROWER]


# ---------------------------------------------------------------- #
#       an asset the market is short of (after sync_asset)          #
# ---------------------------------------------------------------- #

SHORT = 8 * 10**17  # 0.8 real units per booked unit


def _short_scene(underwater):
    """The underwater position after an issuer took 20 % of the market's
    fund A and someone synced: the model and the market price a booked
    unit at 0.8 of the NAV, and pay out 0.8 real units for it; the
    facility still redeems a real share at the full NAV."""
    m, prices = underwater
    m.assets[0].ratio = SHORT
    health = lens_health(m, BORROWER, prices)
    short = {0: prices[0] * SHORT // WAD, 1: prices[1]}
    terms = terms_of(m, short)
    fund_a = replace(terms.asset(FUND_A), redeem_price=prices[0], ratio=SHORT)
    terms = replace(terms, assets=tuple(fund_a if a.token == FUND_A else a for a in terms.assets))
    return m, health, terms, fund_a


def test_decide__short_asset__redeem_payout_counts_the_real_shares(underwater, ctx, policy):
    m, health, terms, fund_a = _short_scene(underwater)
    plan = d.decide(health, balances_of(m, BORROWER), terms, ctx, policy).plan
    assert plan is not None and plan.route is Route.REDEEM
    assert plan.sent == plan.taken * SHORT // WAD
    assert plan.proceeds == d.redeem_payout(fund_a, plan.sent)[0]
    # On the booked units the payout would be a quarter too high.
    assert plan.proceeds < d.redeem_payout(fund_a, plan.taken)[0]


def test_decide__short_asset__seize_min_out_on_the_real_shares(underwater, ctx, policy):
    m, health, terms, fund_a = _short_scene(underwater)
    fund_a = replace(fund_a, facility_max_redeem=0)
    terms = replace(terms, assets=tuple(fund_a if a.token == FUND_A else a for a in terms.assets))
    keeper = replace(ctx, stable_balance=100_000 * USD, allowlisted_tokens=frozenset({FUND_A}))
    plan = d.decide(health, balances_of(m, BORROWER), terms, keeper, policy).plan
    assert plan is not None and plan.route is Route.SEIZE
    # The market checks the real units it sends against min_out: a floor
    # on the booked ones would make every such liquidation revert.
    assert plan.min_out == plan.sent * 9_900 // 10_000 < plan.taken * 9_900 // 10_000


def test_decide__short_asset__facility_cap_counts_the_real_shares(underwater, ctx, policy):
    m, health, terms, fund_a = _short_scene(underwater)
    full = d.liquidation_amounts(health, m.balance(BORROWER, 0), fund_a, terms, MAX_UINT256)
    # The facility takes the real shares of a full close, not its booked ones.
    fund_a = replace(fund_a, facility_max_redeem=full.sent)
    terms = replace(terms, assets=tuple(fund_a if a.token == FUND_A else a for a in terms.assets))
    plan = d.decide(health, balances_of(m, BORROWER), terms, ctx, policy).plan
    assert plan.route is Route.REDEEM and not plan.partial_for_liquidity
    assert (plan.taken, plan.sent) == (full.taken, full.sent) and full.taken > full.sent
