"""Settings' values as people type and read them, exact: durations in the
largest unit that divides them ("100h"), USD prices, annual rates as
percentages. Pure and light (no Ape): the deploy plan's table uses them
too.
"""

from __future__ import annotations

from decimal import Decimal

from navlend.cli.amounts import format_units
from navlend.constants import WAD

# The market's "no cap" supply cap (its 120-bit field, full).
UNLIMITED = 2**120 - 1

_UNITS = (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60))


def duration_text(seconds: int) -> str:
    """Seconds in the largest unit that divides them exactly, as a person
    types them (and ``parse_duration`` reads them back): "100h", "4d",
    "90m", "45s"."""
    seconds = int(seconds)
    for unit, size in _UNITS:
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def usd_text(price: int, decimals: int) -> str:
    """A price in an oracle's ``decimals`` as dollars, exact: "$1.00",
    "$1.0234"."""
    return "$" + format_units(price, decimals)


def rate_text(annual_wad: int) -> str:
    """An annual WAD rate as a percentage, to four places trimmed: "4%",
    "0.5%", "12.3456%"."""
    value = (Decimal(annual_wad) * 100 / WAD).quantize(Decimal("0.0001"))
    text = f"{value:f}".rstrip("0").rstrip(".")
    return f"{text}%"

