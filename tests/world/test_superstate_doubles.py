"""The Superstate doubles behave as docs/issuers.md says Superstate's
contracts do, quirks included: the token checks the owner of the shares,
never the spender; a transfer to the token burns (pause-free); a protocol
permission needs code; redemptions return nothing, keep the fee, floor
the price and (Yield) pay the caller."""

import ape
import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

SHARES = 1_000 * 10**6  # 1,000 USTB
DAY = 86_400


@pytest.fixture
def ustb_holding(ustb, deployer, borrower):
    """``borrower`` holds SHARES of USTB."""
    ustb.token.mint(borrower, SHARES, sender=deployer)
    return SHARES


# ---- AllowList ----


def test_set_protocol_permission__address_without_code__reverts(ustb, deployer, outsider):
    with ape.reverts("CodeSizeZero"):
        ustb.allow_list.setProtocolAddressPermission(outsider, "USTB", True, sender=deployer)


def test_set_protocol_permission__contract__allowed_for_that_fund_only(ustb, deployer, project):
    contract = deployer.deploy(project.SuperstateCompliance, ustb.token)
    tx = ustb.allow_list.setProtocolAddressPermission(contract, "USTB", True, sender=deployer)
    assert [
        (log.account, log.symbol, log.allowed)
        for log in tx.decode_logs(ustb.allow_list.ProtocolAddressPermissionSet)
    ] == [(contract.address, "USTB", True)]
    assert ustb.allow_list.isAddressAllowedForFund(contract, "USTB")
    assert not ustb.allow_list.isAddressAllowedForFund(contract, "USCC")
    assert ustb.token.isAllowed(contract)


def test_entity_and_protocol_permission__never_both(ustb, deployer, borrower):
    # A contract with a protocol permission cannot get an entity ...
    with ape.reverts("AddressHasProtocolPermissions"):
        ustb.allow_list.setEntityIdForAddress(9, ustb.adapter, sender=deployer)
    # ... and a contract with an entity cannot get a protocol permission.
    ustb.allow_list.setEntityIdForAddress(9, ustb.compliance, sender=deployer)
    with ape.reverts("AddressHasEntityId"):
        ustb.allow_list.setProtocolAddressPermission(ustb.compliance, "USTB", True, sender=deployer)


def test_allow_list_setters__not_the_issuer__revert(ustb, attacker):
    with ape.reverts("Unauthorized"):
        ustb.allow_list.setEntityIdForAddress(2, attacker, sender=attacker)
    with ape.reverts("Unauthorized"):
        ustb.allow_list.setEntityAllowedForFund(2, "USTB", True, sender=attacker)


def test_is_address_allowed_for_fund__entity_allowed_per_fund(ustb, deployer, borrower, outsider):
    assert ustb.allow_list.isAddressAllowedForFund(borrower, "USTB")
    assert not ustb.allow_list.isAddressAllowedForFund(borrower, "USCC")
    assert not ustb.allow_list.isAddressAllowedForFund(outsider, "USTB")
    ustb.allow_list.setEntityAllowedForFund(2, "USTB", False, sender=deployer)
    assert not ustb.token.isAllowed(borrower)


# ---- token ----


def test_transfer_from__spender_not_allowlisted__passes(
    ustb, ustb_holding, borrower, liquidator, outsider
):
    ustb.token.approve(outsider, SHARES, sender=borrower)
    tx = ustb.token.transferFrom(borrower, liquidator, SHARES, sender=outsider)
    assert ustb.token.balanceOf(liquidator) == SHARES
    assert [
        (log.sender, log.receiver, log.value) for log in tx.decode_logs(ustb.token.Transfer)
    ] == [(borrower.address, liquidator.address, SHARES)]


def test_transfer_from__receiver_not_allowlisted__reverts(
    ustb, ustb_holding, borrower, liquidator, outsider
):
    ustb.token.approve(liquidator, SHARES, sender=borrower)
    with ape.reverts("InsufficientPermissions"):
        ustb.token.transferFrom(borrower, outsider, SHARES, sender=liquidator)


def test_transfer__paused__reverts(ustb, ustb_holding, deployer, borrower, lender):
    ustb.token.pause(sender=deployer)
    with ape.reverts("Pausable: paused"):
        ustb.token.transfer(lender, 1, sender=borrower)
    ustb.token.unpause(sender=deployer)
    ustb.token.transfer(lender, 1, sender=borrower)
    assert ustb.token.balanceOf(lender) == 1


