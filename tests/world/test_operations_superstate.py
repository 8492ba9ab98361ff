"""The issuer-action runbook (docs/operations.md), Superstate USTB: for
each thing Superstate can do to a market over USTB, what the market does,
what the keeper reports and what the operator does.

The market is ``test_superstate_market``'s (``ss_market``: USTB through
SuperstateNavFeed, SuperstateRedemption over RedemptionIdle and
SuperstateCompliance, zero rates; ``ss_unhealthy``: a borrower made
liquidatable by a NAV drop). ``deployer`` is Superstate; ``liquidator``
is an allowlisted entity, ``outsider`` is not: the keeper signs as the
outsider (only the redeem route open to it) unless a test asks what it
decides as an allowlisted signer."""

import ape
import pytest

from keepers.types import Route, SkipReason
from navlend.constants import PAUSE_BORROW, WAD
from operations_keeper import KeeperUnderTest, the_event
from test_superstate_market import (  # noqa: F401 (fixtures)
    DEBT,
    DROPPED_NAV,
    MAX,
    SHARES,
    USD,
    fund,
    market_owner,
    ss_market,
    ss_position,
    ss_unhealthy,
)

DAY = 86_400
ZERO = "0x" + "00" * 20


@pytest.fixture
def keeper(project, chain, ss_market, outsider, tmp_path):
    """The keeper over the USTB market, signing as ``outsider`` (not
    allowlisted by Superstate)."""
    return lambda: KeeperUnderTest.build(project, chain, ss_market, outsider, tmp_path)


@pytest.fixture
def allowlisted_keeper(project, chain, ss_market, liquidator, stablecoin, deployer, tmp_path):
    """The keeper signing as ``liquidator`` (an allowlisted entity) with
    $100,000 to repay with."""
    stablecoin.mint(liquidator, 100_000 * USD, sender=deployer)
    stablecoin.approve(ss_market, MAX, sender=liquidator)
    return lambda: KeeperUnderTest.build(project, chain, ss_market, liquidator, tmp_path)


def post_collateral(market, ustb, deployer, who):
    """Superstate mints ``who`` SHARES USTB, posted as collateral (no debt)."""
    ustb.token.mint(who, SHARES, sender=deployer)
    ustb.token.approve(market, SHARES, sender=who)
    market.supply_collateral(ustb.token, SHARES, who, sender=who)


def seize(market, ustb, borrower, liquidator, stablecoin, deployer):
    """An allowlisted liquidator's seize-route liquidation of ``borrower``."""
    repay, taken = market.preview_liquidation(borrower, ustb.token, MAX)
    fund(stablecoin, deployer, market, liquidator, repay)
    return market.liquidate(borrower, ustb.token, MAX, 0, False, liquidator, sender=liquidator)


def redeem(market, ustb, borrower, outsider, stablecoin, deployer):
    """A non-allowlisted liquidator's redeem-route liquidation of ``borrower``."""
    repay = market.preview_liquidation(borrower, ustb.token, MAX)[0]
    fund(stablecoin, deployer, market, outsider, repay)
    return market.liquidate(borrower, ustb.token, MAX, 0, True, outsider, sender=outsider)


# ---- a paused token ----


def test_ustb_paused__both_liquidation_routes__revert_in_the_token(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, liquidator, outsider
):
    ustb.token.pause(sender=deployer)
    assert ustb.compliance.paused()
    assert ustb.adapter.max_redeem() == 0 and ustb.adapter.preview_redeem(SHARES) == 0
    with ape.reverts("Pausable: paused"):
        seize(ss_market, ustb, ss_unhealthy, liquidator, stablecoin, deployer)
    with ape.reverts("Pausable: paused"):
        redeem(ss_market, ustb, ss_unhealthy, outsider, stablecoin, deployer)


def test_ustb_paused__deposits_and_withdrawals__revert_in_the_token(
    ss_position, ss_market, ustb, deployer
):
    ustb.token.mint(ss_position, SHARES, sender=deployer)
    ustb.token.approve(ss_market, SHARES, sender=ss_position)
    ustb.token.pause(sender=deployer)
    with ape.reverts("Pausable: paused"):
        ss_market.supply_collateral(ustb.token, SHARES, ss_position, sender=ss_position)
    with ape.reverts("Pausable: paused"):
        ss_market.withdraw_collateral(ustb.token, 1, ss_position, ss_position, sender=ss_position)


