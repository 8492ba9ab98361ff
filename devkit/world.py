"""The local world a navlend market lives in: a stablecoin, three tokenized
money-market funds, their NAV oracles and redemption facilities, and an
accumulating wrapper over the $1 dividend fund.

- Fund A: NAV accrues (like Superstate USTB), 6 decimals, NAV about $10.50.
- Fund B: stable $1 with dividends minted as shares (like BlackRock BUIDL),
  18 decimals, NAV 1.00000000, wrapped by an ERC-4626 AccumulatingWrapper
  priced by a WrapperNavOracle and redeemable through a WrappedFacility.
  A market lists only the wrapper: it refuses a dividend fund raw, whose
  dividends minted to the market would be credited to no one.
- Fund C: NAV accrues, 18 decimals, NAV about $1.05: the raw 18-decimal
  fund share a market lists.

``deploy_world(deployer, ...)`` deploys and wires all of it and returns a
:class:`World`. The lending market is deployed afterwards by its own
function, which allowlists itself with :meth:`World.allowlist` (the
deployer is the issuer admin of every fund).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import ape

from devkit.devchain import address_of
from navlend.deployments import ContractRecord, Deployment
from navlend.timeutil import previous_business_day_strike

# Fund value models, as in FundToken.vy.
NAV_ACCRUING = 0
STABLE_DIVIDEND = 1


@dataclass(frozen=True)
class FacilityConfig:
    """Parameters of one fund's RedemptionFacility."""

    # Redemption fee in basis points (at most 100).
    fee_bps: int = 5
    # Smallest redemption, in whole fund shares.
    min_redeem_shares: int = 1
    # Stablecoin payable per rolling 24 hours, in whole stablecoin units.
    daily_limit: int = 2_500_000
    # Oldest acceptable NAV, seconds (100 hours: a 3-day weekend + buffer).
    max_oracle_age: int = 360_000
    # Stablecoin pre-funded as redemption liquidity, in whole units.
    liquidity: int = 5_000_000


@dataclass(frozen=True)
class WorldConfig:
    """Everything :func:`deploy_world` can vary. The defaults are the
    world the tests and the demo run against."""

    stablecoin_name: str = "USD Coin (local)"
    stablecoin_symbol: str = "USDC"
    stablecoin_decimals: int = 6

    fund_a_name: str = "T-Bill Fund A (local)"
    fund_a_symbol: str = "TBFA"
    fund_a_decimals: int = 6
    # NAV of fund A, 8 decimals: $10.50.
    nav_a: int = 10_50_000_000

    fund_b_name: str = "Dollar Fund B (local)"
    fund_b_symbol: str = "DLFB"
    fund_b_decimals: int = 18
    # NAV of fund B, 8 decimals: $1.00.
    nav_b: int = 1_00_000_000

    wrapper_name: str = "Accumulating DLFB"
    wrapper_symbol: str = "aDLFB"

    fund_c_name: str = "Treasury Fund C (local)"
    fund_c_symbol: str = "TRFC"
    fund_c_decimals: int = 18
    # NAV of fund C, 8 decimals: $1.05.
    nav_c: int = 1_05_000_000

    facility_a: FacilityConfig = field(default_factory=FacilityConfig)
    facility_b: FacilityConfig = field(default_factory=FacilityConfig)
    facility_c: FacilityConfig = field(default_factory=FacilityConfig)


