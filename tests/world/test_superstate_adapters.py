"""navlend's Superstate adapters over the doubles: SuperstateRedemption
(pays itself, measures what it received, enforces min_out, forwards;
previews that never revert) over both Redemption variants, and
SuperstateCompliance (the token's checks, as navlend's compliance views)."""

import ape
import pytest

SHARES = 1_000 * 10**6  # 1,000 USTB
DAY = 86_400


@pytest.fixture(params=["idle", "yield"])
def route(request, ustb):
    """(adapter, Redemption contract) for RedemptionIdle, then for the
    pays-the-caller RedemptionYield."""
    if request.param == "idle":
        return ustb.adapter, ustb.redemption
    return ustb.adapter_yield, ustb.redemption_yield


@pytest.fixture
def ustb_holding(ustb, deployer, borrower):
    """``borrower`` holds SHARES of USTB."""
    ustb.token.mint(borrower, SHARES, sender=deployer)
    return SHARES


# ---- SuperstateRedemption: redeem ----


def test_redeem__both_variants__payout_measured_and_forwarded(
    ustb, route, ustb_holding, deployer, stablecoin, borrower, lender
):
    adapter, redemption = route
    redemption.setRedemptionFee(10, sender=deployer)
    ustb.token.approve(adapter, SHARES, sender=borrower)
    tx = adapter.redeem(SHARES, 0, lender, sender=borrower)
    (paid,) = tx.decode_logs(redemption.Redeem)
    (redeemed,) = tx.decode_logs(adapter.Redeemed)
    net = paid.usdcOutAmountAfterFee
    assert net == paid.usdcOutAmountBeforeFee - paid.usdcOutAmountBeforeFee * 10 // 10_000
    assert tx.return_value == net
    assert (redeemed.caller, redeemed.receiver, redeemed.shares) == (
        borrower.address,
        lender.address,
        SHARES,
    )
    assert redeemed.payout == net
    assert stablecoin.balanceOf(lender) == net
    # Nothing stays with the adapter: no USDC, no shares, no allowance.
    assert stablecoin.balanceOf(adapter) == 0
    assert ustb.token.balanceOf(adapter) == 0
    assert ustb.token.allowance(adapter, redemption) == 0
    assert ustb.token.totalSupply() == 0


def test_redeem__usdc_already_held__not_counted_as_payout(
    ustb, ustb_holding, deployer, stablecoin, borrower, lender
):
    adapter = ustb.adapter
    stablecoin.mint(adapter, 5 * 10**6, sender=deployer)
    ustb.token.approve(adapter, SHARES, sender=borrower)
    tx = adapter.redeem(SHARES, 0, lender, sender=borrower)
    (paid,) = tx.decode_logs(ustb.redemption.Redeem)
    assert stablecoin.balanceOf(lender) == paid.usdcOutAmountAfterFee == tx.return_value
    assert stablecoin.balanceOf(adapter) == 5 * 10**6


def test_redeem__below_min_out__reverts(ustb, ustb_holding, borrower, lender):
    adapter = ustb.adapter
    ustb.token.approve(adapter, SHARES, sender=borrower)
    preview = adapter.preview_redeem(SHARES)
    with ape.reverts("adapter: slippage"):
        adapter.redeem(SHARES, preview * 2, lender, sender=borrower)
    # At the preview's figure it passes (the price only rises meanwhile).
    assert adapter.redeem(SHARES, preview, lender, sender=borrower).return_value >= preview


def test_redeem__receiver_is_the_token_or_zero__reverts(ustb, ustb_holding, borrower):
    adapter = ustb.adapter
    ustb.token.approve(adapter, SHARES, sender=borrower)
    with ape.reverts("adapter: bad receiver"):
        adapter.redeem(SHARES, 0, ustb.token, sender=borrower)
    with ape.reverts("adapter: bad receiver"):
        adapter.redeem(SHARES, 0, "0x" + "00" * 20, sender=borrower)
    with ape.reverts("adapter: zero amount"):
        adapter.redeem(0, 0, borrower, sender=borrower)


def test_redeem__caller_removed_from_allow_list__reverts_in_the_token(
    ustb, ustb_holding, deployer, borrower
):
    adapter = ustb.adapter
    ustb.token.approve(adapter, SHARES, sender=borrower)
    ustb.allow_list.setEntityIdForAddress(0, borrower, sender=deployer)
    with ape.reverts("InsufficientPermissions"):
        adapter.redeem(SHARES, 0, borrower, sender=borrower)


def test_redeem__adapter_not_admitted__reverts_and_previews_zero(
    ustb, ustb_holding, deployer, borrower
):
    adapter = ustb.adapter
    ustb.allow_list.setProtocolAddressPermission(adapter, "USTB", False, sender=deployer)
    ustb.token.approve(adapter, SHARES, sender=borrower)
    assert adapter.preview_redeem(SHARES) == 0 and adapter.max_redeem() == 0
    with ape.reverts("InsufficientPermissions"):
        adapter.redeem(SHARES, 0, borrower, sender=borrower)


