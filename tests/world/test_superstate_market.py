"""End to end: a navlend market lending USDC against USTB, all of it
Superstate doubles, wired through navlend's Superstate adapters:

- the price: ``SuperstateNavFeed`` (the struck NAV at its strike time);
- the redeem route: ``SuperstateRedemption`` over RedemptionIdle;
- compliance: ``SuperstateCompliance`` over the token's AllowList.

The issuer (``deployer``) admits the market and the adapter with protocol
permissions and the investors as entities; ``market_owner`` owns the
market. A NAV drop struck a day later makes the borrower liquidatable;
then each liquidation path is tried, by allowlisted and non-allowlisted
liquidators, and with the issuer's oracle stale. Rates are zero, so no
interest accrues between a preview and the liquidation.
"""

import ape
import pytest

from keepers.chain import ChainReader
from navlend.market import deploy_market, list_asset

USD = 10**6
DAY = 86_400
MAX = 2**256 - 1
SHARES = 1_000 * 10**6  # 1,000 USTB posted, about $10,450
DEBT = 8_800 * USD  # about 84 % of it
LENT = 100_000 * USD
DROPPED_NAV = 9_700_000  # -7.2 %: health factor about 0.99 (not 0.95)


@pytest.fixture(scope="session")
def market_owner(accounts):
    """Owns the Superstate market (not the issuer)."""
    return accounts[14]


@pytest.fixture(scope="session")
def ss_market(ustb, stablecoin, market_owner, guardian, treasury, deployer):
    """The market over USTB, admitted by the issuer, its facility and
    compliance source set, at zero rates."""
    market = deploy_market(market_owner, stablecoin, guardian=guardian, treasury=treasury)
    # The issuer admits the market once it exists (the permission needs code).
    ustb.admit(deployer, market)
    list_asset(market, market_owner, ustb.token, ustb.feed)
    market.set_asset_facility(ustb.token, ustb.adapter, sender=market_owner)
    market.set_asset_compliance(ustb.token, ustb.compliance, sender=market_owner)
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=market_owner)
    return market


@pytest.fixture
def ss_position(ss_market, ustb, stablecoin, deployer, lender, borrower):
    """``lender`` supplies LENT; ``borrower`` posts SHARES and borrows DEBT."""
    stablecoin.mint(lender, LENT, sender=deployer)
    stablecoin.approve(ss_market, LENT, sender=lender)
    ss_market.deposit(LENT, lender, sender=lender)
    ustb.token.mint(borrower, SHARES, sender=deployer)
    ustb.token.approve(ss_market, SHARES, sender=borrower)
    ss_market.supply_collateral(ustb.token, SHARES, borrower, sender=borrower)
    ss_market.borrow(DEBT, borrower, borrower, sender=borrower)
    return borrower


@pytest.fixture
def ss_unhealthy(ss_position, ss_market, ustb, chain, deployer, advance):
    """The next day's strike drops the NAV to DROPPED_NAV (a new
    checkpoint, in effect at once): the borrower is liquidatable."""
    advance(DAY - 3_600)
    ustb.add_checkpoint(chain, deployer, DROPPED_NAV, struck_ago=600)
    assert ss_market.asset_price(ustb.token) == (DROPPED_NAV, False)
    health = ss_market.position(ss_position).health_factor
    assert 0.95 * 10**18 < health < 10**18
    return ss_position


def fund(stablecoin, deployer, market, who, amount):
    """Mints ``amount`` USDC to ``who`` and approves the market."""
    stablecoin.mint(who, amount, sender=deployer)
    stablecoin.approve(market, amount, sender=who)


def a_block_later(preview: int) -> int:
    """The least a redemption previewed a block earlier pays: Superstate
    pays at its oracle's projection, which after the drop falls about
    $0.75 a share a day, well within 0.01 % between two blocks."""
    return preview * 9_999 // 10_000


# ---- wiring ----


def test_wiring__feed_facility_and_compliance_accepted(ss_market, ustb):
    assert ss_market.asset_config(ustb.token).facility == ustb.adapter.address
    assert ss_market.asset_compliance(ustb.token) == ustb.compliance.address
    assert ss_market.asset_price(ustb.token) == (ustb.NAV, False)
    assert ustb.token.allowance(ss_market, ustb.adapter) == MAX


def test_set_asset_compliance__the_token_itself__refused(ss_market, ustb, market_owner):
    """The token answers no `is_allowlisted` / `is_frozen`: the market
    needs the adapter."""
    with ape.reverts("market: bad compliance source"):
        ss_market.set_asset_compliance(ustb.token, ustb.token, sender=market_owner)


def test_borrow__borrower_removed_from_allow_list__refused(ss_position, ss_market, ustb, deployer):
    ustb.allow_list.setEntityIdForAddress(0, ss_position, sender=deployer)
    with ape.reverts("market: owner not compliant"):
        ss_market.borrow(10 * USD, ss_position, ss_position, sender=ss_position)


# ---- (a) the redeem route, by a liquidator nobody allowlisted ----


