# pragma version 0.4.3
"""
@title navlend Market Storage
@custom:contract-name market_storage
@license GNU Affero General Public License v3.0 only
@author navlend
@notice The one owner of the market's storage. It declares every storage
        variable of the market and the layout of its packed words: the
        shift and mask of each field, named here and nowhere else, with
        helpers that read and write a field. `market_core` and the three
        deployables (`Market`, `MarketViews`, `MarketAdmin`) reach the
        storage through this module; each deployable initialises it, in the
        same place, so the three share one layout.
@dev Hot paths (`Market`'s operations, the valuation) read and write fields
     inline with the named constants below: Vyper 0.4.3 does not inline
     internal functions, and a call to `_field` costs about 40 gas, more
     than the margin some operations keep under Morpho Blue's figures. Cold
     paths (the owner's functions, the views) use the helpers.
"""


# ---- CONSTANTS ----

# @dev Bit masks of the packed words.
MASK8: constant(uint256) = 2**8 - 1
MASK16: constant(uint256) = 2**16 - 1
MASK32: constant(uint256) = 2**32 - 1
MASK40: constant(uint256) = 2**40 - 1
MASK64: constant(uint256) = 2**64 - 1
MASK96: constant(uint256) = 2**96 - 1
MASK112: constant(uint256) = 2**112 - 1
MASK120: constant(uint256) = 2**120 - 1
MASK48: constant(uint256) = 2**48 - 1
MASK128: constant(uint256) = 2**128 - 1
MASK160: constant(uint256) = 2**160 - 1

# @dev Fields of `_market`: total scaled debt (bits 0-111) | paused
#      actions (112-119) | flash fee bps (120-127) | last accrual
#      (128-159) | borrow index, WAD (160-255).
MARKET_PAUSED_SHIFT: constant(uint256) = 112
MARKET_FLASH_FEE_SHIFT: constant(uint256) = 120
MARKET_ACCRUAL_SHIFT: constant(uint256) = 128
MARKET_INDEX_SHIFT: constant(uint256) = 160
# @dev Fields of `_book`: cash (bits 0-127) | reserves (128-255).
BOOK_RESERVES_SHIFT: constant(uint256) = 128
# @dev Fields of `_rates`: base rate (bits 0-63) | slope1 (64-127) |
#      slope2 (128-191) | kink bps (192-207) | reserve factor bps (208-223).
RATES_SLOPE1_SHIFT: constant(uint256) = 64
RATES_SLOPE2_SHIFT: constant(uint256) = 128
RATES_KINK_SHIFT: constant(uint256) = 192
RATES_RESERVE_FACTOR_SHIFT: constant(uint256) = 208
# @dev Fields of `_control`: liquidations resume at (bits 0-39) |
#      liquidation fee bps (56-71) | min borrow (72-119) | small-position
#      threshold (120-167) | dust floor (168-215).
CONTROL_LIQUIDATION_FEE_SHIFT: constant(uint256) = 56
CONTROL_MIN_BORROW_SHIFT: constant(uint256) = 72
CONTROL_SMALL_POSITION_SHIFT: constant(uint256) = 120
CONTROL_DUST_FLOOR_SHIFT: constant(uint256) = 168
# @dev Fields of a `_positions` word: scaled debt (bits 0-111) | assets-in-
#      use bitmap (112-127) | collateral of asset 0 (128-255).
POSITION_BITMAP_SHIFT: constant(uint256) = 112
POSITION_COLLATERAL_SHIFT: constant(uint256) = 128
# @dev Fields of an `_asset_config` word: oracle (bits 0-159) | ltv bps
#      (160-175) | threshold bps (176-191) | bonus bps (192-207) | decimals
#      scale exponent (208-215) | flags (216-223) | max oracle age (224-255).
CONFIG_LTV_SHIFT: constant(uint256) = 160
CONFIG_THRESHOLD_SHIFT: constant(uint256) = 176
CONFIG_BONUS_SHIFT: constant(uint256) = 192
CONFIG_SCALE_SHIFT: constant(uint256) = 208
CONFIG_FLAGS_SHIFT: constant(uint256) = 216
CONFIG_MAX_AGE_SHIFT: constant(uint256) = 224
# @dev Fields of an `_assets` (token) word: asset id plus one (bits 0-7) |
#      flags (8-11, the TOKEN_* bits) | total supplied (16-135) | supply cap
#      (136-255).
TOKEN_ID_MASK: constant(uint256) = 2**8 - 1
TOKEN_TOTAL_SHIFT: constant(uint256) = 16
TOKEN_CAP_SHIFT: constant(uint256) = 136

