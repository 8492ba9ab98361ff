"""The gas comparison as a rich table: gas per operation for navlend and
each peer, then navlend's ratio to each peer against its target."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from devkit.gasbench.scenario import OPERATIONS
from devkit.gasbench.bench import SUBJECT, TARGETS, BenchResult, GasComparison
from devkit.gasbench.routes import NATIVE, REDEEM_REPAY, SEIZE_REPAY, RouteComparison

# The table's natural width (a pipe's default of 80 columns would squeeze it).
TABLE_WIDTH = 100
# The README block that ``ape run bench_gas --readme README.md`` rewrites.
README_BEGIN = "<!-- bench-gas:begin (written by `make bench`) -->"
README_END = "<!-- bench-gas:end -->"


def gas_table(comparison: GasComparison, title: str) -> Table:
    targets = ", ".join(f"{SUBJECT}/{target.short} ≤ {target.max_ratio:.1f}" for target in TARGETS)
    table = Table(title=title, caption=f"targets on every operation: {targets}")
    table.add_column("operation", no_wrap=True)
    table.add_column(SUBJECT, justify="right")
    for target in TARGETS:
        table.add_column(comparison.peers[target.key].protocol, justify="right")
    for target in TARGETS:
        table.add_column(f"{SUBJECT}/{target.short}", justify="right")
    for op in OPERATIONS:
        cells = [op, f"{comparison.subject.gas[op]:,}"]
        cells += [f"{comparison.peers[target.key].gas[op]:,}" for target in TARGETS]
        cells += [
            _verdict(comparison.ratio(target.key, op), comparison.passes(target, op))
            for target in TARGETS
        ]
        table.add_row(*cells)
    return table


ROUTE_HEAD = (
    "market",
    "route",
    "gasUsed",
    f"vs {NATIVE}",
    "navlend side",
    "adapters",
    "issuer contracts",
    "refund",
)
ROUTE_CAPTION = (
    f"seize repays {SEIZE_REPAY:,}, redeem {REDEEM_REPAY:,} (Ondo's minimum). gasUsed = "
    "navlend side (market, loan token, 21,000 base) + adapters (their own code) + issuer "
    "contracts (here the doubles: not the real issuers' gas) - refund"
)


def route_cells(routes: RouteComparison) -> list[list[str]]:
    """One row of cells per liquidation, in :data:`ROUTE_HEAD`'s order."""
    return [
        [
            row.market,
            row.route,
            f"{row.gas:,}",
            f"{routes.ratio(row.market, row.route):.3f}x",
            f"{row.navlend_side:,}",
            f"{row.adapters:,}",
            f"{row.issuer_contracts:,}",
            f"{row.refund:,}",
        ]
        for row in routes.rows
    ]


def route_table(routes: RouteComparison, title: str) -> Table:
    """Liquidation by route on the native market and the issuers' markets."""
    table = Table(title=title, caption=ROUTE_CAPTION)
    for index, head in enumerate(ROUTE_HEAD):
        table.add_column(head, justify="left" if index < 2 else "right", no_wrap=index < 2)
    for cells in route_cells(routes):
        table.add_row(*cells)
    return table


def route_markets(routes: RouteComparison) -> list[str]:
    """One line per market: what its collateral's issuer side is."""
    return [f"{key}: {name}" for key, name in routes.markets.items()]


def summary(comparison: GasComparison) -> str:
    """One line: every target met, or the operations that miss one."""
    failures = comparison.failures()
    if not failures:
        return "[green]pass[/green]: every operation meets both targets"
    misses = ", ".join(f"{op} {ratio:.3f}x {peer}" for peer, op, ratio in failures)
    return f"[red]fail[/red]: over target on {misses}"


def _verdict(ratio: float, passed: bool) -> str:
    colour, word = ("green", "pass") if passed else ("red", "FAIL")
    return f"[{colour}]{ratio:.3f}x {word}[/{colour}]"


def wide_console() -> Console:
    """The terminal's console, at least :data:`TABLE_WIDTH` columns wide."""
    console = Console()
    return console if console.width >= TABLE_WIDTH else Console(width=TABLE_WIDTH)


def markdown_table(result: BenchResult) -> str:
    """The run as the README shows it: where and when it ran, then one row
    per operation with the ratios (a miss in bold)."""
    comparison = result.comparison
    head = ["operation", SUBJECT] + [comparison.peers[t.key].protocol for t in TARGETS]
    head += [f"{SUBJECT}/{t.short}" for t in TARGETS]
    lines = [
        f"Latest run: {result.date[:10]} ({result.date}), `--tokens {result.tokens.key}`, "
        f"commit {result.versions.navlend_commit}; {result.machine.describe()}. "
        "Receipt `gasUsed`, 21,000 base included.",
        "",
        "| " + " | ".join(head) + " |",
        "| --- |" + " ---: |" * (len(head) - 1),
    ]
    for op in OPERATIONS:
        cells = [op, f"{comparison.subject.gas[op]:,}"]
        cells += [f"{comparison.peers[t.key].gas[op]:,}" for t in TARGETS]
        for t in TARGETS:
            ratio = f"{comparison.ratio(t.key, op):.3f}"
            cells.append(ratio if comparison.passes(t, op) else f"**{ratio}**")
        lines.append("| " + " | ".join(cells) + " |")
    failures = comparison.failures()
    verdict = (
        "Every operation meets both targets "
        + " and ".join(f"({SUBJECT}/{t.short} ≤ {t.max_ratio:.1f})" for t in TARGETS)
        + "."
        if not failures
        else "Over target: " + ", ".join(f"{op} {ratio:.3f}x {peer}" for peer, op, ratio in failures) + "."
    )
    routes = [
        "",
        "Liquidation by route, on the native market and over the issuers' doubles "
        f"({ROUTE_CAPTION}):",
        "",
        "| " + " | ".join(ROUTE_HEAD) + " |",
        "| --- | --- |" + " ---: |" * (len(ROUTE_HEAD) - 2),
    ]
    routes += ["| " + " | ".join(cells) + " |" for cells in route_cells(result.routes)]
    return "\n".join(lines + ["", verdict] + routes)


def replace_block(text: str, content: str) -> str:
    """``text`` with what lies between :data:`README_BEGIN` and
    :data:`README_END` replaced by ``content``; refuses a text without
    exactly one such block (nothing is guessed)."""
    if text.count(README_BEGIN) != 1 or text.count(README_END) != 1:
        raise ValueError(f"expected one '{README_BEGIN}' ... '{README_END}' block")
    head, rest = text.split(README_BEGIN)
    _, tail = rest.split(README_END)
    if README_END in head:
        raise ValueError("the block's end marker comes before its start")
    return f"{head}{README_BEGIN}\n{content}\n{README_END}{tail}"
