"""``ape run withdraw_collateral ASSET AMOUNT|max [--to ADDRESS]``: take
posted collateral back, within the borrow limit. The receiver must be
allowlisted by the fund; while in debt, a stale NAV blocks it.

Examples::

    ape run withdraw_collateral fund_a 100 --account TEST::4
    ape run withdraw_collateral wrapper max --account TEST::4
"""

import click


from navlend.cli import actions
from navlend.cli.options import NavlendCommand, asset_argument, common_options, run


@click.command(cls=NavlendCommand)
@common_options
@asset_argument()
@click.argument("amount", metavar="AMOUNT|max")
@click.option(
    "--to", "to", metavar="ADDRESS", help="Receiver of the shares (default: the account)."
)
def cli(network, account, json_output, yes, asset, amount, to):
    """Withdraw AMOUNT of ASSET collateral, or "max": the most the debt allows.

    AMOUNT is in the asset's shares. The preview shows the health factor,
    the headroom and the NAV at which the position liquidates, before →
    after; under the warning level (--warn-below, default 1.10) it asks
    first (--yes to skip).

    \b
    Examples:
      ape run withdraw_collateral fund_a 100 --account TEST::4
      ape run withdraw_collateral fund_a max --account TEST::4 --dry-run
    """
    run(
        actions.withdraw_collateral,
        network,
        account,
        json_output,
        yes,
        asset=asset,
        amount=amount,
        to=to,
    )
