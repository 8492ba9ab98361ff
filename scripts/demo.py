"""``ape run demo`` (``make demo``): a local navlend market under a NAV shock.

It runs on the embedded default, a local anvil that Ape starts and stops,
and plays the scenario in :mod:`navlend.demo`: deploy the world and a market,
seed positions, accrue for a few days, break the buck on fund A, liquidate
through the redeem route, and report.
"""

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand, network_option

from navlend import demo


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--shock", default=0.06, show_default=True, help="Fraction fund A's NAV falls by.")
@click.option("--days", default=5, show_default=True, type=click.IntRange(0, 60), help="Days before the shock.")
def cli(network, shock, days):
    """A local market over tokenized money-market funds, under a NAV shock."""
    if not network.is_local or network.is_fork:
        raise click.UsageError("the demo deploys mock funds and moves time: run it on a local network")
    if not 0 < shock < 1:
        raise click.BadParameter("must be between 0 and 1", param_hint="--shock")
    demo.run(accounts.test_accounts, chain, shock=shock, days=days)
