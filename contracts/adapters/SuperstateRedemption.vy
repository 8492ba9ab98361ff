# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Superstate Redemption Adapter
@license GNU Affero General Public License v3.0 only
@author navlend
@notice navlend's redemption facility (`IRedemptionFacility`) for one
        Superstate fund (USTB, USCC), over Superstate's instant
        redemption contract (RedemptionIdle or RedemptionYield).
        - `redeem` holds the shares only within the call: it pulls them
          from the caller (the market, on the redeem route), approves the
          Redemption contract for exactly that amount and calls
          `redeem(self, shares)`, so the adapter itself is the payee. That
          works for RedemptionIdle (pays `to`) and RedemptionYield (pays
          the caller, whatever `to` says) alike.
        - Superstate's `redeem` returns nothing and takes no minimum: the
          adapter measures the USDC it received (its balance after less
          before, so nothing sent here earlier counts), enforces `min_out`
          on that, and forwards exactly that to `receiver`.
        - `redeem_received` (`IGatheredRedemption`) redeems every share
          the adapter holds the same way: the FlashLiquidator's gathered
          batch has the market's seize route send it the shares of several
          positions, then redeems them at once (Superstate has no minimum
          to reach, so this only saves redemptions; Ondo's adapter needs
          it for its $50,000 minimum).
        - `preview_redeem` and `max_redeem` never revert (Superstate's
          views revert when the oracle cannot price): 0 while the token's
          transfers or accounting are paused, the Redemption contract is
          paused or cannot price (a stale oracle, a price under its $7
          floor), or this adapter is not allowed by the fund; `max_redeem`
          is also 0 when the Redemption contract holds no USDC.
        - The receiver is never the token: a transfer to the token's own
          address burns the shares as an off-chain redemption.
        Superstate must admit, after deployment (a protocol permission
        needs code at the address), for the fund's symbol: the market
        (it holds the shares) and this adapter (it holds them within a
        redemption), each with `setProtocolAddressPermission(contract,
        symbol, true)` on the AllowList V2. (Superstate's Redemption
        contract, which takes the shares from this adapter, is admitted by
        Superstate with the rest of its own set-up.)
@custom:security Ownerless and stateless between transactions: it trusts
                 the Redemption contract to pay at the oracle's price; a
                 short payment is caught by `min_out`.
                 `redeem_received` is open to anyone and pays its caller's
                 receiver for every share the adapter holds, whoever sent
                 them: shares must reach the adapter only in the
                 transaction that redeems them (the gathered batch does
                 both under one flash loan). Shares sent here any other
                 way are a gift to the next caller; only their sender
                 loses them.
