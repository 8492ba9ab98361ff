# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy off
"""
@title ERC-20 with a scripted transfer hook (tests only)
@license GNU Affero General Public License v3.0 only
@author navlend
@notice snekmate's ERC-20 with open minting and a transfer hook, standing
        for an ERC-777 or ERC-1363 token or an RWA token with transfer
        callbacks. While armed, every `transfer` and `transferFrom` calls
        `target` with `payload` after moving the balances, that is in the
        middle of whatever operation moved the tokens, and records whether
        the call succeeded and what it returned instead of reverting, so
        that a test can watch a re-entered market refuse it and the
        operation complete. `poke` makes the same call outside any
        transfer, as the control. Never deploy it to a live network.
@custom:security Anyone may mint and script the hook: test fixture only.
        The hook does not fire again while it runs (a transfer made by the
        hooked call itself is not hooked).
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
    erc20.approve,
)


# @dev Largest calldata the hook sends.
MAX_PAYLOAD: constant(uint256) = 1_024
# @dev Largest return (or revert) data the hook records.
MAX_RETURN: constant(uint256) = 1_024

# @dev Contract the hook calls; zero while disarmed.
target: public(address)
# @dev Calldata the hook sends.
payload: public(Bytes[MAX_PAYLOAD])
# @dev Whether the hook calls with STATICCALL (views).
is_static: public(bool)
# @dev Times the hook (or `poke`) has made its call.
calls: public(uint256)
# @dev Whether the last call succeeded.
last_ok: public(bool)
# @dev What the last call returned, or its revert data.
last_return: public(Bytes[MAX_RETURN])
# @dev True while the hook's call runs, so that it does not fire again.
_in_hook: bool


@deploy
def __init__(name_: String[25], symbol_: String[5], decimals_: uint8):
    """
    @notice Deploys the token with no supply and the hook disarmed.
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


@external
def arm(target_: address, payload_: Bytes[MAX_PAYLOAD], is_static_: bool):
    """
    @notice Scripts the hook: every later transfer calls `target_` with
            `payload_`.
    @param target_ The contract to call.
    @param payload_ The calldata.
    @param is_static_ True to call with STATICCALL.
    """
    self.target = target_
    self.payload = payload_
    self.is_static = is_static_


@external
def disarm():
    """
    @notice Stops the hook.
    """
    self.target = empty(address)


@external
def poke() -> bool:
    """
    @notice Makes the scripted call now, outside any transfer, and records
            it like the hook does (the control of a re-entrancy test).
    @return bool Whether the call succeeded.
    """
    assert self.target != empty(address), "hooked: disarmed"
    return self._call()


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` from the caller to `to`, then runs the hook.
    @param to The receiver.
    @param amount The amount.
    @return bool Always True (failures revert).
    """
    erc20._transfer(msg.sender, to, amount)
    self._hook()
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` from `owner` to `to` on the caller's allowance,
            then runs the hook.
    @param owner The holder.
    @param to The receiver.
    @param amount The amount.
    @return bool Always True (failures revert).
    """
    erc20._spend_allowance(owner, msg.sender, amount)
    erc20._transfer(owner, to, amount)
    self._hook()
    return True


@internal
def _hook():
    """
    @dev Makes the scripted call if armed and not already inside it.
    """
    if self.target == empty(address) or self._in_hook:
        return
    self._call()


@internal
def _call() -> bool:
    """
    @dev Calls `target` with `payload` (statically if so scripted), never
         reverting, and records the outcome.
    @return bool Whether the call succeeded.
    """
    self._in_hook = True
    ok: bool = False
    data: Bytes[MAX_RETURN] = b""
    if self.is_static:
        ok, data = raw_call(
            self.target, self.payload, max_outsize=MAX_RETURN, is_static_call=True, revert_on_failure=False
        )
    else:
        ok, data = raw_call(self.target, self.payload, max_outsize=MAX_RETURN, revert_on_failure=False)
    self._in_hook = False
    self.calls += 1
    self.last_ok = ok
    self.last_return = data
    return ok
