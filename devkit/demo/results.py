"""What a demo run measured, and the summary drawn from it (pure: no chain).

The demo fills a :class:`DemoResults` while it plays; the terminal table,
the Markdown report, the charts and the JSON file are all made from it
(``DemoResults.to_json`` / ``from_json`` round-trip exactly; a file from an
older demo, without the fields added since, loads with their defaults).
Amounts are in the chain's units (stablecoin base units, 6 decimals) so
nothing is lost; the summary converts for display.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

ROUTES = ("redeem", "seize")
# NAV drops (basis points) whose debt at risk the demo measures.
RISK_DROPS_BPS = (100, 300, 500)
# What each risk sample records: the debt liquidatable now, and after each drop.
SAMPLED_DROPS_BPS = (0, *RISK_DROPS_BPS)
BPS = 10_000
# The redemption facility's rolling window (seconds).
LIMIT_WINDOW = 86_400


@dataclass(frozen=True)
class PositionState:
    """One borrower at one moment. ``health_factor`` is None without debt."""

    account: str
    kind: str
    asset: str
    debt: int
    health_factor: float | None
    liquidatable: bool
    # The collateral's value at the liquidation threshold (base units):
    # the position is liquidatable once the debt exceeds it.
    liquidation_value: int | None = None


@dataclass(frozen=True)
class LiquidationRecord:
    """One ``Liquidate`` event and how it was settled."""

    block: int
    timestamp: int
    tx_hash: str
    borrower: str
    asset: str
    # "redeem" (paid in stablecoin through the facility) or "seize".
    route: str
    liquidator: str
    repaid: int
    seized: int
    payout: int
    # Collateral kept for the treasury: the protocol's share of the bonus.
    protocol_fee: int = 0


@dataclass(frozen=True)
class MarketSample:
    """The market's books at one moment (usually the end of a day)."""

    label: str
    day: int
    block: int
    timestamp: int
    utilization: float
    borrow_apr: float
    supply_apr: float
    # Stablecoin per lender share, in whole units.
    share_price: float
    nav_a: int
    nav_b: int
    total_borrows: int
    cash: int
    reserves: int
    # Every listed collateral's value at the market's price (base units;
    # 0 in results from before it was recorded).
    collateral_value: int = 0


@dataclass(frozen=True)
class NavUpdate:
    """A NAV that became effective on chain."""

    day: int
    block: int
    timestamp: int
    oracle: str
    nav: int
    # Parked by the oracle's bound and confirmed by the guardian.
    confirmed: bool
    # The strike the NAV is for (the feed's ``updatedAt``, from which its
    # age counts); 0 when unknown (older results).
    as_of: int = 0


@dataclass(frozen=True)
class Probe:
    """Something the demo tried, to show how the market answered."""

    name: str
    day: int
    timestamp: int
    refused: bool
    outcome: str


@dataclass(frozen=True)
class BadDebtRecord:
    """One ``BadDebt`` write-off."""

    block: int
    borrower: str
    amount: int
    from_reserves: int
    socialized: int
    # The block's time; 0 when unknown (older results).
    timestamp: int = 0


@dataclass(frozen=True)
class RiskSample:
    """The debt a NAV drop would make liquidatable, at one moment: the
    positions whose value at the threshold, cut by ``drop_bps``, no longer
    covers their debt (those already liquidatable included)."""

    label: str
    block: int
    timestamp: int
    drop_bps: int
    debt: int
    positions: int


@dataclass(frozen=True)
class FacilitySample:
    """One redemption facility at one moment (stablecoin base units)."""

    # "fund_a" or "fund_b" (the wrapper redeems through fund B's facility).
    facility: str
    block: int
    timestamp: int
    liquidity: int
    remaining_limit: int
    daily_limit: int


@dataclass(frozen=True)
class RedemptionRecord:
    """One ``Redeemed`` event of a facility."""

    facility: str
    block: int
    timestamp: int
    shares: int
    payout: int


