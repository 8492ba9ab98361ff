"""``ape run lend AMOUNT``: lend the stablecoin to the market (ERC-4626
deposit; approves the market for AMOUNT first when needed, and says so).

Examples::

    ape run lend 25000 --account TEST::3
    ape run lend 1000.50 --account lender --network ethereum:sepolia:alchemy --yes
"""

import click


from navlend.cli import actions
from navlend.cli.options import NavlendCommand, amount_argument, common_options, run


@click.command(cls=NavlendCommand)
@common_options
@amount_argument()
def cli(network, account, json_output, yes, amount):
    """Lend AMOUNT of the stablecoin to the market for lender shares.

    AMOUNT is in the stablecoin's human units (USDC: "1000.50" is 1,000.50
    USDC; "," groups thousands only). The stablecoin is approved first if
    needed. The amount is echoed in exact units before anything is sent.

    \b
    Examples:
      ape run lend 250000 --account TEST::3
      ape run lend 1,000.50 --account lender --dry-run
    """
    run(actions.lend, network, account, json_output, yes, amount=amount)
