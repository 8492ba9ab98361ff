"""End to end: a navlend market lending USDC against OUSG (the Ondo
doubles), priced by OndoNavFeed (18-decimal token, 18-decimal oracle,
6-decimal base: a scale of 10**30), redeemed through OndoRedemption and
checked by OndoCompliance. Ondo (its own account) KYCs the borrower, the
market and the adapter; nobody else.

- a large position's redeem route: a liquidator Ondo never KYC'd, with no
  USDC of its own, is paid in USDC (the BUIDL path of the manager);
- a small position's redeem route: the manager refuses the seized shares
  (under its $50,000 minimum); the seize route works for a KYC'd
  liquidator and reverts in OUSG for one who is not;
- the FlashLiquidator liquidates a large position with no capital."""

import ape
import pytest

from navlend.market import AssetListing, deploy_market, list_asset

USDC = 10**6
OUSG = 10**18
MAX_UINT = 2**256 - 1
# The Ondo world's starting price (tests/world/conftest.py), and the same
# after Ondo's largest move (-2 %).
OUSG_PRICE = 115 * 10**18
DROPPED = OUSG_PRICE * 98 // 100
# OUSG at LTV 89 %, threshold 90 %, bonus 3 %: one -2 % post makes a loan
# near the LTV liquidatable.
LISTING = AssetListing(ltv_bps=8_900, threshold_bps=9_000, bonus_bps=300)
LENT = 3_000_000 * USDC


def _value(shares: int, price: int) -> int:
    return shares * price // 10**30


@pytest.fixture
def ousg_market(project, ondo, deployer, guardian, treasury, lender):
    """(market, feed, adapter, compliance): OUSG listed, the market and the
    adapter KYC'd by Ondo, a flat 0 % curve, ``LENT`` USDC supplied."""
    market = deploy_market(deployer, ondo.usdc, guardian=guardian, treasury=treasury)
    feed = deployer.deploy(project.OndoNavFeed, ondo.oracle, "OUSG / USD")
    adapter = deployer.deploy(project.OndoRedemption, ondo.manager)
    compliance = deployer.deploy(project.OndoCompliance, ondo.ousg)
    ondo.kyc(market, adapter)
    list_asset(market, deployer, ondo.ousg, feed, LISTING)
    # OUSG has no compliance views of its own: listing leaves it without a
    # source, and the adapter is accepted as one.
    assert market.asset_compliance(ondo.ousg) == "0x" + "00" * 20
    market.set_asset_compliance(ondo.ousg, compliance, sender=deployer)
    market.set_asset_facility(ondo.ousg, adapter, sender=deployer)
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=deployer)
    ondo.usdc.mint(lender, LENT, sender=lender)
    ondo.usdc.approve(market, LENT, sender=lender)
    market.deposit(LENT, lender, sender=lender)
    return market, feed, adapter, compliance


@pytest.fixture
def open_position(ondo, ousg_market, borrower):
    """``open_position(shares, debt)``: Ondo KYCs and mints ``borrower``
    ``shares`` OUSG, posted as collateral, and ``borrower`` borrows ``debt``."""
    market = ousg_market[0]

    def go(shares: int, debt: int):
        ondo.kyc(borrower)
        ondo.mint_ousg(borrower, shares)
        ondo.ousg.approve(market, shares, sender=borrower)
        market.supply_collateral(ondo.ousg, shares, borrower, sender=borrower)
        return market.borrow(debt, borrower, borrower, sender=borrower)

    return go


@pytest.fixture
def price_drop(post_price):
    """Ondo posts the largest drop it may (-2 %), 23 hours later."""

    def go():
        return post_price(DROPPED)

    return go


def test_borrow__against_ousg__priced_at_the_posted_price(ondo, ousg_market, open_position, borrower):
    market, feed, adapter, compliance = ousg_market
    open_position(10_000 * OUSG, 1_000_000 * USDC)
    assert market.asset_price(ondo.ousg)[0] == OUSG_PRICE
    assert market.position(borrower).borrow_value == _value(10_000 * OUSG, OUSG_PRICE) * 8_900 // 10_000
    assert ondo.usdc.balanceOf(borrower) == 1_000_000 * USDC


def test_borrow__borrower_removed_from_kyc__refused_by_the_compliance_source(
    ondo, ousg_market, open_position, borrower
):
    market = ousg_market[0]
    open_position(10_000 * OUSG, 100_000 * USDC)
    ondo.registry.set_sanctioned(borrower, True, sender=ondo.admin)
    with ape.reverts("market: owner not compliant"):
        market.borrow(100_000 * USDC, borrower, borrower, sender=borrower)


