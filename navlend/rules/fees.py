"""Fees: the flash-loan fee and a redemption facility's payout."""

from __future__ import annotations

from navlend.constants import BPS
from navlend.rules.arith import ceil_div, mul_div
from navlend.rules.valuation import value


def flash_fee(amount: int, fee_bps: int) -> int:
    """The market's ERC-3156 fee on ``amount``, rounded up."""
    return ceil_div(amount * fee_bps, BPS)


def redemption_payout(shares: int, nav: int, exponent: int, fee_bps: int) -> tuple[int, int]:
    """What a redemption facility pays for ``shares`` at ``nav`` and what it
    keeps: gross = shares x NAV rounded down (``exponent``: share + oracle
    - payout decimals), net = gross x (1 - fee) rounded down. Returns
    (net, fee)."""
    # A payout token with more decimals than share + oracle (exponent < 0)
    # scales up, exactly.
    gross = value(shares, nav, exponent) if exponent >= 0 else shares * nav * 10**-exponent
    net = mul_div(gross, BPS - fee_bps, BPS, False)
    return net, gross - net
