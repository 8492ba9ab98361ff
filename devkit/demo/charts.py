"""The demo report's charts, as PNG files (matplotlib, Agg backend).

Each builder draws one chart from a :class:`devkit.demo.results.DemoResults`
and returns the figure; :func:`draw_all` writes them. Figures are made
with ``matplotlib.figure.Figure`` rather than pyplot, so no global figure
state or GUI backend is involved.

Every chart reads on its own: time axes in UTC dates (or time after the
shock), block axes in whole blocks, units in the axis labels, amounts as
"$1.2M" (never an offset or scientific notation), and the shock marked
where time is the axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import dates as mdates  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from devkit.demo.results import (  # noqa: E402
    ROUTES,
    DemoResults,
    LiquidationRecord,
    bonus_split,
    limit_used_path,
    stale_windows,
)
from devkit.seeding import USD  # noqa: E402
from navlend.timeutil import DAY, HOUR  # noqa: E402

# Health factors above this are drawn in the last bin.
HF_CLIP = 2.0
ROUTE_COLOURS = {"redeem": "#1f77b4", "seize": "#ff7f0e"}
SHOCK_COLOUR = "#d62728"
UTILISATION_COLOUR = "#1f77b4"
RATES_COLOUR = "#b2182b"
FEED_COLOURS = {"fund_a": "#1f77b4", "fund_b": "#2ca02c"}
DROP_COLOURS = {0: "#000000", 100: "#fdae61", 300: "#f46d43", 500: "#a50026"}
DPI = 110
# NAV feeds answer with 8 decimals.
NAV_UNIT = 10**8


# ---------------------------------------------------------------- axes helpers


def usd_label(value: float, _pos: object = None) -> str:
    """A dollar amount for an axis: $1.2M, $350k, $12, $0.50."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 1e9:
        return f"{sign}${value / 1e9:.3g}B"
    if value >= 1e6:
        return f"{sign}${value / 1e6:.3g}M"
    if value >= 1e3:
        return f"{sign}${value / 1e3:.3g}k"
    if value == 0:
        return "$0"
    if value >= 10:
        return f"{sign}${value:.0f}"
    return f"{sign}${value:.2f}"


def _usd_axis(axis) -> None:
    axis.set_major_formatter(FuncFormatter(usd_label))


def _plain(ax: Axes, axis: str = "y") -> None:
    """No offset and no scientific notation on a numeric axis."""
    ax.ticklabel_format(axis=axis, useOffset=False, style="plain")


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def _time_axis(ax: Axes, start: int | None, end: int | None) -> None:
    """UTC dates on the x axis: one tick a day (or fewer) on runs of days,
    hours on shorter ones."""
    span = (end - start) if start is not None and end is not None else DAY
    if span > 2 * DAY:
        # At most about seven labels, so they never run into each other.
        ax.xaxis.set_major_locator(mdates.DayLocator(interval=math.ceil(span / DAY / 7)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %d %b", tz=timezone.utc))
    else:
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=8, tz=timezone.utc))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %H:%M", tz=timezone.utc))
    if start is not None and end is not None:
        pad = max(span * 0.02, 60)
        ax.set_xlim(_when(start - pad), _when(end + pad))
    ax.set_xlabel("date (UTC)")


def _span(results: DemoResults) -> tuple[int | None, int | None]:
    """The run's first and last known times."""
    times = [s.timestamp for s in results.samples]
    times += [u.timestamp for u in results.nav_updates]
    times += [r.timestamp for r in results.liquidations]
    times += [f.timestamp for f in results.facility_samples]
    return (min(times), max(times)) if times else (None, None)


def shock_label(results: DemoResults) -> str:
    """The shock line's legend entry, with its time when known."""
    at = results.shock_time()
    when = "" if at is None else f" ({_when(at):%a %d %b %H:%M} UTC)"
    return f"shock: NAV x {results.shock_factor:g}{when}"


def _mark_shock(ax: Axes, results: DemoResults, x: object | None = None) -> None:
    """The shock as a labelled vertical line (at its time unless ``x``)."""
    if x is None:
        at = results.shock_time()
        if at is None:
            return
        x = _when(at)
    ax.axvline(x, color=SHOCK_COLOUR, linestyle="--", linewidth=1.2, label=shock_label(results))


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")


