# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Issuer NAV Oracle
@license GNU Affero General Public License v3.0 only
@author navlend
@notice A Chainlink AggregatorV3-compatible feed (8 decimals) for a fund's
        net asset value per share, written by the issuer's NAV updater
        once per business day (struck about 17:00 ET).
        - `updatedAt` and `startedAt` are the strike time `as_of` the
          updater supplies, never the block time: Superstate's oracle
          reports `block.timestamp` for an old NAV and so defeats every
          consumer's staleness check. The publish time is kept separately
          (`latest_published_at`).
        - Minimum interval between strikes (default 20 hours), as Ondo's
          RWAOracleRateCheck enforces 23 hours.
        - Maximum move per update (default 100 bps, as Ondo's 1 %). A
          larger move is not applied: it is parked as a pending round and
          the guardian either confirms it (a real NAV loss must still reach
          the feed) or rejects it (a fat-finger). While a round is pending
          the updater cannot publish.
        - The first round has no move limit; the constructor may write it.
        Gas: the lending market reads `latestRoundData()` on every health
        check, so the latest round lives in one packed word
        (round id 64 bits | as_of 64 bits | answer 128 bits): one SLOAD.
        Every round is also kept in a map for `getRoundData`.
        Part of the simulated issuer (contracts/issuer/): it stands in for
        the issuer's own contract in tests, the demo and local networks and
        is never deployed on a live network.
@custom:security The updater can move the NAV by at most `max_move_bps` per
                 `min_interval`; anything larger needs the guardian too.
                 The owner (two-step) appoints both and sets the bounds.
@custom:kill The owner sets the updater to the empty address. No new round
             can be published, and consumers see the last round age until
             their staleness limit rejects it.
"""


from ..interfaces import IAggregatorV3
implements: IAggregatorV3

from ..interfaces import IPendingNav
implements: IPendingNav


from snekmate.auth import ownable
initializes: ownable


from snekmate.auth import ownable_2step
initializes: ownable_2step[ownable := ownable]


from snekmate.utils import math


exports: (
    ownable.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
    ownable_2step.renounce_ownership,
)


# ---- CONSTANTS ----

# Answers carry 8 decimals, like Chainlink's USD feeds.
DECIMALS: public(constant(uint8)) = 8
# Version of this feed's logic (AggregatorV3 `version()`).
VERSION: public(constant(uint256)) = 1
# Default minimum time between two strikes: 20 hours.
DEFAULT_MIN_INTERVAL: public(constant(uint256)) = 72_000
# Lowest settable minimum interval: 1 hour.
MIN_MIN_INTERVAL: public(constant(uint256)) = 3_600
# Highest settable minimum interval: 7 days.
MAX_MIN_INTERVAL: public(constant(uint256)) = 604_800
# Default maximum move per update: 100 bps.
DEFAULT_MAX_MOVE_BPS: public(constant(uint256)) = 100
# Lowest settable maximum move: 1 bp.
MIN_MAX_MOVE_BPS: public(constant(uint256)) = 1
# Highest settable maximum move: 50 %.
MAX_MAX_MOVE_BPS: public(constant(uint256)) = 5_000
# Basis points in one.
_BPS: constant(uint256) = 10_000
# Bit offset of the as_of field of a packed round.
_AS_OF_SHIFT: constant(uint256) = 128
# Bit offset of the round id field of the packed latest round.
_ROUND_SHIFT: constant(uint256) = 192
# Mask of the low 64 bits.
_MASK_64: constant(uint256) = 2**64 - 1
# Mask of the low 128 bits.
_MASK_128: constant(uint256) = 2**128 - 1


# ---- IMMUTABLES ----

# Human-readable pair, e.g. "USTB / USD NAV".
description: public(immutable(String[64]))


# ---- STRUCTS ----

# A move beyond the bound, waiting for the guardian.
struct PendingRound:
    # Proposed NAV (8 decimals); zero when nothing is pending.
    answer: uint256
    # Strike time of the proposed NAV.
    as_of: uint256
    # Block time at which the updater proposed it.
    published_at: uint256


# ---- STORAGE ----

# The only account that may publish.
updater: public(address)
# The account that confirms or rejects out-of-bound moves.
guardian: public(address)
# Minimum seconds between two strike times.
min_interval: public(uint256)
# Maximum accepted move per update, in basis points of the last answer.
max_move_bps: public(uint256)
# Block time at which the latest round was written.
latest_published_at: public(uint256)
# The move waiting for the guardian, if any.
pending_round: public(PendingRound)
# Latest round: round id << 192 | as_of << 128 | answer (one SLOAD).
_latest: uint256
# Every round by id: as_of << 128 | answer.
_rounds: HashMap[uint256, uint256]


# ---- EVENTS ----

# A new round was applied (published in bound, or confirmed).
event NavPublished:
    round_id: indexed(uint256)
    answer: uint256
    as_of: uint256
    published_at: uint256


# A move beyond the bound was parked for the guardian.
event NavPending:
    answer: uint256
    as_of: uint256
    previous_answer: uint256
    move_bps: uint256


# The guardian applied the pending round.
event PendingConfirmed:
    round_id: indexed(uint256)
    answer: uint256
    as_of: uint256


# The guardian dropped the pending round.
event PendingRejected:
    answer: uint256
    as_of: uint256


# The updater role moved.
event UpdaterChanged:
    previous_updater: indexed(address)
    new_updater: indexed(address)


# The guardian role moved.
event GuardianChanged:
    previous_guardian: indexed(address)
    new_guardian: indexed(address)


# The minimum interval changed.
event MinIntervalChanged:
    previous_interval: uint256
    new_interval: uint256


# The maximum move changed.
event MaxMoveChanged:
    previous_bps: uint256
    new_bps: uint256


# ---- CONSTRUCTOR ----

@deploy
def __init__(
    description_: String[64], updater_: address, guardian_: address, initial_nav: uint256, initial_as_of: uint256
):
    """
    @notice Deploys the feed, optionally with its first round.
    @param description_ The pair, e.g. "USTB / USD NAV".
    @param updater_ The NAV publisher.
    @param guardian_ The confirmer of out-of-bound moves.
    @param initial_nav The first NAV (8 decimals), or 0 for no round yet.
    @param initial_as_of The strike time of the first NAV (ignored if 0).
    """
    ownable.__init__()
    ownable_2step.__init__()
    description = description_
    self._set_updater(updater_)
    self._set_guardian(guardian_)
    self._set_min_interval(DEFAULT_MIN_INTERVAL)
    self._set_max_move_bps(DEFAULT_MAX_MOVE_BPS)
    if initial_nav != 0:
        self._check_strike(initial_nav, initial_as_of, 0)
        self._apply(initial_nav, initial_as_of)


# ---- AGGREGATOR V3 ----

@external
@view
def decimals() -> uint8:
    """
    @notice The decimals of every answer.
    @return uint8 Always 8.
    """
    return DECIMALS


@external
@view
def version() -> uint256:
    """
    @notice The feed logic version.
    @return uint256 The version.
    """
    return VERSION


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice The latest applied round, read from one storage word.
    @dev Reverts before any round exists.
    @return uint80 The round id.
    @return int256 The NAV per share (8 decimals).
    @return uint256 startedAt: the strike time.
    @return uint256 updatedAt: the strike time (never the block time).
    @return uint80 answeredInRound: the round id.
    """
    packed: uint256 = self._latest
    assert packed != 0, "oracle: no data"
    return self._unpack(packed >> _ROUND_SHIFT, packed)


@external
@view
def getRoundData(_roundId: uint80) -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice A past (or the latest) round by id.
    @param _roundId The round id, from 1.
    @return uint80 The round id.
    @return int256 The NAV per share (8 decimals).
    @return uint256 startedAt: the strike time.
    @return uint256 updatedAt: the strike time.
    @return uint80 answeredInRound: the round id.
    """
    packed: uint256 = self._rounds[convert(_roundId, uint256)]
    assert packed != 0, "oracle: unknown round"
    return self._unpack(convert(_roundId, uint256), packed)


# ---- PUBLISHING ----

@external
def publish(nav: uint256, as_of: uint256) -> bool:
    """
    @notice Publishes the NAV struck at `as_of`.
    @dev Applied at once when within `max_move_bps` of the last answer,
         otherwise parked for the guardian.
    @param nav The NAV per share, 8 decimals.
    @param as_of The strike time (not in the future, after the last one
           by at least `min_interval`).
    @return bool True when applied, False when parked as pending.
    """
    assert msg.sender == self.updater, "oracle: caller not updater"
    assert self.pending_round.answer == 0, "oracle: pending confirmation"
    latest: uint256 = self._latest
    self._check_strike(nav, as_of, latest)
    if latest == 0:
        self._apply(nav, as_of)
        return True
    previous: uint256 = latest & _MASK_128
    move: uint256 = self._move_bps(previous, nav)
    if move <= self.max_move_bps:
        self._apply(nav, as_of)
        return True
    self.pending_round = PendingRound(answer=nav, as_of=as_of, published_at=block.timestamp)
    log NavPending(answer=nav, as_of=as_of, previous_answer=previous, move_bps=move)
    return False


@external
def confirm_pending() -> uint256:
    """
    @notice Applies the pending round (guardian only).
    @return uint256 The new round id.
    """
    pending: PendingRound = self._take_pending()
    round_id: uint256 = self._apply(pending.answer, pending.as_of)
    log PendingConfirmed(round_id=round_id, answer=pending.answer, as_of=pending.as_of)
    return round_id


@external
def reject_pending():
    """
    @notice Drops the pending round (guardian only); the updater may then
            publish a corrected NAV.
    """
    pending: PendingRound = self._take_pending()
    log PendingRejected(answer=pending.answer, as_of=pending.as_of)


# ---- ADMIN ----

@external
def set_updater(new_updater: address):
    """
    @notice Appoints the NAV publisher (empty address to stop publishing).
    @param new_updater The new updater.
    """
    ownable._check_owner()
    self._set_updater(new_updater)


@external
def set_guardian(new_guardian: address):
    """
    @notice Appoints the guardian.
    @param new_guardian The new guardian.
    """
    ownable._check_owner()
    self._set_guardian(new_guardian)


@external
def set_min_interval(new_interval: uint256):
    """
    @notice Sets the minimum time between strikes, within 1 hour .. 7 days.
    @param new_interval The interval in seconds.
    """
    ownable._check_owner()
    self._set_min_interval(new_interval)


@external
def set_max_move_bps(new_bps: uint256):
    """
    @notice Sets the maximum move per update, within 1 .. 5,000 bps.
    @param new_bps The bound in basis points.
    """
    ownable._check_owner()
    self._set_max_move_bps(new_bps)


# ---- VIEWS ----

@external
@view
def latest_round_id() -> uint256:
    """
    @notice The id of the latest applied round (0 before any).
    @return uint256 The round id.
    """
    return self._latest >> _ROUND_SHIFT


@external
@view
def pending_answer() -> (int256, uint256):
    """
    @notice The round waiting for the guardian, as `IPendingNav` announces
            it to the market: no borrow is valued above it while it waits.
    @return int256 The pending NAV (8 decimals); 0 when none.
    @return uint256 Its strike time; 0 when none.
    """
    pending: PendingRound = self.pending_round
    return convert(pending.answer, int256), pending.as_of


@external
@view
def has_pending() -> bool:
    """
    @notice Whether a move waits for the guardian.
    @return bool True when a round is pending.
    """
    return self.pending_round.answer != 0


# ---- INTERNALS ----

@internal
@view
def _check_strike(nav: uint256, as_of: uint256, latest: uint256):
    """
    @notice Validates a new strike against the latest round.
    @param nav The NAV (8 decimals).
    @param as_of The strike time.
    @param latest The packed latest round (0 if none).
    """
    assert nav != 0, "oracle: zero nav"
    assert nav <= _MASK_128 >> 1, "oracle: nav too large"
    assert as_of != 0, "oracle: zero as_of"
    assert as_of <= block.timestamp, "oracle: as_of in future"
    if latest != 0:
        previous_as_of: uint256 = (latest >> _AS_OF_SHIFT) & _MASK_64
        assert as_of > previous_as_of, "oracle: as_of not after last"
        assert as_of - previous_as_of >= self.min_interval, "oracle: interval too short"


@internal
def _apply(nav: uint256, as_of: uint256) -> uint256:
    """
    @notice Writes a validated round as the latest and into the history.
    @param nav The NAV (8 decimals).
    @param as_of The strike time.
    @return uint256 The new round id.
    """
    # The round id cannot realistically pass 2**64 (one per 20 hours).
    round_id: uint256 = unsafe_add(self._latest >> _ROUND_SHIFT, 1)
    packed: uint256 = (as_of << _AS_OF_SHIFT) | nav
    self._rounds[round_id] = packed
    self._latest = (round_id << _ROUND_SHIFT) | packed
    self.latest_published_at = block.timestamp
    log NavPublished(round_id=round_id, answer=nav, as_of=as_of, published_at=block.timestamp)
    return round_id


@internal
def _take_pending() -> PendingRound:
    """
    @notice Checks the guardian and clears the pending round.
    @return PendingRound The round that was pending.
    """
    assert msg.sender == self.guardian, "oracle: caller not guardian"
    pending: PendingRound = self.pending_round
    assert pending.answer != 0, "oracle: no pending round"
    self.pending_round = empty(PendingRound)
    return pending


@internal
@pure
def _unpack(round_id: uint256, packed: uint256) -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice Expands a packed round into the AggregatorV3 tuple.
    @param round_id The round id.
    @param packed as_of << 128 | answer (higher bits ignored).
    @return uint80 The round id.
    @return int256 The answer.
    @return uint256 startedAt (the strike time).
    @return uint256 updatedAt (the strike time).
    @return uint80 answeredInRound.
    """
    as_of: uint256 = (packed >> _AS_OF_SHIFT) & _MASK_64
    rid: uint80 = convert(round_id, uint80)
    return rid, convert(packed & _MASK_128, int256), as_of, as_of, rid


@internal
@pure
def _move_bps(previous: uint256, nav: uint256) -> uint256:
    """
    @notice The absolute move from `previous` to `nav` in basis points,
            rounded up (so a move just above the bound never reads as in).
    @param previous The last answer.
    @param nav The new answer.
    @return uint256 |nav - previous| / previous in bps.
    """
    diff: uint256 = nav - previous if nav >= previous else previous - nav
    return math._mul_div(diff, _BPS, previous, True)


@internal
def _set_updater(new_updater: address):
    """
    @notice Stores the updater and logs the change.
    @param new_updater The new updater.
    """
    log UpdaterChanged(previous_updater=self.updater, new_updater=new_updater)
    self.updater = new_updater


@internal
def _set_guardian(new_guardian: address):
    """
    @notice Stores the guardian and logs the change.
    @param new_guardian The new guardian.
    """
    log GuardianChanged(previous_guardian=self.guardian, new_guardian=new_guardian)
    self.guardian = new_guardian


@internal
def _set_min_interval(new_interval: uint256):
    """
    @notice Stores a bounded minimum interval and logs the change.
    @param new_interval The interval in seconds.
    """
    assert new_interval >= MIN_MIN_INTERVAL and new_interval <= MAX_MIN_INTERVAL, "oracle: bad interval"
    log MinIntervalChanged(previous_interval=self.min_interval, new_interval=new_interval)
    self.min_interval = new_interval


@internal
def _set_max_move_bps(new_bps: uint256):
    """
    @notice Stores a bounded maximum move and logs the change.
    @param new_bps The bound in basis points.
    """
    assert new_bps >= MIN_MAX_MOVE_BPS and new_bps <= MAX_MAX_MOVE_BPS, "oracle: bad max move"
    log MaxMoveChanged(previous_bps=self.max_move_bps, new_bps=new_bps)
    self.max_move_bps = new_bps
