# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Superstate NAV Feed Adapter
@license GNU Affero General Public License v3.0 only
@author navlend
@notice An AggregatorV3 feed, in the oracle's decimals, answering the NAV
        Superstate struck for a fund (USTB, USCC), at the time it was
        struck, read from the oracle's checkpoints.
        - The struck NAV, never the oracle's extrapolation. Superstate's
          `latestRoundData` projects the last two checkpoints' slope to the
          block time: after a one-off drop the price keeps falling along
          that slope until the next checkpoint, which would liquidate
          healthy positions on a price no one struck, and it grows for up
          to five days on a projection. The struck NAV lags a rising fund
          by at most about a day of yield, on the protocol's safe side.
        - `updatedAt` is the strike time (the checkpoint's timestamp), never
          the block time, so the market's own staleness rules apply:
          borrowing and withdrawal blocked past its maximum age,
          liquidation open.
        - It never reverts because the oracle went stale (the oracle's own
          `latestRoundData` reverts five days after its last checkpoint):
          it answers the last checkpoint in effect and its strike time.
        - A checkpoint already added but not yet in effect is Superstate's
          announced NAV: `pending_answer` reports it, and the market lends
          at the lower of the two.
        Reading: the oracle has no length getter, so the feed starts at
        `hint`, a checkpoint known to exist, and probes forward (an index
        past the last one reverts) at most `MAX_SCAN` checkpoints. Anyone
        can move the hint forward with `poke()` (the keeper does), which
        keeps reads at two or three calls to the oracle.
@custom:security Ownerless: it trusts the oracle's checkpoints, nothing
                 else. With no checkpoint in effect it answers 0, which
                 the market treats as a broken feed (no value, stale).
"""


from ..interfaces import IAggregatorV3
implements: IAggregatorV3

from ..interfaces import IPendingNav
implements: IPendingNav

from ..interfaces import ISuperstateOracle


# ---- CONSTANTS ----

# Version of this adapter's logic.
VERSION: public(constant(uint256)) = 1
# The most checkpoints one read probes past the hint: 64 business days
# without a poke still read the latest NAV.
MAX_SCAN: public(constant(uint256)) = 64


# ---- IMMUTABLES ----

# Superstate's NAV oracle for the fund.
oracle: public(immutable(address))
# Human-readable pair, e.g. "USTB / USD NAV".
description: public(immutable(String[64]))
# The oracle's decimals (6 for SuperstateOracle), answered as they are.
_DECIMALS: immutable(uint8)


# ---- STORAGE ----

# A checkpoint index known to exist: where reads start probing.
hint: public(uint256)


# ---- EVENTS ----

event Poked:
    hint: uint256


# ---- CONSTRUCTOR ----

@deploy
def __init__(oracle_: address, description_: String[64], hint_: uint256):
    """
    @notice Deploys the feed over one fund's Superstate oracle.
    @param oracle_ The oracle.
    @param description_ The pair, e.g. "USTB / USD NAV".
    @param hint_ A checkpoint that exists: the latest in effect at
           deployment (the oracle's `latestRoundData` round id), so that
           the first reads need not probe the whole history.
    """
    assert oracle_ != empty(address), "feed: zero address"
    oracle = oracle_
    description = description_
    _DECIMALS = staticcall ISuperstateOracle(oracle_).decimals()
    ok: bool = False
    cp: ISuperstateOracle.Checkpoint = empty(ISuperstateOracle.Checkpoint)
    ok, cp = self._checkpoint(hint_)
    assert ok, "feed: no such checkpoint"
    self.hint = hint_


# ---- EXTERNAL FUNCTIONS ----

@external
@view
def decimals() -> uint8:
    """
    @notice The oracle's decimals.
    @return uint8 The answers' decimals.
    """
    return _DECIMALS


@external
@view
def version() -> uint256:
    """
    @notice The adapter's version.
    @return uint256 1.
    """
    return VERSION


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice The last NAV in effect and its strike time; zeros if none is.
    @return uint80 The checkpoint's index.
    @return int256 Its NAV per share.
    @return uint256 Its strike time.
    @return uint256 Its strike time.
    @return uint80 The checkpoint's index.
    """
    found: bool = False
    index: uint256 = 0
    cp: ISuperstateOracle.Checkpoint = empty(ISuperstateOracle.Checkpoint)
    pending: ISuperstateOracle.Checkpoint = empty(ISuperstateOracle.Checkpoint)
    found, index, cp, pending = self._read()
    if not found:
        return 0, 0, 0, 0, 0
    return convert(index, uint80), convert(cp.navs, int256), convert(cp.timestamp, uint256), convert(cp.timestamp, uint256), convert(index, uint80)


@external
@view
def getRoundData(round_id: uint80) -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice Checkpoint `round_id`, if it exists and is in effect.
    @param round_id The checkpoint's index.
    @return uint80 The checkpoint's index.
    @return int256 Its NAV per share.
    @return uint256 Its strike time.
    @return uint256 Its strike time.
    @return uint80 The checkpoint's index.
    """
    ok: bool = False
    cp: ISuperstateOracle.Checkpoint = empty(ISuperstateOracle.Checkpoint)
    ok, cp = self._checkpoint(convert(round_id, uint256))
    assert ok and convert(cp.effective_at, uint256) <= block.timestamp, "feed: no such round"
    return round_id, convert(cp.navs, int256), convert(cp.timestamp, uint256), convert(cp.timestamp, uint256), round_id


@external
@view
def pending_answer() -> (int256, uint256):
    """
    @notice The NAV Superstate has announced (added, not yet in effect) and
            its strike time; (0, 0) when none is.
    @return int256 The announced NAV per share.
    @return uint256 Its strike time.
    """
    found: bool = False
    index: uint256 = 0
    cp: ISuperstateOracle.Checkpoint = empty(ISuperstateOracle.Checkpoint)
    pending: ISuperstateOracle.Checkpoint = empty(ISuperstateOracle.Checkpoint)
    found, index, cp, pending = self._read()
    return convert(pending.navs, int256), convert(pending.timestamp, uint256)


@external
def poke():
    """
    @notice Moves `hint` to the last checkpoint in effect (anyone may).
    """
    found: bool = False
    index: uint256 = 0
    cp: ISuperstateOracle.Checkpoint = empty(ISuperstateOracle.Checkpoint)
    pending: ISuperstateOracle.Checkpoint = empty(ISuperstateOracle.Checkpoint)
    found, index, cp, pending = self._read()
    if found and index > self.hint:
        self.hint = index
        log Poked(hint=index)


# ---- INTERNAL FUNCTIONS ----

@internal
@view
def _read() -> (bool, uint256, ISuperstateOracle.Checkpoint, ISuperstateOracle.Checkpoint):
    """
    @dev From the hint forward: the last checkpoint in effect (found, its
         index, itself) and the first one announced after it (empty if
         none). Checkpoints are in time order, so the first one not yet
         in effect ends the in-effect run.
    @return bool Whether a checkpoint is in effect.
    @return uint256 Its index.
    @return ISuperstateOracle.Checkpoint It.
    @return ISuperstateOracle.Checkpoint The announced one, or empty.
    """
    found: bool = False
    index: uint256 = 0
    last: ISuperstateOracle.Checkpoint = empty(ISuperstateOracle.Checkpoint)
    start: uint256 = self.hint
    for step: uint256 in range(MAX_SCAN):
        ok: bool = False
        cp: ISuperstateOracle.Checkpoint = empty(ISuperstateOracle.Checkpoint)
        ok, cp = self._checkpoint(start + step)
        if not ok:
            break
        if convert(cp.effective_at, uint256) > block.timestamp:
            return found, index, last, cp
        found = True
        index = start + step
        last = cp
    return found, index, last, empty(ISuperstateOracle.Checkpoint)


@internal
@view
def _checkpoint(index: uint256) -> (bool, ISuperstateOracle.Checkpoint):
    """
    @dev Checkpoint `index`, or (False, empty) past the last one (the
         oracle reverts there, which a raw call turns into an answer).
    @param index The checkpoint's position.
    @return bool Whether it exists.
    @return ISuperstateOracle.Checkpoint It, or empty.
    """
    ok: bool = False
    data: Bytes[96] = b""
    ok, data = raw_call(
        oracle,
        abi_encode(index, method_id=method_id("checkpoints(uint256)")),
        max_outsize=96,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(data) != 96:
        return False, empty(ISuperstateOracle.Checkpoint)
    return True, abi_decode(data, ISuperstateOracle.Checkpoint)
