"""The issuers' worlds as the project's doubles: Ondo's OUSG and
Superstate's USTB, each deployed by an account playing the issuer, with
navlend's adapters over USTB (``docs/issuers.md`` says how the doubles
behave).

- :func:`deploy_ondo_world` returns an :class:`OndoWorld`: the KYC
  registry, OUSG, its oracle, USDC, BUIDL, the BUIDL redeemer and the
  instant manager, funded and wired as Ondo would;
  :func:`deploy_ondo_adapters` adds navlend's adapters over it.
- :func:`deploy_superstate_world` returns a :class:`Superstate`: the
  AllowList, USTB, the NAV oracle with two daily checkpoints, both
  Redemption variants holding USDC, and navlend's feed, redemption and
  compliance adapters over them.

The world tests' ``ondo`` and ``ustb`` fixtures (``tests/world/conftest.py``)
and the gas bench's issuer markets (``devkit.gasbench.routes``) both build
their worlds here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import ape

USDC = 10**6
OUSG = 10**18
# OUSG's starting price: $115 (18 decimals).
OUSG_PRICE = 115 * 10**18
# The instant manager's shared limit per window, and the window.
ONDO_LIMIT = 2_000_000 * USDC
ONDO_WINDOW = 86_400
# BUIDL the manager holds, USDC the BUIDL redeemer holds, the manager's
# starting USDC buffer.
ONDO_BUIDL = 5_000_000 * USDC
ONDO_REDEEMER_CASH = 5_000_000 * USDC
ONDO_BUFFER = 100_000 * USDC
# OUSG's KYC requirement group in the registry.
OUSG_KYC_GROUP = 1

SUPERSTATE_NAV = 10_450_000  # $10.45, 6 decimals
SUPERSTATE_MAX_DELTA = 1_000_000  # $1 per checkpoint
SUPERSTATE_LIQUIDITY = 1_000_000 * USDC  # USDC in each Redemption contract
# The Redemption contracts' oldest acceptable price (seconds).
SUPERSTATE_ORACLE_DELAY = 86_400
SUPERSTATE_FUND = "USTB"
# The strike of the first checkpoint, and of the second, before the head.
SUPERSTATE_FIRST_STRIKE_AGO = 86_400 + 3_600
SUPERSTATE_LAST_STRIKE_AGO = 3_600


@dataclass
class OndoWorld:
    """Ondo's side: its admin account, the KYC registry, OUSG, the price
    oracle, USDC, BUIDL, the BUIDL redeemer and the instant manager (KYC'd
    on OUSG by Ondo and an OUSG minter, funded with ``ONDO_BUIDL`` BUIDL and an
    ``ONDO_BUFFER`` USDC buffer)."""

    admin: Any
    registry: Any
    ousg: Any
    oracle: Any
    usdc: Any
    buidl: Any
    redeemer: Any
    manager: Any

    def kyc(self, *accounts: Any) -> None:
        """Ondo adds ``accounts`` to OUSG's KYC group (1)."""
        for account in accounts:
            self.registry.set_kyc_status(OUSG_KYC_GROUP, account, True, sender=self.admin)

    def mint_ousg(self, to: Any, amount: int) -> Any:
        """Ondo mints ``amount`` OUSG to ``to`` (which must be KYC'd)."""
        return self.ousg.mint(to, amount, sender=self.admin)

    def post_price(self, chain: Any, price: int) -> Any:
        """Ondo posts ``price`` 23 hours after its last post (or now, if
        later). Returns the receipt."""
        earliest = self.oracle.price_timestamp() + self.oracle.MIN_PRICE_UPDATE_WINDOW()
        if chain.blocks.head.timestamp < earliest:
            chain.pending_timestamp = earliest
        return self.oracle.setPrice(price, sender=self.admin)


def deploy_ondo_world(admin: Any, project: Any = None) -> OndoWorld:
    """A fresh Ondo world deployed by ``admin`` (see :class:`OndoWorld`);
    nobody but Ondo itself and its manager is KYC'd."""
    project = ape.project if project is None else project
    usdc = admin.deploy(project.MockERC20, "USD Coin", "USDC", 6)
    buidl = admin.deploy(project.MockERC20, "BlackRock BUIDL", "BUIDL", 6)
    registry = admin.deploy(project.OndoKycRegistryDouble)
    ousg = admin.deploy(project.OusgDouble, registry)
    oracle = admin.deploy(project.OndoOracleDouble, OUSG_PRICE)
    redeemer = admin.deploy(project.BuidlRedeemerDouble, buidl, usdc)
    manager = admin.deploy(
        project.OusgInstantManagerDouble,
        ousg,
        usdc,
        buidl,
        redeemer,
        oracle,
        ONDO_LIMIT,
        ONDO_WINDOW,
    )
    world = OndoWorld(admin, registry, ousg, oracle, usdc, buidl, redeemer, manager)
    world.kyc(admin, manager)
    ousg.set_minter(manager, True, sender=admin)
    buidl.mint(manager, ONDO_BUIDL, sender=admin)
    usdc.mint(redeemer, ONDO_REDEEMER_CASH, sender=admin)
    usdc.mint(manager, ONDO_BUFFER, sender=admin)
    return world


@dataclass(frozen=True)
class OndoAdapters:
    """navlend's adapters over one Ondo world: the price feed, the
    redemption facility (KYC'd by Ondo) and the compliance source."""

    feed: Any
    redemption: Any
    compliance: Any