def _figure(width: float = 9, height: float = 4.5) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _panels(names: list[str], height: float, suptitle: str) -> tuple[Figure, list[Axes]]:
    """A figure of one panel per name (one empty panel without names)."""
    fig = _figure(9, height * max(len(names), 1) + 0.6)
    fig.suptitle(suptitle)
    return fig, list(fig.subplots(max(len(names), 1), 1, squeeze=False)[:, 0])


def _finish_over_time(
    ax: Axes, results: DemoResults, *, drawn: bool, legend: str, ylabel: str, title: str, small: bool = False
) -> None:
    """Ends a panel over time: the shock and the legend (or a note that
    there was nothing to draw), the date axis and the labels."""
    if drawn:
        _mark_shock(ax, results)
        ax.legend(loc=legend, fontsize="small" if small else None)
    else:
        _empty(ax, "nothing recorded")
    _time_axis(ax, *_span(results))
    ax.set_ylabel(ylabel)
    ax.set_title(title)


# ---------------------------------------------------------------- charts


def _health_factors(states) -> list[float]:
    return [min(s.health_factor, HF_CLIP) for s in states if s.debt > 0 and s.health_factor is not None]


def health_distribution(results: DemoResults) -> Figure:
    """Histograms of the borrowers' health factors before the shock and at
    the end, with the liquidation line at 1.0."""
    fig = _figure(9, 4.5)
    ax = fig.add_subplot()
    bins = [0.90 + 0.01 * i for i in range(int((HF_CLIP - 0.90) / 0.01) + 1)]
    before = _health_factors(results.before)
    after = _health_factors(results.after)
    ax.hist(before, bins=bins, alpha=0.55, label=f"before the shock ({len(before)} positions)", color="#2ca02c")
    # Both funds are marked down by the same factor, so each health factor
    # right after the shock (before any liquidation) is exactly scaled by it.
    hit = [
        min(s.health_factor * results.shock_factor, HF_CLIP)
        for s in results.before
        if s.debt > 0 and s.health_factor is not None
    ]
    ax.hist(hit, bins=bins, histtype="step", linewidth=1.5, color="black",
            label=f"right after the shock, before liquidations ({sum(h < 1 for h in hit)} below 1.0)")
    ax.hist(after, bins=bins, alpha=0.55, label=f"at the end ({len(after)} open positions)", color="#d62728")
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1, label="liquidation (HF 1.0)")
    ax.set_xlabel(f"health factor (collateral at the threshold / debt; above {HF_CLIP} drawn at {HF_CLIP})")
    ax.set_ylabel("positions")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _plain(ax, "both")
    ax.set_title("Health factors before and after the shock")
    ax.legend()
    return fig


def _routes_used(records: list[LiquidationRecord]) -> list[str]:
    """The routes ``records`` used, known ones first (no empty route drawn)."""
    used = {r.route for r in records}
    return [route for route in (*ROUTES, *sorted(used - set(ROUTES))) if route in used]


def _elapsed_unit(span: float) -> tuple[float, str]:
    """A unit for ``span`` seconds after the shock: (seconds per unit, name)."""
    if span <= 10 * 60:
        return 1, "seconds"
    if span <= 3 * HOUR:
        return 60, "minutes"
    return HOUR, "hours"


