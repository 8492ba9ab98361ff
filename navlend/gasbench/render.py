"""The gas comparison as a rich table: gas per operation for navlend and
each peer, then navlend's ratio to each peer against its target."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from navlend.gas_scenario import OPERATIONS
from navlend.gasbench.bench import SUBJECT, TARGETS, GasComparison

# The table's natural width (a pipe's default of 80 columns would squeeze it).
TABLE_WIDTH = 100


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
