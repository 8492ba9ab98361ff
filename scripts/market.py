"""``ape run market``: the market's state: cash, borrows, utilisation,
rates, reserves, each asset's price, NAV age, staleness and caps, and the
paused actions.

Example::

    ape run market --json
"""

import click


from navlend.cli import actions
from navlend.cli.options import NavlendCommand, run, view_options


@click.command(cls=NavlendCommand)
@view_options
def cli(network, account, json_output):
    """Show the market's state: books, rates, pauses and each listed asset.

    Amounts are in the stablecoin's human units (JSON: {raw, value,
    symbol, decimals}); rates are annual; NAV ages are durations.

    \b
    Examples:
      ape run market
      ape run market --json
    """
    run(actions.market, network, account, json_output)
