"""The issuer-action runbook (docs/operations.md), Ondo OUSG: for each
thing Ondo can do to a market over OUSG, what the market does, what the
keeper reports and what the operator does.

The market is ``test_ondo_market``'s (``ousg_market``: OUSG through
OndoNavFeed, OndoRedemption over the instant manager and OndoCompliance,
the market and the adapter KYC'd by Ondo). ``large`` is a position whose
seizure is far above Ondo's $50,000 minimum, ``small`` one whose seizure
is below it, both made liquidatable by Ondo's largest drop (-2 %).
``liquidator`` is KYC'd here, ``outsider`` never: the keeper signs as the
outsider (only the redeem route open to it) unless a test asks what it
decides as a KYC'd signer."""

import ape
import pytest

from keepers.types import Route, SkipReason
from navlend.constants import WAD
from operations_keeper import KeeperUnderTest, the_event
from test_ondo_market import (  # noqa: F401 (fixtures)
    DROPPED,
    LISTING,
    MAX_UINT,
    OUSG,
    USDC,
    open_position,
    ousg_market,
    price_drop,
)

LARGE = (10_000 * OUSG, 1_020_000 * USDC)
SMALL = (500 * OUSG, 51_000 * USDC)


@pytest.fixture
def large(open_position, price_drop, borrower):
    open_position(*LARGE)
    price_drop()
    return borrower


@pytest.fixture
def small(open_position, price_drop, borrower):
    open_position(*SMALL)
    price_drop()
    return borrower


@pytest.fixture
def market(ousg_market):
    return ousg_market[0]


@pytest.fixture
def adapter(ousg_market):
    return ousg_market[2]


@pytest.fixture
def compliance(ousg_market):
    return ousg_market[3]


@pytest.fixture
def kyc_liquidator(ondo, market, liquidator):
    """``liquidator``, KYC'd by Ondo, with $2,000,000 approved to the market."""
    ondo.kyc(liquidator)
    ondo.usdc.mint(liquidator, 2_000_000 * USDC, sender=liquidator)
    ondo.usdc.approve(market, MAX_UINT, sender=liquidator)
    return liquidator


@pytest.fixture
def keeper(project, chain, market, outsider, tmp_path):
    """The keeper over the OUSG market, signing as ``outsider`` (never KYC'd)."""
    return lambda: KeeperUnderTest.build(project, chain, market, outsider, tmp_path)


@pytest.fixture
def kyc_keeper(project, chain, market, kyc_liquidator, tmp_path):
    """The keeper signing as the KYC'd ``liquidator``."""
    return lambda: KeeperUnderTest.build(project, chain, market, kyc_liquidator, tmp_path)


def remove_kyc(ondo, account):
    """Ondo takes ``account`` off OUSG's KYC group."""
    ondo.registry.set_kyc_status(1, account, False, sender=ondo.admin)


def seize(market, ondo, borrower, liquidator):
    return market.liquidate(borrower, ondo.ousg, MAX_UINT, 0, False, liquidator, sender=liquidator)


def redeem(market, ondo, borrower, outsider):
    """The redeem route by ``outsider``, who repays from the payout only if
    it has the USDC: it is minted what the repayment needs."""
    repay = market.preview_liquidation(borrower, ondo.ousg, MAX_UINT)[0]
    ondo.usdc.mint(outsider, repay, sender=outsider)
    ondo.usdc.approve(market, MAX_UINT, sender=outsider)
    return market.liquidate(borrower, ondo.ousg, MAX_UINT, 0, True, outsider, sender=outsider)


# ---- a paused token ----


def test_ousg_paused__both_liquidation_routes__revert_in_ousg(
    large, ondo, market, adapter, compliance, kyc_liquidator, outsider
):
    ondo.ousg.pause(sender=ondo.admin)
    assert compliance.paused()
    assert adapter.max_redeem() == 0
    with ape.reverts("ousg: paused"):
        seize(market, ondo, large, kyc_liquidator)
    with ape.reverts("ousg: paused"):
        redeem(market, ondo, large, outsider)


def test_ousg_paused__deposits_and_withdrawals__revert_in_ousg(ondo, market, open_position, borrower):
    open_position(10_000 * OUSG, 100_000 * USDC)
    ondo.mint_ousg(borrower, OUSG)
    ondo.ousg.approve(market, OUSG, sender=borrower)
    ondo.ousg.pause(sender=ondo.admin)
    with ape.reverts("ousg: paused"):
        market.supply_collateral(ondo.ousg, OUSG, borrower, sender=borrower)
    with ape.reverts("ousg: paused"):
        market.withdraw_collateral(ondo.ousg, OUSG, borrower, borrower, sender=borrower)


