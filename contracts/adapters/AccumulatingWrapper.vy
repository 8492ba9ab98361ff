# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Accumulating Wrapper for a $1 Dividend Fund
@license GNU Affero General Public License v3.0 only
@author navlend
@notice An ERC-4626 vault over a stable-$1 fund share whose yield is paid
        as newly minted shares (BUIDL monthly, BENJI daily). The issuer
        mints dividends to the holder of record, i.e. to this wrapper, and
        the wrapper turns them into a rising assets-per-share, so the yield
        reaches whoever holds wrapper shares, a lending market included.
        Profit unlocking (yearn v3 style):
        - Assets are tracked internally. Any fund balance above the tracked
          assets, a dividend or a donation (the two cannot be told apart),
          is recognised only by the permissionless `harvest()` and released
          linearly over `unlock_period` (default 1 day, 1 hour .. 30 days).
          A new profit is blended with the still-locked one: the unlock end
          moves to the amount-weighted average of the two schedules.
        - totalAssets = tracked assets - still-locked profit. A harvest adds
          the profit to both terms, so no donation, harvested or not, moves
          `convertToAssets` within the block; it can only start a slope.
        Why it matters: a lending market prices this wrapper as
        fund NAV x assets per share (WrapperNavOracle). An atomic jump in
        assets-per-share is exactly how Curve's sDOLA LlamaLend market was
        drained in March 2026: the attacker donated to sDOLA to raise
        `convertToAssets` within one transaction and force liquidations.
        - A loss (the issuer burned or seized the wrapper's shares) is
          recognised by `harvest()` at once, absorbed first by the
          still-locked profit: a real loss must reach the price.
        - Inflation attack: one virtual share and one virtual asset enter
          every conversion, a conversion that would mint or pay nothing
          reverts, and a donation needs a harvest and a full unlock period
          before it counts. Rounding always favours the vault (deposit and
          redeem round down, mint and withdraw round up); the still-locked
          profit rounds up, so totalAssets and the market's price round
          down.
        - Compliance: wrapper shares move only between parties the fund
          allowlists and has not frozen (including a third-party spender),
          and only while the fund is not paused, so the wrapper is no hole
          in the issuer's allowlist. Deposits, mints, withdrawals and
          redemptions check the same parties.
        Wrapper shares have the fund's decimals. Built on snekmate's erc20
        and math; snekmate's erc4626 is not used because its totalAssets is
        the live balance and cannot be overridden.
@custom:security The fund issuer controls this vault indirectly: a pause of
                 the fund stops every wrapper transfer and exit, and a burn
                 or seize of the wrapper's fund shares is a loss to all
                 holders at the next harvest. The owner only sets the
                 unlock period.
@custom:kill Nothing to kill at the wrapper: the fund issuer pauses the
             fund token, which stops every deposit, transfer and exit, or
             de-allowlists the wrapper.
"""


from ethereum.ercs import IERC20
implements: IERC20


from ethereum.ercs import IERC20Detailed
implements: IERC20Detailed


from ethereum.ercs import IERC4626
implements: IERC4626


from ..interfaces import IFundToken


from snekmate.auth import ownable
initializes: ownable


from snekmate.auth import ownable_2step
initializes: ownable_2step[ownable := ownable]


from snekmate.tokens import erc20
initializes: erc20[ownable := ownable]


from snekmate.utils import math


exports: (
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.balanceOf,
    erc20.allowance,
    erc20.totalSupply,
    erc20.approve,
    ownable.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
    ownable_2step.renounce_ownership,
)


# ---- CONSTANTS ----

# Default profit unlock period: 1 day.
DEFAULT_UNLOCK_PERIOD: public(constant(uint256)) = 86_400
# Shortest settable unlock period: 1 hour.
MIN_UNLOCK_PERIOD: public(constant(uint256)) = 3_600
# Longest settable unlock period: 30 days.
MAX_UNLOCK_PERIOD: public(constant(uint256)) = 2_592_000
# Virtual shares added to the supply in every conversion.
_VIRTUAL_SHARES: constant(uint256) = 1
# Virtual assets added to totalAssets in every conversion.
_VIRTUAL_ASSETS: constant(uint256) = 1
# Bit offset of the locked profit in the packed unlock schedule.
_LOCKED_SHIFT: constant(uint256) = 128
# Bit offset of the harvest time in the packed unlock schedule.
_START_SHIFT: constant(uint256) = 64
# Mask of the low 64 bits.
_MASK_64: constant(uint256) = 2**64 - 1


# ---- IMMUTABLES ----

# The fund share held by the vault (ERC-4626 `asset`).
_ASSET: immutable(address)


# ---- STORAGE ----

# Seconds over which a harvested profit is released.
unlock_period: public(uint256)
# Fund shares accounted for: deposits - withdrawals + harvested profit
# (the still-locked part included).
_tracked_assets: uint256
# Unlock schedule: locked profit << 128 | harvest time << 64 | unlock end.
_schedule: uint256


# ---- EVENTS ----

# `harvest()` recognised a profit and/or a loss.
event Harvested:
    caller: indexed(address)
    profit: uint256
    loss: uint256
    locked_profit: uint256
    unlock_end: uint256


# The unlock period changed.
event UnlockPeriodChanged:
    previous_period: uint256
    new_period: uint256


# ---- CONSTRUCTOR ----

@deploy
def __init__(asset_: address, name_: String[25], symbol_: String[5]):
    """
    @notice Deploys the wrapper over a stable-$1 fund share.
    @dev The fund must allowlist this wrapper before anyone can deposit.
    @param asset_ The fund share (value model 1).
    @param name_ The wrapper's name.
    @param symbol_ The wrapper's symbol.
    """
    assert asset_ != empty(address), "wrapper: zero address"
    ownable.__init__()
    ownable_2step.__init__()
    erc20.__init__(name_, symbol_, staticcall IERC20Detailed(asset_).decimals(), name_, "1")
    _ASSET = asset_
    self._set_unlock_period(DEFAULT_UNLOCK_PERIOD)


# ---- ERC-20 (COMPLIANT) ----

@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice Moves wrapper shares; both parties must pass the fund's checks.
    @param to The receiver.
    @param amount The wrapper shares.
    @return bool Always True (failures revert).
    """
    self._require_can_transfer(msg.sender, to, msg.sender)
    erc20._transfer(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice Moves wrapper shares on an allowance; the holder, the receiver
            and a third-party caller must pass the fund's checks.
    @param owner The holder.
    @param to The receiver.
    @param amount The wrapper shares.
    @return bool Always True (failures revert).
    """
    self._require_can_transfer(owner, to, msg.sender)
    erc20._spend_allowance(owner, msg.sender, amount)
    erc20._transfer(owner, to, amount)
    return True


# ---- ERC-4626 ----

@external
@view
def asset() -> address:
    """
    @notice The fund share held by the vault.
    @return address The fund share.
    """
    return _ASSET


@external
@view
def totalAssets() -> uint256:
    """
    @notice Tracked assets minus the still-locked profit.
    @return uint256 Fund shares backing the wrapper shares.
    """
    return self._total_assets()


@external
@view
def convertToShares(assetAmount: uint256) -> uint256:
    """
    @notice Wrapper shares for `assetAmount` fund shares, rounded down.
    @param assetAmount The fund shares.
    @return uint256 The wrapper shares.
    """
    return self._to_shares(assetAmount, False)


@external
@view
def convertToAssets(shareAmount: uint256) -> uint256:
    """
    @notice Fund shares for `shareAmount` wrapper shares, rounded down.
    @param shareAmount The wrapper shares.
    @return uint256 The fund shares.
    """
    return self._to_assets(shareAmount, False)


@external
@view
def maxDeposit(owner: address) -> uint256:
    """
    @notice Unlimited for a compliant receiver while the fund runs, else 0.
    @param owner The receiver of the wrapper shares.
    @return uint256 The most fund shares depositable.
    """
    if not self._is_compliant(owner):
        return 0
    return max_value(uint256)


@external
@view
def previewDeposit(assets: uint256) -> uint256:
    """
    @notice Wrapper shares `deposit(assets)` mints, rounded down.
    @param assets The fund shares.
    @return uint256 The wrapper shares.
    """
    return self._to_shares(assets, False)


@external
def deposit(assets: uint256, receiver: address) -> uint256:
    """
    @notice Deposits `assets` fund shares, minting wrapper shares to
            `receiver`.
    @param assets The fund shares pulled from the caller.
    @param receiver The receiver of the wrapper shares.
    @return uint256 The wrapper shares minted.
    """
    shares: uint256 = self._to_shares(assets, False)
    self._deposit(assets, shares, receiver)
    return shares


@external
@view
def maxMint(owner: address) -> uint256:
    """
    @notice Unlimited for a compliant receiver while the fund runs, else 0.
    @param owner The receiver of the wrapper shares.
    @return uint256 The most wrapper shares mintable.
    """
    if not self._is_compliant(owner):
        return 0
    return max_value(uint256)


@external
@view
def previewMint(shares: uint256) -> uint256:
    """
    @notice Fund shares `mint(shares)` takes, rounded up.
    @param shares The wrapper shares.
    @return uint256 The fund shares.
    """
    return self._to_assets(shares, True)


@external
def mint(shares: uint256, receiver: address) -> uint256:
    """
    @notice Mints exactly `shares` wrapper shares to `receiver`.
    @param shares The wrapper shares.
    @param receiver The receiver of the wrapper shares.
    @return uint256 The fund shares pulled from the caller.
    """
    assets: uint256 = self._to_assets(shares, True)
    self._deposit(assets, shares, receiver)
    return assets


@external
@view
def maxWithdraw(owner: address) -> uint256:
    """
    @notice The fund shares `owner` can withdraw now (0 if not compliant).
    @param owner The holder.
    @return uint256 The fund shares, rounded down.
    """
    if not self._is_compliant(owner):
        return 0
    return self._to_assets(erc20.balanceOf[owner], False)


@external
@view
def previewWithdraw(assets: uint256) -> uint256:
    """
    @notice Wrapper shares `withdraw(assets)` burns, rounded up.
    @param assets The fund shares.
    @return uint256 The wrapper shares.
    """
    return self._to_shares(assets, True)


@external
def withdraw(assets: uint256, receiver: address, owner: address) -> uint256:
    """
    @notice Burns `owner`'s wrapper shares for exactly `assets` fund shares
            sent to `receiver`.
    @param assets The fund shares.
    @param receiver The receiver of the fund shares.
    @param owner The holder of the wrapper shares.
    @return uint256 The wrapper shares burned.
    """
    shares: uint256 = self._to_shares(assets, True)
    self._withdraw(assets, shares, receiver, owner)
    return shares


@external
@view
def maxRedeem(owner: address) -> uint256:
    """
    @notice The wrapper shares `owner` can redeem now (0 if not compliant).
    @param owner The holder.
    @return uint256 The wrapper shares.
    """
    if not self._is_compliant(owner):
        return 0
    return erc20.balanceOf[owner]


@external
@view
def previewRedeem(shares: uint256) -> uint256:
    """
    @notice Fund shares `redeem(shares)` pays, rounded down.
    @param shares The wrapper shares.
    @return uint256 The fund shares.
    """
    return self._to_assets(shares, False)


@external
def redeem(shares: uint256, receiver: address, owner: address) -> uint256:
    """
    @notice Burns exactly `shares` of `owner`'s wrapper shares for fund
            shares sent to `receiver`.
    @param shares The wrapper shares.
    @param receiver The receiver of the fund shares.
    @param owner The holder of the wrapper shares.
    @return uint256 The fund shares paid.
    """
    assets: uint256 = self._to_assets(shares, False)
    self._withdraw(assets, shares, receiver, owner)
    return assets


# ---- PROFIT UNLOCKING ----

@external
def harvest() -> uint256:
    """
    @notice Recognises the fund balance above the tracked assets (dividends
            and donations) as profit to release over `unlock_period`, or a
            shortfall as a loss. Anyone may call it.
    @dev totalAssets is unchanged by a profit within the block.
    @return uint256 The profit recognised.
    """
    return self._harvest()


@external
@view
def locked_profit() -> uint256:
    """
    @notice The harvested profit not yet released, rounded up.
    @return uint256 Fund shares.
    """
    return self._locked_now(self._schedule)


@external
@view
def unlock_end() -> uint256:
    """
    @notice When the current locked profit is fully released.
    @return uint256 The timestamp (0 before any harvest).
    """
    return self._schedule & _MASK_64


@external
@view
def tracked_assets() -> uint256:
    """
    @notice Fund shares accounted for, the still-locked profit included.
    @return uint256 Fund shares.
    """
    return self._tracked_assets


@external
@view
def pending_harvest() -> uint256:
    """
    @notice The fund balance a harvest would recognise as new profit.
    @return uint256 Fund shares (0 when there is none or a loss).
    """
    balance: uint256 = staticcall IERC20(_ASSET).balanceOf(self)
    tracked: uint256 = self._tracked_assets
    if balance <= tracked:
        return 0
    # No underflow: balance > tracked was checked just above.
    return unsafe_sub(balance, tracked)


@external
def set_unlock_period(new_period: uint256):
    """
    @notice Sets the release period of future profits (1 hour .. 30 days).
    @param new_period The period in seconds.
    """
    ownable._check_owner()
    self._set_unlock_period(new_period)


# ---- INTERNALS ----

@internal
def _deposit(assets: uint256, shares: uint256, receiver: address):
    """
    @notice Pulls `assets` from the caller and mints `shares` to `receiver`.
    @param assets The fund shares.
    @param shares The wrapper shares.
    @param receiver The receiver of the wrapper shares.
    """
    assert assets != 0 and shares != 0, "wrapper: zero amount"
    self._require_can_transfer(msg.sender, receiver, msg.sender)
    assert extcall IERC20(_ASSET).transferFrom(msg.sender, self, assets, default_return_value=True)
    self._tracked_assets += assets
    erc20._mint(receiver, shares)
    log IERC4626.Deposit(sender=msg.sender, owner=receiver, assets=assets, shares=shares)


@internal
def _withdraw(assets: uint256, shares: uint256, receiver: address, owner: address):
    """
    @notice Burns `owner`'s `shares` and sends `assets` to `receiver`.
    @param assets The fund shares.
    @param shares The wrapper shares.
    @param receiver The receiver of the fund shares.
    @param owner The holder of the wrapper shares.
    """
    assert assets != 0 and shares != 0, "wrapper: zero amount"
    self._require_can_transfer(owner, receiver, msg.sender)
    assert shares <= erc20.balanceOf[owner], "wrapper: insufficient shares"
    if msg.sender != owner:
        erc20._spend_allowance(owner, msg.sender, shares)
    erc20._burn(owner, shares)
    self._tracked_assets -= assets
    assert extcall IERC20(_ASSET).transfer(receiver, assets, default_return_value=True)
    log IERC4626.Withdraw(sender=msg.sender, receiver=receiver, owner=owner, assets=assets, shares=shares)


@internal
def _harvest() -> uint256:
    """
    @notice Books profit or loss and re-blends the unlock schedule.
    @return uint256 The profit recognised.
    """
    schedule: uint256 = self._schedule
    locked: uint256 = self._locked_now(schedule)
    tracked: uint256 = self._tracked_assets
    balance: uint256 = staticcall IERC20(_ASSET).balanceOf(self)
    profit: uint256 = 0
    loss: uint256 = 0
    if balance >= tracked:
        profit = balance - tracked
    else:
        loss = tracked - balance
        # The still-locked profit absorbs the loss first.
        locked -= min(loss, locked)
    remaining: uint256 = 0
    end: uint256 = schedule & _MASK_64
    if end > block.timestamp:
        remaining = end - block.timestamp
    new_locked: uint256 = locked + profit
    new_end: uint256 = block.timestamp
    if new_locked != 0:
        # Amount-weighted average of the old and the new schedule, rounded
        # up so the release is never faster than promised.
        new_end += math._ceil_div(locked * remaining + profit * self.unlock_period, new_locked)
    assert new_locked < 2**128, "wrapper: profit too large"
    self._tracked_assets = balance
    self._schedule = (new_locked << _LOCKED_SHIFT) | (block.timestamp << _START_SHIFT) | new_end
    log Harvested(caller=msg.sender, profit=profit, loss=loss, locked_profit=new_locked, unlock_end=new_end)
    return profit


@internal
@view
def _locked_now(schedule: uint256) -> uint256:
    """
    @notice The part of the harvested profit still locked now, rounded up.
    @param schedule The packed unlock schedule.
    @return uint256 Fund shares.
    """
    end: uint256 = schedule & _MASK_64
    if block.timestamp >= end:
        return 0
    start: uint256 = (schedule >> _START_SHIFT) & _MASK_64
    # No underflow: start <= block.timestamp < end.
    return math._mul_div(
        schedule >> _LOCKED_SHIFT, unsafe_sub(end, block.timestamp), unsafe_sub(end, start), True
    )


@internal
@view
def _total_assets() -> uint256:
    """
    @notice Tracked assets minus the still-locked profit.
    @return uint256 Fund shares.
    """
    return self._tracked_assets - self._locked_now(self._schedule)


@internal
@view
def _to_shares(assets: uint256, roundup: bool) -> uint256:
    """
    @notice assets x (supply + 1) / (totalAssets + 1).
    @param assets The fund shares.
    @param roundup True to round up.
    @return uint256 The wrapper shares.
    """
    return math._mul_div(
        assets, erc20.totalSupply + _VIRTUAL_SHARES, self._total_assets() + _VIRTUAL_ASSETS, roundup
    )


@internal
@view
def _to_assets(shares: uint256, roundup: bool) -> uint256:
    """
    @notice shares x (totalAssets + 1) / (supply + 1).
    @param shares The wrapper shares.
    @param roundup True to round up.
    @return uint256 The fund shares.
    """
    return math._mul_div(
        shares, self._total_assets() + _VIRTUAL_ASSETS, erc20.totalSupply + _VIRTUAL_SHARES, roundup
    )


@internal
@view
def _is_compliant(account: address) -> bool:
    """
    @notice Whether `account` may hold and move shares now (fund running,
            account allowlisted and not frozen).
    @param account The account.
    @return bool True when compliant.
    """
    return staticcall IFundToken(_ASSET).can_transfer(account, account, account)


@internal
@view
def _require_can_transfer(sender: address, receiver: address, spender: address):
    """
    @notice Reverts unless the fund would let `spender` move shares from
            `sender` to `receiver`, naming the failing party.
    @dev One call to the fund's `can_transfer` on the happy path; the
         diagnosis runs only when it fails.
    @param sender The holder.
    @param receiver The receiver.
    @param spender The caller (equal to `sender` for a direct transfer).
    """
    fund: IFundToken = IFundToken(_ASSET)
    if staticcall fund.can_transfer(sender, receiver, spender):
        return
    assert not staticcall fund.paused(), "wrapper: fund paused"
    assert staticcall fund.is_allowlisted(sender), "wrapper: sender not allowlisted"
    assert not staticcall fund.is_frozen(sender), "wrapper: sender frozen"
    assert staticcall fund.is_allowlisted(receiver), "wrapper: receiver not allowlisted"
    assert not staticcall fund.is_frozen(receiver), "wrapper: receiver frozen"
    assert staticcall fund.is_allowlisted(spender), "wrapper: spender not allowlisted"
    assert not staticcall fund.is_frozen(spender), "wrapper: spender frozen"
    raise "wrapper: transfer not permitted"


@internal
def _set_unlock_period(new_period: uint256):
    """
    @notice Stores a bounded unlock period and logs the change.
    @param new_period The period in seconds.
    """
    assert new_period >= MIN_UNLOCK_PERIOD and new_period <= MAX_UNLOCK_PERIOD, "wrapper: bad unlock period"
    log UnlockPeriodChanged(previous_period=self.unlock_period, new_period=new_period)
    self.unlock_period = new_period
