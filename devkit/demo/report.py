"""The demo's outputs made from a :class:`devkit.demo.results.DemoResults`:
the terminal summary table (rich), the Markdown report and the raw JSON.

:func:`write_report` writes ``report.md``, ``results.json`` and the charts
(:mod:`devkit.demo.charts`) into one directory (``reports/demo/`` by default).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from rich.table import Table

from devkit.demo import charts
from devkit.demo.results import ROUTES, DemoResults, Summary
from devkit.seeding import USD

REPORT_NAME = "report.md"
RESULTS_NAME = "results.json"


@dataclass(frozen=True)
class ReportFiles:
    """The files one report consists of."""

    markdown: Path
    results: Path
    charts: tuple[Path, ...]


def _usd(units: int) -> str:
    return f"${units / USD:,.2f}"


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}"


def _change(summary: Summary) -> str:
    change = summary.share_price_change
    return "-" if change is None else f"{change:+.4%}"


def summary_rows(results: DemoResults) -> list[tuple[str, str]]:
    """The summary as (label, value) rows, shared by the table and the report."""
    s = results.summary()
    rows = [
        ("positions before the shock", f"{s.positions_before}"),
        ("liquidatable after the shock (predicted)", f"{s.expected_liquidatable}"),
        ("borrowers liquidated", f"{s.liquidated_borrowers} (of them expected: {s.expected_hit})"),
        ("positions at the end", f"{s.positions_after}"),
        ("  healthy", f"{s.healthy_after}"),
        ("  still liquidatable", f"{s.liquidatable_after}"),
    ]
    for route in (*ROUTES, *[r for r in s.by_route if r not in ROUTES]):
        rows.append(
            (f"liquidations, {route} route", f"{s.by_route.get(route, 0)} ({_usd(s.repaid_by_route.get(route, 0))} repaid)")
        )
    rows.append(("bad debt", _usd(s.bad_debt)))
    rows.append(
        ("lender share price", f"{_price(s.share_price_before)} -> {_price(s.share_price_after)} ({_change(s)})")
    )
    if s.latency is None:
        rows.append(("keeper latency (blocks after the NAV)", "no liquidation after the shock"))
    else:
        rows.append(
            (
                "keeper latency (blocks after the NAV)",
                f"first {s.latency.first}, median {s.latency.median:g}, last {s.latency.last}",
            )
        )
    return rows


def summary_table(results: DemoResults) -> Table:
    """The terminal summary table."""
    table = Table(title=f"navlend demo: {results.title} ({results.scenario})")
    table.add_column("measure", style="bold")
    table.add_column("value", justify="right")
    for label, value in summary_rows(results):
        table.add_row(label, value)
    return table


def _markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render_markdown(results: DemoResults, chart_names: list[str]) -> str:
    """The Markdown report (charts referenced by file name, side by side)."""
    risk = results.risk
    lines = [
        f"# navlend demo: {results.title}",
        "",
        f"Scenario `{results.scenario}`, {results.borrowers} borrowers. {results.story}",
        "",
        f"Listing used: LTV {risk.get('ltv_bps', 0) / 100:.2f} %, liquidation threshold "
        f"{risk.get('threshold_bps', 0) / 100:.2f} %, bonus {risk.get('bonus_bps', 0) / 100:.2f} %; "
        f"shock: NAV x {results.shock_factor}.",
        "",
        "## Summary",
        "",
        *_markdown_table(("measure", "value"), [(a.strip(), b) for a, b in summary_rows(results)]),
        "",
    ]
    if results.keeper:
        lines += ["## Keeper", "", *[f"- {k}: {v}" for k, v in results.keeper.items()], ""]
    if results.probes:
        lines += ["## Probes", ""]
        lines += _markdown_table(
            ("day", "probe", "refused", "outcome"),
            [(str(p.day), p.name, "yes" if p.refused else "no", p.outcome) for p in results.probes],
        )
        lines.append("")
    if results.nav_updates:
        lines += ["## NAV updates", ""]
        lines += _markdown_table(
            ("day", "block", "oracle", "NAV", "guardian"),
            [
                (str(u.day), str(u.block), u.oracle, f"{u.nav / 1e8:.6f}", "confirmed" if u.confirmed else "")
                for u in results.nav_updates
            ],
        )
        lines.append("")
    if results.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in results.notes], ""]
    if results.timings:
        lines += ["## Run time", ""]
        lines += _markdown_table(("phase", "seconds"), [(k, f"{v:.1f}") for k, v in results.timings.items()])
        lines.append("")
    lines += ["## Charts", ""]
    lines += [f"![{name}]({name})" for name in chart_names]
    lines += ["", f"Raw results: [`{RESULTS_NAME}`]({RESULTS_NAME}).", ""]
    stamp = datetime.now(tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines += [f"_Generated {stamp}._", ""]
    return "\n".join(lines)


def write_report(results: DemoResults, directory: Path) -> ReportFiles:
    """Writes the JSON, the charts and the Markdown report into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    results_path = directory / RESULTS_NAME
    results_path.write_text(json.dumps(results.to_json(), indent=2) + "\n")
    chart_paths = charts.draw_all(results, directory)
    markdown = directory / REPORT_NAME
    markdown.write_text(render_markdown(results, [p.name for p in chart_paths]))
    return ReportFiles(markdown=markdown, results=results_path, charts=tuple(chart_paths))


def load_results(path: Path) -> DemoResults:
    """Reads a ``results.json`` written by :func:`write_report`."""
    return DemoResults.from_json(json.loads(path.read_text()))