def test_liquidate__redeem_route_by_outsider__paid_in_usdc(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, outsider
):
    assert not ustb.compliance.is_allowlisted(outsider)
    repay, seize = ss_market.preview_liquidation(ss_unhealthy, ustb.token, MAX)
    expected = a_block_later(ustb.adapter.preview_redeem(seize))
    assert expected > repay > 0
    fund(stablecoin, deployer, ss_market, outsider, repay)
    tx = ss_market.liquidate(
        ss_unhealthy, ustb.token, MAX, expected, True, outsider, sender=outsider
    )
    repaid, seized, payout = tx.return_value
    assert (repaid, seized) == (repay, seize)
    assert payout >= expected
    (liquidated,) = tx.decode_logs(ss_market.Liquidate)
    (redeemed,) = tx.decode_logs(ustb.adapter.Redeemed)
    assert (liquidated.liquidator, liquidated.receiver, liquidated.payout) == (
        outsider.address,
        outsider.address,
        payout,
    )
    assert (redeemed.caller, redeemed.receiver) == (ss_market.address, outsider.address)
    assert (redeemed.shares, redeemed.payout) == (seized, payout)
    # The outsider paid the repayment and got the payout; the shares burned.
    assert stablecoin.balanceOf(outsider) == payout
    assert ustb.token.balanceOf(ss_market) == SHARES - seized
    assert ustb.token.totalSupply() == SHARES - seized
    assert ss_market.debt_of(ss_unhealthy) == DEBT - repaid


def test_liquidate__redeem_route_below_min_out__reverts(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, outsider
):
    repay = ss_market.preview_liquidation(ss_unhealthy, ustb.token, MAX)[0]
    fund(stablecoin, deployer, ss_market, outsider, repay)
    with ape.reverts("adapter: slippage"):
        ss_market.liquidate(
            ss_unhealthy, ustb.token, MAX, 2 * repay, True, outsider, sender=outsider
        )


# ---- (b) the seize route: the token decides ----


def test_liquidate__seize_route_by_outsider__reverts_in_the_token(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, outsider
):
    repay = ss_market.preview_liquidation(ss_unhealthy, ustb.token, MAX)[0]
    fund(stablecoin, deployer, ss_market, outsider, repay)
    with ape.reverts("InsufficientPermissions"):
        ss_market.liquidate(ss_unhealthy, ustb.token, MAX, 0, False, outsider, sender=outsider)


def test_liquidate__seize_route_by_allowlisted_liquidator__gets_the_shares(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, liquidator
):
    repay, seize = ss_market.preview_liquidation(ss_unhealthy, ustb.token, MAX)
    fund(stablecoin, deployer, ss_market, liquidator, repay)
    tx = ss_market.liquidate(
        ss_unhealthy, ustb.token, MAX, seize, False, liquidator, sender=liquidator
    )
    assert tx.return_value == (repay, seize, seize)
    assert ustb.token.balanceOf(liquidator) == seize
    assert stablecoin.balanceOf(liquidator) == 0
    (liquidated,) = tx.decode_logs(ss_market.Liquidate)
    assert (liquidated.receiver, liquidated.seized) == (liquidator.address, seize)


# ---- (c) the FlashLiquidator: no capital, no allowlisting ----


def test_flash_liquidator__capitalless_outsider__profit_in_one_tx(
    ss_unhealthy, ss_market, ustb, stablecoin, project, outsider
):
    flash = outsider.deploy(project.FlashLiquidator, ss_market)
    assert stablecoin.balanceOf(outsider) == 0
    repay, seize = ss_market.preview_liquidation(ss_unhealthy, ustb.token, MAX)
    payout = ustb.adapter.preview_redeem(seize)
    fee = ss_market.flashFee(stablecoin, repay)
    tx = flash.liquidate(ss_unhealthy, ustb.token, MAX, 1, sender=outsider)
    (done,) = tx.decode_logs(flash.Liquidated)
    assert (done.repaid, done.seized, done.flash_fee) == (repay, seize, fee)
    assert a_block_later(payout) <= done.payout <= payout
    assert done.profit == done.payout - repay - fee > 0
    assert stablecoin.balanceOf(outsider) == done.profit
    assert stablecoin.balanceOf(flash) == 0
    assert ss_market.debt_of(ss_unhealthy) == DEBT - repay


# ---- (d) the issuer's oracle stale: borrowing shut, liquidation open ----


