# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Ondo OUSG Compliance Adapter
@license GNU Affero General Public License v3.0 only
@author navlend
@notice navlend's compliance source for OUSG (`set_asset_compliance`):
        OUSG has no `is_allowlisted` or `is_frozen` of its own, so this
        adapter answers them from Ondo's KYC registry, in the token's own
        requirement group, read live from the token (Ondo may change
        either).
        - `is_allowlisted(account)`: the registry's KYC status, which is
          false for a sanctioned address even when its flag is set.
        - `is_frozen(account)`: always false. Ondo has no per-account
          freeze: its levers are removing an address from the registry and
          the sanctions list, and both already show through
          `is_allowlisted`, which the market checks together with it.
        - `paused()`: the token's pause (every movement stops).
        - `can_transfer(sender, receiver, spender)`: not paused and all
          three KYC'd, as OUSG checks the caller too (a market or an
          adapter moving shares must itself be KYC'd).
@custom:security Ownerless; it trusts the token and its registry.
"""


from ..interfaces import IFundToken
implements: IFundToken

from ..interfaces import IKycRegistry
from ..interfaces import IOusg


# ---- IMMUTABLES ----

# OUSG.
token: public(immutable(address))


# ---- CONSTRUCTOR ----

@deploy
def __init__(token_: address):
    """
    @notice Deploys the source for OUSG (or another token on Ondo's
            registry).
    @param token_ The token.
    """
    assert token_ != empty(address), "compliance: zero address"
    token = token_


# ---- EXTERNAL FUNCTIONS ----

@external
@view
def is_allowlisted(account: address) -> bool:
    """
    @notice Whether `account` is KYC'd for the token (sanctions included).
    @param account The address.
    @return bool The status.
    """
    return self._kyc(account)


@external
@view
def is_frozen(account: address) -> bool:
    """
    @notice Always false: Ondo's removals and sanctions show through
            `is_allowlisted`.
    @param account The address (unused).
    @return bool False.
    """
    return False


@external
@view
def paused() -> bool:
    """
    @notice Whether the token's movements are paused.
    @return bool The pause.
    """
    return staticcall IOusg(token).paused()


@external
@view
def can_transfer(sender: address, receiver: address, spender: address) -> bool:
    """
    @notice True when a transfer by `spender` from `sender` to `receiver`
            would pass the token's checks: not paused, all three KYC'd.
    @param sender The holder.
    @param receiver The receiver.
    @param spender The caller of the transfer.
    @return bool The prediction.
    """
    if staticcall IOusg(token).paused():
        return False
    return self._kyc(sender) and self._kyc(receiver) and self._kyc(spender)


# ---- INTERNAL FUNCTIONS ----

@internal
@view
def _kyc(account: address) -> bool:
    """
    @dev The registry's status for `account` in the token's group.
    @param account The address.
    @return bool The status.
    """
    registry: address = staticcall IOusg(token).kycRegistry()
    group: uint256 = staticcall IOusg(token).kycRequirementGroup()
    return staticcall IKycRegistry(registry).getKYCStatus(group, account)
