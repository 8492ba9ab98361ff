"""``ape run leverage ASSET EQUITY --ltv 0.80``: the carry trade in one
transaction through the Leverage helper: flash-borrow, subscribe fund
shares at NAV (wrapping them for the wrapper), post them, borrow to repay
the flash loan. Authorises the helper on the market and approves it for
EQUITY first when needed (and says so).

Example::

    ape run leverage fund_a 10000 --ltv 0.80 --account TEST::4
"""

import click


from navlend.cli import actions
from navlend.cli.options import NavlendCommand, amount_argument, asset_argument, common_options, run


@click.command(cls=NavlendCommand)
@common_options
@asset_argument()
@amount_argument("equity", "EQUITY")
@click.option(
    "--ltv", default="0.80", show_default=True, help="Target debt over exposure (0.80 or 80%)."
)
@click.option(
    "--max-ltv", default=None, help="Most debt over exposure accepted (default: target + 0.10%)."
)
@click.option(
    "--slippage",
    default=actions.DEFAULT_SLIPPAGE,
    show_default=True,
    help="Tolerance on the shares minted.",
)
def cli(network, account, json_output, yes, **options):
    """Lever EQUITY of the stablecoin into ASSET at a target LTV, in one transaction.

    EQUITY is in the stablecoin's human units. The Leverage helper flash-
    borrows, subscribes fund shares with the issuer, posts them and
    borrows to repay the flash loan. --ltv and --max-ltv are fractions of
    the exposure (0.80 or 80%); --slippage is a tolerance (0.5%). The
    preview shows the position before → after.

    \b
    Examples:
      ape run leverage wrapper 10000 --ltv 0.80 --account TEST::4
      ape run leverage fund_a 25,000 --ltv 75% --dry-run --account TEST::4
    """
    run(actions.leverage, network, account, json_output, yes, **options)
