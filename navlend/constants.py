"""The market's constants, mirrored once for all of navlend's Python.

Each value is a ``constant`` of ``contracts/market/modules/market_core.vy`` (a
test parses that file and checks every name here against it, so a change
on one side cannot go unnoticed). The reference model (``navlend.model``),
the scripts' pre-flight checks (``navlend.cli.checks``), the deploy helpers
(``navlend.market``) and the keeper read them from here.
"""

from __future__ import annotations

WAD = 10**18
BPS = 10_000

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
