# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title navlend Market Admin Extension
@license GNU Affero General Public License v3.0 only
@author navlend
@notice The owner and guardian functions and the rich views of a navlend
        market. It runs only through the market's fallback, by
        `delegatecall`, on the market's storage: it initialises the same
        modules in the same order as `Market`, so both see one layout.
        Splitting it out keeps `Market` under EIP-170's 24,576 bytes and
        keeps the users' hot paths free of rarely used code.
@custom:security Every function takes the market's global lock (pragma
        `nonreentrancy on`; views check it). Called directly, this contract
        acts on its own, empty storage and has no owner, so it can change
        nothing that matters.
@custom:kill See `Market`: the owner pauses every guarded action.
"""

from ethereum.ercs import IERC20

from ..interfaces import IFundToken
from ..interfaces import IMarketAdmin
from ..interfaces import IRedemptionFacility

implements: IMarketAdmin

from snekmate.auth import ownable
from snekmate.auth import ownable_2step
from snekmate.tokens import erc20

from .modules import market_core as core

initializes: ownable
initializes: ownable_2step[ownable := ownable]
initializes: erc20[ownable := ownable]
initializes: core

exports: (
    ownable.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
    core.is_authorized,
    core.asset_count,
    core.guardian,
    core.treasury,
)


# ---- CONSTANTS ----

# @dev FundToken's STABLE_DIVIDEND value model: a $1 fund that pays dividends
#      as new shares. `list_asset` refuses it raw (list its wrapper instead).
_STABLE_DIVIDEND: constant(uint256) = 1


# ---- CONSTRUCTOR ----

@deploy
def __init__(base: IERC20):
    """
    @notice Deploys the extension for markets over `base`. Its own storage
            is never used; it renounces ownership of it at once.
    @param base The base asset of the markets it serves.
    """
    ownable.__init__()
    ownable_2step.__init__()
    core.__init__(base, msg.sender, msg.sender)
    erc20.__init__("navlend admin", "NLA", 0, "navlend admin", "1")
    ownable._transfer_ownership(empty(address))


@external
@view
def asset() -> address:
    """
    @notice The base asset of the markets this extension serves.
    @return address The base asset.
    """
    return core.BASE.address


# ---- VIEWS ----

# The ERC-4626 views: they live here, reached through the market's
# fallback, to keep `Market` under EIP-170 (the market's deposit, mint,
# withdraw and redeem use the same core conversions).

@external
@view
def totalAssets() -> uint256:
    """
    @notice Lenders' claim: cash plus borrows minus reserves, accrued to now.
    @return uint256 The total assets, in base units.
    """
    market: uint256 = 0
    book: uint256 = 0
    interest: uint256 = 0
    market, book, interest = core._accrued_words()
    return core._total_assets(market, book)


@external
@view
def convertToShares(assets: uint256) -> uint256:
    """
    @notice The shares `assets` is worth now, rounded down.
    @param assets The amount of the base asset.
    @return uint256 The shares.
    """
    return self._to_shares(assets, False)


@external
@view
def convertToAssets(shares: uint256) -> uint256:
    """
    @notice The assets `shares` is worth now, rounded down.
    @param shares The amount of lender shares.
    @return uint256 The assets.
    """
    return self._to_assets(shares, False)


@external
@view
def maxDeposit(receiver: address) -> uint256:
    """
    @notice The most a deposit may bring in: the room left in the 128-bit
            cash book (in practice unlimited), or zero while paused.
    @param receiver Ignored; every account may lend.
    @return uint256 The maximum assets.
    """
    if core._is_paused(core.PAUSE_SUPPLY):
        return 0
    return core._MASK128 - (core._book & core._MASK128)


@external
@view
def maxMint(receiver: address) -> uint256:
    """
    @notice The shares `maxDeposit` would mint (in practice unlimited), or
            zero while paused.
    @param receiver Ignored; every account may lend.
    @return uint256 The maximum shares.
    """
    if core._is_paused(core.PAUSE_SUPPLY):
        return 0
    return self._to_shares(core._MASK128 - (core._book & core._MASK128), False)


@external
@view
def maxWithdraw(owner: address) -> uint256:
    """
    @notice The most `owner` may withdraw now: its claim, bounded by cash.
    @param owner The lender.
    @return uint256 The maximum assets.
    """
    if core._is_paused(core.PAUSE_WITHDRAW):
        return 0
    return min(self._to_assets(erc20.balanceOf[owner], False), core._book & core._MASK128)


@external
@view
def maxRedeem(owner: address) -> uint256:
    """
    @notice The most shares `owner` may redeem now, bounded by cash.
    @param owner The lender.
    @return uint256 The maximum shares.
    """
    if core._is_paused(core.PAUSE_WITHDRAW):
        return 0
    shares: uint256 = min(erc20.balanceOf[owner], self._to_shares(core._book & core._MASK128, False))
    # EIP-4626: never more than `redeem` accepts, and it refuses shares
    # worth no assets (a dust balance below one base unit).
    if self._to_assets(shares, False) == 0:
        return 0
    return shares


@external
@view
def previewDeposit(assets: uint256) -> uint256:
    """
    @notice The shares `deposit(assets)` would mint now (rounded down).
    @param assets The amount of the base asset.
    @return uint256 The shares.
    """
    return self._to_shares(assets, False)


@external
@view
def previewMint(shares: uint256) -> uint256:
    """
    @notice The assets `mint(shares)` would pull now (rounded up).
    @param shares The amount of lender shares.
    @return uint256 The assets.
    """
    return self._to_assets(shares, True)


@external
@view
def previewWithdraw(assets: uint256) -> uint256:
    """
    @notice The shares `withdraw(assets)` would burn now (rounded up).
    @param assets The amount of the base asset.
    @return uint256 The shares.
    """
    return self._to_shares(assets, True)


@external
@view
def previewRedeem(shares: uint256) -> uint256:
    """
    @notice The assets `redeem(shares)` would pay now (rounded down).
    @param shares The amount of lender shares.
    @return uint256 The assets.
    """
    return self._to_assets(shares, False)


# The ERC-3156 views, for the same reason.

@external
@view
def maxFlashLoan(token: address) -> uint256:
    """
    @notice The most of `token` a flash loan may lend: the cash, for the
            base asset; zero for any other token or while paused.
    @param token The token asked for.
    @return uint256 The maximum amount.
    """
    if token != core.BASE.address or core._is_paused(core.PAUSE_FLASH_LOAN):
        return 0
    return core._book & core._MASK128


@external
@view
def flashFee(token: address, amount: uint256) -> uint256:
    """
    @notice The fee on a flash loan of `amount` (rounded up). Reverts for
            any token but the base asset.
    @param token The token asked for.
    @param amount The amount asked for.
    @return uint256 The fee.
    """
    assert token == core.BASE.address, "market: unsupported token"
    return core._flash_fee(amount, core._market)


@external
@view
def position(account: address) -> IMarketAdmin.Position:
    """
    @notice An account's debt and collateral values accrued to now, in
            base units, prices capped. The value at LTV is what a borrow
            would count (stale and frozen assets count for nothing); the
            value at the liquidation threshold, and so the health factor,
            use every asset at its last price, as a liquidation does.
    @param account The borrower.
    @return IMarketAdmin.Position Debt, scaled debt, value at LTV, value at the
            liquidation threshold, health factor (core.WAD; max if no debt)
            and the bitmap of assets in use.
    """
    index: uint256 = core._accrued_index()
    word: uint256 = core._positions[account]
    debt: uint256 = core._debt_of(word, index)
    v: core._Valuation = core._valuation(account, word, max_value(uint256), core.VALUE_BORROW)
    hf: uint256 = max_value(uint256)
    if debt != 0:
        hf = v.liquidation_value * core.WAD // debt
    return IMarketAdmin.Position(
        debt=debt,
        scaled_debt=word & core._MASK112,
        borrow_value=v.borrow_value,
        liquidation_value=v.liquidation_value,
        health_factor=hf,
        assets_bitmap=(word >> 112) & core._MASK16,
    )


@external
@view
def preview_liquidation(borrower: address, token: address, max_repay: uint256) -> (uint256, uint256):
    """
    @notice What `liquidate(borrower, token, max_repay, ...)` would repay
            and seize now, by the same rules (close factor, dust trims,
            rounding); (0, 0) when it cannot run now: healthy or debt-free
            position, no such collateral, liquidation paused or in grace.
            `max_value(uint256)` asks for the most a liquidator may repay.
            Like `liquidate`, it reverts "market: nothing to liquidate" when
            the rules leave nothing to repay for this `max_repay` (zero, or
            a partial that the dust floor trims to nothing).
    @param borrower The position.
    @param token The collateral asset to seize.
    @param max_repay The most the liquidator would repay.
    @return uint256 The debt it would repay.
    @return uint256 The collateral it would seize (before the protocol fee).
    """
    word: uint256 = 0
    asset_id: uint256 = 0
    word, asset_id = core._asset(token)
    market: uint256 = 0
    book: uint256 = 0
    interest: uint256 = 0
    market, book, interest = core._accrued_words()
    if market & (core.PAUSE_LIQUIDATION << 112) != 0 or block.timestamp < core._control & core._MASK40:
        return 0, 0
    position: uint256 = core._positions[borrower]
    if position & core._MASK112 == 0:
        return 0, 0
    debt: uint256 = core._debt_of(position, market >> 160)
    v: core._Valuation = core._valuation(borrower, position, asset_id, core.VALUE_LIQUIDATION)
    if v.target_balance == 0 or v.liquidation_value >= debt or v.target_price == 0:
        return 0, 0
    return core._liquidation_amounts(asset_id, v, debt, max_repay)


@external
@view
def collateral_of(account: address, token: address) -> uint256:
    """
    @notice An account's collateral balance of `token`.
    @param account The borrower.
    @param token A listed collateral asset.
    @return uint256 The balance, in the asset's units.
    """
    return core._collateral_balance(account, core._asset_id(token), core._positions[account])


@external
@view
def debt_of(account: address) -> uint256:
    """
    @notice An account's debt accrued to now (rounded up).
    @param account The borrower.
    @return uint256 The debt, in base units.
    """
    return core._debt_of(core._positions[account], core._accrued_index())


@external
@view
def asset_config(token: address) -> IMarketAdmin.AssetConfig:
    """
    @notice Everything the market knows of a listed collateral asset.
    @param token The collateral asset.
    @return IMarketAdmin.AssetConfig Its parameters and the total supplied.
    """
    supply: uint256 = 0
    asset_id: uint256 = 0
    supply, asset_id = core._asset(token)
    word: uint256 = core._asset_config[asset_id]
    return IMarketAdmin.AssetConfig(
        token=token,
        oracle=core._word_address(word),
        facility=core._asset_facility[asset_id],
        ltv_bps=(word >> 160) & core._MASK16,
        threshold_bps=(word >> 176) & core._MASK16,
        bonus_bps=(word >> 192) & core._MASK16,
        supply_cap=supply >> 136,
        price_cap=core._asset_price_cap[asset_id] if word & (core._FLAG_PRICE_CAP << 216) != 0 else 0,
        max_oracle_age=word >> 224,
        frozen=word & (core._FLAG_FROZEN << 216) != 0,
        total_supplied=(supply >> 16) & core._MASK120,
    )


@external
@view
def asset_compliance(token: address) -> address:
    """
    @notice The compliance source of a listed asset (empty: no checks).
    @param token The collateral asset.
    @return address The source.
    """
    asset_id: uint256 = core._asset_id(token)
    if core._asset_config[asset_id] & (core._FLAG_COMPLIANCE << 216) == 0:
        return empty(address)
    return core._asset_compliance[asset_id]


@external
@view
def asset_at(asset_id: uint256) -> address:
    """
    @notice The token listed under `asset_id`.
    @param asset_id The id, from 0 to `asset_count - 1`.
    @return address The token (zero if none).
    """
    return core._asset_token[asset_id]


@external
@view
def asset_price(token: address) -> (uint256, bool):
    """
    @notice A listed asset's price as the market uses it: the oracle's
            answer, capped, in the oracle's decimals, and whether it is stale.
    @param token The collateral asset.
    @return uint256 The price.
    @return bool True when older than the asset's maximum age.
    """
    asset_id: uint256 = core._asset_id(token)
    return core._price(asset_id, core._asset_config[asset_id])


@external
@view
def rate_config() -> IMarketAdmin.RateConfig:
    """
    @notice The interest-rate curve: per-second core.WAD rates, kink and reserve
            factor in basis points.
    @return IMarketAdmin.RateConfig The curve.
    """
    word: uint256 = core._rates
    return IMarketAdmin.RateConfig(
        base_rate=word & core._MASK64,
        slope1=(word >> 64) & core._MASK64,
        slope2=(word >> 128) & core._MASK64,
        kink_bps=(word >> 192) & core._MASK16,
        reserve_factor_bps=(word >> 208) & core._MASK16,
    )


@external
@view
def borrow_rate() -> uint256:
    """
    @notice The current per-second borrow rate (core.WAD).
    @return uint256 The rate.
    """
    market: uint256 = 0
    book: uint256 = 0
    interest: uint256 = 0
    market, book, interest = core._accrued_words()
    return core._rate_at(core._utilization(market, book), core._rates)


@external
@view
def utilization() -> uint256:
    """
    @notice Borrows over cash plus borrows, accrued to now (core.WAD).
    @return uint256 The utilisation.
    """
    market: uint256 = 0
    book: uint256 = 0
    interest: uint256 = 0
    market, book, interest = core._accrued_words()
    return core._utilization(market, book)


@external
@view
def market_state() -> (uint256, uint256, uint256, uint256, uint256):
    """
    @notice The books accrued to now.
    @return uint256 Cash.
    @return uint256 Total borrows (rounded down).
    @return uint256 Reserves.
    @return uint256 Borrow index (core.WAD).
    @return uint256 Total scaled debt.
    """
    market: uint256 = 0
    book: uint256 = 0
    interest: uint256 = 0
    market, book, interest = core._accrued_words()
    return (
        book & core._MASK128,
        (market & core._MASK112) * (market >> 160) // core.WAD,
        book >> 128,
        market >> 160,
        market & core._MASK112,
    )


@external
@view
def control() -> (uint256, uint256, uint256, uint256, uint256, uint256, uint256):
    """
    @notice Pause bits and the fee and size limits.
    @return uint256 Paused actions (bits; see PAUSE_* constants).
    @return uint256 Time liquidations resume at (grace period).
    @return uint256 Flash fee (bps).
    @return uint256 Protocol share of the liquidation bonus (bps).
    @return uint256 Minimum debt after a borrow (base units).
    @return uint256 Small-position threshold for a full close (base units).
    @return uint256 Dust floor a partial liquidation must leave (base units).
    """
    word: uint256 = core._control
    return (
        (core._market >> 112) & core.PAUSE_ALL,
        word & core._MASK40,
        (core._market >> 120) & core._MASK8,
        (word >> 56) & core._MASK16,
        ((word >> 72) & core._MASK48) * core.BASE_UNIT,
        ((word >> 120) & core._MASK48) * core.BASE_UNIT,
        ((word >> 168) & core._MASK48) * core.BASE_UNIT,
    )


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
    assert core._assets[token] == 0, "market: already listed"
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
    asset_id: uint256 = core.asset_count
    assert asset_id < core.MAX_ASSETS, "market: too many assets"
    core.asset_count = asset_id + 1
    token_word: uint256 = asset_id + 1
    if core._is_paused(core.PAUSE_DEPOSIT_COLLATERAL):
        token_word = token_word | core._TOKEN_DEPOSIT_PAUSED
    core._assets[token] = token_word
    core._asset_token[asset_id] = token
    log core.AssetListed(token=token, asset_id=asset_id, oracle=oracle)
    core._set_risk(asset_id, token, ltv_bps, threshold_bps, bonus_bps)
    # Limits before the oracle: its round is checked against the max age.
    core._set_limits(asset_id, token, supply_cap, price_cap, max_oracle_age)
    core._set_oracle(asset_id, token, oracle)
    # A token that answers the compliance views is its own source; any
    # other (a wrapper, an issuer with another interface) gets one with
    # `set_asset_compliance`.
    ok, data = raw_call(
        token, abi_encode(self, method_id=method_id("is_allowlisted(address)")), max_outsize=32,
        is_static_call=True, revert_on_failure=False
    )
    if ok and len(data) == 32:
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
    old: address = core._asset_facility[asset_id]
    if facility != empty(address):
        assert staticcall IRedemptionFacility(facility).share_token() == token, "market: facility token"
        assert staticcall IRedemptionFacility(facility).payout_token() == core.BASE.address, "market: facility payout"
    core._asset_facility[asset_id] = facility
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
    if source != empty(address):
        # The source must answer both views now (a call that reverts, or
        # a contract without them, is refused here).
        allowed: bool = staticcall IFundToken(source).is_allowlisted(self)
        frozen: bool = staticcall IFundToken(source).is_frozen(self)
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
    word: uint256 = core._asset_config[asset_id]
    if frozen:
        word = word | (core._FLAG_FROZEN << 216)
        token_word = token_word | core._TOKEN_FROZEN
    else:
        word = word & ~(core._FLAG_FROZEN << 216)
        token_word = token_word & ~core._TOKEN_FROZEN
    core._asset_config[asset_id] = word
    core._assets[token] = token_word
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
    core._market = core._market | (actions << 112)
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
    resume_at: uint256 = core._control & core._MASK40
    if actions & core.PAUSE_LIQUIDATION != 0:
        ownable._check_owner()
        assert grace_period <= core.MAX_GRACE_PERIOD, "market: grace too long"
        resume_at = block.timestamp + grace_period
        core._control = (core._control & ~core._MASK40) | resume_at
    else:
        self._check_guardian_or_owner()
        assert grace_period == 0, "market: grace without liquidation"
    core._market = core._market & ~(actions << 112)
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
    assert amount <= book >> 128, "market: exceeds reserves"
    assert amount <= book & core._MASK128, "market: insufficient cash"
    core._book = book - amount - (amount << 128)
    treasury: address = core.treasury
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
    return (self._book_surplus(book) >> 128) - (book >> 128)


@external
@view
def surplus() -> uint256:
    """
    @notice The base asset the market holds beyond its cash, not yet booked
            as reserves (zero while a flash loan is out).
    @return uint256 The surplus, in base units.
    """
    return self._surplus(core._book)


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


# ---- INTERNAL ----

@internal
@view
def _surplus(book: uint256) -> uint256:
    """
    @dev The base asset held beyond the cash in `book` (zero if less is
         held, as inside a flash loan's callback).
    @param book The book word.
    @return uint256 The surplus.
    """
    held: uint256 = staticcall IERC20(core.BASE.address).balanceOf(self)
    cash: uint256 = book & core._MASK128
    if held <= cash:
        return 0
    return held - cash


@internal
def _book_surplus(book: uint256) -> uint256:
    """
    @dev Adds the surplus to both cash and reserves (the lenders' claim,
         cash + debt - reserves, is unchanged) and stores the book.
    @param book The book word, accrued to now.
    @return uint256 The new book word.
    """
    amount: uint256 = self._surplus(book)
    if amount == 0:
        return book
    # The new cash is the balance held: it must fit the book's 128 bits (a
    # carry would land in the reserves). The reserves' bits cannot overflow:
    # they stay at most cash plus borrows, and the add below is checked.
    assert (book & core._MASK128) + amount <= core._MASK128, "market: cash overflow"
    new_book: uint256 = book + amount + (amount << 128)
    core._book = new_book
    log core.SurplusBooked(caller=msg.sender, amount=amount, reserves=new_book >> 128)
    return new_book


@internal
def _copy_deposit_pause(paused: bool):
    """
    @dev Copies the PAUSE_DEPOSIT_COLLATERAL bit into every listed asset's
         token word (see `core._TOKEN_DEPOSIT_PAUSED`).
    @param paused The bit's new value.
    """
    for asset_id: uint256 in range(core.MAX_ASSETS):
        if asset_id == core.asset_count:
            break
        token: address = core._asset_token[asset_id]
        word: uint256 = core._assets[token] & ~core._TOKEN_DEPOSIT_PAUSED
        if paused:
            word = word | core._TOKEN_DEPOSIT_PAUSED
        core._assets[token] = word


@internal
@view
def _to_shares(assets: uint256, roundup: bool) -> uint256:
    """
    @dev Assets to lender shares at the books accrued to now.
    @param assets The assets.
    @param roundup The rounding direction.
    @return uint256 The shares.
    """
    market: uint256 = 0
    book: uint256 = 0
    interest: uint256 = 0
    market, book, interest = core._accrued_words()
    return core._shares_for(assets, erc20.totalSupply, market, book, roundup)


@internal
@view
def _to_assets(shares: uint256, roundup: bool) -> uint256:
    """
    @dev Lender shares to assets at the books accrued to now.
    @param shares The shares.
    @param roundup The rounding direction.
    @return uint256 The assets.
    """
    market: uint256 = 0
    book: uint256 = 0
    interest: uint256 = 0
    market, book, interest = core._accrued_words()
    return core._assets_for(shares, erc20.totalSupply, market, book, roundup)


@internal
def _set_compliance(asset_id: uint256, token: address, source: address):
    """
    @dev Stores an asset's compliance source and its flag in the asset's
         config and token words (the empty address clears both).
    @param asset_id The asset.
    @param token The asset's token.
    @param source The compliance source, or the empty address.
    """
    word: uint256 = core._asset_config[asset_id] & ~(core._FLAG_COMPLIANCE << 216)
    token_word: uint256 = core._assets[token] & ~core._TOKEN_COMPLIANCE
    if source != empty(address):
        word = word | (core._FLAG_COMPLIANCE << 216)
        token_word = token_word | core._TOKEN_COMPLIANCE
    core._asset_compliance[asset_id] = source
    core._asset_config[asset_id] = word
    core._assets[token] = token_word
    log core.AssetComplianceSet(token=token, source=source)


@internal
@view
def _check_guardian_or_owner():
    """
    @dev Reverts unless the caller is the guardian or the owner.
    """
    assert msg.sender == core.guardian or msg.sender == ownable.owner, "market: not guardian"