@dataclass
class World:
    """Contract instances of a deployed world, plus the roles that run it."""

    issuer: Any
    updater: str
    guardian: str
    treasury: str
    stablecoin: Any
    fund_a: Any
    fund_b: Any
    fund_c: Any
    wrapper: Any
    oracle_a: Any
    oracle_b: Any
    oracle_c: Any
    wrapper_oracle: Any
    facility_a: Any
    facility_b: Any
    facility_c: Any
    wrapped_facility: Any
    config: WorldConfig = field(default_factory=WorldConfig)

    def contracts(self) -> dict[str, Any]:
        """The contracts by their role name (the deployments-file keys)."""
        return {
            "stablecoin": self.stablecoin,
            "fund_a": self.fund_a,
            "fund_b": self.fund_b,
            "fund_c": self.fund_c,
            "wrapper": self.wrapper,
            "oracle_a": self.oracle_a,
            "oracle_b": self.oracle_b,
            "oracle_c": self.oracle_c,
            "wrapper_oracle": self.wrapper_oracle,
            "facility_a": self.facility_a,
            "facility_b": self.facility_b,
            "facility_c": self.facility_c,
            "wrapped_facility": self.wrapped_facility,
        }

    def funds(self) -> tuple[Any, Any, Any]:
        """The fund tokens (A, B, C)."""
        return self.fund_a, self.fund_b, self.fund_c

    def allowlist(self, *accounts: Any, sender: Any = None) -> None:
        """Allowlists ``accounts`` on every fund (by the issuer by default).

        The wrapper's compliance is the fund B allowlist, so this admits
        them to wrapper shares too.
        """
        if not accounts:
            return
        for fund in self.funds():
            fund.set_allowlisted_batch(list(accounts), True, sender=sender or self.issuer)

    def records(self) -> list[ContractRecord]:
        """Deployment records with each contract's key parameters."""
        cfg = self.config

        def facility_params(facility: Any, fc: FacilityConfig) -> dict[str, Any]:
            return {
                "share_token": str(facility.share_token()),
                "payout_token": str(facility.payout_token()),
                "oracle": str(facility.oracle()),
                "fee_bps": fc.fee_bps,
                "min_redeem_shares": fc.min_redeem_shares,
                "daily_limit": fc.daily_limit,
                "max_oracle_age": fc.max_oracle_age,
                "liquidity": fc.liquidity,
                "treasury": self.treasury,
            }

        params: dict[str, dict[str, Any]] = {
            "stablecoin": {"symbol": cfg.stablecoin_symbol, "decimals": cfg.stablecoin_decimals},
            "fund_a": {
                "symbol": cfg.fund_a_symbol,
                "decimals": cfg.fund_a_decimals,
                "value_model": NAV_ACCRUING,
            },
            "fund_b": {
                "symbol": cfg.fund_b_symbol,
                "decimals": cfg.fund_b_decimals,
                "value_model": STABLE_DIVIDEND,
            },
            "fund_c": {
                "symbol": cfg.fund_c_symbol,
                "decimals": cfg.fund_c_decimals,
                "value_model": NAV_ACCRUING,
            },
            "wrapper": {"symbol": cfg.wrapper_symbol, "asset": str(self.fund_b.address)},
            "oracle_a": {"description": self.oracle_a.description(), "nav": cfg.nav_a},
            "oracle_b": {"description": self.oracle_b.description(), "nav": cfg.nav_b},
            "oracle_c": {"description": self.oracle_c.description(), "nav": cfg.nav_c},
            "wrapper_oracle": {
                "description": self.wrapper_oracle.description(),
                "fund_oracle": str(self.oracle_b.address),
            },
            "facility_a": facility_params(self.facility_a, cfg.facility_a),
            "facility_b": facility_params(self.facility_b, cfg.facility_b),
            "facility_c": facility_params(self.facility_c, cfg.facility_c),
            "wrapped_facility": {
                "wrapper": str(self.wrapper.address),
                "facility": str(self.facility_b.address),
            },
        }
        return [
            ContractRecord(
                name=name,
                contract_type=contract.contract_type.name,
                address=str(contract.address),
                params=params[name],
            )
            for name, contract in self.contracts().items()
        ]

    def to_deployment(self, network: str, chain_id: int) -> Deployment:
        """A :class:`Deployment` of this world, ready to save."""
        deployment = Deployment(
            network=network, chain_id=chain_id, deployer=str(self.issuer.address)
        )
        for record in self.records():
            deployment.add(record)
        return deployment


