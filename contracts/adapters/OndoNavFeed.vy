# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Ondo NAV Feed Adapter
@license GNU Affero General Public License v3.0 only
@author navlend
@notice An AggregatorV3 feed, 18 decimals (the oracle's own), answering
        the OUSG price Ondo last posted, at the time it was posted.
        - `updatedAt` (and `startedAt`) is the posting time: it is the only
          time Ondo's oracle records (there is no separate strike time), so
          the market's own staleness rules apply to it: borrowing and
          withdrawal blocked past the asset's maximum age, liquidation
          open. Ondo posts at most once per 23 hours, so the market's
          maximum age for OUSG must exceed a day plus Ondo's delays.
        - It never reverts: Ondo's oracle checks no staleness and serves
          an old price silently; this feed passes it on with its old time
          and lets the market judge. If the oracle itself reverts or
          answers malformed data, the feed answers zeros, which the market
          treats as a broken feed (no value, stale).
        - The round id is the posting time (Ondo has no rounds): it grows
          with every post, and `getRoundData` answers only the latest.
        - No pending answer: Ondo announces no price ahead of using it, so
          the feed does not implement IPendingNav.
@custom:security Ownerless: it trusts Ondo's oracle (whose posts are
                 bounded to 2 % per 23 hours) and nothing else.
"""


from ..interfaces import IAggregatorV3
implements: IAggregatorV3


# ---- CONSTANTS ----

# Version of this adapter's logic.
VERSION: public(constant(uint256)) = 1
# Ondo's oracle answers 18 decimals; the feed passes them on unchanged.
DECIMALS: public(constant(uint8)) = 18


# ---- IMMUTABLES ----

# Ondo's OUSG price oracle.
oracle: public(immutable(address))
# Human-readable pair, e.g. "OUSG / USD".
description: public(immutable(String[64]))


# ---- CONSTRUCTOR ----

@deploy
def __init__(oracle_: address, description_: String[64]):
    """
    @notice Deploys the feed over Ondo's oracle.
    @param oracle_ The oracle (`getPriceData`).
    @param description_ The pair, e.g. "OUSG / USD".
    """
    assert oracle_ != empty(address), "feed: zero address"
    oracle = oracle_
    description = description_
    ok: bool = False
    price: uint256 = 0
    posted_at: uint256 = 0
    ok, price, posted_at = self._read()
    assert ok, "feed: no price"


# ---- EXTERNAL FUNCTIONS ----

@external
@view
def decimals() -> uint8:
    """
    @notice 18, the oracle's decimals.
    @return uint8 The answers' decimals.
    """
    return DECIMALS


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
    @notice The last posted price and its posting time; zeros if the
            oracle cannot answer.
    @return uint80 The posting time, as the round id.
    @return int256 The price (18 decimals).
    @return uint256 The posting time.
    @return uint256 The posting time.
    @return uint80 The posting time, as the round id.
    """
    ok: bool = False
    price: uint256 = 0
    posted_at: uint256 = 0
    ok, price, posted_at = self._read()
    if not ok:
        return 0, 0, 0, 0, 0
    return convert(posted_at, uint80), convert(price, int256), posted_at, posted_at, convert(posted_at, uint80)


@external
@view
def getRoundData(round_id: uint80) -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice The latest round only (Ondo keeps no history): its id is the
            posting time.
    @param round_id The round id (a posting time).
    @return uint80 The round id.
    @return int256 The price (18 decimals).
    @return uint256 The posting time.
    @return uint256 The posting time.
    @return uint80 The round id.
    """
    ok: bool = False
    price: uint256 = 0
    posted_at: uint256 = 0
    ok, price, posted_at = self._read()
    assert ok and round_id != 0 and convert(round_id, uint256) == posted_at, "feed: no such round"
    return round_id, convert(price, int256), posted_at, posted_at, round_id


# ---- INTERNAL FUNCTIONS ----

@internal
@view
def _read() -> (bool, uint256, uint256):
    """
    @dev The oracle's price and posting time, or (False, 0, 0) when it
         reverts, answers malformed data, a zero price, a price past
         int256 or a time past uint80 (a raw call: its failure is an
         answer, so the feed never reverts).
    @return bool Whether the answer is usable.
    @return uint256 The price.
    @return uint256 The posting time.
    """
    ok: bool = False
    data: Bytes[64] = b""
    ok, data = raw_call(
        oracle,
        method_id("getPriceData()"),
        max_outsize=64,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(data) != 64:
        return False, 0, 0
    price: uint256 = convert(extract32(data, 0), uint256)
    posted_at: uint256 = convert(extract32(data, 32), uint256)
    if price == 0 or price > convert(max_value(int256), uint256) or posted_at == 0 or posted_at > convert(max_value(uint80), uint256):
        return False, 0, 0
    return True, price, posted_at
