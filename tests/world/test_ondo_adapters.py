"""The Ondo adapters over the doubles: OndoNavFeed (the posted price at its
posting time, never a revert when old), OndoRedemption (the payout
measured and forwarded, `min_out`, previews that are 0 whenever the
manager would refuse) and OndoCompliance (KYC and sanctions through
`is_allowlisted`, the caller checked in `can_transfer`)."""

import ape
import pytest

USDC = 10**6
OUSG = 10**18
DAY = 86_400
# The Ondo world's starting price (tests/world/conftest.py).
OUSG_PRICE = 115 * 10**18
MAX_UINT = 2**256 - 1


def _gross(shares: int, price: int = OUSG_PRICE) -> int:
    return shares * price // 10**30


def _shares_for(gross_usd: int, price: int = OUSG_PRICE) -> int:
    return -(-gross_usd * USDC * 10**30 // price)


@pytest.fixture
def feed(project, ondo, deployer):
    return deployer.deploy(project.OndoNavFeed, ondo.oracle, "OUSG / USD")


@pytest.fixture
def adapter(project, ondo, deployer):
    """OndoRedemption over the manager, KYC'd by Ondo."""
    adapter = deployer.deploy(project.OndoRedemption, ondo.manager)
    ondo.kyc(adapter)
    return adapter


@pytest.fixture
def holder(ondo, adapter, borrower):
    """``borrower`` (in the market's place): KYC'd, 10,000 OUSG approved to
    the adapter."""
    ondo.kyc(borrower)
    ondo.mint_ousg(borrower, 10_000 * OUSG)
    ondo.ousg.approve(adapter, MAX_UINT, sender=borrower)
    return borrower


@pytest.fixture
def compliance(project, ondo, deployer):
    return deployer.deploy(project.OndoCompliance, ondo.ousg)


# ---- OndoNavFeed ----


def test_latest_round_data__posted_price__at_its_posting_time(ondo, feed, post_price):
    tx = post_price(OUSG_PRICE + 2 * 10**18)
    posted = tx.timestamp
    assert feed.latestRoundData() == (posted, OUSG_PRICE + 2 * 10**18, posted, posted, posted)
    assert feed.decimals() == 18 and feed.description() == "OUSG / USD" and feed.version() == 1


def test_latest_round_data__a_month_old__answers_with_its_old_time(ondo, feed, advance):
    posted = ondo.oracle.price_timestamp()
    advance(30 * DAY)
    assert feed.latestRoundData() == (posted, OUSG_PRICE, posted, posted, posted)


def test_get_round_data__latest_only(ondo, feed, post_price):
    old = ondo.oracle.price_timestamp()
    assert feed.getRoundData(old)[1] == OUSG_PRICE
    tx = post_price(OUSG_PRICE - 10**18)
    assert feed.getRoundData(tx.timestamp) == (tx.timestamp, OUSG_PRICE - 10**18, tx.timestamp, tx.timestamp, tx.timestamp)
    with ape.reverts("feed: no such round"):
        feed.getRoundData(old)


def test_pending_answer__not_offered(feed):
    """Ondo announces no price ahead: the feed is a plain AggregatorV3."""
    assert "pending_answer" not in [abi.name for abi in feed.contract_type.view_methods]


def test_constructor__zero_or_not_an_ondo_oracle__reverts(project, ondo, spare):
    with ape.reverts("feed: zero address"):
        spare.deploy(project.OndoNavFeed, "0x" + "00" * 20, "OUSG / USD")
    with ape.reverts("feed: no price"):
        spare.deploy(project.OndoNavFeed, ondo.usdc, "OUSG / USD")


# ---- OndoRedemption: redeem ----


def test_redeem__payout_measured_and_forwarded_to_the_receiver(ondo, adapter, holder, liquidator):
    ondo.manager.set_redeem_fee(7, sender=ondo.admin)
    shares = _shares_for(80_000)
    gross = _gross(shares)
    net = gross - gross * 7 // 10_000
    assert adapter.preview_redeem(shares) == net
    tx = adapter.redeem(shares, net, liquidator, sender=holder)
    assert tx.return_value == net
    assert adapter.Redeemed(caller=holder, receiver=liquidator, shares=shares, payout=net) in tx.events
    # The liquidator needs no KYC: it receives USDC only.
    assert ondo.usdc.balanceOf(liquidator) == net
    assert ondo.usdc.balanceOf(adapter) == 0 and ondo.ousg.balanceOf(adapter) == 0
    assert ondo.ousg.allowance(adapter, ondo.manager) == 0


def test_redeem__payout_below_min_out__reverts_slippage(ondo, adapter, holder, liquidator):
    shares = _shares_for(80_000)
    with ape.reverts("adapter: slippage"):
        adapter.redeem(shares, adapter.preview_redeem(shares) + 1, liquidator, sender=holder)


def test_redeem__adapter_not_kyc__reverts_in_the_token(project, ondo, holder, liquidator, deployer):
    unadmitted = deployer.deploy(project.OndoRedemption, ondo.manager)
    ondo.ousg.approve(unadmitted, MAX_UINT, sender=holder)
    with ape.reverts("ousg: caller not KYC"):
        unadmitted.redeem(_shares_for(80_000), 0, liquidator, sender=holder)


def test_redeem__under_the_minimum__the_managers_reason(ondo, adapter, holder, liquidator):
    with ape.reverts("manager: below minimum"):
        adapter.redeem(_shares_for(49_999), 0, liquidator, sender=holder)


# ---- OndoRedemption: previews ----


def test_min_redeem__the_50k_minimum_in_shares_rounded_up(ondo, adapter):
    least = adapter.min_redeem()
    assert least == _shares_for(50_000)
    assert adapter.preview_redeem(least) == 50_000 * USDC
    assert adapter.preview_redeem(least - 1) == 0  # under the minimum


def test_preview_redeem__ousg_or_redemptions_paused__zero(ondo, adapter):
    shares = _shares_for(80_000)
    assert adapter.preview_redeem(shares) > 0 and adapter.max_redeem() > 0
    ondo.ousg.pause(sender=ondo.admin)
    assert adapter.preview_redeem(shares) == 0 and adapter.max_redeem() == 0
    ondo.ousg.unpause(sender=ondo.admin)
    ondo.manager.set_redeem_paused(True, sender=ondo.admin)
    assert adapter.preview_redeem(shares) == 0 and adapter.max_redeem() == 0


def test_preview_redeem__price_at_or_under_the_floor__zero_and_min_redeem_unreachable(ondo, adapter, post_price):
    price = OUSG_PRICE
    while price > 105 * 10**18:
        price = price * 9_800 // 10_000
        post_price(price)
    assert price <= 105 * 10**18
    assert adapter.preview_redeem(10_000 * OUSG) == 0
    assert adapter.max_redeem() == 0
    assert adapter.min_redeem() == MAX_UINT


def test_max_redeem__shared_limit_spent__zero_until_the_window_ends(ondo, adapter, holder, liquidator, advance):
    ondo.manager.set_redemption_limit(120_000 * USDC, DAY, sender=ondo.admin)
    assert adapter.remaining_limit() == 120_000 * USDC
    adapter.redeem(_shares_for(60_000), 0, liquidator, sender=holder)
    adapter.redeem(_shares_for(55_000), 0, liquidator, sender=holder)
    assert adapter.remaining_limit() < 50_000 * USDC
    assert adapter.max_redeem() == 0
    assert adapter.preview_redeem(adapter.min_redeem()) == 0
    advance(DAY)
    assert adapter.remaining_limit() == 120_000 * USDC
    assert adapter.max_redeem() == 120_000 * USDC * 10**30 // OUSG_PRICE


def test_max_redeem__bounded_by_the_remaining_limit_rounded_down(ondo, adapter, holder, liquidator):
    ondo.manager.set_redemption_limit(200_000 * USDC, DAY, sender=ondo.admin)
    adapter.redeem(_shares_for(60_000), 0, liquidator, sender=holder)
    left = adapter.remaining_limit()
    most = adapter.max_redeem()
    assert left == 200_000 * USDC - _gross(_shares_for(60_000))
    assert most == left * 10**30 // OUSG_PRICE and _gross(most) <= left
    assert adapter.preview_redeem(most) == _gross(most)
    assert adapter.preview_redeem(_shares_for(left // USDC + 1)) == 0  # beyond the limit
    tx = adapter.redeem(most, 0, liquidator, sender=holder)
    assert tx.return_value == _gross(most)


def test_max_redeem__no_buidl_chunk_reachable__the_buffer_under_the_threshold(project, ondo, deployer):
    """A manager holding no BUIDL pays from its buffer only, and only under
    the $250,000 threshold (above it, it would redeem BUIDL)."""
    manager = ondo.admin.deploy(
        project.OusgInstantManagerDouble, ondo.ousg, ondo.usdc, ondo.buidl, ondo.redeemer, ondo.oracle, 10**15, DAY
    )
    adapter = deployer.deploy(project.OndoRedemption, manager)
    ondo.kyc(adapter)
    ondo.usdc.mint(manager, 120_000 * USDC, sender=ondo.admin)
    assert adapter.max_redeem() == 120_000 * USDC * 10**30 // OUSG_PRICE
    ondo.usdc.mint(manager, 400_000 * USDC, sender=ondo.admin)
    assert adapter.max_redeem() == (250_000 * USDC - 1) * 10**30 // OUSG_PRICE
    ondo.buidl.mint(manager, 3_000_000 * USDC, sender=ondo.admin)
    # Now the BUIDL it holds (less than the redeemer's cash) bounds it.
    assert ondo.usdc.balanceOf(ondo.redeemer) > 3_000_000 * USDC
    assert adapter.max_redeem() == 3_000_000 * USDC * 10**30 // OUSG_PRICE


def test_views__fee_tokens_and_version(ondo, adapter):
    assert adapter.fee_bps() == 0
    ondo.manager.set_redeem_fee(25, sender=ondo.admin)
    assert adapter.fee_bps() == 25
    assert adapter.share_token() == ondo.ousg and adapter.payout_token() == ondo.usdc
    assert adapter.manager() == ondo.manager and adapter.version() == 1


# ---- OndoCompliance ----


def test_is_allowlisted__kyc_status_with_sanctions__never_frozen(ondo, compliance, borrower, outsider):
    ondo.kyc(borrower)
    assert compliance.is_allowlisted(borrower) and not compliance.is_allowlisted(outsider)
    ondo.registry.set_sanctioned(borrower, True, sender=ondo.admin)
    assert not compliance.is_allowlisted(borrower)
    assert not compliance.is_frozen(borrower) and not compliance.is_frozen(outsider)


def test_can_transfer__spender_sender_and_receiver_all_checked(ondo, compliance, borrower, lender, outsider):
    ondo.kyc(borrower, lender)
    assert compliance.can_transfer(borrower, lender, borrower)
    assert not compliance.can_transfer(borrower, lender, outsider)  # the caller
    assert not compliance.can_transfer(outsider, lender, borrower)
    assert not compliance.can_transfer(borrower, outsider, borrower)
    ondo.ousg.pause(sender=ondo.admin)
    assert compliance.paused() and not compliance.can_transfer(borrower, lender, borrower)


def test_compliance_constructor__zero_address__reverts(project, spare):
    with ape.reverts("compliance: zero address"):
        spare.deploy(project.OndoCompliance, "0x" + "00" * 20)
