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
    """Unwind the account's ASSET position into the stablecoin."""
    run(actions.unwind, network, account, json_output, yes, **options)