def test_liquidate__redeem_route_large_position__liquidator_without_kyc_or_cash_paid_in_usdc(
    ondo, ousg_market, open_position, price_drop, borrower, liquidator
):
    market, feed, adapter, compliance = ousg_market
    open_position(10_000 * OUSG, 1_020_000 * USDC)
    with ape.reverts("market: position healthy"):
        market.liquidate(borrower, ondo.ousg, MAX_UINT, 0, True, liquidator, sender=liquidator)
    price_drop()
    assert not compliance.is_allowlisted(liquidator) and ondo.usdc.balanceOf(liquidator) == 0
    repay, seize = market.preview_liquidation(borrower, ondo.ousg, MAX_UINT)
    assert repay == 510_000 * USDC  # the 50 % close factor
    expected = adapter.preview_redeem(seize)
    assert _value(seize, DROPPED) >= 250_000 * USDC  # the manager's BUIDL path
    assert expected == _value(seize, DROPPED) > repay
    ondo.usdc.approve(market, MAX_UINT, sender=liquidator)
    supply = ondo.ousg.totalSupply()
    tx = market.liquidate(borrower, ondo.ousg, MAX_UINT, expected, True, liquidator, sender=liquidator)
    assert tx.return_value == (repay, seize, expected)
    assert market.Liquidate(
        liquidator=liquidator, borrower=borrower, token=ondo.ousg, receiver=liquidator,
        repaid=repay, seized=seize, payout=expected,
    ) in tx.events
    assert adapter.Redeemed(caller=market, receiver=liquidator, shares=seize, payout=expected) in tx.events
    assert ondo.manager.BuidlRedemption(amount=expected) in tx.events
    # Funded by the payout itself: the liquidator keeps the bonus.
    assert ondo.usdc.balanceOf(liquidator) == expected - repay
    assert ondo.ousg.totalSupply() == supply - seize  # burnt by Ondo
    assert ondo.ousg.balanceOf(market) == 10_000 * OUSG - seize


def test_liquidate__redeem_route_small_position__refused_under_the_managers_minimum(
    ondo, ousg_market, open_position, price_drop, borrower, liquidator
):
    market, feed, adapter, compliance = ousg_market
    open_position(500 * OUSG, 51_000 * USDC)
    price_drop()
    repay, seize = market.preview_liquidation(borrower, ondo.ousg, MAX_UINT)
    assert repay == 25_500 * USDC and _value(seize, DROPPED) < 50_000 * USDC
    assert seize < adapter.min_redeem() and adapter.preview_redeem(seize) == 0
    ondo.usdc.mint(liquidator, 100_000 * USDC, sender=liquidator)
    ondo.usdc.approve(market, MAX_UINT, sender=liquidator)
    with ape.reverts("manager: below minimum"):
        market.liquidate(borrower, ondo.ousg, MAX_UINT, 0, True, liquidator, sender=liquidator)


def test_liquidate__seize_route_small_position__kyc_liquidator_gets_ousg(
    ondo, ousg_market, open_position, price_drop, borrower, liquidator
):
    market = ousg_market[0]
    open_position(500 * OUSG, 51_000 * USDC)
    price_drop()
    ondo.kyc(liquidator)
    ondo.usdc.mint(liquidator, 100_000 * USDC, sender=liquidator)
    ondo.usdc.approve(market, MAX_UINT, sender=liquidator)
    repay, seize = market.preview_liquidation(borrower, ondo.ousg, MAX_UINT)
    tx = market.liquidate(borrower, ondo.ousg, MAX_UINT, seize, False, liquidator, sender=liquidator)
    assert tx.return_value == (repay, seize, seize)
    assert market.Liquidate(liquidator=liquidator, borrower=borrower, repaid=repay, seized=seize) in tx.events
    assert ondo.ousg.balanceOf(liquidator) == seize
    assert ondo.usdc.balanceOf(liquidator) == 100_000 * USDC - repay


def test_liquidate__seize_route_liquidator_without_kyc__reverts_in_ousg(
    ondo, ousg_market, open_position, price_drop, borrower, outsider
):
    market = ousg_market[0]
    open_position(500 * OUSG, 51_000 * USDC)
    price_drop()
    ondo.usdc.mint(outsider, 100_000 * USDC, sender=outsider)
    ondo.usdc.approve(market, MAX_UINT, sender=outsider)
    with ape.reverts("ousg: receiver not KYC"):
        market.liquidate(borrower, ondo.ousg, MAX_UINT, 0, False, outsider, sender=outsider)


