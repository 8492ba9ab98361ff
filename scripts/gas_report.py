"""Prints the gas of every operation of the reference scenario on this
market, beside the peers' reference figures, then a liquidation through
each route (seize, redeem) on the native market and over the Superstate
and Ondo adapters (``make gas``).

    ape run gas_report [--network ethereum:local:foundry] [--json]

The scenario is ``docs/gas-scenario.md``; the driver is
``devkit.gasbench.scenario``. The peer columns are the reference's published
figures; ``ape run bench_gas`` builds the peers and measures them in the
same run. This is a figure, not a timed test: gas is deterministic for the
same code and inputs.
"""

import json

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand, network_option
from ape.logging import logger

from devkit.gasbench.scenario import Actors, deploy_tokens, run_scenario
from devkit.gasbench.bench import reference_comparison
from devkit.gasbench.navlend_adapter import NavlendAdapter
from devkit.gasbench.routes import run_routes
from devkit.gasbench.table import gas_table, route_markets, route_table, summary, wide_console
from devkit.gasbench.sizes import contract_sizes, size_table, sizes_json


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable figures.")
@click.option(
    "--collateral-decimals", default=18, show_default=True, help="Decimals of the collateral mock."
)
def cli(network, as_json, collateral_decimals):
    """Gas per market operation, on the reference scenario."""
    if not network.is_local:
        raise click.UsageError("the gas scenario mints mock tokens: run it on a local network")
    if as_json:
        # Ape logs each confirmation on stdout; keep stdout one JSON document.
        logger.set_level("ERROR")
    actors = Actors.from_accounts(accounts.test_accounts)
    tokens = deploy_tokens(actors.owner, project, collateral_decimals)
    adapter = NavlendAdapter(project)
    comparison = reference_comparison(run_scenario(adapter, actors, chain, tokens))
    routes = run_routes(actors, chain, project)
    sizes = contract_sizes(project, chain.provider, adapter.deployed_addresses() | routes.adapters)
    if as_json:
        document = comparison.as_json()
        click.echo(
            json.dumps(
                {
                    "gas": document["gas"]["navlend"],
                    "ratios": document["ratios"],
                    "liquidation_routes": routes.as_json(),
                    "sizes": sizes_json(sizes),
                },
                indent=2,
            )
        )
        return
    console = wide_console()
    console.print(
        gas_table(comparison, "navlend gas per operation (receipt gasUsed, reference scenario)")
    )
    console.print(summary(comparison))
    console.print(route_table(routes, "liquidation by route: native market and issuer adapters"))
    for line in route_markets(routes):
        console.print(f"  {line}")
    console.print(size_table(sizes))
    console.print(
        "Peer columns: the reference's own figures (docs/gas-scenario.md; anvil 1.7.1), measured over "
        "Morpho's ERC20Mock, which spends even an infinite allowance (about 3,200 gas more per "
        "transferFrom than the MockERC20 navlend runs on here), so these ratios flatter navlend. "
        "`ape run bench_gas` builds the peers and measures all three over the same tokens."
    )
