"""An operator's settings as people read them, old → new: percentages,
USD prices, token amounts with their symbol, exact durations ("100h"),
addresses. Never a raw integer such as 1000000000000000000000000 or
360000. No chain, no I/O: the admin operations read the values and build
their :class:`~navlend.cli.records.Change` rows here.
"""

from __future__ import annotations

from navlend.cli.amounts import format_bps, format_units
from navlend.cli.records import Change, Token
# The texts of single values, re-exported for the operations.
from navlend.cli.texts import UNLIMITED, duration_text, rate_text, usd_text  # noqa: F401


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
