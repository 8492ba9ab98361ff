"""The demo's scenarios and their calendars (pure: no chain).

A scenario is a story told in simulated days. Every scenario starts on a
Monday, half an hour after that day's NAV strike (21:00 UTC, see
:mod:`navlend.timeutil`), has ``normal_days`` of ordinary life (both funds'
NAVs accrue about 5 % a year and are published once per business day),
then a shock day, then ``after_days`` of aftermath.

- ``break-the-buck`` (default): both funds mark their NAV 3 % down, as the
  Reserve Primary Fund did on 16 September 2008 ($1.00 -> $0.97).
- ``facility-dry``: the same shock, but the issuers' redemption facilities
  hold only part of the stablecoin the liquidations need; they run dry
  mid-wave and are topped up the next business day.
- ``stale-weekend``: a long weekend (Monday is a holiday) and a fund
  administrator who is late on Tuesday: the last NAV passes the market's
  100-hour limit, borrowing stops while liquidation stays open, and the
  late NAV carries the mark-down.
- ``frozen-liquidator``: the issuer freezes the keeper's account on every
  fund the moment the shock lands, and the facilities are short too: the
  redeem route (which needs no allowlisting) works until they run dry, the
  share route is shut, and the rest waits for the next day's top-up.

:func:`build_calendar` turns a scenario into the list of days the demo
plays, with each day's timestamps, NAVs and events.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from navlend.timeutil import DAY, HOUR, STRIKE_HOUR_UTC, is_business_day

# NAV feeds answer with 8 decimals.
NAV_UNIT = 10**8
# Annual NAV accrual of the funds in normal days.
NAV_YIELD = Decimal("0.05")
# Minutes after a strike at which the administrator publishes on time.
ON_TIME_PUBLISH_DELAY = 5 * 60
# Seconds after a strike at which the scenario starts (the world's first NAV
# is that strike).
START_OFFSET = 30 * 60
# Weekday the scenario starts on (Monday = 0).
START_WEEKDAY = 0


class Event(str, enum.Enum):
    """Something that happens on a day, besides the NAV publication."""

    SHOCK = "shock"  # the day's NAV carries the mark-down
    HOLIDAY = "holiday"  # a business day without a NAV (market holiday)
    FREEZE_KEEPER = "freeze_keeper"  # the issuer freezes the keeper's account
    REFILL_FACILITY = "refill_facility"  # the issuer tops the facilities up
    STALE_PROBE = "stale_probe"  # a borrower tries to borrow on a stale NAV


@dataclass(frozen=True)
class Scenario:
    """One story the demo can tell."""

    name: str
    title: str
    story: str
    # NAV multiplier applied by the shock (0.97: a 3 % mark-down).
    shock_factor: Decimal = Decimal("0.97")
    # Calendar days of normal life between the start and the shock day.
    normal_days: int = 7
    # Calendar days played after the shock day.
    after_days: int = 2
    # Facilities' stablecoin as a share of what the expected redemptions
    # pay out (None: ample liquidity, several times the need).
    facility_cover: Decimal | None = None
    # The Monday before the shock is a holiday (no NAV).
    long_weekend: bool = False
    # Hours after the strike at which the shock day's NAV is published.
    shock_publish_delay_hours: int = 0
    # The issuer freezes the keeper's account when the shock lands.
    freeze_keeper: bool = False

    def __post_init__(self) -> None:
        if not Decimal(0) < self.shock_factor < Decimal(1):
            raise ValueError(f"shock_factor must be in (0, 1), got {self.shock_factor}")
        if self.normal_days < 1:
            raise ValueError(f"normal_days must be at least 1, got {self.normal_days}")
        if self.after_days < 0:
            raise ValueError(f"after_days must not be negative, got {self.after_days}")
        if self.facility_cover is not None and self.facility_cover <= 0:
            raise ValueError(f"facility_cover must be positive, got {self.facility_cover}")
        if not 0 <= self.shock_publish_delay_hours < 20:
            raise ValueError("shock_publish_delay_hours must be in [0, 20) (the oracle's minimum interval)")

    @property
    def shock_day(self) -> int:
        """The shock day's index (day 0 is the start)."""
        return self.normal_days + 1

    @property
    def total_days(self) -> int:
        """Days after the start that the demo plays."""
        return self.shock_day + self.after_days


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="break-the-buck",
            title="The fund breaks the buck",
            story=(
                "A week of ordinary life, then both funds mark their NAV 3 % down, as the "
                "Reserve Primary Fund did on 16 September 2008 ($1.00 -> $0.97). The move is "
                "beyond the oracle's 1 % bound, so the guardian confirms it."
            ),
        ),
        Scenario(
            name="facility-dry",
            title="The redemption facilities run dry",
            story=(
                "The same mark-down, but the issuers' instant redemption facilities hold only "
                "a third of what the liquidations would redeem. The redeem route reverts once "
                "they are empty; the keeper falls back to the share route with its own "
                "stablecoin (it is allowlisted), and the issuers top the facilities up the "
                "next business day."
            ),
            facility_cover=Decimal("0.35"),
        ),
        Scenario(
            name="stale-weekend",
            title="A stale NAV over a long weekend",
            story=(
                "Friday's NAV is the last before a long weekend (Monday is a holiday), and the "
                "administrator publishes Tuesday's NAV six hours late: the last NAV passes the "
                "market's 100-hour limit. Borrowing against it stops, liquidation stays open at "
                "the last price, and the late NAV carries the 3 % mark-down."
            ),
            long_weekend=True,
            shock_publish_delay_hours=6,
        ),
        Scenario(
            name="frozen-liquidator",
            title="The issuer freezes the liquidator",
            story=(
                "As the mark-down lands, the issuer freezes the keeper's account on every fund, "
                "and the facilities hold only a third of what the liquidations need. The "
                "redeem route needs no allowlisting and works until the facilities are empty; "
                "the share route is shut to a frozen account, so the rest waits for the next "
                "day's top-up."
            ),
            facility_cover=Decimal("0.35"),
            freeze_keeper=True,
        ),
    )
}

