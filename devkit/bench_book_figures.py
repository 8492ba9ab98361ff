"""The pure half of :mod:`devkit.bench_book`: the NAV drop that sinks a
chosen share of the book, the statistics of the keeper's per-block work,
the probe's lines, the RPC calls per block, and the report (a table of
figures beside their targets, and JSON).

No chain, no process here: everything takes plain numbers or text and is
unit-tested (``tests/keeper/unit/test_bench_book_figures.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from navlend.constants import BPS, WAD

MIB = 2**20


class FiguresError(ValueError):
    """Input the figures cannot be computed from (named in the message)."""


# ---- the NAV drop ----


@dataclass(frozen=True)
class DropChoice:
    """A NAV fall of ``drop_bps`` on every fund: ``expected`` positions end
    below health one. ``low``/``high`` are the healths either side of the
    cut (WAD): the retained NAV share sits between ``WAD / high`` and
    ``WAD / low`` (the wider, the less interest or rounding can move the
    count)."""

    drop_bps: int
    expected: int
    low: int
    high: int


def liquidatable_after(healths: Iterable[int], drop_bps: int) -> int:
    """Positions whose health (WAD) falls below one when every collateral
    price keeps ``BPS - drop_bps`` of its value."""
    if not 0 <= drop_bps < BPS:
        raise FiguresError(f"drop_bps must be within 0..{BPS - 1}, not {drop_bps}")
    kept = BPS - drop_bps
    return sum(1 for h in healths if h * kept < WAD * BPS)


def choose_drop(healths: Sequence[int], fraction_bps: int, tolerance_bps: int = 5_000) -> DropChoice:
    """The NAV drop (whole bps on every fund) that makes about
    ``fraction_bps`` of the positions liquidatable: the cut goes in the
    widest relative gap between neighbouring healths among the cut points
    within ``tolerance_bps`` of the target count (so a cluster of equal
    healths is taken whole or not at all), at the gap's geometric middle.
    Positions already below one count as liquidatable; the drop always
    sinks at least one more."""
    if not healths:
        raise FiguresError("no positions to choose a drop for")
    if not 0 < fraction_bps < BPS:
        raise FiguresError(f"fraction_bps must be within 1..{BPS - 1}, not {fraction_bps}")
    if not 0 <= tolerance_bps <= BPS:
        raise FiguresError(f"tolerance_bps must be within 0..{BPS}, not {tolerance_bps}")
    if any(h <= 0 for h in healths):
        raise FiguresError("a health factor must be positive (a position without debt has none)")
    ordered = sorted(healths)
    n = len(ordered)
    target = max(1, round(n * fraction_bps / BPS))
    below = sum(1 for h in ordered if h < WAD)
    lo_cut = max(1, below + 1, math.floor(target * (BPS - tolerance_bps) / BPS))
    hi_cut = min(n - 1, math.ceil(target * (BPS + tolerance_bps) / BPS))
    if lo_cut > hi_cut:
        raise FiguresError(f"no cut near {target} of {n} positions ({below} already below one)")
    # Widest relative gap; ties go to the cut nearest the target.
    cut = max(range(lo_cut, hi_cut + 1),
              key=lambda c: (ordered[c] / ordered[c - 1], -abs(c - target)))
    low, high = ordered[cut - 1], ordered[cut]
    # Kept share k (of BPS): low * k < WAD * BPS <= high * k; the middle in logs.
    kept = round(BPS * WAD / math.sqrt(low * high))
    kept = min(max(kept, -(-WAD * BPS // high)), BPS)
    drop = BPS - kept
    if drop >= BPS:
        raise FiguresError(f"the healths around the cut ({low}, {high}) need a drop of {drop} bps")
    return DropChoice(drop, liquidatable_after(ordered, drop), low, high)


def health_now(planned_health: int, index_at_plan: int, index_now: int) -> int:
    """A planned health at a later borrow index (the debt grows with it)."""
    if index_at_plan <= 0 or index_now < index_at_plan:
        raise FiguresError(f"borrow index went from {index_at_plan} to {index_now}")
    return planned_health * index_at_plan // index_now


# ---- statistics ----


@dataclass(frozen=True)
class Spread:
    """Median, 95th percentile and maximum of ``count`` samples."""

    count: int
    median: float
    p95: float
    max: float


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1), linear between the closest ranks."""
    if not samples:
        raise FiguresError("no samples")
    if not 0.0 <= q <= 1.0:
        raise FiguresError(f"quantile must be within 0..1, not {q}")
    ordered = sorted(samples)
    pos = q * (len(ordered) - 1)
    below, above = math.floor(pos), math.ceil(pos)
    return ordered[below] + (ordered[above] - ordered[below]) * (pos - below)


