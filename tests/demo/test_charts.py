"""The demo report's charts, drawn from a synthetic results object (pure:
no chain; the ``results`` fixture is in conftest.py): what each shows, and
that each reads on its own (labelled axes, no offset or scientific
notation, whole blocks, the shock marked on time axes)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from matplotlib import dates as mdates
from synthetic_run import DAILY_LIMIT, DAY, SHOCK_TIME, T0, USD

from devkit.demo import charts

# Charts whose x axis is time, so they must mark the shock.
TIMED = {
    "utilization_rates.png", "share_price.png", "collateral_debt.png", "facility_liquidity.png",
    "nav_path.png", "reserves_bad_debt.png",
}


def _drawn(build, results):
    fig = build(results)
    fig.draw_without_rendering()
    return fig


def _axes(fig):
    """The figure's plotting axes (twin axes included)."""
    return [ax for ax in fig.axes if ax.get_visible()]


def _shock_lines(ax):
    return [line for line in ax.get_lines() if line.get_label().startswith("shock")]


def _legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


@pytest.mark.parametrize("chart", charts.CHARTS, ids=lambda c: c.name)
def test_chart__every_axis__labelled_without_offset_or_scientific_notation(results, chart):
    fig = _drawn(chart.build, results)
    assert fig.get_suptitle() or all(ax.get_title() for ax in _axes(fig) if ax.get_xlabel())
    for ax in _axes(fig):
        assert ax.get_ylabel(), f"{chart.name}: a y axis without label"
        assert ax.get_xlabel() or ax.get_xticklabels(), f"{chart.name}: an x axis without label"
        for axis in (ax.xaxis, ax.yaxis):
            assert axis.get_offset_text().get_text() == ""
            assert not any("e+" in t.get_text() or "e-" in t.get_text() for t in axis.get_ticklabels())


@pytest.mark.parametrize("chart", [c for c in charts.CHARTS if c.name in TIMED], ids=lambda c: c.name)
def test_chart__time_axis__marks_the_shock_at_its_time(results, chart):
    fig = _drawn(chart.build, results)
    shock_x = mdates.date2num(charts._when(SHOCK_TIME))
    # Every panel with a date axis (a twin axis shares its panel's).
    panels = [ax for ax in _axes(fig) if ax.get_xlabel()]
    assert panels
    for ax in panels:
        assert isinstance(ax.xaxis.get_major_formatter(), mdates.DateFormatter)
        assert ax.get_xlabel() == "date (UTC)"
        (line,) = _shock_lines(ax)
        assert mdates.date2num(line.get_xdata()[0]) == pytest.approx(shock_x)
        assert "x 0.97" in line.get_label() and "UTC" in line.get_label()


def test_liquidations__only_routes_that_occurred__and_whole_blocks(results):
    results.liquidations = [r for r in results.liquidations if r.route == "redeem"]
    fig = _drawn(charts.liquidations_over_time, results)
    top, bottom = fig.axes
    assert _legend_texts(top) == ["redeem route (2)"]
    assert "seize" not in " ".join(_legend_texts(bottom))
    assert all(float(t).is_integer() for t in top.get_xticks())
    assert all(float(t).is_integer() for t in top.get_yticks())
    assert "blocks after the shocked NAV" in top.get_xlabel() and "(block 1000)" in top.get_xlabel()
    # The wave lasted four seconds: the time axis is in seconds after the shock, whole seconds.
    assert bottom.get_xlabel().startswith("seconds after")
    assert all(float(t).is_integer() for t in bottom.get_xticks())
    assert len(_shock_lines(bottom)) == 1
    labels = [t.get_text() for t in bottom.get_yticklabels()]
    assert any(label.startswith("$") and label.endswith("k") for label in labels)


def test_liquidations__bars_count_each_block(results):
    top = _drawn(charts.liquidations_over_time, results).axes[0]
    heights = {}
    for patch in top.patches:
        x = round(patch.get_x() + patch.get_width() / 2)
        heights[x] = heights.get(x, 0) + patch.get_height()
    assert heights == {1: 2, 4: 1}


def test_utilization_and_rates__each_axis_labelled_in_its_line_colour(results):
    fig = _drawn(charts.utilization_and_rates, results)
    left, right = fig.axes
    (utilisation,) = [line for line in left.get_lines() if not line.get_label().startswith("shock")]
    assert "utilisation" in left.get_ylabel() and "%" in left.get_ylabel()
    assert left.yaxis.label.get_color() == utilisation.get_color()
    assert "% a year" in right.get_ylabel()
    assert all(right.yaxis.label.get_color() == line.get_color() for line in right.get_lines())
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "utilisation (left axis)" in legend
    assert {"borrow APR (right axis)", "supply APR (right axis)"} <= set(legend)


