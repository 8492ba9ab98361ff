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
        fallback reaches the same way. Each deployable is `initializes:`
        plus `exports:` of the market's modules: the storage
        (`modules/market_storage.vy`, its one owner), the shared logic and
        events (`modules/market_core.vy`), and the behaviour modules that
        hold the external functions (here `lending`, `borrowing`,
        `liquidation` and `flash`). The split keeps each under EIP-170 and
        the hot paths free of rarely used code.

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

from snekmate.auth import ownable
from snekmate.auth import ownable_2step
from snekmate.tokens import erc20

from .modules import market_core as core
from .modules import market_storage as store
from .modules import lending
from .modules import borrowing
from .modules import liquidation
from .modules import flash

initializes: ownable
initializes: ownable_2step[ownable := ownable]
initializes: erc20[ownable := ownable]
initializes: store
initializes: core[store := store]
initializes: lending[erc20 := erc20, store := store, core := core]
initializes: borrowing[store := store, core := core]
initializes: liquidation[store := store, core := core]
initializes: flash[store := store, core := core]

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
    lending.deposit,
    lending.mint,
    lending.withdraw,
    lending.redeem,
    borrowing.supply_collateral,
    borrowing.withdraw_collateral,
    borrowing.borrow,
    borrowing.repay,
    liquidation.liquidate,
    flash.flashLoan,
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
