"""The 100,000-position keeper benchmark (``python -m devkit.bench_book``)
at smoke size: 3,000 positions over three markets, a few steady blocks,
then the 1 % NAV drop. Asserted: the report's shape and that the keeper
liquidated every position the drop sank; never a timing (the figures are
the benchmark's output, not a test's).

It runs in a subprocess: the benchmark starts its own anvil and connects
Ape to it, which this session's provider must not see."""

from __future__ import annotations

import json
import subprocess
import sys

from devkit.paths import ROOT


def test_bench_book__smoke_3000_positions__report_shape_and_every_sunk_position_liquidated(tmp_path):
    out = tmp_path / "figures.json"
    args = [sys.executable, "-m", "devkit.bench_book", "--positions", "3000", "--steady-blocks", "3",
            "--warmup-blocks", "2", "--cache", str(tmp_path / "cache"), "--workdir", str(tmp_path / "work"),
            "--drop-timeout", "240", "--json", str(out)]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "keeper work per block, median / p95 (ms)" in done.stdout
    report = json.loads(out.read_text())
    assert (report["positions"], report["markets"], report["steady_blocks"]) == (3000, 3, 3)
    assert set(report["work"]) == {"count", "median", "p95", "max"} and report["work"]["count"] >= 1
    assert report["calls"]["blocks"] == 3 and report["calls"]["calls"] > 0 and report["calls"]["by_method"]
    assert report["peak_rss_mib"] > 0 and set(report["targets"]) == {"work_ms", "calls_per_block",
                                                                      "blocks_to_last", "memory_mib"}
    [drop] = report["drops"]
    # 1 % of 3,000, give or take the cluster the cut keeps whole.
    assert 15 <= drop["planned"] <= 45 and 0 < drop["drop_bps"] < 10_000
    assert drop["liquidatable"] > 0
    assert drop["liquidated"] == drop["liquidatable"], drop
    assert drop["last_block"] > drop["nav_block"] and drop["blocks_to_last"] >= 1
    assert drop["keeper_transactions"] >= 1 and drop["gas_per_position"] > 0
