# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Instant Redemption Facility
@license GNU Affero General Public License v3.0 only
@author navlend
@notice An issuer's instant exit from one fund share to the stablecoin,
        modelled on Circle's BUIDL->USDC facility and Superstate's
        RedemptionIdle, plus the way in (subscriptions).
        - `redeem` pulls the caller's shares, burns them and pays the
          receiver shares x NAV x (1 - fee), rounded down, out of a finite
          pre-funded stablecoin balance. Liquidity is this contract's
          stablecoin `balanceOf` (not a tracked figure): anything sent here,
          by `fund` or a plain transfer, is redeemable liquidity, and
          nothing else can move it.
        - The caller must be allowlisted by the fund (checked first), and so
          must this facility, which receives the shares.
        - The NAV is read from an AggregatorV3 feed; it must be positive and
          no older than `max_oracle_age` (default 100 hours: a three-day
          weekend is 96 hours between strikes).
        - Rolling daily limit on the stablecoin paid out: a leaky bucket
          that drains linearly at `daily_limit` per 24 hours. It
          approximates a rolling 24-hour window without storing history: a
          burst of `daily_limit` is possible at once, then capacity returns
          at `daily_limit / 86_400` per second. The refill rounds down.
        - `subscribe` mints new shares at NAV (rounded down) for
          stablecoin; that cash goes to the `treasury`, never into the
          redemption liquidity, as in a real fund.
        Amounts: shares (any decimals), NAV (the feed's decimals), payout in
        the stablecoin's decimals:
        payout = floor(floor(shares x nav x 10^pd / 10^(sd + od)) x
                 (10_000 - fee_bps) / 10_000).
        Part of the simulated issuer (contracts/issuer/): it stands in for
        the issuer's own contract in tests, the demo and local networks and
        is never deployed on a live network.
@custom:security The owner (issuer, two-step) can withdraw the liquidity,
                 pause, and change the fee (capped at 100 bps), the minimum
                 and the limits. A lender must treat this exit as best-effort.
@custom:kill The owner calls `pause()` (redeem and subscribe stop,
             `max_redeem` reads 0) and may `withdraw_liquidity` everything.
"""


from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed


from ..interfaces import IAggregatorV3
from ..interfaces import IFundIssuance
from ..interfaces import IFundToken
from ..interfaces import IRedemptionFacility
implements: IRedemptionFacility


from snekmate.auth import ownable
initializes: ownable


from snekmate.auth import ownable_2step
initializes: ownable_2step[ownable := ownable]


from snekmate.utils import pausable
initializes: pausable


from snekmate.utils import math


exports: (
    ownable.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
    ownable_2step.renounce_ownership,
    pausable.paused,
)


# ---- CONSTANTS ----

# Highest settable redemption fee: 100 bps.
MAX_FEE_BPS: public(constant(uint256)) = 100
# Default oldest acceptable NAV: 100 hours (three-day weekend plus buffer).
DEFAULT_MAX_ORACLE_AGE: public(constant(uint256)) = 360_000
# Lowest settable oracle age: 1 hour.
MIN_MAX_ORACLE_AGE: public(constant(uint256)) = 3_600
# Highest settable oracle age: 30 days.
MAX_MAX_ORACLE_AGE: public(constant(uint256)) = 2_592_000
# Basis points in one.
_BPS: constant(uint256) = 10_000
# Seconds in the rolling window of the daily limit.
_DAY: constant(uint256) = 86_400
# NAV status: usable.
_NAV_OK: constant(uint8) = 0
# NAV status: older than `max_oracle_age`.
_NAV_STALE: constant(uint8) = 1
# NAV status: non-positive, from the future, or the feed reverted.
_NAV_BAD: constant(uint8) = 2


# ---- IMMUTABLES ----

# The fund share redeemed and subscribed here.
share_token: public(immutable(address))
# The stablecoin paid out and taken in.
payout_token: public(immutable(address))
# The NAV feed (AggregatorV3).
oracle: public(immutable(address))
# 10 ** payout decimals.
_PAYOUT_SCALE: immutable(uint256)
# 10 ** (share decimals + oracle decimals).
_SHARE_NAV_SCALE: immutable(uint256)


# ---- STORAGE ----

# Redemption fee in basis points, kept by the facility as liquidity.
fee_bps: public(uint256)
# Smallest redemption, in shares.
min_redeem: public(uint256)
# Stablecoin that may leave per rolling 24 hours.
daily_limit: public(uint256)
# Oldest acceptable NAV strike, in seconds.
max_oracle_age: public(uint256)
# Receiver of subscription cash.
treasury: public(address)
# Bucket fill at `_limit_updated_at`, in stablecoin units.
_limit_used: uint256
# Time of the last bucket write.
_limit_updated_at: uint256


# ---- EVENTS ----

# Shares were redeemed for stablecoin.
event Redeemed:
    caller: indexed(address)
    receiver: indexed(address)
    shares: uint256
    payout: uint256
    fee: uint256
    nav: uint256


# Stablecoin was exchanged for new shares.
event Subscribed:
    caller: indexed(address)
    receiver: indexed(address)
    assets: uint256
    shares: uint256
    nav: uint256


# Redemption liquidity was added.
event LiquidityAdded:
    funder: indexed(address)
    amount: uint256


# The issuer took liquidity out.
event LiquidityWithdrawn:
    receiver: indexed(address)
    amount: uint256


# The fee changed.
event FeeChanged:
    previous_bps: uint256
    new_bps: uint256


# The minimum redemption changed.
event MinRedeemChanged:
    previous_shares: uint256
    new_shares: uint256


# The daily limit changed.
event DailyLimitChanged:
    previous_limit: uint256
    new_limit: uint256


# The oracle age limit changed.
event MaxOracleAgeChanged:
    previous_age: uint256
    new_age: uint256


# The treasury changed.
event TreasuryChanged:
    previous_treasury: indexed(address)
    new_treasury: indexed(address)


# ---- CONSTRUCTOR ----

@deploy
def __init__(
    share_token_: address,
    payout_token_: address,
    oracle_: address,
    fee_bps_: uint256,
    min_redeem_: uint256,
    daily_limit_: uint256,
    max_oracle_age_: uint256,
    treasury_: address,
):
    """
    @notice Deploys a facility for one fund share, owned by the caller.
    @dev The fund must allowlist this facility and make it a minter before
         it can redeem or subscribe.
    @param share_token_ The fund share.
    @param payout_token_ The stablecoin.
    @param oracle_ The NAV feed (AggregatorV3).
    @param fee_bps_ The redemption fee (at most 100 bps).
    @param min_redeem_ The smallest redemption in shares.
    @param daily_limit_ The stablecoin payable per rolling 24 hours.
    @param max_oracle_age_ The oldest acceptable NAV in seconds (0 for the
           default, 100 hours).
    @param treasury_ Where subscription cash goes.
    """
    assert share_token_ != empty(address), "facility: zero address"
    assert payout_token_ != empty(address), "facility: zero address"
    assert oracle_ != empty(address), "facility: zero address"
    ownable.__init__()
    ownable_2step.__init__()
    pausable.__init__()
    share_token = share_token_
    payout_token = payout_token_
    oracle = oracle_
    share_decimals: uint256 = convert(staticcall IERC20Detailed(share_token_).decimals(), uint256)
    payout_decimals: uint256 = convert(staticcall IERC20Detailed(payout_token_).decimals(), uint256)
    oracle_decimals: uint256 = convert(staticcall IAggregatorV3(oracle_).decimals(), uint256)
    assert share_decimals + oracle_decimals <= 60 and payout_decimals <= 36, "facility: bad decimals"
    _PAYOUT_SCALE = 10**payout_decimals
    _SHARE_NAV_SCALE = 10**(share_decimals + oracle_decimals)
    self._set_fee_bps(fee_bps_)
    self._set_min_redeem(min_redeem_)
    self._set_daily_limit(daily_limit_)
    self._set_max_oracle_age(max_oracle_age_ if max_oracle_age_ != 0 else DEFAULT_MAX_ORACLE_AGE)
    self._set_treasury(treasury_)


# ---- REDEMPTION ----

@external
def redeem(shares: uint256, min_out: uint256, receiver: address) -> uint256:
    """
    @notice Redeems `shares` of the caller for stablecoin paid to `receiver`.
    @param shares The fund shares to redeem (pulled with transferFrom).
    @param min_out The least stablecoin accepted.
    @param receiver The stablecoin receiver.
    @return uint256 The stablecoin paid.
    """
    return self._redeem(shares, min_out, receiver)


@external
@view
def preview_redeem(shares: uint256) -> uint256:
    """
    @notice The stablecoin `redeem(shares)` would pay now, ignoring the
            pause, the minimum, the liquidity and the rolling limit.
    @dev Returns 0 while the NAV is stale or bad, since `redeem` would
         revert whatever the size.
    @param shares The fund shares.
    @return uint256 The stablecoin, rounded down.
    """
    nav: uint256 = 0
    status: uint8 = _NAV_OK
    nav, status = self._read_nav()
    if status != _NAV_OK:
        return 0
    return self._net_payout(self._gross_payout(shares, nav))


@external
@view
def max_redeem() -> uint256:
    """
    @notice The most shares one `redeem` can take now.
    @dev Zero while this facility or the fund is paused, the NAV is stale
         or bad, or the bound falls below `min_redeem` (redeem would revert
         on the minimum). Otherwise min(liquidity, remaining limit)
         converted to shares, rounded down, so that
         `preview_redeem(max_redeem()) <= min(liquidity, remaining limit)`.
    @return uint256 The shares.
    """
    if pausable.paused or staticcall IFundToken(share_token).paused():
        return 0
    nav: uint256 = 0
    status: uint8 = _NAV_OK
    nav, status = self._read_nav()
    if status != _NAV_OK:
        return 0
    cap: uint256 = min(staticcall IERC20(payout_token).balanceOf(self), self._remaining_limit())
    # Gross payout whose net is at most `cap` (fee < 100 %, so no zero).
    gross_cap: uint256 = math._mul_div(cap, _BPS, _BPS - self.fee_bps, False)
    shares: uint256 = math._mul_div(gross_cap, _SHARE_NAV_SCALE, nav * _PAYOUT_SCALE, False)
    if shares < self.min_redeem:
        return 0
    return shares


@external
@view
def available_liquidity() -> uint256:
    """
    @notice The stablecoin this facility holds for redemptions.
    @return uint256 The balance.
    """
    return staticcall IERC20(payout_token).balanceOf(self)


@external
@view
def remaining_limit() -> uint256:
    """
    @notice The stablecoin the rolling limit still allows now.
    @return uint256 The remaining capacity.
    """
    return self._remaining_limit()


# ---- SUBSCRIPTION ----

@external
def subscribe(assets: uint256, min_shares: uint256, receiver: address) -> uint256:
    """
    @notice Buys new shares for `receiver` with `assets` stablecoin at NAV.
    @dev The stablecoin goes to the treasury, not into the redemption
         liquidity. Needs this facility to be a minter of the fund.
    @param assets The stablecoin paid by the caller.
    @param min_shares The fewest shares accepted.
    @param receiver The receiver of the shares.
    @return uint256 The shares minted, rounded down.
    """
    return self._subscribe(assets, min_shares, receiver)


@external
@view
def preview_subscribe(assets: uint256) -> uint256:
    """
    @notice The shares `subscribe(assets)` would mint now.
    @dev Returns 0 while the NAV is stale or bad.
    @param assets The stablecoin.
    @return uint256 The shares, rounded down.
    """
    nav: uint256 = 0
    status: uint8 = _NAV_OK
    nav, status = self._read_nav()
    if status != _NAV_OK:
        return 0
    return self._shares_for(assets, nav)


# ---- LIQUIDITY ----

@external
def fund(amount: uint256):
    """
    @notice Adds `amount` stablecoin of redemption liquidity (anyone).
    @param amount The stablecoin pulled from the caller.
    """
    assert amount != 0, "facility: zero amount"
    assert extcall IERC20(payout_token).transferFrom(msg.sender, self, amount, default_return_value=True)
    log LiquidityAdded(funder=msg.sender, amount=amount)


@external
def withdraw_liquidity(amount: uint256, to: address):
    """
    @notice Takes `amount` stablecoin of liquidity out (owner).
    @param amount The stablecoin.
    @param to The receiver.
    """
    ownable._check_owner()
    assert amount != 0, "facility: zero amount"
    assert to != empty(address), "facility: zero address"
    assert amount <= staticcall IERC20(payout_token).balanceOf(self), "facility: insufficient liquidity"
    self._push_payout(to, amount)
    log LiquidityWithdrawn(receiver=to, amount=amount)


# ---- ADMIN ----

@external
def pause():
    """
    @notice Stops redemptions and subscriptions.
    """
    ownable._check_owner()
    pausable._pause()


@external
def unpause():
    """
    @notice Resumes redemptions and subscriptions.
    """
    ownable._check_owner()
    pausable._unpause()


@external
def set_fee_bps(new_fee_bps: uint256):
    """
    @notice Sets the redemption fee (at most 100 bps).
    @param new_fee_bps The fee in basis points.
    """
    ownable._check_owner()
    self._set_fee_bps(new_fee_bps)


@external
def set_min_redeem(new_min_redeem: uint256):
    """
    @notice Sets the smallest redemption, in shares.
    @param new_min_redeem The minimum.
    """
    ownable._check_owner()
    self._set_min_redeem(new_min_redeem)


@external
def set_daily_limit(new_daily_limit: uint256):
    """
    @notice Sets the stablecoin payable per rolling 24 hours.
    @dev The bucket is settled at the old rate first; a fill above the new
         limit simply leaves no capacity until it drains.
    @param new_daily_limit The limit (non-zero).
    """
    ownable._check_owner()
    self._limit_used = self._limit_used_now()
    self._limit_updated_at = block.timestamp
    self._set_daily_limit(new_daily_limit)


@external
def set_max_oracle_age(new_max_oracle_age: uint256):
    """
    @notice Sets the oldest acceptable NAV (1 hour .. 30 days).
    @param new_max_oracle_age The age in seconds.
    """
    ownable._check_owner()
    self._set_max_oracle_age(new_max_oracle_age)


@external
def set_treasury(new_treasury: address):
    """
    @notice Sets the receiver of subscription cash.
    @param new_treasury The treasury.
    """
    ownable._check_owner()
    self._set_treasury(new_treasury)


# ---- INTERNALS ----

@internal
def _redeem(shares: uint256, min_out: uint256, receiver: address) -> uint256:
    """
    @notice Checks, books the limit, pulls and burns the shares, pays out.
    @param shares The fund shares to redeem.
    @param min_out The least stablecoin accepted.
    @param receiver The stablecoin receiver.
    @return uint256 The stablecoin paid.
    """
    assert not pausable.paused, "facility: paused"
    assert shares != 0, "facility: zero amount"
    assert receiver != empty(address), "facility: zero address"
    self._check_investor(msg.sender, "facility: caller not allowlisted", "facility: caller frozen")
    assert shares >= self.min_redeem, "facility: below minimum"
    nav: uint256 = self._usable_nav()
    gross: uint256 = self._gross_payout(shares, nav)
    payout: uint256 = self._net_payout(gross)
    assert payout != 0, "facility: zero amount"
    assert payout <= staticcall IERC20(payout_token).balanceOf(self), "facility: insufficient liquidity"
    self._consume_limit(payout)
    assert payout >= min_out, "facility: slippage"

    assert extcall IERC20(share_token).transferFrom(msg.sender, self, shares, default_return_value=True)
    extcall IFundIssuance(share_token).burn_redeemed(shares)
    self._push_payout(receiver, payout)
    log Redeemed(caller=msg.sender, receiver=receiver, shares=shares, payout=payout, fee=gross - payout, nav=nav)
    return payout


@internal
def _subscribe(assets: uint256, min_shares: uint256, receiver: address) -> uint256:
    """
    @notice Checks, sends the cash to the treasury, mints the shares.
    @param assets The stablecoin paid by the caller.
    @param min_shares The fewest shares accepted.
    @param receiver The receiver of the shares.
    @return uint256 The shares minted.
    """
    assert not pausable.paused, "facility: paused"
    assert assets != 0, "facility: zero amount"
    self._check_investor(msg.sender, "facility: caller not allowlisted", "facility: caller frozen")
    self._check_investor(receiver, "facility: receiver not allowlisted", "facility: receiver frozen")
    nav: uint256 = self._usable_nav()
    shares: uint256 = self._shares_for(assets, nav)
    assert shares != 0, "facility: zero amount"
    assert shares >= min_shares, "facility: slippage"

    assert extcall IERC20(payout_token).transferFrom(msg.sender, self.treasury, assets, default_return_value=True)
    extcall IFundIssuance(share_token).mint(receiver, shares)
    log Subscribed(caller=msg.sender, receiver=receiver, assets=assets, shares=shares, nav=nav)
    return shares


@internal
@view
def _check_investor(account: address, not_listed: String[40], frozen: String[40]):
    """
    @notice Reverts unless the fund allowlists `account` and has not frozen it.
    @param account The account.
    @param not_listed The revert reason when not allowlisted.
    @param frozen The revert reason when frozen.
    """
    assert staticcall IFundToken(share_token).is_allowlisted(account), not_listed
    assert not staticcall IFundToken(share_token).is_frozen(account), frozen


@internal
@view
def _read_nav() -> (uint256, uint8):
    """
    @notice Reads the feed without reverting.
    @dev A raw static call, so a reverting feed (e.g. "no data") reads as a
         bad NAV and the views return 0 instead of reverting.
    @return uint256 The NAV (0 unless usable).
    @return uint8 _NAV_OK, _NAV_STALE or _NAV_BAD.
    """
    success: bool = False
    response: Bytes[160] = b""
    success, response = raw_call(
        oracle,
        method_id("latestRoundData()"),
        max_outsize=160,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not success or len(response) != 160:
        return 0, _NAV_BAD
    round_id: uint80 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in: uint80 = 0
    round_id, answer, started_at, updated_at, answered_in = abi_decode(
        response, (uint80, int256, uint256, uint256, uint80)
    )
    if answer <= 0 or updated_at > block.timestamp:
        return 0, _NAV_BAD
    # No underflow: updated_at <= block.timestamp was checked just above.
    if updated_at == 0 or unsafe_sub(block.timestamp, updated_at) > self.max_oracle_age:
        return 0, _NAV_STALE
    return convert(answer, uint256), _NAV_OK


@internal
@view
def _usable_nav() -> uint256:
    """
    @notice The NAV, or a revert naming why it cannot be used.
    @return uint256 The NAV (oracle decimals).
    """
    nav: uint256 = 0
    status: uint8 = _NAV_OK
    nav, status = self._read_nav()
    assert status != _NAV_STALE, "facility: stale nav"
    assert status == _NAV_OK, "facility: bad nav"
    return nav


@internal
@view
def _gross_payout(shares: uint256, nav: uint256) -> uint256:
    """
    @notice shares x nav in stablecoin units before the fee, rounded down.
    @param shares The fund shares.
    @param nav The NAV (oracle decimals).
    @return uint256 The gross payout.
    """
    return math._mul_div(shares, nav * _PAYOUT_SCALE, _SHARE_NAV_SCALE, False)


@internal
@view
def _net_payout(gross: uint256) -> uint256:
    """
    @notice The payout after the fee, rounded down (the fee rounds up).
    @param gross The gross payout.
    @return uint256 The net payout.
    """
    return math._mul_div(gross, _BPS - self.fee_bps, _BPS, False)


@internal
@view
def _shares_for(assets: uint256, nav: uint256) -> uint256:
    """
    @notice The shares worth `assets` stablecoin at `nav`, rounded down.
    @param assets The stablecoin.
    @param nav The NAV (oracle decimals).
    @return uint256 The shares.
    """
    return math._mul_div(assets, _SHARE_NAV_SCALE, nav * _PAYOUT_SCALE, False)


@internal
@view
def _limit_used_now() -> uint256:
    """
    @notice The bucket fill now: the stored fill minus the linear refill
            since the last write (rounded down, in the issuer's favour).
    @return uint256 The used capacity.
    """
    used: uint256 = self._limit_used
    if used == 0:
        return 0
    elapsed: uint256 = block.timestamp - self._limit_updated_at
    if elapsed >= _DAY:
        return 0
    drained: uint256 = math._mul_div(self.daily_limit, elapsed, _DAY, False)
    if drained >= used:
        return 0
    # No underflow: drained < used was checked just above.
    return unsafe_sub(used, drained)


@internal
@view
def _remaining_limit() -> uint256:
    """
    @notice The stablecoin the bucket can still take now.
    @return uint256 The remaining capacity.
    """
    used: uint256 = self._limit_used_now()
    if used >= self.daily_limit:
        return 0
    # No underflow: used < daily_limit was checked just above.
    return unsafe_sub(self.daily_limit, used)


@internal
def _consume_limit(payout: uint256):
    """
    @notice Adds `payout` to the bucket, reverting past the daily limit.
    @param payout The stablecoin about to leave.
    """
    used: uint256 = self._limit_used_now() + payout
    assert used <= self.daily_limit, "facility: daily limit exceeded"
    self._limit_used = used
    self._limit_updated_at = block.timestamp


@internal
def _push_payout(to: address, amount: uint256):
    """
    @notice Sends stablecoin, tolerating tokens that return nothing.
    @param to The receiver.
    @param amount The stablecoin.
    """
    assert extcall IERC20(payout_token).transfer(to, amount, default_return_value=True)


@internal
def _set_fee_bps(new_fee_bps: uint256):
    """
    @notice Stores a bounded fee and logs the change.
    @param new_fee_bps The fee in basis points.
    """
    assert new_fee_bps <= MAX_FEE_BPS, "facility: fee too high"
    log FeeChanged(previous_bps=self.fee_bps, new_bps=new_fee_bps)
    self.fee_bps = new_fee_bps


@internal
def _set_min_redeem(new_min_redeem: uint256):
    """
    @notice Stores the minimum redemption and logs the change.
    @param new_min_redeem The minimum in shares.
    """
    log MinRedeemChanged(previous_shares=self.min_redeem, new_shares=new_min_redeem)
    self.min_redeem = new_min_redeem


@internal
def _set_daily_limit(new_daily_limit: uint256):
    """
    @notice Stores a non-zero daily limit and logs the change.
    @param new_daily_limit The limit in stablecoin units.
    """
    assert new_daily_limit != 0, "facility: zero limit"
    log DailyLimitChanged(previous_limit=self.daily_limit, new_limit=new_daily_limit)
    self.daily_limit = new_daily_limit


@internal
def _set_max_oracle_age(new_max_oracle_age: uint256):
    """
    @notice Stores a bounded oracle age and logs the change.
    @param new_max_oracle_age The age in seconds.
    """
    assert (
        new_max_oracle_age >= MIN_MAX_ORACLE_AGE and new_max_oracle_age <= MAX_MAX_ORACLE_AGE
    ), "facility: bad oracle age"
    log MaxOracleAgeChanged(previous_age=self.max_oracle_age, new_age=new_max_oracle_age)
    self.max_oracle_age = new_max_oracle_age


@internal
def _set_treasury(new_treasury: address):
    """
    @notice Stores a non-empty treasury and logs the change.
    @param new_treasury The treasury.
    """
    assert new_treasury != empty(address), "facility: zero address"
    log TreasuryChanged(previous_treasury=self.treasury, new_treasury=new_treasury)
    self.treasury = new_treasury
