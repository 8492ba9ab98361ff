"""``ape run repay AMOUNT|max``: repay debt (never paused). ``max`` repays
it all, interest to the block included; the market is approved first when
needed.

Examples::

    ape run repay 1000 --account TEST::4
    ape run repay max --account TEST::4
"""

import click


from navlend.cli import actions
from navlend.cli.options import NavlendCommand, common_options, run


@click.command(cls=NavlendCommand)
@common_options
@click.argument("amount", metavar="AMOUNT|max")
def cli(network, account, json_output, yes, amount):
    """Repay AMOUNT of the debt, or "max" for all of it.

    AMOUNT is in the stablecoin's human units; "max" (or anything above
    the debt) repays the whole debt with the interest accrued up to the
    block that includes it (an hour of interest is approved on top).

    \b
    Examples:
      ape run repay 1000 --account TEST::4
      ape run repay max --account TEST::4
    """
    run(actions.repay, network, account, json_output, yes, amount=amount)
