"""Gathered batches (keepers/decide.py): positions each under the
facility's redemption minimum, grouped per collateral until their seized
shares reach it, priced by the facility's one quote for the total, and
the issuer's bars (a paused token, the market not admitted) that stop
every route. Pure values: positions come from the reference model
(``conftest``), nothing touches a chain."""

from __future__ import annotations

from dataclasses import replace

import pytest

from navlend.constants import BPS, MAX_UINT256
from navlend.rules.fees import flash_fee

from keepers import decide as d
from keepers.types import GatheredBatch, Rejection, Route, SkipReason, to_address

from conftest import FUND_A, USD, balances_of, lens_health, model_market, open_position, terms_of

PRICES = {0: 6 * 10**8, 1: 10**8}  # fund A at $6.00
BORROWERS = tuple(to_address("0x" + f"{0xd0 + i:02x}" * 20) for i in range(4))
# Each borrower: 1,000 fund A shares ($6,000) and $5,900 of debt: under
# water (HF ~0.92), closed in full; each seizure is ~1,000 shares.
SHAPE = (1_000 * USD, 5_900 * USD)


@pytest.fixture
def book():
    """Four small fund-A positions in a model market, with their Lens
    healths and index balances."""
    m = model_market()
    for who in BORROWERS:
        open_position(m, who, {0: SHAPE[0]}, SHAPE[1])
    healths = [lens_health(m, who, PRICES) for who in BORROWERS]
    balances = {who: balances_of(m, who) for who in BORROWERS}
    return m, healths, balances


@pytest.fixture
def gctx(ctx):
    """The default context with a FlashLiquidator that has ``liquidate_gathered``."""
    return replace(ctx, flash_gathers=True)


def _seized(terms, healths, balances) -> list[int]:
    asset = terms.asset(FUND_A)
    return [d.liquidation_amounts(h, balances[h.account][FUND_A], asset, terms, MAX_UINT256).sent for h in healths]


def _terms(m, *, minimum_of: int, gathers: bool = True, **overrides):
    """Terms where the facility's minimum is ``minimum_of`` positions'
    seizures (a little under, so that that many reach it)."""
    terms = terms_of(m, PRICES, facility_gathers=gathers, **overrides)
    one = min(_seized(terms, [lens_health(m, b, PRICES) for b in BORROWERS[:1]],
                      {BORROWERS[0]: balances_of(m, BORROWERS[0])}))
    minimum = minimum_of * one - 1
    return replace(terms, assets=tuple(replace(a, facility_min_redeem=minimum) for a in terms.assets))


def _members(m, healths, balances, gctx, policy, **kw):
    terms = _terms(m, **kw)
    decisions = d.decide_block(healths, balances, terms, gctx, policy)
    return terms, decisions, d.gather_members(decisions, healths, balances, terms, gctx)


# ---- who can be gathered ----


def test_gather_members__each_under_the_minimum__members_with_the_whole_seizure(book, gctx, policy):
    m, healths, balances = book
    terms, decisions, members = _members(m, healths, balances, gctx, policy, minimum_of=3)
    assert [dec.reason for dec in decisions] == [SkipReason.FACILITY_BELOW_MINIMUM] * 4
    assert sorted(x.health.account for x in members) == sorted(BORROWERS)
    assert [x.amounts.sent for x in sorted(members, key=lambda x: x.health.account)] == _seized(
        terms, sorted(healths, key=lambda h: h.account), balances
    )


def test_gather_members__facility_does_not_gather__none(book, gctx, policy):
    m, healths, balances = book
    assert _members(m, healths, balances, gctx, policy, minimum_of=3, gathers=False)[2] == []


def test_gather_members__flash_liquidator_without_liquidate_gathered__none(book, ctx, policy):
    m, healths, balances = book
    assert _members(m, healths, balances, ctx, policy, minimum_of=3)[2] == []


def test_gather_members__position_with_a_plan__keeps_its_plan(book, gctx, policy):
    """A single seizure at the minimum: the redeem route, not a batch."""
    m, healths, balances = book
    terms, decisions, members = _members(m, healths, balances, gctx, policy, minimum_of=1)
    assert all(dec.plan is not None and dec.plan.route is Route.REDEEM for dec in decisions)
    assert members == []


# ---- grouping ----


