"""docs/keeper-mainnet.md names metrics an operator alerts on: each one
must be a metric the keeper exports (defined in keepers/), so a renamed
metric cannot leave the guide pointing at nothing. (Its commands are run by
tests/keeper/e2e/test_keeper_guide.py.)"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "keeper-mainnet.md"

_CITED = re.compile(r"`(keeper_[a-z_]+)")
_DEFINED = re.compile(r'"(keeper_[a-z_]+)"')


def defined_metrics() -> set[str]:
    """The metric names the keeper's modules register (quoted literals)."""
    return {name for path in (ROOT / "keepers").rglob("*.py") for name in _DEFINED.findall(path.read_text())}


def test_guide__cited_metrics__all_exported():
    cited = set(_CITED.findall(GUIDE.read_text()))
    assert len(cited) >= 8
    assert not cited - defined_metrics(), f"the guide cites unknown metrics: {sorted(cited - defined_metrics())}"


def test_cited__metric_with_labels_or_comparison__its_name():
    text = "`keeper_brakes_halted == 1`, `keeper_liquidations_skipped_total{reason=\"dry_run\"}`, keeper_plain"
    assert _CITED.findall(text) == ["keeper_brakes_halted", "keeper_liquidations_skipped_total"]
