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
from devkit.world import NAV_ACCRUING, STABLE_DIVIDEND, World, deploy_world
from navlend import deployments
from navlend.cli.amounts import format_bps, format_units
from navlend.cli.texts import UNLIMITED, duration_text, usd_text
from navlend.deployments import Deployment
from navlend.market import deploy_extension, market_at

# Hooks run after the world is deployed: ``hook(world, deployment, account)``
# may deploy more contracts (the market) and add records to ``deployment``.
Extension = Callable[[World, Deployment, Any], None]


# Record parameters in whole stablecoin units, and in the stablecoin's base units.
_WHOLE_STABLE = ("daily_limit", "liquidity")
_BASE_UNITS = ("min_borrow",)
# How a fund's value reaches its holders (devkit.world's value models).
VALUE_MODELS = {NAV_ACCRUING: "NAV accrues", STABLE_DIVIDEND: "$1, dividends in shares"}
# The local NAV oracles answer with 8 decimals.
NAV_DECIMALS = 8


def _stable(deployment: Deployment) -> tuple[str, int]:
    record = deployment.get("stablecoin")
    params = record.params if record else {}
    return str(params.get("symbol", "USDC")), int(params.get("decimals", 6))


def _param_text(key: str, value: Any, deployment: Deployment) -> str | None:
    """One record parameter as people read it (None: an address, left
    out; a list of addresses reads as the deployment's names)."""
    symbol, decimals = _stable(deployment)
    if isinstance(value, list):
        return ", ".join(deployment_name(deployment, v) for v in value)
    if str(value).startswith("0x"):
        return None
    if key.endswith("_bps"):
        return format_bps(int(value))
    if key == "max_oracle_age":
        return duration_text(int(value))
    if key == "value_model":
        return VALUE_MODELS.get(value, str(value))
    if key == "nav":
        return usd_text(int(value), NAV_DECIMALS)
    if key in _WHOLE_STABLE:
        return f"{int(value):,} {symbol}"
    if key in _BASE_UNITS:
        return f"{format_units(int(value), decimals)} {symbol}"
    return str(value)


def deployment_name(deployment: Deployment, address: str) -> str:
    for record in deployment.contracts.values():
        if record.address.lower() == str(address).lower():
            return record.name
    return str(address)


def _format_params(params: dict[str, Any], deployment: Deployment) -> str:
    shown = ((key, _param_text(key, value, deployment)) for key, value in params.items())
    return ", ".join(f"{key} {text}" for key, text in shown if text is not None)


def _wide(console: Console | None) -> Console:
    """``console``, or a console at least 150 columns wide (tables whole in a pipe)."""
    if console is None:
        console = Console()
        console.width = max(console.width, 150)
    return console


def print_deployment(deployment: Deployment, console: Console | None = None) -> None:
    """Prints a table of every contract in ``deployment``, its key
    parameters in human units (percentages, durations, USD, amounts)."""
    table = Table(title=f"navlend on {deployment.network} (chain {deployment.chain_id})")
    table.add_column("name", style="bold")
    table.add_column("contract")
    table.add_column("address", style="cyan", no_wrap=True)
    table.add_column("key parameters", overflow="fold")
    for record in deployment.contracts.values():
        table.add_row(
            record.name, record.contract_type, record.address, _format_params(record.params, deployment)
        )
    _wide(console).print(table)


def _token_units(deployment: Deployment, token: str) -> tuple[str, int]:
    """A listed token's symbol and decimals from its record (a wrapper's
    decimals are its fund's)."""
    record = deployment.get(deployment_name(deployment, token))
    params = record.params if record else {}
    decimals = params.get("decimals")
    if decimals is None and "asset" in params:
        fund = deployment.get(deployment_name(deployment, params["asset"]))
        decimals = (fund.params if fund else {}).get("decimals")
    return str(params.get("symbol", "")), int(decimals if decimals is not None else 18)


def print_listings(market: Any, deployment: Deployment, console: Console | None = None) -> None:
    """Prints the market's collateral and its settings in human units."""
    table = Table(title="collateral listed on the market")
    for name in ("asset", "LTV", "threshold", "bonus", "supply cap", "price cap", "max oracle age", "frozen"):
        table.add_column(name, justify="left" if name == "asset" else "right")
    for i in range(int(market.asset_count())):
        token = str(market.asset_at(i))
        cfg = market.asset_config(token)
        symbol, decimals = _token_units(deployment, token)
        cap = int(cfg.supply_cap)
        table.add_row(
            deployment_name(deployment, token),
            format_bps(int(cfg.ltv_bps)),
            format_bps(int(cfg.threshold_bps)),
            format_bps(int(cfg.bonus_bps)),
            "unlimited" if cap >= UNLIMITED else f"{format_units(cap, decimals)} {symbol}",
            "none" if int(cfg.price_cap) == 0 else usd_text(int(cfg.price_cap), NAV_DECIMALS),
            duration_text(int(cfg.max_oracle_age)),
            "yes" if cfg.frozen else "no",
        )
    _wide(console).print(table)


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
    if not world_only:
        print_listings(market_at(deployment.address("market")), deployment)
    click.echo(f"wrote {path}")
    if seed:
        test = accounts.test_accounts
        borrowers = [test[i] for i in range(9, 9 + len(seeding.SEEDS))]
        world.allowlist(*borrowers, sender=account)
        market = market_at(deployment.address("market"))
        seeding.lend(world, market, account, test[3], 5_000_000)
        seeding.seed_positions(world, market, account, borrowers)
        click.echo(f"seeded: 5,000,000 USDC lent by {test[3].address}, {len(borrowers)} borrowers")