def test_flash_liquidator__large_position__liquidated_with_no_capital(
    project, ondo, ousg_market, open_position, price_drop, borrower, liquidator
):
    market, feed, adapter, compliance = ousg_market
    open_position(10_000 * OUSG, 1_020_000 * USDC)
    price_drop()
    flash = liquidator.deploy(project.FlashLiquidator, market)
    repay, seize = market.preview_liquidation(borrower, ondo.ousg, MAX_UINT)
    tx = flash.liquidate(borrower, ondo.ousg, MAX_UINT, 1, sender=liquidator)
    payout = _value(seize, DROPPED)
    logs = tx.decode_logs(flash.Liquidated)
    assert [(log.borrower, log.repaid, log.seized, log.payout) for log in logs] == [(borrower, repay, seize, payout)]
    profit = tx.return_value
    assert profit == logs[0].profit > 0
    assert ondo.usdc.balanceOf(liquidator) == profit
    assert ondo.usdc.balanceOf(flash) == 0 and ondo.ousg.balanceOf(flash) == 0
    assert not ondo.registry.getKYCStatus(1, flash) and not ondo.registry.getKYCStatus(1, liquidator)


def test_liquidate__price_days_old__borrowing_refused_as_stale_liquidation_open(
    ondo, ousg_market, open_position, price_drop, advance, borrower, liquidator
):
    """Ondo's oracle serves an old price silently; the feed passes on its
    posting time, so the market's own age rule applies to it."""
    market, feed, adapter, compliance = ousg_market
    open_position(10_000 * OUSG, 1_020_000 * USDC)
    posted = price_drop().timestamp
    assert market.position(borrower).borrow_value > 0
    advance(LISTING.max_oracle_age + 1)
    assert feed.latestRoundData()[3] == posted
    assert market.asset_price(ondo.ousg) == (DROPPED, True)
    # A stale asset counts for nothing towards borrowing.
    assert market.position(borrower).borrow_value == 0
    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(1_000 * USDC, borrower, borrower, sender=borrower)
    ondo.usdc.approve(market, MAX_UINT, sender=liquidator)
    repaid = market.liquidate(borrower, ondo.ousg, MAX_UINT, 1, True, liquidator, sender=liquidator).return_value[0]
    assert repaid == 510_000 * USDC


def test_liquidate__ondo_pauses_redemptions__redeem_route_refused_seize_route_open(
    ondo, ousg_market, open_position, price_drop, borrower, liquidator
):
    market, feed, adapter, compliance = ousg_market
    open_position(10_000 * OUSG, 1_020_000 * USDC)
    price_drop()
    ondo.manager.set_redeem_paused(True, sender=ondo.admin)
    assert adapter.max_redeem() == 0
    ondo.usdc.mint(liquidator, 600_000 * USDC, sender=liquidator)
    ondo.usdc.approve(market, MAX_UINT, sender=liquidator)
    with ape.reverts("manager: redeem paused"):
        market.liquidate(borrower, ondo.ousg, MAX_UINT, 0, True, liquidator, sender=liquidator)
    ondo.kyc(liquidator)
    repaid, seized, sent = market.liquidate(borrower, ondo.ousg, MAX_UINT, 0, False, liquidator, sender=liquidator).return_value
    assert repaid == 510_000 * USDC and ondo.ousg.balanceOf(liquidator) == sent == seized


def test_set_asset_compliance__ousg_itself__refused_it_has_no_compliance_views(ondo, ousg_market, deployer):
    market, feed, adapter, compliance = ousg_market
    with ape.reverts("market: bad compliance source"):
        market.set_asset_compliance(ondo.ousg, ondo.ousg, sender=deployer)
    assert market.asset_compliance(ondo.ousg) == compliance


def test_liquidate__another_holder_spent_the_shared_limit__redeem_route_refused_until_reset(
    ondo, ousg_market, open_position, price_drop, advance, borrower, liquidator, attacker
):
    """The manager's limit is shared by every OUSG holder: one large
    redemption elsewhere closes the redeem route for the window."""
    market, feed, adapter, compliance = ousg_market
    open_position(10_000 * OUSG, 1_020_000 * USDC)
    price_drop()
    ondo.kyc(attacker)
    ondo.mint_ousg(attacker, 17_000 * OUSG)
    ondo.ousg.approve(ondo.manager, MAX_UINT, sender=attacker)
    ondo.manager.redeem(17_000 * OUSG, sender=attacker)  # $1.92M of the $2M
    repay, seize = market.preview_liquidation(borrower, ondo.ousg, MAX_UINT)
    # What is left (about $84,000) takes far fewer shares than the seizure.
    assert 0 < adapter.max_redeem() < seize
    assert adapter.preview_redeem(seize) == 0
    ondo.usdc.approve(market, MAX_UINT, sender=liquidator)
    with ape.reverts("manager: limit exceeded"):
        market.liquidate(borrower, ondo.ousg, MAX_UINT, 0, True, liquidator, sender=liquidator)
    advance(ondo.manager.resetInstantRedemptionDuration())
    assert adapter.max_redeem() >= seize
    repaid = market.liquidate(borrower, ondo.ousg, MAX_UINT, 1, True, liquidator, sender=liquidator).return_value[0]
    assert repaid == 510_000 * USDC
