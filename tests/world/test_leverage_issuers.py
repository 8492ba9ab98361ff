"""Leverage over real issuers' shapes, end to end on anvil: a market over
USTB and a market over OUSG (the issuers' doubles), each with navlend's
feed, redemption, compliance and subscription adapters
(tests/world/issuer_markets.py).

- ``open`` subscribes through SuperstateSubscription (the token's own
  ``subscribe``, for the adapter itself, then a transfer) or
  OndoSubscription (the instant manager's ``mint``), posts the shares for
  the user and borrows; ``unwind`` redeems through the market's
  redemption adapter;
- the user is checked against the market's compliance source for the
  asset (SuperstateCompliance, OndoCompliance): an investor the issuer
  never admitted is refused with a reason, and so is an asset whose
  market has no compliance source;
- the issuer's pauses and minimum are refused by the adapter with a
  reason, and its previews answer 0 instead of reverting.
"""

import ape
import pytest

from issuer_markets import SUBSCRIPTION_FEE_BPS, ondo_market, superstate_market

USD = 10**6
BPS = 10_000
DAY = 86_400
ZERO = "0x" + "00" * 20
TARGET = 8_000
MAX_LTV = 8_010
# USTB: 10,000 equity, about 50,000 exposure. OUSG: 30,000 equity, about
# 150,000 exposure, above Ondo's $100,000 minimum deposit.
USTB_EQUITY = 10_000 * USD
OUSG_EQUITY = 30_000 * USD
LENT = 1_000_000 * USD


@pytest.fixture(autouse=True)
def _no_source_tracebacks(monkeypatch):
    """A revert deep inside a flash-loan callback costs ape-vyper seconds
    to map onto source lines, which nothing here reads (as in
    tests/periphery/conftest.py)."""
    from ape.exceptions import TransactionError

    monkeypatch.setattr(TransactionError, "source_traceback", property(lambda self: None, lambda self, v: None))


@pytest.fixture(scope="session")
def market_owner(accounts):
    """Owns the issuers' markets (neither issuer)."""
    return accounts[14]


@pytest.fixture
def ss(project, ustb, stablecoin, deployer, market_owner, guardian, treasury, lender, borrower):
    """The USTB market, ``LENT`` supplied; ``borrower`` (an allowed
    entity) holds USTB_EQUITY, approved to Leverage and authorised it."""
    m = superstate_market(project, ustb, stablecoin, deployer, market_owner, guardian, treasury)
    stablecoin.mint(lender, LENT, sender=deployer)
    m.lend(lender, LENT)
    _investor(m, borrower, USTB_EQUITY, lambda who, amount: stablecoin.mint(who, amount, sender=deployer))
    return m


@pytest.fixture
def ou(project, ondo, market_owner, guardian, treasury, lender, borrower):
    """The OUSG market, ``LENT`` supplied; ``borrower`` (KYC'd by Ondo)
    holds OUSG_EQUITY, approved to Leverage and authorised it."""
    m = ondo_market(project, ondo, market_owner, guardian, treasury)
    ondo.usdc.mint(lender, LENT, sender=lender)
    m.lend(lender, LENT)
    ondo.kyc(borrower)
    _investor(m, borrower, OUSG_EQUITY, lambda who, amount: ondo.usdc.mint(who, amount, sender=who))
    return m


def _investor(m, who, equity, mint) -> None:
    mint(who, equity)
    m.base.approve(m.leverage, equity, sender=who)
    m.market.set_authorization(m.leverage, True, sender=who)


def open_levered(m, who, equity, **overrides):
    args = dict(target=TARGET, min_collateral=0, max_ltv=MAX_LTV, facility=m.subscription)
    args.update(overrides)
    return m.leverage.open(
        m.token, args["facility"], equity, args["target"], args["min_collateral"], args["max_ltv"], sender=who
    )


def exposure_of(m, equity) -> tuple[int, int]:
    """(flash loan, its fee) that ``open`` takes for ``equity`` at TARGET,
    as Leverage solves it."""
    per_unit = m.market.flashFee(m.base, BPS * BPS)
    gross = BPS * BPS + per_unit
    flash = equity * gross // (gross - TARGET * BPS) - equity
    while flash and (flash + m.market.flashFee(m.base, flash)) * BPS > TARGET * (equity + flash):
        flash -= 1
    return flash, m.market.flashFee(m.base, flash)


