"""Health: how far a position is from liquidation.

The health factor is the value at the liquidation threshold over the debt
(WAD, rounded down; infinite without debt). A position is liquidatable
when that value is below the debt.

Liquidation price. The value at the threshold is a sum over the assets,
each term proportional to the asset's price. Holding the others fixed,
the position becomes liquidatable when asset *i*'s price falls below
``p_i x (debt - LV_others) / LV_i``; when the others alone cover the debt,
no fall in *i*'s price can make it liquidatable."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from fractions import Fraction

from navlend.constants import BPS, MAX_UINT256, VALUE_LIQUIDATION, WAD
from navlend.rules.valuation import Collateral, valuation


def health_factor(liquidation_value: int, debt: int) -> int:
    """Liquidation value over debt (WAD, rounded down); MAX_UINT256 without debt."""
    if debt == 0:
        return MAX_UINT256
    return liquidation_value * WAD // debt


def liquidatable(liquidation_value: int, debt: int) -> bool:
    """Whether the market would liquidate: some debt above the value at
    the liquidation threshold."""
    return debt != 0 and liquidation_value < debt


def liquidation_price(collateral: Mapping[Hashable, Collateral], key: Hashable, debt: int) -> Fraction | None:
    """The price of asset ``key`` (its price's units) below which the
    position owing ``debt`` becomes liquidatable, the others held fixed;
    None when no price of it can (no debt, or the others cover it)."""
    if debt == 0:
        return None
    total = valuation(collateral, VALUE_LIQUIDATION).liquidation_value
    own_asset = collateral[key]
    own = own_asset.value() * own_asset.threshold_bps // BPS
    others = total - own
    if own == 0 or debt <= others:
        return None
    return Fraction(own_asset.price * (debt - others), own)