def test_transfer__to_the_token_while_paused__burns_as_offchain_redemption(
    ustb, ustb_holding, deployer, borrower
):
    ustb.token.pause(sender=deployer)
    tx = ustb.token.transfer(ustb.token, 400, sender=borrower)
    assert ustb.token.balanceOf(borrower) == SHARES - 400
    assert ustb.token.totalSupply() == SHARES - 400
    assert ustb.token.balanceOf(ustb.token) == 0
    assert [(log.src, log.amount) for log in tx.decode_logs(ustb.token.OffchainRedeem)] == [
        (borrower.address, 400)
    ]


def test_transfer__to_the_token_accounting_paused__reverts(ustb, ustb_holding, deployer, borrower):
    ustb.token.accountingPause(sender=deployer)
    with ape.reverts("AccountingIsPaused"):
        ustb.token.transfer(ustb.token, 400, sender=borrower)
    with ape.reverts("AccountingIsPaused"):
        ustb.token.offchainRedeem(400, sender=borrower)


def test_offchain_redeem__source_removed_from_allow_list__reverts(
    ustb, ustb_holding, deployer, borrower
):
    tx = ustb.token.offchainRedeem(100, sender=borrower)
    assert [log.amount for log in tx.decode_logs(ustb.token.OffchainRedeem)] == [100]
    ustb.allow_list.setEntityIdForAddress(0, borrower, sender=deployer)
    with ape.reverts("InsufficientPermissions"):
        ustb.token.offchainRedeem(100, sender=borrower)


def test_mint__not_allowlisted_receiver__reverts(ustb, deployer, outsider, lender):
    with ape.reverts("InsufficientPermissions"):
        ustb.token.mint(outsider, SHARES, sender=deployer)
    tx = ustb.token.mint(lender, SHARES, sender=deployer)
    assert [(log.to, log.amount) for log in tx.decode_logs(ustb.token.Mint)] == [
        (lender.address, SHARES)
    ]


def test_admin_burn__anyones_balance__only_by_the_issuer(
    ustb, ustb_holding, deployer, borrower, attacker
):
    with ape.reverts("Unauthorized"):
        ustb.token.adminBurn(borrower, SHARES, sender=attacker)
    tx = ustb.token.adminBurn(borrower, SHARES, sender=deployer)
    assert ustb.token.balanceOf(borrower) == 0
    assert [(log.src, log.amount) for log in tx.decode_logs(ustb.token.AdminBurn)] == [
        (borrower.address, SHARES)
    ]


# ---- Redemption ----


def test_redeem__abi__returns_nothing(project):
    redeem = [
        m
        for m in project.SuperstateRedemptionDouble.contract_type.abi
        if getattr(m, "name", "") == "redeem"
    ]
    assert len(redeem) == 1 and redeem[0].outputs == []


def test_redeem__idle__pays_to_the_net_and_keeps_the_fee(
    ustb, ustb_holding, deployer, stablecoin, borrower, lender
):
    redemption = ustb.redemption
    redemption.setRedemptionFee(10, sender=deployer)
    ustb.token.approve(redemption, SHARES, sender=borrower)
    tx = redemption.redeem(lender, SHARES, sender=borrower)
    (log,) = tx.decode_logs(redemption.Redeem)
    gross, net = log.usdcOutAmountBeforeFee, log.usdcOutAmountAfterFee
    # The price is the oracle's extrapolation, just above the struck NAV.
    assert SHARES * ustb.NAV // 10**6 <= gross < SHARES * (ustb.NAV + 1_000) // 10**6
    assert net == gross - gross * 10 // 10_000
    assert stablecoin.balanceOf(lender) == net
    # The fee stays: the contract lost the net only.
    assert stablecoin.balanceOf(redemption) == ustb.LIQUIDITY - net
    # The shares were burned through the token, none left here.
    assert ustb.token.totalSupply() == 0 and ustb.token.balanceOf(redemption) == 0
    assert (log.redeemer, log.to, log.superstateTokenInAmount) == (
        borrower.address,
        lender.address,
        SHARES,
    )


