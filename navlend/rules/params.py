"""The bounds on every parameter the owner (or guardian) sets.

Each check raises :class:`~navlend.rules.arith.Revert` with the market's
own reason (what the contract reverts with, which the model compares) and
a message for a person, in the order the contract checks. The tools call
them before sending; the model calls them where the contract does."""

from __future__ import annotations

from navlend.constants import (
    BPS,
    MASK48,
    MASK120,
    MAX_ANNUAL_RATE,
    MAX_BONUS_BPS,
    MAX_FLASH_FEE_BPS,
    MAX_GRACE_PERIOD,
    MAX_KINK_BPS,
    MAX_LIQUIDATION_FEE_BPS,
    MAX_LTV_BPS,
    MAX_ORACLE_AGE,
    MAX_RESERVE_FACTOR_BPS,
    MIN_KINK_BPS,
    MIN_ORACLE_AGE,
    PAUSE_ALL,
    PAUSE_LIQUIDATION,
)
from navlend.rules.arith import require


def _pct(bps: int) -> str:
    return f"{bps / 100:.2f}%"


def _duration(seconds: int) -> str:
    """Whole days or hours, as a person writes them."""
    days, hours = seconds // 86_400, seconds // 3_600
    if seconds % 86_400 == 0:
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{hours} hour{'s' if hours != 1 else ''}"


def check_risk(ltv_bps: int, threshold_bps: int, bonus_bps: int) -> None:
    """``set_asset_risk`` / ``list_asset``: 0 < LTV ≤ 95 %, threshold above
    LTV, 0 < bonus ≤ 20 %, and threshold x (1 + bonus) < 1 (else seizing
    the bonus could leave bad debt behind)."""
    require(0 < ltv_bps <= MAX_LTV_BPS, "market: bad ltv", f"LTV must be above 0 and at most {_pct(MAX_LTV_BPS)}")
    require(threshold_bps > ltv_bps, "market: threshold not above ltv", "the liquidation threshold must be above the LTV")
    require(
        0 < bonus_bps <= MAX_BONUS_BPS,
        "market: bad bonus",
        f"the liquidation bonus must be above 0 and at most {_pct(MAX_BONUS_BPS)}",
    )
    require(
        threshold_bps * (BPS + bonus_bps) < BPS * BPS,
        "market: threshold x bonus >= 1",
        "threshold × (1 + bonus) must stay below 1, or a liquidation could create bad debt",
    )


def check_asset_limits(supply_cap: int, max_oracle_age: int) -> None:
    """``set_asset_limits`` / ``list_asset``: a supply cap that fits its
    120 bits, and an oracle age from one hour to a week."""
    require(
        supply_cap <= MASK120,
        "market: bad supply cap",
        "the supply cap is above the market's largest (2^120 - 1 units)",
    )
    require(
        MIN_ORACLE_AGE <= max_oracle_age <= MAX_ORACLE_AGE,
        "market: bad oracle age",
        f"the maximum oracle age must be from {_duration(MIN_ORACLE_AGE)} to {_duration(MAX_ORACLE_AGE)}",
    )


def check_rates(base: int, slope1: int, slope2: int, kink_bps: int, reserve_factor_bps: int) -> None:
    """``set_rates``, annual WAD rates: each at most 1,000 % a year, slope2
    at least slope1, the kink from 10 % to 99 %, the reserve factor at
    most 50 %."""
    require(
        max(base, slope1, slope2) <= MAX_ANNUAL_RATE,
        "market: rate too high",
        f"a rate term is above {MAX_ANNUAL_RATE * 100 // 10**18}% a year",
    )
    require(slope2 >= slope1, "market: slope2 below slope1", "slope2 must be at least slope1")
    require(
        MIN_KINK_BPS <= kink_bps <= MAX_KINK_BPS,
        "market: bad kink",
        f"the kink must be from {_pct(MIN_KINK_BPS)} to {_pct(MAX_KINK_BPS)}",
    )
    require(
        reserve_factor_bps <= MAX_RESERVE_FACTOR_BPS,
        "market: bad reserve factor",
        f"the reserve factor is at most {_pct(MAX_RESERVE_FACTOR_BPS)}",
    )


def check_fees(flash_fee_bps: int, liquidation_fee_bps: int) -> None:
    """``set_fees``: the flash fee at most 1 %, the protocol's share of the
    liquidation bonus at most 50 %."""
    require(
        flash_fee_bps <= MAX_FLASH_FEE_BPS,
        "market: flash fee too high",
        f"the flash-loan fee is at most {_pct(MAX_FLASH_FEE_BPS)}",
    )
    require(
        liquidation_fee_bps <= MAX_LIQUIDATION_FEE_BPS,
        "market: liquidation fee too high",
        f"the protocol's share of the liquidation bonus is at most {_pct(MAX_LIQUIDATION_FEE_BPS)}",
    )


def check_borrow_limits(min_borrow: int, small_position: int, dust_floor: int) -> None:
    """``set_borrow_limits``, whole base units: the minimum debt and the
    small-position limit fit their 48 bits, the dust floor is at most the
    small-position limit (a small position closes whole anyway)."""
    require(min_borrow <= MASK48 and small_position <= MASK48, "market: limit too high", "a borrow limit is too large")
    require(
        dust_floor <= small_position,
        "market: dust above small position",
        "the dust floor must not exceed the small-position threshold",
    )


def check_actions(actions: int) -> None:
    """``pause`` / ``unpause``: some actions, all of them known bits."""
    require(
        actions != 0 and actions & ~PAUSE_ALL == 0,
        "market: bad actions",
        f"the actions must be a non-zero combination of the pause bits (at most {PAUSE_ALL})",
    )


def check_grace(actions: int, grace: int) -> None:
    """``unpause``'s grace period before liquidations resume: only when
    liquidation is unpaused, and at most four hours."""
    if actions & PAUSE_LIQUIDATION:
        require(
            grace <= MAX_GRACE_PERIOD,
            "market: grace too long",
            f"the grace period is at most {_duration(MAX_GRACE_PERIOD)}",
        )
    else:
        require(grace == 0, "market: grace without liquidation", "a grace period applies only when unpausing liquidation")