def liquidations_over_time(results: DemoResults) -> Figure:
    """Liquidations per block after the shocked NAV (by route), and the
    cumulative debt repaid after it."""
    fig = _figure(9, 6.5)
    top, bottom = fig.subplots(2, 1)
    shock = results.shock_block
    records = sorted((r for r in results.liquidations if shock is None or r.block >= shock), key=lambda r: r.block)
    routes = _routes_used(records)
    origin_block = shock if shock is not None else (records[0].block if records else 0)
    if records:
        offsets = sorted({r.block - origin_block for r in records})
        width = max(0.8, (offsets[-1] - offsets[0] + 1) / 250)
        base = dict.fromkeys(offsets, 0)
        for route in routes:
            counts = dict.fromkeys(offsets, 0)
            for r in records:
                if r.route == route:
                    counts[r.block - origin_block] += 1
            top.bar(offsets, [counts[o] for o in offsets], bottom=[base[o] for o in offsets], width=width,
                    label=f"{route} route ({sum(counts.values())})", color=ROUTE_COLOURS.get(route, "grey"))
            base = {o: base[o] + counts[o] for o in offsets}
        top.legend(title="route")
    else:
        _empty(top, "no liquidations")
    origin = "the shocked NAV" if shock is not None else "the first liquidation"
    top.set_xlabel(f"blocks after {origin} became effective (block {origin_block})")
    top.set_ylabel("liquidations per block")
    for axis in (top.xaxis, top.yaxis):
        axis.set_major_locator(MaxNLocator(integer=True))
    _plain(top, "both")
    top.set_title("Keeper's liquidations per block after the shock")

    start = results.shock_time() if shock is not None else None
    if start is None:
        start = records[0].timestamp if records else 0
    span = max((r.timestamp - start for r in records), default=0)
    unit, name = _elapsed_unit(span)
    for route in routes:
        times, totals, total = [0.0], [0.0], 0.0
        for r in records:
            if r.route == route:
                total += r.repaid / USD
                times.append((r.timestamp - start) / unit)
                totals.append(total)
        bottom.step(times, totals, where="post", label=f"{route} route", color=ROUTE_COLOURS.get(route, "grey"))
    if shock is not None:
        _mark_shock(bottom, results, x=0)
    bottom.set_xlabel(f"{name} after {origin} became effective")
    bottom.set_ylabel("debt repaid (USD, cumulative)")
    if unit == 1:
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    _plain(bottom, "x")
    _usd_axis(bottom.yaxis)
    bottom.set_title("Debt repaid by liquidations")
    if records:
        # Nothing is repaid in the first block: the upper left stays empty.
        bottom.legend(loc="upper left")
    else:
        _empty(bottom, "no liquidations")
    return fig


def utilization_and_rates(results: DemoResults) -> Figure:
    """Utilisation (left axis) and the borrow and supply rates (right axis)."""
    fig = _figure(9, 4.5)
    ax = fig.add_subplot()
    start, end = _span(results)
    if results.samples:
        times = [_when(s.timestamp) for s in results.samples]
        ax.plot(times, [100 * s.utilization for s in results.samples], marker="o", color=UTILISATION_COLOUR,
                label="utilisation (left axis)")
        rates = ax.twinx()
        rates.plot(times, [100 * s.borrow_apr for s in results.samples], color=RATES_COLOUR, marker=".",
                   label="borrow APR (right axis)")
        rates.plot(times, [100 * s.supply_apr for s in results.samples], color=RATES_COLOUR, marker=".",
                   linestyle="--", label="supply APR (right axis)")
        rates.set_ylabel("borrow and supply rate (% a year)", color=RATES_COLOUR)
        rates.tick_params(axis="y", colors=RATES_COLOUR)
        # Utilisation on 0-100 % and the rates on twice their top, so the
        # two families of lines never lie on one another.
        ax.set_ylim(0, 105)
        top_rate = max([100 * s.borrow_apr for s in results.samples] + [0.5])
        rates.set_ylim(0, 2 * top_rate)
        _plain(rates)
        _mark_shock(ax, results)
        lines, labels = ax.get_legend_handles_labels()
        more, more_labels = rates.get_legend_handles_labels()
        fig.legend(lines + more, labels + more_labels, loc="outside lower center", ncols=2)
    else:
        _empty(ax, "no samples")
    ax.set_ylabel("utilisation (% of supplied cash lent)", color=UTILISATION_COLOUR)
    ax.tick_params(axis="y", colors=UTILISATION_COLOUR)
    _plain(ax)
    _time_axis(ax, start, end)
    ax.set_title("Utilisation and interest rates")
    return fig


def share_price(results: DemoResults) -> Figure:
    """The lender share price (stablecoin per share) over the scenario."""
    fig = _figure(9, 4)
    ax = fig.add_subplot()
    ax.plot([_when(s.timestamp) for s in results.samples], [s.share_price for s in results.samples],
            marker="o", color="#9467bd", label="USDC per lender share")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.6f}"))
    _finish_over_time(ax, results, drawn=bool(results.samples), legend="upper left",
                      ylabel="lender share price (USDC per share)", title="Lender share price")
    return fig


def risk_moments(results: DemoResults) -> list[tuple[str, int]]:
    """The moments the debt-at-risk chart compares: (label, timestamp) of
    the last sample before the shock and of the last sample."""
    times = sorted({s.timestamp for s in results.risk_samples})
    if not times:
        return []
    shock = results.shock_time()
    before = [t for t in times if shock is not None and t < shock]
    moments = []
    if before:
        moments.append((f"before the shock ({_when(before[-1]):%a %d %b %H:%M})", before[-1]))
    if not moments or times[-1] != moments[0][1]:
        moments.append((f"at the end ({_when(times[-1]):%a %d %b %H:%M})", times[-1]))
    return moments


