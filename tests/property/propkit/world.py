"""The navlend world and market deployed in titanoboa, in-process.

Mirrors ``navlend.world.deploy_world`` + ``navlend.market.deploy_local_market``
+ ``deploy_periphery`` (which do the same on Ape):

- stablecoin: MockStablecoin, 6 decimals (mints only on chain id 31337,
  so the boa chain id is patched to it);
- fund A: FundToken, NAV-accruing, **6 decimals**, NAV $10.50, NavOracle A,
  RedemptionFacility A;
- fund B: FundToken, stable $1 with dividends, **18 decimals**, NavOracle B,
  RedemptionFacility B; AccumulatingWrapper over B (18 decimals), priced by
  WrapperNavOracle, redeemed by WrappedFacility;
- market: Market + MarketAdmin (delegatecall), assets 0 = fund A, 1 = fund
  B (price cap $1.00), 2 = wrapper; each asset's facility set for the
  redeem route;
- periphery: Leverage, FlashLiquidator (owned by the keeper), Lens, and a
  FlashBorrowerMock for the attacker's malicious flash-loan receiver.

Differences from the Ape world, all for reachability within a few hundred
steps (documented in AUDIT.md): the NAV oracles' minimum interval is one
hour (the bound's floor) instead of 20 hours; the facilities hold less
liquidity (400,000 USD) and a lower daily limit (300,000 USD), so the
"facility runs dry" branch is reachable. The market's own feed is the real
NavOracle (no mock), for both the share route and the redeem route.

Every contract is a boa ``ABIContract`` over cached artifacts (see
``artifacts``) whose error handler is replaced by a cheap one raising
:class:`Reverted` with the decoded revert string: boa's default builds a
full stack trace per revert, which costs more than the call itself.
"""

from __future__ import annotations

import os
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boa
from boa.contracts.abi.abi_contract import ABIContractFactory
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from . import artifacts

CHAIN_ID = 31_337
ORACLE_DECIMALS = 8
NAV_A = 10_50_000_000
NAV_B = 1_00_000_000
STABLE_DECIMALS = 6
FUND_A_DECIMALS = 6
FUND_B_DECIMALS = 18
MAX_UINT = 2**256 - 1
# Start of the world: a fixed time (2030-03-17) later than boa's wall-clock
# default, so that every run sees the same timestamps (replays included).
WORLD_START = 1_900_000_000

CONTRACTS = {
    "stablecoin": "mocks/MockStablecoin.vy",
    "fund": "FundToken.vy",
    "oracle": "NavOracle.vy",
    "facility": "RedemptionFacility.vy",
    "wrapper": "AccumulatingWrapper.vy",
    "wrapper_oracle": "WrapperNavOracle.vy",
    "wrapped_facility": "WrappedFacility.vy",
    "admin": "MarketAdmin.vy",
    "market": "Market.vy",
    "leverage": "Leverage.vy",
    "flash_liquidator": "FlashLiquidator.vy",
    "flash_borrower": "mocks/FlashBorrowerMock.vy",
    "lens": "Lens.vy",
    "mock_aggregator": "mocks/MockAggregator.vy",
}