def test_redeem__yield_variant__pays_the_caller_not_to(
    ustb, ustb_holding, stablecoin, borrower, lender
):
    redemption = ustb.redemption_yield
    ustb.token.approve(redemption, SHARES, sender=borrower)
    tx = redemption.redeem(lender, SHARES, sender=borrower)
    (log,) = tx.decode_logs(redemption.Redeem)
    assert stablecoin.balanceOf(lender) == 0
    assert stablecoin.balanceOf(borrower) == log.usdcOutAmountAfterFee > 0
    # The event still names `to`.
    assert log.to == lender.address


def test_redeem__one_argument_form__pays_the_caller(ustb, ustb_holding, stablecoin, borrower):
    redemption = ustb.redemption
    ustb.token.approve(redemption, SHARES, sender=borrower)
    data = function_signature_to_4byte_selector("redeem(uint256)") + encode(["uint256"], [SHARES])
    borrower.transfer(redemption, 0, data=data)
    assert stablecoin.balanceOf(borrower) >= SHARES * ustb.NAV // 10**6
    assert ustb.token.balanceOf(borrower) == 0


def test_redeem__zero_or_paused__reverts(ustb, ustb_holding, deployer, borrower):
    redemption = ustb.redemption
    ustb.token.approve(redemption, SHARES, sender=borrower)
    with ape.reverts("BadArgs"):
        redemption.redeem(borrower, 0, sender=borrower)
    redemption.pause(sender=deployer)
    with ape.reverts("Pausable: paused"):
        redemption.redeem(borrower, SHARES, sender=borrower)


def test_redeem__dry__reverts_insufficient_balance(
    ustb, ustb_holding, deployer, stablecoin, borrower
):
    redemption = ustb.redemption
    tx = redemption.withdraw(stablecoin, deployer, ustb.LIQUIDITY, sender=deployer)
    assert [log.amount for log in tx.decode_logs(redemption.Withdraw)] == [ustb.LIQUIDITY]
    ustb.token.approve(redemption, SHARES, sender=borrower)
    with ape.reverts("InsufficientBalance"):
        redemption.redeem(borrower, SHARES, sender=borrower)