def test_ustb_paused__borrowing_against_it__open_until_the_guardian_freezes_the_asset(
    ss_position, ss_market, ustb, deployer, guardian, lender
):
    post_collateral(ss_market, ustb, deployer, lender)
    ustb.token.pause(sender=deployer)
    # Borrowing moves no USTB: the market lends against paused shares ...
    ss_market.borrow(100 * USD, lender, lender, sender=lender)
    # ... until the guardian freezes the asset.
    tx = ss_market.set_asset_frozen(ustb.token, True, sender=guardian)
    assert ss_market.AssetFrozen(token=ustb.token, frozen=True) in tx.events
    with ape.reverts("market: exceeds borrow limit"):
        ss_market.borrow(100 * USD, lender, lender, sender=lender)


def test_ustb_paused__keeper_not_allowlisted__skips_token_paused(ss_unhealthy, ustb, deployer, keeper):
    k = keeper()
    assert not k.keeper.reader.is_paused(ustb.token)
    ustb.token.pause(sender=deployer)
    assert ustb.compliance.paused() and k.keeper.reader.is_paused(ustb.token)
    events = k.block()
    skip = the_event(events, "skip", ss_unhealthy)
    assert skip["reason"] == SkipReason.TOKEN_PAUSED.value
    assert "paused" in skip["detail"]
    assert k.skipped("token_paused") == 1
    assert not [e for e in events if e.get("event") == "simulation reverted; not sending"]


def test_ustb_paused__keeper_allowlisted__skips_token_paused_nothing_simulated(
    ss_unhealthy, ustb, deployer, allowlisted_keeper
):
    k = allowlisted_keeper()
    ustb.token.pause(sender=deployer)
    (decision,) = k.decide_as_allowlisted(ss_unhealthy)
    assert decision.plan is None and decision.reason is SkipReason.TOKEN_PAUSED
    events = k.block()
    assert the_event(events, "skip", ss_unhealthy)["reason"] == SkipReason.TOKEN_PAUSED.value
    assert not [e for e in events if e.get("event") == "simulation reverted; not sending"]


def test_ustb_unpaused__seize_route__open_again(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, liquidator
):
    ustb.token.pause(sender=deployer)
    ustb.token.unpause(sender=deployer)
    assert ustb.adapter.max_redeem() > 0
    tx = seize(ss_market, ustb, ss_unhealthy, liquidator, stablecoin, deployer)
    assert ustb.token.balanceOf(liquidator) == tx.return_value[2] > 0


def test_freeze__guardian_freezes__only_the_owner_unfreezes(ss_market, ustb, guardian, market_owner):
    ss_market.set_asset_frozen(ustb.token, True, sender=guardian)
    assert ss_market.asset_config(ustb.token).frozen
    with ape.reverts("ownable: caller is not the owner"):
        ss_market.set_asset_frozen(ustb.token, False, sender=guardian)
    tx = ss_market.set_asset_frozen(ustb.token, False, sender=market_owner)
    assert ss_market.AssetFrozen(token=ustb.token, frozen=False) in tx.events
    assert not ss_market.asset_config(ustb.token).frozen


def test_freeze__frozen_asset__deposits_refused_repay_and_withdrawal_open(
    ss_position, ss_market, ustb, stablecoin, deployer, guardian
):
    ss_market.set_asset_frozen(ustb.token, True, sender=guardian)
    ustb.token.mint(ss_position, SHARES, sender=deployer)
    ustb.token.approve(ss_market, SHARES, sender=ss_position)
    with ape.reverts("market: asset frozen"):
        ss_market.supply_collateral(ustb.token, SHARES, ss_position, sender=ss_position)
    fund(stablecoin, deployer, ss_market, ss_position, DEBT)
    ss_market.repay(MAX, ss_position, sender=ss_position)
    ss_market.withdraw_collateral(ustb.token, SHARES, ss_position, ss_position, sender=ss_position)
    assert ustb.token.balanceOf(ss_position) == 2 * SHARES


def test_pause_borrow__guardian__every_borrow_reverts_market_paused(ss_position, ss_market, guardian):
    tx = ss_market.pause(PAUSE_BORROW, sender=guardian)
    assert ss_market.Paused(caller=guardian, actions=PAUSE_BORROW) in tx.events
    with ape.reverts("market: paused"):
        ss_market.borrow(1 * USD, ss_position, ss_position, sender=ss_position)


# ---- the market or the adapter removed from the AllowList ----


