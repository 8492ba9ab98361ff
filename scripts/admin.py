"""``ape run admin ...``: the operator's commands (market owner; the
guardian may pause and unpause all but liquidation, and freeze).

Each setter keeps the current value of any option left out, validates the
new values as the market does, checks the signer's role and simulates
before sending. It shows every setting old → new in human units; a change
that moves health factors (LTV, threshold, price cap, max oracle age,
oracle) lists the borrowers it makes liquidatable or pushes under
--warn-below, and then asks for confirmation on every network (--yes
skips the question; --dry-run stops before sending). The options are named
as the operations' parameters in navlend/cli/admin.py, which receive them
as they are.

Examples::

    ape run admin set-risk fund_a --ltv 0.83 --threshold 0.88 --bonus 0.03
    ape run admin set-limits wrapper --supply-cap 5000000 --max-oracle-age 100h
    ape run admin set-rates --slope1 4% --slope2 60% --kink 90% --reserve-factor 10%
    ape run admin set-fees --flash-fee 0.05%
    ape run admin set-borrow-limits --min-borrow 100
    ape run admin pause borrow withdraw-collateral --account TEST::2
    ape run admin unpause liquidation --grace 1h
    ape run admin freeze fund_c --account TEST::2
    ape run admin unfreeze fund_c
    ape run admin set-oracle fund_a 0xNewFeed --dry-run
    ape run admin set-guardian 0xGuardian
    ape run admin set-treasury 0xTreasury
    ape run admin list-collateral 0xToken 0xOracle --ltv 0.80 --threshold 0.86 --bonus 0.04
    ape run admin withdraw-reserves max
    ape run admin book-surplus --account TEST::7
"""

import click

from navlend.cli import admin as ops
from navlend.cli.options import NavlendCommand, asset_argument, common_options, run



@click.group()
def cli():
    """Operate the market: parameters, pauses, assets, roles, reserves."""


def command(name, example):
    """A subcommand of ``admin`` with --network, --account, --json, --yes,
    --dry-run and --warn-below; ``example`` is shown under its help."""

    def wrap(f):
        return cli.command(name, cls=NavlendCommand, epilog=f"\b\nExample:\n  {example}")(
            common_options(f)
        )

    return wrap


def setter_options(*specs):
    """Options of a setter, ``(flag, help)`` each; one left out keeps its value."""

    def wrap(f):
        for flag, text in reversed(specs):
            f = click.option(flag, help=text)(f)
        return f

    return wrap


@command("set-risk", "ape run admin set-risk fund_a --ltv 0.70 --threshold 0.80 --dry-run")
@asset_argument()
@setter_options(
    ("--ltv", "Borrow limit, a fraction or a percentage: 0.85 or 85%."),
    ("--threshold", "Liquidation threshold, above the LTV: 0.90 or 90%."),
    ("--bonus", "Liquidation bonus: 0.03 or 3%."),
)
def set_risk(network, account, json_output, yes, **options):
    """Set ASSET's LTV, liquidation threshold and bonus (owner).

    A lower LTV or threshold lists the borrowers it makes liquidatable or
    pushes under --warn-below, and asks first. """
    run(ops.set_risk, network, account, json_output, yes, **options)


@command("set-limits", "ape run admin set-limits wrapper --supply-cap 5,000,000 --price-cap 1.05 --max-oracle-age 100h")
@asset_argument()
@setter_options(
    ("--supply-cap", "Most that may be posted, in the asset's units (5000000), or 'unlimited'."),
    ("--price-cap", "Highest price used, in USD (1.05), or 'none'."),
    ("--max-oracle-age", "Oldest NAV accepted for borrowing: 3600 (seconds), 90m, 100h, 4d."),
)
def set_limits(network, account, json_output, yes, **options):
    """Set ASSET's supply cap, price cap and maximum oracle age (owner).

    A lower price cap lists the borrowers it puts at risk and asks first."""
    run(ops.set_limits, network, account, json_output, yes, **options)


@command("set-rates", "ape run admin set-rates --slope1 4% --slope2 60% --kink 90%")
@setter_options(
    ("--base", "Annual rate at zero utilisation: 0, 0.5% or 0.005."),
    ("--slope1", "Annual rate added up to the kink: 4%."),
    ("--slope2", "Annual rate added above the kink: 60%."),
    ("--kink", "Utilisation of the kink: 90%."),
    ("--reserve-factor", "Reserves' share of interest: 10%."),
)
def set_rates(network, account, json_output, yes, **options):
    """Set the interest-rate curve (annual rates) and the reserve factor (owner)."""
    run(ops.set_rates, network, account, json_output, yes, **options)


@command("set-fees", "ape run admin set-fees --flash-fee 0.05% --liquidation-fee 10%")
@setter_options(
    ("--flash-fee", "Flash-loan fee: 0.05%."),
    ("--liquidation-fee", "Protocol's share of each liquidation bonus: 10%."),
)
def set_fees(network, account, json_output, yes, **options):
    """Set the flash-loan fee and the protocol's share of liquidation bonuses (owner)."""
    run(ops.set_fees, network, account, json_output, yes, **options)


