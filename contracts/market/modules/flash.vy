# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title navlend Market: Flash Loans
@custom:contract-name flash
@license GNU Affero General Public License v3.0 only
@author navlend
@notice ERC-3156 flash loans of the base asset. `Market` exports
        `flashLoan`; the ERC-3156 views are in `views`.
"""

from ...interfaces import IERC3156FlashBorrower

from . import market_core as core
from . import market_storage as store

uses: store
uses: core


# ---- EXTERNAL FUNCTIONS ----

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
