# pragma version 0.4.3
"""
@title navlend Market Core
@custom:contract-name market_core
@license GNU Affero General Public License v3.0 only
@author navlend
@notice The market's events and internal logic, shared by the three
        deployables that run on one storage: `Market` (lenders, borrowers,
        liquidation, flash loans), `MarketViews` (every view) and
        `MarketAdmin` (the owner's and guardian's functions), the two
        extensions reached by `delegatecall`. The storage itself, and the
        layout of its packed words, belong to `market_storage`, which this
        module uses; all three deployables initialise the same modules in
        the same order, so their storage layouts are identical (a test
        compares them).
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed

from ...interfaces import IAggregatorV3
from ...interfaces import IFundToken
from ...interfaces import IMarketViews

from snekmate.utils import math

from . import market_storage as store

uses: store


# ---- CONSTANTS ----

# @dev Fixed-point unit of the borrow index, rates and utilisation.
WAD: constant(uint256) = 10**18
# @dev Basis points in one.
BPS: constant(uint256) = 10_000
# @dev Seconds in the 365-day year that annual rates are quoted in.
YEAR: constant(uint256) = 365 * 86_400
# @dev Most collateral assets a market lists (bits of the position bitmap).
MAX_ASSETS: constant(uint256) = 16
# @dev Lender shares carry this many more decimals than the base asset.
DECIMALS_OFFSET: constant(uint8) = 6
# @dev Virtual shares that dilute a first-depositor inflation attack.
VIRTUAL_SHARES: constant(uint256) = 10**6
# @dev Virtual assets paired with the virtual shares.
VIRTUAL_ASSETS: constant(uint256) = 1
# @dev Share of the debt a liquidation may repay while the 50 % rule holds.
CLOSE_FACTOR_BPS: constant(uint256) = 5_000
# @dev Below this health factor a position may be closed in full (Aave 3.3).
CLOSE_FACTOR_HF_THRESHOLD: constant(uint256) = 95 * 10**16
# @dev Longest grace period after liquidations are unpaused.
MAX_GRACE_PERIOD: constant(uint256) = 4 * 3_600
# @dev What an ERC-3156 borrower's callback must return.
FLASH_CALLBACK_SUCCESS: constant(bytes32) = keccak256("ERC3156FlashBorrower.onFlashLoan")
# @dev Largest flash-loan `data` the market forwards (2 KiB: the market
#      copies it into memory and re-encodes it for the callback, and every
#      flash loan pays for that memory; the periphery passes < 300 bytes).
MAX_FLASH_DATA: constant(uint256) = 2_048

# @dev Pause bits, one per guarded action (see `pause`).
PAUSE_SUPPLY: constant(uint256) = 1
PAUSE_WITHDRAW: constant(uint256) = 2
PAUSE_BORROW: constant(uint256) = 4
PAUSE_DEPOSIT_COLLATERAL: constant(uint256) = 8
PAUSE_WITHDRAW_COLLATERAL: constant(uint256) = 16
PAUSE_FLASH_LOAN: constant(uint256) = 32
PAUSE_LIQUIDATION: constant(uint256) = 64
# @dev Every pause bit; the guardian may touch all but liquidation.
PAUSE_ALL: constant(uint256) = 127

# @dev Parameter bounds, in basis points unless stated.
MAX_LTV_BPS: constant(uint256) = 9_500
MAX_BONUS_BPS: constant(uint256) = 2_000
MAX_RESERVE_FACTOR_BPS: constant(uint256) = 5_000
MAX_FLASH_FEE_BPS: constant(uint256) = 100
MAX_LIQUIDATION_FEE_BPS: constant(uint256) = 5_000
MIN_KINK_BPS: constant(uint256) = 1_000
MAX_KINK_BPS: constant(uint256) = 9_900
# @dev Highest annual rate a single curve term may carry (1000 %), as WAD.
MAX_ANNUAL_RATE: constant(uint256) = 10 * WAD
# @dev Oracle age bounds: one hour to a week.
MIN_ORACLE_AGE: constant(uint256) = 3_600
MAX_ORACLE_AGE: constant(uint256) = 7 * 86_400

# @dev Valuation modes (see `_valuation`).
VALUE_LIQUIDATION: constant(uint256) = 0
VALUE_BORROW: constant(uint256) = 1
VALUE_WITHDRAW: constant(uint256) = 2
# @dev As VALUE_BORROW, and the account must be compliant on the source of
#      every asset it holds (what `borrow` runs; views use VALUE_BORROW).
VALUE_OPEN_BORROW: constant(uint256) = 3

# ---- IMMUTABLES ----

# @dev The base asset lenders supply and borrowers borrow.
BASE: immutable(IERC20)
# @dev Decimals of the base asset.
BASE_DECIMALS: immutable(uint8)
# @dev One whole unit of the base asset (10 ** decimals).
BASE_UNIT: immutable(uint256)


# ---- STRUCTS ----

# @dev The view structs (`AssetConfig`, `RateConfig`, `Position`) are
#      declared once, in `interfaces/IMarketViews.vyi`.

# @dev What one pass over a borrower's collateral finds.
struct _Valuation:
    borrow_value: uint256
    liquidation_value: uint256
    total_value: uint256
    target_value: uint256
    target_price: uint256
    target_balance: uint256
    target_stale: bool


# ---- EVENTS ----

event AccrueInterest:
    borrow_index: uint256
    interest: uint256

event SupplyCollateral:
    caller: indexed(address)
    on_behalf: indexed(address)
    token: indexed(address)
    amount: uint256
    collateral: uint256

event WithdrawCollateral:
    caller: indexed(address)
    on_behalf: indexed(address)
    token: indexed(address)
    receiver: address
    amount: uint256
    collateral: uint256

event Borrow:
    caller: indexed(address)
    on_behalf: indexed(address)
    receiver: indexed(address)
    amount: uint256
    scaled_debt: uint256
    borrow_index: uint256

event Repay:
    caller: indexed(address)
    on_behalf: indexed(address)
    amount: uint256
    scaled_debt: uint256
    borrow_index: uint256

event Liquidate:
    liquidator: indexed(address)
    borrower: indexed(address)
    token: indexed(address)
    receiver: address
    repaid: uint256
    seized: uint256
    protocol_fee: uint256
    payout: uint256
    scaled_debt: uint256
    collateral: uint256

event BadDebt:
    borrower: indexed(address)
    amount: uint256
    from_reserves: uint256
    socialized: uint256

event FlashLoan:
    receiver: indexed(address)
    initiator: indexed(address)
    amount: uint256
    fee: uint256

event SetAuthorization:
    account: indexed(address)
    operator: indexed(address)
    authorized: bool

event AssetListed:
    token: indexed(address)
    asset_id: uint256
    oracle: address

event AssetRiskSet:
    token: indexed(address)
    ltv_bps: uint256
    threshold_bps: uint256
    bonus_bps: uint256

event AssetLimitsSet:
    token: indexed(address)
    supply_cap: uint256
    price_cap: uint256
    max_oracle_age: uint256

event AssetOracleSet:
    token: indexed(address)
    oracle: address

event AssetFacilitySet:
    token: indexed(address)
    facility: address

event AssetFrozen:
    token: indexed(address)
    frozen: bool

event AssetComplianceSet:
    token: indexed(address)
    source: address

event AssetSynced:
    token: indexed(address)
    booked: uint256
    balance: uint256
    ratio: uint256

event RatesSet:
    base_rate: uint256
    slope1: uint256
    slope2: uint256
    kink_bps: uint256
    reserve_factor_bps: uint256

event FeesSet:
    flash_fee_bps: uint256
    liquidation_fee_bps: uint256

event BorrowLimitsSet:
    min_borrow: uint256
    small_position: uint256
    dust_floor: uint256

event Paused:
    caller: indexed(address)
    actions: uint256

event Unpaused:
    caller: indexed(address)
    actions: uint256
    liquidations_resume_at: uint256

event GuardianSet:
    guardian: indexed(address)

event TreasurySet:
    treasury: indexed(address)

event ReservesWithdrawn:
    treasury: indexed(address)
    amount: uint256

event SurplusBooked:
    caller: indexed(address)
    amount: uint256
    reserves: uint256


# ---- CONSTRUCTOR ----

@deploy
def __init__(base: IERC20, guardian_: address, treasury_: address):
    """
    @notice Sets the base asset and the default curve and limits: 0 % base
            rate, 4 % at a 90 % kink, 60 % more above it, a 10 % reserve
            factor, a 5 bps flash fee, and limits of 100 (minimum borrow),
            2,000 (small position) and 1,000 (dust) base units.
    @param base The base asset (a stablecoin).
    @param guardian_ The account that may pause actions.
    @param treasury_ The account that receives reserves.
    """
    BASE = base
    BASE_DECIMALS = staticcall IERC20Detailed(base.address).decimals()
    BASE_UNIT = 10 ** convert(BASE_DECIMALS, uint256)
    store._market = WAD << store.MARKET_INDEX_SHIFT
    self._set_rates(0, 4 * WAD // 100, 60 * WAD // 100, 9_000, 1_000)
    self._set_fees(5, 0)
    self._set_borrow_limits(100, 2_000, 1_000)
    self._set_guardian(guardian_)
    self._set_treasury(treasury_)


# ---- INTERNAL ----

@internal
@view
def _accrued_words() -> (uint256, uint256, uint256):
    """
    @dev The market and book words as they would be after accruing to now,
         and the interest accrued since the last accrual.
    @return uint256 The market word.
    @return uint256 The book word.
    @return uint256 The interest.
    """
    market: uint256 = store._market
    elapsed: uint256 = block.timestamp - ((market >> store.MARKET_ACCRUAL_SHIFT) & store.MASK32)
    if elapsed == 0:
        return market, store._book, 0
    scaled: uint256 = market & store.MASK112
    if scaled == 0:
        # Nothing to accrue, but the accrual time still moves: a later curve
        # (`set_rates`) must never apply to a stretch that has passed.
        return (market & ~(store.MASK32 << store.MARKET_ACCRUAL_SHIFT)) | (block.timestamp << store.MARKET_ACCRUAL_SHIFT), store._book, 0
    book: uint256 = store._book
    rates: uint256 = store._rates
    index: uint256 = market >> store.MARKET_INDEX_SHIFT
    rate: uint256 = self._rate_at(self._utilization(market, book), rates)
    x: uint256 = rate * elapsed
    # exp(x) - 1 to the third order, as Morpho Blue does: 1e-6 off at 100 %
    # a year over a day, always below the exact value.
    growth: uint256 = x + x * x // (2 * WAD) + x * x // WAD * x // (6 * WAD)
    # The index rounds up, so borrowers never owe less than the curve says.
    # Plain arithmetic is safe here and below: the index fits 96 bits and
    # scaled debt 112, so no product nears 2^256 (a huge rate x elapsed
    # reverts on the checked multiplication instead).
    new_index: uint256 = index + self._ceil_div(index * growth, WAD)
    assert new_index <= store.MASK96, "market: index overflow"
    interest: uint256 = scaled * new_index // WAD - scaled * index // WAD
    # Reserves round down: lenders keep the remainder.
    reserves_added: uint256 = interest * ((rates >> store.RATES_RESERVE_FACTOR_SHIFT) & store.MASK16) // BPS
    # Bits 112-127 (pause bits and flash fee) carry over unchanged.
    market = (new_index << store.MARKET_INDEX_SHIFT) | (block.timestamp << store.MARKET_ACCRUAL_SHIFT) | (market & (store.MASK16 << store.MARKET_PAUSED_SHIFT)) | scaled
    book = book + (reserves_added << store.BOOK_RESERVES_SHIFT)
    return market, book, interest

@internal
@view
def _shares_for(assets: uint256, supply: uint256, market: uint256, book: uint256, roundup: bool) -> uint256:
    """
    @dev Assets to lender shares with virtual shares and assets.
    @param assets The assets.
    @param supply The lender shares' total supply.
    @param market The market word.
    @param book The book word.
    @param roundup The rounding direction (up when the lender pays).
    @return uint256 The shares.
    """
    return math._mul_div(assets, supply + VIRTUAL_SHARES, self._total_assets(market, book) + VIRTUAL_ASSETS, roundup)

@internal
@view
def _assets_for(shares: uint256, supply: uint256, market: uint256, book: uint256, roundup: bool) -> uint256:
    """
    @dev Lender shares to assets with virtual shares and assets.
    @param shares The shares.
    @param supply The lender shares' total supply.
    @param market The market word.
    @param book The book word.
    @param roundup The rounding direction (down when the market pays).
    @return uint256 The assets.
    """
    return math._mul_div(shares, self._total_assets(market, book) + VIRTUAL_ASSETS, supply + VIRTUAL_SHARES, roundup)

@internal
@view
def _accrued_index() -> uint256:
    """
    @dev The borrow index accrued to now.
    @return uint256 The index (WAD).
    """
    market: uint256 = 0
    book: uint256 = 0
    interest: uint256 = 0
    market, book, interest = self._accrued_words()
    return market >> store.MARKET_INDEX_SHIFT

@internal
def _accrue() -> (uint256, uint256):
    """
    @dev Accrues interest to now and stores it; returns the fresh words.
         The market word (index and accrual time) is stored whenever time
         has passed, even when nothing accrued (a 0 % curve, or interest
         that rounds to zero): otherwise the next accrual, or a new curve,
         would cover a stretch at a rate that did not apply to it.
    @return uint256 The market word.
    @return uint256 The book word.
    """
    market: uint256 = 0
    book: uint256 = 0
    interest: uint256 = 0
    market, book, interest = self._accrued_words()
    if interest != 0:
        store._market = market
        store._book = book
        log AccrueInterest(borrow_index=market >> store.MARKET_INDEX_SHIFT, interest=interest)
    elif (market >> store.MARKET_ACCRUAL_SHIFT) & store.MASK32 != (store._market >> store.MARKET_ACCRUAL_SHIFT) & store.MASK32:
        store._market = market
    return market, book

@internal
@pure
def _utilization(market: uint256, book: uint256) -> uint256:
    """
    @dev Borrows over cash plus borrows (WAD), from packed words.
    @param market The market word.
    @param book The book word.
    @return uint256 The utilisation.
    """
    borrows: uint256 = (market & store.MASK112) * (market >> store.MARKET_INDEX_SHIFT) // WAD
    if borrows == 0:
        return 0
    return borrows * WAD // (borrows + (book & store.MASK128))

@internal
@pure
def _rate_at(utilization: uint256, rates: uint256) -> uint256:
    """
    @dev The kinked curve's per-second rate at `utilization`.
    @param utilization Borrows over cash plus borrows (WAD).
    @param rates The packed rate word.
    @return uint256 The per-second rate (WAD).
    """
    base_rate: uint256 = rates & store.MASK64
    slope1: uint256 = (rates >> store.RATES_SLOPE1_SHIFT) & store.MASK64
    slope2: uint256 = (rates >> store.RATES_SLOPE2_SHIFT) & store.MASK64
    kink: uint256 = ((rates >> store.RATES_KINK_SHIFT) & store.MASK16) * (WAD // BPS)
    if utilization <= kink:
        return base_rate + slope1 * utilization // kink
    return base_rate + slope1 + slope2 * (utilization - kink) // (WAD - kink)

@internal
@view
def _total_assets(market: uint256, book: uint256) -> uint256:
    """
    @dev Cash plus borrows (rounded down) minus reserves.
    @param market The market word.
    @param book The book word.
    @return uint256 The lenders' assets.
    """
    borrows: uint256 = (market & store.MASK112) * (market >> store.MARKET_INDEX_SHIFT) // WAD
    return (book & store.MASK128) + borrows - (book >> store.BOOK_RESERVES_SHIFT)

@internal
@pure
def _debt_of(scaled: uint256, index: uint256) -> uint256:
    """
    @dev Debt from scaled debt, rounded up (what a borrower owes).
    @param scaled The scaled debt, or a position word (low 112 bits used).
    @param index The borrow index.
    @return uint256 The debt.
    """
    return self._ceil_div((scaled & store.MASK112) * index, WAD)

@internal
@pure
def _scaled_repaid(repaid: uint256, debt: uint256, scaled: uint256, index: uint256) -> uint256:
    """
    @dev The scaled debt a repayment clears: all of it for a full
         repayment, otherwise rounded down (the borrower is credited less).
    @param repaid The amount repaid.
    @param debt The borrower's debt.
    @param scaled The borrower's scaled debt.
    @param index The borrow index.
    @return uint256 The scaled debt removed.
    """
    if repaid == debt:
        return scaled
    return min(repaid * WAD // index, scaled)

@internal
def _reduce_debt(borrower: address, position: uint256, removed: uint256, market: uint256, book: uint256):
    """
    @dev Stores a borrower's lower scaled debt, the market's total and the
         book (already credited with the repayment).
    @param borrower The borrower.
    @param position The borrower's position word (bitmap up to date).
    @param removed The scaled debt removed.
    @param market The accrued market word.
    @param book The book word with the repayment added to cash.
    """
    store._positions[borrower] = position - removed
    # Total scaled debt is the sum of the positions', so it covers `removed`.
    store._market = ((market & ~(store.MASK32 << store.MARKET_ACCRUAL_SHIFT)) - removed) | (block.timestamp << store.MARKET_ACCRUAL_SHIFT)
    store._book = book

@internal
def _write_off(borrower: address, scaled: uint256, index: uint256):
    """
    @dev Writes off a borrower's remaining debt once no collateral value is
         left: reserves absorb it first, lenders the rest (share price).
    @param borrower The borrower.
    @param scaled The scaled debt left.
    @param index The borrow index.
    """
    amount: uint256 = self._debt_of(scaled, index)
    store._positions[borrower] = store._positions[borrower] - scaled
    market: uint256 = store._market
    store._market = market - min(scaled, market & store.MASK112)
    book: uint256 = store._book
    reserves: uint256 = book >> store.BOOK_RESERVES_SHIFT
    from_reserves: uint256 = min(reserves, amount)
    store._book = book - (from_reserves << store.BOOK_RESERVES_SHIFT)
    log BadDebt(borrower=borrower, amount=amount, from_reserves=from_reserves, socialized=amount - from_reserves)

@internal
@view
def _price(asset_id: uint256, word: uint256) -> (uint256, bool):
    """
    @dev An asset's price, capped, per booked unit (times the asset's ratio
         of real to booked units while the market is short of it), and
         whether it is stale. A feed that
         reverts, answers a price that is not positive, or a strike time
         in the future is broken: its price is zero and it is stale, so it
         counts for nothing anywhere and no third party can make a
         position holding it unliquidatable on its other assets (AUDIT.md,
         "A feed that breaks"). Hence a raw call, not a reverting one.
    @param asset_id The asset.
    @param word The asset's config word (`_asset_config[asset_id]`), which
           the caller has read already.
    @return uint256 The price in the oracle's decimals (zero: broken).
    @return bool True when older than the asset's maximum age, or broken.
    """
    ok: bool = False
    data: Bytes[160] = b""
    ok, data = raw_call(
        self._word_address(word),
        method_id("latestRoundData()"),
        max_outsize=160,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(data) != 160:
        return 0, True
    answer: int256 = extract32(data, 32, output_type=int256)
    updated_at: uint256 = extract32(data, 96, output_type=uint256)
    if answer <= 0 or updated_at > block.timestamp:
        return 0, True
    price: uint256 = convert(answer, uint256)
    if word & (store.FLAG_PRICE_CAP << store.CONFIG_FLAGS_SHIFT) != 0:
        price = min(price, store._asset_price_cap[asset_id])
    if word & (store.FLAG_SHORT << store.CONFIG_FLAGS_SHIFT) != 0:
        # A booked unit holds `_asset_ratio` real units (rounded down).
        price = price * store._asset_ratio[asset_id] // WAD
    return price, block.timestamp - updated_at > word >> store.CONFIG_MAX_AGE_SHIFT

@internal
@view
def _real_amount(token_word: uint256, asset_id: uint256, booked: uint256) -> uint256:
    """
    @dev The real units that `booked` units of an asset hold, rounded down,
         so that after a sync every payout is covered by the balance (see
         `sync_asset`). Any asset the market is not short of: `booked`.
    @param token_word The asset's token word (its short flag).
    @param asset_id The asset.
    @param booked Units on the books.
    @return uint256 Units to transfer.
    """
    if token_word & store.TOKEN_SHORT == 0:
        return booked
    return booked * store._asset_ratio[asset_id] // WAD

@internal
@view
def _pending_price(asset_id: uint256, word: uint256) -> uint256:
    """
    @dev The answer an `IPendingNav` feed has announced as pending, or
         max_value(uint256) when none is, per booked unit (as
         `_price`). A feed that fails to answer is read as pending a
         zero price: borrowing and withdrawing then count the asset for
         nothing, the safe side.
    @param asset_id The asset.
    @param word The asset's config word (its feed is in the low bits).
    @return uint256 The pending answer in the oracle's decimals.
    """
    ok: bool = False
    data: Bytes[64] = b""
    ok, data = raw_call(
        self._word_address(word),
        method_id("pending_answer()"),
        max_outsize=64,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(data) != 64:
        return 0
    answer: int256 = extract32(data, 0, output_type=int256)
    if answer == 0:
        return max_value(uint256)
    if answer < 0:
        return 0
    pending: uint256 = convert(answer, uint256)
    if word & (store.FLAG_SHORT << store.CONFIG_FLAGS_SHIFT) != 0:
        # Per booked unit, as `_price` (rounded down).
        pending = pending * store._asset_ratio[asset_id] // WAD
    return pending

@internal
@view
def _is_compliant(account: address, asset_id: uint256) -> bool:
    """
    @dev Whether the asset's compliance source admits `account`:
         allowlisted and not frozen. Called only for assets whose
         compliance flag is set.
    @param account The account.
    @param asset_id The asset.
    @return bool True when compliant.
    """
    source: IFundToken = IFundToken(store._asset_compliance[asset_id])
    return staticcall source.is_allowlisted(account) and not staticcall source.is_frozen(account)

@internal
@view
def _value(amount: uint256, price: uint256, asset_id: uint256) -> uint256:
    """
    @dev Value in base units of `amount` at `price`, rounded down.
    @param amount The collateral amount.
    @param price The price in the oracle's decimals.
    @param asset_id The asset (for its decimals scale).
    @return uint256 The value.
    """
    return amount * price // 10 ** ((store._asset_config[asset_id] >> store.CONFIG_SCALE_SHIFT) & store.MASK8)

@internal
@view
def _valuation(account: address, position: uint256, target: uint256, mode: uint256) -> _Valuation:
    """
    @dev One pass over the assets an account holds (its bitmap): the value
         at LTV and at the liquidation threshold, the total value, and the
         target asset's price, value and balance.
         - VALUE_BORROW: a stale or frozen asset counts for nothing at LTV
           (no borrowing against it);
         - VALUE_WITHDRAW: a stale asset counts for nothing at LTV, a frozen
           one fully (freezing stops new exposure, it does not trap
           collateral);
         - VALUE_OPEN_BORROW: as VALUE_BORROW, and reverts unless the
           account is compliant on every held asset's compliance source;
         - VALUE_LIQUIDATION: every asset at its last (capped) price.
         At LTV (every mode but VALUE_LIQUIDATION), an asset whose feed has
         announced a lower pending round is valued at that round: a pending
         round may still be rejected, so liquidation keeps the confirmed
         price, but no one borrows against a NAV already known to be lower.
         A broken feed values its asset at zero (see `_price`).
    @param account The borrower.
    @param position The borrower's position word.
    @param target The asset id to report on (max_value: none).
    @param mode One of the VALUE_* modes.
    @return _Valuation What the pass found.
    """
    v: _Valuation = empty(_Valuation)
    bitmap: uint256 = (position >> store.POSITION_BITMAP_SHIFT) & store.MASK16
    for asset_id: uint256 in range(MAX_ASSETS):
        if bitmap == 0:
            break
        if bitmap & 1 != 0:
            balance: uint256 = self._collateral_balance(account, asset_id, position)
            word: uint256 = store._asset_config[asset_id]
            price: uint256 = 0
            stale: bool = False
            price, stale = self._price(asset_id, word)
            value: uint256 = balance * price // 10 ** ((word >> store.CONFIG_SCALE_SHIFT) & store.MASK8)
            v.total_value += value
            v.liquidation_value += value * ((word >> store.CONFIG_THRESHOLD_SHIFT) & store.MASK16) // BPS
            if mode != VALUE_LIQUIDATION:
                if mode == VALUE_OPEN_BORROW and word & (store.FLAG_COMPLIANCE << store.CONFIG_FLAGS_SHIFT) != 0:
                    assert self._is_compliant(account, asset_id), "market: owner not compliant"
                excluded: bool = stale
                if mode != VALUE_WITHDRAW and word & (store.FLAG_FROZEN << store.CONFIG_FLAGS_SHIFT) != 0:
                    excluded = True
                if not excluded:
                    lend_value: uint256 = value
                    if word & (store.FLAG_PENDING_FEED << store.CONFIG_FLAGS_SHIFT) != 0:
                        # Never lend above a lower NAV the feed has
                        # announced as pending (rounded down).
                        pending: uint256 = self._pending_price(asset_id, word)
                        if pending < price:
                            lend_value = balance * pending // 10 ** ((word >> store.CONFIG_SCALE_SHIFT) & store.MASK8)
                    v.borrow_value += lend_value * ((word >> store.CONFIG_LTV_SHIFT) & store.MASK16) // BPS
            if asset_id == target:
                v.target_value = value
                v.target_price = price
                v.target_balance = balance
                v.target_stale = stale
        bitmap = bitmap >> 1
    return v

@internal
@view
def _liquidation_check(v: _Valuation, debt: uint256, market: uint256, strict: bool) -> bool:
    """
    @dev The preconditions of a liquidation, one set for `liquidate` and
         its preview, in this order: past the grace period, not paused,
         some debt, some of this collateral, a health factor below one, and
         a price for the collateral (a broken feed prices nothing, so its
         asset cannot be seized by value). `strict` (`liquidate`) reverts
         with the first that fails; otherwise (the preview) the answer is
         False.
    @param v The borrower's valuation (VALUE_LIQUIDATION), this asset as
           target.
    @param debt The borrower's debt, accrued to now.
    @param market The market word (its pause bits).
    @param strict True to revert on a failed precondition.
    @return bool True when the position may be liquidated on this asset.
    """
    if block.timestamp < store._control & store.MASK40:
        assert not strict, "market: liquidation grace period"
        return False
    if market & (PAUSE_LIQUIDATION << store.MARKET_PAUSED_SHIFT) != 0:
        assert not strict, "market: liquidation paused"
        return False
    if debt == 0:
        assert not strict, "market: no debt"
        return False
    if v.target_balance == 0:
        assert not strict, "market: no such collateral"
        return False
    if v.liquidation_value >= debt:
        assert not strict, "market: position healthy"
        return False
    if v.target_price == 0:
        assert not strict, "market: bad price"
        return False
    return True

@internal
@view
def _liquidation_amounts(asset_id: uint256, v: _Valuation, debt: uint256, max_repay: uint256) -> (uint256, uint256):
    """
    @dev The repayment and seizure of a liquidation: the largest repayment
         up to `max_repay` that the close-factor and dust rules allow. The
         liquidator gets less collateral and pays more debt on every
         rounding.
         - Close factor: 50 % of the debt, or all of it below a health
           factor of 0.95 or when the debt or this collateral is small.
         - Dust: a partial liquidation (neither side cleared) leaves at
           least the floor of debt and of this collateral's value; the
           repayment is trimmed to honour that rather than reverting, so
           that "up to" amounts survive a 1-wei repayment front-run. A trim
           can leave the collateral one base unit under the floor (value
           rounds down).
    @param asset_id The collateral seized.
    @param v The borrower's valuation, with this asset as target.
    @param debt The borrower's debt.
    @param max_repay The most the liquidator offers to repay.
    @return uint256 The debt repaid.
    @return uint256 The collateral seized.
    """
    control: uint256 = store._control
    small: uint256 = ((control >> store.CONTROL_SMALL_POSITION_SHIFT) & store.MASK48) * BASE_UNIT
    cap: uint256 = debt
    if (
        v.liquidation_value * WAD >= CLOSE_FACTOR_HF_THRESHOLD * debt
        and debt >= small
        and v.target_value >= small
    ):
        cap = debt * CLOSE_FACTOR_BPS // BPS
    repaid: uint256 = min(max_repay, cap)

    word: uint256 = store._asset_config[asset_id]
    bonus: uint256 = BPS + ((word >> store.CONFIG_BONUS_SHIFT) & store.MASK16)
    unit: uint256 = 10 ** ((word >> store.CONFIG_SCALE_SHIFT) & store.MASK8)
    # Collateral worth repaid x (1 + bonus), rounded down.
    seized: uint256 = math._mul_div(repaid * bonus, unit, BPS * v.target_price, False)
    if seized >= v.target_balance:
        seized = v.target_balance
        # The repayment that buys all of it, rounded up.
        repaid = min(repaid, math._mul_div(seized * v.target_price, BPS, unit * bonus, True))
    elif repaid < debt:
        dust: uint256 = ((control >> store.CONTROL_DUST_FLOOR_SHIFT) & store.MASK48) * BASE_UNIT
        # Leave the floor of debt, and of collateral value (which falls by
        # repaid x (1 + bonus)).
        most: uint256 = 0
        if debt > dust and v.target_value > dust:
            most = min(debt - dust, (v.target_value - dust) * BPS // bonus)
        if repaid > most:
            repaid = most
            seized = math._mul_div(repaid * bonus, unit, BPS * v.target_price, False)
    # Zero-value dust may be cleared for nothing (it triggers the write-off);
    # otherwise both sides must move.
    assert (seized != 0 and repaid != 0) or seized == v.target_balance, "market: nothing to liquidate"
    return repaid, seized

@internal
@view
def _protocol_fee(asset_id: uint256, seized: uint256, fee_bps: uint256) -> uint256:
    """
    @dev The protocol's share of the bonus part of a seizure, rounded down.
    @param asset_id The collateral seized.
    @param seized The collateral seized.
    @param fee_bps The protocol's share of the bonus.
    @return uint256 The collateral kept for the treasury.
    """
    if fee_bps == 0:
        return 0
    bonus: uint256 = BPS + ((store._asset_config[asset_id] >> store.CONFIG_BONUS_SHIFT) & store.MASK16)
    bonus_part: uint256 = seized - math._mul_div(seized, BPS, bonus, True)
    return bonus_part * fee_bps // BPS

@internal
def _credit_treasury(asset_id: uint256, amount: uint256):
    """
    @dev Credits collateral to the treasury's own position, from where the
         treasury withdraws it like any borrower with no debt.
    @param asset_id The asset.
    @param amount The amount.
    """
    treasury: address = store.treasury
    position: uint256 = store._positions[treasury]
    balance: uint256 = self._collateral_balance(treasury, asset_id, position) + amount
    store._positions[treasury] = self._set_collateral(treasury, asset_id, position, balance)

@internal
def _sweep_to_treasury(account: address):
    """
    @dev Moves every collateral unit left in `account`'s position to the
         treasury's own position: the remnant of a liquidation whose debt
         left is written off (see `liquidate`). Logged as the account's
         withdrawal to the treasury and the treasury's deposit, so that an
         event-sourced index follows it with no new event type.
    @param account The borrower (never the treasury: the caller checks).
    """
    position: uint256 = store._positions[account]
    bitmap: uint256 = (position >> store.POSITION_BITMAP_SHIFT) & store.MASK16
    for asset_id: uint256 in range(MAX_ASSETS):
        if bitmap == 0:
            break
        if bitmap & 1 != 0:
            amount: uint256 = self._collateral_balance(account, asset_id, position)
            position = self._set_collateral(account, asset_id, position, 0)
            store._positions[account] = position
            self._credit_treasury(asset_id, amount)
            token: address = store._asset_token[asset_id]
            treasury: address = store.treasury
            log WithdrawCollateral(
                caller=msg.sender, on_behalf=account, token=token, receiver=treasury, amount=amount, collateral=0
            )
            log SupplyCollateral(
                caller=msg.sender,
                on_behalf=treasury,
                token=token,
                amount=amount,
                collateral=self._collateral_balance(treasury, asset_id, store._positions[treasury]),
            )
        bitmap = bitmap >> 1

@internal
@view
def _surplus(book: uint256) -> uint256:
    """
    @dev The base asset held beyond the cash in `book` (zero if less is
         held, as inside a flash loan's callback).
    @param book The book word.
    @return uint256 The surplus.
    """
    held: uint256 = staticcall IERC20(BASE.address).balanceOf(self)
    cash: uint256 = book & store.MASK128
    if held <= cash:
        return 0
    return held - cash

@internal
@view
def _flash_fee(amount: uint256, market: uint256) -> uint256:
    """
    @dev The flash-loan fee, rounded up so that it never rounds to zero.
    @param amount The amount lent.
    @param market The market word (it holds the fee rate).
    @return uint256 The fee.
    """
    return self._ceil_div(amount * ((market >> store.MARKET_FLASH_FEE_SHIFT) & store.MASK8), BPS)

@internal
@view
def _asset(token: address) -> (uint256, uint256):
    """
    @dev A listed asset's token word and id; reverts for any other token.
    @param token The token.
    @return uint256 The token word (id, frozen flag, supply and cap).
    @return uint256 The asset id.
    """
    word: uint256 = store._assets[token]
    assert word & store.TOKEN_ID_MASK != 0, "market: asset not listed"
    return word, unsafe_sub(word & store.TOKEN_ID_MASK, 1)  # at least 1: checked above


@internal
@view
def _asset_id(token: address) -> uint256:
    """
    @dev The id of a listed asset; reverts for any other token.
    @param token The token.
    @return uint256 Its id.
    """
    word: uint256 = 0
    asset_id: uint256 = 0
    word, asset_id = self._asset(token)
    return asset_id


@internal
@view
def _collateral_balance(account: address, asset_id: uint256, position: uint256) -> uint256:
    """
    @dev A borrower's collateral of one asset (asset 0 sits in the position).
    @param account The borrower.
    @param asset_id The asset.
    @param position The borrower's position word.
    @return uint256 The balance.
    """
    if asset_id == 0:
        return position >> store.POSITION_COLLATERAL_SHIFT
    return store._collateral[account][asset_id]


@internal
def _set_collateral(account: address, asset_id: uint256, position: uint256, balance: uint256) -> uint256:
    """
    @dev Sets a borrower's collateral of one asset and its in-use bit.
         Asset 0 is written into the returned position word, which the
         caller stores; other assets go to their own slot here.
    @param account The borrower.
    @param asset_id The asset.
    @param position The borrower's position word.
    @param balance The new balance (below 2^128: the supply cap bounds it).
    @return uint256 The updated position word.
    """
    word: uint256 = position
    if asset_id == 0:
        word = (word & store.MASK128) | (balance << store.POSITION_COLLATERAL_SHIFT)
    else:
        store._collateral[account][asset_id] = balance
    in_use: uint256 = 1 << (store.POSITION_BITMAP_SHIFT + asset_id)
    if balance == 0:
        return word & ~in_use
    return word | in_use

@internal
@pure
def _word_address(word: uint256) -> address:
    """
    @dev The address in the low 160 bits of a packed word.
    @param word The word.
    @return address The address.
    """
    return convert(convert(word & store.MASK160, uint160), address)

@internal
@pure
def _ceil_div(numerator: uint256, denominator: uint256) -> uint256:
    """
    @dev Division rounded up, without the overflow of `n + d - 1`.
    @param numerator The numerator.
    @param denominator The denominator (non-zero).
    @return uint256 The quotient, rounded up.
    """
    quotient: uint256 = numerator // denominator
    if numerator % denominator != 0:
        return quotient + 1
    return quotient


@internal
@view
def _is_paused(action: uint256) -> bool:
    """
    @dev Whether `action` is paused.
    @param action A PAUSE_* bit.
    @return bool The status.
    """
    return store._market & (action << store.MARKET_PAUSED_SHIFT) != 0

@internal
@view
def _check_not_paused(action: uint256):
    """
    @dev Reverts while `action` is paused.
    @param action A PAUSE_* bit.
    """
    assert store._market & (action << store.MARKET_PAUSED_SHIFT) == 0, "market: paused"

@internal
@view
def _check_authorized(on_behalf: address):
    """
    @dev Reverts unless the caller is `on_behalf` or authorised by it.
    @param on_behalf The account acted for.
    """
    if msg.sender != on_behalf:
        assert store.is_authorized[on_behalf][msg.sender], "market: not authorized"

@internal
def _pull(token: address, sender: address, amount: uint256):
    """
    @dev Pulls `amount` of `token` from `sender` into the market.
    @param token The token.
    @param sender The payer (who approved the market).
    @param amount The amount.
    """
    assert extcall IERC20(token).transferFrom(sender, self, amount, default_return_value=True), \
        "market: transfer failed"

@internal
def _push(token: address, receiver: address, amount: uint256):
    """
    @dev Sends `amount` of `token` from the market.
    @param token The token.
    @param receiver The payee.
    @param amount The amount.
    """
    assert extcall IERC20(token).transfer(receiver, amount, default_return_value=True), "market: transfer failed"

@internal
def _set_risk(asset_id: uint256, token: address, ltv_bps: uint256, threshold_bps: uint256, bonus_bps: uint256):
    """
    @dev Validates and stores an asset's LTV, threshold and bonus.
    @param asset_id The asset.
    @param token The asset's token (for the event).
    @param ltv_bps Borrow limit.
    @param threshold_bps Liquidation threshold.
    @param bonus_bps Liquidation bonus.
    """
    assert ltv_bps != 0 and ltv_bps <= MAX_LTV_BPS, "market: bad ltv"
    assert threshold_bps > ltv_bps, "market: threshold not above ltv"
    assert bonus_bps != 0 and bonus_bps <= MAX_BONUS_BPS, "market: bad bonus"
    # No liquidation may create a deficit by design.
    assert threshold_bps * (BPS + bonus_bps) < BPS * BPS, "market: threshold x bonus >= 1"
    word: uint256 = store._with_field(store._asset_config[asset_id], store.CONFIG_LTV_SHIFT, store.MASK16, ltv_bps)
    word = store._with_field(word, store.CONFIG_THRESHOLD_SHIFT, store.MASK16, threshold_bps)
    store._asset_config[asset_id] = store._with_field(word, store.CONFIG_BONUS_SHIFT, store.MASK16, bonus_bps)
    log AssetRiskSet(token=token, ltv_bps=ltv_bps, threshold_bps=threshold_bps, bonus_bps=bonus_bps)

@internal
def _set_limits(asset_id: uint256, token: address, supply_cap: uint256, price_cap: uint256, max_oracle_age: uint256):
    """
    @dev Validates and stores an asset's supply cap, price cap and age.
    @param asset_id The asset.
    @param token The asset's token (for the event).
    @param supply_cap Most that may be posted.
    @param price_cap Highest price used (0: none).
    @param max_oracle_age Oldest answer accepted for borrowing.
    """
    assert supply_cap <= store.MASK120, "market: bad supply cap"
    assert max_oracle_age >= MIN_ORACLE_AGE and max_oracle_age <= MAX_ORACLE_AGE, "market: bad oracle age"
    word_t: uint256 = store._assets[token]
    store._assets[token] = (word_t & ~(store.MASK120 << store.TOKEN_CAP_SHIFT)) | (supply_cap << store.TOKEN_CAP_SHIFT)
    word: uint256 = store._asset_config[asset_id] & ~(store.MASK32 << store.CONFIG_MAX_AGE_SHIFT) & ~(store.FLAG_PRICE_CAP << store.CONFIG_FLAGS_SHIFT)
    word = word | (max_oracle_age << store.CONFIG_MAX_AGE_SHIFT)
    if price_cap != 0:
        word = word | (store.FLAG_PRICE_CAP << store.CONFIG_FLAGS_SHIFT)
    store._asset_price_cap[asset_id] = price_cap
    store._asset_config[asset_id] = word
    log AssetLimitsSet(token=token, supply_cap=supply_cap, price_cap=price_cap, max_oracle_age=max_oracle_age)

@internal
def _set_oracle(asset_id: uint256, token: address, oracle: address):
    """
    @dev Validates and stores an asset's oracle and its decimals scale:
         value = amount x price / 10^(token decimals + oracle decimals -
         base decimals). The feed must answer a valid round within the
         asset's maximum age (set first), and is flagged when it announces
         pending rounds.
    @param asset_id The asset.
    @param token The asset's token.
    @param oracle The AggregatorV3 feed.
    """
    assert oracle != empty(address), "market: zero oracle"
    oracle_decimals: uint256 = convert(staticcall IAggregatorV3(oracle).decimals(), uint256)
    token_decimals: uint256 = convert(staticcall IERC20Detailed(token).decimals(), uint256)
    base_decimals: uint256 = convert(BASE_DECIMALS, uint256)
    assert token_decimals + oracle_decimals >= base_decimals, "market: bad decimals"
    exponent: uint256 = token_decimals + oracle_decimals - base_decimals
    assert exponent <= 60, "market: bad decimals"
    word: uint256 = store._asset_config[asset_id] & ~store.MASK160 & ~(store.MASK8 << store.CONFIG_SCALE_SHIFT) & ~(
        store.FLAG_PENDING_FEED << store.CONFIG_FLAGS_SHIFT
    )
    word = word | convert(oracle, uint256) | (exponent << store.CONFIG_SCALE_SHIFT)
    # A feed that answers `pending_answer()` announces its pending rounds.
    ok: bool = False
    data: Bytes[64] = b""
    ok, data = raw_call(oracle, method_id("pending_answer()"), max_outsize=64, is_static_call=True, revert_on_failure=False)
    if ok and len(data) == 64:
        word = word | (store.FLAG_PENDING_FEED << store.CONFIG_FLAGS_SHIFT)
    store._asset_config[asset_id] = word
    # A feed with no valid round, or only a stale one, is refused: listed,
    # it would price the asset at nothing from the first deposit.
    price: uint256 = 0
    stale: bool = False
    price, stale = self._price(asset_id, word)
    assert price != 0, "market: bad oracle round"
    assert not stale, "market: oracle stale"
    log AssetOracleSet(token=token, oracle=oracle)

@internal
def _set_rates(base_rate_apr: uint256, slope1_apr: uint256, slope2_apr: uint256, kink_bps: uint256, reserve_factor_bps: uint256):
    """
    @dev Validates annual rates, converts them to per-second ones and
         stores the curve with the reserve factor.
    @param base_rate_apr Rate at zero utilisation (annual, WAD).
    @param slope1_apr Added up to the kink (annual, WAD).
    @param slope2_apr Added from the kink to full utilisation (annual, WAD).
    @param kink_bps The kink.
    @param reserve_factor_bps The reserves' share of interest.
    """
    assert base_rate_apr <= MAX_ANNUAL_RATE and slope1_apr <= MAX_ANNUAL_RATE and slope2_apr <= MAX_ANNUAL_RATE, \
        "market: rate too high"
    assert slope2_apr >= slope1_apr, "market: slope2 below slope1"
    assert kink_bps >= MIN_KINK_BPS and kink_bps <= MAX_KINK_BPS, "market: bad kink"
    assert reserve_factor_bps <= MAX_RESERVE_FACTOR_BPS, "market: bad reserve factor"
    base_rate: uint256 = base_rate_apr // YEAR
    slope1: uint256 = slope1_apr // YEAR
    slope2: uint256 = slope2_apr // YEAR
    rates: uint256 = store._with_field(0, 0, store.MASK64, base_rate)
    rates = store._with_field(rates, store.RATES_SLOPE1_SHIFT, store.MASK64, slope1)
    rates = store._with_field(rates, store.RATES_SLOPE2_SHIFT, store.MASK64, slope2)
    rates = store._with_field(rates, store.RATES_KINK_SHIFT, store.MASK16, kink_bps)
    store._rates = store._with_field(rates, store.RATES_RESERVE_FACTOR_SHIFT, store.MASK16, reserve_factor_bps)
    log RatesSet(base_rate=base_rate, slope1=slope1, slope2=slope2, kink_bps=kink_bps, reserve_factor_bps=reserve_factor_bps)

@internal
def _set_fees(flash_fee_bps: uint256, liquidation_fee_bps: uint256):
    """
    @dev Validates and stores the flash fee and the protocol's bonus share.
    @param flash_fee_bps Flash-loan fee.
    @param liquidation_fee_bps Protocol share of each bonus.
    """
    assert flash_fee_bps <= MAX_FLASH_FEE_BPS, "market: flash fee too high"
    assert liquidation_fee_bps <= MAX_LIQUIDATION_FEE_BPS, "market: liquidation fee too high"
    # The flash fee fits the market word's 8 bits: at most 100, checked above.
    store._market = store._with_field(store._market, store.MARKET_FLASH_FEE_SHIFT, store.MASK8, flash_fee_bps)
    store._control = store._with_field(store._control, store.CONTROL_LIQUIDATION_FEE_SHIFT, store.MASK16, liquidation_fee_bps)
    log FeesSet(flash_fee_bps=flash_fee_bps, liquidation_fee_bps=liquidation_fee_bps)

@internal
def _set_borrow_limits(min_borrow: uint256, small_position: uint256, dust_floor: uint256):
    """
    @dev Validates and stores the minimum borrow and liquidation sizes, in
         whole base units (a dollar is fine-grained enough for all three).
    @param min_borrow Least debt a borrow may leave.
    @param small_position Full-close threshold.
    @param dust_floor Least a partial liquidation may leave.
    """
    assert min_borrow <= store.MASK48 and small_position <= store.MASK48, "market: limit too high"
    assert dust_floor <= small_position, "market: dust above small position"
    control: uint256 = store._with_field(store._control, store.CONTROL_MIN_BORROW_SHIFT, store.MASK48, min_borrow)
    control = store._with_field(control, store.CONTROL_SMALL_POSITION_SHIFT, store.MASK48, small_position)
    store._control = store._with_field(control, store.CONTROL_DUST_FLOOR_SHIFT, store.MASK48, dust_floor)
    log BorrowLimitsSet(min_borrow=min_borrow, small_position=small_position, dust_floor=dust_floor)

@internal
def _set_guardian(guardian_: address):
    """
    @dev Stores the guardian.
    @param guardian_ The guardian.
    """
    assert guardian_ != empty(address), "market: zero guardian"
    store.guardian = guardian_
    log GuardianSet(guardian=guardian_)

@internal
def _set_treasury(treasury_: address):
    """
    @dev Stores the treasury.
    @param treasury_ The treasury.
    """
    assert treasury_ != empty(address), "market: zero treasury"
    store.treasury = treasury_
    log TreasurySet(treasury=treasury_)
