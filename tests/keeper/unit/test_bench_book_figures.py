"""devkit.bench_book_figures: the drop that sinks 1 % of a book, the
statistics of the keeper's per-block work, the probe's lines, the RPC
call rate and the report; devkit.bench_probe's target parsing and timing."""

from __future__ import annotations

import json
import os

import pytest

from devkit import bench_probe
from devkit.bench_book_figures import (
    BenchReport,
    DropFigures,
    FiguresError,
    ProbeRecord,
    block_work,
    call_rate,
    choose_drop,
    health_now,
    liquidatable_after,
    parse_probe_lines,
    parse_vmhwm,
    peak_rss_mib,
    percentile,
    render,
    spread,
)
from navlend.constants import WAD


def _book(risky: int, safe: int) -> list[int]:
    """``risky`` positions at health ~1.065 (a cluster), ``safe`` ones spread over 1.125..1.5."""
    risky_h = [WAD * 1065 // 1000 + i for i in range(risky)]
    safe_h = [WAD * (1125 + (375 * i) // max(safe - 1, 1)) // 1000 for i in range(safe)]
    return risky_h + safe_h


def test_choose_drop__a_risky_cluster_near_one_percent__sinks_exactly_the_cluster():
    healths = _book(1_012, 98_988)
    choice = choose_drop(healths, 100)
    assert choice.expected == 1_012
    assert liquidatable_after(healths, choice.drop_bps) == 1_012
    # The cut sits between the cluster and the safe ones, with room either side.
    assert choice.low < WAD * 1066 // 1000 and choice.high == WAD * 1125 // 1000
    assert 600 < choice.drop_bps < 1_100


def test_choose_drop__healths_already_below_one__counted_and_no_smaller_cut():
    healths = [WAD * 99 // 100] * 5 + _book(10, 985)
    choice = choose_drop(healths, 100)
    assert choice.expected == 15
    assert liquidatable_after(healths, 0) == 5


@pytest.mark.parametrize(
    ("healths", "fraction", "message"),
    [([], 100, "no positions"), ([WAD], 0, "fraction_bps"), ([WAD, 0], 100, "positive"),
     ([WAD * 9 // 10] * 10, 100, "no cut")],
)
def test_choose_drop__bad_input__named(healths, fraction, message):
    with pytest.raises(FiguresError, match=message):
        choose_drop(healths, fraction)


def test_health_now__index_grew__health_falls_in_proportion_and_a_falling_index_refused():
    assert health_now(2 * WAD, WAD, 2 * WAD) == WAD
    with pytest.raises(FiguresError, match="borrow index"):
        health_now(WAD, 2 * WAD, WAD)


def test_percentile__linear_between_ranks__and_no_samples_refused():
    assert percentile([1, 2, 3, 4, 5], 0.5) == 3
    assert percentile(list(range(1, 101)), 0.95) == pytest.approx(95.05)
    assert spread([10.0, 30.0, 20.0]).median == 20.0
    with pytest.raises(FiguresError, match="no samples"):
        percentile([], 0.5)
    with pytest.raises(FiguresError, match="quantile"):
        percentile([1.0], 1.5)


def _line(pid: int, block: int | None, ms: float, skipped: bool = False, rss: int = 1024) -> str:
    return json.dumps({"pid": pid, "block": block, "ms": ms, "skipped": skipped, "maxrss_kib": rss})


def test_parse_probe_lines__good_lines_and_a_torn_last_line__read_and_torn_one_dropped():
    lines = [_line(1, 10, 5.0), "", _line(2, 10, 7.5, rss=4096), '{"pid": 1, "blo']
    records = parse_probe_lines(lines)
    assert records == [ProbeRecord(1, 10, 5.0, False, 1024), ProbeRecord(2, 10, 7.5, False, 4096)]


def test_parse_probe_lines__a_bad_line_before_the_end__raises_with_its_number():
    with pytest.raises(FiguresError, match="line 1 is not JSON"):
        parse_probe_lines(["nope", _line(1, 1, 1.0)])
    with pytest.raises(FiguresError, match="lacks a field"):
        parse_probe_lines([json.dumps({"pid": 1}), _line(1, 1, 1.0)])


def test_block_work__processes_summed_per_block__skipped_and_unworked_counted():
    records = parse_probe_lines([
        _line(1, 10, 5.0), _line(2, 10, 7.0), _line(1, 11, 3.0), _line(1, 11, 0.1, skipped=True),
        _line(1, 9, 99.0), _line(1, None, 50.0), _line(1, 13, 4.0),
    ])
    work = block_work(records, 10, 13)
    assert dict(work.per_block_ms) == {10: 12.0, 11: 3.0, 13: 4.0}
    assert (work.unworked_blocks, work.skipped_calls) == (1, 1)
    assert work.stats.median == 4.0 and work.stats.max == 12.0
    with pytest.raises(FiguresError, match="worked none"):
        block_work(records, 20, 25)
    with pytest.raises(FiguresError, match="empty block range"):
        block_work(records, 5, 4)


def test_peak_rss_and_vmhwm__the_peak_per_process__and_a_status_without_it_refused():
    records = parse_probe_lines([_line(1, 1, 1.0, rss=2048), _line(1, 2, 1.0, rss=1024), _line(2, 1, 1.0, rss=512)])
    assert peak_rss_mib(records) == {1: 2.0, 2: 0.5}
    assert parse_vmhwm("Name:\tpython\nVmPeak:\t  900 kB\nVmHWM:\t  123456 kB\n") == 123456
    with pytest.raises(FiguresError, match="VmHWM"):
        parse_vmhwm("Name:\tpython\n")


def test_call_rate__batch_elements_counted__per_block_and_bad_counts_refused():
    rate = call_rate(4, calls=22, requests=10, by_method={"eth_call": 12, "eth_getLogs": 10})
    assert rate.per_block == 5.5
    assert list(rate.by_method) == ["eth_call", "eth_getLogs"]
    with pytest.raises(FiguresError, match="over 0 blocks"):
        call_rate(0, 1, 1, {})
    with pytest.raises(FiguresError, match="inconsistent"):
        call_rate(1, 1, 2, {})


def _report(last_block: int | None, p95: float) -> BenchReport:
    drop = DropFigures(mode="one host", keeper="k", drop_bps=864, planned=1000, liquidatable=1000, liquidated=1000,
                       liquidations=1010, nav_block=100, last_block=last_block, keeper_transactions=101,
                       gas_per_position=140_000, peak_rss_mib=900.0)
    work = spread([50.0, 60.0, p95])
    return BenchReport(positions=100_000, markets=3, keeper="k", steady_blocks=3, work=work, unworked_blocks=0,
                       skipped_calls=0, calls=call_rate(3, 12, 3, {"eth_call": 12}), peak_rss_mib=900.0,
                       drops=(drop,))


def test_report__targets_met__every_row_yes_and_json_has_the_derived_figures():
    report = _report(101, 70.0)
    table = render(report)
    assert "NO" not in table.split("\n", 1)[1]
    assert "[one host] blocks from NAV update to last liquidation" in table
    data = report.to_json()
    assert data["calls"]["per_block"] == 4.0
    assert data["drops"][0]["blocks_to_last"] == 1
    assert data["targets"]["work_ms"] == 100.0


def test_report__a_drop_with_its_steady_blocks__their_row_shown():
    from dataclasses import replace

    report = _report(102, 70.0)
    report = replace(report, drops=(replace(report.drops[0], mode="split", steady_work=spread([40.0, 60.0]),
                                            steady_calls_per_block=4.5),))
    table = render(report)
    assert "[split] steady work median / p95 (ms), calls per block" in table and "50.0 / 59.0, 4.5" in table
    assert report.to_json()["drops"][0]["steady_work"]["median"] == 50.0


def test_report__slow_work_and_no_liquidation__marked_no():
    table = render(_report(None, 150.0))
    assert "NO" in table and "none" in table


def test_probe__target_parsing__module_class_method_required():
    assert bench_probe.parse_target("keepers.keeper:Keeper.on_block") == ("keepers.keeper", "Keeper", "on_block")
    with pytest.raises(bench_probe.ProbeError, match="module:Class.method"):
        bench_probe.parse_target("keepers.keeper.Keeper.on_block")


def test_probe__wrapped_method__one_line_per_call_with_block_and_peak(tmp_path):
    class Report:
        def __init__(self, block: int, skipped: bool):
            self.block, self.skipped_block = block, skipped

    class Keeper:
        def on_block(self, number: int, skip: bool = False) -> Report:
            return Report(number, skip)

    Keeper.on_block = bench_probe.wrap(Keeper.on_block, tmp_path)
    assert Keeper().on_block(7).block == 7
    Keeper().on_block(8, skip=True)
    records = parse_probe_lines((tmp_path / f"probe-{os.getpid()}.jsonl").read_text().splitlines())
    assert [(r.block, r.skipped) for r in records] == [(7, False), (8, True)]
    assert all(r.maxrss_kib > 0 and r.ms >= 0 for r in records)


def test_probe__environment__sitecustomize_first_on_the_path(tmp_path):
    env = bench_probe.probe_environment(tmp_path / "p", base={"PYTHONPATH": "/elsewhere"})
    first, *rest = env["PYTHONPATH"].split(os.pathsep)
    assert (tmp_path / "p" / "site" / "sitecustomize.py").exists() and first == str(tmp_path / "p" / "site")
    assert rest[-1] == "/elsewhere" and env[bench_probe.ENV_DIR] == str(tmp_path / "p")
    with pytest.raises(bench_probe.ProbeError):
        bench_probe.probe_environment(tmp_path / "q", "nonsense")


def _sh(name: str, script: str, logdir, group: str | None = None):
    from devkit.bench_book import ProcessSpec

    return ProcessSpec(name, ("/bin/sh", "-c", script), {}, logdir, ready_marker="keeper started", ready_group=group)


def test_launch__a_group_is_up_when_one_of_its_processes_logged_the_marker(tmp_path):
    from devkit.bench_book import launch

    launched = launch([_sh("a", "echo keeper started; sleep 30", tmp_path, "g"),
                       _sh("b", "sleep 30", tmp_path, "g")])
    try:
        launched.wait_ready(timeout=20)
        assert launched.peak_rss_mib() > 0 and set(launched.peak_rss_by_process()) == {"a", "b"}
    finally:
        launched.stop(timeout=5)
    assert all(p.poll() is not None for p in launched.procs)


def test_launch__a_process_without_its_marker__not_ready_with_its_log_and_a_dead_one_named(tmp_path):
    from devkit.bench_book import BenchError, launch

    launched = launch([_sh("quiet", "echo still starting; sleep 30", tmp_path)])
    try:
        with pytest.raises(BenchError, match="not ready after 1 s:\nquiet:\nstill starting"):
            launched.wait_ready(timeout=1)
    finally:
        launched.stop(timeout=5)
    dead = launch([_sh("dies", "echo boom; exit 3", tmp_path)])
    dead.procs[0].wait()
    with pytest.raises(BenchError, match=r"dies exited \(3\):\ndies:\nboom"):
        dead.wait_ready(timeout=5)
