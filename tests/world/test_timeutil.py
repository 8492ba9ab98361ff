"""navlend.timeutil: business-day NAV strikes (21:00 UTC, Monday-Friday)."""

from datetime import datetime, timezone

import pytest

from navlend.timeutil import (
    business_day_strikes,
    is_business_day,
    next_business_day_strike,
    previous_business_day_strike,
    to_nav,
)


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp())


@pytest.mark.parametrize(
    "now,expected",
    [
        ("2026-03-04 22:00", "2026-03-05 21:00"),  # Wednesday evening -> Thursday
        ("2026-03-06 20:00", "2026-03-06 21:00"),  # Friday before the strike
        ("2026-03-06 21:00", "2026-03-09 21:00"),  # Friday strike itself -> Monday
        ("2026-03-07 12:00", "2026-03-09 21:00"),  # Saturday -> Monday
        ("2026-03-08 23:59", "2026-03-09 21:00"),  # Sunday -> Monday
    ],
)
def test_next_business_day_strike__skips_weekends(now, expected):
    assert next_business_day_strike(ts(now)) == ts(expected)


@pytest.mark.parametrize(
    "now,expected",
    [
        ("2026-03-09 10:00", "2026-03-06 21:00"),  # Monday morning -> Friday
        ("2026-03-04 21:00", "2026-03-04 21:00"),  # at a strike -> itself
        ("2026-03-04 21:30", "2026-03-04 21:00"),
    ],
)
def test_previous_business_day_strike__skips_weekends(now, expected):
    assert previous_business_day_strike(ts(now)) == ts(expected)


def test_business_day_strikes__consecutive_strikes():
    strikes = business_day_strikes(ts("2026-03-05 22:00"), 3)
    assert strikes == [ts("2026-03-06 21:00"), ts("2026-03-09 21:00"), ts("2026-03-10 21:00")]
    assert all(is_business_day(s) for s in strikes)
    assert not is_business_day(ts("2026-03-07 21:00"))


def test_to_nav__decimal_string__eight_decimals():
    assert to_nav("10.5") == 1_050_000_000
    assert to_nav(1) == 100_000_000
    assert to_nav("0.97") == 97_000_000