def test_share_price__six_decimals_and_the_shock(results):
    ax = _drawn(charts.share_price, results).axes[0]
    assert len(_shock_lines(ax)) == 1
    assert all(len(t.get_text().split(".")[-1]) == 6 for t in ax.get_yticklabels() if t.get_text())


def test_debt_at_risk__bars_before_the_shock_and_at_the_end(results):
    ax = _drawn(charts.debt_at_risk, results).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["now (no drop)", "NAV -1 %", "NAV -3 %", "NAV -5 %"]
    assert [t.split(" (")[0] for t in _legend_texts(ax)] == ["before the shock", "at the end"]
    before, after = ax.containers
    # Borrowers 0 and 1 (health 0.97 and 0.98) are liquidatable before any further drop.
    assert [bar.get_height() for bar in before] == [100_000, 100_000, 100_000, 100_000]
    assert [bar.get_height() for bar in after] == [20_000, 20_000, 20_000, 20_000]


def test_debt_at_risk__old_results_without_samples__say_so(results):
    ax = _drawn(charts.debt_at_risk, replace(results, risk_samples=[])).axes[0]
    assert any("no debt-at-risk samples" in t.get_text() for t in ax.texts)


def test_facility_liquidity__limit_used_against_the_daily_limit(results):
    fig = _drawn(charts.facility_liquidity, results)
    fund_a, fund_b = fig.axes
    limit = [line for line in fund_a.get_lines() if line.get_label().startswith("daily limit")][0]
    assert limit.get_ydata()[0] == DAILY_LIMIT / USD and "$100k" in limit.get_label()
    (used,) = [line for line in fund_a.get_lines() if line.get_label().startswith("limit used")]
    # 20,600 then 5,150 three seconds later, less three seconds' drain.
    assert max(used.get_ydata()) == pytest.approx(25_750 - 100_000 * 3 / 86_400, abs=0.01)
    assert "2 redemptions" in fund_a.get_title() and "peak use 26% of the daily limit" in fund_a.get_title()
    assert "0 redemptions" in fund_b.get_title()


def test_nav_path__stale_windows_shaded_past_the_max_age(results):
    fig = _drawn(charts.nav_path, results)
    assert all("never older than the market's 100 h limit" in ax.get_title() for ax in fig.axes)
    short = replace(results, max_oracle_age={"fund_a": 3_600, "fund_b": 3_600})
    fig = _drawn(charts.nav_path, short)
    for ax in fig.axes:
        assert "stale window(s) shaded" in ax.get_title()
        assert any(text.startswith("stale: NAV older than 1 h") for text in _legend_texts(ax))
        # The last NAV before the shock (published at T0 - 100, as of T0 - 400) went stale an hour later.
        assert any(text.get_text() == f"stale {(SHOCK_TIME - (T0 - 400 + 3_600)) / 3_600:.1f} h" for text in ax.texts)


def test_time_axis__a_long_run__at_most_eight_day_labels(results):
    long_run = replace(results, samples=[*results.samples, replace(results.samples[-1], timestamp=T0 + 12 * DAY)])
    ax = _drawn(charts.share_price, long_run).axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert 3 <= len(labels) <= 8 and len(set(labels)) == len(labels)


def test_collateral_and_debt__both_from_the_samples(results):
    ax = _drawn(charts.collateral_and_debt, results).axes[0]
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert lines["debt (borrows with interest)"] == [s.total_borrows / USD for s in results.samples]
    assert lines["collateral value (at the market's prices)"] == [s.collateral_value / USD for s in results.samples]


def test_bonuses__to_liquidators_and_protocol_by_route(results):
    ax = _drawn(charts.bonuses, results).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["redeem route", "seize route"]
    liquidators, protocol = ax.containers
    assert [bar.get_height() for bar in liquidators] == [647, 300]
    assert [bar.get_height() for bar in protocol] == [103, 0]
    assert "protocol's share of it 10 %" in ax.get_title()


def test_reserves_and_bad_debt__cumulative_write_offs(results):
    ax = _drawn(charts.reserves_and_bad_debt, results).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["bad debt written off (cumulative)"].get_ydata()[-1] == 7
    assert lines["of which lenders absorbed"].get_ydata()[-1] == 0
    assert "$7.00 bad debt" in ax.get_title()


def test_block_time__old_bad_debt_without_a_time__interpolated(results):
    assert charts.block_time(results, 1_001) == SHOCK_TIME + 1
    assert charts.block_time(results, 1_002) == SHOCK_TIME + 2  # between blocks 1,001 and 1,004


def test_usd_label__compact_dollars():
    assert [charts.usd_label(v) for v in (0, 0.5, 12, 350_000, 1_250_000, 2e9)] == [
        "$0", "$0.50", "$12", "$350k", "$1.25M", "$2B"
    ]
