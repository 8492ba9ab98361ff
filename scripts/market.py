"""``ape run market``: the market's state: cash, borrows, utilisation,
rates, reserves, each asset's price, NAV age, staleness and caps, and the
paused actions.

Example::

    ape run market --json
"""

import click
from ape.cli import ConnectedProviderCommand

from navlend.cli import actions
from navlend.cli.options import run, view_options


@click.command(cls=ConnectedProviderCommand)
@view_options
def cli(network, account, json_output):
    """Show the market's state."""
    run(actions.market, network, account, json_output)