DEFAULT_SCENARIO = "break-the-buck"


def get_scenario(name: str, *, normal_days: int | None = None, after_days: int | None = None) -> Scenario:
    """The scenario called ``name``, optionally with other day counts.

    Raises ValueError naming the known scenarios if ``name`` is unknown.
    """
    try:
        scenario = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}") from None
    changes: dict[str, int] = {}
    if normal_days is not None:
        changes["normal_days"] = normal_days
    if after_days is not None:
        changes["after_days"] = after_days
    return replace(scenario, **changes) if changes else scenario


@dataclass(frozen=True)
class DayPlan:
    """One simulated day."""

    index: int
    # This calendar day's strike time (21:00 UTC), business day or not.
    strike: int
    business_day: bool
    # True when the administrator publishes this day's NAV.
    publishes: bool
    # When the demo moves the chain to (the publication, or the strike).
    time: int
    # Fund A's NAV (8 decimals) published today (or the last one).
    nav_a: int
    # Fund B's NAV (8 decimals; a $1 fund).
    nav_b: int
    events: tuple[Event, ...] = field(default_factory=tuple)

    @property
    def steps(self) -> tuple[str, ...]:
        """What the demo does on this day, in order (``Demo.play`` runs
        them): the shock and the keeper's response; or the facilities'
        top-up, waiting for the reporter's NAV first only on a day it
        publishes one (a top-up on a Saturday has none to wait for); or the
        day's NAV; or a quiet day."""
        if Event.SHOCK in self.events:
            return ("sample before the shock", "shock", "settle")
        if Event.REFILL_FACILITY in self.events:
            return (("wait for the reporter",) if self.publishes else ()) + ("refill", "settle")
        if self.publishes:
            return ("wait for the reporter", "wait a day of blocks")
        return ("wait a block",)

    @property
    def weekday(self) -> str:
        return datetime.fromtimestamp(self.strike, tz=timezone.utc).strftime("%a")

    @property
    def date(self) -> str:
        return datetime.fromtimestamp(self.strike, tz=timezone.utc).strftime("%Y-%m-%d")


