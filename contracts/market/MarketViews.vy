# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title navlend Market Views Extension
@license GNU Affero General Public License v3.0 only
@author navlend
@notice Every view of a navlend market: the ERC-4626 and ERC-3156 views,
        positions, assets, rates and the liquidation preview. It runs only
        through the market's fallback, by `delegatecall`, on the market's
        storage: it initialises the same modules in the same order as
        `Market` and `MarketAdmin`, so all three see one layout. Any call it
        does not answer (the owner's, the guardian's and the issuer-action
        functions) it forwards, by `delegatecall` again, to `MarketAdmin`.
        The views sit one call from the market, the owner's functions two:
        the periphery reads views on chain, while the owner's functions are
        rare.
@custom:security Every view checks the market's global lock (pragma
        `nonreentrancy on`), so none returns mid-operation state. Called
        directly, this contract reads its own, empty storage.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC4626

from ..interfaces import IMarketViews

implements: IMarketViews

from snekmate.auth import ownable
from snekmate.auth import ownable_2step
from snekmate.tokens import erc20

from .modules import market_core as core
from .modules import market_storage as store
from .modules import views

initializes: ownable
initializes: ownable_2step[ownable := ownable]
initializes: erc20[ownable := ownable]
initializes: store
initializes: core[store := store]
initializes: views[erc20 := erc20, store := store, core := core]

exports: (
    erc20.nonces,
    ownable.owner,
    ownable_2step.pending_owner,
    store.is_authorized,
    store.asset_count,
    store.guardian,
    store.treasury,
    views.asset,
    views.totalAssets,
    views.convertToShares,
    views.convertToAssets,
    views.maxDeposit,
    views.maxMint,
    views.maxWithdraw,
    views.maxRedeem,
    views.previewDeposit,
    views.previewMint,
    views.previewWithdraw,
    views.previewRedeem,
    views.maxFlashLoan,
    views.flashFee,
    views.position,
    views.preview_liquidation,
    views.collateral_of,
    views.debt_of,
    views.asset_config,
    views.asset_compliance,
    views.asset_ratio,
    views.asset_at,
    views.asset_price,
    views.rate_config,
    views.borrow_rate,
    views.utilization,
    views.market_state,
    views.control,
    views.surplus,
)


# ---- CONSTANTS ----

# @dev Largest return data forwarded from the admin extension.
MAX_ADMIN_RETURN: constant(uint256) = 1_024


# ---- IMMUTABLES ----

# @dev The extension that holds the owner's, the guardian's and the
#      issuer-action functions; reached by `delegatecall` on the same storage.
ADMIN: public(immutable(address))


# ---- CONSTRUCTOR ----

@deploy
def __init__(base: IERC20, admin: address):
    """
    @notice Deploys the views for markets over `base`, in front of `admin`.
            Its own storage is never used; it renounces ownership of it.
    @param base The base asset of the markets it serves.
    @param admin The deployed MarketAdmin for the same base asset.
    """
    assert admin.is_contract, "market: admin not a contract"
    assert staticcall IERC4626(admin).asset() == base.address, "market: admin for another base"
    ADMIN = admin
    ownable.__init__()
    ownable_2step.__init__()
    core.__init__(base, msg.sender, msg.sender)
    erc20.__init__("navlend views", "NLV", 0, "navlend views", "1")
    ownable._transfer_ownership(empty(address))


@external
@reentrant
@raw_return
def __default__() -> Bytes[MAX_ADMIN_RETURN]:
    """
    @notice Forwards every call that is not a view (the owner's, the
            guardian's and the issuer-action functions) to the admin
            extension, on the market's storage.
    @dev Outside the lock itself: the extension's functions take it.
    @return Bytes[MAX_ADMIN_RETURN] The extension's return data.
    """
    return raw_call(ADMIN, msg.data, max_outsize=MAX_ADMIN_RETURN, is_delegate_call=True)