def debt_at_risk(results: DemoResults) -> Figure:
    """The debt liquidatable now and after a further NAV drop of 1, 3 and
    5 %, before the shock and at the end, side by side."""
    fig = _figure(9, 4.5)
    ax = fig.add_subplot()
    drops = sorted({s.drop_bps for s in results.risk_samples})
    moments = risk_moments(results)
    width = 0.8 / max(len(moments), 1)
    for i, (label, at) in enumerate(moments):
        debts = {s.drop_bps: s.debt / USD for s in results.risk_samples if s.timestamp == at}
        values = [debts.get(drop, 0) for drop in drops]
        bars = ax.bar([x + (i - (len(moments) - 1) / 2) * width for x in range(len(drops))], values, width=width,
                      label=label, color=("#fdae61", "#a50026", "#4575b4")[i % 3])
        ax.bar_label(bars, labels=[usd_label(v) for v in values], fontsize="small")
    if moments:
        ax.set_xticks(range(len(drops)), ["now (no drop)" if d == 0 else f"NAV -{d / 100:g} %" for d in drops])
        ax.legend(loc="upper left")
        ax.margins(y=0.15)
    else:
        _empty(ax, "no debt-at-risk samples in these results")
    _usd_axis(ax.yaxis)
    ax.set_xlabel("further fall of every fund's NAV")
    ax.set_ylabel("debt that would be liquidatable (USD)")
    ax.set_title("Debt at risk: before the shock and after the liquidations")
    return fig


def facility_liquidity(results: DemoResults) -> Figure:
    """Each redemption facility's stablecoin, and its rolling daily limit:
    what redemptions used of it, against the limit."""
    names = sorted({f.facility for f in results.facility_samples} | {r.facility for r in results.redemptions})
    fig, axes = _panels(names, 3.2, "Redemption facilities: liquidity and daily limit")
    start, end = _span(results)
    for ax, name in zip(axes, names):
        samples = sorted(
            (f for f in results.facility_samples if f.facility == name), key=lambda f: (f.timestamp, f.block)
        )
        paid = [r for r in results.redemptions if r.facility == name]
        limit = samples[-1].daily_limit if samples else 0
        if samples:
            ax.step([_when(f.timestamp) for f in samples], [f.liquidity / USD for f in samples], where="post",
                    color="#2ca02c", label="liquidity held")
            ax.axhline(limit / USD, color="black", linestyle=":", label=f"daily limit ({usd_label(limit / USD)})")
        path: list[tuple[int, int]] = []
        if start is not None and end is not None and limit:
            path = limit_used_path(paid, limit, start, end)
            ax.plot([_when(t) for t, _ in path], [u / USD for _, u in path], color="#ff7f0e",
                    label="limit used (rolling 24 h, drains at the limit per day)")
        total = sum(r.payout for r in paid)
        peak = max((u for _, u in path), default=0)
        # Head room above the highest line for the legend.
        top = max([limit, peak, *(f.liquidity for f in samples)]) / USD
        ax.set_ylim(0, max(top, 1) * 1.6)
        share = f"; peak use {peak / limit:.0%} of the daily limit" if limit else ""
        _usd_axis(ax.yaxis)
        _finish_over_time(ax, results, drawn=True, legend="upper left", small=True, ylabel="stablecoin (USD)",
                          title=f"{name} facility: {len(paid)} redemptions, {usd_label(total / USD)} paid out{share}")
    if not names:
        _finish_over_time(axes[0], results, drawn=False, legend="", ylabel="stablecoin (USD)", title="")
    return fig


