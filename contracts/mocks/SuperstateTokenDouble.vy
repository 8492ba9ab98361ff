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
        - `subscribe(to, amount, stablecoin)` (quoted by
          `calculateSuperstateTokenOut`) sends the stablecoin straight
          to the issuer's sweep destination and mints shares at the
          oracle's price, after a fee of at most 10 bps, rounded down; it
          refuses a price under $7 or older than the token's own
          `maximumOracleDelay`, an unsupported stablecoin, and a `to` that
          does not share the caller's entity (a contract with protocol
          permissions has none: it can subscribe only for itself). The
          two-argument form (paying the caller) is not modelled.
        Never deployed on a live network.
"""


from ethereum.ercs import IERC20
implements: IERC20

from ..interfaces import IAggregatorV3

from ..interfaces import ISuperstateToken
implements: ISuperstateToken

from ..interfaces import ISuperstateAllowList


# ---- CONSTANTS ----

# Shares carry 6 decimals.
DECIMALS: constant(uint8) = 6
# Highest subscription fee: 10 bps.
MAX_SUBSCRIPTION_FEE_BPS: public(constant(uint256)) = 10
# The lowest price accepted for a subscription: $7, in whole dollars.
MIN_PRICE_DOLLARS: public(constant(uint256)) = 7
# Basis points in one.
_BPS: constant(uint256) = 10_000


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
# The fund's price oracle (AggregatorV3 shape), for subscriptions.
oracle: public(address)
# The oldest price a subscription accepts, in seconds.
maximumOracleDelay: public(uint256)
# Stablecoin -> where its subscription cash goes (empty: not accepted).
sweepDestination: public(HashMap[address, address])
# Stablecoin -> its subscription fee in basis points.
subscriptionFee: public(HashMap[address, uint256])


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


# Shares bought with a stablecoin.
event Subscribe:
    subscriber: indexed(address)
    to: indexed(address)
    stablecoin: indexed(address)
    stablecoinInAmount: uint256
    stablecoinInAmountAfterFee: uint256
    superstateTokenOutAmount: uint256


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


@external
def subscribe(to: address, amount: uint256, stablecoin: address):
    """
    @notice Buys shares for `to` with `amount` of `stablecoin`, paid
            straight to the issuer, at the oracle's price after the fee.
    @param to The receiver: the caller or an address of its entity.
    @param amount The stablecoin paid.
    @param stablecoin An accepted stablecoin (6 decimals).
    """
    assert not self.accountingPaused, "AccountingIsPaused"
    assert amount != 0, "BadArgs"
    destination: address = self.sweepDestination[stablecoin]
    assert destination != empty(address), "StablecoinNotSupported"
    assert self._is_allowed(msg.sender) and self._is_allowed(to), "InsufficientPermissions"
    if to != msg.sender:
        entity: uint256 = staticcall ISuperstateAllowList(allowListV2).addressEntityIds(msg.sender)
        assert entity != 0 and entity == staticcall ISuperstateAllowList(allowListV2).addressEntityIds(to), \
            "InsufficientPermissions"
    shares: uint256 = 0
    net: uint256 = 0
    fee: uint256 = 0
    shares, net, fee = self._quote(amount, stablecoin)
    assert shares != 0, "ZeroSuperstateTokensOut"
    assert extcall IERC20(stablecoin).transferFrom(msg.sender, destination, amount, default_return_value=True)
    self.balanceOf[to] += shares
    self.totalSupply += shares
    log Transfer(sender=empty(address), receiver=to, value=shares)
    log Subscribe(
        subscriber=msg.sender, to=to, stablecoin=stablecoin, stablecoinInAmount=amount,
        stablecoinInAmountAfterFee=net, superstateTokenOutAmount=shares
    )


@external
@view
def calculateSuperstateTokenOut(amount: uint256, stablecoin: address) -> (uint256, uint256, uint256):
    """
    @notice The shares `subscribe` would mint now for `amount` of
            `stablecoin`, the stablecoin after the fee, and the fee; it
            reverts where `subscribe` would on the stablecoin or the price.
    @param amount The stablecoin paid.
    @param stablecoin An accepted stablecoin.
    @return uint256 The shares, rounded down.
    @return uint256 The stablecoin after the fee.
    @return uint256 The fee.
    """
    assert self.sweepDestination[stablecoin] != empty(address), "StablecoinNotSupported"
    return self._quote(amount, stablecoin)


# ---- ISSUER ----

@external
def setOracle(oracle_: address, maximum_oracle_delay: uint256):
    """
    @notice Sets the price oracle and the oldest price subscriptions accept.
    @param oracle_ The oracle (AggregatorV3 shape).
    @param maximum_oracle_delay Seconds.
    """
    assert msg.sender == self.owner, "Unauthorized"
    self.oracle = oracle_
    self.maximumOracleDelay = maximum_oracle_delay


@external
def setStablecoinConfig(stablecoin: address, destination: address, fee_bps: uint256):
    """
    @notice Accepts `stablecoin` for subscriptions (empty destination: no
            longer), its cash sent to `destination`, at `fee_bps`.
    @param stablecoin The stablecoin.
    @param destination Where its cash goes.
    @param fee_bps The fee, at most 10 bps.
    """
    assert msg.sender == self.owner, "Unauthorized"
    assert fee_bps <= MAX_SUBSCRIPTION_FEE_BPS, "FeeTooHigh"
    self.sweepDestination[stablecoin] = destination
    self.subscriptionFee[stablecoin] = fee_bps


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
@view
def _quote(amount: uint256, stablecoin: address) -> (uint256, uint256, uint256):
    """
    @dev A subscription's figures at the oracle's price: the fee rounded
         down, the shares rounded down (the fund never mints more than was
         paid for).
    @param amount The stablecoin paid.
    @param stablecoin The stablecoin.
    @return uint256 The shares.
    @return uint256 The stablecoin after the fee.
    @return uint256 The fee.
    """
    fee: uint256 = amount * self.subscriptionFee[stablecoin] // _BPS
    net: uint256 = amount - fee
    scale: uint256 = 0
    price: uint256 = 0
    scale, price = self._price()
    return net * scale // price, net, fee


@internal
@view
def _price() -> (uint256, uint256):
    """
    @dev The oracle's price, refused under $7 or older than the delay.
    @return uint256 10 ** the oracle's decimals.
    @return uint256 The price (oracle decimals).
    """
    scale: uint256 = 10 ** convert(staticcall IAggregatorV3(self.oracle).decimals(), uint256)
    round_id: uint80 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in: uint80 = 0
    round_id, answer, started_at, updated_at, answered_in = staticcall IAggregatorV3(self.oracle).latestRoundData()
    assert answer >= convert(MIN_PRICE_DOLLARS * scale, int256), "BadChainlinkData"
    assert updated_at + self.maximumOracleDelay >= block.timestamp, "BadChainlinkData"
    return scale, convert(answer, uint256)


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