def deploy_ondo_adapters(ondo: OndoWorld, deployer: Any, project: Any = None) -> OndoAdapters:
    """Deploys OndoNavFeed, OndoRedemption and OndoCompliance over
    ``ondo``; Ondo KYCs the redemption adapter (it holds the shares it
    redeems). The market over OUSG must be KYC'd by Ondo as well."""
    project = ape.project if project is None else project
    feed = deployer.deploy(project.OndoNavFeed, ondo.oracle, "OUSG / USD")
    redemption = deployer.deploy(project.OndoRedemption, ondo.manager)
    compliance = deployer.deploy(project.OndoCompliance, ondo.ousg)
    ondo.kyc(redemption)
    return OndoAdapters(feed, redemption, compliance)


@dataclass
class Superstate:
    """One Superstate fund (USTB) as doubles, with navlend's adapters over
    it: ``redemption`` is the Idle variant, ``redemption_yield`` pays the
    caller; ``adapter`` / ``adapter_yield`` redeem through each."""

    # The struck NAV and each Redemption contract's USDC, for the tests.
    NAV: ClassVar[int] = SUPERSTATE_NAV
    LIQUIDITY: ClassVar[int] = SUPERSTATE_LIQUIDITY

    allow_list: Any
    token: Any
    oracle: Any
    feed: Any
    redemption: Any
    redemption_yield: Any
    adapter: Any
    adapter_yield: Any
    compliance: Any

    def add_checkpoint(
        self, chain: Any, issuer: Any, nav: int, struck_ago: int = 600, effective_in: int = 0
    ) -> Any:
        """Adds a checkpoint struck ``struck_ago`` seconds before the next
        block, effective ``effective_in`` seconds after it."""
        now = chain.blocks.head.timestamp + 1
        chain.pending_timestamp = now
        return self.oracle.add_checkpoint(
            now - struck_ago, now + effective_in, nav, False, sender=issuer
        )

    def admit(self, issuer: Any, *contracts: Any) -> None:
        """Gives each contract a protocol permission for USTB."""
        for contract in contracts:
            self.allow_list.setProtocolAddressPermission(
                contract, SUPERSTATE_FUND, True, sender=issuer
            )

    def allow(self, issuer: Any, investors: Sequence[Any], first_entity: int = 1) -> None:
        """Makes each investor its own AllowList entity (ids from
        ``first_entity`` on), allowed for USTB."""
        for entity, account in enumerate(investors, start=first_entity):
            self.allow_list.setEntityIdForAddress(entity, account, sender=issuer)
            self.allow_list.setEntityAllowedForFund(entity, SUPERSTATE_FUND, True, sender=issuer)


def deploy_superstate_world(
    issuer: Any,
    stablecoin: Any,
    chain: Any,
    investors: Sequence[Any] = (),
    project: Any = None,
) -> Superstate:
    """USTB as Superstate doubles issued by ``issuer`` (two daily
    checkpoints at about $10.45, the last struck an hour ago), the navlend
    feed, both Redemption variants holding ``SUPERSTATE_LIQUIDITY`` of
    ``stablecoin`` (which ``issuer`` must be able to mint), and navlend's
    adapters. The Redemption contracts and the adapters hold protocol
    permissions; ``investors`` become allowed entities 1, 2, 3... in order."""
    project = ape.project if project is None else project
    allow_list = issuer.deploy(project.SuperstateAllowListDouble)
    token = issuer.deploy(
        project.SuperstateTokenDouble, "Superstate Short Duration Fund", SUPERSTATE_FUND, allow_list
    )
    oracle = issuer.deploy(project.SuperstateOracleDouble, SUPERSTATE_MAX_DELTA)
    ss = Superstate(allow_list, token, oracle, None, None, None, None, None, None)
    ss.add_checkpoint(chain, issuer, SUPERSTATE_NAV - 1_045, struck_ago=SUPERSTATE_FIRST_STRIKE_AGO)
    chain.mine(1, timestamp=chain.blocks.head.timestamp + 1)
    ss.add_checkpoint(chain, issuer, SUPERSTATE_NAV, struck_ago=SUPERSTATE_LAST_STRIKE_AGO)
    ss.feed = issuer.deploy(project.SuperstateNavFeed, oracle, "USTB / USD NAV", 1)
    ss.redemption, ss.redemption_yield = (
        issuer.deploy(
            project.SuperstateRedemptionDouble,
            token,
            oracle,
            stablecoin,
            SUPERSTATE_ORACLE_DELAY,
            pays_caller,
        )
        for pays_caller in (False, True)
    )
    ss.adapter = issuer.deploy(project.SuperstateRedemption, ss.redemption, token, stablecoin)
    ss.adapter_yield = issuer.deploy(
        project.SuperstateRedemption, ss.redemption_yield, token, stablecoin
    )
    ss.compliance = issuer.deploy(project.SuperstateCompliance, token)
    ss.admit(issuer, ss.redemption, ss.redemption_yield, ss.adapter, ss.adapter_yield)
    ss.allow(issuer, investors)
    for redemption in (ss.redemption, ss.redemption_yield):
        stablecoin.mint(redemption, SUPERSTATE_LIQUIDITY, sender=issuer)
    return ss
