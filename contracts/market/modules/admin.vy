# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title navlend Market: Administration
@custom:contract-name admin
@license GNU Affero General Public License v3.0 only
@author navlend
@notice The owner's and guardian's functions, the authorisation of
        operators, and the sync that recognises an issuer's seizure or burn
        of the market's shares. `MarketAdmin` exports them.
"""

from ethereum.ercs import IERC20

from ...interfaces import IRedemptionFacility

from snekmate.auth import ownable

from . import market_core as core
from . import market_storage as store

uses: ownable
uses: store
uses: core


# ---- CONSTANTS ----

# @dev FundToken's STABLE_DIVIDEND value model: a $1 fund that pays dividends
#      as new shares. `list_asset` refuses it raw (list its wrapper instead).
_STABLE_DIVIDEND: constant(uint256) = 1


# ---- ACCOUNTS ----

@external
def set_authorization(operator: address, authorized: bool):
    """
    @notice Lets `operator` borrow and withdraw collateral on the caller's
            behalf (as the periphery's one-transaction leverage does).
    @dev Here, behind the market's fallback, rather than in `Market`: it is
         called once per operator, and `Market` needs its bytes.
    @param operator The account authorised or de-authorised.
    @param authorized The new status.
    """
    assert operator != empty(address), "market: zero operator"
    store.is_authorized[msg.sender][operator] = authorized
    log core.SetAuthorization(account=msg.sender, operator=operator, authorized=authorized)


# ---- ISSUER ACTIONS ----

@external
def sync_asset(token: address) -> uint256:
    """
    @notice Makes the books recognise what the market really holds of a
            listed asset, after its issuer seized or burned some of the
            market's balance, or gave it back. Anyone may call it.
            - Every booked unit is then worth the ratio of the balance to
              the books (at most one): in its price, and in what leaves the
              market on a withdrawal or a liquidation, so none of them
              reverts on the missing balance. The loss falls on the asset's
              holders pro rata, and on lenders only through the ordinary
              write-off of a position it leaves under water.
            - A sync that finds a new loss freezes the asset, since units
              deposited later would be booked at par; it cannot be
              unfrozen while the market is short of it.
            - A balance back at the books clears the ratio.
    @param token The collateral asset.
    @return uint256 Real units per booked unit, as WAD.
    """
    token_word: uint256 = 0
    asset_id: uint256 = 0
    token_word, asset_id = core._asset(token)
    booked: uint256 = (token_word >> store.TOKEN_TOTAL_SHIFT) & store.MASK120
    balance: uint256 = staticcall IERC20(token).balanceOf(self)
    ratio: uint256 = core.WAD
    if balance < booked:
        # Rounded down, so that the payouts it allows (each rounded down
        # again) never exceed the balance.
        ratio = balance * core.WAD // booked
    word: uint256 = store._asset_config[asset_id]
    if ratio < core.WAD:
        if token_word & store.TOKEN_SHORT == 0 or ratio < store._asset_ratio[asset_id]:
            # A new loss: no new deposits of it, no new borrows against it.
            if token_word & store.TOKEN_FROZEN == 0:
                log core.AssetFrozen(token=token, frozen=True)
            word = word | ((store.FLAG_FROZEN | store.FLAG_SHORT) << store.CONFIG_FLAGS_SHIFT)
            token_word = token_word | store.TOKEN_FROZEN | store.TOKEN_SHORT
        store._asset_ratio[asset_id] = ratio
    else:
        word = word & ~(store.FLAG_SHORT << store.CONFIG_FLAGS_SHIFT)
        token_word = token_word & ~store.TOKEN_SHORT
    store._asset_config[asset_id] = word
    store._assets[token] = token_word
    log core.AssetSynced(token=token, booked=booked, balance=balance, ratio=ratio)
    return ratio


# ---- OWNER AND GUARDIAN ----

@external
def list_asset(
    token: address,
    oracle: address,
    ltv_bps: uint256,
    threshold_bps: uint256,
    bonus_bps: uint256,
    supply_cap: uint256,
    price_cap: uint256,
    max_oracle_age: uint256,
):
    """
    @notice Lists a collateral asset. The market must be allowlisted by the
            fund token before anyone can post it. A $1 dividend fund
            (`value_model()` answering STABLE_DIVIDEND) is refused: its
            dividends minted to the market would be credited to no one,
            so it is listed through its AccumulatingWrapper instead.
    @param token The fund share (or wrapper) token.
    @param oracle Its AggregatorV3 price feed in USD.
    @param ltv_bps Borrow limit.
    @param threshold_bps Liquidation threshold, above the LTV.
    @param bonus_bps Liquidation bonus; threshold x (1 + bonus) < 1.
    @param supply_cap Most that may be posted, in the asset's units.
    @param price_cap Highest price used, in the oracle's decimals (0: none).
    @param max_oracle_age Oldest answer accepted for borrowing (seconds).
    """
    ownable._check_owner()
    assert token != empty(address), "market: zero address"
    assert token != core.BASE.address, "market: base asset"
    assert store._assets[token] == 0, "market: already listed"
    # A $1 dividend fund pays by minting new shares to each holder: minted
    # to the market they would be credited to no borrower and nothing could
    # move them, so it is posted through its AccumulatingWrapper (a rising
    # share price). A token without `value_model()` (a plain ERC-20, a
    # wrapper) or with a malformed answer lists as before.
    ok: bool = False
    data: Bytes[32] = b""
    ok, data = raw_call(
        token, method_id("value_model()"), max_outsize=32,
        is_static_call=True, revert_on_failure=False
    )
    if ok and len(data) == 32:
        assert convert(data, uint256) != _STABLE_DIVIDEND, "market: dividend fund, list its wrapper"
    asset_id: uint256 = store.asset_count
    assert asset_id < core.MAX_ASSETS, "market: too many assets"
    store.asset_count = asset_id + 1
    token_word: uint256 = asset_id + 1
    if core._is_paused(core.PAUSE_DEPOSIT_COLLATERAL):
        token_word = token_word | store.TOKEN_DEPOSIT_PAUSED
    store._assets[token] = token_word
    store._asset_token[asset_id] = token
    log core.AssetListed(token=token, asset_id=asset_id, oracle=oracle)
    core._set_risk(asset_id, token, ltv_bps, threshold_bps, bonus_bps)
    # Limits before the oracle: its round is checked against the max age.
    core._set_limits(asset_id, token, supply_cap, price_cap, max_oracle_age)
    core._set_oracle(asset_id, token, oracle)
    # A token that answers the compliance views is its own source; any
    # other (a wrapper, an issuer with another interface) gets one with
    # `set_asset_compliance`.
    if self._answers_compliance(token):
        self._set_compliance(asset_id, token, token)


@external
def set_asset_risk(token: address, ltv_bps: uint256, threshold_bps: uint256, bonus_bps: uint256):
    """
    @notice Sets an asset's LTV, liquidation threshold and bonus.
    @param token The collateral asset.
    @param ltv_bps Borrow limit.
    @param threshold_bps Liquidation threshold, above the LTV.
    @param bonus_bps Liquidation bonus; threshold x (1 + bonus) < 1.
    """
    ownable._check_owner()
    core._set_risk(core._asset_id(token), token, ltv_bps, threshold_bps, bonus_bps)


@external
def set_asset_limits(token: address, supply_cap: uint256, price_cap: uint256, max_oracle_age: uint256):
    """
    @notice Sets an asset's supply cap, price cap and maximum oracle age.
    @param token The collateral asset.
    @param supply_cap Most that may be posted, in the asset's units.
    @param price_cap Highest price used, in the oracle's decimals (0: none).
    @param max_oracle_age Oldest answer accepted for borrowing (seconds).
    """
    ownable._check_owner()
    core._set_limits(core._asset_id(token), token, supply_cap, price_cap, max_oracle_age)


@external
def set_asset_oracle(token: address, oracle: address):
    """
    @notice Replaces an asset's price feed.
    @param token The collateral asset.
    @param oracle The new AggregatorV3 feed.
    """
    ownable._check_owner()
    core._set_oracle(core._asset_id(token), token, oracle)


@external
def set_asset_facility(token: address, facility: address):
    """
    @notice Sets the redemption facility of the redeem route (zero: none),
            and approves it to pull the seized shares.
    @param token The collateral asset.
    @param facility An IRedemptionFacility for `token`.
    """
    ownable._check_owner()
    asset_id: uint256 = core._asset_id(token)
    old: address = store._asset_facility[asset_id]
    if facility != empty(address):
        assert staticcall IRedemptionFacility(facility).share_token() == token, "market: facility token"
        assert staticcall IRedemptionFacility(facility).payout_token() == core.BASE.address, "market: facility payout"
    store._asset_facility[asset_id] = facility
    log core.AssetFacilitySet(token=token, facility=facility)
    if old != empty(address):
        assert extcall IERC20(token).approve(old, 0, default_return_value=True), "market: approve failed"
    if facility != empty(address):
        assert extcall IERC20(token).approve(facility, max_value(uint256), default_return_value=True), \
            "market: approve failed"


@external
def set_asset_compliance(token: address, source: address):
    """
    @notice Sets the compliance source of an asset: the fund token itself,
            or an adapter answering `is_allowlisted` and `is_frozen` for a
            token with another interface. The market then refuses to lend
            to, or release collateral to, a party the source does not admit
            (see `borrow`, `withdraw_collateral`, `supply_collateral`).
            The empty address turns the checks off (a permissionless token).
    @param token The collateral asset.
    @param source The compliance source, or the empty address.
    """
    ownable._check_owner()
    asset_id: uint256 = core._asset_id(token)
    # The source must answer both views now: a call that reverts, or a
    # contract without them, would stop every borrow against the asset.
    assert source == empty(address) or self._answers_compliance(source), "market: bad compliance source"
    self._set_compliance(asset_id, token, source)


@external
def set_asset_frozen(token: address, frozen: bool):
    """
    @notice Freezes an asset: no new deposits of it and no new borrows
            against it; withdrawals, repayment and liquidation stay open.
            The guardian may freeze; only the owner may unfreeze.
    @param token The collateral asset.
    @param frozen The new status.
    """
    if frozen:
        self._check_guardian_or_owner()
    else:
        ownable._check_owner()
    token_word: uint256 = 0
    asset_id: uint256 = 0
    token_word, asset_id = core._asset(token)
    # New units would be booked at par but hold only the ratio.
    assert frozen or token_word & store.TOKEN_SHORT == 0, "market: asset short"
    word: uint256 = store._asset_config[asset_id]
    if frozen:
        word = word | (store.FLAG_FROZEN << store.CONFIG_FLAGS_SHIFT)
        token_word = token_word | store.TOKEN_FROZEN
    else:
        word = word & ~(store.FLAG_FROZEN << store.CONFIG_FLAGS_SHIFT)
        token_word = token_word & ~store.TOKEN_FROZEN
    store._asset_config[asset_id] = word
    store._assets[token] = token_word
    log core.AssetFrozen(token=token, frozen=frozen)


@external
def set_rates(base_rate_apr: uint256, slope1_apr: uint256, slope2_apr: uint256, kink_bps: uint256, reserve_factor_bps: uint256):
    """
    @notice Sets the kinked curve (annual core.WAD rates) and the reserve
            factor, after accruing at the old ones.
    @param base_rate_apr Rate at zero utilisation.
    @param slope1_apr Added up to the kink.
    @param slope2_apr Added from the kink to full utilisation.
    @param kink_bps The kink.
    @param reserve_factor_bps The reserves' share of interest.
    """
    ownable._check_owner()
    core._accrue()
    core._set_rates(base_rate_apr, slope1_apr, slope2_apr, kink_bps, reserve_factor_bps)


@external
def set_fees(flash_fee_bps: uint256, liquidation_fee_bps: uint256):
    """
    @notice Sets the flash-loan fee and the protocol's share of the bonus.
    @param flash_fee_bps Flash-loan fee.
    @param liquidation_fee_bps Protocol share of each liquidation bonus.
    """
    ownable._check_owner()
    core._set_fees(flash_fee_bps, liquidation_fee_bps)


@external
def set_borrow_limits(min_borrow: uint256, small_position: uint256, dust_floor: uint256):
    """
    @notice Sets the minimum borrow, the size below which a position may be
            closed in full, and the dust floor of a partial liquidation.
    @param min_borrow Least debt a borrow may leave (whole base units).
    @param small_position Full-close threshold (whole base units).
    @param dust_floor Least debt or collateral value a partial liquidation
           may leave (whole base units); at most the small-position threshold.
    """
    ownable._check_owner()
    core._set_borrow_limits(min_borrow, small_position, dust_floor)


@external
def pause(actions: uint256):
    """
    @notice Pauses actions (PAUSE_* bits). The guardian may pause all but
            liquidation; only the owner pauses liquidation.
    @param actions The bits to set.
    """
    assert actions != 0 and actions & ~core.PAUSE_ALL == 0, "market: bad actions"
    if actions & core.PAUSE_LIQUIDATION != 0:
        ownable._check_owner()
    else:
        self._check_guardian_or_owner()
    store._market = store._market | (actions << store.MARKET_PAUSED_SHIFT)
    if actions & core.PAUSE_DEPOSIT_COLLATERAL != 0:
        self._copy_deposit_pause(True)
    log core.Paused(caller=msg.sender, actions=actions)


@external
def unpause(actions: uint256, grace_period: uint256):
    """
    @notice Unpauses actions. Unpausing liquidation (owner only) starts a
            grace period before liquidations resume.
    @param actions The bits to clear.
    @param grace_period Seconds before liquidations resume (<= 4 hours);
           must be zero unless liquidation is among `actions`.
    """
    assert actions != 0 and actions & ~core.PAUSE_ALL == 0, "market: bad actions"
    resume_at: uint256 = store._control & store.MASK40
    if actions & core.PAUSE_LIQUIDATION != 0:
        ownable._check_owner()
        assert grace_period <= core.MAX_GRACE_PERIOD, "market: grace too long"
        resume_at = block.timestamp + grace_period
        store._control = (store._control & ~store.MASK40) | resume_at
    else:
        self._check_guardian_or_owner()
        assert grace_period == 0, "market: grace without liquidation"
    store._market = store._market & ~(actions << store.MARKET_PAUSED_SHIFT)
    if actions & core.PAUSE_DEPOSIT_COLLATERAL != 0:
        self._copy_deposit_pause(False)
    log core.Unpaused(caller=msg.sender, actions=actions, liquidations_resume_at=resume_at)


@external
def withdraw_reserves(amount: uint256):
    """
    @notice Sends `amount` of the reserves to the treasury, after booking
            the surplus (flash-loan fees) as reserves.
    @param amount The amount, in base units.
    """
    ownable._check_owner()
    market: uint256 = 0
    book: uint256 = 0
    market, book = core._accrue()
    book = self._book_surplus(book)
    assert amount != 0, "market: zero amount"
    assert amount <= book >> store.BOOK_RESERVES_SHIFT, "market: exceeds reserves"
    assert amount <= book & store.MASK128, "market: insufficient cash"
    store._book = book - amount - (amount << store.BOOK_RESERVES_SHIFT)
    treasury: address = store.treasury
    log core.ReservesWithdrawn(treasury=treasury, amount=amount)
    core._push(core.BASE.address, treasury, amount)


@external
def book_surplus() -> uint256:
    """
    @notice Books the base asset the market holds beyond its cash as
            reserves: the flash-loan fees (which a flash loan leaves unbooked,
            to stay cheap) and any donation. Interest is accrued first, so
            the fees never change what the lenders earn. Anyone may call it;
            `withdraw_reserves` does it too.
    @return uint256 The amount booked.
    """
    market: uint256 = 0
    book: uint256 = 0
    market, book = core._accrue()
    return (self._book_surplus(book) >> store.BOOK_RESERVES_SHIFT) - (book >> store.BOOK_RESERVES_SHIFT)


@external
def set_guardian(guardian_: address):
    """
    @notice Replaces the guardian.
    @param guardian_ The new guardian.
    """
    ownable._check_owner()
    core._set_guardian(guardian_)


@external
def set_treasury(treasury_: address):
    """
    @notice Replaces the treasury.
    @param treasury_ The new treasury.
    """
    ownable._check_owner()
    core._set_treasury(treasury_)


# ---- INTERNAL FUNCTIONS ----

@internal
def _book_surplus(book: uint256) -> uint256:
    """
    @dev Adds the surplus to both cash and reserves (the lenders' claim,
         cash + debt - reserves, is unchanged) and stores the book.
    @param book The book word, accrued to now.
    @return uint256 The new book word.
    """
    amount: uint256 = core._surplus(book)
    if amount == 0:
        return book
    # The new cash is the balance held: it must fit the book's 128 bits (a
    # carry would land in the reserves). The reserves' bits cannot overflow:
    # they stay at most cash plus borrows, and the add below is checked.
    assert (book & store.MASK128) + amount <= store.MASK128, "market: cash overflow"
    new_book: uint256 = book + amount + (amount << store.BOOK_RESERVES_SHIFT)
    store._book = new_book
    log core.SurplusBooked(caller=msg.sender, amount=amount, reserves=new_book >> store.BOOK_RESERVES_SHIFT)
    return new_book


@internal
def _copy_deposit_pause(paused: bool):
    """
    @dev Copies the PAUSE_DEPOSIT_COLLATERAL bit into every listed asset's
         token word (see `store.TOKEN_DEPOSIT_PAUSED`).
    @param paused The bit's new value.
    """
    for asset_id: uint256 in range(core.MAX_ASSETS):
        if asset_id == store.asset_count:
            break
        token: address = store._asset_token[asset_id]
        word: uint256 = store._assets[token] & ~store.TOKEN_DEPOSIT_PAUSED
        if paused:
            word = word | store.TOKEN_DEPOSIT_PAUSED
        store._assets[token] = word


@internal
@view
def _answers_compliance(source: address) -> bool:
    """
    @dev Whether `source` answers both compliance views (`is_allowlisted`
         and `is_frozen`) with one word each: a probe, so a raw call whose
         failure is an answer.
    @param source The candidate compliance source.
    @return bool True when both answer.
    """
    ok: bool = False
    data: Bytes[32] = b""
    ok, data = raw_call(
        source, abi_encode(self, method_id=method_id("is_allowlisted(address)")), max_outsize=32,
        is_static_call=True, revert_on_failure=False
    )
    if not ok or len(data) != 32:
        return False
    ok, data = raw_call(
        source, abi_encode(self, method_id=method_id("is_frozen(address)")), max_outsize=32,
        is_static_call=True, revert_on_failure=False
    )
    if not ok or len(data) != 32:
        return False
    return True


@internal
def _set_compliance(asset_id: uint256, token: address, source: address):
    """
    @dev Stores an asset's compliance source and its flag in the asset's
         config and token words (the empty address clears both).
    @param asset_id The asset.
    @param token The asset's token.
    @param source The compliance source, or the empty address.
    """
    word: uint256 = store._asset_config[asset_id] & ~(store.FLAG_COMPLIANCE << store.CONFIG_FLAGS_SHIFT)
    token_word: uint256 = store._assets[token] & ~store.TOKEN_COMPLIANCE
    if source != empty(address):
        word = word | (store.FLAG_COMPLIANCE << store.CONFIG_FLAGS_SHIFT)
        token_word = token_word | store.TOKEN_COMPLIANCE
    store._asset_compliance[asset_id] = source
    store._asset_config[asset_id] = word
    store._assets[token] = token_word
    log core.AssetComplianceSet(token=token, source=source)


@internal
@view
def _check_guardian_or_owner():
    """
    @dev Reverts unless the caller is the guardian or the owner.
    """
    assert msg.sender == store.guardian or msg.sender == ownable.owner, "market: not guardian"