@dataclass
class DemoResults:
    """Everything one run measured."""

    scenario: str
    title: str
    story: str
    borrowers: int
    risk: dict[str, int]
    shock_factor: float
    keeper: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    # Borrowers the calibration expects the shock to make liquidatable.
    expected_liquidatable: list[str] = field(default_factory=list)
    before: list[PositionState] = field(default_factory=list)
    after: list[PositionState] = field(default_factory=list)
    liquidations: list[LiquidationRecord] = field(default_factory=list)
    bad_debt: list[BadDebtRecord] = field(default_factory=list)
    samples: list[MarketSample] = field(default_factory=list)
    nav_updates: list[NavUpdate] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    # The block in which the shocked NAV became effective, and its time.
    shock_block: int | None = None
    notes: list[str] = field(default_factory=list)
    shock_timestamp: int | None = None
    risk_samples: list[RiskSample] = field(default_factory=list)
    facility_samples: list[FacilitySample] = field(default_factory=list)
    redemptions: list[RedemptionRecord] = field(default_factory=list)
    # The market's maximum NAV age (seconds) per feed ("fund_a", "fund_b").
    max_oracle_age: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DemoResults:
        nested = {
            "before": PositionState,
            "after": PositionState,
            "liquidations": LiquidationRecord,
            "bad_debt": BadDebtRecord,
            "samples": MarketSample,
            "nav_updates": NavUpdate,
            "probes": Probe,
            "risk_samples": RiskSample,
            "facility_samples": FacilitySample,
            "redemptions": RedemptionRecord,
        }
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fields in demo results: {sorted(unknown)}")
        values = dict(data)
        for name, kind in nested.items():
            values[name] = [kind(**item) for item in data.get(name, [])]
        return cls(**values)

    def shock_time(self) -> int | None:
        """When the shocked NAV became effective: the recorded time, else
        (older results) the time of the guardian-confirmed NAV in the
        shock block."""
        if self.shock_timestamp is not None:
            return self.shock_timestamp
        confirmed = [u.timestamp for u in self.nav_updates if u.confirmed and u.block == self.shock_block]
        return min(confirmed) if confirmed else None

    def start_time(self) -> int | None:
        """The time of the first sample (the scenario's start)."""
        times = [s.timestamp for s in self.samples] or [u.timestamp for u in self.nav_updates]
        return min(times) if times else None

    def summary(self) -> Summary:
        return summarize(self)


@dataclass(frozen=True)
class Latency:
    """Blocks from the shocked NAV's block to the liquidations' blocks."""

    first: int
    median: float
    last: int


@dataclass(frozen=True)
class Summary:
    """The figures the terminal table and the report show."""

    positions_before: int
    positions_after: int
    liquidatable_before: int
    liquidatable_after: int
    healthy_after: int
    liquidated_borrowers: int
    # Of the liquidated borrowers: debt fully repaid (position closed), and
    # still open after at least one liquidation; open positions never
    # liquidated.
    closed_by_liquidation: int
    partially_liquidated: int
    untouched: int
    liquidations: int
    by_route: dict[str, int]
    repaid_by_route: dict[str, int]
    expected_liquidatable: int
    expected_hit: int
    bad_debt: int
    share_price_before: float | None
    share_price_after: float | None
    latency: Latency | None
    # Bonus paid (base units): to the liquidators, and the protocol's share.
    bonus_to_liquidators: int = 0
    bonus_to_protocol: int = 0
    # Debt liquidatable after a NAV drop of each RISK_DROPS_BPS, before the
    # shock and at the end (None without position values).
    at_risk_before: dict[int, int] | None = None
    at_risk_after: dict[int, int] | None = None

    @property
    def share_price_change(self) -> float | None:
        if not self.share_price_before or self.share_price_after is None:
            return None
        return self.share_price_after / self.share_price_before - 1


