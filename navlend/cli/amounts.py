"""Human amounts, ratios and durations: parsed exactly (``Decimal``) into
integer units, and formatted back. No chain, no I/O.

- ``parse_amount("1000.50", 6) == 1_000_500_000``; more decimals than the
  token has, a negative or zero amount, or anything but a finite number is a
  :class:`~navlend.cli.errors.Refusal`.
- ``parse_fraction("0.80") == parse_fraction("80%") == 8_000`` basis points.
- ``parse_duration("100h") == 360_000`` seconds.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from fractions import Fraction

from navlend.cli.errors import BadInput
from navlend.constants import BPS, MAX_UINT256, WAD

# Words that mean "everything" where a command accepts them.
ALL_WORDS = frozenset({"max", "all"})

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$", re.IGNORECASE)


# A number as people write it: digits, grouped in thousands by "," or "_"
# (one separator throughout, three digits a group) or not grouped, then a
# "." and the decimals; a sign. No exponent: "1e30" is refused, not read as
# 10^30. A comma is never a decimal point: "1,5" and "10,00" are refused
# (read as 15 and 1,000 they would send ten to a hundred times the amount).
_NUMBER = re.compile(r"^[+-]?(?:\d+|\d{1,3}([,_])\d{3}(?:\1\d{3})*)?(?:\.\d*)?$")
_NOT_FINITE = frozenset({"nan", "snan", "inf", "infinity"})


def _comma_hint(text: str) -> str:
    """For a comma used as a decimal point ("1,5", "10,00"): the number it
    likely meant, as a hint; "" when that is not the likely reading."""
    if "," not in text or "." in text:
        return ""
    whole, _, tail = text.rpartition(",")
    guess = f"{whole.replace(',', '')}.{tail}"
    return f" (did you mean {guess}?)" if _NUMBER.match(guess) and tail.isdigit() else ""


def to_decimal(text: str | int | Decimal, what: str = "amount") -> Decimal:
    """``text`` as a finite Decimal, by the grammar above (thousands grouped
    by "," or "_"; no exponent; a comma never a decimal point). A float is
    refused: it cannot carry a token amount exactly."""
    if isinstance(text, (bool, float)):
        raise BadInput(f"{what} {text!r}: pass a string such as '1000.50', not a float")
    if isinstance(text, (int, Decimal)):
        value = Decimal(text)
    else:
        raw = str(text).strip()
        if raw.lstrip("+-").lower() in _NOT_FINITE:
            raise BadInput(f"{what} '{text}' is not a finite number")
        if not raw or raw in {"+", "-", ".", "+.", "-."} or not _NUMBER.match(raw):
            if re.fullmatch(r"[+-]?[\d.,_]*\d[eE][+-]?\d+", raw):
                raise BadInput(f"{what} '{text}' has an exponent: write the digits out")
            if "," in raw or "_" in raw:
                raise BadInput(f"{what} '{text}': a comma or '_' only groups thousands, three digits a group, "
                              f"and '.' is the decimal point{_comma_hint(raw)}")
            raise BadInput(f"{what} '{text}' is not a number")
        try:
            value = Decimal(raw.replace(",", "").replace("_", ""))
        except InvalidOperation:
            raise BadInput(f"{what} '{text}' is not a number") from None
    if not value.is_finite():
        raise BadInput(f"{what} '{text}' is not a finite number")
    return value


def parse_amount(
    text: str | int | Decimal,
    decimals: int,
    symbol: str = "",
    *,
    allow_zero: bool = False,
) -> int:
    """``text`` in human units as an integer amount of a token with
    ``decimals`` decimals. Refuses a negative amount, zero (unless
    ``allow_zero``), and more decimal places than the token has."""
    unit = f" {symbol}" if symbol else ""
    value = to_decimal(text)
    if value < 0:
        raise BadInput(f"amount '{text}'{unit} is negative")
    if value == 0 and not allow_zero:
        raise BadInput(f"amount '{text}'{unit} is zero")
    places = -value.normalize().as_tuple().exponent if value != 0 else 0
    if places > decimals:
        raise BadInput(
            f"amount '{text}' has {places} decimal places; {symbol or 'the token'} has only {decimals}"
        )
    units = int(value.scaleb(decimals))
    if units > MAX_UINT256:
        raise BadInput(f"amount '{text}'{unit} is too large")
    return units


def is_all(text: str | int | Decimal) -> bool:
    """True for the words that ask for everything ("max", "all")."""
    return isinstance(text, str) and text.strip().lower() in ALL_WORDS


def parse_fraction(
    text: str | int | Decimal, what: str = "ratio", *, allow_zero: bool = False
) -> int:
    """A ratio given as a fraction ("0.80") or a percentage ("80%") in basis
    points; finer than one basis point, negative, or above 100 % refused."""
    raw = str(text).strip()
    percent = raw.endswith("%")
    value = to_decimal(raw[:-1] if percent else raw, what)
    bps = value * (100 if percent else BPS)
    if bps != bps.to_integral_value():
        raise BadInput(f"{what} '{text}' is finer than one basis point (0.0001)")
    if bps < 0 or (bps == 0 and not allow_zero):
        raise BadInput(f"{what} '{text}' must be positive")
    if bps > BPS:
        raise BadInput(f"{what} '{text}' is above 100%")
    return int(bps)


def parse_duration(text: str | int) -> int:
    """Seconds from "3600", "90m", "100h", "4d" or "1w"."""
    match = _DURATION.match(str(text))
    if not match:
        raise BadInput(f"duration '{text}' is not like 3600, 90m, 100h or 4d")
    return int(match.group(1)) * _DURATION_UNITS[(match.group(2) or "s").lower()]


def format_units(
    units: int, decimals: int, max_places: int | None = None, *, group: bool = True
) -> str:
    """``units`` of a ``decimals``-decimal token in human form: trailing
    zeros trimmed to at least two places, truncated (never rounded up) to
    ``max_places``; thousands grouped with commas unless ``group`` is off."""
    value = Decimal(units).scaleb(-decimals)
    places = decimals if max_places is None else min(decimals, max_places)
    value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN) if places else value
    text = f"{value:,f}" if group else f"{value:f}"
    if "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(min(2, places), "0")
        text = f"{whole}.{frac}" if frac else whole
    elif places:
        text += "." + "0" * min(2, places)
    return text


def _percent(value: Fraction, places: int) -> str:
    quantum = Decimal(1).scaleb(-places)
    number = (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        quantum, rounding=ROUND_DOWN
    )
    return f"{number:,f}%"


def format_ratio(value: int | Fraction | None, scale: int = WAD, places: int = 2) -> str:
    """``value`` / ``scale`` as a percentage ("85.00%"); "-" for None."""
    if value is None:
        return "-"
    return _percent(Fraction(value) * 100 / scale, places)


def format_bps(bps: int) -> str:
    """Basis points as a percentage ("85.00%")."""
    return format_ratio(bps, BPS)


def format_health(health_factor: int) -> str:
    """A WAD health factor ("1.2345"); "∞" for a debt-free account."""
    if health_factor >= MAX_UINT256:
        return "∞"
    return format_units(health_factor, 18, 4, group=True)


def format_duration(seconds: int) -> str:
    """A short human duration: "45s", "12m", "3h 05m", "4d 02h"."""
    seconds = max(int(seconds), 0)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"
