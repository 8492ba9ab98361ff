# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Superstate Subscription Adapter
@license GNU Affero General Public License v3.0 only
@author navlend
@notice navlend's subscription facility (`ISubscriptionFacility`, what
        Leverage speaks) for one Superstate fund (USTB, USCC), over the
        fund token's own `subscribe(to, amount, stablecoin)`.
        - Superstate lets a subscriber buy for another address only within
          its own entity, and a contract admitted with a protocol
          permission has no entity: this adapter therefore subscribes for
          itself (`to` = this adapter), measures the shares it received
          (its balance after less before), enforces `min_shares` on that,
          and transfers exactly that to `receiver`.
        - The stablecoin goes from the caller through this adapter straight
          to Superstate; the fee (at most 10 bps) is taken by Superstate
          out of what is paid. Nothing stays here between calls.
        - Superstate refuses a price under $7 or older than the token's
          oracle delay, an unsupported stablecoin and paused accounting;
          `subscribe` checks the pauses and its own admission first, each
          with a reason, and otherwise passes Superstate's refusal on.
        - `preview_subscribe` never reverts: 0 while the token's transfers
          or accounting are paused, this adapter is not allowed by the
          fund, or Superstate's quote reverts (price unusable, stablecoin
          not accepted).
        - The receiver is never the token: a transfer to the token's own
          address burns the shares as an off-chain redemption.
        Superstate must admit, after deployment (a protocol permission
        needs code at the address), with `setProtocolAddressPermission(
        contract, symbol, true)` on the AllowList V2 for the fund's
        symbol: this adapter (it receives the minted shares) and every
        receiver of the shares: Leverage (it posts them for the user) and
        the market (it holds them), or an investor's own address as an
        allowed entity.
@custom:security Ownerless and stateless between calls: it holds no
                 stablecoin and no shares after a call, and gives nobody
                 an allowance that outlives it (Superstate pulls exactly
                 the amount approved). It does not check the receiver's
                 standing beyond what the token checks on the transfer:
                 Leverage checks the investor through the market's
                 compliance source.
"""


from ethereum.ercs import IERC20

from ..interfaces import ISubscriptionFacility
implements: ISubscriptionFacility

from ..interfaces import ISuperstateSubscription
from ..interfaces import ISuperstateToken


# ---- IMMUTABLES ----

# The Superstate fund token, which sells its own shares.
share_token: public(immutable(address))
# The stablecoin paid in: USDC.
payout_token: public(immutable(address))


# ---- EVENTS ----

event Subscribed:
    caller: indexed(address)
    receiver: indexed(address)
    assets: uint256
    shares: uint256


# ---- CONSTRUCTOR ----

@deploy
def __init__(share_token_: address, payout_token_: address):
    """
    @notice Deploys the adapter over one Superstate fund token.
    @param share_token_ The fund token (it sells its own shares).
    @param payout_token_ The stablecoin paid (one Superstate accepts).
    """
    assert share_token_ != empty(address), "adapter: zero address"
    assert payout_token_ != empty(address), "adapter: zero address"
    share_token = share_token_
    payout_token = payout_token_


# ---- SUBSCRIPTION ----

@external
def subscribe(assets: uint256, min_shares: uint256, receiver: address) -> uint256:
    """
    @notice Buys fund shares with `assets` of the caller's stablecoin and
            pays them to `receiver`.
    @dev Subscribes for this adapter itself (see the contract's notice),
         then transfers: the token checks this adapter and `receiver`
         against its AllowList on the transfer.
    @param assets The stablecoin (pulled with transferFrom).
    @param min_shares The fewest shares accepted.
    @param receiver The receiver of the shares (never the token).
    @return uint256 The shares paid to `receiver`, as measured.
    """
    assert assets != 0, "adapter: zero amount"
    assert receiver != empty(address) and receiver != share_token, "adapter: bad receiver"
    fund: ISuperstateToken = ISuperstateToken(share_token)
    assert not staticcall fund.paused(), "adapter: fund paused"
    assert not staticcall fund.accountingPaused(), "adapter: subscriptions paused"
    assert staticcall fund.isAllowed(self), "adapter: not allowed by the fund"

    cash_before: uint256 = staticcall IERC20(payout_token).balanceOf(self)
    assert extcall IERC20(payout_token).transferFrom(msg.sender, self, assets, default_return_value=True), \
        "adapter: transfer failed"
    assert extcall IERC20(payout_token).approve(share_token, assets, default_return_value=True), \
        "adapter: approve failed"
    before: uint256 = staticcall IERC20(share_token).balanceOf(self)
    extcall ISuperstateSubscription(share_token).subscribe(self, assets, payout_token)
    shares: uint256 = staticcall IERC20(share_token).balanceOf(self) - before
    # Superstate pulls exactly what it was approved for: nothing stays.
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
    @notice The shares `subscribe(assets)` would pay now, after
            Superstate's fee.
    @dev Never reverts: 0 when a subscription would be refused (pauses,
         this adapter not allowed, Superstate's quote reverting on the
         price or the stablecoin).
    @param assets The stablecoin.
    @return uint256 The shares, rounded down (Superstate's quote).
    """
    if assets == 0 or not self._open():
        return 0
    ok: bool = False
    data: Bytes[96] = b""
    ok, data = raw_call(
        share_token,
        abi_encode(assets, payout_token, method_id=method_id("calculateSuperstateTokenOut(uint256,address)")),
        max_outsize=96,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(data) != 96:
        return 0
    return extract32(data, 0, output_type=uint256)


@external
@view
def min_subscribe() -> uint256:
    """
    @notice The smallest subscription, in the stablecoin: Superstate sets
            none (a subscription worth less than one share unit is refused
            as zero shares).
    @return uint256 0.
    """
    return 0


# ---- INTERNAL FUNCTIONS ----

@internal
@view
def _open() -> bool:
    """
    @dev Whether a subscription can go through at all: the token's
         transfers and accounting unpaused, this adapter allowed.
    @return bool True when open.
    """
    fund: ISuperstateToken = ISuperstateToken(share_token)
    if staticcall fund.paused() or staticcall fund.accountingPaused():
        return False
    return staticcall fund.isAllowed(self)
