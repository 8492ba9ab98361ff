"""``ape run unwind ASSET``: close a levered position through the Leverage
helper: flash-borrow the whole debt, repay it, redeem all of ASSET's
collateral at the issuer's facility, and receive the rest in the
stablecoin.

Example::

    ape run unwind fund_a --account TEST::4
"""

import click


from navlend.cli import actions
from navlend.cli.options import NavlendCommand, asset_argument, common_options, run


@click.command(cls=NavlendCommand)
@common_options
@asset_argument()
@click.option("--min-out", default=None, metavar="AMOUNT", help="Least stablecoin to receive.")
@click.option(
    "--slippage",
    default=actions.DEFAULT_SLIPPAGE,
    show_default=True,
    help="Tolerance below the expected proceeds.",
)
def cli(network, account, json_output, yes, **options):
    """Close the account's levered ASSET position into the stablecoin.

    Repays the whole debt with a flash loan, redeems all of ASSET's
    collateral through the issuer's facility and returns the rest, which
    it reports. --min-out is in the stablecoin's human units; --slippage a
    tolerance below the expected proceeds (0.5%).

    \b
    Examples:
      ape run unwind wrapper --account TEST::4
      ape run unwind wrapper --min-out 1,950 --account TEST::4
    """
    run(actions.unwind, network, account, json_output, yes, **options)