def spread(samples: Sequence[float]) -> Spread:
    return Spread(len(samples), round(percentile(samples, 0.5), 3), round(percentile(samples, 0.95), 3),
                  round(max(samples), 3))


# ---- the probe's lines ----


@dataclass(frozen=True)
class ProbeRecord:
    """One timed call of the keeper's per-block method, in one process:
    the block it worked (None when unknown), its wall time, whether the
    keeper skipped it (busy with the previous one), and the process's peak
    resident memory so far."""

    pid: int
    block: int | None
    ms: float
    skipped: bool
    maxrss_kib: int


def parse_probe_lines(lines: Iterable[str]) -> list[ProbeRecord]:
    """The probe's JSON lines (``devkit.bench_probe``); a line cut short
    at the end of a killed process's file is ignored, any other bad line
    raises."""
    rows = [line for line in lines if line.strip()]
    out = []
    for k, line in enumerate(rows):
        try:
            data = json.loads(line)
        except ValueError:
            if k == len(rows) - 1:
                break
            raise FiguresError(f"probe line {k + 1} is not JSON: {line[:80]!r}") from None
        try:
            block = data["block"]
            out.append(ProbeRecord(int(data["pid"]), None if block is None else int(block), float(data["ms"]),
                                   bool(data["skipped"]), int(data["maxrss_kib"])))
        except (KeyError, TypeError, ValueError) as err:
            raise FiguresError(f"probe line {k + 1} lacks a field or has a bad one ({err}): {line[:80]!r}") from None
    return out


@dataclass(frozen=True)
class BlockWork:
    """The keeper's work on the blocks ``first..last``: per block the sum
    over its processes (what one process doing it all would spend),
    blocks no process worked, and skipped calls."""

    first: int
    last: int
    per_block_ms: Mapping[int, float]
    unworked_blocks: int
    skipped_calls: int

    @property
    def stats(self) -> Spread:
        return spread(list(self.per_block_ms.values()))


def block_work(records: Iterable[ProbeRecord], first: int, last: int) -> BlockWork:
    """The work of ``first..last`` (inclusive) from the probe's records."""
    if last < first:
        raise FiguresError(f"empty block range {first}..{last}")
    per: dict[int, float] = {}
    skipped = 0
    for r in records:
        if r.block is None or not first <= r.block <= last:
            continue
        if r.skipped:
            skipped += 1
            continue
        per[r.block] = per.get(r.block, 0.0) + r.ms
    if not per:
        raise FiguresError(f"the keeper worked none of the blocks {first}..{last}")
    return BlockWork(first, last, per, (last - first + 1) - len(per), skipped)


def peak_rss_mib(records: Iterable[ProbeRecord]) -> dict[int, float]:
    """Each process's peak resident memory (MiB)."""
    peak: dict[int, int] = {}
    for r in records:
        peak[r.pid] = max(peak.get(r.pid, 0), r.maxrss_kib)
    return {pid: round(kib / 1024, 1) for pid, kib in peak.items()}


