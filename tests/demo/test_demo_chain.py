"""One short run of the demo on the suite's anvil: a dozen borrowers, one
normal day, the shock, one day after, with the live keeper and NAV reporter
(Silverback subprocesses). Slow (about two minutes: the bots take most of it
to start)."""

from __future__ import annotations

import pytest
from rich.console import Console

from devkit.demo.main import Demo, DemoOptions
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
    assert files.markdown.exists() and files.results.exists()
    assert len(files.charts) == 4 and all(p.stat().st_size > 0 for p in files.charts)
