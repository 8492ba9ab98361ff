"""Deploying and reaching a navlend market from Python (Ape).

A market is three contracts on one storage: ``Market`` (lenders,
borrowers, liquidation, flash loans), ``MarketViews`` (every view), which
``Market`` reaches by ``delegatecall`` from its fallback, and
``MarketAdmin`` (the owner's and guardian's functions, operators, the
issuer-action sync), which the views reach the same way from theirs.
Callers should not have to know that: :func:`market_at` returns one Ape
contract instance whose ABI is the union of all three, at the market's
address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# ``ape.chain`` and ``ape.project`` are read when a function runs: importing
# ``ape`` alone is cheap, so modules that only want ``PAUSE_BITS`` do not
# load Ape's managers.
import ape

from navlend.constants import (
    PAUSE_BORROW,
    PAUSE_DEPOSIT_COLLATERAL,
    PAUSE_FLASH_LOAN,
    PAUSE_LIQUIDATION,
    PAUSE_SUPPLY,
    PAUSE_WITHDRAW,
    PAUSE_WITHDRAW_COLLATERAL,
)
from navlend.deployments import ContractRecord

PAUSE_BITS = {
    "supply": PAUSE_SUPPLY,
    "withdraw": PAUSE_WITHDRAW,
    "borrow": PAUSE_BORROW,
    "deposit-collateral": PAUSE_DEPOSIT_COLLATERAL,
    "withdraw-collateral": PAUSE_WITHDRAW_COLLATERAL,
    "flash-loan": PAUSE_FLASH_LOAN,
    "liquidation": PAUSE_LIQUIDATION,
}


@dataclass(frozen=True)
class AssetListing:
    """Risk parameters of one collateral asset, as ``list_asset`` takes them.
    Defaults sit between Aave Horizon (USTB 83/88/3 %, USYC 85/89/3.1 %)
    and Flux (92 % against OUSG)."""

    ltv_bps: int = 8_500
    threshold_bps: int = 9_000
    bonus_bps: int = 300
    # In the asset's smallest units; the default is effectively unlimited.
    supply_cap: int = 2**120 - 1
    # In the oracle's decimals; 0 means no cap.
    price_cap: int = 0
    # Oldest NAV accepted for borrowing: a long weekend is about 96 hours.
    max_oracle_age: int = 100 * 3_600


def _merged_contract_type(project: Any) -> Any:
    """Market's contract type with MarketViews' and MarketAdmin's functions
    and events added (what the market's address answers through its
    fallbacks), skipping the entries already there (same selector or event
    signature)."""
    market_type = project.Market.contract_type
    abi = list(market_type.abi)
    seen = {_abi_key(item) for item in abi}
    for extension in (project.MarketViews.contract_type, project.MarketAdmin.contract_type):
        for item in extension.abi:
            if item.type in ("function", "event") and _abi_key(item) not in seen:
                seen.add(_abi_key(item))
                abi.append(item)
    return market_type.model_copy(update={"abi": abi})


def _abi_key(item: Any) -> tuple[str, str]:
    """A key that identifies an ABI entry across the two contract types."""
    selector = getattr(item, "selector", None)
    return (item.type, selector or getattr(item, "name", "") or "")


def market_at(address: str, project: Any = None) -> Any:
    """The market at ``address`` as one Ape contract with the full ABI."""
    project = ape.project if project is None else project
    return ape.chain.contracts.instance_at(address, contract_type=_merged_contract_type(project))


def deploy_market(
    deployer: Any,
    base: Any,
    *,
    guardian: Any,
    treasury: Any,
    name: str = "navlend USDC lender share",
    symbol: str = "nUSDC",
    project: Any = None,
) -> Any:
    """Deploys MarketAdmin, MarketViews in front of it, and Market in front
    of both over ``base``, and returns the merged instance. ``name`` is at most 25 characters and ``symbol`` 5 (snekmate's
    ERC-20 limits)."""
    project = ape.project if project is None else project
    admin = deployer.deploy(project.MarketAdmin, base)
    views = deployer.deploy(project.MarketViews, base, admin)
    market = deployer.deploy(project.Market, base, views, name, symbol, guardian, treasury)
    return market_at(market.address, project)


def list_asset(market: Any, owner: Any, token: Any, oracle: Any, listing: AssetListing = AssetListing()) -> Any:
    """Lists ``token`` as collateral with ``listing``'s parameters."""
    return market.list_asset(
        token,
        oracle,
        listing.ltv_bps,
        listing.threshold_bps,
        listing.bonus_bps,
        listing.supply_cap,
        listing.price_cap,
        listing.max_oracle_age,
        sender=owner,
    )


