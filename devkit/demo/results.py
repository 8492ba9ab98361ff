"""What a demo run measured, and the summary drawn from it (pure: no chain).

The demo fills a :class:`DemoResults` while it plays; the terminal table,
the Markdown report, the charts and the JSON file are all made from it
(``DemoResults.to_json`` / ``from_json`` round-trip exactly). Amounts are
in the chain's units (stablecoin base units, 6 decimals) so nothing is
lost; the summary converts for display.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

ROUTES = ("redeem", "seize")


@dataclass(frozen=True)
class PositionState:
    """One borrower at one moment. ``health_factor`` is None without debt."""

    account: str
    kind: str
    asset: str
    debt: int
    health_factor: float | None
    liquidatable: bool


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
    # The block in which the shocked NAV became effective.
    shock_block: int | None = None
    notes: list[str] = field(default_factory=list)

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
        }
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fields in demo results: {sorted(unknown)}")
        values = dict(data)
        for name, kind in nested.items():
            values[name] = [kind(**item) for item in data.get(name, [])]
        return cls(**values)

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
    liquidations: int
    by_route: dict[str, int]
    repaid_by_route: dict[str, int]
    expected_liquidatable: int
    expected_hit: int
    bad_debt: int
    share_price_before: float | None
    share_price_after: float | None
    latency: Latency | None

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
    return Summary(
        positions_before=len(_open(results.before)),
        positions_after=len(after),
        liquidatable_before=sum(1 for s in results.before if s.liquidatable),
        liquidatable_after=sum(1 for s in after if s.liquidatable),
        healthy_after=sum(1 for s in after if not s.liquidatable),
        liquidated_borrowers=len(liquidated),
        liquidations=len(results.liquidations),
        by_route={route: by_route.get(route, 0) for route in (*ROUTES, *sorted(set(by_route) - set(ROUTES)))},
        repaid_by_route={route: repaid.get(route, 0) for route in (*ROUTES, *sorted(set(repaid) - set(ROUTES)))},
        expected_liquidatable=len(expected),
        expected_hit=len(expected & liquidated),
        bad_debt=sum(b.amount for b in results.bad_debt),
        share_price_before=before_price,
        share_price_after=after_price,
        latency=latency(results.liquidations, results.shock_block),
    )
