"""Fixtures of the world-contract tests (tokens, oracles, facilities,
wrapper). Built on the session world of ``tests/conftest.py``."""

from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

# Fund A: NAV accrues, 6 decimals. Fund B: $1 dividends, 18 decimals.
FUND_KEYS = ("a", "b")


@pytest.fixture(scope="session", params=FUND_KEYS, ids=["fund_a_6dec", "fund_b_18dec"])
def fund(request, world):
    """Each fund in turn: decimals 6 (NAV accrues) and 18 ($1 dividends)."""
    return getattr(world, f"fund_{request.param}")


@pytest.fixture(scope="session")
def one(fund):
    """One whole share of ``fund``."""
    return 10 ** fund.decimals()


@pytest.fixture(scope="session", params=FUND_KEYS, ids=["facility_a_6dec", "facility_b_18dec"])
def market_of(request, world):
    """(fund, oracle, facility) for each fund in turn."""
    key = request.param
    return (
        getattr(world, f"fund_{key}"),
        getattr(world, f"oracle_{key}"),
        getattr(world, f"facility_{key}"),
    )


@pytest.fixture(scope="session")
def holder_with_shares(world, lender, mint_fund):
    """``holder_with_shares(fund, whole_shares)``: issuer-mints whole shares
    to ``lender`` and returns the raw amount."""

    def mint(fund, whole: int) -> int:
        amount = whole * 10 ** fund.decimals()
        mint_fund(fund, lender, amount)
        return amount

    return mint


# ---- Ondo (OUSG) doubles ----

USDC = 10**6
OUSG = 10**18
# OUSG's price at the start of the Ondo tests: $115 (18 decimals).
OUSG_PRICE = 115 * 10**18
# The instant manager's shared limit per window, and the window.
ONDO_LIMIT = 2_000_000 * USDC
ONDO_WINDOW = 86_400
# BUIDL the manager holds, USDC the BUIDL redeemer holds, the manager's
# starting USDC buffer.
ONDO_BUIDL = 5_000_000 * USDC
ONDO_REDEEMER_CASH = 5_000_000 * USDC
ONDO_BUFFER = 100_000 * USDC


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

    def kyc(self, *accounts) -> None:
        """Ondo adds ``accounts`` to OUSG's KYC group (1)."""
        for account in accounts:
            self.registry.set_kyc_status(1, account, True, sender=self.admin)

    def mint_ousg(self, to, amount: int):
        """Ondo mints ``amount`` OUSG to ``to`` (which must be KYC'd)."""
        return self.ousg.mint(to, amount, sender=self.admin)


@pytest.fixture(scope="session")
def ondo_admin(accounts):
    """Ondo: owns the registry, OUSG, the oracle and the manager."""
    return accounts[13]


@pytest.fixture(scope="session")
def ondo(project, ondo_admin) -> OndoWorld:
    """A fresh Ondo world (see ``OndoWorld``); nobody but Ondo itself and
    its manager is KYC'd."""
    admin = ondo_admin
    usdc = admin.deploy(project.MockERC20, "USD Coin", "USDC", 6)
    buidl = admin.deploy(project.MockERC20, "BlackRock BUIDL", "BUIDL", 6)
    registry = admin.deploy(project.OndoKycRegistryDouble)
    ousg = admin.deploy(project.OusgDouble, registry)
    oracle = admin.deploy(project.OndoOracleDouble, OUSG_PRICE)
    redeemer = admin.deploy(project.BuidlRedeemerDouble, buidl, usdc)
    manager = admin.deploy(
        project.OusgInstantManagerDouble, ousg, usdc, buidl, redeemer, oracle, ONDO_LIMIT, ONDO_WINDOW
    )
    world = OndoWorld(admin, registry, ousg, oracle, usdc, buidl, redeemer, manager)
    world.kyc(admin, manager)
    ousg.set_minter(manager, True, sender=admin)
    buidl.mint(manager, ONDO_BUIDL, sender=admin)
    usdc.mint(redeemer, ONDO_REDEEMER_CASH, sender=admin)
    usdc.mint(manager, ONDO_BUFFER, sender=admin)
    return world


