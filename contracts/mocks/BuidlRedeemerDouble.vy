# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title BUIDL Redeemer Double
@license GNU Affero General Public License v3.0 only
@author navlend
@notice A test double of the facility that turns BUIDL into USDC, written
        from its documented behaviour (docs/issuers.md): `redeem(amount)`
        takes `amount` BUIDL from the caller and pays the caller `amount`
        USDC (both 6 decimals, 1:1) out of the USDC this contract holds;
        it reverts when that balance is short. Never deployed on a live
        network.
"""


from ethereum.ercs import IERC20

from ..interfaces import IBuidlRedeemer
implements: IBuidlRedeemer


# ---- IMMUTABLES ----

# The BUIDL token taken in.
buidl: public(immutable(address))
# The USDC paid out.
usdc: public(immutable(address))


# ---- EVENTS ----

event BuidlRedeemed:
    caller: indexed(address)
    amount: uint256


# ---- CONSTRUCTOR ----

@deploy
def __init__(buidl_: address, usdc_: address):
    """
    @notice Deploys the redeemer; fund it by sending it USDC.
    @param buidl_ BUIDL.
    @param usdc_ USDC.
    """
    buidl = buidl_
    usdc = usdc_


# ---- EXTERNAL FUNCTIONS ----

@external
def redeem(amount: uint256):
    """
    @notice Takes `amount` BUIDL from the caller and pays it `amount` USDC.
    @param amount The BUIDL (and USDC) amount.
    """
    assert amount != 0, "redeemer: zero amount"
    assert staticcall IERC20(usdc).balanceOf(self) >= amount, "redeemer: insufficient liquidity"
    assert extcall IERC20(buidl).transferFrom(msg.sender, self, amount, default_return_value=True)
    assert extcall IERC20(usdc).transfer(msg.sender, amount, default_return_value=True)
    log BuidlRedeemed(caller=msg.sender, amount=amount)