class Reverted(Exception):
    """A call reverted; ``reason`` is the decoded revert string ("" if none)."""

    def __init__(self, reason: str, contract: str = "", fn: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.contract = contract


_ERROR_SELECTOR = bytes.fromhex("08c379a0")


def decode_revert(output: bytes) -> str:
    if output[:4] == _ERROR_SELECTOR:
        try:
            return abi_decode(["string"], output[4:])[0]
        except Exception:  # pragma: no cover - malformed
            return "<malformed revert>"
    return "" if not output else "0x" + output.hex()


def _fast_handle_error(self, computation):
    raise Reverted(decode_revert(computation.output or b""), self.contract_name)


def setup_env() -> None:
    """Chain id 31337 (the stablecoin mints only there), fast mode, and a
    deterministic start time. Idempotent."""
    boa.env.evm.patch.chain_id = CHAIN_ID
    boa.env.enable_fast_mode()
    if boa.env.evm.patch.timestamp < WORLD_START:
        boa.env.evm.patch.timestamp = WORLD_START


class Deployer:
    """Deploys artifacts as boa ABI contracts with the fast error handler."""

    def __init__(self, arts: dict[str, artifacts.Artifact]):
        self.arts = arts
        self._factories: dict[str, ABIContractFactory] = {}

    def factory(self, rel: str) -> ABIContractFactory:
        f = self._factories.get(rel)
        if f is None:
            art = self.arts[rel]
            f = ABIContractFactory.from_abi_dict(art.abi, name=art.name)
            self._factories[rel] = f
        return f

    def at(self, rel: str, address: Any) -> Any:
        c = self.factory(rel).at(address, nowarn=True)
        c.handle_error = types.MethodType(_fast_handle_error, c)
        return c

    def deploy(self, rel: str, *args: Any, sender: Any = None) -> Any:
        art = self.arts[rel]
        ctor = next((i for i in art.abi if i.get("type") == "constructor"), None)
        data = b""
        if ctor and ctor["inputs"]:
            types_ = [_abi_type(i) for i in ctor["inputs"]]
            data = abi_encode(types_, [_addr(a) for a in args])
        address, _ = boa.env.deploy_code(bytecode=art.bytecode + data, sender=sender)
        return self.at(rel, address)


def _abi_type(item: dict) -> str:
    t = item["type"]
    if t.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in item["components"])
        return f"({inner})" + t[5:]
    return t


def _addr(value: Any) -> Any:
    address = getattr(value, "address", None)
    return str(address) if address is not None else value


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
class BoaWorld:
    """Contracts and actors of one deployed world."""

    def __repr__(self) -> str:
        return f"<BoaWorld market={self.market.address}>"

    def _repr_pretty_(self, p, cycle) -> None:  # Hypothesis' pretty printer
        p.text(repr(self))

    d: Deployer
    arts: dict[str, artifacts.Artifact]
    owner: Any
    updater: Any
    guardian: Any
    treasury: Any
    stablecoin: Any
    fund_a: Any
    fund_b: Any
    oracle_a: Any
    oracle_b: Any
    wrapper: Any
    wrapper_oracle: Any
    facility_a: Any
    facility_b: Any
    wrapped_facility: Any
    market: Any
    admin: Any  # MarketAdmin's ABI at the market's address
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
        return [self.fund_a, self.fund_b, self.wrapper]

    @property
    def facilities(self) -> list[Any]:
        return [self.facility_a, self.facility_b, self.wrapped_facility]

    @property
    def oracles(self) -> list[Any]:
        return [self.oracle_a, self.oracle_b, self.wrapper_oracle]


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


