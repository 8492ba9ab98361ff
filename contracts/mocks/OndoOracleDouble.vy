# pragma version 0.4.3
# pragma evm-version cancun
# pragma nonreentrancy on
"""
@title Ondo OUSG Price Oracle Double
@license GNU Affero General Public License v3.0 only
@author navlend
@notice A test double of Ondo's rate-checked OUSG oracle, written from its
        documented behaviour (docs/issuers.md), not from its code:
        - `getPriceData()` answers the price (18 decimals) and the time it
          was posted, however old: nothing checks staleness;
        - the owner posts with `setPrice`; a post is refused within 23
          hours of the last one, and when it moves the price by more than
          200 bps, the move measured in whole bps truncated toward zero
          (so a move a hair above 2 % still passes).
        The production oracle also compares the move with a reference
        ETF's; the double leaves that out. Never deployed on a live network.
"""


from ..interfaces import IOndoOracle
implements: IOndoOracle


# ---- CONSTANTS ----

# Shortest time between two posts.
MIN_PRICE_UPDATE_WINDOW: public(constant(uint256)) = 23 * 3_600
# Largest move per post, in bps.
MAX_CHANGE_DIFF_BPS: public(constant(uint256)) = 200
# Basis points in one.
_BPS: constant(uint256) = 10_000


# ---- STORAGE ----

# Ondo: posts prices.
owner: public(address)
# The last posted price (18 decimals).
price: public(uint256)
# When it was posted.
price_timestamp: public(uint256)


# ---- EVENTS ----

event PriceSet:
    old_price: uint256
    new_price: uint256
    timestamp: uint256


# ---- CONSTRUCTOR ----

@deploy
def __init__(initial_price: uint256):
    """
    @notice Deploys the oracle with a first price posted now.
    @param initial_price The price (18 decimals).
    """
    assert initial_price != 0, "oracle: zero price"
    self.owner = msg.sender
    self.price = initial_price
    self.price_timestamp = block.timestamp


# ---- EXTERNAL FUNCTIONS ----

@external
@view
def getPriceData() -> (uint256, uint256):
    """
    @notice The last posted price and its posting time (never stale-checked).
    @return uint256 The price (18 decimals).
    @return uint256 The posting time.
    """
    return self.price, self.price_timestamp


@external
def setPrice(new_price: uint256):
    """
    @notice Posts a new price (owner), at least 23 hours after the last
            and within 200 bps of it (truncated bps).
    @param new_price The price (18 decimals).
    """
    assert msg.sender == self.owner, "oracle: not owner"
    assert new_price != 0, "oracle: zero price"
    old: uint256 = self.price
    assert block.timestamp >= self.price_timestamp + MIN_PRICE_UPDATE_WINDOW, "oracle: too soon"
    diff: uint256 = new_price - old if new_price >= old else old - new_price
    # Truncated toward zero, as the real check: 200.99 bps reads as 200.
    assert diff * _BPS // old <= MAX_CHANGE_DIFF_BPS, "oracle: change too large"
    self.price = new_price
    self.price_timestamp = block.timestamp
    log PriceSet(old_price=old, new_price=new_price, timestamp=block.timestamp)
