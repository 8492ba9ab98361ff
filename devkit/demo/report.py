"""The demo's outputs made from a :class:`devkit.demo.results.DemoResults`:
the terminal summary table (rich), the Markdown report, the same report as
one HTML page, and the raw JSON.

:func:`write_report` writes ``report.md``, ``report.html``, ``results.json``
and the charts (:mod:`devkit.demo.charts`) into one directory
(``reports/demo/`` by default). The HTML page is the Markdown converted by
the ``markdown`` package (tables extension): the same content, the charts
referenced by relative file names, an inline style sheet and no script.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import markdown
from rich.table import Table

from devkit.demo import charts
from devkit.demo.results import RISK_DROPS_BPS, ROUTES, DemoResults, Summary
from devkit.seeding import USD

REPORT_NAME = "report.md"
HTML_NAME = "report.html"
RESULTS_NAME = "results.json"
# The HTML page's style sheet (inline: the page is one self-contained file
# beside its charts).
HTML_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0 1.5em; }
code { background: #f3f3f3; padding: 0 0.2em; }
"""


@dataclass(frozen=True)
class ReportFiles:
    """The files one report consists of."""

    markdown: Path
    results: Path
    charts: tuple[Path, ...]
    html: Path


def _usd(units: int) -> str:
    return f"${units / USD:,.2f}"


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}"


def _change(summary: Summary) -> str:
    change = summary.share_price_change
    return "-" if change is None else f"{change:+.4%}"


def _at_risk(figures: dict[int, int] | None) -> str:
    if figures is None:
        return "not recorded"
    return " / ".join(charts.usd_label(figures[drop] / USD) for drop in RISK_DROPS_BPS)


def _drops(separator: str = "/") -> str:
    return separator.join(f"{drop / 100:g}" for drop in RISK_DROPS_BPS) + " %"


def summary_rows(results: DemoResults) -> list[tuple[str, str]]:
    """The summary as (label, value) rows, shared by the table and the report."""
    s = results.summary()
    rows = [
        ("positions before the shock", f"{s.positions_before}"),
        ("predicted liquidatable after shock", f"{s.expected_liquidatable}"),
        ("borrowers liquidated", f"{s.liquidated_borrowers} (of them expected: {s.expected_hit})"),
        ("  of them closed", f"{s.closed_by_liquidation} (no debt left)"),
        ("  of them partially liquidated", f"{s.partially_liquidated} (still open)"),
        ("never liquidated", f"{s.untouched}"),
        ("positions open at the end", f"{s.positions_after}"),
        ("  of them healthy", f"{s.healthy_after}"),
        ("  of them still liquidatable", f"{s.liquidatable_after}"),
    ]
    for route in (*ROUTES, *[r for r in s.by_route if r not in ROUTES]):
        rows.append(
            (f"liquidations, {route} route", f"{s.by_route.get(route, 0)} ({_usd(s.repaid_by_route.get(route, 0))} repaid)")
        )
    rows.append(("bonus to liquidators / protocol", f"{_usd(s.bonus_to_liquidators)} / {_usd(s.bonus_to_protocol)}"))
    rows.append((f"debt at risk, NAV -{_drops()}: before", _at_risk(s.at_risk_before)))
    rows.append((f"debt at risk, NAV -{_drops()}: at end", _at_risk(s.at_risk_after)))
    rows.append(("bad debt", _usd(s.bad_debt)))
    rows.append(
        ("lender share price", f"{_price(s.share_price_before)} -> {_price(s.share_price_after)} ({_change(s)})")
    )
    if s.latency is None:
        rows.append(("keeper latency (blocks after NAV)", "no liquidation after the shock"))
    else:
        rows.append(
            (
                "keeper latency (blocks after NAV)",
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


def _chart_section(name: str) -> list[str]:
    chart = next((c for c in charts.CHARTS if c.name == name), None)
    if chart is None:
        return [f"![{name}]({name})", ""]
    return [f"### {chart.title}", "", chart.caption, "", f"![{chart.title}]({name})", ""]


def render_markdown(results: DemoResults, chart_names: list[str]) -> str:
    """The Markdown report (charts referenced by file name, each with its
    title and what it shows)."""
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
        "A liquidated borrower is either closed (its debt fully repaid) or partially liquidated (the close "
        "factor took part of its debt and the position stays open, healthy again); the positions open at the "
        "end include the partially liquidated ones, and never liquidated counts the positions no liquidation "
        "touched. Debt at risk is the debt that would become liquidatable if every fund's NAV fell a further "
        f"{_drops(' / ')} from that moment's prices (before the shock, and at the end).",
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
    for name in chart_names:
        lines += _chart_section(name)
    lines += [f"Raw results: [`{RESULTS_NAME}`]({RESULTS_NAME}).", ""]
    stamp = datetime.now(tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines += [f"_Generated {stamp}._", ""]
    return "\n".join(lines)


def render_html(results: DemoResults, text: str) -> str:
    """The Markdown report ``text`` as one HTML page (no script)."""
    body = markdown.markdown(text, extensions=["tables"], output_format="html")
    title = html.escape(f"navlend demo: {results.title}")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
        f"<style>{HTML_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def write_report(results: DemoResults, directory: Path) -> ReportFiles:
    """Writes the JSON, the charts, and the Markdown and HTML reports into
    ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    results_path = directory / RESULTS_NAME
    results_path.write_text(json.dumps(results.to_json(), indent=2) + "\n")
    chart_paths = charts.draw_all(results, directory)
    text = render_markdown(results, [p.name for p in chart_paths])
    markdown_path = directory / REPORT_NAME
    markdown_path.write_text(text)
    html_path = directory / HTML_NAME
    html_path.write_text(render_html(results, text))
    return ReportFiles(markdown=markdown_path, results=results_path, charts=tuple(chart_paths), html=html_path)


def load_results(path: Path) -> DemoResults:
    """Reads a ``results.json`` written by :func:`write_report`."""
    return DemoResults.from_json(json.loads(path.read_text()))
