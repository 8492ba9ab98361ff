"""``ape run withdraw AMOUNT`` or ``ape run withdraw --all``: take lent
stablecoin back (bounded by the account's claim and the market's cash).

Examples::

    ape run withdraw 500 --account TEST::3
    ape run withdraw --all --account TEST::3 --json
"""

import click


from navlend.cli import actions
from navlend.cli.options import NavlendCommand, common_options, run


@click.command(cls=NavlendCommand)
@common_options
@click.argument("amount", metavar="[AMOUNT|max]", required=False)
@click.option("--all", "everything", is_flag=True, help="Withdraw everything the account has lent.")
def cli(network, account, json_output, yes, amount, everything):
    """Withdraw AMOUNT of what the account lent, or all of it.

    AMOUNT is in the stablecoin's human units ("500.25"); "max" or --all
    withdraws everything (redeems every lender share). Refused above the
    claim or the market's cash.

    \b
    Examples:
      ape run withdraw 500 --account TEST::3
      ape run withdraw max --account TEST::3 --json
    """
    if everything == (amount is not None):
        raise click.UsageError("give an AMOUNT, max or --all (one of them)")
    run(actions.withdraw, network, account, json_output, yes, amount=None if everything else amount)
