"""``ape run position [ACCOUNT]``: a borrower's health factor, LTV used,
borrow headroom, the NAV at which each asset makes it liquidatable, and the
interest accrued (debt minus principal; see navlend.cli.risk).

Examples::

    ape run position 0x90F79bf6EB2c4f870365E785982E1f101E93b906
    ape run position --account TEST::4 --json
"""

import click


from navlend.cli import actions
from navlend.cli.options import NavlendCommand, run, view_options


@click.command(cls=NavlendCommand)
@view_options
@click.argument("who", metavar="[ACCOUNT]", required=False)
def cli(network, account, json_output, who):
    """Show ACCOUNT's position (default: --account)."""
    run(actions.position, network, account, json_output, who=who)
