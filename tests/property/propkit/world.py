"""The navlend world and market deployed in-process on revm (``evm.py``).

Mirrors ``devkit.world.deploy_world`` + ``navlend.market.deploy_local_market``
+ ``deploy_periphery`` (which do the same on Ape):

- stablecoin: MockStablecoin, 6 decimals (mints only on chain id 31337,
  so the chain id is 31337);
- fund A: FundToken, NAV-accruing, **6 decimals**, NAV $10.50, NavOracle A,
  RedemptionFacility A;
- fund B: FundToken, stable $1 with dividends, **18 decimals**, NavOracle B,
  RedemptionFacility B; AccumulatingWrapper over B (18 decimals), priced by
  WrapperNavOracle, redeemed by WrappedFacility. Not listed raw: the market
  refuses a dividend fund (its dividends minted to the market would be
  credited to no one);
- fund C: FundToken, NAV-accruing, **18 decimals**, NAV $1.05, NavOracle C,
  RedemptionFacility C;
- market: Market + MarketViews + MarketAdmin (delegatecall), assets 0 = fund A, 1 = fund
  C (no price cap), 2 = wrapper; each asset's facility set for the redeem
  route;
- periphery: Leverage, FlashLiquidator (owned by the keeper), Lens, and a
  FlashBorrowerMock for the attacker's malicious flash-loan receiver.

Differences from the Ape world, all for reachability within a few hundred
steps (documented in AUDIT.md): the NAV oracles' minimum interval is one
hour (the bound's floor) instead of 20 hours; the facilities hold less
liquidity (400,000 USD) and a lower daily limit (300,000 USD), so the
"facility runs dry" branch is reachable. The market's own feed is the real
NavOracle (no mock), for both the share route and the redeem route.

Every contract is an :class:`evm.Contract` over cached artifacts (see
``artifacts``); a revert raises :class:`evm.Reverted` with the decoded
revert string. Each world owns its chain (``world.env``): a mutant's world
never shares state with the original's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from navlend.constants import MAX_UINT256

from . import artifacts
from .evm import CHAIN_ID, Contract, Reverted, RevmEnv, decode_revert, encode_constructor

__all__ = ["CHAIN_ID", "Reverted", "decode_revert", "EvmWorld", "WorldConfig", "deploy", "shared_world"]

ORACLE_DECIMALS = 8
NAV_A = 10_50_000_000
NAV_B = 1_00_000_000
NAV_C = 1_05_000_000
STABLE_DECIMALS = 6
FUND_A_DECIMALS = 6
FUND_B_DECIMALS = 18
FUND_C_DECIMALS = 18
MAX_UINT = MAX_UINT256
# Start of the world: a fixed time (2030-03-17), later than the wall clock
# default, so that every run sees the same timestamps (replays included).
WORLD_START = 1_900_000_000

CONTRACTS = {
    "stablecoin": "mocks/MockStablecoin.vy",
    "fund": "issuer/FundToken.vy",
    "oracle": "issuer/NavOracle.vy",
    "facility": "issuer/RedemptionFacility.vy",
    "wrapper": "adapters/AccumulatingWrapper.vy",
    "wrapper_oracle": "adapters/WrapperNavOracle.vy",
    "wrapped_facility": "adapters/WrappedFacility.vy",
    "admin": "market/MarketAdmin.vy",
    "views": "market/MarketViews.vy",
    "market": "market/Market.vy",
    "leverage": "periphery/Leverage.vy",
    "flash_liquidator": "periphery/FlashLiquidator.vy",
    "flash_borrower": "mocks/FlashBorrowerMock.vy",
    "lens": "periphery/Lens.vy",
    "mock_aggregator": "mocks/MockAggregator.vy",
}


# The market's sources: its three deployables (one storage, the extensions
# by delegatecall), its behaviour modules and the modules under them.
MARKET_DEPLOYABLES = ("market/Market.vy", "market/MarketViews.vy", "market/MarketAdmin.vy")
MARKET_MODULES = (
    "market/modules/lending.vy",
    "market/modules/borrowing.vy",
    "market/modules/liquidation.vy",
    "market/modules/flash.vy",
    "market/modules/views.vy",
    "market/modules/admin.vy",
    "market/modules/market_core.vy",
    "market/modules/market_storage.vy",
)
MARKET_FILES = (*MARKET_DEPLOYABLES, *MARKET_MODULES)


class Deployer:
    """Deploys artifacts on one chain and wraps them in ABI contracts."""

    def __init__(self, env: RevmEnv, arts: dict[str, artifacts.Artifact]):
        self.env = env
        self.arts = arts

    def at(self, rel: str, address: Any) -> Contract:
        art = self.arts[rel]
        return Contract(self.env, str(getattr(address, "address", address)), art.abi, art.name)

    def extension_at(self, address: Any, *rels: str) -> Contract:
        """The functions of several extensions (``MarketViews`` and
        ``MarketAdmin``) at one address, the market's, whose fallbacks
        reach them: one contract with their ABIs joined."""
        abi: list = []
        seen: set = set()
        for rel in rels:
            for item in self.arts[rel].abi:
                key = (item.get("type"), item.get("name"), tuple(i["type"] for i in item.get("inputs", [])))
                if key not in seen:
                    seen.add(key)
                    abi.append(item)
        return Contract(self.env, str(getattr(address, "address", address)), abi, self.arts[rels[-1]].name)

    def deploy(self, rel: str, *args: Any, sender: Any = None) -> Contract:
        art = self.arts[rel]
        address = self.env.deploy_code(art.bytecode + encode_constructor(art.abi, args), sender=sender)
        return self.at(rel, address)


@dataclass(frozen=True)
class WorldConfig:
    facility_liquidity: int = 400_000  # whole stablecoin units
    facility_daily_limit: int = 300_000  # whole stablecoin units
    facility_fee_bps: int = 5
    facility_max_oracle_age: int = 360_000
    nav_min_interval: int = 3_600
    listing_max_oracle_age: int = 100 * 3_600
    ltv_bps: int = 8_500
    threshold_bps: int = 9_000
    bonus_bps: int = 300
    supply_cap: int = 2**120 - 1


@dataclass(repr=False)
class EvmWorld:
    """Contracts and actors of one deployed world."""

    def __repr__(self) -> str:
        return f"<EvmWorld market={self.market.address}>"

    def _repr_pretty_(self, p, cycle) -> None:  # Hypothesis' pretty printer
        p.text(repr(self))

    env: RevmEnv
    d: Deployer
    arts: dict[str, artifacts.Artifact]
    owner: Any
    updater: Any
    guardian: Any
    treasury: Any
    stablecoin: Any
    fund_a: Any
    fund_b: Any
    fund_c: Any
    oracle_a: Any
    oracle_b: Any
    oracle_c: Any
    wrapper: Any
    wrapper_oracle: Any
    facility_a: Any
    facility_b: Any
    facility_c: Any
    wrapped_facility: Any
    market: Any
    admin: Any  # MarketViews' and MarketAdmin's ABIs at the market's address
    admin_impl: Any
    leverage: Any
    flash_liquidator: Any
    flash_borrower: Any
    lens: Any
    keeper: Any
    actors: dict[str, Any] = field(default_factory=dict)
    config: WorldConfig = field(default_factory=WorldConfig)

    @property
    def tokens(self) -> list[Any]:
        """Collateral tokens by asset id."""
        return [self.fund_a, self.fund_c, self.wrapper]

    @property
    def facilities(self) -> list[Any]:
        """Redemption facilities by asset id."""
        return [self.facility_a, self.facility_c, self.wrapped_facility]

    @property
    def oracles(self) -> list[Any]:
        """Price feeds by asset id."""
        return [self.oracle_a, self.oracle_c, self.wrapper_oracle]


ACTOR_NAMES = (
    "lender0",
    "lender1",
    "borrower0",
    "borrower1",
    "borrower2",
    "liquidator",
    "attacker",
)


def load_artifacts(root: Path | None = None) -> dict[str, artifacts.Artifact]:
    return artifacts.load(list(CONTRACTS.values()), root=root)


def deploy(arts: dict[str, artifacts.Artifact] | None = None, config: WorldConfig | None = None) -> EvmWorld:
    """Deploys the whole world on a new chain (chain id 31337, where the
    stablecoin mints; a fixed start time, so every run sees the same
    timestamps)."""
    env = RevmEnv(timestamp=WORLD_START, chain_id=CHAIN_ID)
    arts = arts or load_artifacts()
    cfg = config or WorldConfig()
    d = Deployer(env, arts)
    C = CONTRACTS
    owner = env.eoa
    updater = env.generate_address("updater")
    guardian = env.generate_address("guardian")
    treasury = env.generate_address("treasury")
    keeper = env.generate_address("keeper")
    actors = {n: env.generate_address(n) for n in ACTOR_NAMES}
    now = env.timestamp
    as_of = now - 30 * 60

    stable = d.deploy(C["stablecoin"], "USD Coin (local)", "USDC", STABLE_DECIMALS)
    fund_a = d.deploy(C["fund"], "T-Bill Fund A (local)", "TBFA", FUND_A_DECIMALS, 0)
    fund_b = d.deploy(C["fund"], "Dollar Fund B (local)", "DLFB", FUND_B_DECIMALS, 1)
    oracle_a = d.deploy(C["oracle"], "TBFA / USD NAV", updater, guardian, NAV_A, as_of)
    oracle_b = d.deploy(C["oracle"], "DLFB / USD NAV", updater, guardian, NAV_B, as_of)
    fund_c = d.deploy(C["fund"], "Treasury Fund C (local)", "TRFC", FUND_C_DECIMALS, 0)
    oracle_c = d.deploy(C["oracle"], "TRFC / USD NAV", updater, guardian, NAV_C, as_of)
    for o in (oracle_a, oracle_b, oracle_c):
        o.set_min_interval(cfg.nav_min_interval)
    wrapper = d.deploy(C["wrapper"], fund_b, "Accumulating DLFB", "aDLFB")
    wrapper_oracle = d.deploy(C["wrapper_oracle"], wrapper, oracle_b, "aDLFB / USD NAV")

    def facility(fund, oracle, decimals):
        return d.deploy(
            C["facility"],
            fund,
            stable,
            oracle,
            cfg.facility_fee_bps,
            10**decimals,
            cfg.facility_daily_limit * 10**STABLE_DECIMALS,
            cfg.facility_max_oracle_age,
            treasury,
        )

    facility_a = facility(fund_a, oracle_a, FUND_A_DECIMALS)
    facility_b = facility(fund_b, oracle_b, FUND_B_DECIMALS)
    facility_c = facility(fund_c, oracle_c, FUND_C_DECIMALS)
    wrapped_facility = d.deploy(C["wrapped_facility"], wrapper, facility_b)

    admin_impl = d.deploy(C["admin"], stable)
    views_impl = d.deploy(C["views"], stable, admin_impl)
    market = d.deploy(C["market"], stable, views_impl, "navlend USDC lender share", "nUSDC", guardian, treasury)
    admin = d.extension_at(market.address, C["views"], C["admin"])
    leverage = d.deploy(C["leverage"], market)
    flash_liquidator = d.deploy(C["flash_liquidator"], market, sender=keeper)
    flash_borrower = d.deploy(C["flash_borrower"], sender=actors["attacker"])
    lens = d.deploy(C["lens"])

    investors = [actors[n] for n in ("borrower0", "borrower1", "borrower2", "liquidator", "attacker")]
    holders = [owner, market.address, leverage.address, *investors]
    fund_b_wiring = [wrapper.address, wrapped_facility.address]
    unit = 10**STABLE_DECIMALS
    for fund, fac, extra in ((fund_a, facility_a, []), (fund_b, facility_b, fund_b_wiring), (fund_c, facility_c, [])):
        fund.set_allowlisted_batch([str(x) for x in [fac.address, *extra, *holders]], True)
        fund.set_minter(fac, True)
        stable.mint(fac, cfg.facility_liquidity * unit)

    def list_asset(token, oracle, price_cap):
        admin.list_asset(
            token, oracle, cfg.ltv_bps, cfg.threshold_bps, cfg.bonus_bps, cfg.supply_cap, price_cap, cfg.listing_max_oracle_age
        )

    for token, oracle, fac in ((fund_a, oracle_a, facility_a), (fund_c, oracle_c, facility_c), (wrapper, wrapper_oracle, wrapped_facility)):
        list_asset(token, oracle, 0)
        admin.set_asset_facility(token, fac)
    # As the local market: the funds are their own compliance sources (set
    # at listing); the wrapper's holders are fund B's investors.
    admin.set_asset_compliance(wrapper, fund_b)

    world = EvmWorld(
        env=env,
        d=d,
        arts=arts,
        owner=owner,
        updater=updater,
        guardian=guardian,
        treasury=treasury,
        stablecoin=stable,
        fund_a=fund_a,
        fund_b=fund_b,
        fund_c=fund_c,
        oracle_a=oracle_a,
        oracle_b=oracle_b,
        oracle_c=oracle_c,
        wrapper=wrapper,
        wrapper_oracle=wrapper_oracle,
        facility_a=facility_a,
        facility_b=facility_b,
        facility_c=facility_c,
        wrapped_facility=wrapped_facility,
        market=market,
        admin=admin,
        admin_impl=admin_impl,
        leverage=leverage,
        flash_liquidator=flash_liquidator,
        flash_borrower=flash_borrower,
        lens=lens,
        keeper=keeper,
        actors=actors,
        config=cfg,
    )
    fund_actors(world)
    return world


# Starting balances of the actors (whole units).
LENDER_BASE = 50_000_000
OTHER_BASE = 10_000_000
BORROWER_FUND_A = 1_000_000
BORROWER_FUND_C = 5_000_000
BORROWER_WRAPPED = 2_000_000


def fund_actors(w: EvmWorld) -> None:
    """Balances and approvals every example starts from, so that each rule
    is a single transaction."""
    U = 10**STABLE_DECIMALS
    a = w.actors
    for name in ("lender0", "lender1", "liquidator"):
        w.stablecoin.mint(a[name], LENDER_BASE * U)
    for name in ("attacker", "borrower0", "borrower1", "borrower2"):
        w.stablecoin.mint(a[name], OTHER_BASE * U)
    w.stablecoin.mint(w.flash_borrower, 1_000_000 * U)
    for name, acct in a.items():
        w.stablecoin.approve(w.market, MAX_UINT, sender=acct)
    for name in ("borrower0", "borrower1", "borrower2"):
        acct = a[name]
        w.fund_a.mint(acct, BORROWER_FUND_A * 10**FUND_A_DECIMALS)
        w.fund_c.mint(acct, BORROWER_FUND_C * 10**FUND_C_DECIMALS)
        # Fund B only to wrap: the market lists the wrapper, not fund B.
        w.fund_b.mint(acct, BORROWER_WRAPPED * 10**FUND_B_DECIMALS)
        for token in w.tokens:
            token.approve(w.market, MAX_UINT, sender=acct)
        w.fund_b.approve(w.wrapper, MAX_UINT, sender=acct)
        w.wrapper.deposit(BORROWER_WRAPPED * 10**FUND_B_DECIMALS, acct, sender=acct)
        w.stablecoin.approve(w.leverage, MAX_UINT, sender=acct)
        w.admin.set_authorization(w.leverage, True, sender=acct)
    for token in w.tokens:
        token.approve(w.market, MAX_UINT, sender=a["attacker"])
    # The attacker starts with a little of each listed fund too (it is KYC'd).
    w.fund_a.mint(a["attacker"], 10_000 * 10**FUND_A_DECIMALS)
    w.fund_c.mint(a["attacker"], 10_000 * 10**FUND_C_DECIMALS)


_WORLDS: dict[tuple, EvmWorld] = {}


def shared_world(root: Path | None = None) -> EvmWorld:
    """One world per process and contracts tree, deployed on first use
    (callers reset by anchoring around their work: ``world.env.anchor()``)."""
    key = (str((root or artifacts.contracts_dir()).resolve()),)
    w = _WORLDS.get(key)
    if w is None:
        w = deploy(load_artifacts(root))
        _WORLDS[key] = w
    return w


def in_pytest() -> bool:
    return "PYTEST_CURRENT_TEST" in os.environ
