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
# @dev Latest round id.
_round_id: uint80
# @dev Latest answer.
_answer: int256
# @dev Time the latest answer was struck.
_updated_at: uint256


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
    return self._round_id, self._answer, self._updated_at, self._updated_at, self._round_id


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice The latest round.
    @return The round data.
    """
    return self._round_id, self._answer, self._updated_at, self._updated_at, self._round_id


@internal
def _set(answer: int256, updated_at: uint256):
    """
    @dev Stores a new round.
    @param answer The answer.
    @param updated_at The strike time.
    """
    self._round_id += 1
    self._answer = answer
    self._updated_at = updated_at