def test_ousg_paused__keeper__skips_token_paused_kyc_or_not(large, ondo, keeper, kyc_keeper):
    outsider_keeper, kyc = keeper(), kyc_keeper()
    ondo.ousg.pause(sender=ondo.admin)
    for k in (outsider_keeper, kyc):
        events = k.block()
        assert the_event(events, "skip", large)["reason"] == SkipReason.TOKEN_PAUSED.value
        assert not [e for e in events if e.get("event") == "simulation reverted; not sending"]
        assert k.skipped("token_paused") == 1
    (decision,) = kyc.decide_as_allowlisted(large)
    assert decision.reason is SkipReason.TOKEN_PAUSED


def test_ousg_unpaused__redeem_route__open_again(large, ondo, market, adapter, outsider):
    ondo.ousg.pause(sender=ondo.admin)
    ondo.ousg.unpause(sender=ondo.admin)
    assert adapter.max_redeem() > 0
    assert redeem(market, ondo, large, outsider).return_value[2] > 0


# ---- the market or the adapter removed from KYC ----


def test_market_removed_from_kyc__seize_and_redeem__revert_in_ousg(
    large, ondo, market, adapter, kyc_liquidator, outsider
):
    remove_kyc(ondo, market)
    assert adapter.max_redeem() > 0
    with ape.reverts("ousg: caller not KYC"):
        seize(market, ondo, large, kyc_liquidator)
    with ape.reverts("ousg: sender not KYC"):
        redeem(market, ondo, large, outsider)


def test_market_removed_from_kyc__keeper__skips_market_not_admitted(large, market, ondo, compliance, keeper):
    k = keeper()
    remove_kyc(ondo, market)
    assert not compliance.is_allowlisted(market)
    events = k.block()
    assert the_event(events, "skip", large)["reason"] == SkipReason.MARKET_NOT_ADMITTED.value
    assert not [e for e in events if e.get("event") == "simulation reverted; not sending"]
    assert k.skipped("market_not_admitted") == 1


def test_adapter_removed_from_kyc__max_redeem_zero__redeem_reverts_seize_open(
    large, ondo, market, adapter, kyc_liquidator, outsider
):
    quoted = adapter.max_redeem()
    remove_kyc(ondo, adapter)
    # The adapter reads its own KYC: off the registry it quotes nothing.
    assert quoted > 0 and adapter.max_redeem() == 0 and adapter.preview_redeem(1_000 * OUSG) == 0
    with ape.reverts("ousg: caller not KYC"):
        redeem(market, ondo, large, outsider)
    repaid, seized, sent = seize(market, ondo, large, kyc_liquidator).return_value
    assert ondo.ousg.balanceOf(kyc_liquidator) == sent > 0


def test_adapter_removed_from_kyc__keeper__facility_dry_or_seize_when_kyc(large, ondo, adapter, keeper, kyc_keeper):
    outsider_keeper, kyc = keeper(), kyc_keeper()
    remove_kyc(ondo, adapter)
    skip = the_event(outsider_keeper.block(), "skip", large)
    assert skip["reason"] == SkipReason.FACILITY_DRY.value
    (decision,) = kyc.decide_as_allowlisted(large)
    assert decision.plan.route is Route.SEIZE
    assert kyc.simulate_seize(decision.plan).ok


def test_adapter_kyc_restored__redeem_route__open_again(large, ondo, market, adapter, outsider):
    remove_kyc(ondo, adapter)
    ondo.kyc(adapter)
    assert redeem(market, ondo, large, outsider).return_value[2] > 0


def test_borrower_sanctioned__still_liquidatable_by_the_redeem_route(large, ondo, market, outsider):
    ondo.registry.set_sanctioned(large, True, sender=ondo.admin)
    assert redeem(market, ondo, large, outsider).return_value[0] == 510_000 * USDC


# ---- Ondo's price old (nothing reverts) ----


def test_price_days_old__withdrawal_refused_as_stale(ondo, market, open_position, borrower, advance):
    open_position(10_000 * OUSG, 100_000 * USDC)
    advance(LISTING.max_oracle_age + 1)
    with ape.reverts("market: stale price"):
        market.withdraw_collateral(ondo.ousg, OUSG, borrower, borrower, sender=borrower)


def test_price_days_old__adapter_still_quotes__keeper_plans_the_redeem_route(large, adapter, advance, keeper):
    k = keeper()
    advance(LISTING.max_oracle_age + 1)
    assert adapter.max_redeem() > 0
    # The manager pays at the old posted price.
    assert adapter.preview_redeem(1_000 * OUSG) == 1_000 * OUSG * DROPPED // 10**30
    (asset,) = k.keeper.reader.market_terms().assets
    assert asset.stale
    plan = the_event(k.block(), "dry run: would liquidate", large)
    assert plan["route"] == Route.REDEEM.value


def test_price_days_old__new_post__borrowing_back(ondo, market, open_position, post_price, borrower, advance):
    open_position(10_000 * OUSG, 100_000 * USDC)
    advance(LISTING.max_oracle_age + 1)
    post_price(DROPPED)
    assert market.asset_price(ondo.ousg) == (DROPPED, False)
    market.borrow(100_000 * USDC, borrower, borrower, sender=borrower)


# ---- the facility paused or dry ----


