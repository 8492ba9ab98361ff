# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title navlend Market Admin Extension
@license GNU Affero General Public License v3.0 only
@author navlend
@notice The owner's and guardian's functions of a navlend market, the
        authorisation of operators, and the sync that recognises an
        issuer's seizure or burn of the market's shares. It runs only
        through the fallbacks of `Market` and then `MarketViews`, by
        `delegatecall`, on the market's storage: it initialises the same
        modules in the same order as both, so all three see one layout.
        Splitting it out keeps `Market` and `MarketViews` under EIP-170's
        24,576 bytes and keeps the users' hot paths free of rarely used
        code.
@custom:security Every function takes the market's global lock (pragma
        `nonreentrancy on`). Called directly, this contract
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
from .modules import market_storage as store
from .modules import admin

initializes: ownable
initializes: ownable_2step[ownable := ownable]
initializes: erc20[ownable := ownable]
initializes: store
initializes: core[store := store]
initializes: admin[ownable := ownable, store := store, core := core]

exports: (
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
    admin.set_authorization,
    admin.sync_asset,
    admin.list_asset,
    admin.set_asset_risk,
    admin.set_asset_limits,
    admin.set_asset_oracle,
    admin.set_asset_facility,
    admin.set_asset_compliance,
    admin.set_asset_frozen,
    admin.set_rates,
    admin.set_fees,
    admin.set_borrow_limits,
    admin.pause,
    admin.unpause,
    admin.withdraw_reserves,
    admin.book_surplus,
    admin.set_guardian,
    admin.set_treasury,
)


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
