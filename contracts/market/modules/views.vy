# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title navlend Market: Views
@custom:contract-name views
@license GNU Affero General Public License v3.0 only
@author navlend
@notice Every view of the market: the ERC-4626 and ERC-3156 views,
        positions, assets, rates and the liquidation preview. `MarketViews`
        exports them.
"""

from ethereum.ercs import IERC20

from ...interfaces import IMarketViews

from snekmate.tokens import erc20

from . import market_core as core
from . import market_storage as store

uses: erc20
uses: store
uses: core


# ---- EXTERNAL FUNCTIONS ----

@external
@view
def asset() -> address:
    """
    @notice The base asset of the markets this extension serves.
    @return address The base asset.
    """
    return core.BASE.address


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
    return store.MASK128 - (store._book & store.MASK128)


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
    return self._to_shares(store.MASK128 - (store._book & store.MASK128), False)


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
    return min(self._to_assets(erc20.balanceOf[owner], False), store._book & store.MASK128)


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
    shares: uint256 = min(erc20.balanceOf[owner], self._to_shares(store._book & store.MASK128, False))
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
    return store._book & store.MASK128


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
    return core._flash_fee(amount, store._market)


@external
@view
def position(account: address) -> IMarketViews.Position:
    """
    @notice An account's debt and collateral values accrued to now, in
            base units, prices capped. The value at LTV is what a borrow
            would count (stale and frozen assets count for nothing); the
            value at the liquidation threshold, and so the health factor,
            use every asset at its last price, as a liquidation does.
    @param account The borrower.
    @return IMarketViews.Position Debt, scaled debt, value at LTV, value at the
            liquidation threshold, health factor (core.WAD; max if no debt)
            and the bitmap of assets in use.
    """
    index: uint256 = core._accrued_index()
    word: uint256 = store._positions[account]
    debt: uint256 = core._debt_of(word, index)
    v: core._Valuation = core._valuation(account, word, max_value(uint256), core.VALUE_BORROW)
    hf: uint256 = max_value(uint256)
    if debt != 0:
        hf = v.liquidation_value * core.WAD // debt
    return IMarketViews.Position(
        debt=debt,
        scaled_debt=word & store.MASK112,
        borrow_value=v.borrow_value,
        liquidation_value=v.liquidation_value,
        health_factor=hf,
        assets_bitmap=(word >> store.POSITION_BITMAP_SHIFT) & store.MASK16,
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
    position: uint256 = store._positions[borrower]
    debt: uint256 = core._debt_of(position, market >> store.MARKET_INDEX_SHIFT)
    v: core._Valuation = core._valuation(borrower, position, asset_id, core.VALUE_LIQUIDATION)
    # The preconditions `liquidate` shares (answering (0, 0) here).
    if not core._liquidation_check(v, debt, market, False):
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
    return core._collateral_balance(account, core._asset_id(token), store._positions[account])


@external
@view
def debt_of(account: address) -> uint256:
    """
    @notice An account's debt accrued to now (rounded up).
    @param account The borrower.
    @return uint256 The debt, in base units.
    """
    return core._debt_of(store._positions[account], core._accrued_index())


@external
@view
def asset_config(token: address) -> IMarketViews.AssetConfig:
    """
    @notice Everything the market knows of a listed collateral asset.
    @param token The collateral asset.
    @return IMarketViews.AssetConfig Its parameters and the total supplied.
    """
    supply: uint256 = 0
    asset_id: uint256 = 0
    supply, asset_id = core._asset(token)
    word: uint256 = store._asset_config[asset_id]
    return IMarketViews.AssetConfig(
        token=token,
        oracle=core._word_address(word),
        facility=store._asset_facility[asset_id],
        ltv_bps=store._field(word, store.CONFIG_LTV_SHIFT, store.MASK16),
        threshold_bps=store._field(word, store.CONFIG_THRESHOLD_SHIFT, store.MASK16),
        bonus_bps=store._field(word, store.CONFIG_BONUS_SHIFT, store.MASK16),
        supply_cap=supply >> store.TOKEN_CAP_SHIFT,
        price_cap=store._asset_price_cap[asset_id] if word & (store.FLAG_PRICE_CAP << store.CONFIG_FLAGS_SHIFT) != 0 else 0,
        max_oracle_age=word >> store.CONFIG_MAX_AGE_SHIFT,
        frozen=word & (store.FLAG_FROZEN << store.CONFIG_FLAGS_SHIFT) != 0,
        total_supplied=store._field(supply, store.TOKEN_TOTAL_SHIFT, store.MASK120),
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
    if store._asset_config[asset_id] & (store.FLAG_COMPLIANCE << store.CONFIG_FLAGS_SHIFT) == 0:
        return empty(address)
    return store._asset_compliance[asset_id]


@external
@view
def asset_ratio(token: address) -> uint256:
    """
    @notice Real units of a listed asset per unit on the market's books,
            as WAD: one unless an issuer took some of the market's balance
            and `sync_asset` recognised it.
    @param token The collateral asset.
    @return uint256 The ratio (10**18: whole).
    """
    asset_id: uint256 = core._asset_id(token)
    if store._asset_config[asset_id] & (store.FLAG_SHORT << store.CONFIG_FLAGS_SHIFT) == 0:
        return core.WAD
    return store._asset_ratio[asset_id]


@external
@view
def asset_at(asset_id: uint256) -> address:
    """
    @notice The token listed under `asset_id`.
    @param asset_id The id, from 0 to `asset_count - 1`.
    @return address The token (zero if none).
    """
    return store._asset_token[asset_id]


@external
@view
def asset_price(token: address) -> (uint256, bool):
    """
    @notice A listed asset's price as the market uses it: the oracle's
            answer, capped, times `asset_ratio`, in the oracle's decimals,
            and whether it is stale.
    @param token The collateral asset.
    @return uint256 The price.
    @return bool True when older than the asset's maximum age.
    """
    asset_id: uint256 = core._asset_id(token)
    return core._price(asset_id, store._asset_config[asset_id])


@external
@view
def rate_config() -> IMarketViews.RateConfig:
    """
    @notice The interest-rate curve: per-second core.WAD rates, kink and reserve
            factor in basis points.
    @return IMarketViews.RateConfig The curve.
    """
    word: uint256 = store._rates
    return IMarketViews.RateConfig(
        base_rate=word & store.MASK64,
        slope1=store._field(word, store.RATES_SLOPE1_SHIFT, store.MASK64),
        slope2=store._field(word, store.RATES_SLOPE2_SHIFT, store.MASK64),
        kink_bps=store._field(word, store.RATES_KINK_SHIFT, store.MASK16),
        reserve_factor_bps=store._field(word, store.RATES_RESERVE_FACTOR_SHIFT, store.MASK16),
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
    return core._rate_at(core._utilization(market, book), store._rates)


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
        book & store.MASK128,
        (market & store.MASK112) * (market >> store.MARKET_INDEX_SHIFT) // core.WAD,
        book >> store.BOOK_RESERVES_SHIFT,
        market >> store.MARKET_INDEX_SHIFT,
        market & store.MASK112,
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
    word: uint256 = store._control
    return (
        store._field(store._market, store.MARKET_PAUSED_SHIFT, core.PAUSE_ALL),
        store._field(word, 0, store.MASK40),
        store._field(store._market, store.MARKET_FLASH_FEE_SHIFT, store.MASK8),
        store._field(word, store.CONTROL_LIQUIDATION_FEE_SHIFT, store.MASK16),
        store._field(word, store.CONTROL_MIN_BORROW_SHIFT, store.MASK48) * core.BASE_UNIT,
        store._field(word, store.CONTROL_SMALL_POSITION_SHIFT, store.MASK48) * core.BASE_UNIT,
        store._field(word, store.CONTROL_DUST_FLOOR_SHIFT, store.MASK48) * core.BASE_UNIT,
    )


@external
@view
def surplus() -> uint256:
    """
    @notice The base asset the market holds beyond its cash, not yet booked
            as reserves (zero while a flash loan is out).
    @return uint256 The surplus, in base units.
    """
    return core._surplus(store._book)


# ---- INTERNAL FUNCTIONS ----

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
