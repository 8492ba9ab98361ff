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
    """Show ACCOUNT's position, both sides (default: --account).

    Lent: balance, shares, supply APR and APY, interest earned. Borrowed:
    health factor, debt (principal and interest), collateral per asset
    with its NAV, age and the NAV at which the position liquidates.
    ACCOUNT is an address (EIP-55 checked), an alias or TEST::n. Amounts in
    JSON: {raw, value, symbol, decimals}.

    \b
    Examples:
      ape run position --account TEST::4
      ape run position 0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65 --json
    """
    run(actions.position, network, account, json_output, who=who)
