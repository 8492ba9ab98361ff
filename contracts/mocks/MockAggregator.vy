# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Settable AggregatorV3 (tests and benchmarks only)
@license GNU Affero General Public License v3.0 only
@author navlend
@notice A price feed whose answer and strike time anyone may set, so tests
        can put a market in any state (stale, negative, capped) and the gas
        benchmark can run every protocol against the same cheap feed. Never
        deploy it to a live network.
@custom:security Unrestricted by design: test fixture only.
@custom:kill Not applicable (test fixture).
"""

from ..interfaces import IAggregatorV3

implements: IAggregatorV3


# @dev Decimals of the answer.
decimals: public(uint8)
# @dev Feed description.
description: public(String[64])
# @dev Feed version.
version: public(uint256)
# @dev The latest round in one word: round id (bits 192-255) | strike time
#      (128-191) | answer as int128 two's complement (0-127). One word, like
#      Morpho Blue's `OracleMock`, so that the side-by-side gas benchmark
#      charges every protocol one cold read for its price.
_round: uint256


# @dev Answers fit in int128 (two's complement in the low 128 bits).
_MASK128: constant(uint256) = 2**128 - 1
# @dev Strike times and round ids fit in 64 bits.
_MASK64: constant(uint256) = 2**64 - 1


@deploy
def __init__(decimals_: uint8, answer: int256):
    """
    @notice Deploys the feed with an answer struck now.
    @param decimals_ Decimals of the answer.
    @param answer The first answer.
    """
    self.decimals = decimals_
    self.description = "mock / USD"
    self.version = 1
    self._set(answer, block.timestamp)


@external
def set_answer(answer: int256, updated_at: uint256):
    """
    @notice Sets the answer and its strike time (zero: now).
    @param answer The new answer.
    @param updated_at The strike time, or zero for now.
    """
    self._set(answer, updated_at if updated_at != 0 else block.timestamp)


@external
@view
def getRoundData(_roundId: uint80) -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice The latest round, whatever id is asked for.
    @param _roundId Ignored.
    @return The round data.
    """
    return self._unpack(self._round)


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice The latest round.
    @return The round data.
    """
    return self._unpack(self._round)


@internal
@pure
def _unpack(word: uint256) -> (uint80, int256, uint256, uint256, uint80):
    """
    @dev Reads a packed round.
    @param word The packed round.
    @return The round data, in `latestRoundData`'s order.
    """
    low: uint256 = word & _MASK128
    answer: int256 = convert(low, int256)
    if low > _MASK128 >> 1:
        # The top bit of the low 128 is int128's sign bit.
        answer -= convert(_MASK128, int256) + 1
    round_id: uint80 = convert(word >> 192, uint80)
    updated_at: uint256 = (word >> 128) & _MASK64
    return round_id, answer, updated_at, updated_at, round_id


@internal
def _set(answer: int256, updated_at: uint256):
    """
    @dev Stores a new round.
    @param answer The answer (must fit int128).
    @param updated_at The strike time (must fit 64 bits).
    """
    assert updated_at <= _MASK64, "mock: time out of range"
    round_id: uint256 = (self._round >> 192) + 1
    low: uint256 = convert(convert(convert(answer, int128), bytes32), uint256) & _MASK128
    self._round = (round_id << 192) | (updated_at << 128) | low