def deploy_local_market(world: Any, owner: Any, *, guardian: Any, treasury: Any, project: Any = None) -> Any:
    """Deploys a market over a local world (``devkit.world.World``) and
    wires it the way the tests, the deploy script and the demo all expect:

    - asset 0: fund A (NAV-accruing, 6 decimals), its NAV oracle and facility;
    - asset 1: fund C (NAV-accruing, 18 decimals), its NAV oracle and
      facility, no price cap (its NAV accrues);
    - asset 2: the accumulating wrapper over fund B ($1 dividend fund),
      priced by its WrapperNavOracle and redeemed through the
      WrappedFacility;
    - the market is allowlisted by every fund (so it can hold the shares);
    - each asset's compliance source: the fund itself, and fund B for the
      wrapper.

    Fund B itself is not listed: the market refuses a dividend fund raw
    (its dividends minted to the market would be credited to no one), so
    it is posted through the wrapper, whose share price rises instead.
    ``owner`` must also be the funds' issuer admin (the local world's
    deployer) to allowlist the market.
    """
    market = deploy_market(owner, world.stablecoin, guardian=guardian, treasury=treasury, project=project)
    world.allowlist(market, sender=owner)
    for token, oracle, facility in (
        (world.fund_a, world.oracle_a, world.facility_a),
        (world.fund_c, world.oracle_c, world.facility_c),
        (world.wrapper, world.wrapper_oracle, world.wrapped_facility),
    ):
        list_asset(market, owner, token, oracle)
        market.set_asset_facility(token, facility, sender=owner)
    # The funds are their own compliance sources (set at listing); the
    # wrapper's holders are fund B's investors.
    market.set_asset_compliance(world.wrapper, world.fund_b, sender=owner)
    return market


def market_records(world: Any, market: Any, periphery: dict[str, Any]) -> list[Any]:
    """Deployment records of the market, its admin extension and the
    periphery contracts (``{"lens": ..., "leverage": ...}``)."""
    # control()'s outputs are a bare tuple (Vyper names none): unpacked in
    # IMarketViews' order, the unpacking checks the arity.
    _paused, _resume_at, flash_fee_bps, _liquidation_fee_bps, min_borrow, _small, _dust = market.control()
    records = [
        ContractRecord(
            name="market",
            contract_type="Market",
            address=str(market.address),
            params={
                "asset": str(world.stablecoin.address),
                "views": str(market.EXTENSION()),
                "admin": str(market.ADMIN()),
                "guardian": str(market.guardian()),
                "treasury": str(market.treasury()),
                "collateral": [str(market.asset_at(i)) for i in range(market.asset_count())],
                "flash_fee_bps": flash_fee_bps,
                "min_borrow": min_borrow,
            },
        ),
        ContractRecord(name="market_views", contract_type="MarketViews", address=str(market.EXTENSION())),
        ContractRecord(name="market_admin", contract_type="MarketAdmin", address=str(market.ADMIN())),
    ]
    for name, contract in periphery.items():
        records.append(
            ContractRecord(
                name=name,
                contract_type=contract.contract_type.name,
                address=str(contract.address),
                params={"market": str(market.address)} if name != "lens" else {},
            )
        )
    return records


def deploy_periphery(world: Any, market: Any, owner: Any, project: Any = None) -> dict[str, Any]:
    """Deploys the Lens and the Leverage helper for ``market``; Leverage is
    allowlisted by every fund, since fund shares pass through it."""
    project = ape.project if project is None else project
    lens = owner.deploy(project.Lens)
    leverage = owner.deploy(project.Leverage, market)
    world.allowlist(leverage, sender=owner)
    return {"lens": lens, "leverage": leverage}


def deploy_extension(world: Any, deployment: Any, account: Any) -> Any:
    """The deploy script's hook: deploys the market over the local world,
    with the account as owner, guardian and treasury, and the periphery,
    and adds their records to ``deployment``. Returns the market."""
    market = deploy_local_market(world, account, guardian=account, treasury=account)
    periphery = deploy_periphery(world, market, account)
    for record in market_records(world, market, periphery):
        deployment.add(record)
    return market