def test_gather_groups__three_reach_the_minimum__one_group_of_all(book, gctx, policy):
    m, healths, balances = book
    terms, _, members = _members(m, healths, balances, gctx, policy, minimum_of=3)
    groups, left = d.gather_groups(members, terms)
    assert left == [] and len(groups) == 1
    (group,) = groups
    assert group.token == FUND_A and len(group.members) == 4
    assert group.shares == sum(x.amounts.sent for x in members) >= terms.asset(FUND_A).facility_min_redeem
    assert group.loan == -(-group.repaid * (BPS + d.LOAN_MARGIN_BPS) // BPS)


def test_gather_groups__together_still_under_the_minimum__all_left_out(book, gctx, policy):
    m, healths, balances = book
    terms, _, members = _members(m, healths, balances, gctx, policy, minimum_of=5)
    groups, left = d.gather_groups(members, terms)
    assert groups == [] and sorted(x.health.account for x in left) == sorted(BORROWERS)


def test_gather_groups__batch_size_two__split_in_two_groups(book, gctx, policy):
    m, healths, balances = book
    terms, _, members = _members(m, healths, balances, gctx, policy, minimum_of=2)
    groups, left = d.gather_groups(members, terms, batch_size=2)
    assert left == [] and [len(g.members) for g in groups] == [2, 2]
    assert {x.health.account for g in groups for x in g.members} == set(BORROWERS)


def test_gather_groups__batch_size_three_minimum_of_two__last_one_left_out(book, gctx, policy):
    m, healths, balances = book
    terms, _, members = _members(m, healths, balances, gctx, policy, minimum_of=2)
    groups, left = d.gather_groups(members, terms, batch_size=3)
    assert [len(g.members) for g in groups] == [3] and len(left) == 1


def test_gather_groups__facility_capacity_for_three__one_group_of_three_and_one_left(book, gctx, policy):
    m, healths, balances = book
    terms, _, members = _members(m, healths, balances, gctx, policy, minimum_of=2)
    three = sum(sorted((x.amounts.sent for x in members), reverse=True)[:3])
    terms = replace(terms, assets=tuple(replace(a, facility_max_redeem=three) for a in terms.assets))
    groups, left = d.gather_groups(members, terms)
    assert [g.shares for g in groups] == [three] and len(left) == 1


def test_gather_groups__capacity_drawn_by_a_plan__less_for_the_group(book, gctx, policy):
    m, healths, balances = book
    terms, decisions, members = _members(m, healths, balances, gctx, policy, minimum_of=2)
    total = sum(x.amounts.sent for x in members)
    terms = replace(terms, assets=tuple(replace(a, facility_max_redeem=total) for a in terms.assets))
    drawn = replace(d.decide_block(healths[:1], balances, replace(terms, assets=tuple(
        replace(a, facility_min_redeem=1) for a in terms.assets)), gctx, policy)[0].plan)
    groups, left = d.gather_groups(members, terms, drawn=[drawn])
    assert sum(g.shares for g in groups) <= total - drawn.sent and left


def test_gather_groups__flash_cash_for_one__none_gathered(book, gctx, policy):
    m, healths, balances = book
    terms, _, members = _members(m, healths, balances, gctx, policy, minimum_of=2)
    one = max(x.amounts.repaid for x in members)
    terms = replace(terms, max_flash_loan=d.batch_loan([]) + one * 2)
    groups, left = d.gather_groups(members, terms)
    assert groups == [] and len(left) == 4


def test_gather_groups__batch_size_zero__refused(book, gctx, policy):
    m, healths, balances = book
    terms, _, members = _members(m, healths, balances, gctx, policy, minimum_of=3)
    with pytest.raises(ValueError, match="at least 1"):
        d.gather_groups(members, terms, batch_size=0)


# ---- pricing ----


@pytest.fixture
def group(book, gctx, policy):
    m, healths, balances = book
    terms, _, members = _members(m, healths, balances, gctx, policy, minimum_of=3)
    (g,) = d.gather_groups(members, terms)[0]
    return terms, g


def _cost(terms, g, gctx, policy) -> int:
    gas = d.gas_cost(d.gathered_gas_units(len(g.members), policy), gctx.gas_price_wei, policy.eth_usd_base)
    return g.repaid + flash_fee(g.loan, terms.flash_fee_bps) + gas


def test_plan_gathered__quote_above_cost__batch_with_loan_floor_and_members(group, gctx, policy):
    terms, g = group
    payout = _cost(terms, g, gctx, policy) + 50 * USD
    batch = d.plan_gathered(g, payout, terms, gctx, policy)
    assert isinstance(batch, GatheredBatch)
    gas = d.gas_cost(d.gathered_gas_units(4, policy), gctx.gas_price_wei, policy.eth_usd_base)
    assert (batch.shares, batch.repaid, batch.loan, batch.payout) == (g.shares, g.repaid, g.loan, payout)
    assert batch.net_profit == payout - g.repaid - batch.flash_fee - gas - policy.safety_buffer
    assert batch.min_profit == gas + policy.min_profit
    assert [p.route for p in batch.plans] == [Route.GATHERED] * 4
    assert [p.sent for p in batch.plans] == [x.amounts.sent for x in g.members]
    assert all(p.max_repay == MAX_UINT256 for p in batch.plans)


def test_plan_gathered__quote_one_below_cost_with_gas__payout_below_cost(group, gctx, policy):
    terms, g = group
    refused = d.plan_gathered(g, _cost(terms, g, gctx, policy) - 1, terms, gctx, policy)
    assert isinstance(refused, Rejection) and refused.reason is SkipReason.PAYOUT_BELOW_COST
    assert refused.route is Route.GATHERED


def test_plan_gathered__quote_covers_cost_not_the_profit__unprofitable(group, gctx, policy):
    terms, g = group
    refused = d.plan_gathered(g, _cost(terms, g, gctx, policy), terms, gctx, policy)
    assert isinstance(refused, Rejection) and refused.reason is SkipReason.UNPROFITABLE


def test_plan_gathered__same_quote_cleanup_mode__batch_with_no_floor(group, gctx, policy):
    terms, g = group
    batch = d.plan_gathered(g, _cost(terms, g, gctx, policy), terms, gctx, replace(policy, cleanup_mode=True))
    assert isinstance(batch, GatheredBatch) and batch.min_profit == 0


def test_plan_gathered__zero_quote__facility_dry(group, gctx, policy):
    terms, g = group
    refused = d.plan_gathered(g, 0, terms, gctx, policy)
    assert isinstance(refused, Rejection) and refused.reason is SkipReason.FACILITY_DRY


def test_with_gathered__members_planned_refused_skipped_with_the_groups_reason(book, gctx, policy):
    m, healths, balances = book
    terms, decisions, members = _members(m, healths, balances, gctx, policy, minimum_of=2)
    first, second = d.gather_groups(members, terms, batch_size=2)[0]
    batch = d.plan_gathered(first, _cost(terms, first, gctx, policy) + 50 * USD, terms, gctx, policy)
    refusal = d.plan_gathered(second, 0, terms, gctx, policy)
    out = {x.borrower: x for x in d.with_gathered(decisions, [batch], [(second, refusal)])}
    for x in first.members:
        assert out[x.health.account].plan.route is Route.GATHERED
    for x in second.members:
        assert out[x.health.account].reason is SkipReason.FACILITY_DRY
        assert out[x.health.account].detail.startswith("gathered: ")


def test_with_gathered__nothing_gathered__decisions_unchanged(book, gctx, policy):
    m, healths, balances = book
    _, decisions, _ = _members(m, healths, balances, gctx, policy, minimum_of=5)
    assert d.with_gathered(decisions, [], []) == decisions


def test_consume__gathered_member__draws_the_facility(group, gctx, policy):
    terms, g = group
    batch = d.plan_gathered(g, _cost(terms, g, gctx, policy) + 50 * USD, terms, gctx, policy)
    after, _ = d._consume(batch.plans[0], terms, gctx)
    assert after.asset(FUND_A).facility_max_redeem == terms.asset(FUND_A).facility_max_redeem - batch.plans[0].sent


# ---- the issuer's bars ----


@pytest.fixture
def one(book):
    m, healths, balances = book
    return m, healths[:1], balances


@pytest.mark.parametrize("allowlisted", [False, True])
@pytest.mark.parametrize(
    "bar, reason",
    [({"paused": True}, SkipReason.TOKEN_PAUSED), ({"market_admitted": False}, SkipReason.MARKET_NOT_ADMITTED)],
)
def test_decide__issuer_paused_or_market_not_admitted__skips_with_it_on_every_route(
    one, gctx, policy, allowlisted, bar, reason
):
    m, healths, balances = one
    ctx = replace(gctx, allowlisted_tokens=frozenset({FUND_A}) if allowlisted else frozenset(),
                  stable_balance=10**12)
    (decision,) = d.decide_block(healths, balances, terms_of(m, PRICES, **bar), ctx, policy)
    assert decision.plan is None and decision.reason is reason
    assert [r.route for r in decision.rejected] == [None]


def test_decide__token_unpaused_market_admitted__redeem_route_planned(one, gctx, policy):
    m, healths, balances = one
    (decision,) = d.decide_block(healths, balances, terms_of(m, PRICES), gctx, policy)
    assert decision.plan is not None and decision.plan.route is Route.REDEEM


def test_decide__token_paused__never_gathered(book, gctx, policy):
    m, healths, balances = book
    terms = replace(_terms(m, minimum_of=3), assets=tuple(replace(a, paused=True) for a in _terms(m, minimum_of=3).assets))
    decisions = d.decide_block(healths, balances, terms, gctx, policy)
    assert {x.reason for x in decisions} == {SkipReason.TOKEN_PAUSED}
    assert d.gather_members(decisions, healths, balances, terms, gctx) == []