def assert_holds_nothing(m) -> None:
    """Neither Leverage nor the subscription adapter keeps a token or an
    allowance between calls."""
    for holder in (m.leverage, m.subscription):
        assert m.base.balanceOf(holder) == 0 and m.token.balanceOf(holder) == 0
    assert m.base.allowance(m.subscription, m.token) == 0
    assert m.token.allowance(m.leverage, m.market) == 0


def round_trip(m, who, equity, payout_floor):
    """Opens then unwinds; checks the position, the events and that
    nothing is left behind. ``payout_floor(preview)`` is the least a
    redemption previewed a block earlier pays. Returns the open's
    Subscribed event."""
    flash, fee = exposure_of(m, equity)
    preview = m.subscription.preview_subscribe(equity + flash)

    tx = open_levered(m, who, equity)

    (bought,) = tx.decode_logs(m.subscription.Subscribed)
    assert (bought.caller, bought.receiver, bought.assets) == (
        m.leverage.address, m.leverage.address, equity + flash
    )
    assert payout_floor(preview) <= bought.shares <= preview * 10_001 // 10_000
    (opened,) = tx.decode_logs(m.leverage.Opened)
    assert (opened.user, opened.token, opened.equity, opened.collateral, opened.debt) == (
        who.address, m.token.address, equity, bought.shares, flash + fee
    )
    assert m.market.collateral_of(who, m.token) == bought.shares
    assert m.market.debt_of(who) == flash + fee
    assert m.market.position(who).health_factor > 10**18
    assert m.base.balanceOf(who) == 0
    assert_holds_nothing(m)

    debt = m.market.debt_of(who)
    owed = debt + m.market.flashFee(m.base, debt)
    expected = m.redemption.preview_redeem(bought.shares) - owed

    tx = m.leverage.unwind(m.token, 0, sender=who)

    (unwound,) = tx.decode_logs(m.leverage.Unwound)
    assert (unwound.user, unwound.collateral, unwound.repaid) == (who.address, bought.shares, debt)
    assert payout_floor(expected + owed) - owed <= unwound.returned <= expected
    assert m.base.balanceOf(who) == unwound.returned == tx.return_value
    assert m.market.collateral_of(who, m.token) == 0 and m.market.debt_of(who) == 0
    assert_holds_nothing(m)
    return bought


def a_block_later(preview: int) -> int:
    """Superstate prices at its oracle's projection, which moves a little
    between a preview and the next block (within 0.01 %)."""
    return preview * 9_999 // 10_000


def exact(preview: int) -> int:
    """Ondo's posted price does not move between blocks."""
    return preview


# ---- USTB ----


def test_open_then_unwind__ustb__subscribed_for_the_adapter_then_redeemed(ss, ustb, stablecoin, deployer, borrower):
    swept = stablecoin.balanceOf(deployer)
    bought = round_trip(ss, borrower, USTB_EQUITY, a_block_later)
    # The cash went straight to Superstate's sweep destination, and the
    # token minted for the adapter itself (Superstate's entity rule).
    assert stablecoin.balanceOf(deployer) - swept == bought.assets
    assert ustb.token.totalSupply() == 0  # all redeemed


def test_open__ustb__superstate_takes_its_fee(ss, ustb, borrower):
    flash, _ = exposure_of(ss, USTB_EQUITY)
    tx = open_levered(ss, borrower, USTB_EQUITY)
    (subscribed,) = tx.decode_logs(ustb.token.Subscribe)
    assert subscribed.to == ss.subscription.address
    assert subscribed.stablecoinInAmount == USTB_EQUITY + flash
    fee = subscribed.stablecoinInAmount * SUBSCRIPTION_FEE_BPS // BPS
    assert subscribed.stablecoinInAmountAfterFee == subscribed.stablecoinInAmount - fee


