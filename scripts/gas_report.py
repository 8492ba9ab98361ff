"""Prints the gas of every operation of the reference scenario on this
market, beside the peers' reference figures (``make gas``).

    ape run gas_report [--network ethereum:local:foundry] [--json]

The scenario is ``shared/reference/gas-scenario.md``; see
``navlend.gas_scenario``. This is a figure, not a timed test: gas is
deterministic for the same code and inputs.
"""

import json

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand, network_option
from ape.logging import logger
from rich.console import Console
from rich.table import Table

from navlend import gas_scenario


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable figures.")
@click.option("--collateral-decimals", default=18, show_default=True, help="Decimals of the collateral mock.")
def cli(network, as_json, collateral_decimals):
    """Gas per market operation, on the reference scenario."""
    if not network.is_local:
        raise click.UsageError("the gas scenario mints mock tokens: run it on a local network")
    if as_json:
        # Ape logs each confirmation on stdout; keep stdout one JSON document.
        logger.set_level("ERROR")
    result = gas_scenario.run(accounts.test_accounts, chain, project, collateral_decimals=collateral_decimals)
    morpho = result.ratio(gas_scenario.MORPHO_BLUE)
    aave = result.ratio(gas_scenario.AAVE_V3)
    if as_json:
        click.echo(json.dumps({"gas": result.gas, "vs_morpho_blue": morpho, "vs_aave_v3": aave}, indent=2))
        return
    table = Table(title="navlend gas per operation (receipt gasUsed, reference scenario)")
    for column in ("operation", "navlend", "Morpho Blue*", "ratio", "Aave v3*", "ratio"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for op in gas_scenario.OPERATIONS:
        table.add_row(
            op,
            f"{result.gas[op]:,}",
            f"{gas_scenario.MORPHO_BLUE[op]:,}",
            _ratio(morpho[op], 1.0),
            f"{gas_scenario.AAVE_V3[op]:,}",
            _ratio(aave[op], 0.5),
        )
    console = Console()
    console.print(table)
    console.print(
        "* reference figures from gas-scenario.md (anvil 1.7.1, minimal ERC-20 mocks); "
        "the side-by-side build of the peers is `make bench`."
    )


def _ratio(value: float, target: float) -> str:
    colour = "green" if value <= target else "red"
    return f"[{colour}]{value:.2f}x[/{colour}]"
