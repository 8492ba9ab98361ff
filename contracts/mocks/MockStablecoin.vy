# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Local USD Stablecoin
@license GNU Affero General Public License v3.0 only
@author navlend
@notice The USD stablecoin of local worlds: a plain 6-decimal ERC-20 with
        EIP-2612 permit (snekmate's erc20), like USDC without its blocklist.
        Minters (the owner by default) may mint, but only on a local chain
        (chain id 31337 or 1337), so a copy deployed by mistake on a live
        network can never inflate a real market.
@custom:security Not for production. The owner can mint freely on local
                 chains and grant the minter role to anyone.
@custom:kill The owner revokes every minter with `set_minter(minter, False)`
             and renounces ownership; transfers keep working.
"""


from ethereum.ercs import IERC20
implements: IERC20


from ethereum.ercs import IERC20Detailed
implements: IERC20Detailed


from snekmate.auth import ownable
initializes: ownable


from snekmate.tokens import erc20
initializes: erc20[ownable := ownable]


exports: (
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.balanceOf,
    erc20.allowance,
    erc20.totalSupply,
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.burn,
    erc20.burn_from,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
    erc20.is_minter,
    erc20.set_minter,
    erc20.owner,
    erc20.transfer_ownership,
    erc20.renounce_ownership,
)


# ---- CONSTANTS ----

# Anvil's and Hardhat's default chain id.
_ANVIL_CHAIN_ID: constant(uint256) = 31_337
# Ganache's and geth --dev's default chain id.
_DEV_CHAIN_ID: constant(uint256) = 1_337


# ---- CONSTRUCTOR ----

@deploy
def __init__(name_: String[25], symbol_: String[5], decimals_: uint8):
    """
    @notice Deploys the stablecoin; the deployer is owner and minter.
    @param name_ The token name, e.g. "USD Coin (local)".
    @param symbol_ The token symbol, e.g. "USDC".
    @param decimals_ The decimals (6 for a USDC stand-in).
    """
    ownable.__init__()
    erc20.__init__(name_, symbol_, decimals_, name_, "1")


# ---- MINTING ----

@external
def mint(to: address, amount: uint256):
    """
    @notice Mints `amount` to `to`, on local chains only.
    @param to The receiver of the new tokens.
    @param amount The amount, in token units.
    """
    assert chain.id == _ANVIL_CHAIN_ID or chain.id == _DEV_CHAIN_ID, "stablecoin: local chains only"
    assert erc20.is_minter[msg.sender], "stablecoin: caller not minter"
    erc20._mint(to, amount)
