"""The demo's summary, report and results file, built from a synthetic
results object (pure: no chain; the ``results`` fixture is in conftest.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from rich.console import Console

from devkit.demo.charts import CHARTS
from devkit.demo.report import (
    HTML_NAME,
    RESULTS_NAME,
    load_results,
    render_markdown,
    summary_rows,
    summary_table,
    write_report,
)
from devkit.demo.results import (
    DemoResults,
    NavUpdate,
    RedemptionRecord,
    bonus_split,
    debt_at_risk,
    latency,
    limit_used,
    limit_used_path,
    liquidatable_after_drop,
    stale_windows,
)

from synthetic_run import DAY, SHOCK_TIME, USD, liquidation, state


def test_summary__counts_positions_routes_latency_and_bad_debt(results):
    s = results.summary()
    assert s.positions_before == 5 and s.positions_after == 4
    assert s.liquidatable_before == 2 and s.liquidatable_after == 1 and s.healthy_after == 3
    assert s.liquidations == 3 and s.liquidated_borrowers == 2
    assert s.by_route == {"redeem": 2, "seize": 1}
    assert s.repaid_by_route == {"redeem": 25_000 * USD, "seize": 10_000 * USD}
    assert (s.expected_liquidatable, s.expected_hit) == (3, 2)
    assert s.bad_debt == 7 * USD
    assert (s.latency.first, s.latency.median, s.latency.last) == (1, 1, 4)
    assert s.share_price_before == results.samples[1].share_price
    assert s.share_price_after == results.samples[-1].share_price
    assert s.share_price_change == pytest.approx(1.0003 / 1.0002 - 1)


def test_summary__liquidated_borrowers__split_into_closed_and_partially_liquidated(results):
    s = results.summary()
    # Borrower 0 has no debt left, borrower 1 still owes; 2, 3 and 5 were never hit.
    assert (s.closed_by_liquidation, s.partially_liquidated, s.untouched) == (1, 1, 3)
    assert s.closed_by_liquidation + s.partially_liquidated == s.liquidated_borrowers


def test_summary__every_position_liquidated_partially__none_closed_all_still_open():
    before = [state(i, 0.97) for i in range(3)]
    after = [state(i, 1.05, debt=25_000 * USD) for i in range(3)]
    run = DemoResults(
        scenario="s", title="t", story="", borrowers=3, risk={}, shock_factor=0.97, before=before, after=after,
        liquidations=[liquidation(i, 1_001, "redeem", 25_000 * USD) for i in range(3)],
    )
    s = run.summary()
    assert (s.closed_by_liquidation, s.partially_liquidated, s.untouched) == (0, 3, 0)
    assert s.positions_after == 3 and s.healthy_after == 3


def test_summary__no_liquidation__has_no_latency_and_zero_routes(results):
    results.liquidations = []
    s = results.summary()
    assert s.latency is None and s.by_route == {"redeem": 0, "seize": 0} and s.liquidated_borrowers == 0
    assert s.bonus_to_liquidators == 0 and s.bonus_to_protocol == 0


def test_latency__without_a_shock_block__is_unknown(results):
    assert latency(results.liquidations, None) is None


def test_bonus_split__protocol_keeps_its_share_of_the_seized_units(results):
    first = results.liquidations[0]  # repaid 20,000, seized 20,600 units, 103 kept by the protocol
    to_liquidator, to_protocol = bonus_split(first, 300)
    assert to_liquidator + to_protocol == 600 * USD
    assert to_protocol == 20_600 * USD * 103 // 20_600
    assert bonus_split(results.liquidations[1], 300) == (300 * USD, 0)
    s = results.summary()
    assert (s.bonus_to_liquidators, s.bonus_to_protocol) == (1_050 * USD - 103 * USD, 103 * USD)


def test_debt_at_risk__counts_debt_whose_threshold_value_a_drop_pushes_below_it():
    positions = [state(0, 0.99), state(1, 1.02), state(2, 1.04), state(3, 1.06), state(4, None)]
    assert debt_at_risk(positions, 0) == (50_000 * USD, 1)
    assert debt_at_risk(positions, 300) == (100_000 * USD, 2)  # 1.02 x 0.97 < 1, 1.04 x 0.97 > 1
    assert debt_at_risk(positions, 500) == (150_000 * USD, 3)
    assert not liquidatable_after_drop(state(5, 1 / 0.97 + 1e-9), 300)


def test_debt_at_risk__without_position_values__uses_the_health_factor():
    old = replace(state(0, 1.02), liquidation_value=None)
    assert liquidatable_after_drop(old, 300) and not liquidatable_after_drop(old, 100)


def test_summary__debt_at_risk_before_and_after(results):
    s = results.summary()
    assert s.at_risk_before == {100: 100_000 * USD, 300: 100_000 * USD, 500: 100_000 * USD}
    assert s.at_risk_after == {100: 20_000 * USD, 300: 20_000 * USD, 500: 20_000 * USD}


def test_limit_used__fills_on_payouts_and_drains_at_the_limit_per_day():
    paid = [
        RedemptionRecord("fund_a", 1, 1_000, 1, 40 * USD),
        RedemptionRecord("fund_a", 2, 1_000 + DAY // 4, 1, 10 * USD),
    ]
    limit = 100 * USD
    assert limit_used(paid, limit, 999) == 0
    assert limit_used(paid, limit, 1_000) == 40 * USD
    # A quarter day drains 25, then 10 more are paid.
    assert limit_used(paid, limit, 1_000 + DAY // 4) == 25 * USD
    assert limit_used(paid, limit, 1_000 + DAY // 2) == 0
    path = limit_used_path(paid, limit, 0, 2 * DAY)
    assert (1_000, 40 * USD) in path and path[-1] == (2 * DAY, 0)
    assert max(u for _, u in path) == 40 * USD


def test_stale_windows__a_nav_older_than_the_max_age__is_a_window_until_the_next():
    updates = [
        NavUpdate(day=0, block=1, timestamp=1_000, oracle="fund_a", nav=1, confirmed=False, as_of=900),
        NavUpdate(day=4, block=9, timestamp=900 + 150, oracle="fund_a", nav=1, confirmed=False, as_of=1_040),
    ]
    assert stale_windows(updates, 100, 2_000) == [(1_000, 1_050), (1_140, 2_000)]
    assert stale_windows(updates, 10_000, 2_000) == []


def test_shock_time__old_results_without_it__come_from_the_confirmed_nav(results):
    assert results.shock_time() == SHOCK_TIME
    assert replace(results, shock_timestamp=None).shock_time() == SHOCK_TIME


def test_results__json_round_trip__is_exact(results):
    data = json.loads(json.dumps(results.to_json()))
    assert DemoResults.from_json(data) == results


def test_results__json_from_before_the_new_fields__loads_with_defaults(results):
    data = json.loads(json.dumps(results.to_json()))
    for name in ("shock_timestamp", "risk_samples", "facility_samples", "redemptions", "max_oracle_age"):
        del data[name]
    for item in data["before"] + data["after"]:
        del item["liquidation_value"]
    for item in data["liquidations"]:
        del item["protocol_fee"]
    for item in data["samples"]:
        del item["collateral_value"]
    for item in data["nav_updates"]:
        del item["as_of"]
    for item in data["bad_debt"]:
        del item["timestamp"]
    old = DemoResults.from_json(data)
    assert old.redemptions == [] and old.shock_timestamp is None and old.max_oracle_age == {}
    assert old.before[0].liquidation_value is None and old.liquidations[0].protocol_fee == 0
    assert old.shock_time() == SHOCK_TIME
    assert old.summary().liquidations == 3


def test_results__json_with_unknown_fields__is_refused(results):
    data = results.to_json() | {"surprise": 1}
    with pytest.raises(ValueError, match="surprise"):
        DemoResults.from_json(data)


def test_summary_table__renders_every_row(results):
    console = Console(record=True, width=200)
    console.print(summary_table(results))
    text = console.export_text()
    for label, value in summary_rows(results):
        assert label.strip() in text and value in text


def test_summary_rows__say_closed_partial_and_untouched(results):
    rows = dict((label.strip(), value) for label, value in summary_rows(results))
    assert rows["of them closed"] == "1 (no debt left)"
    assert rows["of them partially liquidated"] == "1 (still open)"
    assert rows["never liquidated"] == "3"
    assert rows["positions open at the end"] == "4"
    assert rows["bonus to liquidators / protocol"] == "$947.00 / $103.00"
    assert rows["debt at risk, NAV -1/3/5 %: before"] == "$100k / $100k / $100k"
    assert rows["debt at risk, NAV -1/3/5 %: at end"] == "$20k / $20k / $20k"


def test_summary_table__fits_an_80_column_terminal_without_wrapping(results):
    console = Console(record=True, width=80)
    console.print(summary_table(results))
    lines = console.export_text().splitlines()
    for label, value in summary_rows(results):
        assert any(label.strip() in line and value in line for line in lines)


def test_markdown__shows_the_summary_and_references_the_charts(results):
    text = render_markdown(results, ["a.png", "health_factors.png"])
    assert "![a.png](a.png)" in text and "![Health factors](health_factors.png)" in text
    assert "### Health factors" in text
    assert "seize route | 1 ($10,000.00 repaid)" in text
    assert "bad debt | $7.00" in text
    assert "of them partially liquidated | 1 (still open)" in text
    assert RESULTS_NAME in text


def test_markdown__says_what_debt_at_risk_means(results):
    text = render_markdown(results, [c.name for c in CHARTS])
    assert "further 1 / 3 / 5 %" in text and "further 1 %, 3 % or 5 %" in text
    assert "just before the shock" in text and "at the end, after the liquidations" in text


class _Page(HTMLParser):
    """The <img> sources, table cells and scripts of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.cells = 0
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        self.cells += tag == "td"
        self.scripts += tag == "script"


def test_write_report__writes_markdown_html_json_and_every_chart(results, tmp_path):
    files = write_report(results, tmp_path / "out")
    assert files.markdown.read_text().startswith("# navlend demo")
    assert load_results(files.results) == results
    assert [c.name for c in files.charts] == [c.name for c in CHARTS] and len(files.charts) == 10
    for chart in files.charts:
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5_000
    assert files.html.name == HTML_NAME
    page = _Page()
    page.feed(files.html.read_text())
    assert page.images == [c.name for c in files.charts]  # relative: beside the page
    assert page.cells >= 2 * len(summary_rows(results)) and page.scripts == 0
    assert "<title>navlend demo: The fund breaks the buck</title>" in files.html.read_text()


def test_write_report__empty_run__still_draws_every_chart(results, tmp_path):
    empty = DemoResults(
        scenario=results.scenario, title=results.title, story="", borrowers=0, risk={}, shock_factor=0.97
    )
    files = write_report(empty, tmp_path)
    assert len(files.charts) == len(CHARTS) and all(c.exists() for c in files.charts)
    assert "no liquidation after the shock" in files.markdown.read_text()
    assert "debt at risk, NAV -1/3/5 %: at end | not recorded" in files.markdown.read_text()
