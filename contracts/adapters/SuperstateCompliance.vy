# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Superstate Compliance Adapter
@license GNU Affero General Public License v3.0 only
@author navlend
@notice navlend's compliance source (`IFundToken`'s views) for one
        Superstate fund, set with the market's `set_asset_compliance`
        (the token does not answer `is_allowlisted` / `is_frozen` itself).
        - `is_allowlisted`: the AllowList V2's answer for the fund's
          symbol, read through the token's `isAllowed`.
        - `is_frozen`: always False. Superstate has no per-account freeze:
          the issuer removes an address from the AllowList (it then reads
          as not allowlisted here) or burns its shares with `adminBurn`
          (the market sees the burn as a drop in its balance, which the
          issuer-action sync books).
        - `paused`: the token's transfers are paused.
        - `can_transfer`: as the token checks: unpaused, the sender and the
          receiver allowed, the spender not checked; to the token's own
          address a transfer is a burn (off-chain redemption), which needs
          the accounting unpaused and an allowed sender instead.
@custom:security Ownerless and stateless: every answer is the token's.
"""


from ..interfaces import IFundToken
implements: IFundToken

from ..interfaces import ISuperstateToken


# ---- IMMUTABLES ----

# The Superstate fund token.
token: public(immutable(address))


# ---- CONSTRUCTOR ----

@deploy
def __init__(token_: address):
    """
    @notice Deploys the compliance source of one Superstate fund.
    @param token_ The fund token.
    """
    assert token_ != empty(address), "compliance: zero address"
    token = token_


# ---- EXTERNAL FUNCTIONS ----

@external
@view
def is_allowlisted(account: address) -> bool:
    """
    @notice Whether the fund's AllowList admits `account`.
    @param account The account.
    @return bool True when allowed.
    """
    return staticcall ISuperstateToken(token).isAllowed(account)


@external
@view
def is_frozen(account: address) -> bool:
    """
    @notice Always False: Superstate has no freeze (removal from the
            AllowList and `adminBurn` are its levers).
    @param account The account.
    @return bool False.
    """
    return False


@external
@view
def paused() -> bool:
    """
    @notice Whether the token's transfers are paused.
    @return bool True when paused.
    """
    return staticcall ISuperstateToken(token).paused()


@external
@view
def can_transfer(sender: address, receiver: address, spender: address) -> bool:
    """
    @notice Whether the token would let `spender` move `sender`'s shares
            to `receiver`.
    @dev The spender is not checked, as the token does not check it.
    @param sender The owner of the shares.
    @param receiver The receiver.
    @param spender The caller of `transferFrom` (ignored).
    @return bool True when the transfer would pass.
    """
    fund: ISuperstateToken = ISuperstateToken(token)
    if receiver == token:
        return not staticcall fund.accountingPaused() and staticcall fund.isAllowed(sender)
    if staticcall fund.paused():
        return False
    return staticcall fund.isAllowed(sender) and staticcall fund.isAllowed(receiver)