def test_redemptions_paused__keeper__facility_dry_or_seize_when_kyc(large, ondo, keeper, kyc_keeper):
    outsider_keeper, kyc = keeper(), kyc_keeper()
    ondo.manager.set_redeem_paused(True, sender=ondo.admin)
    skip = the_event(outsider_keeper.block(), "skip", large)
    assert skip["reason"] == SkipReason.FACILITY_DRY.value
    (decision,) = kyc.decide_as_allowlisted(large)
    assert decision.plan.route is Route.SEIZE and kyc.simulate_seize(decision.plan).ok


def test_shared_limit_spent__keeper__partial_redeem_within_what_is_left(
    large, ondo, market, adapter, attacker, keeper
):
    k = keeper()
    ondo.kyc(attacker)
    ondo.mint_ousg(attacker, 17_000 * OUSG)
    ondo.ousg.approve(ondo.manager, MAX_UINT, sender=attacker)
    ondo.manager.redeem(17_000 * OUSG, sender=attacker)
    left = adapter.remaining_limit()
    plan = the_event(k.block(), "dry run: would liquidate", large)
    assert plan["route"] == Route.REDEEM.value and plan["partial_for_liquidity"]
    assert 50_000 * USDC <= plan["proceeds"] <= left


def test_price_at_the_floor__max_redeem_zero__redeem_reverts_seize_open(
    large, ondo, market, adapter, post_price, kyc_liquidator, outsider
):
    price = DROPPED
    while price > adapter.PRICE_FLOOR():
        price = price * 98 // 100
        post_price(price)
    assert adapter.max_redeem() == 0
    with ape.reverts("manager: price below floor"):
        redeem(market, ondo, large, outsider)
    assert seize(market, ondo, large, kyc_liquidator).return_value[2] > 0


# ---- positions under Ondo's $50,000 minimum ----


def test_small_position__keeper__facility_below_minimum_or_seize_when_kyc(small, keeper, kyc_keeper):
    outsider_keeper, kyc = keeper(), kyc_keeper()
    skip = the_event(outsider_keeper.block(), "skip", small)
    assert skip["reason"] == SkipReason.FACILITY_BELOW_MINIMUM.value
    (decision,) = kyc.decide_as_allowlisted(small)
    assert decision.plan.route is Route.SEIZE and kyc.simulate_seize(decision.plan).ok


# ---- OUSG burned from the market ----


def test_ousg_burned_from_market__synced__frozen_and_redeemed_in_real_units(
    large, ondo, market, adapter, outsider
):
    ondo.ousg.admin_burn(market, LARGE[0] // 2, sender=ondo.admin)
    tx = market.sync_asset(ondo.ousg, sender=outsider)
    assert market.AssetFrozen(token=ondo.ousg, frozen=True) in tx.events
    assert market.asset_ratio(ondo.ousg) == WAD // 2
    tx = redeem(market, ondo, large, outsider)
    repaid, seized, payout = tx.return_value
    (redeemed,) = tx.decode_logs(adapter.Redeemed)
    assert redeemed.shares == seized // 2
    assert payout == redeemed.payout > repaid


def test_ousg_burned_from_market__synced__keeper_plans_in_real_units(large, ondo, market, outsider, keeper):
    k = keeper()
    ondo.ousg.admin_burn(market, LARGE[0] // 2, sender=ondo.admin)
    market.sync_asset(ondo.ousg, sender=outsider)
    (asset,) = k.keeper.reader.market_terms().assets
    assert asset.ratio == WAD // 2
    # The real shares left, at Ondo's price, cover the repayment (before
    # the fix in keepers/decide.py the keeper skipped "payout_below_cost").
    plan = the_event(k.block(), "dry run: would liquidate", large)
    assert plan["route"] == Route.REDEEM.value and plan["proceeds"] > plan["repaid"]


@pytest.mark.parametrize(
    "debt, redeemable",
    [(96_000 * USDC, False), (98_000 * USDC, True)],
    ids=["debt_96k_seizure_under_50k", "debt_98k_seizure_over_50k"],
)
def test_ondo_minimum__half_close_plus_bonus_against_50k__decides_the_redeem_route(
    ondo, market, adapter, open_position, price_drop, borrower, debt, redeemable, keeper
):
    """At a health factor above 0.95 the close factor is half: the seizure
    is half the debt plus the 3 % bonus, so the redeem route needs a debt
    of at least $50,000 / 0.515, about $97,100."""
    k = keeper()
    open_position(debt * OUSG // (102 * USDC), debt)
    price_drop()
    health = market.position(borrower).health_factor
    assert 0.95 * 10**18 < health < 10**18
    repay, seize = market.preview_liquidation(borrower, ondo.ousg, MAX_UINT)
    assert repay == debt // 2
    assert (seize >= adapter.min_redeem()) is redeemable
    events = k.block()
    if redeemable:
        assert the_event(events, "dry run: would liquidate", borrower)["route"] == Route.REDEEM.value
    else:
        assert the_event(events, "skip", borrower)["reason"] == SkipReason.FACILITY_BELOW_MINIMUM.value
