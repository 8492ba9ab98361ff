"""``ape run liquidate BORROWER [--asset ASSET] [--route seize|redeem]
[--repay AMOUNT|max]``: liquidate an unhealthy position by hand.

- ``--route seize`` (default): the account repays from its stablecoin and
  receives the seized fund shares (the fund must allowlist it);
- ``--route redeem``: the market redeems the seized shares through the
  asset's facility and pays the account in stablecoin; the repayment is
  pulled after that payout, so the route can fund itself.

It previews the borrower's health factor, the debt repaid, the collateral
seized, the bonus, the protocol's fee and the profit before gas (USD), and
refuses (exit 3) a healthy position, a paused liquidation, a route without
a facility, an amount above what may be repaid now, and a balance short of
the repayment. It approves the market for the repayment, then sends.

Examples::

    ape run liquidate 0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65 --route redeem --dry-run
    ape run liquidate 0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65 --asset fund_a --repay 1,000 --account TEST::5
"""

import click

from navlend.cli import liquidator
from navlend.cli.options import NavlendCommand, common_options, run


@click.command(
    cls=NavlendCommand,
    epilog="\b\nExamples:\n  ape run liquidate 0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65 --route redeem --dry-run\n  ape run liquidate TEST::4 --asset fund_a --repay 1,000.50 --account TEST::5",
)
@common_options
@click.argument("borrower", metavar="BORROWER")
@click.option("--asset", metavar="ASSET", help="Collateral to seize (fund_a, fund_c, wrapper); default: the one the Lens says repays the most.")
@click.option(
    "--route",
    type=click.Choice(["seize", "redeem"]),
    default="seize",
    show_default=True,
    help="seize: receive the shares; redeem: receive stablecoin through the facility.",
)
@click.option(
    "--repay",
    metavar="AMOUNT|max",
    default="max",
    show_default=True,
    help="The most to repay, in the stablecoin (1000.50), or max: the most the rules allow now.",
)
def cli(network, account, json_output, yes, borrower, asset, route, repay):
    """Liquidate BORROWER (an address, alias or TEST::n) by hand.

    Shows the quote first: the debt repaid (stablecoin units), the shares
    seized (the asset's units) or, on the redeem route, the stablecoin the
    issuer's facility pays, the bonus, the protocol's fee and the profit in
    USD, before gas. Refused for a healthy position, a paused liquidation,
    a route without a facility or a missing balance.
    """
    run(liquidator.liquidate, network, account, json_output, yes, borrower=borrower, asset=asset, route=route, repay=repay)