def test_redeem__to_unchecked__caller_checked_by_the_token(
    ustb, ustb_holding, deployer, stablecoin, borrower, outsider
):
    """The USDC may go anywhere; the shares' owner must be allowed."""
    ustb.token.approve(ustb.redemption, SHARES, sender=borrower)
    ustb.redemption.redeem(outsider, SHARES // 2, sender=borrower)
    assert stablecoin.balanceOf(outsider) > 0
    ustb.allow_list.setEntityAllowedForFund(2, "USTB", False, sender=deployer)
    with ape.reverts("InsufficientPermissions"):
        ustb.redemption.redeem(borrower, SHARES // 2, sender=borrower)


def test_redeem__oracle_stale__reverts_with_the_oracle(ustb, ustb_holding, borrower, advance):
    ustb.token.approve(ustb.redemption, SHARES, sender=borrower)
    advance(5 * DAY + 60)
    with ape.reverts("StaleCheckpoint"):
        ustb.redemption.redeem(borrower, SHARES, sender=borrower)
    with ape.reverts("StaleCheckpoint"):
        ustb.redemption.calculateUsdcOut(SHARES)


@pytest.mark.parametrize(
    "price, age, reason",
    [
        (699_999_999, 0, "BadChainlinkData"),
        (1_000_000_000, 2 * DAY, "BadChainlinkData"),
        (700_000_000, 0, None),
    ],
    ids=["under_7_dollars", "older_than_delay", "at_the_floor"],
)
def test_redeem__price_floor_and_delay(
    ustb, ustb_holding, project, deployer, stablecoin, borrower, chain, price, age, reason
):
    """Over an ordinary feed (8 decimals): under $7 or older than
    ``maximumOracleDelay`` (a day) is refused; exactly $7 passes."""
    feed = deployer.deploy(project.MockAggregator, 8, price)
    if age:
        feed.set_answer(price, chain.blocks.head.timestamp - age, sender=deployer)
    redemption = deployer.deploy(
        project.SuperstateRedemptionDouble, ustb.token, feed, stablecoin, DAY, False
    )
    ustb.admit(deployer, redemption)
    stablecoin.mint(redemption, ustb.LIQUIDITY, sender=deployer)
    ustb.token.approve(redemption, SHARES, sender=borrower)
    if reason:
        with ape.reverts(reason):
            redemption.redeem(borrower, SHARES, sender=borrower)
    else:
        redemption.redeem(borrower, SHARES, sender=borrower)
        assert stablecoin.balanceOf(borrower) == 7 * SHARES


def test_max_ustb_redemption_amount__net_fits_the_balance(ustb, deployer):
    redemption = ustb.redemption
    redemption.setRedemptionFee(7, sender=deployer)
    shares, price = redemption.maxUstbRedemptionAmount()
    net, same_price = redemption.calculateUsdcOut(shares)
    assert price == same_price >= ustb.NAV
    assert net <= ustb.LIQUIDITY
    assert redemption.calculateUsdcOut(shares + 2)[0] > ustb.LIQUIDITY - 30


def test_set_redemption_fee__above_10_bps__reverts(ustb, deployer, attacker):
    with ape.reverts("FeeTooHigh"):
        ustb.redemption.setRedemptionFee(11, sender=deployer)
    with ape.reverts("Unauthorized"):
        ustb.redemption.setRedemptionFee(1, sender=attacker)


# ---- subscription ----

CASH = 10_450 * 10**6  # $10,450


@pytest.fixture
def subscriptions(ustb, deployer, stablecoin, treasury, borrower):
    """The token prices subscriptions with the Superstate oracle (a day's
    delay) and takes the stablecoin at 10 bps, its cash to ``treasury``;
    ``borrower`` holds CASH and has approved the token."""
    ustb.token.setOracle(ustb.oracle, DAY, sender=deployer)
    ustb.token.setStablecoinConfig(stablecoin, treasury, 10, sender=deployer)
    stablecoin.mint(borrower, CASH, sender=deployer)
    stablecoin.approve(ustb.token, CASH, sender=borrower)
    return CASH


def test_subscribe__cash_to_the_issuer__shares_at_price_after_fee(
    ustb, subscriptions, stablecoin, treasury, borrower
):
    tx = ustb.token.subscribe(borrower, CASH, stablecoin, sender=borrower)
    (log,) = tx.decode_logs(ustb.token.Subscribe)
    net = CASH - CASH * 10 // 10_000
    assert (log.stablecoinInAmount, log.stablecoinInAmountAfterFee) == (CASH, net)
    # At the oracle's price now, just above the struck NAV, rounded down.
    shares = log.superstateTokenOutAmount
    assert net * 10**6 // (ustb.NAV + 1_000) < shares <= net * 10**6 // ustb.NAV
    assert ustb.token.balanceOf(borrower) == ustb.token.totalSupply() == shares
    assert stablecoin.balanceOf(treasury) == CASH
    assert stablecoin.balanceOf(ustb.token) == 0


def test_subscribe__to_another_entity__reverts__same_entity_passes(
    ustb, subscriptions, deployer, stablecoin, borrower, lender
):
    with ape.reverts("InsufficientPermissions"):
        ustb.token.subscribe(lender, CASH, stablecoin, sender=borrower)
    # The lender's address joins the borrower's entity (id 2).
    ustb.allow_list.setEntityIdForAddress(2, lender, sender=deployer)
    ustb.token.subscribe(lender, CASH, stablecoin, sender=borrower)
    assert ustb.token.balanceOf(lender) > 0


def test_subscribe__unsupported_stablecoin_or_accounting_paused__reverts(
    ustb, subscriptions, project, deployer, stablecoin, borrower
):
    other = deployer.deploy(project.MockERC20, "Other USD", "OUSD", 6)
    with ape.reverts("StablecoinNotSupported"):
        ustb.token.subscribe(borrower, CASH, other, sender=borrower)
    with ape.reverts("FeeTooHigh"):
        ustb.token.setStablecoinConfig(stablecoin, deployer, 11, sender=deployer)
    ustb.token.accountingPause(sender=deployer)
    with ape.reverts("AccountingIsPaused"):
        ustb.token.subscribe(borrower, CASH, stablecoin, sender=borrower)


@pytest.mark.parametrize("price, age", [(699_999_999, 0), (1_000_000_000, 2 * DAY)])
def test_subscribe__price_under_7_dollars_or_older_than_delay__reverts(
    ustb, subscriptions, project, deployer, stablecoin, borrower, chain, price, age
):
    feed = deployer.deploy(project.MockAggregator, 8, price)
    if age:
        feed.set_answer(price, chain.blocks.head.timestamp - age, sender=deployer)
    ustb.token.setOracle(feed, DAY, sender=deployer)
    with ape.reverts("BadChainlinkData"):
        ustb.token.subscribe(borrower, CASH, stablecoin, sender=borrower)
