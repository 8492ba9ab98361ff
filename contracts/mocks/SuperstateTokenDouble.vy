# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Superstate Fund Token Double
@license GNU Affero General Public License v3.0 only
@author navlend
@notice A test double of a Superstate fund token (USTB, USCC), written
        from its documented behaviour (docs/issuers.md), never from its
        code, quirks included:
        - an ERC-20 of 6 decimals, its symbol given at deployment;
        - `transfer` checks the sender and the receiver, `transferFrom` the
          owner of the shares and the receiver, NOT the spender, against
          the AllowList for the token's own symbol; approvals are free;
        - `paused()` stops transfers, `accountingPaused()` stops mints and
          burns; there is no per-account freeze: the issuer removes an
          address from the AllowList or burns its balance (`adminBurn`,
          anyone's, a lending market's included);
        - sending shares to the token's own address burns them as an
          off-chain redemption, even while transfers are paused: it needs
          only the accounting unpaused and an allowed source;
          `offchainRedeem(amount)` does the same for the caller.
        Subscription is not modelled (no adapter uses it yet). Never
        deployed on a live network.
"""


from ethereum.ercs import IERC20
implements: IERC20

from ..interfaces import ISuperstateToken
implements: ISuperstateToken

from ..interfaces import ISuperstateAllowList


# ---- CONSTANTS ----

# Shares carry 6 decimals.
DECIMALS: constant(uint8) = 6


# ---- IMMUTABLES ----

# The issuer's AllowList.
allowListV2: public(immutable(address))
# The fund's symbol, the AllowList key.
_SYMBOL: immutable(String[32])
# The token's name.
_NAME: immutable(String[64])


# ---- STORAGE ----

# The issuer.
owner: public(address)
# Transfers paused.
paused: public(bool)
# Mints and burns paused.
accountingPaused: public(bool)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
totalSupply: public(uint256)


# ---- EVENTS ----

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256


event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256


# Shares burned as an off-chain redemption (the issuer pays off-chain).
event OffchainRedeem:
    burner: indexed(address)
    src: indexed(address)
    amount: uint256


# The issuer burned an account's shares.
event AdminBurn:
    burner: indexed(address)
    src: indexed(address)
    amount: uint256


event Mint:
    minter: indexed(address)
    to: indexed(address)
    amount: uint256


event PausedSet:
    transfers: bool
    accounting: bool


# ---- CONSTRUCTOR ----

@deploy
def __init__(name_: String[64], symbol_: String[32], allow_list_: address):
    """
    @notice Deploys an empty fund token owned by the deployer.
    @param name_ The token's name.
    @param symbol_ The fund's symbol, its key in the AllowList.
    @param allow_list_ The issuer's AllowList.
    """
    assert allow_list_ != empty(address), "ZeroAddress"
    _NAME = name_
    _SYMBOL = symbol_
    allowListV2 = allow_list_
    self.owner = msg.sender


# ---- ERC-20 ----

@external
@view
def name() -> String[64]:
    """
    @notice The token's name.
    @return String[64] The name.
    """
    return _NAME


@external
@view
def symbol() -> String[32]:
    """
    @notice The fund's symbol.
    @return String[32] The symbol.
    """
    return _SYMBOL


@external
@view
def decimals() -> uint8:
    """
    @notice 6.
    @return uint8 The decimals.
    """
    return DECIMALS


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice Lets `spender` move `amount` of the caller's shares (free: no
            AllowList check).
    @param spender The spender.
    @param amount The allowance.
    @return bool True.
    """
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice Moves the caller's shares; to the token's own address, burns
            them (off-chain redemption).
    @param to The receiver.
    @param amount The shares.
    @return bool True.
    """
    self._move(msg.sender, to, amount)
    return True


@external
def transferFrom(src: address, to: address, amount: uint256) -> bool:
    """
    @notice Moves `src`'s shares with the caller's allowance. The AllowList
            checks `src` and `to`, never the caller.
    @param src The owner of the shares.
    @param to The receiver.
    @param amount The shares.
    @return bool True.
    """
    allowed: uint256 = self.allowance[src][msg.sender]
    if allowed != max_value(uint256):
        assert allowed >= amount, "ERC20: insufficient allowance"
        # No underflow: allowed >= amount was checked just above.
        self.allowance[src][msg.sender] = unsafe_sub(allowed, amount)
    self._move(src, to, amount)
    return True


# ---- SUPERSTATE ----

@external
@view
def isAllowed(account: address) -> bool:
    """
    @notice Whether the AllowList admits `account` for this fund.
    @param account The address.
    @return bool True when allowed.
    """
    return self._is_allowed(account)


@external
def offchainRedeem(amount: uint256):
    """
    @notice Burns the caller's shares as an off-chain redemption.
    @param amount The shares.
    """
    self._offchain_redeem(msg.sender, amount)


# ---- ISSUER ----

@external
def mint(to: address, amount: uint256):
    """
    @notice Mints shares to an allowed address (issuer).
    @param to The receiver.
    @param amount The shares.
    """
    assert msg.sender == self.owner, "Unauthorized"
    assert not self.accountingPaused, "AccountingIsPaused"
    assert amount != 0, "ZeroSuperstateTokensOut"
    assert self._is_allowed(to), "InsufficientPermissions"
    self.balanceOf[to] += amount
    self.totalSupply += amount
    log Transfer(sender=empty(address), receiver=to, value=amount)
    log Mint(minter=msg.sender, to=to, amount=amount)


@external
def adminBurn(src: address, amount: uint256):
    """
    @notice Burns anyone's shares (issuer): Superstate's lever instead of
            a freeze.
    @param src The holder.
    @param amount The shares.
    """
    assert msg.sender == self.owner, "Unauthorized"
    assert not self.accountingPaused, "AccountingIsPaused"
    assert amount != 0, "ZeroSuperstateTokensOut"
    self._burn(src, amount)
    log AdminBurn(burner=msg.sender, src=src, amount=amount)


@external
def pause():
    """
    @notice Stops transfers (issuer).
    """
    assert msg.sender == self.owner, "Unauthorized"
    self.paused = True
    log PausedSet(transfers=True, accounting=self.accountingPaused)


@external
def unpause():
    """
    @notice Resumes transfers (issuer).
    """
    assert msg.sender == self.owner, "Unauthorized"
    self.paused = False
    log PausedSet(transfers=False, accounting=self.accountingPaused)


@external
def accountingPause():
    """
    @notice Stops mints and burns (issuer).
    """
    assert msg.sender == self.owner, "Unauthorized"
    self.accountingPaused = True
    log PausedSet(transfers=self.paused, accounting=True)


@external
def accountingUnpause():
    """
    @notice Resumes mints and burns (issuer).
    """
    assert msg.sender == self.owner, "Unauthorized"
    self.accountingPaused = False
    log PausedSet(transfers=self.paused, accounting=False)


# ---- INTERNAL FUNCTIONS ----

@internal
@view
def _is_allowed(account: address) -> bool:
    """
    @dev The AllowList's answer for this fund's symbol.
    @param account The address.
    @return bool True when allowed.
    """
    return staticcall ISuperstateAllowList(allowListV2).isAddressAllowedForFund(account, _SYMBOL)


@internal
def _move(src: address, to: address, amount: uint256):
    """
    @dev A transfer: to this token, an off-chain redemption (pause-free);
         otherwise unpaused, with `src` and `to` allowed.
    @param src The owner of the shares.
    @param to The receiver.
    @param amount The shares.
    """
    if to == self:
        self._offchain_redeem(src, amount)
        return
    assert not self.paused, "Pausable: paused"
    assert self._is_allowed(src) and self._is_allowed(to), "InsufficientPermissions"
    balance: uint256 = self.balanceOf[src]
    assert balance >= amount, "ERC20: transfer amount exceeds balance"
    # No underflow: balance >= amount was checked just above.
    self.balanceOf[src] = unsafe_sub(balance, amount)
    self.balanceOf[to] += amount
    log Transfer(sender=src, receiver=to, value=amount)


@internal
def _offchain_redeem(src: address, amount: uint256):
    """
    @dev Burns `src`'s shares as an off-chain redemption: accounting
         unpaused, `src` allowed, transfers' pause ignored.
    @param src The redeemer.
    @param amount The shares.
    """
    assert not self.accountingPaused, "AccountingIsPaused"
    assert amount != 0, "ZeroSuperstateTokensOut"
    assert self._is_allowed(src), "InsufficientPermissions"
    self._burn(src, amount)
    log OffchainRedeem(burner=src, src=src, amount=amount)


@internal
def _burn(src: address, amount: uint256):
    """
    @dev Burns `amount` of `src`'s shares.
    @param src The holder.
    @param amount The shares.
    """
    balance: uint256 = self.balanceOf[src]
    assert balance >= amount, "ERC20: burn amount exceeds balance"
    # No underflow: balance >= amount was checked just above, and the
    # total supply is the sum of the balances.
    self.balanceOf[src] = unsafe_sub(balance, amount)
    self.totalSupply = unsafe_sub(self.totalSupply, amount)
    log Transfer(sender=src, receiver=empty(address), value=amount)
