"""The demo report's charts, as PNG files (matplotlib, Agg backend).

Each function draws one chart from a :class:`devkit.demo.results.DemoResults`
and writes it; figures are made with ``matplotlib.figure.Figure`` rather
than pyplot, so no global figure state or GUI backend is involved.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from devkit.demo.results import ROUTES, DemoResults  # noqa: E402
from devkit.seeding import USD  # noqa: E402
from navlend.timeutil import HOUR  # noqa: E402

# Health factors above this are drawn in the last bin.
HF_CLIP = 2.0
ROUTE_COLOURS = {"redeem": "#1f77b4", "seize": "#ff7f0e"}


def _health_factors(states) -> list[float]:
    return [min(s.health_factor, HF_CLIP) for s in states if s.debt > 0 and s.health_factor is not None]


def health_distribution(results: DemoResults, path: Path) -> Path:
    """Histograms of the borrowers' health factors before the shock and at
    the end, with the liquidation line at 1.0."""
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    bins = [0.90 + 0.01 * i for i in range(int((HF_CLIP - 0.90) / 0.01) + 1)]
    before = _health_factors(results.before)
    after = _health_factors(results.after)
    ax.hist(before, bins=bins, alpha=0.55, label=f"before the shock ({len(before)})", color="#2ca02c")
    # Both funds are marked down by the same factor, so each health factor
    # right after the shock (before any liquidation) is exactly scaled by it.
    hit = [
        min(s.health_factor * results.shock_factor, HF_CLIP)
        for s in results.before
        if s.debt > 0 and s.health_factor is not None
    ]
    ax.hist(hit, bins=bins, histtype="step", linewidth=1.5, color="black",
            label=f"right after the shock, before liquidations ({sum(h < 1 for h in hit)} below 1.0)")
    ax.hist(after, bins=bins, alpha=0.55, label=f"at the end ({len(after)})", color="#d62728")
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1, label="liquidation (HF 1.0)")
    ax.set_xlabel(f"health factor (values above {HF_CLIP} drawn at {HF_CLIP})")
    ax.set_ylabel("borrowers")
    ax.set_title("Health factors before and after")
    ax.legend()
    fig.savefig(path, dpi=110)
    return path


def liquidations_over_time(results: DemoResults, path: Path) -> Path:
    """Liquidations per block after the shocked NAV (by route), and the
    cumulative debt repaid over the scenario's hours."""
    fig = Figure(figsize=(9, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    shock = results.shock_block
    records = sorted(results.liquidations, key=lambda r: r.block)
    if records and shock is not None:
        span = max(r.block - shock for r in records) + 1
        xs = list(range(span))
        base = [0] * span
        for route in ROUTES:
            counts = [0] * span
            for r in records:
                if r.route == route and r.block >= shock:
                    counts[r.block - shock] += 1
            top.bar(xs, counts, bottom=base, label=route, color=ROUTE_COLOURS[route])
            base = [b + c for b, c in zip(base, counts)]
        top.legend(title="route")
    else:
        top.text(0.5, 0.5, "no liquidations", ha="center", va="center", transform=top.transAxes)
    top.set_xlabel("blocks after the shocked NAV became effective")
    top.set_ylabel("liquidations")
    top.set_title("Keeper's liquidations per block")

    start = results.samples[0].timestamp if results.samples else (records[0].timestamp if records else 0)
    for route in ROUTES:
        times, totals, total = [], [], 0.0
        for r in records:
            if r.route == route:
                total += r.repaid / USD
                times.append((r.timestamp - start) / HOUR)
                totals.append(total)
        if times:
            bottom.step(times, totals, where="post", label=route, color=ROUTE_COLOURS[route])
    for update in results.nav_updates:
        if update.confirmed:
            bottom.axvline((update.timestamp - start) / HOUR, color="grey", linestyle=":", linewidth=1)
    bottom.set_xlabel("hours since the scenario started (dotted: guardian-confirmed NAV)")
    bottom.set_ylabel("debt repaid (USD)")
    bottom.set_title("Cumulative debt repaid by liquidations")
    if records:
        bottom.legend(title="route")
    fig.savefig(path, dpi=110)
    return path


def _sample_hours(results: DemoResults) -> list[float]:
    start = results.samples[0].timestamp
    return [(s.timestamp - start) / HOUR / 24 for s in results.samples]


def utilization_and_rates(results: DemoResults, path: Path) -> Path:
    """Utilisation and the borrow and supply rates over the scenario."""
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    if results.samples:
        days = _sample_hours(results)
        ax.plot(days, [100 * s.utilization for s in results.samples], marker="o", label="utilisation")
        ax.set_ylabel("utilisation (%)")
        rates = ax.twinx()
        rates.plot(days, [100 * s.borrow_apr for s in results.samples], color="#d62728", marker=".", label="borrow APR")
        rates.plot(days, [100 * s.supply_apr for s in results.samples], color="#2ca02c", marker=".", label="supply APR")
        rates.set_ylabel("rate (% a year)")
        lines = ax.get_legend_handles_labels()
        more = rates.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], loc="lower left")
    ax.set_xlabel("days since the scenario started")
    ax.set_title("Utilisation and interest rates")
    fig.savefig(path, dpi=110)
    return path


def share_price(results: DemoResults, path: Path) -> Path:
    """The lender share price (stablecoin per share) over the scenario."""
    fig = Figure(figsize=(9, 4), layout="constrained")
    ax = fig.add_subplot()
    if results.samples:
        days = _sample_hours(results)
        ax.plot(days, [s.share_price for s in results.samples], marker="o", color="#9467bd")
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.set_xlabel("days since the scenario started")
    ax.set_ylabel("USDC per lender share")
    ax.set_title("Lender share price")
    fig.savefig(path, dpi=110)
    return path


CHARTS = {
    "health_factors.png": health_distribution,
    "liquidations.png": liquidations_over_time,
    "utilization_rates.png": utilization_and_rates,
    "share_price.png": share_price,
}


def draw_all(results: DemoResults, directory: Path) -> list[Path]:
    """Draws every chart into ``directory``; returns the files."""
    directory.mkdir(parents=True, exist_ok=True)
    return [draw(results, directory / name) for name, draw in CHARTS.items()]
