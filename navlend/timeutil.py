"""Business-day NAV strike times.

Money-market funds strike their NAV once per business day, about 17:00 New
York time. navlend models that as 21:00 UTC (17:00 EDT; 16:00 in winter),
Monday to Friday. Market holidays are not modelled: a three-day weekend
(Friday strike to Tuesday strike = 96 hours) is why the facility's and the
market's default oracle age is 100 hours.

Used by the tests, the deploy script (the first NAV of a local world) and
the NAV reporter bot.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

# Hour of the day (UTC) at which a NAV is struck.
STRIKE_HOUR_UTC = 21
# Seconds in one day.
DAY = 86_400
# Seconds in one hour.
HOUR = 3_600
# Weekday numbers (Monday = 0) on which a NAV is struck.
BUSINESS_WEEKDAYS = frozenset(range(5))


def _strike_of(day: datetime) -> datetime:
    """The strike time on the calendar day of ``day`` (UTC)."""
    return day.replace(hour=STRIKE_HOUR_UTC, minute=0, second=0, microsecond=0)


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(int(ts), tz=timezone.utc)


def is_business_day(ts: int) -> bool:
    """True when the UTC calendar day of ``ts`` is Monday to Friday."""
    return _utc(ts).weekday() in BUSINESS_WEEKDAYS


def next_business_day_strike(ts: int) -> int:
    """The first business-day strike time strictly after ``ts``.

    Friday 20:00 UTC -> Friday 21:00; Friday 21:00 -> Monday 21:00;
    Saturday -> Monday 21:00.
    """
    day = _strike_of(_utc(ts))
    if day.timestamp() <= ts:
        day += timedelta(days=1)
    while day.weekday() not in BUSINESS_WEEKDAYS:
        day += timedelta(days=1)
    return int(day.timestamp())


def previous_business_day_strike(ts: int) -> int:
    """The latest business-day strike time at or before ``ts``."""
    day = _strike_of(_utc(ts))
    if day.timestamp() > ts:
        day -= timedelta(days=1)
    while day.weekday() not in BUSINESS_WEEKDAYS:
        day -= timedelta(days=1)
    return int(day.timestamp())


def business_day_strikes(after: int, count: int) -> list[int]:
    """``count`` consecutive business-day strike times after ``after``."""
    strikes: list[int] = []
    ts = after
    for _ in range(count):
        ts = next_business_day_strike(ts)
        strikes.append(ts)
    return strikes


def to_nav(price: float | str, decimals: int = 8) -> int:
    """A decimal price (e.g. "10.5") as an integer NAV with ``decimals``."""
    return int(Decimal(str(price)) * (10**decimals))