@command("set-borrow-limits", "ape run admin set-borrow-limits --min-borrow 100 --dust-floor 10")
@setter_options(
    ("--min-borrow", "Least debt a borrow may leave, in whole stablecoin units: 100."),
    ("--small-position", "Debt or collateral value (whole stablecoin units) below which a position may be closed in full."),
    ("--dust-floor", "Least a partial liquidation may leave (whole stablecoin units)."),
)
def set_borrow_limits(network, account, json_output, yes, **options):
    """Set the minimum borrow, small-position and dust thresholds (owner)."""
    run(ops.set_borrow_limits, network, account, json_output, yes, **options)


@command("pause", "ape run admin pause borrow withdraw-collateral --account TEST::2")
@click.argument("actions", nargs=-1, metavar="ACTION...")
def pause(network, account, json_output, yes, **options):
    """Pause ACTION... (supply, withdraw, borrow, deposit-collateral,
    withdraw-collateral, flash-loan, liquidation, or all). The guardian may
    pause all but liquidation; the owner anything."""
    run(ops.pause, network, account, json_output, yes, **options)


@command("unpause", "ape run admin unpause liquidation --grace 1h")
@click.argument("actions", nargs=-1, metavar="ACTION...")
@click.option(
    "--grace",
    default="0",
    show_default=True,
    help="With liquidation: a grace before liquidations resume, at most 4h (3600, 90m, 1h).",
)
def unpause(network, account, json_output, yes, **options):
    """Unpause ACTION...; unpausing liquidation may start a grace period."""
    run(ops.unpause, network, account, json_output, yes, **options)


@command("freeze", "ape run admin freeze fund_c --account TEST::2")
@asset_argument()
def freeze(network, account, json_output, yes, asset):
    """Freeze ASSET: no new deposits of it, no new borrowing against it
    (withdrawals, repayment and liquidation stay open; health factors do
    not move). Guardian or owner."""
    run(ops.set_frozen, network, account, json_output, yes, asset=asset, frozen=True)


@command("unfreeze", "ape run admin unfreeze fund_c")
@asset_argument()
def unfreeze(network, account, json_output, yes, asset):
    """Unfreeze ASSET (owner only)."""
    run(ops.set_frozen, network, account, json_output, yes, asset=asset, frozen=False)


@command("set-oracle", "ape run admin set-oracle fund_a 0xNewFeed --dry-run")
@asset_argument()
@click.argument("oracle", metavar="ORACLE")
def set_oracle(network, account, json_output, yes, **options):
    """Price ASSET by the AggregatorV3 feed ORACLE (deployment name or
    address; owner). Shows the new price (USD) against the old one and the
    borrowers it puts at risk; refuses a feed with other decimals, a zero,
    negative or stale answer."""
    run(ops.set_oracle, network, account, json_output, yes, **options)


def role_command(role, example, what):
    """``set-guardian`` / ``set-treasury``: ``role`` becomes ADDRESS."""

    @command(f"set-{role}", example)
    @click.argument("address", metavar="ADDRESS")
    def set_role(network, account, json_output, yes, address):
        run(getattr(ops, f"set_{role}"), network, account, json_output, yes, address=address)

    set_role.help = (
        f"Make ADDRESS (0x…, EIP-55 checked; an alias or TEST::n) the {role}, {what} (owner)."
    )
    return set_role


set_guardian = role_command(
    "guardian",
    "ape run admin set-guardian 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "who may pause all but liquidation and freeze assets",
)
set_treasury = role_command("treasury", "ape run admin set-treasury TEST::8", "which receives the reserves")


@command("list-collateral", "ape run admin list-collateral 0xToken 0xOracle --ltv 0.80 --threshold 0.86 --bonus 0.04")
@click.argument("token", metavar="TOKEN")
@click.argument("oracle", metavar="ORACLE")
@click.option("--ltv", default="0.85", show_default=True, help="Borrow limit: 0.85 or 85%.")
@click.option("--threshold", default="0.90", show_default=True, help="Liquidation threshold.")
@click.option("--bonus", default="0.03", show_default=True, help="Liquidation bonus.")
@click.option("--supply-cap", default="unlimited", show_default=True, help="In the token's units.")
@click.option("--price-cap", default="none", show_default=True, help="In USD.")
@click.option("--max-oracle-age", default="100h", show_default=True, help="3600, 90m, 100h, 4d.")
@click.option("--facility", default=None, help="Redemption facility of the redeem route.")
def list_collateral(network, account, json_output, yes, **options):
    """List TOKEN as collateral priced by ORACLE (names or addresses; owner)."""
    run(ops.list_collateral, network, account, json_output, yes, **options)


@command("withdraw-reserves", "ape run admin withdraw-reserves 1,000.50")
@click.argument("amount", metavar="AMOUNT|max")
def withdraw_reserves(network, account, json_output, yes, **options):
    """Send AMOUNT of the stablecoin (1000.50), or max, of the reserves to the treasury (owner)."""
    run(ops.withdraw_reserves, network, account, json_output, yes, **options)


@command("book-surplus", "ape run admin book-surplus --account TEST::7")
def book_surplus(network, account, json_output, yes, **options):
    """Book the surplus (flash-loan fees, donations) as reserves (any account)."""
    run(ops.book_surplus, network, account, json_output, yes, **options)
