"""Gas per operation side by side: navlend, Morpho Blue and Aave v3, built
from their npm packages and measured on the reference scenario
(``docs/gas-scenario.md``) in one run on one chain (``make bench``'s gas part).

    ape run bench_gas [--json PATH] [--readme README.md] [--tokens mock|fund] [--collateral-decimals 18]

Morpho Blue is compiled with the npm solc 0.8.19 (solc-js; via-IR, 999,999
runs, evm paris) into ``.build/peers/`` on the first run (about half a
minute), Aave v3 is deployed from ``@aave/core-v3``'s artifacts. Prints the
table with each ratio against its target and writes the figures, the date,
the machine and the versions to PATH (default ``reports/bench_gas.json``);
``--readme`` also rewrites the table between the README's bench-gas markers.
``--tokens mock`` (the default, the fair protocol-to-protocol figure) runs
every protocol over the plain ERC-20 mock; ``--tokens fund`` over the
stablecoin and an allowlisted fund token, as a real market would.
The logic is ``devkit.gasbench.bench.run_bench``.
"""

import json
from pathlib import Path

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand, network_option
from ape.logging import logger

from devkit.gasbench.scenario import DEFAULT_TOKENS, TOKEN_PROFILES, Actors, token_profile
from devkit.gasbench.bench import run_bench
from devkit.gasbench.table import gas_table, markdown_table, replace_block, summary, wide_console
from devkit.gasbench.sizes import size_table

DEFAULT_JSON = Path("reports/bench_gas.json")


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_JSON,
    show_default=True,
    help="Where to write the results.",
)
@click.option(
    "--collateral-decimals", default=18, show_default=True, help="Decimals of the collateral token."
)
@click.option(
    "--tokens",
    type=click.Choice(sorted(TOKEN_PROFILES)),
    default=DEFAULT_TOKENS,
    show_default=True,
    help="mock: plain ERC-20 mocks for both tokens; fund: the stablecoin and an allowlisted fund token.",
)
@click.option(
    "--readme",
    "readme_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="A Markdown file whose bench-gas block gets this run's table.",
)
def cli(network, json_path, collateral_decimals, tokens, readme_path):
    """navlend vs Morpho Blue vs Aave v3: gas per operation, one run."""
    if not network.is_local:
        raise click.UsageError(
            "the gas benchmark deploys three protocols and mints mock tokens: use a local network"
        )
    readme = readme_path.read_text() if readme_path else None
    if readme is not None:
        try:
            replace_block(readme, "")
        except ValueError as err:
            raise click.UsageError(f"{readme_path}: {err}") from None
    logger.set_level("ERROR")
    console = wide_console()
    with console.status("building the peers and running the scenario on three protocols"):
        actors = Actors.from_accounts(accounts.test_accounts)
        profile = token_profile(tokens)
        result = run_bench(
            actors, chain, project, collateral_decimals=collateral_decimals, tokens=profile
        )
    console.print(
        gas_table(
            result.comparison, "Gas per operation (receipt gasUsed), reference scenario, one chain"
        )
    )
    console.print(summary(result.comparison))
    console.print(size_table(list(result.sizes)))
    console.print(
        f"Tokens ({profile.key}): fresh {profile.loan_type} (loan) and {profile.collateral_type} "
        f"(collateral) for every protocol: {profile.note}."
    )
    for key, setup in result.setups.items():
        console.print(f"  {key}: {setup}")
    console.print(
        f"Morpho Blue: {result.compiler}. Machine: {result.machine.describe()}. Date: {result.date}."
    )
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result.as_json(), indent=2) + "\n")
    console.print(f"Wrote {json_path}")
    if readme_path:
        readme_path.write_text(replace_block(readme, markdown_table(result)))
        console.print(f"Updated the table in {readme_path}")
