# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Ondo OUSG Token Double
@license GNU Affero General Public License v3.0 only
@author navlend
@notice A test double of Ondo's OUSG, written from its documented
        behaviour (docs/issuers.md), not from its code:
        - an ERC-20 with 18 decimals;
        - every movement checks, against the KYC registry in the token's
          requirement group (1), the CALLER (the spender of a
          `transferFrom`, the market or an adapter included), the sender
          and the receiver; a mint skips the sender, a burn the receiver,
          the caller is always checked;
        - the owner (Ondo) pauses every movement, burns any holder's
          balance (`admin_burn`), a lending market's included, and names
          the minters (itself, the instant manager);
        - anyone KYC'd burns their own balance (`burn`): the instant
          manager destroys the shares it redeems that way.
        Approvals are free (no KYC check), as on the real token.
        Never deployed on a live network.
"""


from ethereum.ercs import IERC20
implements: IERC20

from ..interfaces import IKycRegistry
from ..interfaces import IOusg
implements: IOusg


# ---- CONSTANTS ----

# OUSG's decimals.
DECIMALS: constant(uint8) = 18


# ---- STORAGE ----

# Ondo: pauses, mints and burns.
owner: public(address)
# The KYC registry consulted on every movement.
kycRegistry: public(address)
# The registry group OUSG requires.
kycRequirementGroup: public(uint256)
# True while every movement is stopped.
paused: public(bool)
# Who may mint (the owner and the instant manager).
minter: public(HashMap[address, bool])
# ERC-20 state.
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
totalSupply: public(uint256)
name: public(String[25])
symbol: public(String[5])


# ---- EVENTS ----

event Paused:
    account: address


event Unpaused:
    account: address


# ---- CONSTRUCTOR ----

@deploy
def __init__(registry_: address):
    """
    @notice Deploys an empty OUSG owned by the deployer (Ondo).
    @param registry_ The KYC registry.
    """
    self.owner = msg.sender
    self.minter[msg.sender] = True
    self.kycRegistry = registry_
    self.kycRequirementGroup = 1
    self.name = "Ondo Short-Term US Govt"
    self.symbol = "OUSG"


# ---- ERC-20 ----

@external
@view
def decimals() -> uint8:
    """
    @notice 18.
    @return uint8 The decimals.
    """
    return DECIMALS


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` from the caller to `to` (both KYC'd).
    @param to The receiver.
    @param amount The amount.
    @return bool True.
    """
    self._move(msg.sender, to, amount)
    return True


@external
def transferFrom(owner_: address, to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` from `owner_` to `to` on the caller's allowance;
            the caller, `owner_` and `to` must all be KYC'd.
    @param owner_ The holder.
    @param to The receiver.
    @param amount The amount.
    @return bool True.
    """
    allowed: uint256 = self.allowance[owner_][msg.sender]
    if allowed != max_value(uint256):
        assert allowed >= amount, "ousg: allowance"
        # Cannot wrap: checked on the line above.
        self.allowance[owner_][msg.sender] = unsafe_sub(allowed, amount)
    self._move(owner_, to, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice Lets `spender` move `amount` of the caller's (no KYC check).
    @param spender The spender.
    @param amount The allowance.
    @return bool True.
    """
    self.allowance[msg.sender][spender] = amount
    log IERC20.Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def burn(amount: uint256):
    """
    @notice Burns `amount` of the caller's own balance (caller KYC'd).
    @param amount The amount.
    """
    self._check_movement()
    self._check_kyc(msg.sender, "ousg: caller not KYC")
    self._burn(msg.sender, amount)


# ---- ONDO ----

@external
def mint(to: address, amount: uint256):
    """
    @notice Mints `amount` to `to` (a minter, KYC'd; `to` KYC'd).
    @param to The receiver.
    @param amount The amount.
    """
    assert self.minter[msg.sender], "ousg: not minter"
    self._check_movement()
    self._check_kyc(msg.sender, "ousg: caller not KYC")
    self._check_kyc(to, "ousg: receiver not KYC")
    self.balanceOf[to] += amount
    self.totalSupply += amount
    log IERC20.Transfer(sender=empty(address), receiver=to, value=amount)


@external
def set_minter(account: address, allowed: bool):
    """
    @notice Lets `account` mint, or stops it (owner).
    @param account The minter.
    @param allowed The new status.
    """
    assert msg.sender == self.owner, "ousg: not owner"
    self.minter[account] = allowed


@external
def admin_burn(account: address, amount: uint256):
    """
    @notice Burns `amount` of anyone's balance (owner), KYC'd or not.
    @param account The holder.
    @param amount The amount.
    """
    assert msg.sender == self.owner, "ousg: not owner"
    self._burn(account, amount)


@external
def pause():
    """
    @notice Stops every movement (owner).
    """
    assert msg.sender == self.owner, "ousg: not owner"
    self.paused = True
    log Paused(account=msg.sender)


@external
def unpause():
    """
    @notice Lets movements resume (owner).
    """
    assert msg.sender == self.owner, "ousg: not owner"
    self.paused = False
    log Unpaused(account=msg.sender)


# ---- INTERNAL FUNCTIONS ----

@internal
@view
def _check_kyc(account: address, reason: String[32]):
    """
    @dev Reverts with `reason` unless `account` is KYC'd in OUSG's group.
    @param account The address checked.
    @param reason The revert reason.
    """
    ok: bool = staticcall IKycRegistry(self.kycRegistry).getKYCStatus(self.kycRequirementGroup, account)
    assert ok, reason


@internal
@view
def _check_movement():
    """
    @dev Reverts while paused.
    """
    assert not self.paused, "ousg: paused"


@internal
def _move(sender: address, receiver: address, amount: uint256):
    """
    @dev A transfer: not paused; caller, sender and receiver KYC'd.
    @param sender The holder.
    @param receiver The receiver.
    @param amount The amount.
    """
    self._check_movement()
    self._check_kyc(msg.sender, "ousg: caller not KYC")
    self._check_kyc(sender, "ousg: sender not KYC")
    self._check_kyc(receiver, "ousg: receiver not KYC")
    balance: uint256 = self.balanceOf[sender]
    assert balance >= amount, "ousg: balance"
    # Cannot wrap: checked on the line above.
    self.balanceOf[sender] = unsafe_sub(balance, amount)
    self.balanceOf[receiver] += amount
    log IERC20.Transfer(sender=sender, receiver=receiver, value=amount)


@internal
def _burn(account: address, amount: uint256):
    """
    @dev Destroys `amount` of `account`'s balance.
    @param account The holder.
    @param amount The amount.
    """
    balance: uint256 = self.balanceOf[account]
    assert balance >= amount, "ousg: balance"
    # Cannot wrap: checked on the line above; the supply holds every balance.
    self.balanceOf[account] = unsafe_sub(balance, amount)
    self.totalSupply = unsafe_sub(self.totalSupply, amount)
    log IERC20.Transfer(sender=account, receiver=empty(address), value=amount)
