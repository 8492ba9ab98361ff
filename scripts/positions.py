"""``ape run positions [--at-risk [--below HF]] [--limit N] [--json]``: the
market's borrowers with debt, lowest health factor first, with their debt,
collateral value (USD at the market's prices, no haircut), health factor
and whether they are liquidatable now.

The borrowers are the accounts the market's Borrow events name; their
health comes from the Lens, 500 accounts a call.

Examples::

    ape run positions
    ape run positions --at-risk --below 1.05 --limit 20 --json
"""

import click

from navlend.cli import liquidator
from navlend.cli.options import NavlendCommand, run, view_options


@click.command(cls=NavlendCommand, epilog="\b\nExamples:\n  ape run positions --at-risk\n  ape run positions --at-risk --below 1.05 --limit 20 --json")
@view_options
@click.option("--at-risk", is_flag=True, help="Only the borrowers under --below.")
@click.option(
    "--below",
    metavar="HF",
    help="With --at-risk: the health factor under which a borrower is listed (default 1.10).",
)
@click.option("--limit", type=int, metavar="N", help="List at most N borrowers (the lowest first).")
def cli(network, account, json_output, at_risk, below, limit):
    """List the market's borrowers by health factor, lowest first.

    Debt and collateral value in the stablecoin's units, health factors as
    decimals (--below 1.10: under 1.10). Read through the Lens, 500
    accounts a call; the borrowers come from the market's Borrow events.
    """
    run(liquidator.positions, network, account, json_output, at_risk=at_risk, below=below, limit=limit)
