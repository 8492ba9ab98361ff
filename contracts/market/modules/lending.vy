# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title navlend Market: Lending
@custom:contract-name lending
@license GNU Affero General Public License v3.0 only
@author navlend
@notice The lenders' side of the market: ERC-4626 `deposit`, `mint`,
        `withdraw` and `redeem` of lender shares against the base asset,
        at the books accrued to now. `Market` exports these functions.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC4626

from snekmate.tokens import erc20

from . import market_core as core
from . import market_storage as store

uses: erc20
uses: store
uses: core


# ---- EXTERNAL FUNCTIONS ----

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



# ---- INTERNAL FUNCTIONS ----

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