def nav_path(results: DemoResults) -> Figure:
    """Each feed's NAV as the market saw it (one panel a feed, so a 3 %
    move shows on either), with the windows in which it was older than the
    market's maximum age shaded."""
    feeds = sorted({u.oracle for u in results.nav_updates})
    fig, axes = _panels(feeds, 2.8, "NAV path as the market saw it")
    end = _span(results)[1]
    for ax, feed in zip(axes, feeds):
        updates = sorted((u for u in results.nav_updates if u.oracle == feed), key=lambda u: (u.timestamp, u.block))
        times = [_when(u.timestamp) for u in updates] + [_when(end)]
        navs = [u.nav / NAV_UNIT for u in updates] + [updates[-1].nav / NAV_UNIT]
        colour = FEED_COLOURS.get(feed, "grey")
        ax.step(times, navs, where="post", color=colour, marker=".", label=f"{feed} NAV")
        max_age = results.max_oracle_age.get(feed)
        windows = stale_windows(updates, max_age, end) if max_age else []
        for i, (begin, until) in enumerate(windows):
            ax.axvspan(_when(begin), _when(until), color="#bbbbbb", alpha=0.5,
                       label=f"stale: NAV older than {max_age / HOUR:g} h" if i == 0 else None)
            # A window of hours is a sliver on a chart of days: say how long.
            ax.annotate(f"stale {(until - begin) / HOUR:.1f} h", xy=(_when(begin), 1),
                        xycoords=("data", "axes fraction"), xytext=(-4, -12), textcoords="offset points",
                        ha="right", fontsize="small", color="#555555")
        if not max_age:
            note = "maximum NAV age not recorded"
        elif windows:
            note = f"{len(windows)} stale window(s) shaded (NAV older than {max_age / HOUR:g} h)"
        else:
            note = f"never older than the market's {max_age / HOUR:g} h limit"
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"${v:.4f}"))
        ax.margins(y=0.2)
        _finish_over_time(ax, results, drawn=True, legend="lower left", small=True, ylabel="NAV (USD per share)",
                          title=f"{feed}: {note}")
    if not feeds:
        _finish_over_time(axes[0], results, drawn=False, legend="", ylabel="NAV (USD per share)", title="")
    return fig


def collateral_and_debt(results: DemoResults) -> Figure:
    """The collateral's value and the debt, at each sample."""
    fig = _figure(9, 4.5)
    ax = fig.add_subplot()
    times = [_when(s.timestamp) for s in results.samples]
    if any(s.collateral_value for s in results.samples):
        ax.plot(times, [s.collateral_value / USD for s in results.samples], marker="o", color="#2ca02c",
                label="collateral value (at the market's prices)")
    ax.plot(times, [s.total_borrows / USD for s in results.samples], marker="o", color="#d62728",
            label="debt (borrows with interest)")
    _usd_axis(ax.yaxis)
    _finish_over_time(ax, results, drawn=bool(results.samples), legend="center left", ylabel="USD",
                      title="Collateral and debt")
    return fig


def bonuses(results: DemoResults) -> Figure:
    """The liquidation bonus paid, by route: to the liquidators and the
    protocol's share."""
    fig = _figure(8, 4.5)
    ax = fig.add_subplot()
    bonus_bps = results.risk.get("bonus_bps", 0)
    routes = _routes_used(results.liquidations)
    if routes:
        to_liquidators, to_protocol = [], []
        for route in routes:
            split = [bonus_split(r, bonus_bps) for r in results.liquidations if r.route == route]
            to_liquidators.append(sum(s[0] for s in split) / USD)
            to_protocol.append(sum(s[1] for s in split) / USD)
        labels = [f"{route} route" for route in routes]
        paid = ax.bar(labels, to_liquidators, width=0.5, color="#1f77b4", label="to liquidators")
        ax.bar_label(paid, labels=[f"liquidators {usd_label(v)}" for v in to_liquidators], label_type="center",
                     color="white")
        if any(to_protocol):
            kept = ax.bar(labels, to_protocol, width=0.5, bottom=to_liquidators, color="#9467bd",
                          label="to the protocol")
            ax.bar_label(kept, labels=[f"protocol {usd_label(v)}" for v in to_protocol])
        ax.legend(loc="upper right")
        ax.margins(y=0.15)
    else:
        _empty(ax, "no liquidations: no bonus paid")
    _usd_axis(ax.yaxis)
    ax.set_ylabel("bonus paid (USD, at the market's price)")
    share = results.risk.get("liquidation_fee_bps")
    protocol = "protocol share not recorded" if share is None else f"protocol's share of it {share / 100:g} %"
    ax.set_title(f"Liquidation bonus paid\n(bonus {bonus_bps / 100:g} % of the debt repaid; {protocol})")
    return fig


def _block_times(results: DemoResults) -> list[tuple[int, int]]:
    pairs = {(s.block, s.timestamp) for s in results.samples}
    pairs |= {(r.block, r.timestamp) for r in results.liquidations}
    pairs |= {(u.block, u.timestamp) for u in results.nav_updates}
    return sorted(pairs)


