"""``ape run deposit ASSET AMOUNT``: post fund shares as collateral.

ASSET is a deployment name (fund_a, fund_c, wrapper) or a listed token's
address. The account must be allowlisted by the fund; the market is
approved for AMOUNT first when needed.

Example::

    ape run deposit fund_a 1000 --account TEST::4
"""

import click


from navlend.cli import actions
from navlend.cli.options import NavlendCommand, amount_argument, asset_argument, common_options, run


@click.command(cls=NavlendCommand)
@common_options
@asset_argument()
@amount_argument()
def cli(network, account, json_output, yes, asset, amount):
    """Post AMOUNT of ASSET as collateral.

    ASSET is a listed asset's deployment name (fund_a, fund_c, wrapper) or
    its token address; AMOUNT is in the asset's shares ("1000" shares of
    fund A). The fund must allowlist the account. The preview shows the
    health factor and borrow headroom before → after.

    \b
    Examples:
      ape run deposit fund_a 1000 --account TEST::4
      ape run deposit wrapper 2,500.5 --account TEST::4 --dry-run
    """
    run(actions.deposit, network, account, json_output, yes, asset=asset, amount=amount)