def test_market_removed_from_allow_list__deposits_withdrawals_seizures__revert_in_the_token(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, liquidator, lender
):
    post_collateral(ss_market, ustb, deployer, lender)
    ustb.token.mint(ss_unhealthy, SHARES, sender=deployer)
    ustb.token.approve(ss_market, SHARES, sender=ss_unhealthy)
    ustb.allow_list.setProtocolAddressPermission(ss_market, "USTB", False, sender=deployer)
    assert not ustb.compliance.is_allowlisted(ss_market)
    with ape.reverts("InsufficientPermissions"):
        ss_market.supply_collateral(ustb.token, SHARES, ss_unhealthy, sender=ss_unhealthy)
    with ape.reverts("InsufficientPermissions"):
        ss_market.withdraw_collateral(ustb.token, SHARES, lender, lender, sender=lender)
    with ape.reverts("InsufficientPermissions"):
        seize(ss_market, ustb, ss_unhealthy, liquidator, stablecoin, deployer)


def test_market_removed_from_allow_list__adapter_still_quotes__redeem_route_reverts_in_the_token(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, outsider
):
    ustb.allow_list.setProtocolAddressPermission(ss_market, "USTB", False, sender=deployer)
    # The adapter checks its own permission, not the market's.
    assert ustb.adapter.max_redeem() > 0
    with ape.reverts("InsufficientPermissions"):
        redeem(ss_market, ustb, ss_unhealthy, outsider, stablecoin, deployer)


def test_market_removed_from_allow_list__keeper__skips_market_not_admitted(
    ss_unhealthy, ss_market, ustb, chain, deployer, keeper
):
    k = keeper()
    ustb.allow_list.setProtocolAddressPermission(ss_market, "USTB", False, sender=deployer)
    assert not ustb.compliance.is_allowlisted(ss_market) and not k.keeper.reader.market_admitted(ustb.token)
    events = k.block()
    skip = the_event(events, "skip", ss_unhealthy)
    assert skip["reason"] == SkipReason.MARKET_NOT_ADMITTED.value
    assert not [e for e in events if e.get("event") == "simulation reverted; not sending"]
    assert k.skipped("market_not_admitted") == 1
    # Every block says the same, and nothing is simulated or sent.
    chain.mine(1)
    assert the_event(k.block(), "skip", ss_unhealthy)["reason"] == SkipReason.MARKET_NOT_ADMITTED.value
    assert k.skipped("market_not_admitted") == 2


def test_market_readmitted__keeper__plans_the_redeem_route_again(
    ss_unhealthy, ss_market, ustb, deployer, keeper
):
    k = keeper()
    ustb.allow_list.setProtocolAddressPermission(ss_market, "USTB", False, sender=deployer)
    ustb.allow_list.setProtocolAddressPermission(ss_market, "USTB", True, sender=deployer)
    assert k.keeper.reader.market_admitted(ustb.token)
    would = the_event(k.block(), "dry run: would liquidate", ss_unhealthy)
    assert would["route"] == Route.REDEEM.value


def test_market_readmitted__liquidation__open_again(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, outsider
):
    ustb.allow_list.setProtocolAddressPermission(ss_market, "USTB", False, sender=deployer)
    ustb.admit(deployer, ss_market)
    tx = redeem(ss_market, ustb, ss_unhealthy, outsider, stablecoin, deployer)
    assert stablecoin.balanceOf(outsider) == tx.return_value[2] > 0


def test_adapter_removed_from_allow_list__max_redeem_zero__redeem_reverts_seize_open(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, liquidator, outsider
):
    ustb.allow_list.setProtocolAddressPermission(ustb.adapter, "USTB", False, sender=deployer)
    assert ustb.adapter.max_redeem() == 0 and ustb.adapter.preview_redeem(SHARES) == 0
    with ape.reverts("InsufficientPermissions"):
        redeem(ss_market, ustb, ss_unhealthy, outsider, stablecoin, deployer)
    tx = seize(ss_market, ustb, ss_unhealthy, liquidator, stablecoin, deployer)
    assert ustb.token.balanceOf(liquidator) == tx.return_value[2] > 0


def test_adapter_removed_from_allow_list__keeper__facility_dry_or_seize_when_allowlisted(
    ss_unhealthy, ustb, deployer, keeper, allowlisted_keeper
):
    outsider_keeper, allowed_keeper = keeper(), allowlisted_keeper()
    ustb.allow_list.setProtocolAddressPermission(ustb.adapter, "USTB", False, sender=deployer)
    skip = the_event(outsider_keeper.block(), "skip", ss_unhealthy)
    assert skip["reason"] == SkipReason.FACILITY_DRY.value
    (decision,) = allowed_keeper.decide_as_allowlisted(ss_unhealthy)
    assert decision.plan.route is Route.SEIZE
    assert allowed_keeper.simulate_seize(decision.plan).ok


