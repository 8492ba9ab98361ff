"""``ape run deploy-market``: deploy a navlend market over contracts that
already exist (an issuer's fund token, oracle and redemption contract, a
stablecoin), from a config file (docs/deploy.md).

Examples::

    ape run deploy-market --config deploy/ustb-mainnet.toml --dry-run \\
        --network ethereum:mainnet-fork:foundry        # checks, plan, simulation
    ape run deploy-market --config deploy/ustb-mainnet.toml \\
        --network ethereum:mainnet:node                # asks before sending

Everything is checked before anything is sent (a bad config is refused
with every problem listed); the steps are recorded in
``deployments/<network>.json`` as they are mined, and a rerun resumes
from that record; every setting is read back at the end.
"""

from __future__ import annotations

from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, network_option

from navlend.deploy.command import ConfigError, DeployRefused, VerifyFailed, deploy_market


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The deployment config (TOML), e.g. deploy/ustb-mainnet.toml.",
)
@click.option(
    "--dry-run", is_flag=True, help="Check, print the plan, simulate it, and send nothing."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation on a live network.")
def cli(network, config_path, dry_run, yes):
    """Deploy a market over existing issuers' contracts from a config file."""
    try:
        deploy_market(
            config_path, dry_run=dry_run, yes=yes, confirm=lambda q: click.confirm(q, default=False)
        )
    except (ConfigError, DeployRefused, VerifyFailed) as err:
        raise click.ClickException(str(err)) from None
