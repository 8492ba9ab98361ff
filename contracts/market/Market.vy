# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
# pragma optimize gas
"""
@title navlend Market
@license GNU Affero General Public License v3.0 only
@author navlend
@notice An overcollateralised market that lends one base asset (a USD
        stablecoin) against a short list of tokenized money-market-fund
        shares. Lenders hold ERC-4626 shares of the base asset; borrowers
        post fund shares and borrow the base asset at a kinked, per-second
        rate. Unhealthy positions are liquidated under Aave 3.3's close-factor
        and dust rules, either by handing the seized fund shares to the
        liquidator or by redeeming them through the issuer's facility and
        paying the liquidator in the base asset ("redeem route"), so that
        liquidators need no allowlisting.

        Accounting:
        - share price = (cash + borrows - reserves) / shares, with `cash`
          tracked internally so that a donation moves neither the share price
          nor the utilisation; virtual shares and assets defend against the
          inflation attack;
        - debt is stored as scaled debt against a borrow index; what a user
          owes rounds up, what the protocol pays out rounds down;
        - bad debt is written off first against reserves, then across
          lenders through the share price.

        Layout: this contract holds the users' operations. Every view (the
        ERC-4626 and ERC-3156 views included) lives in `MarketViews`, which
        the fallback reaches by `delegatecall` on this storage; the owner's
        and guardian's functions live in `MarketAdmin`, which the views'
        fallback reaches the same way. All three run on
        `modules/market_core.vy`, which holds the storage, events and
        shared logic. The split keeps each under EIP-170 and the hot paths
        free of rarely used code.

        Gas: the hot state lives in a handful of packed words (see the core
        module's STORAGE), a borrower's main collateral sits in its position
        word, and a health check touches only the assets a borrower holds,
        found through a bitmap.
@custom:security All external functions share one global lock (pragma
        `nonreentrancy on`), and views check it, so no view returns
        mid-operation state to a re-entering caller. The one exception is
        `flashLoan`, which is `@reentrant` on purpose: an ERC-3156 borrower
        must be able to liquidate, repay or lever inside its callback. It
        changes no state before the callback and re-reads the books after
        it, and every locked function writes all its state before its first
        external call, so a flash loan taken from inside a token hook sees
        consistent books. The lender share token functions come from
        snekmate's erc20 (which opts out of the lock); moving lender shares
        touches no lending state.
@custom:kill The owner pauses every guarded action (`pause`); repayment
        stays open so that borrowers can always close their debt.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC4626

implements: IERC20

from ..interfaces import IMarket
implements: IMarket

from ..interfaces import IRedemptionFacility
from ..interfaces import IERC3156FlashBorrower

from snekmate.auth import ownable
from snekmate.auth import ownable_2step
from snekmate.tokens import erc20

from .modules import market_core as core
from .modules import market_storage as store

initializes: ownable
initializes: ownable_2step[ownable := ownable]
initializes: erc20[ownable := ownable]
initializes: store
initializes: core[store := store]

exports: (
    erc20.balanceOf,
    erc20.totalSupply,
    erc20.allowance,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.permit,
    erc20.DOMAIN_SEPARATOR,
)


# ---- CONSTANTS ----

# @dev Largest return data forwarded from the extension.
MAX_EXTENSION_RETURN: constant(uint256) = 1_024


# ---- IMMUTABLES ----

# @dev The extension that answers every view and forwards the owner's
#      functions to `MarketAdmin`; reached by `delegatecall` on the same
#      storage.
EXTENSION: public(immutable(address))


# ---- CONSTRUCTOR ----

@deploy
def __init__(
    base: IERC20,
    extension: address,
    name_: String[25],
    symbol_: String[5],
    guardian_: address,
    treasury_: address,
):
    """
    @notice Deploys an empty market over `base`, with its extensions.
    @param base The base asset (a stablecoin).
    @param extension The deployed MarketViews for the same base asset.
    @param name_ The lender share token's name.
    @param symbol_ The lender share token's symbol.
    @param guardian_ The account that may pause actions.
    @param treasury_ The account that receives reserves.
    """
    assert extension.is_contract, "market: extension not a contract"
    assert staticcall IERC4626(extension).asset() == base.address, "market: extension for another base"
    EXTENSION = extension
    ownable.__init__()
    ownable_2step.__init__()
    core.__init__(base, guardian_, treasury_)
    erc20.__init__(name_, symbol_, core.BASE_DECIMALS + core.DECIMALS_OFFSET, name_, "1")


@external
@reentrant
@raw_return
def __default__() -> Bytes[MAX_EXTENSION_RETURN]:
    """
    @notice Forwards every other call (the views, and through them the
            owner's and guardian's functions) to the extension, on this
            market's storage.
    @dev Outside the lock itself: the extension's functions take it.
    @return Bytes[MAX_EXTENSION_RETURN] The extension's return data.
    """
    return raw_call(EXTENSION, msg.data, max_outsize=MAX_EXTENSION_RETURN, is_delegate_call=True)


# ---- LENDERS (ERC-4626) ----

@external
def deposit(assets: uint256, receiver: address) -> uint256:
    """
    @notice Lends `assets` of the base asset; mints shares to `receiver`.
    @param assets The amount of the base asset to lend.
    @param receiver The account credited with the shares.
    @return uint256 The shares minted (rounded down).
    """
    core._check_not_paused(core.PAUSE_SUPPLY)
    market: uint256 = 0
    book: uint256 = 0
    market, book = core._accrue()
    shares: uint256 = core._shares_for(assets, erc20.totalSupply, market, book, False)
    self._supply(assets, shares, receiver, book)
    return shares


@external
def mint(shares: uint256, receiver: address) -> uint256:
    """
    @notice Mints exactly `shares` to `receiver` for the assets they cost.
    @param shares The lender shares to mint.
    @param receiver The account credited with the shares.
    @return uint256 The assets pulled (rounded up).
    """
    core._check_not_paused(core.PAUSE_SUPPLY)
    market: uint256 = 0
    book: uint256 = 0
    market, book = core._accrue()
    assets: uint256 = core._assets_for(shares, erc20.totalSupply, market, book, True)
    self._supply(assets, shares, receiver, book)
    return assets


@external
def withdraw(assets: uint256, receiver: address, owner: address) -> uint256:
    """
    @notice Withdraws exactly `assets` to `receiver`, burning `owner`'s shares.
    @param assets The amount of the base asset to withdraw.
    @param receiver The account paid.
    @param owner The lender whose shares are burned (allowance if not caller).
    @return uint256 The shares burned (rounded up).
    """
    core._check_not_paused(core.PAUSE_WITHDRAW)
    market: uint256 = 0
    book: uint256 = 0
    market, book = core._accrue()
    shares: uint256 = core._shares_for(assets, erc20.totalSupply, market, book, True)
    self._exit(assets, shares, receiver, owner, book)
    return shares


@external
def redeem(shares: uint256, receiver: address, owner: address) -> uint256:
    """
    @notice Burns `shares` of `owner` and pays their worth to `receiver`.
    @param shares The lender shares to burn.
    @param receiver The account paid.
    @param owner The lender whose shares are burned (allowance if not caller).
    @return uint256 The assets paid (rounded down).
    """
    core._check_not_paused(core.PAUSE_WITHDRAW)
    market: uint256 = 0
    book: uint256 = 0
    market, book = core._accrue()
    assets: uint256 = core._assets_for(shares, erc20.totalSupply, market, book, False)
    self._exit(assets, shares, receiver, owner, book)
    return assets


# ---- BORROWERS ----

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


# ---- LIQUIDATION ----

@external
def liquidate(
    borrower: address,
    token: address,
    max_repay: uint256,
    min_out: uint256,
    redeem_shares: bool,
    receiver: address,
) -> (uint256, uint256, uint256):
    """
    @notice Repays up to `max_repay` of an unhealthy borrower's debt and
            takes collateral worth the repayment plus the asset's bonus, at
            min(last price, cap) even if the price is stale.
            - Close factor: 50 % of the debt; 100 % below a health factor
              of 0.95 or when the debt or the collateral is small.
            - A partial liquidation must leave at least the dust floor of
              both the debt and this collateral, or clear one of them.
            - A liquidation that leaves no collateral value writes the
              remaining debt off: reserves first, then lenders.
            - `redeem_shares`: the seized shares are redeemed through the
              asset's facility and `receiver` is paid in the base asset, so
              no allowlisting is needed; otherwise `receiver` gets the
              shares and must be allowlisted by the fund.
            The repayment is pulled from the caller after `receiver` is
            paid, so a redeem-route liquidation can fund itself.
    @param borrower The position to liquidate.
    @param token The collateral asset to seize.
    @param max_repay The most the caller will repay ("up to").
    @param min_out The least collateral (share route) or base asset
           (redeem route) that `receiver` must get.
    @param redeem_shares True for the redeem route.
    @param receiver Who gets the seized shares or the payout.
    @return uint256 The debt repaid.
    @return uint256 The collateral seized from the borrower.
    @return uint256 What `receiver` got: shares, or base units.
    """
    assert receiver != empty(address), "market: zero address"
    word: uint256 = 0
    asset_id: uint256 = 0
    word, asset_id = core._asset(token)

    market: uint256 = 0
    book: uint256 = 0
    market, book = core._accrue()
    control: uint256 = store._control
    index: uint256 = market >> store.MARKET_INDEX_SHIFT
    position: uint256 = store._positions[borrower]
    scaled: uint256 = position & store.MASK112
    debt: uint256 = core._debt_of(scaled, index)
    v: core._Valuation = core._valuation(borrower, position, asset_id, core.VALUE_LIQUIDATION)
    # The preconditions `preview_liquidation` shares (reverting here).
    core._liquidation_check(v, debt, market, True)

    repaid: uint256 = 0
    seized: uint256 = 0
    repaid, seized = core._liquidation_amounts(asset_id, v, debt, max_repay)

    # What is left of the protocol's share of the bonus stays in the market
    # as the treasury's collateral (default share: zero).
    fee: uint256 = core._protocol_fee(asset_id, seized, (control >> store.CONTROL_LIQUIDATION_FEE_SHIFT) & store.MASK16)
    taken: uint256 = seized - fee
    left: uint256 = v.target_balance - seized
    position = core._set_collateral(borrower, asset_id, position, left)
    # The total supplied is the sum of all balances, so it covers `taken`.
    store._assets[token] = unsafe_sub(word, taken << store.TOKEN_TOTAL_SHIFT)

    removed: uint256 = core._scaled_repaid(repaid, debt, scaled, index)
    core._reduce_debt(borrower, position, removed, market, book + repaid)
    scaled_left: uint256 = scaled - removed
    # Debt left that the collateral left cannot cover, with that collateral
    # worth nothing or less than the dust floor (not worth a liquidation's
    # gas, and a redeem route may refuse it): the collateral left goes to
    # the treasury and the debt left is written off. The test is on value,
    # not balances, so a unit of collateral posted to an insolvent position
    # (here or in another asset) cannot keep its debt alive.
    if scaled_left != 0:
        remaining_value: uint256 = v.total_value - v.target_value + core._value(left, v.target_price, asset_id)
        if remaining_value < core._debt_of(scaled_left, index) and (
            remaining_value == 0 or remaining_value < ((control >> store.CONTROL_DUST_FLOOR_SHIFT) & store.MASK48) * core.BASE_UNIT
        ):
            if remaining_value != 0 and borrower != store.treasury:
                core._sweep_to_treasury(borrower)
                left = 0
            core._write_off(borrower, scaled_left, index)
            scaled_left = 0
    if fee != 0:
        core._credit_treasury(asset_id, fee)

    # `taken` leaves the books; the real units it holds leave the market.
    payout: uint256 = core._real_amount(word, asset_id, taken)
    sent: uint256 = payout
    if redeem_shares:
        facility: address = store._asset_facility[asset_id]
        assert facility != empty(address), "market: no facility"
        payout = extcall IRedemptionFacility(facility).redeem(sent, min_out, receiver)
    else:
        assert sent >= min_out, "market: slippage"
    log core.Liquidate(
        liquidator=msg.sender,
        borrower=borrower,
        token=token,
        receiver=receiver,
        repaid=repaid,
        seized=seized,
        protocol_fee=fee,
        payout=payout,
        scaled_debt=scaled_left,
        collateral=left,
    )
    if not redeem_shares:
        core._push(token, receiver, sent)
    if repaid != 0:
        core._pull(core.BASE.address, msg.sender, repaid)
    return repaid, seized, payout


# ---- FLASH LOANS (ERC-3156) ----

@external
@reentrant
def flashLoan(receiver: IERC3156FlashBorrower, token: address, amount: uint256, data: Bytes[core.MAX_FLASH_DATA]) -> bool:
    """
    @notice Lends `amount` of the base asset to `receiver` for one call, and
            pulls back `amount + fee` with `transferFrom`. The fee stays in
            the market unbooked, a surplus over its cash, until `book_surplus`
            (anyone) or `withdraw_reserves` books it as reserves after
            accruing interest: so a flash loan writes no storage, and its fee
            never touches the lenders' share price. The principal touches
            neither cash nor utilisation, so the loan moves no rate. A loan
            above the base asset the market holds reverts in the token's
            transfer. Collateral is never lent.
    @dev Deliberately outside the global lock, so that the callback can use
         the market (see @custom:security at the top).
    @param receiver The ERC-3156 borrower.
    @param token Must be the base asset.
    @param amount The amount lent.
    @param data Passed through to the callback.
    @return bool True.
    """
    assert token == core.BASE.address, "market: unsupported token"
    # The only storage read: the market word, for the pause bit and the fee
    # rate. No cash check (the transfer fails if the market holds too little)
    # and no write: the fee is booked later (see above).
    market: uint256 = store._market
    assert market & (core.PAUSE_FLASH_LOAN << store.MARKET_PAUSED_SHIFT) == 0, "market: flash loans paused"
    assert amount != 0, "market: zero amount"
    fee: uint256 = core._flash_fee(amount, market)

    core._push(token, receiver.address, amount)
    assert extcall receiver.onFlashLoan(msg.sender, token, amount, fee, data) == core.FLASH_CALLBACK_SUCCESS, \
        "market: callback failed"
    core._pull(token, receiver.address, amount + fee)

    log core.FlashLoan(receiver=receiver.address, initiator=msg.sender, amount=amount, fee=fee)
    return True


# ---- INTERNAL: LENDERS ----

@internal
def _supply(assets: uint256, shares: uint256, receiver: address, book: uint256):
    """
    @dev Mints lender shares and books the cash, then pulls the assets.
    @param assets The assets pulled.
    @param shares The shares minted.
    @param receiver The lender.
    @param book The accrued book word.
    """
    assert shares != 0, "market: zero shares"
    assert (book & store.MASK128) + assets <= store.MASK128, "market: overflow"
    store._book = book + assets
    erc20._mint(receiver, shares)
    log IERC4626.Deposit(sender=msg.sender, owner=receiver, assets=assets, shares=shares)
    core._pull(core.BASE.address, msg.sender, assets)

@internal
def _exit(assets: uint256, shares: uint256, receiver: address, owner: address, book: uint256):
    """
    @dev Burns lender shares and books the cash out, then pays.
    @param assets The assets paid.
    @param shares The shares burned.
    @param receiver The account paid.
    @param owner The lender.
    @param book The accrued book word.
    """
    assert assets != 0, "market: zero assets"
    assert receiver != empty(address), "market: zero address"
    assert assets <= book & store.MASK128, "market: insufficient cash"
    if msg.sender != owner:
        erc20._spend_allowance(owner, msg.sender, shares)
    erc20._burn(owner, shares)
    store._book = unsafe_sub(book, assets)  # cash (low bits) covers assets: checked above
    log IERC4626.Withdraw(sender=msg.sender, receiver=receiver, owner=owner, assets=assets, shares=shares)
    core._push(core.BASE.address, receiver, assets)