"""


from ethereum.ercs import IERC20

from ..interfaces import IGatheredRedemption
from ..interfaces import IRedemptionFacility
implements: IRedemptionFacility
implements: IGatheredRedemption

from ..interfaces import ISuperstateRedemption
from ..interfaces import ISuperstateToken


# ---- IMMUTABLES ----

# Superstate's Redemption contract (Idle or Yield).
redemption: public(immutable(address))
# The fund token redeemed (IRedemptionFacility).
share_token: public(immutable(address))
# The stablecoin paid (IRedemptionFacility): USDC.
payout_token: public(immutable(address))


# ---- EVENTS ----

event Redeemed:
    caller: indexed(address)
    receiver: indexed(address)
    shares: uint256
    payout: uint256


# ---- CONSTRUCTOR ----

@deploy
def __init__(redemption_: address, share_token_: address, payout_token_: address):
    """
    @notice Deploys the adapter over one Redemption contract.
    @param redemption_ Superstate's Redemption contract for the fund.
    @param share_token_ The fund token it redeems.
    @param payout_token_ The USDC it pays.
    """
    assert redemption_ != empty(address), "adapter: zero address"
    assert share_token_ != empty(address), "adapter: zero address"
    assert payout_token_ != empty(address), "adapter: zero address"
    redemption = redemption_
    share_token = share_token_
    payout_token = payout_token_


# ---- REDEMPTION ----

@external
def redeem(shares: uint256, min_out: uint256, receiver: address) -> uint256:
    """
    @notice Redeems `shares` of the caller for USDC paid to `receiver`.
    @dev The caller and this adapter must be allowed by the fund (the
         token checks both on the pull), and so must the Redemption
         contract. The payout is what this adapter received, already
         rounded down by Superstate (the fee rounded in its favour).
    @param shares The fund shares (pulled with transferFrom).
    @param min_out The least USDC accepted.
    @param receiver The USDC receiver (never the token).
    @return uint256 The USDC paid to `receiver`.
    """
    assert shares != 0, "adapter: zero amount"
    assert receiver != empty(address) and receiver != share_token, "adapter: bad receiver"
    assert extcall IERC20(share_token).transferFrom(msg.sender, self, shares, default_return_value=True), \
        "adapter: pull failed"
    return self._redeem_held(shares, min_out, receiver)


@external
def redeem_received(min_out: uint256, receiver: address) -> uint256:
    """
    @notice Redeems every share this adapter holds (what the market's
            seize route sent it earlier in this transaction) in one
            redemption, and pays `receiver` the USDC received.
    @dev Anyone may call it: see @custom:security for shares sent here
         outside such a transaction.
    @param min_out The least USDC accepted.
    @param receiver The USDC receiver (never the token).
    @return uint256 The USDC paid to `receiver`.
    """
    assert receiver != empty(address) and receiver != share_token, "adapter: bad receiver"
    shares: uint256 = staticcall IERC20(share_token).balanceOf(self)
    assert shares != 0, "adapter: zero amount"
    return self._redeem_held(shares, min_out, receiver)


@external
@view
def preview_redeem(shares: uint256) -> uint256:
    """
    @notice The USDC `redeem(shares)` would pay now, ignoring liquidity.
    @dev Never reverts: 0 when a redemption of any size would revert
         (pauses, no price, adapter not allowed).
    @param shares The fund shares.
    @return uint256 The USDC after the fee, rounded down.
    """
    if not self._open():
        return 0
    ok: bool = False
    net: uint256 = 0
    price: uint256 = 0
    ok, net, price = self._pair(abi_encode(shares, method_id=method_id("calculateUsdcOut(uint256)")))
    return net


@external
@view
def max_redeem() -> uint256:
    """
    @notice The most shares one `redeem` can take now: what the USDC the
            Redemption contract holds pays for.
    @dev Never reverts: 0 when `preview_redeem` is, or when dry.
    @return uint256 The shares, rounded down.
    """
    if not self._open():
        return 0
    ok: bool = False
    shares: uint256 = 0
    price: uint256 = 0
    ok, shares, price = self._pair(method_id("maxUstbRedemptionAmount()"))
    return shares


@external
@view
def fee_bps() -> uint256:
    """
    @notice Superstate's redemption fee.
    @return uint256 Basis points.
    """
    return staticcall ISuperstateRedemption(redemption).redemptionFee()


@external
@view
def min_redeem() -> uint256:
    """
    @notice The smallest redemption, in shares: none.
    @return uint256 0.
    """
    return 0


@external
@view
def facility() -> address:
    """
    @notice The contract that holds the cash: Superstate's Redemption
            contract (the keeper reads its USDC as the liquidity, as it
            does a WrappedFacility's inner facility).
    @return address The Redemption contract.
    """
    return redemption


@external
@view
def remaining_limit() -> uint256:
    """
    @notice The USDC the Redemption contract can still pay (Superstate has
            no rolling limit: its liquidity is the bound).
    @return uint256 Its USDC balance.
    """
    return staticcall IERC20(payout_token).balanceOf(redemption)


# ---- INTERNAL FUNCTIONS ----

@internal
def _redeem_held(shares: uint256, min_out: uint256, receiver: address) -> uint256:
    """
    @dev Redeems `shares` the adapter holds with itself as the payee,
         measures the USDC received, enforces `min_out` and forwards it.
    @param shares The fund shares held, non-zero.
    @param min_out The least USDC accepted.
    @param receiver The USDC receiver, checked by the caller.
    @return uint256 The USDC paid.
    """
    assert extcall IERC20(share_token).approve(redemption, shares, default_return_value=True), \
        "adapter: approve failed"
    before: uint256 = staticcall IERC20(payout_token).balanceOf(self)
    extcall ISuperstateRedemption(redemption).redeem(self, shares)
    received: uint256 = staticcall IERC20(payout_token).balanceOf(self) - before
    assert received != 0 and received >= min_out, "adapter: slippage"
    assert extcall IERC20(payout_token).transfer(receiver, received, default_return_value=True), \
        "adapter: push failed"
    log Redeemed(caller=msg.sender, receiver=receiver, shares=shares, payout=received)
    return received


@internal
@view
def _open() -> bool:
    """
    @dev Whether a redemption can go through at all: the token's
         transfers and accounting unpaused, this adapter allowed, the
         Redemption contract unpaused (a failing probe reads as paused).
    @return bool True when open.
    """
    if staticcall ISuperstateToken(share_token).paused():
        return False
    if staticcall ISuperstateToken(share_token).accountingPaused():
        return False
    if not staticcall ISuperstateToken(share_token).isAllowed(self):
        return False
    ok: bool = False
    data: Bytes[32] = b""
    ok, data = raw_call(
        redemption, method_id("paused()"), max_outsize=32, is_static_call=True, revert_on_failure=False
    )
    if not ok or len(data) != 32:
        return False
    return convert(data, uint256) == 0


@internal
@view
def _pair(payload: Bytes[36]) -> (bool, uint256, uint256):
    """
    @dev Calls a two-word view of the Redemption contract (it reverts when
         the oracle cannot price): (False, 0, 0) on a revert or a
         malformed answer.
    @param payload The call data.
    @return bool Whether it answered.
    @return uint256 The first word.
    @return uint256 The second word.
    """
    ok: bool = False
    data: Bytes[64] = b""
    ok, data = raw_call(redemption, payload, max_outsize=64, is_static_call=True, revert_on_failure=False)
    if not ok or len(data) != 64:
        return False, 0, 0
    return True, extract32(data, 0, output_type=uint256), extract32(data, 32, output_type=uint256)
