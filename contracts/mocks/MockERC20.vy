# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Plain ERC-20 with open minting (tests and benchmarks only)
@license GNU Affero General Public License v3.0 only
@author navlend
@notice snekmate's ERC-20 with a public `mint`, no hooks and no
        allowlist: the "minimal ERC-20 mock" of the gas scenario, and a
        neutral token for unit tests. Never deploy it to a live network.
@custom:security Anyone may mint: test fixture only.
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


@external
def mint(to: address, amount: uint256):
    """
    @notice Mints `amount` to `to`; open to anyone (test fixture).
    @param to The receiver.
    @param amount The amount.
    """
    erc20._mint(to, amount)
