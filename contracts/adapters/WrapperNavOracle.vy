# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Wrapper Share NAV Adapter
@license GNU Affero General Public License v3.0 only
@author navlend
@notice An AggregatorV3 feed (8 decimals) pricing one whole share of an
        ERC-4626 wrapper over a fund share:
        price = fund NAV x convertToAssets(10 ** wrapper decimals)
                / 10 ** fund decimals, rounded down.
        The round id, startedAt and updatedAt come from the fund's NAV
        feed, so consumers' staleness checks keep working (never the block
        time). The wrapper's assets-per-share cannot jump within a block
        (AccumulatingWrapper unlocks profit linearly), so neither can this
        price, except through the fund NAV itself or a recognised loss.
        Historical rounds (`getRoundData`) are priced with the wrapper's
        current assets-per-share: the wrapper keeps no rate history.
@custom:security Stateless and ownerless: it trusts the fund feed and the
                 wrapper's `convertToAssets`, nothing else.
@custom:kill Nothing to kill: point the consumer at another feed. It stops
             reporting fresh rounds when the fund feed does.
"""


from ethereum.ercs import IERC20Detailed
from ethereum.ercs import IERC4626


from ..interfaces import IAggregatorV3
implements: IAggregatorV3

from ..interfaces import IPendingNav
implements: IPendingNav


from snekmate.utils import math


# ---- CONSTANTS ----

# Answers carry 8 decimals.
DECIMALS: public(constant(uint8)) = 8
# Version of this adapter's logic.
VERSION: public(constant(uint256)) = 1


# ---- IMMUTABLES ----

# Human-readable pair, e.g. "aDLFB / USD NAV".
description: public(immutable(String[64]))
# The ERC-4626 wrapper priced here.
wrapper: public(immutable(address))
# The fund's NAV feed.
fund_oracle: public(immutable(address))
# 10 ** wrapper decimals: one whole wrapper share.
_ONE_SHARE: immutable(uint256)
# 10 ** (fund decimals + fund feed decimals - 8): rescales to 8 decimals.
_DENOMINATOR: immutable(uint256)
# 10 ** (8 - fund decimals - fund feed decimals) when that is positive.
_NUMERATOR: immutable(uint256)


# ---- CONSTRUCTOR ----

@deploy
def __init__(wrapper_: address, fund_oracle_: address, description_: String[64]):
    """
    @notice Deploys the adapter for one wrapper and its fund's NAV feed.
    @param wrapper_ The ERC-4626 wrapper.
    @param fund_oracle_ The fund's NAV feed (AggregatorV3).
    @param description_ The pair, e.g. "aDLFB / USD NAV".
    """
    assert wrapper_ != empty(address) and fund_oracle_ != empty(address), "oracle: zero address"
    wrapper = wrapper_
    fund_oracle = fund_oracle_
    description = description_
    fund: address = staticcall IERC4626(wrapper_).asset()
    scale: uint256 = convert(staticcall IERC20Detailed(fund).decimals(), uint256)
    scale += convert(staticcall IAggregatorV3(fund_oracle_).decimals(), uint256)
    assert scale <= 70, "oracle: bad decimals"
    _ONE_SHARE = 10**convert(staticcall IERC20Detailed(wrapper_).decimals(), uint256)
    numerator: uint256 = 1
    denominator: uint256 = 1
    if scale >= convert(DECIMALS, uint256):
        denominator = 10**(scale - convert(DECIMALS, uint256))
    else:
        numerator = 10**(convert(DECIMALS, uint256) - scale)
    _NUMERATOR = numerator
    _DENOMINATOR = denominator


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
    @notice The adapter logic version.
    @return uint256 The version.
    """
    return VERSION


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice The fund's latest round, priced per whole wrapper share.
    @return uint80 The fund feed's round id.
    @return int256 The wrapper share price (8 decimals).
    @return uint256 startedAt from the fund feed.
    @return uint256 updatedAt from the fund feed (the strike time).
    @return uint80 answeredInRound from the fund feed.
    """
    round_id: uint80 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in: uint80 = 0
    round_id, answer, started_at, updated_at, answered_in = staticcall IAggregatorV3(fund_oracle).latestRoundData()
    return round_id, self._price(answer), started_at, updated_at, answered_in


@external
@view
def getRoundData(_roundId: uint80) -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice A fund round priced per whole wrapper share at the current
            assets-per-share.
    @param _roundId The fund feed's round id.
    @return uint80 The round id.
    @return int256 The wrapper share price (8 decimals).
    @return uint256 startedAt from the fund feed.
    @return uint256 updatedAt from the fund feed.
    @return uint80 answeredInRound from the fund feed.
    """
    round_id: uint80 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in: uint80 = 0
    round_id, answer, started_at, updated_at, answered_in = staticcall IAggregatorV3(fund_oracle).getRoundData(_roundId)
    return round_id, self._price(answer), started_at, updated_at, answered_in


@external
@view
def pending_answer() -> (int256, uint256):
    """
    @notice The fund feed's pending round, priced per whole wrapper share
            at the current assets-per-share; (0, 0) when none. Reverts when
            the fund feed announces no pending rounds, so that the market
            does not take this feed for one that does.
    @return int256 The pending wrapper share price (8 decimals).
    @return uint256 The pending round's strike time.
    """
    answer: int256 = 0
    as_of: uint256 = 0
    answer, as_of = staticcall IPendingNav(fund_oracle).pending_answer()
    if answer == 0:
        return 0, 0
    return self._price(answer), as_of


@external
@view
def assets_per_share() -> uint256:
    """
    @notice Fund shares per whole wrapper share, rounded down.
    @return uint256 Fund shares (fund decimals).
    """
    return staticcall IERC4626(wrapper).convertToAssets(_ONE_SHARE)


# ---- INTERNALS ----

@internal
@view
def _price(nav: int256) -> int256:
    """
    @notice Converts a fund NAV into a wrapper share price, rounded down.
    @dev A non-positive NAV is passed through unchanged so the consumer's
         own sanity check rejects it.
    @param nav The fund NAV (fund feed decimals).
    @return int256 The price (8 decimals).
    """
    if nav <= 0:
        return nav
    assets: uint256 = staticcall IERC4626(wrapper).convertToAssets(_ONE_SHARE)
    return convert(math._mul_div(convert(nav, uint256), assets * _NUMERATOR, _DENOMINATOR, False), int256)