def deploy_world(
    deployer: Any,
    *,
    updater: Any = None,
    guardian: Any = None,
    treasury: Any = None,
    allowlisted: Iterable[Any] = (),
    nav_as_of: int | None = None,
    config: WorldConfig | None = None,
    project: Any = None,
    chain: Any = None,
) -> World:
    """Deploys and wires a local world; ``deployer`` becomes the issuer
    admin (owner) of every contract.

    - ``updater`` / ``guardian``: the NAV oracles' roles (default: deployer).
    - ``treasury``: receiver of subscription cash (default: deployer).
    - ``allowlisted``: extra accounts admitted to every fund (the deployer
      itself is always admitted, so it can subscribe and seed accounts).
    - ``nav_as_of``: strike time of the first NAV (default: the latest
      business-day strike at or before the head block).

    Wiring: the facilities, the wrapper and the wrapped facility are
    allowlisted; each facility is a minter of its fund; each facility holds
    ``liquidity`` stablecoin.
    """
    project = ape.project if project is None else project
    chain = ape.chain if chain is None else chain
    cfg = config or WorldConfig()
    updater_addr = address_of(updater or deployer)
    guardian_addr = address_of(guardian or deployer)
    treasury_addr = address_of(treasury or deployer)
    as_of = (
        nav_as_of
        if nav_as_of is not None
        else previous_business_day_strike(chain.blocks.head.timestamp)
    )
    tx = {"sender": deployer}

    stablecoin = deployer.deploy(
        project.MockStablecoin, cfg.stablecoin_name, cfg.stablecoin_symbol, cfg.stablecoin_decimals
    )
    fund_a = deployer.deploy(
        project.FundToken, cfg.fund_a_name, cfg.fund_a_symbol, cfg.fund_a_decimals, NAV_ACCRUING
    )
    fund_b = deployer.deploy(
        project.FundToken, cfg.fund_b_name, cfg.fund_b_symbol, cfg.fund_b_decimals, STABLE_DIVIDEND
    )

    def deploy_oracle(symbol: str, nav: int) -> Any:
        # Every fund's NAV feed has the same updater, guardian and strike.
        return deployer.deploy(
            project.NavOracle, f"{symbol} / USD NAV", updater_addr, guardian_addr, nav, as_of
        )

    oracle_a = deploy_oracle(cfg.fund_a_symbol, cfg.nav_a)
    oracle_b = deploy_oracle(cfg.fund_b_symbol, cfg.nav_b)
    wrapper = deployer.deploy(
        project.AccumulatingWrapper, fund_b, cfg.wrapper_name, cfg.wrapper_symbol
    )
    wrapper_oracle = deployer.deploy(
        project.WrapperNavOracle, wrapper, oracle_b, f"{cfg.wrapper_symbol} / USD NAV"
    )

    def deploy_facility(fund: Any, oracle: Any, decimals: int, fc: FacilityConfig) -> Any:
        return deployer.deploy(
            project.RedemptionFacility,
            fund,
            stablecoin,
            oracle,
            fc.fee_bps,
            fc.min_redeem_shares * 10**decimals,
            fc.daily_limit * 10**cfg.stablecoin_decimals,
            fc.max_oracle_age,
            treasury_addr,
        )

    facility_a = deploy_facility(fund_a, oracle_a, cfg.fund_a_decimals, cfg.facility_a)
    facility_b = deploy_facility(fund_b, oracle_b, cfg.fund_b_decimals, cfg.facility_b)
    wrapped_facility = deployer.deploy(project.WrappedFacility, wrapper, facility_b)
    # Fund C last, so the contracts above keep their addresses.
    fund_c = deployer.deploy(
        project.FundToken, cfg.fund_c_name, cfg.fund_c_symbol, cfg.fund_c_decimals, NAV_ACCRUING
    )
    oracle_c = deploy_oracle(cfg.fund_c_symbol, cfg.nav_c)
    facility_c = deploy_facility(fund_c, oracle_c, cfg.fund_c_decimals, cfg.facility_c)

    extra = [address_of(a) for a in allowlisted]
    base = [address_of(deployer)] + [a for a in extra if a != address_of(deployer)]
    fund_a.set_allowlisted_batch([facility_a.address, *base], True, **tx)
    fund_b.set_allowlisted_batch(
        [facility_b.address, wrapper.address, wrapped_facility.address, *base], True, **tx
    )
    fund_c.set_allowlisted_batch([facility_c.address, *base], True, **tx)
    unit = 10**cfg.stablecoin_decimals
    for fund, facility, fc in (
        (fund_a, facility_a, cfg.facility_a),
        (fund_b, facility_b, cfg.facility_b),
        (fund_c, facility_c, cfg.facility_c),
    ):
        fund.set_minter(facility, True, **tx)
        stablecoin.mint(facility, fc.liquidity * unit, **tx)

    return World(
        issuer=deployer,
        updater=updater_addr,
        guardian=guardian_addr,
        treasury=treasury_addr,
        stablecoin=stablecoin,
        fund_a=fund_a,
        fund_b=fund_b,
        fund_c=fund_c,
        wrapper=wrapper,
        oracle_a=oracle_a,
        oracle_b=oracle_b,
        oracle_c=oracle_c,
        wrapper_oracle=wrapper_oracle,
        facility_a=facility_a,
        facility_b=facility_b,
        facility_c=facility_c,
        wrapped_facility=wrapped_facility,
        config=cfg,
    )


def attach_world(deployment: Deployment, *, project: Any = None, issuer: Any = None) -> World:
    """Re-creates a :class:`World` from a deployments file (e.g. for a
    keeper). Roles are read from the contracts; ``issuer`` is whatever
    account the caller will sign admin transactions with, if any."""
    project = ape.project if project is None else project
    contracts = {
        name: getattr(project, rec.contract_type).at(rec.address)
        for name, rec in deployment.contracts.items()
        if name in World.__dataclass_fields__
    }
    return World(
        issuer=issuer,
        updater=str(contracts["oracle_a"].updater()),
        guardian=str(contracts["oracle_a"].guardian()),
        treasury=str(contracts["facility_a"].treasury()),
        **contracts,
    )