@pytest.fixture(scope="session")
def post_price(ondo, chain):
    """``post_price(price)``: Ondo posts ``price`` 23 hours after its last
    post (or now, if later). Returns the receipt."""

    def post(price: int):
        earliest = ondo.oracle.price_timestamp() + ondo.oracle.MIN_PRICE_UPDATE_WINDOW()
        if chain.blocks.head.timestamp < earliest:
            chain.pending_timestamp = earliest
        return ondo.oracle.setPrice(price, sender=ondo.admin)

    return post


# ---- Superstate doubles and adapters (issue 15) ----

SUPERSTATE_NAV = 10_450_000  # $10.45, 6 decimals
SUPERSTATE_MAX_DELTA = 1_000_000  # $1 per checkpoint
SUPERSTATE_LIQUIDITY = 1_000_000 * 10**6  # USDC in each Redemption contract
# AllowList entity ids of the investors; ``outsider`` has none.
SUPERSTATE_ENTITIES = {"lender": 1, "borrower": 2, "liquidator": 3}


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

    def add_checkpoint(self, chain, issuer, nav: int, struck_ago: int = 600, effective_in: int = 0):
        """Adds a checkpoint struck ``struck_ago`` seconds before the next
        block, effective ``effective_in`` seconds after it."""
        now = chain.blocks.head.timestamp + 1
        chain.pending_timestamp = now
        return self.oracle.add_checkpoint(
            now - struck_ago, now + effective_in, nav, False, sender=issuer
        )

    def admit(self, issuer, *contracts):
        """Gives each contract a protocol permission for USTB."""
        for contract in contracts:
            self.allow_list.setProtocolAddressPermission(contract, "USTB", True, sender=issuer)


@pytest.fixture(scope="session")
def ustb(
    world, project, chain, deployer, stablecoin, lender, borrower, liquidator, advance
) -> Superstate:
    """USTB as Superstate doubles issued by ``deployer`` (two daily
    checkpoints at about $10.45, the last struck an hour ago), the
    navlend feed, both Redemption variants holding USDC, and navlend's
    adapters; the Redemption contracts and adapters hold protocol
    permissions, ``lender``, ``borrower`` and ``liquidator`` are allowed
    entities (``outsider`` and ``attacker`` are not)."""
    allow_list = deployer.deploy(project.SuperstateAllowListDouble)
    token = deployer.deploy(
        project.SuperstateTokenDouble, "Superstate Short Duration Fund", "USTB", allow_list
    )
    oracle = deployer.deploy(project.SuperstateOracleDouble, SUPERSTATE_MAX_DELTA)
    ss = Superstate(allow_list, token, oracle, None, None, None, None, None, None)
    ss.add_checkpoint(chain, deployer, SUPERSTATE_NAV - 1_045, struck_ago=86_400 + 3_600)
    advance(1)
    ss.add_checkpoint(chain, deployer, SUPERSTATE_NAV, struck_ago=3_600)
    ss.feed = deployer.deploy(project.SuperstateNavFeed, oracle, "USTB / USD NAV", 1)
    ss.redemption = deployer.deploy(
        project.SuperstateRedemptionDouble, token, oracle, stablecoin, 86_400, False
    )
    ss.redemption_yield = deployer.deploy(
        project.SuperstateRedemptionDouble, token, oracle, stablecoin, 86_400, True
    )
    ss.adapter = deployer.deploy(project.SuperstateRedemption, ss.redemption, token, stablecoin)
    ss.adapter_yield = deployer.deploy(
        project.SuperstateRedemption, ss.redemption_yield, token, stablecoin
    )
    ss.compliance = deployer.deploy(project.SuperstateCompliance, token)
    ss.admit(deployer, ss.redemption, ss.redemption_yield, ss.adapter, ss.adapter_yield)
    for account, entity in zip((lender, borrower, liquidator), SUPERSTATE_ENTITIES.values()):
        allow_list.setEntityIdForAddress(entity, account, sender=deployer)
        allow_list.setEntityAllowedForFund(entity, "USTB", True, sender=deployer)
    for redemption in (ss.redemption, ss.redemption_yield):
        stablecoin.mint(redemption, SUPERSTATE_LIQUIDITY, sender=deployer)
    return ss
