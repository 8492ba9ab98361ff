# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Ondo KYC Registry Double
@license GNU Affero General Public License v3.0 only
@author navlend
@notice A test double of Ondo's KYC registry, written from its documented
        behaviour (docs/issuers.md), not from its code:
        - one KYC flag per (requirement group, address), set by the owner
          (Ondo; the real registry also accepts the group's signed
          approvals, which tests do not need);
        - a sanctions list that overrides the flag: a sanctioned address
          reads as not KYC'd in every group, the way the real registry
          consults Chainalysis' list.
        Never deployed on a live network.
"""


from ..interfaces import IKycRegistry
implements: IKycRegistry


# ---- STORAGE ----

# Ondo: sets the flags and the sanctions list.
owner: public(address)
# The KYC flag per requirement group and address.
kyc_flag: public(HashMap[uint256, HashMap[address, bool]])
# The sanctions list (stands in for Chainalysis' oracle).
sanctioned: public(HashMap[address, bool])


# ---- EVENTS ----

event KycStatusSet:
    group: indexed(uint256)
    account: indexed(address)
    status: bool


event SanctionSet:
    account: indexed(address)
    sanctioned: bool


# ---- CONSTRUCTOR ----

@deploy
def __init__():
    """
    @notice Deploys an empty registry owned by the deployer (Ondo).
    """
    self.owner = msg.sender


# ---- EXTERNAL FUNCTIONS ----

@external
def set_kyc_status(group: uint256, account: address, status: bool):
    """
    @notice Adds `account` to, or removes it from, KYC group `group`.
    @param group The requirement group (OUSG's is 1).
    @param account The address.
    @param status True to add, False to remove.
    """
    assert msg.sender == self.owner, "kyc: not owner"
    self.kyc_flag[group][account] = status
    log KycStatusSet(group=group, account=account, status=status)


@external
def set_sanctioned(account: address, flag: bool):
    """
    @notice Puts `account` on the sanctions list, or takes it off.
    @param account The address.
    @param flag True to sanction.
    """
    assert msg.sender == self.owner, "kyc: not owner"
    self.sanctioned[account] = flag
    log SanctionSet(account=account, sanctioned=flag)


@external
@view
def getKYCStatus(group: uint256, account: address) -> bool:
    """
    @notice Whether `account` is KYC'd in `group` and not sanctioned.
    @param group The requirement group.
    @param account The address.
    @return bool The status.
    """
    return self.kyc_flag[group][account] and not self.sanctioned[account]
