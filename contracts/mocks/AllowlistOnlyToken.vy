# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title ERC-20 with a one-view allowlist (tests only)
@license GNU Affero General Public License v3.0 only
@author navlend
@notice A token that answers `is_allowlisted` but has no `is_frozen`:
        half of the compliance interface the market asks of a source, as
        an issuer with another interface might expose. The market must not
        take it as its own compliance source. Never deploy it to a live
        network.
@custom:security Anyone may mint and allowlist: test fixture only.
@custom:kill Not applicable (test fixture).
"""

from ethereum.ercs import IERC20

implements: IERC20

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

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
)


# ---- STORAGE ----

# @dev Accounts admitted (every one answers True: the double only needs
#      the view to exist).
_listed: HashMap[address, bool]


# ---- CONSTRUCTOR ----

@deploy
def __init__(name_: String[25], symbol_: String[5], decimals_: uint8):
    """
    @notice Deploys the token with no supply.
    @param name_ Name.
    @param symbol_ Symbol.
    @param decimals_ Decimals.
    """
    ownable.__init__()
    erc20.__init__(name_, symbol_, decimals_, name_, "1")


# ---- EXTERNAL ----

@external
def mint(to: address, amount: uint256):
    """
    @notice Mints `amount` to `to`; open to anyone (test fixture).
    @param to The receiver.
    @param amount The amount.
    """
    erc20._mint(to, amount)


@external
@view
def is_allowlisted(account: address) -> bool:
    """
    @notice Every account is admitted; there is no `is_frozen` view.
    @param account The account.
    @return bool True.
    """
    return True
