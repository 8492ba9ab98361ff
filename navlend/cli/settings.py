"""An operator's settings as people read them, old → new: percentages,
USD prices, token amounts with their symbol, exact durations ("100h"),
addresses. Never a raw integer such as 1000000000000000000000000 or
360000. No chain, no I/O: the admin operations read the values and build
their :class:`~navlend.cli.records.Change` rows here.
"""

from __future__ import annotations

from decimal import Decimal

from navlend.cli.amounts import format_bps, format_units
from navlend.cli.records import Change, Token
from navlend.constants import WAD, YEAR

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


def price_cap_text(cap: int, decimals: int) -> str:
    """A price cap: "none" for 0, else dollars."""
    return "none" if cap == 0 else usd_text(cap, decimals)


def amount_text(units: int, token: Token) -> str:
    """"5,000.00 FUNDA"."""
    return f"{format_units(units, token.decimals)} {token.symbol}"


def supply_cap_text(cap: int, token: Token) -> str:
    """A supply cap: "unlimited" at the market's full field, else the amount."""
    return "unlimited" if cap >= UNLIMITED else amount_text(cap, token)


def whole_text(units: int, token: Token) -> str:
    """A whole-unit limit as the market stores it (``units`` whole tokens): "250 USDC"."""
    return f"{units:,} {token.symbol}"


def rate_text(annual_wad: int) -> str:
    """An annual WAD rate as a percentage, to four places trimmed: "4%",
    "0.5%", "12.3456%"."""
    value = (Decimal(annual_wad) * 100 / WAD).quantize(Decimal("0.0001"))
    text = f"{value:f}".rstrip("0").rstrip(".")
    return f"{text}%"


def per_second_rate_text(per_second: int) -> str:
    """A per-second WAD rate (as the market stores it) as its annual rate."""
    return rate_text(per_second * YEAR)


def flag_text(value: bool) -> str:
    return "yes" if value else "no"


def names_text(names: list[str] | tuple[str, ...]) -> str:
    return ", ".join(names) if names else "none"


def change(name: str, before: str, after: str) -> Change:
    """One row, old → new."""
    return Change(name, before, after)


def bps_change(name: str, before: int, after: int) -> Change:
    """A basis-point setting as percentages."""
    return Change(name, format_bps(before), format_bps(after))