def scenario_start(now: int) -> int:
    """The first Monday strike + START_OFFSET strictly after ``now``."""
    day = datetime.fromtimestamp(now, tz=timezone.utc) + timedelta(days=1)
    while day.weekday() != START_WEEKDAY:
        day += timedelta(days=1)
    strike = day.replace(hour=STRIKE_HOUR_UTC, minute=0, second=0, microsecond=0)
    return int(strike.timestamp()) + START_OFFSET


def accrued_nav(nav0: int, days: int, annual_yield: Decimal = NAV_YIELD) -> int:
    """``nav0`` grown at ``annual_yield`` (compounded) over ``days``
    calendar days, rounded to the feed's last digit."""
    growth = (Decimal(1) + annual_yield) ** (Decimal(days) / Decimal(365))
    return int((Decimal(nav0) * growth).to_integral_value(rounding=ROUND_HALF_UP))


def shocked_nav(nav: int, factor: Decimal) -> int:
    """``nav`` times the shock ``factor``, rounded half up."""
    return int((Decimal(nav) * factor).to_integral_value(rounding=ROUND_HALF_UP))


def build_calendar(scenario: Scenario, start: int, nav_a0: int, nav_b0: int = NAV_UNIT) -> list[DayPlan]:
    """The days of ``scenario`` after ``start`` (a scenario start: a
    Monday, half an hour after the strike that set ``nav_a0``/``nav_b0``).

    Fund A accrues at NAV_YIELD per calendar day; fund B is a $1 fund whose
    yield is paid in shares, so its NAV stays $1.00 until the shock. The
    shock multiplies both from its day on.
    """
    if (start - START_OFFSET - STRIKE_HOUR_UTC * HOUR) % DAY != 0:
        raise ValueError("start must be a scenario start (scenario_start)")
    first_strike = start - START_OFFSET
    days: list[DayPlan] = []
    for index in range(1, scenario.total_days + 1):
        strike = first_strike + index * DAY
        business = is_business_day(strike)
        events: list[Event] = []
        holiday = scenario.long_weekend and index == scenario.shock_day - 1
        if holiday:
            events.append(Event.HOLIDAY)
        shocked = index >= scenario.shock_day
        nav_a = accrued_nav(nav_a0, index)
        nav_b = nav_b0
        if shocked:
            nav_a = shocked_nav(nav_a, scenario.shock_factor)
            nav_b = shocked_nav(nav_b, scenario.shock_factor)
        delay = ON_TIME_PUBLISH_DELAY
        if index == scenario.shock_day:
            if not business:
                raise ValueError(f"the shock day (day {index}) is not a business day")
            events.append(Event.SHOCK)
            if scenario.freeze_keeper:
                events.append(Event.FREEZE_KEEPER)
            if scenario.shock_publish_delay_hours:
                delay = scenario.shock_publish_delay_hours * HOUR
                events.append(Event.STALE_PROBE)
        if scenario.facility_cover is not None and index == scenario.shock_day + 1:
            events.append(Event.REFILL_FACILITY)
        publishes = business and not holiday
        days.append(
            DayPlan(
                index=index,
                strike=strike,
                business_day=business,
                publishes=publishes,
                time=strike + delay,
                nav_a=nav_a,
                nav_b=nav_b,
                events=tuple(events),
            )
        )
    return days


def last_publication_before(calendar: list[DayPlan], index: int, start: int) -> int:
    """The strike time of the last NAV published before day ``index``
    (the start's strike if none was)."""
    strikes = [d.strike for d in calendar if d.index < index and d.publishes]
    return strikes[-1] if strikes else start - START_OFFSET


def stale_window(calendar: list[DayPlan], max_age: int, start: int) -> tuple[int, int] | None:
    """The first interval (from, to) in which the latest NAV is older than
    ``max_age`` seconds, or None if the calendar never lets it go stale."""
    for day in calendar:
        if not day.publishes:
            continue
        last = last_publication_before(calendar, day.index, start)
        if day.time - last > max_age:
            return last + max_age, day.time
    return None
