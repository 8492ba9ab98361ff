"""One short run of the demo on the suite's anvil: a dozen borrowers, one
normal day, the shock, one day after, with the live keeper and NAV reporter
(Silverback subprocesses). Slow (about two minutes: the bots take most of it
to start)."""

from __future__ import annotations

import pytest
from rich.console import Console

from devkit.demo.charts import CHARTS
from devkit.demo.main import Demo, DemoOptions
from devkit.demo.results import limit_used
from devkit.demo.scenarios import get_scenario


@pytest.fixture(scope="module")
def tiny_run(accounts, chain, project, tmp_path_factory):
    """The break-the-buck scenario, shortened, played once for the module."""
    scenario = get_scenario("break-the-buck", normal_days=1, after_days=1)
    out = tmp_path_factory.mktemp("demo")
    options = DemoOptions(scenario=scenario, borrowers=12, out_dir=out)
    results, files = Demo(options, accounts, chain, project, console=Console(record=True, width=140)).run()
    return results, files


@pytest.mark.slow
def test_scenario__break_the_buck__keeper_liquidates_exactly_the_predicted_positions(tiny_run):
    results, _ = tiny_run
    summary = results.summary()
    liquidated = {r.borrower for r in results.liquidations}
    assert summary.expected_liquidatable > 0
    assert liquidated == set(results.expected_liquidatable)
    assert all(r.block > results.shock_block for r in results.liquidations)
    assert summary.liquidatable_after == 0 and summary.bad_debt == 0


@pytest.mark.slow
def test_scenario__break_the_buck__healthy_positions_are_untouched(tiny_run):
    results, _ = tiny_run
    survivors = [s for s in results.before if s.account not in set(results.expected_liquidatable)]
    assert survivors
    liquidated = {r.borrower for r in results.liquidations}
    assert not liquidated & {s.account for s in survivors}
    debts_after = {s.account: s.debt for s in results.after}
    for s in survivors:
        assert debts_after[s.account] >= s.debt  # interest only, never repaid by a liquidation


@pytest.mark.slow
def test_scenario__break_the_buck__reporter_publishes_every_business_day(tiny_run):
    results, _ = tiny_run
    published_days = {u.day for u in results.nav_updates if not u.confirmed and u.oracle == "fund_a"}
    assert {1, 3} <= published_days  # Tuesday before the shock, Thursday after it
    assert [u.day for u in results.nav_updates if u.confirmed] == [2, 2]


@pytest.mark.slow
def test_run__writes_the_report_files(tiny_run):
    _, files = tiny_run
    assert files.markdown.exists() and files.results.exists() and files.html.exists()
    assert len(files.charts) == len(CHARTS) and all(p.stat().st_size > 0 for p in files.charts)


@pytest.mark.slow
def test_run__records_what_the_new_charts_draw(tiny_run):
    results, _ = tiny_run
    summary = results.summary()
    liquidated = {r.borrower for r in results.liquidations}
    # Every liquidated borrower is either closed or still open, and the rest untouched.
    assert summary.closed_by_liquidation + summary.partially_liquidated == len(liquidated)
    assert summary.untouched == summary.positions_before - len(liquidated)
    assert results.shock_timestamp == results.shock_time() is not None
    assert results.max_oracle_age == {"fund_a": 360_000, "fund_b": 360_000}
    assert all(u.as_of and u.as_of <= u.timestamp for u in results.nav_updates)
    assert all(s.collateral_value > s.total_borrows for s in results.samples)
    assert {s.drop_bps for s in results.risk_samples} == {0, 100, 300, 500}
    assert summary.at_risk_before is not None and summary.at_risk_before[300] > 0
    # The keeper redeems: the facilities paid what the Redeemed events say, and
    # their rolling limit as sampled never disagrees with the limit's replay.
    redeemed = [r for r in results.liquidations if r.route == "redeem"]
    assert sum(r.payout for r in results.redemptions) == sum(r.payout for r in redeemed) > 0
    for sample in results.facility_samples:
        paid = [r for r in results.redemptions if r.facility == sample.facility]
        assert sample.daily_limit - sample.remaining_limit == limit_used(paid, sample.daily_limit, sample.timestamp)
    assert summary.bonus_to_liquidators > 0 and summary.bonus_to_protocol == 0