# @dev Asset flag bits inside an asset's config word (bits 216-223).
FLAG_FROZEN: constant(uint256) = 1
FLAG_PRICE_CAP: constant(uint256) = 2
# @dev The asset's feed announces pending rounds (`IPendingNav`): borrowing
#      and withdrawing value the asset at min(confirmed, pending).
FLAG_PENDING_FEED: constant(uint256) = 4
# @dev The asset has a compliance source (`_asset_compliance`).
FLAG_COMPLIANCE: constant(uint256) = 8
# @dev The market holds fewer of the asset's units than its books say (an
#      issuer seized or burned some): every booked unit is worth
#      `_asset_ratio` real units, in prices and in payouts (see `sync_asset`).
FLAG_SHORT: constant(uint256) = 16
# @dev The frozen flag again, in an asset's token word (bit 8), so that a
#      collateral deposit reads one word; `set_asset_frozen` sets both.
TOKEN_FROZEN: constant(uint256) = 256
# @dev The PAUSE_DEPOSIT_COLLATERAL bit again, in every listed asset's token
#      word (bit 9), so that a collateral deposit reads no market word;
#      `pause`, `unpause` and `list_asset` keep it equal to the market's bit.
TOKEN_DEPOSIT_PAUSED: constant(uint256) = 512
# @dev The compliance flag again, in an asset's token word (bit 10), so that
#      a collateral deposit or withdrawal reads no config word for it.
TOKEN_COMPLIANCE: constant(uint256) = 1024
# @dev The short flag again, in an asset's token word (bit 11), so that a
#      transfer out converts booked units to real ones on the word it read.
TOKEN_SHORT: constant(uint256) = 2048


# ---- STORAGE ----

# Accounting.

# @dev Packed: borrow index (bits 160-255, WAD) | last accrual (128-159) |
#      flash fee bps (120-127) | paused actions (112-119) | total scaled
#      debt (0-111). The pause bits sit here because every guarded action
#      reads this word anyway, and the flash fee (at most 100 bps, so 8
#      bits) because a flash loan reads it for its pause bit: a flash loan
#      then reads two words (this and the book), not three.
_market: uint256
# @dev Packed: reserves (bits 128-255) | cash held for lenders (0-127).
_book: uint256
# @dev Packed: reserve factor bps (208-223) | kink bps (192-207) | slope2
#      (128-191) | slope1 (64-127) | base rate (0-63); rates per second, WAD.
_rates: uint256
# @dev Packed: dust floor (168-215) | small-position threshold (120-167) |
#      min borrow (72-119), these three in whole base units | liquidation
#      fee bps (56-71) | unused (40-55; the flash fee is in `_market`) |
#      liquidations resume at (0-39).
_control: uint256

# Positions.

# @dev Packed per borrower: collateral of asset 0 (bits 128-255) | assets-in-
#      use bitmap (112-127) | scaled debt (0-111). Asset 0, a market's main
#      collateral, lives in this word so a new position costs one new slot.
_positions: HashMap[address, uint256]
# @dev Collateral balance of a borrower, per asset id from 1 (0: see above).
_collateral: HashMap[address, HashMap[uint256, uint256]]
# @dev Operators each account lets borrow and withdraw on its behalf.
is_authorized: public(HashMap[address, HashMap[address, bool]])

# Assets.

# @dev Number of listed collateral assets; ids run from 0.
asset_count: public(uint256)
# @dev Packed per asset id: max oracle age (224-255) | flags (216-223) |
#      decimals scale exponent (208-215) | bonus bps (192-207) | threshold
#      bps (176-191) | ltv bps (160-175) | oracle (0-159).
_asset_config: HashMap[uint256, uint256]
# @dev Token of each asset id.
_asset_token: HashMap[uint256, address]
# @dev Packed per token: supply cap (bits 136-255) | total supplied (16-135)
#      | short (11) | compliance checked (10) | deposits paused (9, a copy
#      of the market's bit) | frozen (8) | asset id plus one (0-7; zero: not
#      listed).
_assets: HashMap[address, uint256]
# @dev Price cap per asset id, in the oracle's decimals (used if flagged).
_asset_price_cap: HashMap[uint256, uint256]
# @dev Redemption facility per asset id, for the redeem route.
_asset_facility: HashMap[uint256, address]
# @dev Compliance source per asset id: the fund token, or an adapter that
#      answers `IFundToken.is_allowlisted` and `is_frozen` for a token with
#      another interface (read only when the asset's compliance flag is set).
_asset_compliance: HashMap[uint256, address]
# @dev Real units per booked unit (WAD, below one) of an asset the market
#      is short of, as `sync_asset` last measured it (read only when the
#      asset's short flag is set).
_asset_ratio: HashMap[uint256, uint256]

# Roles.

# @dev May pause and unpause every action but liquidation, and freeze assets.
guardian: public(address)
# @dev Receives withdrawn reserves and the protocol's share of bonuses.
treasury: public(address)


# ---- INTERNAL FUNCTIONS ----

@internal
@pure
def _field(word: uint256, at: uint256, mask: uint256) -> uint256:
    """
    @dev The field at `at` of `word`, `mask` wide.
    @param word The packed word.
    @param at The field's lowest bit (a `*_SHIFT` constant, or 0).
    @param mask The field's width as a mask (a `MASK*` constant).
    @return uint256 The field.
    """
    return (word >> at) & mask


@internal
@pure
def _with_field(word: uint256, at: uint256, mask: uint256, field: uint256) -> uint256:
    """
    @dev `word` with the field at `at` set to `field`, which must fit
         `mask` (the caller has bounded it: a wider value is refused here,
         so it cannot spill into the next field).
    @param word The packed word.
    @param at The field's lowest bit.
    @param mask The field's width as a mask.
    @param field The new value of the field.
    @return uint256 The new word.
    """
    assert field <= mask, "market: field overflow"
    return (word & ~(mask << at)) | (field << at)