# ---- SuperstateRedemption: views ----


def test_preview_redeem__open__matches_superstates_figure(ustb, route, deployer):
    adapter, redemption = route
    redemption.setRedemptionFee(5, sender=deployer)
    assert adapter.preview_redeem(SHARES) == redemption.calculateUsdcOut(SHARES)[0] > 0
    assert adapter.max_redeem() == redemption.maxUstbRedemptionAmount()[0] > 0
    assert adapter.fee_bps() == 5
    assert adapter.share_token() == ustb.token.address
    assert adapter.min_redeem() == 0
    assert adapter.facility() == redemption.address
    assert adapter.remaining_limit() == ustb.LIQUIDITY


@pytest.mark.parametrize("pause", ["transfers", "accounting", "redemption"])
def test_previews__a_pause__zero_without_reverting(ustb, deployer, pause):
    adapter = ustb.adapter
    if pause == "transfers":
        ustb.token.pause(sender=deployer)
    elif pause == "accounting":
        ustb.token.accountingPause(sender=deployer)
    else:
        ustb.redemption.pause(sender=deployer)
    assert adapter.preview_redeem(SHARES) == 0
    assert adapter.max_redeem() == 0


def test_previews__oracle_stale__zero_without_reverting(ustb, advance):
    adapter = ustb.adapter
    assert adapter.preview_redeem(SHARES) > 0
    advance(5 * DAY + 60)
    with ape.reverts("StaleCheckpoint"):
        ustb.redemption.calculateUsdcOut(SHARES)
    assert adapter.preview_redeem(SHARES) == 0
    assert adapter.max_redeem() == 0


def test_max_redeem__dry__zero_while_preview_still_prices(ustb, deployer, stablecoin):
    adapter = ustb.adapter
    ustb.redemption.withdraw(stablecoin, deployer, ustb.LIQUIDITY, sender=deployer)
    assert adapter.max_redeem() == 0
    assert adapter.remaining_limit() == 0
    assert adapter.preview_redeem(SHARES) > 0


def test_constructor__zero_address__reverts(ustb, project, stablecoin, spare):
    with ape.reverts("adapter: zero address"):
        spare.deploy(project.SuperstateRedemption, "0x" + "00" * 20, ustb.token, stablecoin)


# ---- SuperstateCompliance ----


def test_is_allowlisted__the_allow_list_for_the_funds_symbol(ustb, deployer, borrower, outsider):
    compliance = ustb.compliance
    assert compliance.is_allowlisted(borrower)
    assert not compliance.is_allowlisted(outsider)
    assert compliance.is_allowlisted(ustb.adapter)
    ustb.allow_list.setEntityAllowedForFund(2, "USTB", False, sender=deployer)
    assert not compliance.is_allowlisted(borrower)


def test_is_frozen__never__removal_shows_as_not_allowlisted(ustb, deployer, borrower):
    compliance = ustb.compliance
    assert not compliance.is_frozen(borrower)
    ustb.allow_list.setEntityIdForAddress(0, borrower, sender=deployer)
    assert not compliance.is_frozen(borrower)
    assert not compliance.is_allowlisted(borrower)


def test_paused__follows_the_tokens_transfer_pause(ustb, deployer):
    compliance = ustb.compliance
    assert not compliance.paused()
    ustb.token.accountingPause(sender=deployer)
    assert not compliance.paused()
    ustb.token.pause(sender=deployer)
    assert compliance.paused()


def test_can_transfer__spender_not_checked__receiver_checked(ustb, borrower, liquidator, outsider):
    compliance = ustb.compliance
    assert compliance.can_transfer(borrower, liquidator, outsider)
    assert not compliance.can_transfer(borrower, outsider, liquidator)
    assert not compliance.can_transfer(outsider, borrower, borrower)


def test_can_transfer__as_the_token_decides(
    ustb, ustb_holding, deployer, borrower, liquidator, outsider
):
    """Each prediction is checked against the token's real answer."""
    compliance, token = ustb.compliance, ustb.token
    token.approve(outsider, SHARES, sender=borrower)

    def check(receiver, reason):
        """The prediction, then the token's own answer on one share."""
        assert compliance.can_transfer(borrower, receiver, outsider) == (reason is None)
        if reason is None:
            token.transferFrom(borrower, receiver, 1, sender=outsider)
        else:
            with ape.reverts(reason):
                token.transferFrom(borrower, receiver, 1, sender=outsider)

    check(liquidator, None)
    token.pause(sender=deployer)
    check(liquidator, "Pausable: paused")
    # To the token itself: a burn, open while transfers are paused ...
    check(token, None)
    # ... and closed with the accounting.
    token.accountingPause(sender=deployer)
    check(token, "AccountingIsPaused")
    assert token.balanceOf(borrower) == SHARES - 2