def test_borrower_removed_from_allow_list__still_liquidatable(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, outsider
):
    ustb.allow_list.setEntityIdForAddress(0, ss_unhealthy, sender=deployer)
    tx = redeem(ss_market, ustb, ss_unhealthy, outsider, stablecoin, deployer)
    assert tx.return_value[0] > 0


def test_borrower_removed_from_allow_list__withdrawal_refused(ss_position, ss_market, ustb, deployer):
    ustb.allow_list.setEntityIdForAddress(0, ss_position, sender=deployer)
    with ape.reverts("market: owner not compliant"):
        ss_market.withdraw_collateral(ustb.token, 1, ss_position, ss_position, sender=ss_position)


# ---- Superstate's oracle expired (five days without a checkpoint) ----


def expire_oracle(advance):
    """Five days and an hour without a checkpoint."""
    advance(5 * DAY + 3_600)


def test_oracle_expired__withdrawal_refused_as_stale(ss_position, ss_market, ustb, advance):
    expire_oracle(advance)
    assert ss_market.asset_price(ustb.token)[1]
    with ape.reverts("market: stale price"):
        ss_market.withdraw_collateral(ustb.token, 1, ss_position, ss_position, sender=ss_position)


def test_oracle_expired__keeper__facility_dry_nav_stale_or_seize_when_allowlisted(
    ss_unhealthy, advance, keeper, allowlisted_keeper
):
    outsider_keeper, allowed_keeper = keeper(), allowlisted_keeper()
    expire_oracle(advance)
    skip = the_event(outsider_keeper.block(), "skip", ss_unhealthy)
    assert skip["reason"] == SkipReason.FACILITY_DRY.value and "NAV stale" in skip["detail"]
    (decision,) = allowed_keeper.decide_as_allowlisted(ss_unhealthy)
    assert decision.plan.route is Route.SEIZE
    assert allowed_keeper.simulate_seize(decision.plan).ok


def test_oracle_expired__new_checkpoint__borrowing_and_redeem_route_back(
    ss_position, ss_market, ustb, chain, deployer, advance
):
    expire_oracle(advance)
    assert ustb.adapter.max_redeem() == 0
    ustb.add_checkpoint(chain, deployer, ustb.NAV, struck_ago=600)
    assert ss_market.asset_price(ustb.token) == (ustb.NAV, False)
    assert ustb.adapter.max_redeem() > 0
    ss_market.withdraw_collateral(ustb.token, 1, ss_position, ss_position, sender=ss_position)


# ---- the facility paused or dry ----


def test_redemption_paused__max_redeem_zero__redeem_reverts_seize_open(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, liquidator, outsider
):
    ustb.redemption.pause(sender=deployer)
    assert ustb.adapter.max_redeem() == 0
    with ape.reverts("Pausable: paused"):
        redeem(ss_market, ustb, ss_unhealthy, outsider, stablecoin, deployer)
    assert seize(ss_market, ustb, ss_unhealthy, liquidator, stablecoin, deployer).return_value[2] > 0


def test_redemption_dry__max_redeem_zero__redeem_reverts_insufficient_balance(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, outsider
):
    ustb.redemption.withdraw(stablecoin, deployer, ustb.LIQUIDITY, sender=deployer)
    assert ustb.adapter.max_redeem() == 0
    with ape.reverts("InsufficientBalance"):
        redeem(ss_market, ustb, ss_unhealthy, outsider, stablecoin, deployer)


def test_redemption_dry__keeper__facility_dry_with_the_liquidity_or_seize_when_allowlisted(
    ss_unhealthy, ustb, stablecoin, deployer, keeper, allowlisted_keeper
):
    outsider_keeper, allowed_keeper = keeper(), allowlisted_keeper()
    ustb.redemption.withdraw(stablecoin, deployer, ustb.LIQUIDITY, sender=deployer)
    skip = the_event(outsider_keeper.block(), "skip", ss_unhealthy)
    assert skip["reason"] == SkipReason.FACILITY_DRY.value and "liquidity 0" in skip["detail"]
    (decision,) = allowed_keeper.decide_as_allowlisted(ss_unhealthy)
    assert decision.plan.route is Route.SEIZE


