# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Ondo OUSG Redemption Adapter
@license GNU Affero General Public License v3.0 only
@author navlend
@notice navlend's `IRedemptionFacility` for OUSG, over Ondo's 2024 instant
        manager, so that the market's redeem route and the FlashLiquidator
        can turn seized OUSG into USDC with no KYC of the liquidator.
        - `redeem` holds the shares only within the call: it pulls them
          from the caller (the market), approves the manager for exactly
          that amount, redeems with itself as the payee (the manager pays
          its caller), measures the USDC it received, reverts "adapter:
          slippage" below `min_out` (the manager takes no minimum) and
          forwards the USDC to `receiver`. The manager's own refusals
          (pause, price floor, $50,000 minimum, shared limit, liquidity)
          come through with the manager's reasons.
        - `redeem_received` (`IGatheredRedemption`) redeems every OUSG
          the adapter holds the same way, for the FlashLiquidator's
          gathered batch: the market's seize route sends the shares of
          several small positions here, and one redemption reaches the
          manager's $50,000 minimum that none reaches alone.
        - `preview_redeem` and `max_redeem` never revert: every read of
          the manager and the token is a raw call whose failure is an
          answer. Both are 0 while OUSG or redemptions are paused, while
          Ondo has not KYC'd this adapter (OUSG would refuse its pull), while
          the price is at or below Ondo's $105 floor (the manager's
          `getOUSGPrice` reverts there), and when the amount is under the
          minimum or beyond what the shared limit or the manager's
          liquidity allows: the manager would revert.
        - Amounts: gross = shares x price / 1e30, rounded down, the
          manager's own arithmetic; the fee (bps of the gross, rounded
          down) is the manager's too, so `preview_redeem` is exactly what
          `redeem` pays. `max_redeem` converts the tighter of the remaining
          limit and the reachable liquidity to shares rounded down (its
          gross never exceeds either); `min_redeem` converts the $50,000
          minimum rounded up (its gross always reaches it).
        Who Ondo must KYC (group 1): the market (it holds the shares and
        is the sender of every pull), this adapter (the spender of the
        pull and the holder while it redeems) and, for the seize route
        only, the liquidator who receives shares. A liquidator using the
        redeem route needs no KYC: it receives USDC.
@custom:security Ownerless and stateless between transactions: it holds
                 no OUSG and no USDC after a call. It trusts the
                 manager's arithmetic for previews, and measures what it
                 is paid.
                 `redeem_received` is open to anyone and pays whoever
                 calls it for every OUSG the adapter holds, whoever sent
                 it: the adapter cannot tell whose shares it holds. So
                 shares must reach it only in the transaction that
                 redeems them (the FlashLiquidator's gathered batch
                 does both under one flash loan, and no one can act in
                 between). OUSG sent here any other way (by mistake, or a
                 seize-route liquidation to the adapter redeemed in a
                 later transaction) is a gift to the next caller; only
                 the sender loses it, and nothing else changes. A KYC'd
                 holder can make a gathered batch revert only by giving
                 the adapter enough OUSG to push the gross past the
                 manager's limit or liquidity, and loses those shares to
                 the next caller; the batch's own shares never stay here
                 (a revert undoes their seizure).
