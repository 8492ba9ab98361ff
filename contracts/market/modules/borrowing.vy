# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title navlend Market: Borrowing
@custom:contract-name borrowing
@license GNU Affero General Public License v3.0 only
@author navlend
@notice The borrowers' side of the market: posting and withdrawing
        collateral, borrowing and repaying. `Market` exports these functions.
"""

from . import market_core as core
from . import market_storage as store

uses: store
uses: core


# ---- EXTERNAL FUNCTIONS ----

@external
def supply_collateral(token: address, amount: uint256, on_behalf: address):
    """
    @notice Posts `amount` of a listed fund share as `on_behalf`'s collateral.
            Open while the asset's price is stale; closed while it is frozen.
    @param token The collateral asset.
    @param amount The amount, in the asset's units.
    @param on_behalf The borrower credited.
    """
    # The pause bit is copied into every listed asset's token word, so a
    # deposit of a listed asset reads no market word; any other token falls
    # back to the market word, so the checks and their order are unchanged.
    word: uint256 = store._assets[token]
    if word & store.TOKEN_ID_MASK == 0:
        core._check_not_paused(core.PAUSE_DEPOSIT_COLLATERAL)
    assert word & store.TOKEN_DEPOSIT_PAUSED == 0, "market: paused"
    assert amount != 0, "market: zero amount"
    assert on_behalf != empty(address), "market: zero address"
    # As `core._asset`, on the word already read.
    assert word & store.TOKEN_ID_MASK != 0, "market: asset not listed"
    asset_id: uint256 = unsafe_sub(word & store.TOKEN_ID_MASK, 1)  # at least 1: checked just above
    assert word & store.TOKEN_FROZEN == 0, "market: asset frozen"
    # Posting for someone else must not give a party the fund has not
    # admitted a position (the token checks only the caller, as sender).
    if word & store.TOKEN_COMPLIANCE != 0 and on_behalf != msg.sender:
        assert core._is_compliant(on_behalf, asset_id), "market: beneficiary not compliant"
    # Add on the unpacked field: a packed add could carry into the cap bits.
    # The cap is below 2^120, so a total within it fits its field, and every
    # balance (at most the total) fits the position word's 128 bits.
    total: uint256 = ((word >> store.TOKEN_TOTAL_SHIFT) & store.MASK120) + amount
    assert total <= word >> store.TOKEN_CAP_SHIFT, "market: supply cap exceeded"
    store._assets[token] = (word & ~(store.MASK120 << store.TOKEN_TOTAL_SHIFT)) | (total << store.TOKEN_TOTAL_SHIFT)

    # `core._collateral_balance` and `core._set_collateral`, inlined for a
    # balance that only grows: it is non-zero, so the asset's in-use bit is
    # set, and below 2^120 (the cap), so asset 0's fits its 128 bits.
    position: uint256 = store._positions[on_behalf]
    balance: uint256 = 0
    if asset_id == 0:
        balance = (position >> store.POSITION_COLLATERAL_SHIFT) + amount
        store._positions[on_behalf] = (position & store.MASK128) | (balance << store.POSITION_COLLATERAL_SHIFT) | (1 << store.POSITION_BITMAP_SHIFT)
    else:
        balance = store._collateral[on_behalf][asset_id] + amount
        store._collateral[on_behalf][asset_id] = balance
        in_use: uint256 = 1 << (store.POSITION_BITMAP_SHIFT + asset_id)
        if position & in_use == 0:
            # Skip the write when the bit is already set (no change).
            store._positions[on_behalf] = position | in_use

    log core.SupplyCollateral(caller=msg.sender, on_behalf=on_behalf, token=token, amount=amount, collateral=balance)
    core._pull(token, msg.sender, amount)


@external
def withdraw_collateral(token: address, amount: uint256, on_behalf: address, receiver: address):
    """
    @notice Withdraws collateral; the position must stay within its borrow
            limit at fresh prices, and a stale asset cannot be withdrawn.
    @param token The collateral asset.
    @param amount The amount, in the asset's units.
    @param on_behalf The borrower (the caller, or one that authorised it).
    @param receiver The account paid (must be allowlisted by the fund).
    """
    core._check_not_paused(core.PAUSE_WITHDRAW_COLLATERAL)
    core._check_authorized(on_behalf)
    assert amount != 0, "market: zero amount"
    assert receiver != empty(address), "market: zero address"
    word: uint256 = 0
    asset_id: uint256 = 0
    word, asset_id = core._asset(token)
    # A party the fund has frozen or removed takes nothing out: its shares
    # leave only through liquidation.
    if word & store.TOKEN_COMPLIANCE != 0:
        assert core._is_compliant(on_behalf, asset_id), "market: owner not compliant"
        if receiver != on_behalf:
            assert core._is_compliant(receiver, asset_id), "market: receiver not compliant"

    position: uint256 = store._positions[on_behalf]
    balance: uint256 = core._collateral_balance(on_behalf, asset_id, position)
    assert balance >= amount, "market: insufficient collateral"
    balance = unsafe_sub(balance, amount)  # checked just above
    position = core._set_collateral(on_behalf, asset_id, position, balance)
    store._positions[on_behalf] = position
    # The total supplied is the sum of all balances, so it covers `amount`.
    store._assets[token] = unsafe_sub(word, amount << store.TOKEN_TOTAL_SHIFT)

    if position & store.MASK112 != 0:
        # Only the debt is needed: cash and borrows do not change, so the
        # accrued index is computed but not stored (the next accrual covers
        # this interval at the same utilisation and rate).
        debt: uint256 = core._debt_of(position, core._accrued_index())
        v: core._Valuation = core._valuation(on_behalf, position, asset_id, core.VALUE_WITHDRAW)
        assert not v.target_stale, "market: stale price"
        assert v.borrow_value >= debt, "market: exceeds borrow limit"

    log core.WithdrawCollateral(
        caller=msg.sender, on_behalf=on_behalf, token=token, receiver=receiver, amount=amount, collateral=balance
    )
    # The books fall by `amount`; the receiver gets what it really holds.
    core._push(token, receiver, core._real_amount(word, asset_id, amount))


@external
def borrow(amount: uint256, on_behalf: address, receiver: address) -> uint256:
    """
    @notice Borrows `amount` of the base asset against `on_behalf`'s
            collateral, valued at fresh prices times each asset's LTV.
    @param amount The amount to borrow, in base units.
    @param on_behalf The borrower (the caller, or one that authorised it).
    @param receiver The account paid.
    @return uint256 The borrower's debt after the borrow.
    """
    core._check_not_paused(core.PAUSE_BORROW)
    core._check_authorized(on_behalf)
    assert amount != 0, "market: zero amount"
    assert receiver != empty(address), "market: zero address"
    market: uint256 = 0
    book: uint256 = 0
    market, book = core._accrue()
    index: uint256 = market >> store.MARKET_INDEX_SHIFT
    cash: uint256 = book & store.MASK128
    assert cash >= amount, "market: insufficient cash"

    position: uint256 = store._positions[on_behalf]
    # What the borrower owes rounds up.
    added: uint256 = core._ceil_div(amount * core.WAD, index)
    scaled: uint256 = (position & store.MASK112) + added
    assert scaled <= store.MASK112, "market: overflow"
    debt: uint256 = core._debt_of(scaled, index)
    assert debt >= ((store._control >> store.CONTROL_MIN_BORROW_SHIFT) & store.MASK48) * core.BASE_UNIT, "market: below min borrow"
    # Also refuses an owner that any held asset's fund has frozen or removed.
    assert core._valuation(on_behalf, position, max_value(uint256), core.VALUE_OPEN_BORROW).borrow_value >= debt, \
        "market: exceeds borrow limit"

    total_scaled: uint256 = (market & store.MASK112) + added
    assert total_scaled <= store.MASK112, "market: overflow"
    store._positions[on_behalf] = (position & ~store.MASK112) | scaled
    store._market = (market & ~store.MASK112 & ~(store.MASK32 << store.MARKET_ACCRUAL_SHIFT)) | (block.timestamp << store.MARKET_ACCRUAL_SHIFT) | total_scaled
    store._book = unsafe_sub(book, amount)  # cash (low bits) covers amount: checked above

    log core.Borrow(caller=msg.sender, on_behalf=on_behalf, receiver=receiver, amount=amount, scaled_debt=scaled, borrow_index=index)
    core._push(core.BASE.address, receiver, amount)
    return debt


@external
def repay(amount: uint256, on_behalf: address) -> uint256:
    """
    @notice Repays up to `amount` of `on_behalf`'s debt; anyone may repay
            for anyone. Never paused. `max_value(uint256)` repays it all.
    @param amount The most to repay, in base units.
    @param on_behalf The borrower whose debt falls.
    @return uint256 The amount actually repaid.
    """
    market: uint256 = 0
    book: uint256 = 0
    market, book = core._accrue()
    index: uint256 = market >> store.MARKET_INDEX_SHIFT
    position: uint256 = store._positions[on_behalf]
    scaled: uint256 = position & store.MASK112
    assert scaled != 0, "market: no debt"
    debt: uint256 = core._debt_of(scaled, index)
    repaid: uint256 = min(amount, debt)
    assert repaid != 0, "market: zero amount"
    removed: uint256 = core._scaled_repaid(repaid, debt, scaled, index)
    core._reduce_debt(on_behalf, position, removed, market, book + repaid)
    log core.Repay(caller=msg.sender, on_behalf=on_behalf, amount=repaid, scaled_debt=scaled - removed, borrow_index=index)
    core._pull(core.BASE.address, msg.sender, repaid)
    return repaid