def _open(states: list[PositionState]) -> list[PositionState]:
    return [s for s in states if s.debt > 0]


def share_price_around(samples: list[MarketSample], block: int | None) -> tuple[float | None, float | None]:
    """The share price last sampled before ``block`` and at the end."""
    if not samples:
        return None, None
    before = [s for s in samples if block is None or s.block < block]
    first = (before[-1] if before else samples[0]).share_price
    return first, samples[-1].share_price


def latency(liquidations: list[LiquidationRecord], shock_block: int | None) -> Latency | None:
    """Blocks from ``shock_block`` to each liquidation at or after it."""
    if shock_block is None:
        return None
    gaps = sorted(r.block - shock_block for r in liquidations if r.block >= shock_block)
    if not gaps:
        return None
    return Latency(first=gaps[0], median=float(statistics.median(gaps)), last=gaps[-1])


def liquidatable_after_drop(state: PositionState, drop_bps: int) -> bool:
    """Whether ``state`` would be liquidatable after every NAV fell by
    ``drop_bps`` (its value at the threshold falls in proportion)."""
    if state.debt <= 0:
        return False
    if state.liquidation_value is not None:
        return state.liquidation_value * (BPS - drop_bps) < state.debt * BPS
    return state.health_factor is not None and state.health_factor * (BPS - drop_bps) < BPS


def debt_at_risk(states: list[PositionState], drop_bps: int) -> tuple[int, int]:
    """(debt, positions) that a NAV drop of ``drop_bps`` makes liquidatable."""
    hit = [s for s in states if liquidatable_after_drop(s, drop_bps)]
    return sum(s.debt for s in hit), len(hit)


def risk_samples(
    states: list[PositionState], *, label: str, block: int, timestamp: int, drops: tuple[int, ...] = SAMPLED_DROPS_BPS
) -> list[RiskSample]:
    """One :class:`RiskSample` per drop, from the positions at one moment."""
    samples = []
    for drop in drops:
        debt, count = debt_at_risk(states, drop)
        samples.append(RiskSample(label, block, timestamp, drop, debt, count))
    return samples


def _at_risk(states: list[PositionState]) -> dict[int, int] | None:
    if not any(s.liquidation_value is not None for s in states):
        return None
    return {drop: debt_at_risk(states, drop)[0] for drop in RISK_DROPS_BPS}


def bonus_split(record: LiquidationRecord, bonus_bps: int) -> tuple[int, int]:
    """(to the liquidator, to the protocol) of one liquidation's bonus, in
    base units: the collateral seized is worth the repayment plus the bonus,
    and the protocol keeps ``protocol_fee`` of the ``seized`` units."""
    seized_value = record.repaid * (BPS + bonus_bps) // BPS
    bonus = seized_value - record.repaid
    protocol = seized_value * record.protocol_fee // record.seized if record.seized else 0
    return bonus - protocol, protocol


def liquidation_outcomes(results: DemoResults) -> tuple[int, int, int]:
    """(closed, partially liquidated, untouched) positions: a liquidated
    borrower without debt at the end was closed by its liquidations, one
    with debt left was partially liquidated; untouched are the positions
    open before the shock (or at the end) that no liquidation hit."""
    liquidated = {r.borrower for r in results.liquidations}
    debt_after = {s.account: s.debt for s in results.after}
    closed = sum(1 for b in liquidated if debt_after.get(b, 0) == 0)
    opened = {s.account for s in _open(results.before)} | {s.account for s in _open(results.after)}
    return closed, len(liquidated) - closed, len(opened - liquidated)


def limit_used(redemptions: list[RedemptionRecord], daily_limit: int, at: int) -> int:
    """The facility's rolling-limit fill at time ``at``, as the contract
    computes it: each payout fills the bucket, which drains linearly at
    ``daily_limit`` per day (rounded down)."""
    used, updated = 0, None
    for r in sorted(redemptions, key=lambda r: (r.timestamp, r.block)):
        if r.timestamp > at:
            break
        used = _drained(used, daily_limit, r.timestamp - (updated if updated is not None else r.timestamp))
        used += r.payout
        updated = r.timestamp
    if updated is None:
        return 0
    return _drained(used, daily_limit, at - updated)