def parse_vmhwm(status_text: str) -> int:
    """``VmHWM`` (peak resident set, KiB) from ``/proc/<pid>/status``."""
    for line in status_text.splitlines():
        if line.startswith("VmHWM:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1])
            break
    raise FiguresError("no VmHWM line in the status text")


# ---- RPC calls ----


@dataclass(frozen=True)
class CallRate:
    """RPC calls through the counting proxy over ``blocks`` blocks (each
    element of a batch counts as a call)."""

    blocks: int
    calls: int
    requests: int
    by_method: Mapping[str, int]

    @property
    def per_block(self) -> float:
        return round(self.calls / self.blocks, 2)


def call_rate(blocks: int, calls: int, requests: int, by_method: Mapping[str, int]) -> CallRate:
    if blocks < 1:
        raise FiguresError(f"calls counted over {blocks} blocks")
    if calls < 0 or requests < 0 or requests > calls:
        raise FiguresError(f"inconsistent counts: {calls} calls in {requests} requests")
    return CallRate(blocks, calls, requests, dict(sorted(by_method.items(), key=lambda kv: -kv[1])))


# ---- the report ----


@dataclass(frozen=True)
class Targets:
    """Issue 17's targets for 100,000 positions over three markets."""

    work_ms: float = 100.0
    calls_per_block: float = 5.0
    blocks_to_last: int = 1
    memory_mib: float = 1024.0


@dataclass(frozen=True)
class DropFigures:
    """One NAV drop run (``mode``: the keeper's deployment, e.g. one
    process or split over scan workers)."""

    mode: str
    keeper: str
    drop_bps: int
    planned: int
    liquidatable: int
    liquidated: int
    liquidations: int
    nav_block: int
    last_block: int | None
    keeper_transactions: int
    gas_per_position: int | None
    peak_rss_mib: float
    # The steady blocks before the drop, in the same launch.
    steady_work: Spread | None = None
    steady_calls_per_block: float | None = None

    @property
    def blocks_to_last(self) -> int | None:
        return None if self.last_block is None else self.last_block - self.nav_block


@dataclass(frozen=True)
class BenchReport:
    positions: int
    markets: int
    keeper: str
    steady_blocks: int
    work: Spread
    unworked_blocks: int
    skipped_calls: int
    calls: CallRate
    peak_rss_mib: float
    drops: tuple[DropFigures, ...]
    targets: Targets = field(default_factory=Targets)
    notes: tuple[str, ...] = ()

    @property
    def rss_per_100k_mib(self) -> float:
        return round(self.peak_rss_mib * 100_000 / self.positions, 1)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["calls"]["per_block"] = self.calls.per_block
        data["rss_per_100k_mib"] = self.rss_per_100k_mib
        for d, drop in zip(data["drops"], self.drops):
            d["blocks_to_last"] = drop.blocks_to_last
            d["rss_per_100k_mib"] = round(drop.peak_rss_mib * 100_000 / self.positions, 1)
        return data


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "NO")


def render(report: BenchReport) -> str:
    """The report as a table: figure, target, met."""
    t = report.targets
    rows = [
        ("keeper work per block, median / p95 (ms)", f"{report.work.median:.1f} / {report.work.p95:.1f}",
         f"< {t.work_ms:.0f}", _mark(report.work.p95 < t.work_ms)),
        ("RPC calls per block", f"{report.calls.per_block}", f"<= {t.calls_per_block:.0f}",
         _mark(report.calls.per_block <= t.calls_per_block)),
        (f"peak RSS of the keeper's processes (MiB, {report.positions:,} positions)", f"{report.peak_rss_mib}",
         f"< {t.memory_mib:.0f}", _mark(report.peak_rss_mib < t.memory_mib)),
    ]
    for d in report.drops:
        blocks = d.blocks_to_last
        if d.steady_work is not None:
            rows.append((f"[{d.mode}] steady work median / p95 (ms), calls per block",
                         f"{d.steady_work.median:.1f} / {d.steady_work.p95:.1f}, {d.steady_calls_per_block}",
                         "", ""))
        rows.append((f"[{d.mode}] blocks from NAV update to last liquidation",
                     "none" if blocks is None else str(blocks), f"<= {t.blocks_to_last}",
                     _mark(None if blocks is None else blocks <= t.blocks_to_last)))
        rows.append((f"[{d.mode}] liquidated / liquidatable (planned {d.planned})",
                     f"{d.liquidated} / {d.liquidatable}", "all", _mark(d.liquidated >= d.liquidatable)))
        rows.append((f"[{d.mode}] gas per position", "n/a" if d.gas_per_position is None else f"{d.gas_per_position:,}",
                     "", ""))
        rows.append((f"[{d.mode}] peak RSS of the keeper's processes (MiB)", f"{d.peak_rss_mib}",
                     f"< {t.memory_mib:.0f}", _mark(d.peak_rss_mib < t.memory_mib)))
    width = max(len(r[0]) for r in rows)
    head = (f"{report.positions:,} positions over {report.markets} markets; keeper: {report.keeper}; "
            f"{report.steady_blocks} steady blocks ({report.unworked_blocks} not worked, "
            f"{report.skipped_calls} skipped as busy)")
    lines = [head, f"{'figure'.ljust(width)}  {'measured':>14}  {'target':>8}  met"]
    lines += [f"{a.ljust(width)}  {b:>14}  {c:>8}  {d}" for a, b, c, d in rows]
    lines.append("RPC calls by method (steady): " + ", ".join(f"{m} {n}" for m, n in report.calls.by_method.items()))
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)
