"""``ape run borrow AMOUNT [--to ADDRESS]``: borrow the stablecoin against
posted collateral. Refused above the borrow limit (the message says the
maximum), below the minimum debt, while a NAV keeping the limit low is
stale, or while borrowing is paused.

Example::

    ape run borrow 5000 --account TEST::4
"""

import click

from navlend.cli import actions
from navlend.cli.options import NavlendCommand, amount_argument, common_options, run


@click.command(cls=NavlendCommand)
@common_options
@amount_argument()
@click.option(
    "--to", "to", metavar="ADDRESS", help="Receiver of the stablecoin (default: the account)."
)
def cli(network, account, json_output, yes, amount, to):
    """Borrow AMOUNT of the stablecoin against the posted collateral.

    AMOUNT is in the stablecoin's human units ("5000" is 5,000 USDC).
    Refused above the borrow limit (the message says the maximum), below
    the market's minimum debt, on a stale NAV, or while borrowing is
    paused. The preview shows the health factor, the headroom and the NAV
    at which the position liquidates, before → after; under the warning
    level (--warn-below, default 1.10) it asks first (--yes to skip).
    The market rounds a new debt up by a unit or two, in its favour.

    \b
    Examples:
      ape run borrow 5000 --account TEST::4
      ape run borrow 5000 --account TEST::4 --dry-run --json
    """
    run(actions.borrow, network, account, json_output, yes, amount=amount, to=to)