def test_open__ustb_investor_not_admitted__refused_with_reason(ss, ustb, stablecoin, deployer, outsider):
    assert not ustb.compliance.is_allowlisted(outsider)
    _investor(ss, outsider, USTB_EQUITY, lambda who, amount: stablecoin.mint(who, amount, sender=deployer))
    with ape.reverts("leverage: user not allowlisted"):
        open_levered(ss, outsider, USTB_EQUITY)


def test_unwind__ustb_investor_removed_from_allow_list__refused_with_reason(ss, ustb, deployer, borrower):
    open_levered(ss, borrower, USTB_EQUITY)
    ustb.allow_list.setEntityIdForAddress(0, borrower, sender=deployer)
    with ape.reverts("leverage: user not allowlisted"):
        ss.leverage.unwind(ss.token, 0, sender=borrower)


@pytest.mark.parametrize(
    "pause, reason",
    [("accountingPause", "adapter: subscriptions paused"), ("pause", "adapter: fund paused")],
)
def test_open__ustb_paused__refused_with_reason_preview_zero(ss, ustb, deployer, borrower, pause, reason):
    getattr(ustb.token, pause)(sender=deployer)
    assert ss.subscription.preview_subscribe(USTB_EQUITY) == 0
    with ape.reverts(reason):
        open_levered(ss, borrower, USTB_EQUITY)


def test_open__ustb_without_compliance_source__refused_with_reason(ss, market_owner, borrower):
    ss.market.set_asset_compliance(ss.token, ZERO, sender=market_owner)
    with ape.reverts("leverage: asset has no compliance source"):
        open_levered(ss, borrower, USTB_EQUITY)


def test_open__facility_paying_another_coin__refused(ss, ou, borrower):
    """OUSG's adapter takes Ondo's USDC, not the USTB market's stablecoin
    (and subscribes another fund: the fund check comes first)."""
    with ape.reverts("leverage: facility for another fund"):
        open_levered(ss, borrower, USTB_EQUITY, facility=ou.subscription)


def test_subscribe__ustb_direct__measured_shares_forwarded(ss, ustb, stablecoin, deployer, lender, borrower):
    stablecoin.mint(lender, 1_000 * USD, sender=deployer)
    stablecoin.approve(ss.subscription, 1_000 * USD, sender=lender)
    preview = ss.subscription.preview_subscribe(1_000 * USD)
    tx = ss.subscription.subscribe(1_000 * USD, 0, borrower, sender=lender)
    (event,) = tx.decode_logs(ss.subscription.Subscribed)
    assert (event.caller, event.receiver, event.assets) == (lender.address, borrower.address, 1_000 * USD)
    assert a_block_later(preview) <= event.shares == tx.return_value == ustb.token.balanceOf(borrower)
    assert_holds_nothing(ss)


def test_subscribe__ustb_min_shares_above__slippage(ss, stablecoin, deployer, lender):
    stablecoin.mint(lender, 1_000 * USD, sender=deployer)
    stablecoin.approve(ss.subscription, 1_000 * USD, sender=lender)
    too_many = ss.subscription.preview_subscribe(1_000 * USD) * 2
    with ape.reverts("adapter: slippage"):
        ss.subscription.subscribe(1_000 * USD, too_many, lender, sender=lender)


def test_subscribe__ustb_receiver_is_the_token__refused(ss, lender):
    """A transfer to the token burns the shares (an off-chain redemption)."""
    with ape.reverts("adapter: bad receiver"):
        ss.subscription.subscribe(1_000 * USD, 0, ss.token, sender=lender)


def test_subscribe__ustb_adapter_not_admitted__refused_preview_zero(ss, ustb, deployer, lender):
    ustb.allow_list.setProtocolAddressPermission(ss.subscription, "USTB", False, sender=deployer)
    assert ss.subscription.preview_subscribe(1_000 * USD) == 0
    with ape.reverts("adapter: not allowed by the fund"):
        ss.subscription.subscribe(1_000 * USD, 0, lender, sender=lender)


