"""The demo's scenario calendars (pure: no chain)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from devkit.demo.scenarios import (
    DEFAULT_SCENARIO,
    SCENARIOS,
    Event,
    accrued_nav,
    build_calendar,
    get_scenario,
    scenario_start,
    shocked_nav,
    stale_window,
)
from navlend.timeutil import DAY, HOUR

# A Thursday, 2026-11-19 12:00 UTC.
NOW = int(datetime(2026, 11, 19, 12, tzinfo=timezone.utc).timestamp())
NAV_A = 10_50_000_000
MAX_AGE = 100 * HOUR


def _weekday(ts: int) -> int:
    return datetime.fromtimestamp(ts, tz=timezone.utc).weekday()


def test_scenario_start__is_the_next_monday_half_an_hour_after_the_strike():
    start = scenario_start(NOW)
    moment = datetime.fromtimestamp(start, tz=timezone.utc)
    assert start > NOW and moment.weekday() == 0 and (moment.hour, moment.minute) == (21, 30)
    assert start - NOW < 7 * DAY


def test_calendar__break_the_buck__publishes_on_business_days_only_and_shocks_once():
    scenario = get_scenario(DEFAULT_SCENARIO)
    days = build_calendar(scenario, scenario_start(NOW), NAV_A)
    assert len(days) == scenario.total_days
    for day in days:
        assert day.publishes == (_weekday(day.strike) < 5)
    shocks = [d for d in days if Event.SHOCK in d.events]
    assert [d.index for d in shocks] == [scenario.shock_day]
    assert shocks[0].publishes


def test_calendar__normal_days__nav_accrues_about_five_percent_a_year():
    scenario = get_scenario(DEFAULT_SCENARIO)
    days = build_calendar(scenario, scenario_start(NOW), NAV_A)
    before = [d for d in days if d.index < scenario.shock_day]
    navs = [d.nav_a for d in before]
    assert navs == sorted(navs) and navs[0] > NAV_A
    yearly = (Decimal(before[-1].nav_a) / NAV_A) ** (Decimal(365) / before[-1].index) - 1
    assert abs(yearly - Decimal("0.05")) < Decimal("0.001")
    assert all(d.nav_b == 10**8 for d in before)


def test_calendar__shock__marks_both_funds_down_by_the_factor():
    scenario = get_scenario(DEFAULT_SCENARIO)
    days = build_calendar(scenario, scenario_start(NOW), NAV_A)
    shock = days[scenario.shock_day - 1]
    assert shock.nav_b == shocked_nav(10**8, scenario.shock_factor) == 97_000_000
    assert shock.nav_a == shocked_nav(accrued_nav(NAV_A, shock.index), scenario.shock_factor)
    assert days[-1].nav_b == shock.nav_b


def test_calendar__stale_weekend__monday_holiday_and_late_tuesday_go_stale():
    scenario = get_scenario("stale-weekend")
    start = scenario_start(NOW)
    days = build_calendar(scenario, start, NAV_A)
    holiday = [d for d in days if Event.HOLIDAY in d.events]
    assert len(holiday) == 1 and _weekday(holiday[0].strike) == 0 and not holiday[0].publishes
    shock = days[scenario.shock_day - 1]
    assert _weekday(shock.strike) == 1 and shock.time == shock.strike + scenario.shock_publish_delay_hours * HOUR
    window = stale_window(days, MAX_AGE, start)
    assert window is not None
    begins, ends = window
    assert ends == shock.time and ends - begins == shock.time - (shock.strike - 4 * DAY) - MAX_AGE


def test_calendar__default_scenario__never_goes_stale_with_a_100_hour_limit():
    scenario = get_scenario(DEFAULT_SCENARIO)
    start = scenario_start(NOW)
    assert stale_window(build_calendar(scenario, start, NAV_A), MAX_AGE, start) is None


def test_calendar__plain_weekend_of_72_hours__would_go_stale_with_a_25_hour_limit():
    scenario = get_scenario(DEFAULT_SCENARIO)
    start = scenario_start(NOW)
    window = stale_window(build_calendar(scenario, start, NAV_A), 25 * HOUR, start)
    assert window is not None and _weekday(window[0]) == 5


@pytest.mark.parametrize("name", ["facility-dry", "frozen-liquidator"])
def test_calendar__short_facilities__are_refilled_the_day_after_the_shock(name):
    scenario = get_scenario(name)
    days = build_calendar(scenario, scenario_start(NOW), NAV_A)
    refills = [d.index for d in days if Event.REFILL_FACILITY in d.events]
    assert refills == [scenario.shock_day + 1]
    freezes = [d.index for d in days if Event.FREEZE_KEEPER in d.events]
    assert freezes == ([scenario.shock_day] if scenario.freeze_keeper else [])


def test_get_scenario__overrides_day_counts():
    scenario = get_scenario(DEFAULT_SCENARIO, normal_days=2, after_days=0)
    assert (scenario.normal_days, scenario.after_days, scenario.total_days) == (2, 0, 3)
    assert SCENARIOS[DEFAULT_SCENARIO].normal_days != 2


def test_get_scenario__unknown_name__lists_the_known_ones():
    with pytest.raises(ValueError, match="frozen-liquidator"):
        get_scenario("bank-run")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"shock_factor": Decimal("1.2")}, "shock_factor"),
        ({"normal_days": 0}, "normal_days"),
        ({"after_days": -1}, "after_days"),
        ({"facility_cover": Decimal(0)}, "facility_cover"),
        ({"shock_publish_delay_hours": 24}, "shock_publish_delay_hours"),
    ],
)
def test_scenario__bad_parameters__are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        replace(SCENARIOS[DEFAULT_SCENARIO], **change)


def test_build_calendar__start_not_a_scenario_start__is_refused():
    with pytest.raises(ValueError, match="scenario start"):
        build_calendar(get_scenario(DEFAULT_SCENARIO), scenario_start(NOW) + 1, NAV_A)


def test_build_calendar__shock_on_a_weekend__is_refused():
    scenario = get_scenario(DEFAULT_SCENARIO, normal_days=4)  # shock on Saturday
    with pytest.raises(ValueError, match="not a business day"):
        build_calendar(scenario, scenario_start(NOW), NAV_A)


def test_day_steps__facility_dry_refill_on_a_saturday__no_nav_awaited():
    """Seen failing before the fix: with --days 3 the top-up day is a
    Saturday, and the demo waited for a NAV the reporter never publishes."""
    scenario = get_scenario("facility-dry", normal_days=3)
    days = build_calendar(scenario, scenario_start(NOW), NAV_A)
    (refill,) = [d for d in days if Event.REFILL_FACILITY in d.events]
    assert refill.weekday == "Sat" and not refill.publishes
    assert refill.steps == ("refill", "settle")


def test_day_steps__every_kind_of_day():
    scenario = get_scenario("facility-dry")
    days = build_calendar(scenario, scenario_start(NOW), NAV_A)
    (shock,) = [d for d in days if Event.SHOCK in d.events]
    assert shock.steps == ("sample before the shock", "shock", "settle")
    (refill,) = [d for d in days if Event.REFILL_FACILITY in d.events]
    assert refill.publishes and refill.steps == ("wait for the reporter", "refill", "settle")
    quiet = [d for d in days if not d.events]
    assert {d.steps for d in quiet} == {("wait for the reporter", "wait a day of blocks"), ("wait a block",)}
