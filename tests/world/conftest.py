"""Fixtures of the world-contract tests (tokens, oracles, facilities,
wrapper). Built on the session world of ``tests/conftest.py``."""

import pytest

from devkit.issuers import OndoWorld, Superstate, deploy_ondo_world, deploy_superstate_world

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


# ---- Ondo (OUSG) doubles (deployed by devkit.issuers) ----


@pytest.fixture(scope="session")
def ondo_admin(accounts):
    """Ondo: owns the registry, OUSG, the oracle and the manager."""
    return accounts[13]


@pytest.fixture(scope="session")
def ondo(project, ondo_admin) -> OndoWorld:
    """A fresh Ondo world (see ``OndoWorld``); nobody but Ondo itself and
    its manager is KYC'd."""
    return deploy_ondo_world(ondo_admin, project)


@pytest.fixture(scope="session")
def post_price(ondo, chain):
    """``post_price(price)``: Ondo posts ``price`` 23 hours after its last
    post (or now, if later). Returns the receipt."""

    def post(price: int):
        return ondo.post_price(chain, price)

    return post


# ---- Superstate doubles and adapters (issue 15; deployed by devkit.issuers) ----


@pytest.fixture(scope="session")
def ustb(
    world, project, chain, deployer, stablecoin, lender, borrower, liquidator
) -> Superstate:
    """USTB as Superstate doubles issued by ``deployer`` (two daily
    checkpoints at about $10.45, the last struck an hour ago), the
    navlend feed, both Redemption variants holding USDC, and navlend's
    adapters; the Redemption contracts and adapters hold protocol
    permissions, ``lender``, ``borrower`` and ``liquidator`` are allowed
    entities (``outsider`` and ``attacker`` are not)."""
    return deploy_superstate_world(
        deployer, stablecoin, chain, (lender, borrower, liquidator), project
    )