def test_redemption_partly_dry__keeper__partial_redeem_within_the_liquidity(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, keeper
):
    k = keeper()
    repay = ss_market.preview_liquidation(ss_unhealthy, ustb.token, MAX)[0]
    ustb.redemption.withdraw(stablecoin, deployer, ustb.LIQUIDITY - repay // 2, sender=deployer)
    plan = the_event(k.block(), "dry run: would liquidate", ss_unhealthy)
    assert plan["route"] == Route.REDEEM.value and plan["partial_for_liquidity"]
    assert 0 < plan["proceeds"] <= repay // 2


def test_redemption_unpaused__keeper__plans_the_whole_redeem_route_again(ss_unhealthy, ustb, deployer, keeper):
    k = keeper()
    ustb.redemption.pause(sender=deployer)
    ustb.redemption.unpause(sender=deployer)
    plan = the_event(k.block(), "dry run: would liquidate", ss_unhealthy)
    assert plan["route"] == Route.REDEEM.value and not plan["partial_for_liquidity"]


def test_facility_unset__owner__redeem_route_refused_keeper_no_facility(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, outsider, market_owner, keeper
):
    tx = ss_market.set_asset_facility(ustb.token, ZERO, sender=market_owner)
    assert ss_market.AssetFacilitySet(token=ustb.token, facility=ZERO) in tx.events
    with ape.reverts("market: no facility"):
        redeem(ss_market, ustb, ss_unhealthy, outsider, stablecoin, deployer)
    skip = the_event(keeper().block(), "skip", ss_unhealthy)
    assert skip["reason"] == SkipReason.NO_FACILITY.value


def test_a_day_after_a_drop__keeper__payout_below_cost(ss_unhealthy, advance, keeper):
    """Superstate pays at its projection (test_superstate_market): the
    keeper sees the payout under the repayment and skips."""
    k = keeper()
    advance(DAY)
    skip = the_event(k.block(), "skip", ss_unhealthy)
    assert skip["reason"] == SkipReason.PAYOUT_BELOW_COST.value


# ---- shares burned from the market (adminBurn) ----


def test_admin_burn__before_any_sync__books_unchanged(ss_position, ss_market, ustb, deployer):
    ustb.token.adminBurn(ss_market, SHARES // 2, sender=deployer)
    assert ss_market.asset_ratio(ustb.token) == WAD
    assert not ss_market.asset_config(ustb.token).frozen
    assert ustb.token.balanceOf(ss_market) == SHARES // 2


def test_admin_burn__synced__asset_frozen_and_the_owner_cannot_unfreeze(
    ss_position, ss_market, ustb, deployer, outsider, market_owner
):
    ustb.token.adminBurn(ss_market, SHARES // 2, sender=deployer)
    tx = ss_market.sync_asset(ustb.token, sender=outsider)
    assert ss_market.AssetFrozen(token=ustb.token, frozen=True) in tx.events
    assert ss_market.asset_ratio(ustb.token) == WAD // 2
    with ape.reverts("market: asset short"):
        ss_market.set_asset_frozen(ustb.token, False, sender=market_owner)


def test_admin_burn__synced__keeper_plans_in_real_units(
    ss_unhealthy, ss_market, ustb, deployer, outsider, keeper, allowlisted_keeper
):
    outsider_keeper, allowed_keeper = keeper(), allowlisted_keeper()
    ustb.token.adminBurn(ss_market, SHARES // 2, sender=deployer)
    ss_market.sync_asset(ustb.token, sender=outsider)
    (asset,) = outsider_keeper.keeper.reader.market_terms().assets
    assert asset.ratio == WAD // 2
    plan = the_event(outsider_keeper.block(), "dry run: would liquidate", ss_unhealthy)
    assert plan["route"] == Route.REDEEM.value
    # Allowlisted too, the redeem route pays best; it sends the real units.
    (decision,) = allowed_keeper.decide_as_allowlisted(ss_unhealthy)
    assert decision.plan.route is Route.REDEEM
    assert decision.plan.sent == asset.real(decision.plan.taken) < decision.plan.taken


def test_admin_burn__shares_given_back__sync_clears_then_the_owner_unfreezes(
    ss_position, ss_market, ustb, deployer, outsider, market_owner
):
    ustb.token.adminBurn(ss_market, SHARES // 2, sender=deployer)
    ss_market.sync_asset(ustb.token, sender=outsider)
    ustb.token.mint(ss_market, SHARES // 2, sender=deployer)
    tx = ss_market.sync_asset(ustb.token, sender=outsider)
    assert ss_market.AssetSynced(token=ustb.token, booked=SHARES, balance=SHARES, ratio=WAD) in tx.events
    ss_market.set_asset_frozen(ustb.token, False, sender=market_owner)
    assert not ss_market.asset_config(ustb.token).frozen
