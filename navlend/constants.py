"""The market's constants, mirrored once for all of navlend's Python.

Each value is a ``constant`` of ``contracts/market/modules/market_core.vy``
or ``market_storage.vy`` (a test parses both files and checks every name
here against them, so a change on one side cannot go unnoticed), except
the EVM's own facts the test lists apart (``MAX_UINT256``,
``ZERO_ADDRESS``). The rules (``navlend.rules``), the reference model, the
CLI, the deploy helpers, the keeper, the developer kit and the tests read
them from here: nothing else defines them.
"""

from __future__ import annotations

WAD = 10**18
BPS = 10_000
YEAR = 365 * 86_400
# The EVM's own: the largest uint256 ("no limit" in max_repay, an infinite
# health factor), and the zero address.
MAX_UINT256 = 2**256 - 1
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

# ---- widths of the packed storage fields (market_storage.vy) ------ #
MASK16 = 2**16 - 1
MASK32 = 2**32 - 1
MASK40 = 2**40 - 1
MASK48 = 2**48 - 1
MASK96 = 2**96 - 1
MASK112 = 2**112 - 1
MASK120 = 2**120 - 1
MASK128 = 2**128 - 1

# ---- valuation modes (market_core._valuation) --------------------- #
# Every asset at its last (capped) price.
VALUE_LIQUIDATION = 0
# At LTV: a stale or frozen asset counts for nothing.
VALUE_BORROW = 1
# At LTV: a stale asset counts for nothing, a frozen one fully.
VALUE_WITHDRAW = 2
# As VALUE_BORROW, and the owner must be compliant on every asset held.
VALUE_OPEN_BORROW = 3

# ---- lenders ---------------------------------------------------- #
# Virtual shares and assets of the ERC-4626 conversions (inflation guard).
VIRTUAL_SHARES = 10**6
VIRTUAL_ASSETS = 1

# ---- liquidation ------------------------------------------------ #
# At most half the debt per liquidation, unless the health factor is under
# CLOSE_FACTOR_HF_THRESHOLD (or the position is small).
CLOSE_FACTOR_BPS = 5_000
CLOSE_FACTOR_HF_THRESHOLD = 95 * 10**16

# ---- parameter bounds the owner cannot exceed -------------------- #
MAX_ASSETS = 16
MAX_LTV_BPS = 9_500
MAX_BONUS_BPS = 2_000
MAX_RESERVE_FACTOR_BPS = 5_000
MAX_FLASH_FEE_BPS = 100
MAX_LIQUIDATION_FEE_BPS = 5_000
MIN_KINK_BPS = 1_000
MAX_KINK_BPS = 9_900
MAX_ANNUAL_RATE = 10 * WAD
MIN_ORACLE_AGE = 3_600
MAX_ORACLE_AGE = 7 * 86_400
MAX_GRACE_PERIOD = 4 * 3_600

# ---- pause bits (pause(actions) / unpause(actions, grace)) -------- #
PAUSE_SUPPLY = 1
PAUSE_WITHDRAW = 2
PAUSE_BORROW = 4
PAUSE_DEPOSIT_COLLATERAL = 8
PAUSE_WITHDRAW_COLLATERAL = 16
PAUSE_FLASH_LOAN = 32
PAUSE_LIQUIDATION = 64
PAUSE_ALL = 127
