# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Superstate NAV Oracle Double
@license GNU Affero General Public License v3.0 only
@author navlend
@notice A test double of Superstate's NAV oracle, written from its
        documented behaviour (docs/issuers.md), quirks included:
        - checkpoints of (strike time, effective-from time, NAV per share),
          6 decimals, added by the owner one business day at a time, each
          moving the NAV by at most `max_delta` from the previous one;
        - a checkpoint whose effective-from time is ahead is announced but
          not used; another cannot be added while one is pending unless the
          caller overrides;
        - `latestRoundData` extrapolates linearly from the last two
          effective checkpoints to the block time (the change truncated
          toward zero), answers the block time as `startedAt` and
          `updatedAt`, the checkpoint's index as the round, and reverts
          "StaleCheckpoint" five days after the last checkpoint became
          effective, "CantGeneratePrice" with fewer than two;
        - `getRoundData` always reverts; `checkpoints(i)` reverts past the
          last checkpoint.
        Never deployed on a live network.
"""


from ..interfaces import ISuperstateOracle


# ---- CONSTANTS ----

# Five days after a checkpoint takes effect, the oracle stops answering.
CHECKPOINT_EXPIRATION_PERIOD: public(constant(uint256)) = 5 * 86_400
# Answers carry 6 decimals.
DECIMALS: public(constant(uint8)) = 6
# The most checkpoints a double keeps.
MAX_CHECKPOINTS: constant(uint256) = 1_000


# ---- STORAGE ----

# Who adds checkpoints.
owner: public(address)
# The largest move of one checkpoint's NAV from the previous one.
max_delta: public(uint256)
# Every checkpoint, oldest first.
_checkpoints: DynArray[ISuperstateOracle.Checkpoint, MAX_CHECKPOINTS]


# ---- CONSTRUCTOR ----

@deploy
def __init__(max_delta_: uint256):
    """
    @notice Deploys an empty oracle owned by the deployer.
    @param max_delta_ The largest NAV move per checkpoint (6 decimals).
    """
    self.owner = msg.sender
    self.max_delta = max_delta_


# ---- EXTERNAL FUNCTIONS ----

@external
def add_checkpoint(timestamp: uint64, effective_at: uint64, navs: uint128, override_pending: bool):
    """
    @notice Adds a checkpoint struck at `timestamp` (in the past), used
            from `effective_at` (now or later), with NAV `navs`.
    @param timestamp The strike time.
    @param effective_at From when the checkpoint is used.
    @param navs The NAV per share (6 decimals).
    @param override_pending Add it although a checkpoint is still pending.
    """
    assert msg.sender == self.owner, "Unauthorized"
    assert convert(timestamp, uint256) < block.timestamp, "TimestampInFuture"
    assert convert(effective_at, uint256) >= block.timestamp, "EffectiveAtInPast"
    assert navs != 0, "ZeroNavs"
    count: uint256 = len(self._checkpoints)
    if count != 0:
        last: ISuperstateOracle.Checkpoint = self._checkpoints[count - 1]
        assert timestamp > last.timestamp and effective_at > last.effective_at, "TimestampNotIncreasing"
        if convert(last.effective_at, uint256) > block.timestamp:
            assert override_pending, "ExistingPendingEffectiveAt"
        # An absolute bound (the real oracle's maximum acceptable delta).
        assert navs <= last.navs + convert(self.max_delta, uint128), "NetAssetValuePerShareTooHigh"
        assert navs + convert(self.max_delta, uint128) >= last.navs, "NetAssetValuePerShareTooLow"
    self._checkpoints.append(ISuperstateOracle.Checkpoint(timestamp=timestamp, effective_at=effective_at, navs=navs))


@external
@view
def checkpoints(index: uint256) -> ISuperstateOracle.Checkpoint:
    """
    @notice Checkpoint `index` (reverts past the last one).
    @param index The checkpoint's position, oldest first.
    @return ISuperstateOracle.Checkpoint The checkpoint.
    """
    return self._checkpoints[index]


@external
@view
def decimals() -> uint8:
    """
    @notice 6.
    @return uint8 The answers' decimals.
    """
    return DECIMALS


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice The NAV extrapolated to the block time from the last two
            effective checkpoints, with the block time as `updatedAt`.
    @return uint80 The latest effective checkpoint's index.
    @return int256 The extrapolated NAV.
    @return uint256 The block time.
    @return uint256 The block time.
    @return uint80 The latest effective checkpoint's index.
    """
    count: uint256 = len(self._checkpoints)
    assert count >= 2, "CantGeneratePrice"
    latest: uint256 = count - 1
    for _: uint256 in range(MAX_CHECKPOINTS):
        if convert(self._checkpoints[latest].effective_at, uint256) <= block.timestamp:
            break
        assert latest > 1, "CantGeneratePrice"
        latest -= 1
    assert latest >= 1, "CantGeneratePrice"
    last: ISuperstateOracle.Checkpoint = self._checkpoints[latest]
    before: ISuperstateOracle.Checkpoint = self._checkpoints[latest - 1]
    assert block.timestamp <= convert(last.effective_at, uint256) + CHECKPOINT_EXPIRATION_PERIOD, "StaleCheckpoint"
    slope: int256 = convert(last.navs, int256) - convert(before.navs, int256)
    elapsed: int256 = convert(block.timestamp, int256) - convert(last.timestamp, int256)
    span: int256 = convert(last.timestamp, int256) - convert(before.timestamp, int256)
    # Vyper's signed division truncates toward zero, as the real oracle's.
    answer: int256 = convert(last.navs, int256) + slope * elapsed // span
    return convert(latest, uint80), answer, block.timestamp, block.timestamp, convert(latest, uint80)


@external
@view
def getRoundData(round_id: uint80) -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice Always reverts, as the real oracle does.
    @param round_id Ignored.
    """
    raise "NotImplemented"
