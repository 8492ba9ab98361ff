# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy off
"""
@title ERC-3156 borrower with scripted behaviour (tests and benchmarks only)
@license GNU Affero General Public License v3.0 only
@author navlend
@notice Approves repayment and returns the ERC-3156 magic value, or
        misbehaves as `mode` says, and records what the lender passed to
        its callback so tests can check the standard's pass-through rules.
        MODE_QUIET is the minimal receiver of the gas scenario.
@custom:security Test fixture only.
@custom:kill Not applicable (test fixture).
"""

from ethereum.ercs import IERC20

from ..interfaces import IERC3156FlashBorrower

implements: IERC3156FlashBorrower


interface IFlashLender:
    def flashLoan(receiver: address, token: address, amount: uint256, data: Bytes[4096]) -> bool: nonpayable


# @dev Behaves: approve and return the magic value.
MODE_OK: constant(uint256) = 0
# @dev Misbehaves: returns a wrong value.
MODE_WRONG_RETURN: constant(uint256) = 1
# @dev Misbehaves: returns the magic value but approves nothing.
MODE_NO_APPROVE: constant(uint256) = 2
# @dev Misbehaves: calls `target` with `payload` inside the callback.
MODE_CALL: constant(uint256) = 3
# @dev Behaves and records nothing: the gas scenario's minimal receiver.
MODE_QUIET: constant(uint256) = 4
# @dev The ERC-3156 callback's success value.
CALLBACK_SUCCESS: constant(bytes32) = keccak256("ERC3156FlashBorrower.onFlashLoan")

# @dev Current behaviour.
mode: public(uint256)
# @dev Contract called in MODE_CALL.
target: public(address)
# @dev Calldata sent in MODE_CALL.
payload: public(Bytes[1024])
# @dev Last callback's caller (the lender).
last_lender: public(address)
# @dev Last callback's initiator.
last_initiator: public(address)
# @dev Last callback's token.
last_token: public(address)
# @dev Last callback's amount.
last_amount: public(uint256)
# @dev Last callback's fee.
last_fee: public(uint256)
# @dev Last callback's data.
last_data: public(Bytes[4096])
# @dev Token balance held during the last callback.
last_balance: public(uint256)


@deploy
def __init__():
    """
    @notice Deploys a well-behaved borrower.
    """
    self.mode = MODE_OK


@external
def set_mode(mode_: uint256, target_: address, payload_: Bytes[1024]):
    """
    @notice Scripts the next callbacks.
    @param mode_ One of the MODE_* values.
    @param target_ Contract called in MODE_CALL.
    @param payload_ Calldata sent in MODE_CALL.
    """
    self.mode = mode_
    self.target = target_
    self.payload = payload_


@external
def borrow(lender: address, token: address, amount: uint256, data: Bytes[4096]):
    """
    @notice Takes a flash loan from `lender`, so that this contract is the
            initiator.
    @param lender The ERC-3156 lender.
    @param token The token.
    @param amount The amount.
    @param data Passed through.
    """
    extcall IFlashLender(lender).flashLoan(self, token, amount, data)


@external
def onFlashLoan(initiator: address, token: address, amount: uint256, fee: uint256, data: Bytes[4096]) -> bytes32:
    """
    @notice The ERC-3156 callback.
    @param initiator Who called `flashLoan`.
    @param token The token lent.
    @param amount The amount lent.
    @param fee The fee owed.
    @param data Passed through by the lender.
    @return bytes32 The magic value, or a wrong one in MODE_WRONG_RETURN.
    """
    mode_: uint256 = self.mode
    if mode_ == MODE_QUIET:
        extcall IERC20(token).approve(msg.sender, amount + fee)
        return CALLBACK_SUCCESS
    self.last_lender = msg.sender
    self.last_initiator = initiator
    self.last_token = token
    self.last_amount = amount
    self.last_fee = fee
    self.last_data = data
    self.last_balance = staticcall IERC20(token).balanceOf(self)
    if mode_ == MODE_CALL:
        raw_call(self.target, self.payload)
    if mode_ != MODE_NO_APPROVE:
        extcall IERC20(token).approve(msg.sender, amount + fee)
    if mode_ == MODE_WRONG_RETURN:
        return keccak256("wrong")
    return CALLBACK_SUCCESS
