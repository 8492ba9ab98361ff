"""The demo's summary, report and charts, built from a results object
(pure: no chain)."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from devkit.demo.report import RESULTS_NAME, load_results, render_markdown, summary_rows, summary_table, write_report
from devkit.demo.results import (
    BadDebtRecord,
    DemoResults,
    LiquidationRecord,
    MarketSample,
    NavUpdate,
    PositionState,
    latency,
)

USD = 10**6
SHOCK_BLOCK = 1_000
T0 = 1_800_000_000


def _state(i: int, hf: float | None, debt: int = 50_000 * USD) -> PositionState:
    return PositionState(
        account=f"0x{i:040x}",
        kind="carry" if i % 2 else "plain",
        asset="wrapper" if i % 3 == 0 else "fund_a",
        debt=debt if hf is not None else 0,
        health_factor=hf,
        liquidatable=hf is not None and hf < 1,
    )


def _liquidation(i: int, block: int, route: str, repaid: int) -> LiquidationRecord:
    return LiquidationRecord(
        block=block,
        timestamp=T0 + (block - SHOCK_BLOCK) * 2,
        tx_hash=f"0x{block:064x}",
        borrower=f"0x{i:040x}",
        asset="fund_a",
        route=route,
        liquidator="0x" + "ab" * 20,
        repaid=repaid,
        seized=repaid * 103 // 100,
        payout=repaid * 103 // 100,
    )


def _sample(day: int, block: int, price: float, utilization: float) -> MarketSample:
    return MarketSample(
        label=f"day {day}",
        day=day,
        block=block,
        timestamp=T0 + day * 86_400,
        utilization=utilization,
        borrow_apr=0.04 * utilization / 0.9,
        supply_apr=0.036 * utilization * utilization / 0.9,
        share_price=price,
        nav_a=10_50_000_000,
        nav_b=10**8,
        total_borrows=int(utilization * 1e12),
        cash=int((1 - utilization) * 1e12),
        reserves=0,
    )


@pytest.fixture
def results() -> DemoResults:
    before = [_state(i, hf) for i, hf in enumerate([0.97, 0.98, 1.3, 1.6, None, 2.5])]
    after = [_state(0, 1.03), _state(1, 0.99), _state(2, 1.3), _state(3, 1.6), _state(4, None), _state(5, 2.5)]
    liquidations = [
        _liquidation(0, SHOCK_BLOCK + 1, "redeem", 20_000 * USD),
        _liquidation(1, SHOCK_BLOCK + 1, "seize", 10_000 * USD),
        _liquidation(1, SHOCK_BLOCK + 4, "redeem", 5_000 * USD),
    ]
    return DemoResults(
        scenario="break-the-buck",
        title="The fund breaks the buck",
        story="A story.",
        borrowers=len(before),
        risk={"ltv_bps": 9_000, "threshold_bps": 9_100, "bonus_bps": 300},
        shock_factor=0.97,
        keeper={"mode": "live"},
        timings={"seed": 3.5},
        expected_liquidatable=[before[0].account, before[1].account, before[2].account],
        before=before,
        after=after,
        liquidations=liquidations,
        bad_debt=[BadDebtRecord(block=SHOCK_BLOCK + 2, borrower=before[1].account, amount=7 * USD, from_reserves=7 * USD, socialized=0)],
        samples=[_sample(0, 10, 1.0, 0.8), _sample(1, SHOCK_BLOCK - 1, 1.0002, 0.8), _sample(2, SHOCK_BLOCK + 10, 1.0003, 0.7)],
        nav_updates=[NavUpdate(day=2, block=SHOCK_BLOCK, timestamp=T0 + 2 * 86_400, oracle="fund_a", nav=10_18_500_000, confirmed=True)],
        shock_block=SHOCK_BLOCK,
    )


def test_summary__counts_positions_routes_latency_and_bad_debt(results):
    s = results.summary()
    assert s.positions_before == 5 and s.positions_after == 5
    assert s.liquidatable_before == 2 and s.liquidatable_after == 1 and s.healthy_after == 4
    assert s.liquidations == 3 and s.liquidated_borrowers == 2
    assert s.by_route == {"redeem": 2, "seize": 1}
    assert s.repaid_by_route == {"redeem": 25_000 * USD, "seize": 10_000 * USD}
    assert (s.expected_liquidatable, s.expected_hit) == (3, 2)
    assert s.bad_debt == 7 * USD
    assert (s.latency.first, s.latency.median, s.latency.last) == (1, 1, 4)
    assert s.share_price_before == results.samples[1].share_price
    assert s.share_price_after == results.samples[-1].share_price
    assert s.share_price_change == pytest.approx(1.0003 / 1.0002 - 1)


def test_summary__no_liquidation__has_no_latency_and_zero_routes(results):
    results.liquidations = []
    s = results.summary()
    assert s.latency is None and s.by_route == {"redeem": 0, "seize": 0} and s.liquidated_borrowers == 0


def test_latency__without_a_shock_block__is_unknown(results):
    assert latency(results.liquidations, None) is None


def test_results__json_round_trip__is_exact(results):
    data = json.loads(json.dumps(results.to_json()))
    assert DemoResults.from_json(data) == results


def test_results__json_with_unknown_fields__is_refused(results):
    data = results.to_json() | {"surprise": 1}
    with pytest.raises(ValueError, match="surprise"):
        DemoResults.from_json(data)


def test_summary_table__renders_every_row(results):
    console = Console(record=True, width=160)
    console.print(summary_table(results))
    text = console.export_text()
    for label, value in summary_rows(results):
        assert label.strip() in text and value in text


def test_markdown__shows_the_summary_and_references_the_charts(results):
    text = render_markdown(results, ["a.png", "b.png"])
    assert "![a.png](a.png)" in text and "![b.png](b.png)" in text
    assert "seize route | 1 ($10,000.00 repaid)" in text
    assert "bad debt | $7.00" in text
    assert RESULTS_NAME in text


def test_write_report__writes_markdown_json_and_four_pngs(results, tmp_path):
    files = write_report(results, tmp_path / "out")
    assert files.markdown.read_text().startswith("# navlend demo")
    assert load_results(files.results) == results
    assert len(files.charts) == 4
    for chart in files.charts:
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5_000


def test_write_report__empty_run__still_draws_every_chart(results, tmp_path):
    empty = DemoResults(
        scenario=results.scenario, title=results.title, story="", borrowers=0, risk={}, shock_factor=0.97
    )
    files = write_report(empty, tmp_path)
    assert len(files.charts) == 4 and all(c.exists() for c in files.charts)
    assert "no liquidation after the shock" in files.markdown.read_text()