def _drained(used: int, daily_limit: int, elapsed: int) -> int:
    if used == 0 or elapsed >= LIMIT_WINDOW:
        return 0
    return max(used - daily_limit * elapsed // LIMIT_WINDOW, 0)


def limit_used_path(
    redemptions: list[RedemptionRecord], daily_limit: int, start: int, end: int
) -> list[tuple[int, int]]:
    """(time, fill) points of the rolling limit from ``start`` to ``end``,
    exact at every corner: just before and after each payout, and where the
    bucket runs empty."""
    times = {start, end}
    for r in redemptions:
        if start <= r.timestamp <= end:
            times |= {r.timestamp - 1, r.timestamp}
            fill = limit_used(redemptions, daily_limit, r.timestamp)
            if daily_limit:
                times.add(min(end, r.timestamp + -(-fill * LIMIT_WINDOW // daily_limit)))
    return [(t, limit_used(redemptions, daily_limit, t)) for t in sorted(t for t in times if start <= t <= end)]


def stale_windows(updates: list[NavUpdate], max_age: int, end: int) -> list[tuple[int, int]]:
    """The intervals (from, to) before ``end`` in which the feed's latest
    NAV was older than ``max_age`` seconds (its age counts from ``as_of``,
    or from the publication when that is unknown)."""
    windows = []
    ordered = sorted(updates, key=lambda u: (u.timestamp, u.block))
    for i, update in enumerate(ordered):
        as_of = update.as_of or update.timestamp
        until = ordered[i + 1].timestamp if i + 1 < len(ordered) else end
        begins = max(as_of + max_age, update.timestamp)
        if begins < until:
            windows.append((begins, until))
    return windows


def summarize(results: DemoResults) -> Summary:
    """The summary of ``results``."""
    liquidated = {r.borrower for r in results.liquidations}
    by_route = Counter(r.route for r in results.liquidations)
    repaid: Counter[str] = Counter()
    for r in results.liquidations:
        repaid[r.route] += r.repaid
    after = _open(results.after)
    before_price, after_price = share_price_around(results.samples, results.shock_block)
    expected = set(results.expected_liquidatable)
    closed, partial, untouched = liquidation_outcomes(results)
    bonus_bps = results.risk.get("bonus_bps", 0)
    bonuses = [bonus_split(r, bonus_bps) for r in results.liquidations]
    return Summary(
        positions_before=len(_open(results.before)),
        positions_after=len(after),
        liquidatable_before=sum(1 for s in results.before if s.liquidatable),
        liquidatable_after=sum(1 for s in after if s.liquidatable),
        healthy_after=sum(1 for s in after if not s.liquidatable),
        liquidated_borrowers=len(liquidated),
        closed_by_liquidation=closed,
        partially_liquidated=partial,
        untouched=untouched,
        liquidations=len(results.liquidations),
        by_route={route: by_route.get(route, 0) for route in (*ROUTES, *sorted(set(by_route) - set(ROUTES)))},
        repaid_by_route={route: repaid.get(route, 0) for route in (*ROUTES, *sorted(set(repaid) - set(ROUTES)))},
        expected_liquidatable=len(expected),
        expected_hit=len(expected & liquidated),
        bad_debt=sum(b.amount for b in results.bad_debt),
        share_price_before=before_price,
        share_price_after=after_price,
        latency=latency(results.liquidations, results.shock_block),
        bonus_to_liquidators=sum(b[0] for b in bonuses),
        bonus_to_protocol=sum(b[1] for b in bonuses),
        at_risk_before=_at_risk(results.before),
        at_risk_after=_at_risk(results.after),
    )
