"""``ape run admin ...``: the operator's commands (market owner; the
guardian may pause and unpause all but liquidation).

Each setter keeps the current value of any option left out, validates the
new values as the market does, checks the signer's role and simulates
before sending. The options are named as the operations' parameters in
navlend/cli/admin.py, which receive them as they are.

Examples::

    ape run admin set-risk fund_a --ltv 0.83 --threshold 0.88 --bonus 0.03
    ape run admin set-limits wrapper --supply-cap 5000000 --max-oracle-age 100h
    ape run admin set-rates --slope1 4% --slope2 60% --kink 90% --reserve-factor 10%
    ape run admin set-fees --flash-fee 0.05%
    ape run admin set-borrow-limits --min-borrow 100
    ape run admin pause borrow withdraw-collateral --account TEST::2
    ape run admin unpause liquidation --grace 1h
    ape run admin list-collateral 0xToken 0xOracle --ltv 0.80 --threshold 0.86 --bonus 0.04
    ape run admin withdraw-reserves max
    ape run admin book-surplus --account TEST::7
"""

import click


from navlend.cli import admin as ops
from navlend.cli.options import NavlendCommand, asset_argument, common_options, run


@click.group()
def cli():
    """Operate the market: parameters, pauses, listings, reserves."""


def command(name):
    """A subcommand of ``admin`` with --network, --account, --json, --yes."""
    return lambda f: cli.command(name, cls=NavlendCommand)(common_options(f))


def setter_options(*specs):
    """Options of a setter, ``(flag, help)`` each; one left out keeps its value."""

    def wrap(f):
        for flag, text in reversed(specs):
            f = click.option(flag, help=text)(f)
        return f

    return wrap


@command("set-risk")
@asset_argument()
@setter_options(
    ("--ltv", "Borrow limit, e.g. 0.85 or 85%."),
    ("--threshold", "Liquidation threshold, above the LTV."),
    ("--bonus", "Liquidation bonus, e.g. 0.03."),
)
def set_risk(network, account, json_output, yes, **options):
    """Set ASSET's LTV, liquidation threshold and bonus."""
    run(ops.set_risk, network, account, json_output, yes, **options)


@command("set-limits")
@asset_argument()
@setter_options(
    ("--supply-cap", "Most that may be posted, in the asset's units, or 'unlimited'."),
    ("--price-cap", "Highest price used, in USD, or 'none'."),
    ("--max-oracle-age", "Oldest NAV accepted for borrowing: 3600, 90m, 100h, 4d."),
)
def set_limits(network, account, json_output, yes, **options):
    """Set ASSET's supply cap, price cap and maximum oracle age."""
    run(ops.set_limits, network, account, json_output, yes, **options)


@command("set-rates")
@setter_options(
    ("--base", "Annual rate at zero utilisation, e.g. 0 or 0.5%."),
    ("--slope1", "Annual rate added up to the kink, e.g. 4%."),
    ("--slope2", "Annual rate added above the kink, e.g. 60%."),
    ("--kink", "Utilisation of the kink, e.g. 90%."),
    ("--reserve-factor", "Reserves' share of interest, e.g. 10%."),
)
def set_rates(network, account, json_output, yes, **options):
    """Set the interest-rate curve and the reserve factor."""
    run(ops.set_rates, network, account, json_output, yes, **options)


@command("set-fees")
@setter_options(
    ("--flash-fee", "Flash-loan fee, e.g. 0.05%."),
    ("--liquidation-fee", "Protocol's share of each liquidation bonus, e.g. 10%."),
)
def set_fees(network, account, json_output, yes, **options):
    """Set the flash-loan fee and the protocol's share of liquidation bonuses."""
    run(ops.set_fees, network, account, json_output, yes, **options)


@command("set-borrow-limits")
@setter_options(
    ("--min-borrow", "Least debt a borrow may leave, whole stablecoin units."),
    ("--small-position", "Debt or collateral below which a position may be closed in full."),
    ("--dust-floor", "Least a partial liquidation may leave."),
)
def set_borrow_limits(network, account, json_output, yes, **options):
    """Set the minimum borrow, small-position and dust thresholds."""
    run(ops.set_borrow_limits, network, account, json_output, yes, **options)


@command("pause")
@click.argument("actions", nargs=-1, metavar="ACTION...")
def pause(network, account, json_output, yes, **options):
    """Pause ACTION... (supply, withdraw, borrow, deposit-collateral,
    withdraw-collateral, flash-loan, liquidation, or all)."""
    run(ops.pause, network, account, json_output, yes, **options)


@command("unpause")
@click.argument("actions", nargs=-1, metavar="ACTION...")
@click.option(
    "--grace", default="0", show_default=True, help="Grace before liquidations resume (≤ 4h)."
)
def unpause(network, account, json_output, yes, **options):
    """Unpause ACTION...; unpausing liquidation may start a grace period."""
    run(ops.unpause, network, account, json_output, yes, **options)


@command("list-collateral")
@click.argument("token", metavar="TOKEN")
@click.argument("oracle", metavar="ORACLE")
@click.option("--ltv", default="0.85", show_default=True)
@click.option("--threshold", default="0.90", show_default=True)
@click.option("--bonus", default="0.03", show_default=True)
@click.option("--supply-cap", default="unlimited", show_default=True)
@click.option("--price-cap", default="none", show_default=True)
@click.option("--max-oracle-age", default="100h", show_default=True)
@click.option("--facility", default=None, help="Redemption facility of the redeem route.")
def list_collateral(network, account, json_output, yes, **options):
    """List TOKEN as collateral priced by ORACLE (names or addresses)."""
    run(ops.list_collateral, network, account, json_output, yes, **options)


@command("withdraw-reserves")
@click.argument("amount", metavar="AMOUNT|max")
def withdraw_reserves(network, account, json_output, yes, **options):
    """Send AMOUNT (or max) of the reserves to the treasury."""
    run(ops.withdraw_reserves, network, account, json_output, yes, **options)


@command("book-surplus")
def book_surplus(network, account, json_output, yes, **options):
    """Book the surplus (flash-loan fees, donations) as reserves (any account)."""
    run(ops.book_surplus, network, account, json_output, yes, **options)