"""


from ethereum.ercs import IERC20

from ..interfaces import IGatheredRedemption
from ..interfaces import IOusgInstantManager
from ..interfaces import IRedemptionFacility
implements: IRedemptionFacility
implements: IGatheredRedemption

from snekmate.utils import math


# ---- CONSTANTS ----

# Version of this adapter's logic.
VERSION: public(constant(uint256)) = 1
# Ondo's price floor: redemptions need a price strictly above $105.
PRICE_FLOOR: public(constant(uint256)) = 105 * 10**18
# OUSG (18 decimals) x price (18 decimals) down to USDC (6 decimals).
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
# BUIDL, which the manager redeems for USDC.
buidl: public(immutable(address))


# ---- STRUCTS ----

# What the manager would do now.
struct _Quote:
    ok: bool
    price: uint256
    fee_bps: uint256
    minimum: uint256
    remaining: uint256
    max_gross: uint256


# ---- EVENTS ----

event Redeemed:
    caller: indexed(address)
    receiver: indexed(address)
    shares: uint256
    payout: uint256


# ---- CONSTRUCTOR ----

@deploy
def __init__(manager_: address):
    """
    @notice Deploys the adapter over Ondo's instant manager. Ondo must
            then KYC this adapter (group 1) before it can redeem.
    @param manager_ The OUSG instant manager.
    """
    assert manager_ != empty(address), "adapter: zero address"
    manager = manager_
    share_token = staticcall IOusgInstantManager(manager_).ousg()
    payout_token = staticcall IOusgInstantManager(manager_).usdc()
    buidl = staticcall IOusgInstantManager(manager_).buidl()


# ---- REDEMPTION ----

@external
def redeem(shares: uint256, min_out: uint256, receiver: address) -> uint256:
    """
    @notice Pulls `shares` OUSG from the caller, redeems them at Ondo's
            instant manager and pays `receiver` the USDC received.
    @param shares The OUSG (18 decimals).
    @param min_out The least USDC accepted.
    @param receiver The USDC receiver.
    @return uint256 The USDC paid, as measured.
    """
    assert receiver != empty(address), "adapter: zero address"
    assert shares != 0, "adapter: zero amount"
    assert extcall IERC20(share_token).transferFrom(msg.sender, self, shares, default_return_value=True), \
        "adapter: pull failed"
    return self._redeem_held(shares, min_out, receiver)


@external
def redeem_received(min_out: uint256, receiver: address) -> uint256:
    """
    @notice Redeems every OUSG this adapter holds (what the market's seize
            route sent it earlier in this transaction) at Ondo's instant
            manager in one redemption, and pays `receiver` the USDC
            received.
    @dev Anyone may call it: see @custom:security for shares sent here
         outside such a transaction. The manager's refusals (a total
         under its minimum, pauses, floor, limit, liquidity) come through
         with its reasons; `preview_redeem` of the held shares answers
         what this pays.
    @param min_out The least USDC accepted.
    @param receiver The USDC receiver.
    @return uint256 The USDC paid, as measured.
    """
    assert receiver != empty(address), "adapter: zero address"
    shares: uint256 = staticcall IERC20(share_token).balanceOf(self)
    assert shares != 0, "adapter: zero amount"
    return self._redeem_held(shares, min_out, receiver)


@external
@view
def preview_redeem(shares: uint256) -> uint256:
    """
    @notice The USDC `redeem(shares)` would pay now; 0 when the manager
            would refuse it (paused, price at or under the floor, under
            the minimum, beyond the limit or the liquidity).
    @param shares The OUSG.
    @return uint256 The USDC, the manager's rounding (down).
    """
    q: _Quote = self._quote()
    if not q.ok:
        return 0
    gross: uint256 = math._mul_div(shares, q.price, _SCALE, False)
    if gross < q.minimum or gross > q.remaining or gross > q.max_gross:
        return 0
    return self._net(gross, q.fee_bps)


@external
@view
def max_redeem() -> uint256:
    """
    @notice The most OUSG one `redeem` can take now: the tighter of the
            remaining shared limit and the reachable liquidity, in shares
            rounded down; 0 when that falls under the minimum or the
            manager would refuse any redemption.
    @return uint256 The shares.
    """
    q: _Quote = self._quote()
    if not q.ok:
        return 0
    cap: uint256 = min(q.remaining, q.max_gross)
    shares: uint256 = math._mul_div(cap, _SCALE, q.price, False)
    if math._mul_div(shares, q.price, _SCALE, False) < q.minimum:
        return 0
    return shares


@external
@view
def min_redeem() -> uint256:
    """
    @notice The fewest OUSG the manager accepts now: the shares worth its
            minimum ($50,000) at the current price, rounded up;
            max_value(uint256) when the price cannot be read (at or under
            the floor), since no amount would do.
    @return uint256 The shares.
    """
    ok: bool = False
    price: uint256 = 0
    minimum: uint256 = 0
    ok, price = self._probe(manager, method_id("getOUSGPrice()"))
    if not ok or price <= PRICE_FLOOR:
        return max_value(uint256)
    ok, minimum = self._probe(manager, method_id("minimumRedemptionAmount()"))
    if not ok:
        return max_value(uint256)
    return math._mul_div(minimum, _SCALE, price, True)


@external
@view
def remaining_limit() -> uint256:
    """
    @notice The USDC gross the shared fixed-window limit still allows now
            (the whole limit once the window has ended: the next
            redemption resets it).
    @return uint256 USDC units; 0 if the manager cannot be read.
    """
    ok: bool = False
    remaining: uint256 = 0
    ok, remaining = self._remaining()
    return remaining


@external
@view
def fee_bps() -> uint256:
    """
    @notice The manager's redemption fee in bps of the gross.
    @return uint256 The fee (0 if it cannot be read).
    """
    ok: bool = False
    fee: uint256 = 0
    ok, fee = self._probe(manager, method_id("redeemFee()"))
    return fee


@external
@view
def version() -> uint256:
    """
    @notice The adapter's version.
    @return uint256 1.
    """
    return VERSION


# ---- INTERNAL FUNCTIONS ----

@internal
def _redeem_held(shares: uint256, min_out: uint256, receiver: address) -> uint256:
    """
    @dev Redeems `shares` OUSG the adapter holds (the manager pays its
         caller, this adapter), measures the USDC received, enforces
         `min_out` and forwards it to `receiver`.
    @param shares The OUSG held, non-zero.
    @param min_out The least USDC accepted.
    @param receiver The USDC receiver, non-zero.
    @return uint256 The USDC paid.
    """
    assert extcall IERC20(share_token).approve(manager, shares, default_return_value=True), "adapter: approve failed"
    before: uint256 = staticcall IERC20(payout_token).balanceOf(self)
    # The manager's answer is not trusted: the balance is measured.
    extcall IOusgInstantManager(manager).redeem(shares)
    payout: uint256 = staticcall IERC20(payout_token).balanceOf(self) - before
    assert payout >= min_out, "adapter: slippage"
    assert extcall IERC20(payout_token).transfer(receiver, payout, default_return_value=True), "adapter: push failed"
    log Redeemed(caller=msg.sender, receiver=receiver, shares=shares, payout=payout)
    return payout


@internal
@view
def _net(gross: uint256, fee_bps: uint256) -> uint256:
    """
    @dev The manager's payout: gross less its fee, the fee rounded down.
    @param gross The USDC gross.
    @param fee_bps The fee (below 10,000, checked by `_quote`).
    @return uint256 The USDC paid.
    """
    # Cannot wrap: fee_bps < 10_000, so the fee is below the gross.
    return unsafe_sub(gross, gross * fee_bps // _BPS)


@internal
@view
def _quote() -> _Quote:
    """
    @dev Everything a redemption depends on, read without reverting;
         `ok` False when any read fails or the manager would refuse any
         amount (OUSG paused, redemptions paused, this adapter not KYC'd,
         price not above the floor, a fee of 100 % or more).
    @return _Quote The reads.
    """
    q: _Quote = empty(_Quote)
    ok: bool = False
    value: uint256 = 0
    ok, value = self._probe(share_token, method_id("paused()"))
    if not ok or value != 0:
        return q
    ok, value = self._probe(manager, method_id("redeemPaused()"))
    if not ok or value != 0:
        return q
    if not self._admitted():
        return q
    ok, q.price = self._probe(manager, method_id("getOUSGPrice()"))
    if not ok or q.price <= PRICE_FLOOR:
        return empty(_Quote)
    ok, q.fee_bps = self._probe(manager, method_id("redeemFee()"))
    if not ok or q.fee_bps >= _BPS:
        return empty(_Quote)
    ok, q.minimum = self._probe(manager, method_id("minimumRedemptionAmount()"))
    if not ok:
        return empty(_Quote)
    ok, q.remaining = self._remaining()
    if not ok:
        return empty(_Quote)
    ok, q.max_gross = self._max_gross()
    if not ok:
        return empty(_Quote)
    q.ok = True
    return q


@internal
@view
def _admitted() -> bool:
    """
    @dev Whether OUSG's KYC registry admits this adapter in OUSG's group:
         without it OUSG refuses the adapter's pull and the manager's
         pull from it, so every redemption would revert.
    @return bool True when admitted (False when any read fails).
    """
    ok: bool = False
    registry: uint256 = 0
    group: uint256 = 0
    ok, registry = self._probe(share_token, method_id("kycRegistry()"))
    if not ok or registry >> 160 != 0:
        return False
    ok, group = self._probe(share_token, method_id("kycRequirementGroup()"))
    if not ok:
        return False
    response: Bytes[32] = b""
    ok, response = raw_call(
        convert(convert(registry, uint160), address),
        abi_encode(group, self, method_id=method_id("getKYCStatus(uint256,address)")),
        max_outsize=32,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(response) != 32:
        return False
    return convert(response, uint256) == 1


@internal
@view
def _remaining() -> (bool, uint256):
    """
    @dev The shared limit left: the whole limit when the window has ended
         (the next redemption resets it), else limit less the amount
         redeemed in the window, floored at 0.
    @return bool Whether every read answered.
    @return uint256 USDC units.
    """
    ok: bool = False
    limit: uint256 = 0
    spent: uint256 = 0
    reset_at: uint256 = 0
    duration: uint256 = 0
    ok, limit = self._probe(manager, method_id("instantRedemptionLimit()"))
    if not ok:
        return False, 0
    ok, spent = self._probe(manager, method_id("currentInstantRedemptionAmount()"))
    if not ok:
        return False, 0
    ok, reset_at = self._probe(manager, method_id("lastResetInstantRedemptionTime()"))
    if not ok:
        return False, 0
    ok, duration = self._probe(manager, method_id("resetInstantRedemptionDuration()"))
    if not ok:
        return False, 0
    # Both come from the manager's storage; saturate rather than trust.
    if reset_at <= max_value(uint256) - duration and block.timestamp >= reset_at + duration:
        return True, limit
    if spent >= limit:
        return True, 0
    # Cannot wrap: spent < limit on this branch.
    return True, unsafe_sub(limit, spent)


@internal
@view
def _max_gross() -> (bool, uint256):
    """
    @dev The largest gross the manager can pay now. From its BUIDL
         threshold on it redeems exactly the gross in BUIDL, so that path
         reaches min(its BUIDL, the redeemer's USDC); below the threshold
         it pays from its USDC buffer, topped up by one threshold-sized
         BUIDL chunk when short. With at least a chunk of BUIDL reachable,
         every gross up to the reachable BUIDL is payable (and every
         smaller one); without, only what the buffer holds under the
         threshold.
    @return bool Whether every read answered.
    @return uint256 USDC units.
    """
    ok: bool = False
    buffer: uint256 = 0
    held: uint256 = 0
    redeemer_word: uint256 = 0
    redeemer_cash: uint256 = 0
    threshold: uint256 = 0
    ok, buffer = self._probe(payout_token, abi_encode(manager, method_id=method_id("balanceOf(address)")))
    if not ok:
        return False, 0
    ok, threshold = self._probe(manager, method_id("minBUIDLRedeemAmount()"))
    if not ok:
        return False, 0
    ok, held = self._probe(buidl, abi_encode(manager, method_id=method_id("balanceOf(address)")))
    if not ok:
        return False, 0
    ok, redeemer_word = self._probe(manager, method_id("buidlRedeemer()"))
    if not ok or redeemer_word >> 160 != 0:
        return False, 0
    redeemer: address = convert(convert(redeemer_word, uint160), address)
    ok, redeemer_cash = self._probe(payout_token, abi_encode(redeemer, method_id=method_id("balanceOf(address)")))
    if not ok:
        return False, 0
    reachable: uint256 = min(held, redeemer_cash)
    if threshold != 0 and reachable >= threshold:
        return True, reachable
    if threshold == 0:
        return True, reachable
    # Cannot wrap: threshold != 0 on this branch.
    return True, min(buffer, unsafe_sub(threshold, 1))


@internal
@view
def _probe(target: address, data: Bytes[36]) -> (bool, uint256):
    """
    @dev One word from a view of `target`, or (False, 0) when it reverts
         or answers anything but one word (a raw call: the manager's
         `getOUSGPrice` reverts at the floor by design, and a preview
         must never revert).
    @param target The contract read.
    @param data The calldata (selector and at most one word).
    @return bool Whether it answered one word.
    @return uint256 The word.
    """
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(target, data, max_outsize=32, is_static_call=True, revert_on_failure=False)
    if not ok or len(response) != 32:
        return False, 0
    return True, convert(response, uint256)
