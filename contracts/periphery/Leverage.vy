# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title navlend Carry Leverage
@license GNU Affero General Public License v3.0 only
@author navlend
@notice The carry trade the funds' holders want (the fund's 4-5 % yield,
        financed below it), in one transaction each way, on an ordinary
        navlend position owned by the user:
        - `open`: flash-borrow the stablecoin, subscribe fund shares through
          the issuer's facility (and wrap them when the collateral is the
          accumulating wrapper), post them as the user's collateral, and
          borrow on the user's behalf to repay the flash loan;
        - `unwind`: flash-borrow the user's debt, repay it, withdraw the
          collateral, redeem it through the market's facility for that
          asset, repay the flash loan, and return the rest to the user.
        The user authorises this contract on the market
        (`set_authorization`) and approves it for the stablecoin; this
        contract must be allowlisted by the fund, since shares pass through
        it (Superstate: a protocol permission for the fund's symbol; Ondo:
        KYC in OUSG's group). It holds nothing between calls.
        The facility is anything that speaks `ISubscriptionFacility`: the
        local issuer's RedemptionFacility, or an adapter over an issuer's
        own subscribe path (SuperstateSubscription over the fund token's
        `subscribe`, OndoSubscription over the instant manager's `mint`).
        An asset without one cannot be opened here (the caller has no
        facility to name); `unwind` needs only the market's redemption
        facility.
@custom:security `onFlashLoan` acts only on a loan this contract started
        (the market as caller, this contract as initiator, a transient flag
        set by `open` or `unwind`), so no one can make it borrow for a user.
        It is `@reentrant` because it runs inside `open`/`unwind`, which
        hold this contract's lock. Shares pass through this contract, whom
        the issuer allowlists, so it checks the user itself against the
        market's compliance source for the asset (the fund token, or the
        adapter over an issuer's registry, as the market checks it): it
        must not become a way around the issuer's KYC. An asset whose
        market has no compliance source is refused, since this contract
        cannot tell a permissionless asset from an unconfigured one. Users bound every outcome: minimum collateral and maximum LTV
        on `open`, minimum stablecoin back on `unwind`.
@custom:kill Users stop calling it and revoke its market authorisation.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC4626

from ..interfaces import IERC3156FlashBorrower
from ..interfaces import IFundToken
from ..interfaces import IMarket
from ..interfaces import IMarketViews
from ..interfaces import IRedemptionFacility
from ..interfaces import ISubscriptionFacility

implements: IERC3156FlashBorrower


# @dev What an ERC-3156 borrower's callback returns.
CALLBACK_SUCCESS: constant(bytes32) = keccak256("ERC3156FlashBorrower.onFlashLoan")
# @dev Basis points in one.
BPS: constant(uint256) = 10_000
# @dev Highest target LTV accepted (the market checks its own limit too).
MAX_TARGET_LTV_BPS: constant(uint256) = 9_500
# @dev Callback actions.
_OPEN: constant(uint256) = 1
_UNWIND: constant(uint256) = 2

# @dev The market this contract levers positions on.
MARKET: public(immutable(IMarket))
# @dev The market's base asset (the stablecoin).
BASE: public(immutable(IERC20))

# @dev Set while `open` or `unwind` runs.
_active: transient(bool)


event Opened:
    user: indexed(address)
    token: indexed(address)
    equity: uint256
    collateral: uint256
    debt: uint256

event Unwound:
    user: indexed(address)
    token: indexed(address)
    collateral: uint256
    repaid: uint256
    returned: uint256


@deploy
def __init__(market: address):
    """
    @notice Deploys the leverage helper for `market`.
    @param market The navlend market.
    """
    MARKET = IMarket(market)
    BASE = IERC20(staticcall IMarketViews(market).asset())


@external
def open(
    token: address,
    facility: address,
    equity: uint256,
    target_ltv_bps: uint256,
    min_collateral: uint256,
    max_ltv_bps: uint256,
) -> (uint256, uint256):
    """
    @notice Turns `equity` of the caller's stablecoin into a levered
            position in `token` at about `target_ltv_bps` (debt over the
            stablecoin value subscribed).
    @param token The collateral: a fund share, or the wrapper over one.
    @param facility The fund's facility that subscribes the shares.
    @param equity The caller's stablecoin put in.
    @param target_ltv_bps Debt over exposure aimed at, flash fee included.
    @param min_collateral Least collateral posted, in `token` units.
    @param max_ltv_bps Most debt over exposure accepted after the fact.
    @return uint256 The collateral posted.
    @return uint256 The debt taken.
    """
    assert equity != 0, "leverage: zero equity"
    assert target_ltv_bps != 0 and target_ltv_bps <= MAX_TARGET_LTV_BPS, "leverage: bad target ltv"
    assert max_ltv_bps >= target_ltv_bps, "leverage: max ltv below target"
    share: address = staticcall ISubscriptionFacility(facility).share_token()
    assert self._fund_of(token) == share, "leverage: facility for another fund"
    assert staticcall ISubscriptionFacility(facility).payout_token() == BASE.address, \
        "leverage: facility takes another coin"
    self._check_investor(token, msg.sender)

    flash: uint256 = self._flash_for(equity, target_ltv_bps)
    assert flash != 0, "leverage: nothing to borrow"
    collateral_before: uint256 = staticcall IMarketViews(MARKET.address).collateral_of(msg.sender, token)
    debt_before: uint256 = staticcall IMarketViews(MARKET.address).debt_of(msg.sender)

    assert extcall BASE.transferFrom(msg.sender, self, equity, default_return_value=True), \
        "leverage: transfer failed"
    self._active = True
    extcall MARKET.flashLoan(IERC3156FlashBorrower(self), BASE.address, flash, abi_encode(_OPEN, msg.sender, token, facility, min_collateral))
    self._active = False

    # What this call added, whatever the position held before.
    collateral: uint256 = staticcall IMarketViews(MARKET.address).collateral_of(msg.sender, token) - collateral_before
    debt: uint256 = staticcall IMarketViews(MARKET.address).debt_of(msg.sender) - debt_before
    assert debt * BPS <= max_ltv_bps * (equity + flash), "leverage: ltv above maximum"
    log Opened(user=msg.sender, token=token, equity=equity, collateral=collateral, debt=debt)
    return collateral, debt


@external
def unwind(token: address, min_out: uint256) -> uint256:
    """
    @notice Closes the caller's position in `token`: repays all its debt
            with a flash loan, withdraws and redeems all its `token`
            collateral, and returns what is left in the stablecoin.
    @param token The collateral to unwind.
    @param min_out Least stablecoin returned to the caller.
    @return uint256 The stablecoin returned.
    """
    collateral: uint256 = staticcall IMarketViews(MARKET.address).collateral_of(msg.sender, token)
    assert collateral != 0, "leverage: no collateral"
    debt: uint256 = staticcall IMarketViews(MARKET.address).debt_of(msg.sender)
    facility: address = (staticcall IMarketViews(MARKET.address).asset_config(token)).facility
    assert facility != empty(address), "leverage: no facility"
    self._check_investor(token, msg.sender)

    self._active = True
    if debt != 0:
        extcall MARKET.flashLoan(IERC3156FlashBorrower(self), BASE.address, debt, abi_encode(_UNWIND, msg.sender, token, facility, collateral))
    else:
        self._exit(msg.sender, token, facility, collateral)
    self._active = False

    returned: uint256 = staticcall BASE.balanceOf(self)
    assert returned >= min_out, "leverage: slippage"
    if returned != 0:
        assert extcall BASE.transfer(msg.sender, returned, default_return_value=True), "leverage: transfer failed"
    log Unwound(user=msg.sender, token=token, collateral=collateral, repaid=debt, returned=returned)
    return returned


@external
@reentrant
def onFlashLoan(initiator: address, token: address, amount: uint256, fee: uint256, data: Bytes[4_096]) -> bytes32:
    """
    @notice The ERC-3156 callback: carries out the open or the unwind.
    @param initiator Must be this contract.
    @param token Must be the base asset.
    @param amount The amount lent.
    @param fee The fee owed.
    @param data The action and its parameters.
    @return bytes32 The ERC-3156 success value.
    """
    assert msg.sender == MARKET.address, "leverage: not the market"
    assert initiator == self and self._active, "leverage: not initiated here"
    assert token == BASE.address, "leverage: wrong token"
    action: uint256 = 0
    user: address = empty(address)
    collateral_token: address = empty(address)
    facility: address = empty(address)
    value: uint256 = 0
    action, user, collateral_token, facility, value = abi_decode(data, (uint256, address, address, address, uint256))

    if action == _OPEN:
        self._enter(user, collateral_token, facility, value, amount + fee)
    else:
        self._approve(BASE.address, MARKET.address, amount)
        extcall MARKET.repay(amount, user)
        self._exit(user, collateral_token, facility, value)
    self._approve(BASE.address, MARKET.address, amount + fee)
    return CALLBACK_SUCCESS


@internal
def _enter(user: address, token: address, facility: address, min_collateral: uint256, owed: uint256):
    """
    @dev Subscribes shares with all the stablecoin held, wraps them if the
         collateral is the wrapper, posts them for `user`, and borrows
         `owed` on the user's behalf to this contract.
    @param user The position's owner.
    @param token The collateral.
    @param facility The subscription facility.
    @param min_collateral Least collateral posted.
    @param owed The flash loan plus its fee.
    """
    cash: uint256 = staticcall BASE.balanceOf(self)
    self._approve(BASE.address, facility, cash)
    shares: uint256 = extcall ISubscriptionFacility(facility).subscribe(cash, 0, self)
    share: address = staticcall ISubscriptionFacility(facility).share_token()
    if share != token:
        self._approve(share, token, shares)
        shares = extcall IERC4626(token).deposit(shares, self)
    assert shares >= min_collateral, "leverage: collateral below minimum"
    self._approve(token, MARKET.address, shares)
    extcall MARKET.supply_collateral(token, shares, user)
    extcall MARKET.borrow(owed, user, self)


@internal
def _exit(user: address, token: address, facility: address, collateral: uint256):
    """
    @dev Withdraws `collateral` of `user`'s `token` to this contract and
         redeems it through `facility` for the stablecoin.
    @param user The position's owner.
    @param token The collateral.
    @param facility The market's redemption facility for `token`.
    @param collateral The amount.
    """
    extcall MARKET.withdraw_collateral(token, collateral, user, self)
    self._approve(token, facility, collateral)
    extcall IRedemptionFacility(facility).redeem(collateral, 0, self)


@internal
@view
def _flash_for(equity: uint256, target_ltv_bps: uint256) -> uint256:
    """
    @dev The flash loan that takes `equity` to `target_ltv_bps`: exposure
         X = equity + F with debt F + fee(F) = L x X, solved in closed form
         and then trimmed so that the rounded-up fee never lifts the debt
         above the target (a unit or two at most).
    @param equity The user's stablecoin.
    @param target_ltv_bps The target debt over exposure.
    @return uint256 The flash loan.
    """
    fee_per_unit: uint256 = staticcall IMarketViews(MARKET.address).flashFee(BASE.address, BPS * BPS)
    gross: uint256 = BPS * BPS + fee_per_unit
    flash: uint256 = equity * gross // (gross - target_ltv_bps * BPS) - equity
    for _: uint256 in range(4):
        if flash == 0:
            break
        owed: uint256 = flash + staticcall IMarketViews(MARKET.address).flashFee(BASE.address, flash)
        if owed * BPS <= target_ltv_bps * (equity + flash):
            break
        flash -= 1
    return flash


@internal
@view
def _fund_of(token: address) -> address:
    """
    @dev The fund share behind `token`: the ERC-4626 asset of a wrapper, or
         the token itself (a fund share has no `asset()`).
    @param token The collateral.
    @return address The fund share.
    """
    success: bool = False
    response: Bytes[32] = b""
    success, response = raw_call(
        token, method_id("asset()"), max_outsize=32, is_static_call=True, revert_on_failure=False
    )
    if success and len(response) == 32:
        return abi_decode(response, address)
    return token


@internal
@view
def _check_investor(token: address, user: address):
    """
    @dev Reverts unless the market's compliance source for `token` admits
         `user`: allowlisted and not frozen. The source is what the market
         itself checks: the fund token when it answers the compliance
         views, the wrapper's fund, or an issuer's adapter
         (SuperstateCompliance, OndoCompliance) for a token with another
         interface. No source: refused (see @custom:security).
    @param token The collateral (listed on the market).
    @param user The investor.
    """
    source: address = staticcall IMarketViews(MARKET.address).asset_compliance(token)
    assert source != empty(address), "leverage: asset has no compliance source"
    assert staticcall IFundToken(source).is_allowlisted(user), "leverage: user not allowlisted"
    assert not staticcall IFundToken(source).is_frozen(user), "leverage: user frozen"


@internal
def _approve(token: address, spender: address, amount: uint256):
    """
    @dev Sets `spender`'s allowance on `token` to `amount`.
    @param token The token.
    @param spender The spender.
    @param amount The allowance.
    """
    assert extcall IERC20(token).approve(spender, amount, default_return_value=True), "leverage: approve failed"