def test_stale_oracle__borrowing_refused__seize_liquidation_open(
    ss_unhealthy, ss_market, ustb, stablecoin, deployer, lender, liquidator, advance
):
    # Another investor borrows while the NAV is fresh ...
    ustb.token.mint(lender, SHARES, sender=deployer)
    ustb.token.approve(ss_market, SHARES, sender=lender)
    ss_market.supply_collateral(ustb.token, SHARES, lender, sender=lender)
    ss_market.borrow(1_000 * USD, lender, lender, sender=lender)
    # ... five days without a checkpoint: Superstate's oracle reverts, the
    # feed still answers the struck NAV, flagged stale by the market.
    advance(5 * DAY + 3_600)
    with ape.reverts("StaleCheckpoint"):
        ustb.oracle.latestRoundData()
    assert ustb.feed.latestRoundData()[1] == DROPPED_NAV
    assert ss_market.asset_price(ustb.token) == (DROPPED_NAV, True)
    with ape.reverts("market: exceeds borrow limit"):
        ss_market.borrow(1_000 * USD, lender, lender, sender=lender)
    # The redeem route is shut with the issuer's oracle (Superstate cannot
    # price), and the adapter says so without reverting ...
    assert ustb.adapter.preview_redeem(SHARES) == 0 and ustb.adapter.max_redeem() == 0
    repay, seize = ss_market.preview_liquidation(ss_unhealthy, ustb.token, MAX)
    fund(stablecoin, deployer, ss_market, liquidator, 2 * repay)
    with ape.reverts("StaleCheckpoint"):
        ss_market.liquidate(ss_unhealthy, ustb.token, MAX, 0, True, liquidator, sender=liquidator)
    # ... the seize route stays open to an allowlisted liquidator.
    tx = ss_market.liquidate(
        ss_unhealthy, ustb.token, MAX, seize, False, liquidator, sender=liquidator
    )
    assert tx.return_value == (repay, seize, seize)
    assert ustb.token.balanceOf(liquidator) == seize


# ---- what the redeem route is paid at ----


def test_redeem_route__a_day_after_a_drop__paid_at_superstates_projection(
    ss_unhealthy, ss_market, ustb, advance
):
    """The market values the seized shares at the struck NAV (the feed),
    but Superstate's Redemption pays at its oracle's projection, which
    carries the drop forward as a slope: a day later, with no new
    checkpoint, the payout no longer covers the repayment, so the redeem
    route (and the FlashLiquidator) stop being worth it while the seize
    route is unchanged."""
    repay, seize = ss_market.preview_liquidation(ss_unhealthy, ustb.token, MAX)
    assert ustb.adapter.preview_redeem(seize) > repay
    advance(DAY)
    assert ss_market.asset_price(ustb.token) == (DROPPED_NAV, False)
    assert ss_market.preview_liquidation(ss_unhealthy, ustb.token, MAX) == (repay, seize)
    projected = ustb.oracle.latestRoundData()[1]
    assert projected < DROPPED_NAV - (ustb.NAV - DROPPED_NAV) * 9 // 10
    assert ustb.adapter.preview_redeem(seize) < repay


# ---- what the keeper reads of the Superstate facility ----


def test_keeper_terms__superstate_facility__liquidity_price_and_capacity(
    ss_unhealthy, ss_market, ustb, chain
):
    """The keeper's chain reader over the market: the adapter as the
    facility, Superstate's Redemption contract as the cash holder (its
    `facility()`), no minimum, and 0 capacity once Superstate cannot price."""
    reader = ChainReader(
        chain.provider.web3,
        ss_market.address,
        ss_market.address,  # the lens is not read for the terms
        decode_logs=lambda raw: [],
        event_topics=[],
    )
    (terms,) = reader.market_terms().assets
    assert terms.facility == ustb.adapter.address
    assert terms.facility_liquidity == terms.facility_remaining_limit == ustb.LIQUIDITY
    assert terms.facility_min_redeem == 0
    assert terms.facility_max_redeem == ustb.adapter.max_redeem() > 0
    # Superstate's price per share before the fee, within a cent of the NAV.
    assert abs(terms.redeem_price - DROPPED_NAV) < 10_000
    chain.mine(1, timestamp=chain.blocks.head.timestamp + 5 * DAY + 3_600)
    (stale,) = reader.market_terms().assets
    assert stale.stale and stale.facility_max_redeem == 0 and stale.redeem_price == 0


# ---- Superstate's lever instead of a freeze: adminBurn ----


def test_admin_burn__of_the_markets_shares__synced_then_redeemed_in_real_units(
    ss_position, ss_market, ustb, stablecoin, deployer, outsider
):
    """The issuer burns half of what the market holds; anyone syncs the
    asset (the loss is booked and the asset frozen); the borrower, now
    worth half, is liquidated through the redeem route on what is left."""
    ustb.token.adminBurn(ss_market, SHARES // 2, sender=deployer)
    tx = ss_market.sync_asset(ustb.token, sender=outsider)
    (synced,) = tx.decode_logs(ss_market.AssetSynced)
    assert (synced.booked, synced.balance, synced.ratio) == (SHARES, SHARES // 2, 10**18 // 2)
    assert ss_market.position(ss_position).health_factor < 0.95 * 10**18
    repay, seize = ss_market.preview_liquidation(ss_position, ustb.token, MAX)
    fund(stablecoin, deployer, ss_market, outsider, repay)
    tx = ss_market.liquidate(ss_position, ustb.token, MAX, 0, True, outsider, sender=outsider)
    (redeemed,) = tx.decode_logs(ustb.adapter.Redeemed)
    # The booked units seized are worth half as many real shares.
    assert redeemed.shares == seize // 2
    assert stablecoin.balanceOf(outsider) == redeemed.payout
    assert ustb.token.balanceOf(ss_market) == SHARES // 2 - redeemed.shares