def block_time(results: DemoResults, block: int) -> int | None:
    """``block``'s time estimated from the blocks whose time is known
    (linear between the nearest two): for results from before bad-debt
    records carried their time."""
    known = _block_times(results)
    if not known:
        return None
    below = [p for p in known if p[0] <= block] or known[:1]
    above = [p for p in known if p[0] >= block] or known[-1:]
    (b0, t0), (b1, t1) = below[-1], above[0]
    if b1 == b0:
        return t0
    return t0 + (t1 - t0) * (block - b0) // (b1 - b0)


def reserves_and_bad_debt(results: DemoResults) -> Figure:
    """The market's reserves at each sample, and the bad debt written off
    (cumulative), split by who absorbed it."""
    fig = _figure(9, 4.5)
    ax = fig.add_subplot()
    start, end = _span(results)
    if results.samples:
        ax.plot([_when(s.timestamp) for s in results.samples], [s.reserves / USD for s in results.samples],
                marker="o", color="#2ca02c", label="reserves")
    written = sorted(((b.timestamp or block_time(results, b.block) or 0), b) for b in results.bad_debt)
    if written and start is not None:
        times, total, socialized = [_when(start)], [0.0], [0.0]
        for at, b in written:
            times.append(_when(at))
            total.append(total[-1] + b.amount / USD)
            socialized.append(socialized[-1] + b.socialized / USD)
        times.append(_when(end))
        total.append(total[-1])
        socialized.append(socialized[-1])
        ax.step(times, total, where="post", color="#d62728", label="bad debt written off (cumulative)")
        ax.step(times, socialized, where="post", color="#d62728", linestyle=":", label="of which lenders absorbed")
    bad = sum(b.amount for b in results.bad_debt)
    _usd_axis(ax.yaxis)
    _finish_over_time(ax, results, drawn=bool(results.samples or written), legend="upper left", ylabel="USD",
                      title=f"Reserves and bad debt ({usd_label(bad / USD) + ' bad debt' if bad else 'no bad debt'})")
    return fig


@dataclass(frozen=True)
class Chart:
    """One chart of the report: its file, its builder and what it shows."""

    name: str
    title: str
    caption: str
    build: Callable[[DemoResults], Figure]


CHARTS: tuple[Chart, ...] = (
    Chart("health_factors.png", "Health factors", "Every open position's health factor before the shock, right "
          "after it (before any liquidation) and at the end; below 1.0 a position can be liquidated.",
          health_distribution),
    Chart("liquidations.png", "Liquidations", "How fast the keeper cleared the wave: liquidations per block after "
          "the shocked NAV, and the debt they repaid over time, by route (only routes used are drawn).",
          liquidations_over_time),
    Chart("debt_at_risk.png", "Debt at risk", "The debt that would become liquidatable if every fund's NAV fell a "
          "further 1 %, 3 % or 5 % (from each position's collateral at the liquidation threshold and its debt), "
          "beside the debt liquidatable at that moment: how close the book stood to a wave just before the shock, "
          "and how close it stands at the end, after the liquidations. Every daily sample is in results.json "
          "(risk_samples).", debt_at_risk),
    Chart("collateral_debt.png", "Collateral and debt", "The value of all collateral posted and the debt, "
          "at each sample.", collateral_and_debt),
    Chart("utilization_rates.png", "Utilisation and rates", "Utilisation (left axis, blue) and the borrow and "
          "supply rates (right axis, red).", utilization_and_rates),
    Chart("share_price.png", "Lender share price", "What one lender share is worth in USDC: a loss to lenders "
          "would show as a drop.", share_price),
    Chart("facility_liquidity.png", "Redemption facilities", "The stablecoin each issuer's facility holds for "
          "the redeem route, and how much of its rolling daily limit redemptions used.", facility_liquidity),
    Chart("nav_path.png", "NAV path", "The NAV each feed gave the market; shaded where it was older than the "
          "market's maximum age (borrowing stops, liquidation stays open).", nav_path),
    Chart("bonuses.png", "Liquidation bonus", "The bonus the borrowers paid, to the liquidators and the "
          "protocol's share.", bonuses),
    Chart("reserves_bad_debt.png", "Reserves and bad debt", "The market's reserves, and any debt written off "
          "(reserves absorb it first, then lenders).", reserves_and_bad_debt),
)


def draw_all(results: DemoResults, directory: Path) -> list[Path]:
    """Draws every chart into ``directory``; returns the files."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for chart in CHARTS:
        path = directory / chart.name
        chart.build(results).savefig(path, dpi=DPI)
        paths.append(path)
    return paths