def test_preview_subscribe__ustb_stablecoin_not_accepted__zero(ss, ustb, stablecoin, deployer):
    assert ss.subscription.preview_subscribe(1_000 * USD) > 0
    ustb.token.setStablecoinConfig(stablecoin, ZERO, 0, sender=deployer)
    assert ss.subscription.preview_subscribe(1_000 * USD) == 0


def test_preview_subscribe__ustb_oracle_expired__zero(ss, advance):
    """Five days without a checkpoint: Superstate's oracle reverts, the
    preview answers 0."""
    advance(6 * DAY)
    assert ss.subscription.preview_subscribe(1_000 * USD) == 0


# ---- OUSG ----


def test_open_then_unwind__ousg__minted_then_redeemed(ou, ondo, borrower):
    ondo.manager.set_mint_fee(10, sender=ondo.admin)
    bought = round_trip(ou, borrower, OUSG_EQUITY, exact)
    # The manager's own arithmetic: (usdc - fee) x 1e30 / price, rounded down.
    price = ondo.manager.getOUSGPrice()
    assert bought.shares == (bought.assets - bought.assets * 10 // BPS) * 10**30 // price


def test_open__ousg_investor_not_kyc__refused_with_reason(ou, ondo, outsider):
    assert not ou.compliance.is_allowlisted(outsider)
    _investor(ou, outsider, OUSG_EQUITY, lambda who, amount: ondo.usdc.mint(who, amount, sender=who))
    with ape.reverts("leverage: user not allowlisted"):
        open_levered(ou, outsider, OUSG_EQUITY)


def test_open__ousg_below_ondos_minimum__refused_with_reason_preview_zero(ou, borrower):
    """10,000 at 80 % is about 50,000 of OUSG: under the $100,000 minimum."""
    equity = 10_000 * USD
    flash, _ = exposure_of(ou, equity)
    assert ou.subscription.min_subscribe() == 100_000 * USD > equity + flash
    assert ou.subscription.preview_subscribe(equity + flash) == 0
    with ape.reverts("adapter: below the issuer's minimum"):
        open_levered(ou, borrower, equity)


def test_open__ousg_mint_paused__refused_with_reason_preview_zero(ou, ondo, borrower):
    ondo.manager.set_mint_paused(True, sender=ondo.admin)
    assert ou.subscription.preview_subscribe(200_000 * USD) == 0
    with ape.reverts("adapter: subscriptions paused"):
        open_levered(ou, borrower, OUSG_EQUITY)


def test_open__ousg_token_paused__refused_with_reason_preview_zero(ou, ondo, borrower):
    ondo.ousg.pause(sender=ondo.admin)
    assert ou.subscription.preview_subscribe(200_000 * USD) == 0
    with ape.reverts("adapter: fund paused"):
        open_levered(ou, borrower, OUSG_EQUITY)


def test_unwind__ousg_redemptions_paused__refused_with_ondos_reason(ou, ondo, borrower):
    open_levered(ou, borrower, OUSG_EQUITY)
    ondo.manager.set_redeem_paused(True, sender=ondo.admin)
    with ape.reverts("manager: redeem paused"):
        ou.leverage.unwind(ou.token, 0, sender=borrower)


def test_subscribe__ousg_adapter_not_kyc__refused_preview_zero(ou, ondo, lender):
    ondo.registry.set_kyc_status(1, ou.subscription, False, sender=ondo.admin)
    assert ou.subscription.preview_subscribe(200_000 * USD) == 0
    with ape.reverts("adapter: not KYC'd by the fund"):
        ou.subscription.subscribe(200_000 * USD, 0, lender, sender=lender)


def test_subscribe__ousg_min_shares_above__slippage(ou, ondo, lender):
    ondo.kyc(lender)
    ondo.usdc.mint(lender, 200_000 * USD, sender=lender)
    ondo.usdc.approve(ou.subscription, 200_000 * USD, sender=lender)
    preview = ou.subscription.preview_subscribe(200_000 * USD)
    with ape.reverts("adapter: slippage"):
        ou.subscription.subscribe(200_000 * USD, preview + 1, lender, sender=lender)
    tx = ou.subscription.subscribe(200_000 * USD, preview, lender, sender=lender)
    assert tx.return_value == preview == ondo.ousg.balanceOf(lender)
