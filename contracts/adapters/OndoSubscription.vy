# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Ondo OUSG Subscription Adapter
@license GNU Affero General Public License v3.0 only
@author navlend
@notice navlend's subscription facility (`ISubscriptionFacility`, what
        Leverage speaks) for OUSG, over Ondo's 2024 instant manager's
        `mint(usdc) -> ousg`, which pays the caller.
        - `subscribe` pulls the USDC from its caller, calls `mint` with
          this adapter as the caller (so the OUSG lands here), measures the
          OUSG it received (its balance after less before: the manager's
          return value is not trusted), enforces `min_shares` on that and
          transfers exactly that to `receiver`.
        - Ondo's terms: at least `minimumDepositAmount` ($100,000) of USDC,
          a price strictly above $105 (`getOUSGPrice` reverts at the
          floor), a fee of `mintFee` bps of the USDC kept by Ondo, and the
          manager's own pause (`mintPaused`) besides OUSG's. `subscribe`
          checks each it can read first, with its own reason.
        - `preview_subscribe` never reverts: 0 while OUSG or the manager's
          subscriptions are paused, below the minimum, at or under the
          price floor, or while this adapter is not KYC'd. It is exactly
          what the manager mints otherwise:
          (usdc - fee) x 1e12 x 1e18 / price, rounded down.
        Who Ondo must KYC (OUSG's requirement group, 1), since OUSG checks
        the caller, the sender and the receiver of every movement: this
        adapter (it receives the minted OUSG, and is the caller and sender
        of the transfer on), every receiver of the shares: Leverage (it
        posts them for the user) and the market (it holds them), and the
        investor on whose behalf Leverage acts (the market's compliance
        source checks it).
@custom:security Ownerless and stateless between calls: it holds no USDC
                 and no OUSG after a call; the manager pulls exactly the
                 USDC approved.
"""


from ethereum.ercs import IERC20

from ..interfaces import ISubscriptionFacility
implements: ISubscriptionFacility

from ..interfaces import IKycRegistry
from ..interfaces import IOusg
from ..interfaces import IOusgInstantManager
from ..interfaces import IOusgInstantMint


# ---- CONSTANTS ----

# USDC (6 decimals) up to OUSG (18 decimals) at an 18-decimal price.
_SCALE: constant(uint256) = 10**30
# Basis points in one.
_BPS: constant(uint256) = 10_000


# ---- IMMUTABLES ----

# Ondo's instant manager.
manager: public(immutable(address))
# OUSG.
share_token: public(immutable(address))
# USDC.
payout_token: public(immutable(address))


# ---- EVENTS ----

event Subscribed:
    caller: indexed(address)
    receiver: indexed(address)
    assets: uint256
    shares: uint256


# ---- CONSTRUCTOR ----

@deploy
def __init__(manager_: address):
    """
    @notice Deploys the adapter over Ondo's instant manager (OUSG and USDC
            read from it).
    @param manager_ The instant manager.
    """
    assert manager_ != empty(address), "adapter: zero address"
    manager = manager_
    share_token = staticcall IOusgInstantManager(manager_).ousg()
    payout_token = staticcall IOusgInstantManager(manager_).usdc()


# ---- SUBSCRIPTION ----

@external
def subscribe(assets: uint256, min_shares: uint256, receiver: address) -> uint256:
    """
    @notice Buys OUSG with `assets` of the caller's USDC and pays it to
            `receiver` (which Ondo must have KYC'd).
    @param assets The USDC (pulled with transferFrom), at least Ondo's
           minimum.
    @param min_shares The least OUSG accepted.
    @param receiver The receiver of the OUSG.
    @return uint256 The OUSG paid to `receiver`, as measured.
    """
    assert assets != 0, "adapter: zero amount"
    assert receiver != empty(address), "adapter: bad receiver"
    assert not staticcall IOusg(share_token).paused(), "adapter: fund paused"
    assert not staticcall IOusgInstantMint(manager).mintPaused(), "adapter: subscriptions paused"
    assert assets >= staticcall IOusgInstantMint(manager).minimumDepositAmount(), \
        "adapter: below the issuer's minimum"
    assert self._kyc(self), "adapter: not KYC'd by the fund"

    cash_before: uint256 = staticcall IERC20(payout_token).balanceOf(self)
    assert extcall IERC20(payout_token).transferFrom(msg.sender, self, assets, default_return_value=True), \
        "adapter: transfer failed"
    assert extcall IERC20(payout_token).approve(manager, assets, default_return_value=True), \
        "adapter: approve failed"
    before: uint256 = staticcall IERC20(share_token).balanceOf(self)
    extcall IOusgInstantMint(manager).mint(assets)
    shares: uint256 = staticcall IERC20(share_token).balanceOf(self) - before
    # The manager pulls exactly what it was approved for: nothing stays.
    assert staticcall IERC20(payout_token).balanceOf(self) == cash_before, "adapter: stablecoin left over"
    assert shares != 0 and shares >= min_shares, "adapter: slippage"
    assert extcall IERC20(share_token).transfer(receiver, shares, default_return_value=True), \
        "adapter: transfer failed"
    log Subscribed(caller=msg.sender, receiver=receiver, assets=assets, shares=shares)
    return shares


@external
@view
def preview_subscribe(assets: uint256) -> uint256:
    """
    @notice The OUSG `subscribe(assets)` would pay now, after Ondo's fee.
    @dev Never reverts: 0 when the manager would refuse (pauses, minimum,
         price floor) or this adapter is not KYC'd.
    @param assets The USDC.
    @return uint256 The OUSG, rounded down as the manager rounds.
    """
    if assets == 0 or staticcall IOusg(share_token).paused() or not self._kyc(self):
        return 0
    ok: bool = False
    word: uint256 = 0
    ok, word = self._probe(method_id("mintPaused()"))
    if not ok or word != 0:
        return 0
    minimum: uint256 = 0
    ok, minimum = self._probe(method_id("minimumDepositAmount()"))
    if not ok or assets < minimum:
        return 0
    fee_bps: uint256 = 0
    ok, fee_bps = self._probe(method_id("mintFee()"))
    if not ok or fee_bps > _BPS:
        return 0
    price: uint256 = 0
    ok, price = self._probe(method_id("getOUSGPrice()"))
    if not ok or price == 0:
        return 0
    # As the manager: the fee rounded down (in Ondo's favour on the net),
    # the OUSG rounded down.
    return (assets - assets * fee_bps // _BPS) * _SCALE // price


@external
@view
def min_subscribe() -> uint256:
    """
    @notice The smallest subscription, in USDC: Ondo's minimum deposit
            (max_value(uint256) while the manager cannot be read).
    @return uint256 USDC units.
    """
    ok: bool = False
    minimum: uint256 = 0
    ok, minimum = self._probe(method_id("minimumDepositAmount()"))
    if not ok:
        return max_value(uint256)
    return minimum


# ---- INTERNAL FUNCTIONS ----

@internal
@view
def _kyc(account: address) -> bool:
    """
    @dev Ondo's KYC status of `account` in OUSG's requirement group.
    @param account The address.
    @return bool The status.
    """
    registry: address = staticcall IOusg(share_token).kycRegistry()
    group: uint256 = staticcall IOusg(share_token).kycRequirementGroup()
    return staticcall IKycRegistry(registry).getKYCStatus(group, account)


@internal
@view
def _probe(data: Bytes[4]) -> (bool, uint256):
    """
    @dev One word from a view of the manager without arguments, or
         (False, 0) when it reverts or answers anything but one word (the
         manager's `getOUSGPrice` reverts at the floor by design, and a
         preview must never revert).
    @param data The selector.
    @return bool Whether it answered one word.
    @return uint256 The word.
    """
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(manager, data, max_outsize=32, is_static_call=True, revert_on_failure=False)
    if not ok or len(response) != 32:
        return False, 0
    return True, convert(response, uint256)
