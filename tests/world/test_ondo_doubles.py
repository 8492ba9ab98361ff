"""The Ondo doubles' quirks, as docs/issuers.md records them: OUSG checks
the caller (spender) too, the registry's sanctions override a KYC flag,
the oracle posts at most every 23 hours within 2 % (truncated bps) and
never goes stale, and the 2024 instant manager floors the price strictly
at $105, needs a $50,000 gross, shares one fixed-window limit among all
holders and redeems BUIDL from $250,000 (or when its buffer is short),
keeping the surplus."""

import ape
import pytest

USDC = 10**6
OUSG = 10**18
# The Ondo world's starting price (tests/world/conftest.py) and buffer.
OUSG_PRICE = 115 * 10**18
ONDO_BUFFER = 100_000 * USDC

DAY = 86_400
FLOOR = 105 * 10**18


def _shares_for(gross_usd: int, price: int = OUSG_PRICE) -> int:
    """The fewest OUSG whose gross reaches ``gross_usd`` dollars."""
    return -(-gross_usd * USDC * 10**30 // price)


def _gross(shares: int, price: int = OUSG_PRICE) -> int:
    return shares * price // 10**18 // 10**12


@pytest.fixture
def holder(ondo, borrower):
    """``borrower``, KYC'd, holding 10,000 OUSG approved to the manager."""
    ondo.kyc(borrower)
    ondo.mint_ousg(borrower, 10_000 * OUSG)
    ondo.ousg.approve(ondo.manager, 2**256 - 1, sender=borrower)
    return borrower


def _manager_priced_at(project, ondo, price: int):
    """A second manager over its own oracle posting ``price``."""
    oracle = ondo.admin.deploy(project.OndoOracleDouble, price)
    manager = ondo.admin.deploy(
        project.OusgInstantManagerDouble, ondo.ousg, ondo.usdc, ondo.buidl, ondo.redeemer, oracle, 10**15, DAY
    )
    ondo.kyc(manager)
    ondo.usdc.mint(manager, 1_000_000 * USDC, sender=ondo.admin)
    return manager


# ---- OUSG and the KYC registry ----


def test_transfer_from__spender_not_kyc__reverts_although_sender_and_receiver_are(ondo, borrower, lender, outsider):
    ondo.kyc(borrower, lender)
    ondo.mint_ousg(borrower, 10 * OUSG)
    ondo.ousg.approve(outsider, 10 * OUSG, sender=borrower)  # approvals are free
    with ape.reverts("ousg: caller not KYC"):
        ondo.ousg.transferFrom(borrower, lender, OUSG, sender=outsider)
    ondo.kyc(outsider)
    tx = ondo.ousg.transferFrom(borrower, lender, OUSG, sender=outsider)
    assert ondo.ousg.Transfer(sender=borrower, receiver=lender, value=OUSG) in tx.events
    assert ondo.ousg.balanceOf(lender) == OUSG


def test_transfer__receiver_or_sender_not_kyc__reverts(ondo, borrower, outsider):
    ondo.kyc(borrower)
    ondo.mint_ousg(borrower, 10 * OUSG)
    with ape.reverts("ousg: receiver not KYC"):
        ondo.ousg.transfer(outsider, OUSG, sender=borrower)
    ondo.registry.set_kyc_status(1, borrower, False, sender=ondo.admin)
    with ape.reverts("ousg: caller not KYC"):
        ondo.ousg.transfer(ondo.admin, OUSG, sender=borrower)


def test_get_kyc_status__sanctioned__false_although_flagged(ondo, borrower, lender):
    ondo.kyc(borrower, lender)
    ondo.mint_ousg(borrower, 10 * OUSG)
    tx = ondo.registry.set_sanctioned(lender, True, sender=ondo.admin)
    assert ondo.registry.SanctionSet(account=lender, sanctioned=True) in tx.events
    assert ondo.registry.kyc_flag(1, lender) and not ondo.registry.getKYCStatus(1, lender)
    with ape.reverts("ousg: receiver not KYC"):
        ondo.ousg.transfer(lender, OUSG, sender=borrower)
    ondo.registry.set_sanctioned(lender, False, sender=ondo.admin)
    ondo.ousg.transfer(lender, OUSG, sender=borrower)
    assert ondo.ousg.balanceOf(lender) == OUSG


def test_set_kyc_status__not_ondo__reverts(ondo, attacker):
    with ape.reverts("kyc: not owner"):
        ondo.registry.set_kyc_status(1, attacker, True, sender=attacker)


def test_mint__not_a_minter__reverts(ondo, attacker):
    ondo.kyc(attacker)
    with ape.reverts("ousg: not minter"):
        ondo.ousg.mint(attacker, OUSG, sender=attacker)
    assert ondo.ousg.minter(ondo.manager) and not ondo.ousg.minter(attacker)


def test_pause__stops_transfers_and_admin_burn_takes_any_balance(ondo, borrower, lender):
    ondo.kyc(borrower, lender)
    ondo.mint_ousg(borrower, 10 * OUSG)
    tx = ondo.ousg.pause(sender=ondo.admin)
    assert ondo.ousg.Paused(account=ondo.admin) in tx.events
    with ape.reverts("ousg: paused"):
        ondo.ousg.transfer(lender, OUSG, sender=borrower)
    ondo.registry.set_kyc_status(1, borrower, False, sender=ondo.admin)
    ondo.ousg.admin_burn(borrower, 4 * OUSG, sender=ondo.admin)
    assert ondo.ousg.balanceOf(borrower) == 6 * OUSG and ondo.ousg.totalSupply() == 6 * OUSG


# ---- the oracle ----


def test_set_price__within_23_hours__reverts_then_posts_with_its_time(ondo, chain, advance):
    # Anchor the 23-hour window on a post made now: the session's Ondo world
    # may be older than 23 hours when earlier tests moved the clock.
    ondo.post_price(chain, OUSG_PRICE)
    with ape.reverts("oracle: too soon"):
        ondo.oracle.setPrice(OUSG_PRICE + 10**18, sender=ondo.admin)
    advance(23 * 3_600 - 2)
    with ape.reverts("oracle: too soon"):
        ondo.oracle.setPrice(OUSG_PRICE + 10**18, sender=ondo.admin)
    advance(2)
    tx = ondo.oracle.setPrice(OUSG_PRICE + 10**18, sender=ondo.admin)
    assert ondo.oracle.PriceSet(old_price=OUSG_PRICE, new_price=OUSG_PRICE + 10**18, timestamp=tx.timestamp) in tx.events
    assert ondo.oracle.getPriceData() == (OUSG_PRICE + 10**18, tx.timestamp)


def test_set_price__beyond_2_percent__reverts_but_truncated_bps_let_a_hair_more_pass(ondo, advance):
    advance(DAY)
    with ape.reverts("oracle: change too large"):
        ondo.oracle.setPrice(OUSG_PRICE * 10_201 // 10_000, sender=ondo.admin)
    with ape.reverts("oracle: change too large"):
        ondo.oracle.setPrice(OUSG_PRICE * 9_799 // 10_000, sender=ondo.admin)
    # 200.009 bps: truncated to 200, accepted.
    hair = OUSG_PRICE * 200_09 // 1_000_000
    assert hair * 10_000 > OUSG_PRICE * 200
    ondo.oracle.setPrice(OUSG_PRICE - hair, sender=ondo.admin)
    assert ondo.oracle.getPriceData()[0] == OUSG_PRICE - hair


def test_get_price_data__a_month_old__served_silently(ondo, advance):
    posted = ondo.oracle.price_timestamp()
    advance(30 * DAY)
    assert ondo.oracle.getPriceData() == (OUSG_PRICE, posted)


# ---- the instant manager ----


def test_redeem__above_the_minimum__pays_the_caller_from_its_buffer(ondo, holder):
    shares = _shares_for(60_000)
    gross = _gross(shares)
    tx = ondo.manager.redeem(shares, sender=holder)
    assert tx.return_value == gross
    assert ondo.manager.InstantRedemption(caller=holder, ousg_amount=shares, gross=gross, paid=gross, fee=0) in tx.events
    assert ondo.usdc.balanceOf(holder) == gross
    assert ondo.usdc.balanceOf(ondo.manager) == ONDO_BUFFER - gross
    assert tx.decode_logs(ondo.manager.BuidlRedemption) == []
    assert ondo.ousg.totalSupply() == 10_000 * OUSG - shares  # burnt


def test_redeem__gross_a_cent_under_50k__reverts_and_exactly_50k_passes(ondo, holder):
    exact = _shares_for(50_000)
    assert _gross(exact - 10**16) < 50_000 * USDC
    with ape.reverts("manager: below minimum"):
        ondo.manager.redeem(exact - 10**16, sender=holder)
    assert ondo.manager.redeem(exact, sender=holder).return_value == 50_000 * USDC


def test_get_ousg_price__at_the_floor__reverts_strictly(project, ondo, holder):
    at_floor = _manager_priced_at(project, ondo, FLOOR)
    with ape.reverts("manager: price below floor"):
        at_floor.getOUSGPrice()
    ondo.ousg.approve(at_floor, 2**256 - 1, sender=holder)
    with ape.reverts("manager: price below floor"):
        at_floor.redeem(1_000 * OUSG, sender=holder)
    above = _manager_priced_at(project, ondo, FLOOR + 1)
    assert above.getOUSGPrice() == FLOOR + 1


def test_redeem__redeem_paused__reverts(ondo, holder):
    tx = ondo.manager.set_redeem_paused(True, sender=ondo.admin)
    assert ondo.manager.RedeemPausedSet(paused=True) in tx.events
    with ape.reverts("manager: redeem paused"):
        ondo.manager.redeem(_shares_for(60_000), sender=holder)


def test_redeem__fee__to_the_fee_receiver_rounded_down(ondo, holder):
    ondo.manager.set_redeem_fee(7, sender=ondo.admin)
    shares = _shares_for(60_000) + 12_345 * 10**12
    gross = _gross(shares)
    fee = gross * 7 // 10_000
    before = ondo.usdc.balanceOf(ondo.admin)
    tx = ondo.manager.redeem(shares, sender=holder)
    assert tx.return_value == gross - fee and ondo.usdc.balanceOf(ondo.admin) - before == fee


def test_redeem__shared_fixed_window_limit__spent_by_all_then_reset_by_the_next_call(ondo, holder, lender, advance):
    ondo.kyc(lender)
    ondo.mint_ousg(lender, 10_000 * OUSG)
    ondo.ousg.approve(ondo.manager, 2**256 - 1, sender=lender)
    ondo.manager.set_redemption_limit(120_000 * USDC, DAY, sender=ondo.admin)
    first = ondo.manager.redeem(_shares_for(60_000), sender=holder)
    start = ondo.manager.lastResetInstantRedemptionTime()
    ondo.manager.redeem(_shares_for(55_000), sender=lender)
    spent = ondo.manager.currentInstantRedemptionAmount()
    assert spent >= 115_000 * USDC and ondo.manager.resetInstantRedemptionDuration() == DAY
    with ape.reverts("manager: limit exceeded"):
        ondo.manager.redeem(_shares_for(50_000), sender=holder)
    # The window is fixed: it ends DAY after its start, whatever was spent when.
    advance(start + DAY - first.timestamp)
    tx = ondo.manager.redeem(_shares_for(50_000), sender=holder)
    assert ondo.manager.lastResetInstantRedemptionTime() == tx.timestamp
    assert ondo.manager.currentInstantRedemptionAmount() == 50_000 * USDC


def test_redeem__from_250k__redeems_exactly_the_gross_in_buidl(ondo, holder):
    shares = _shares_for(300_000)
    gross = _gross(shares)
    tx = ondo.manager.redeem(shares, sender=holder)
    assert [log.amount for log in tx.decode_logs(ondo.manager.BuidlRedemption)] == [gross]
    assert ondo.usdc.balanceOf(ondo.manager) == ONDO_BUFFER  # the buffer untouched
    assert ondo.usdc.balanceOf(holder) == gross


def test_redeem__buffer_short__redeems_a_250k_chunk_and_keeps_the_surplus(ondo, holder):
    shares = _shares_for(150_000)
    gross = _gross(shares)
    tx = ondo.manager.redeem(shares, sender=holder)
    chunk = ondo.manager.minBUIDLRedeemAmount()
    assert [log.amount for log in tx.decode_logs(ondo.manager.BuidlRedemption)] == [chunk]
    assert ondo.usdc.balanceOf(ondo.manager) == ONDO_BUFFER + chunk - gross


def test_redeem__more_than_the_buidl_it_holds__reverts(ondo, holder):
    ondo.mint_ousg(holder, 50_000 * OUSG)
    ondo.manager.set_redemption_limit(10_000_000 * USDC, DAY, sender=ondo.admin)
    with ape.reverts("manager: BUIDL short"):
        ondo.manager.redeem(50_000 * OUSG, sender=holder)


def test_buidl_redeemer__pays_usdc_one_to_one__reverts_when_short(ondo, lender):
    ondo.buidl.mint(lender, 6_000_000 * USDC, sender=lender)
    ondo.buidl.approve(ondo.redeemer, 2**256 - 1, sender=lender)
    tx = ondo.redeemer.redeem(1_000 * USDC, sender=lender)
    assert ondo.redeemer.BuidlRedeemed(caller=lender, amount=1_000 * USDC) in tx.events
    assert ondo.usdc.balanceOf(lender) == 1_000 * USDC
    with ape.reverts("redeemer: insufficient liquidity"):
        ondo.redeemer.redeem(5_000_000 * USDC, sender=lender)


# ---- the instant manager: subscriptions ----


@pytest.fixture
def buyer(ondo, lender):
    """``lender``, KYC'd, holding $300,000 USDC approved to the manager."""
    ondo.kyc(lender)
    ondo.usdc.mint(lender, 300_000 * USDC, sender=lender)
    ondo.usdc.approve(ondo.manager, 2**256 - 1, sender=lender)
    return lender


def test_mint__from_100k__ousg_at_the_price_rounded_down_usdc_to_ondo(ondo, buyer):
    before = ondo.usdc.balanceOf(ondo.admin)
    amount = 100_000 * USDC
    minted = amount * 10**30 // OUSG_PRICE
    tx = ondo.manager.mint(amount, sender=buyer)
    assert tx.return_value == minted and ondo.ousg.balanceOf(buyer) == minted
    assert ondo.manager.InstantMint(caller=buyer, usdc_amount=amount, ousg_amount=minted, fee=0) in tx.events
    assert ondo.usdc.balanceOf(ondo.admin) - before == amount


def test_mint__a_cent_under_100k__reverts(ondo, buyer):
    with ape.reverts("manager: below minimum deposit"):
        ondo.manager.mint(100_000 * USDC - 10_000, sender=buyer)


def test_mint__fee__taken_from_the_usdc_before_pricing(ondo, buyer):
    ondo.manager.set_mint_fee(10, sender=ondo.admin)
    amount = 150_000 * USDC + 7
    fee = amount * 10 // 10_000
    tx = ondo.manager.mint(amount, sender=buyer)
    assert tx.return_value == (amount - fee) * 10**30 // OUSG_PRICE


def test_mint__buyer_not_kyc_or_mint_paused__reverts(ondo, buyer, outsider):
    ondo.usdc.mint(outsider, 200_000 * USDC, sender=outsider)
    ondo.usdc.approve(ondo.manager, 2**256 - 1, sender=outsider)
    with ape.reverts("ousg: receiver not KYC"):
        ondo.manager.mint(100_000 * USDC, sender=outsider)
    tx = ondo.manager.set_mint_paused(True, sender=ondo.admin)
    assert ondo.manager.MintPausedSet(paused=True) in tx.events
    with ape.reverts("manager: mint paused"):
        ondo.manager.mint(100_000 * USDC, sender=buyer)