def deploy(arts: dict[str, artifacts.Artifact] | None = None, config: WorldConfig | None = None) -> BoaWorld:
    """Deploys the whole world on ``boa.env`` (call outside any anchor that
    should not undo it)."""
    setup_env()
    arts = arts or load_artifacts()
    cfg = config or WorldConfig()
    d = Deployer(arts)
    C = CONTRACTS
    owner = boa.env.eoa
    updater = boa.env.generate_address("updater")
    guardian = boa.env.generate_address("guardian")
    treasury = boa.env.generate_address("treasury")
    keeper = boa.env.generate_address("keeper")
    actors = {n: boa.env.generate_address(n) for n in ACTOR_NAMES}
    now = boa.env.evm.patch.timestamp
    as_of = now - 30 * 60

    stable = d.deploy(C["stablecoin"], "USD Coin (local)", "USDC", STABLE_DECIMALS)
    fund_a = d.deploy(C["fund"], "T-Bill Fund A (local)", "TBFA", FUND_A_DECIMALS, 0)
    fund_b = d.deploy(C["fund"], "Dollar Fund B (local)", "DLFB", FUND_B_DECIMALS, 1)
    oracle_a = d.deploy(C["oracle"], "TBFA / USD NAV", updater, guardian, NAV_A, as_of)
    oracle_b = d.deploy(C["oracle"], "DLFB / USD NAV", updater, guardian, NAV_B, as_of)
    for o in (oracle_a, oracle_b):
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
    wrapped_facility = d.deploy(C["wrapped_facility"], wrapper, facility_b)

    admin_impl = d.deploy(C["admin"], stable)
    market = d.deploy(C["market"], stable, admin_impl, "navlend USDC lender share", "nUSDC", guardian, treasury)
    admin = d.at(C["admin"], market.address)
    leverage = d.deploy(C["leverage"], market)
    flash_liquidator = d.deploy(C["flash_liquidator"], market, sender=keeper)
    flash_borrower = d.deploy(C["flash_borrower"], sender=actors["attacker"])
    lens = d.deploy(C["lens"])

    investors = [actors[n] for n in ("borrower0", "borrower1", "borrower2", "liquidator", "attacker")]
    fund_a.set_allowlisted_batch([str(x) for x in [facility_a.address, owner, market.address, leverage.address, *investors]], True)
    fund_b.set_allowlisted_batch(
        [str(x) for x in [facility_b.address, wrapper.address, wrapped_facility.address, owner, market.address, leverage.address, *investors]],
        True,
    )
    fund_a.set_minter(facility_a, True)
    fund_b.set_minter(facility_b, True)
    unit = 10**STABLE_DECIMALS
    stable.mint(facility_a, cfg.facility_liquidity * unit)
    stable.mint(facility_b, cfg.facility_liquidity * unit)

    def list_asset(token, oracle, price_cap):
        admin.list_asset(
            token, oracle, cfg.ltv_bps, cfg.threshold_bps, cfg.bonus_bps, cfg.supply_cap, price_cap, cfg.listing_max_oracle_age
        )

    list_asset(fund_a, oracle_a, 0)
    list_asset(fund_b, oracle_b, 10**8)
    list_asset(wrapper, wrapper_oracle, 0)
    admin.set_asset_facility(fund_a, facility_a)
    admin.set_asset_facility(fund_b, facility_b)
    admin.set_asset_facility(wrapper, wrapped_facility)

    world = BoaWorld(
        d=d,
        arts=arts,
        owner=owner,
        updater=updater,
        guardian=guardian,
        treasury=treasury,
        stablecoin=stable,
        fund_a=fund_a,
        fund_b=fund_b,
        oracle_a=oracle_a,
        oracle_b=oracle_b,
        wrapper=wrapper,
        wrapper_oracle=wrapper_oracle,
        facility_a=facility_a,
        facility_b=facility_b,
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
BORROWER_FUND_B = 5_000_000
BORROWER_WRAPPED = 2_000_000


def fund_actors(w: BoaWorld) -> None:
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
        w.fund_b.mint(acct, BORROWER_FUND_B * 10**FUND_B_DECIMALS)
        for token in (w.fund_a, w.fund_b, w.wrapper):
            token.approve(w.market, MAX_UINT, sender=acct)
        w.fund_b.approve(w.wrapper, MAX_UINT, sender=acct)
        w.wrapper.deposit(BORROWER_WRAPPED * 10**FUND_B_DECIMALS, acct, sender=acct)
        w.stablecoin.approve(w.leverage, MAX_UINT, sender=acct)
        w.market.set_authorization(w.leverage, True, sender=acct)
    for token in (w.fund_a, w.fund_b, w.wrapper):
        token.approve(w.market, MAX_UINT, sender=a["attacker"])
    # The attacker starts with a little of each fund too (it is KYC'd).
    w.fund_a.mint(a["attacker"], 10_000 * 10**FUND_A_DECIMALS)
    w.fund_b.mint(a["attacker"], 10_000 * 10**FUND_B_DECIMALS)


_WORLDS: dict[tuple, BoaWorld] = {}


def shared_world(root: Path | None = None) -> BoaWorld:
    """One world per process and contracts tree, deployed outside any
    anchor on first use (callers reset by anchoring around their work)."""
    key = (str((root or artifacts.contracts_dir()).resolve()), id(boa.env))
    w = _WORLDS.get(key)
    if w is None:
        w = deploy(load_artifacts(root))
        _WORLDS[key] = w
    return w


def in_pytest() -> bool:
    return "PYTEST_CURRENT_TEST" in os.environ
