"""``ape run deploy-local-world``: deploy the local navlend world and record it.

(``ape run deploy`` is its alias. A market over real issuers' contracts
on a live network is ``ape run deploy-market``: docs/deploy.md.)

Deploys the stablecoin, the three funds, their NAV oracles and redemption
facilities, the accumulating wrapper with its oracle and redemption adapter
(``devkit.world.deploy_world``), writes ``deployments/<network>.json`` and
prints what it deployed.

Local networks only for now: the world is made of mocks (a mintable
stablecoin, issuer-controlled fund tokens), so the command refuses to run
on a live network or a fork.

Examples::

    ape run deploy-local-world                       # local anvil, test account 0
    ape run deploy-local-world --account TEST::1
    ape run deploy-local-world --network ethereum:local:foundry

The market and its periphery (lens, leverage helper) are deployed over the
world by ``navlend.market.deploy_extension``, the hook this command passes
to :func:`deploy`; ``--world-only`` leaves them out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from ape import accounts
from ape.cli import ConnectedProviderCommand, account_option, network_option
from rich.console import Console
from rich.table import Table

from devkit import seeding
from devkit.world import World, deploy_world
from navlend import deployments
from navlend.deployments import Deployment
from navlend.market import deploy_extension, market_at

# Hooks run after the world is deployed: ``hook(world, deployment, account)``
# may deploy more contracts (the market) and add records to ``deployment``.
Extension = Callable[[World, Deployment, Any], None]


def _format_params(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{key}={value}" for key, value in params.items() if not str(value).startswith("0x")
    )


def print_deployment(deployment: Deployment, console: Console | None = None) -> None:
    """Prints a table of every contract in ``deployment``."""
    table = Table(title=f"navlend on {deployment.network} (chain {deployment.chain_id})")
    table.add_column("name", style="bold")
    table.add_column("contract")
    table.add_column("address", style="cyan", no_wrap=True)
    table.add_column("key parameters", overflow="fold")
    for record in deployment.contracts.values():
        table.add_row(
            record.name, record.contract_type, record.address, _format_params(record.params)
        )
    if console is None:
        console = Console()
        console.width = max(console.width, 150)
    console.print(table)


def deploy(
    account: Any, network_name: str, chain_id: int, extend: tuple[Extension, ...] = ()
) -> tuple[World, Deployment]:
    """Deploys the world with ``account``, runs the ``extend`` hooks, and
    returns the world and its (unsaved) deployment record."""
    world = deploy_world(account)
    deployment = world.to_deployment(network_name, chain_id)
    for hook in extend:
        hook(world, deployment, account)
    return world, deployment


@click.command(cls=ConnectedProviderCommand)
@network_option()
@account_option(prompt=False)
@click.option("--world-only", is_flag=True, help="Deploy the fund world without the market.")
@click.option(
    "--seed",
    is_flag=True,
    help="Also seed a lender (test account 3, 5M USDC) and borrowers (test accounts 9+) at several LTVs.",
)
def cli(ecosystem, network, provider, account, world_only, seed):
    """Deploy the local navlend world and write deployments/<network>.json."""
    if not network.is_local or network.is_fork:
        raise click.ClickException(
            f"refusing to deploy on '{network.name}': the navlend world is mocks "
            "(mintable stablecoin, issuer-controlled funds); use a local network, "
            "or `ape run deploy-market` for a market over real issuers' contracts"
        )
    account = account or accounts.test_accounts[0]
    click.echo(
        f"deploying the navlend world on {ecosystem.name}:{network.name} from {account.address}"
    )
    if seed and world_only:
        raise click.UsageError("--seed needs the market: drop --world-only")
    hooks: tuple[Extension, ...] = () if world_only else (deploy_extension,)
    world, deployment = deploy(account, network.name, provider.chain_id, extend=hooks)
    path = deployments.save(deployment)
    print_deployment(deployment)
    click.echo(f"wrote {path}")
    if seed:
        test = accounts.test_accounts
        borrowers = [test[i] for i in range(9, 9 + len(seeding.SEEDS))]
        world.allowlist(*borrowers, sender=account)
        market = market_at(deployment.address("market"))
        seeding.lend(world, market, account, test[3], 5_000_000)
        seeding.seed_positions(world, market, account, borrowers)
        click.echo(f"seeded: 5,000,000 USDC lent by {test[3].address}, {len(borrowers)} borrowers")
