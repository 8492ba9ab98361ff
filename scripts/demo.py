"""``ape run demo`` (``make demo``): a local navlend market under a fund
shock, with the live keeper and NAV reporter.

It runs on the embedded default, a fresh anvil that Ape starts on a free
port and stops at the end, and plays the scenario in :mod:`devkit.demo.main`.
The report goes to ``reports/demo/`` (Markdown, the same report as an HTML
page, PNG charts, raw JSON, the bots' logs).

Examples::

    ape run demo                                  # 200 borrowers, the fund breaks the buck
    ape run demo --scenario facility-dry
    ape run demo --scenario stale-weekend --borrowers 100
    ape run demo --scenario frozen-liquidator --days 14
"""

from pathlib import Path

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand, network_option
from ape.logging import logger

from devkit.demo import main as demo
from devkit.demo.scenarios import DEFAULT_SCENARIO, SCENARIOS, get_scenario


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--scenario", type=click.Choice(list(SCENARIOS)), default=DEFAULT_SCENARIO, show_default=True)
@click.option("--borrowers", type=click.IntRange(1, 2_000), default=200, show_default=True, help="Borrowers seeded.")
@click.option(
    "--days", type=click.IntRange(1, 30), default=None,
    help="Normal days before the shock (the shock day must fall on a business day) [default: 7].",
)
@click.option("--after-days", type=click.IntRange(0, 10), default=None, help="Days played after the shock [default: 2].")
@click.option("--block-time", type=click.IntRange(1, 12), default=1, show_default=True, help="Seconds between blocks once the bots run.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/demo"), show_default=True)
def cli(network, provider, scenario, borrowers, days, after_days, block_time, out):
    """A local market over tokenized money-market funds, a few hundred
    borrowers, the keeper and the NAV reporter, under a fund shock."""
    if not network.is_local or network.is_fork or provider.name != "foundry":
        raise click.UsageError("the demo deploys mock funds and moves time: run it on the local foundry network")
    if getattr(provider, "process", None) is None:
        raise click.UsageError(
            "the demo needs a fresh anvil that it starts itself, but Ape attached to a running node "
            f"({provider.uri}); unset APE_FOUNDRY_HOST and run it again"
        )
    try:
        chosen = get_scenario(scenario, normal_days=days, after_days=after_days)
        options = demo.DemoOptions(scenario=chosen, borrowers=borrowers, block_time=block_time, out_dir=out)
        demo.check_calendar(chosen)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None
    demo.configure_logging(out / "logs" / "demo.log")
    # The progress bars own the terminal: no line per confirmed transaction.
    logger.set_level("WARNING")
    demo.Demo(options, accounts.test_accounts, chain, project).run()
