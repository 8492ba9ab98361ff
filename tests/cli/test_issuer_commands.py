"""The people's commands on markets over real issuers' shapes (on anvil):
USTB and OUSG, whose tokens have no ``is_allowlisted`` / ``is_frozen``.
The CLI asks the market's compliance source for the asset (the issuer's
adapter: SuperstateCompliance, OndoCompliance), finds the subscription
adapter by the interface it speaks, and reads the feeds through their
AggregatorV3 views.

The issuers' doubles come from tests/world/conftest.py and the markets
from tests/world/issuer_markets.py, both loaded by path (tests/ is not a
package here; see tests/periphery/conftest.py). Each market gets its own
deployments file (market, stablecoin, lens, leverage, the fund token under
the name ``ustb`` / ``ousg`` and its adapters). The markets and the
balances they hand out are module-scoped, so that the snapshot taken for
this module takes them away again: the other CLI tests count the
actors' balances.
"""

from __future__ import annotations

import json
import runpy
from decimal import Decimal
from pathlib import Path

import pytest

from navlend import deployments
from navlend.deployments import DEPLOYMENTS_DIR_ENV, ContractRecord, Deployment
from navlend.cli.errors import EXIT_REVERTED

USD = 10**6
USTB = 10**6
OUSG = 10**18
ME = ("--account", "TEST::4")
OUTSIDER = ("--account", "TEST::7")
LENT = 2_000_000 * USD

_WORLD = Path(__file__).resolve().parents[1] / "world"
_DOUBLES = runpy.run_path(str(_WORLD / "conftest.py"), run_name="navlend_cli_issuer_doubles")
ustb = _DOUBLES["ustb"]
ondo = _DOUBLES["ondo"]
ondo_admin = _DOUBLES["ondo_admin"]
_MARKETS = runpy.run_path(str(_WORLD / "issuer_markets.py"), run_name="navlend_cli_issuer_markets")


def ok(result):
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


@pytest.fixture(scope="session")
def market_owner(accounts):
    """Owns the issuers' markets (neither issuer)."""
    return accounts[14]


@pytest.fixture(scope="session")
def issuer_lender(accounts):
    """Supplies the issuers' markets: an account of its own, so that the
    session's set-up sends nothing from the actors whose nonces the other
    CLI tests watch (``nonce_kept``)."""
    return accounts[15]


@pytest.fixture(scope="session", autouse=True)
def _session_first(seeded, ustb, ondo, market_owner, issuer_lender, outsider, guardian, treasury, project, networks):
    """The session's fixtures (the seeded local world every command's
    runner needs, the issuers' doubles, the actors) before this module's
    markets, as Ape's isolation wants the wider scopes set up first."""


def _deployment_dir(tmp_path_factory, chain, deployer, project, m, name: str) -> Path:
    """A deployments directory for the issuer market ``m``, its fund token
    recorded as ``name``."""
    lens = deployer.deploy(project.Lens)
    deployment = Deployment("local", chain.chain_id, str(deployer.address))
    contracts = {
        "stablecoin": m.base,
        "lens": lens,
        "leverage": m.leverage,
        name: m.token,
        f"{name}_feed": m.feed,
        f"{name}_redemption": m.redemption,
        f"{name}_compliance": m.compliance,
        f"{name}_subscription": m.subscription,
    }
    deployment.add(ContractRecord("market", "Market", str(m.market.address)))
    for record_name, contract in contracts.items():
        deployment.add(ContractRecord(record_name, contract.contract_type.name, str(contract.address)))
    directory = tmp_path_factory.mktemp(f"deployments_{name}")
    deployments.save(deployment, directory)
    return directory


@pytest.fixture(scope="module")
def ss(project, ustb, stablecoin, deployer, market_owner, guardian, treasury, issuer_lender, borrower, chain,
       tmp_path_factory):
    """(market, deployments dir): USTB, LENT supplied; ``borrower`` (an
    allowed entity) holds 2,000 USTB and 100,000 USDC."""
    m = _MARKETS["superstate_market"](project, ustb, stablecoin, deployer, market_owner, guardian, treasury)
    stablecoin.mint(issuer_lender, LENT, sender=deployer)
    m.lend(issuer_lender, LENT)
    ustb.token.mint(borrower, 2_000 * USTB, sender=deployer)
    stablecoin.mint(borrower, 100_000 * USD, sender=deployer)
    return m, _deployment_dir(tmp_path_factory, chain, deployer, project, m, "ustb")


@pytest.fixture(scope="module")
def ou(project, ondo, market_owner, guardian, treasury, deployer, issuer_lender, borrower, chain,
       tmp_path_factory):
    """(market, deployments dir): OUSG, LENT supplied; ``borrower`` (KYC'd)
    holds 1,000 OUSG and 100,000 USDC."""
    m = _MARKETS["ondo_market"](project, ondo, market_owner, guardian, treasury)
    ondo.usdc.mint(issuer_lender, LENT, sender=ondo.admin)
    m.lend(issuer_lender, LENT)
    ondo.kyc(borrower)
    ondo.mint_ousg(borrower, 1_000 * OUSG)
    ondo.usdc.mint(borrower, 100_000 * USD, sender=ondo.admin)
    return m, _deployment_dir(tmp_path_factory, chain, deployer, project, m, "ousg")


@pytest.fixture(scope="module", autouse=True)
def _markets_first(ss, ou):
    """Both markets at the start of the module (a module fixture set up
    in the middle makes Ape rebase its snapshots)."""


@pytest.fixture
def on_ustb(ss, monkeypatch):
    """The commands read the USTB market's deployments file."""
    monkeypatch.setenv(DEPLOYMENTS_DIR_ENV, str(ss[1]))
    return ss[0]


@pytest.fixture
def on_ousg(ou, monkeypatch):
    """The commands read the OUSG market's deployments file."""
    monkeypatch.setenv(DEPLOYMENTS_DIR_ENV, str(ou[1]))
    return ou[0]


def position_doc(ape_run, account) -> dict:
    """The borrowed side of ``position --json``."""
    return json.loads(ok(ape_run("position", account.address, "--json")).stdout)["borrowed"]


# ---- USTB ----


def test_deposit_borrow_position__ustb__through_the_compliance_adapter(ape_run, on_ustb, borrower):
    m = on_ustb
    ok(ape_run("deposit", "ustb", "1000", *ME))
    assert m.market.collateral_of(borrower, m.token) == 1_000 * USTB
    ok(ape_run("borrow", "5000", *ME))
    assert m.market.debt_of(borrower) == 5_000 * USD

    doc = position_doc(ape_run, borrower)
    p = m.market.position(borrower)
    assert int(doc["debt"]["raw"]) == p.debt and Decimal(doc["debt"]["value"]) * USD == p.debt
    assert Decimal(doc["health_factor"]) * 10**18 == p.health_factor
    (held,) = doc["collateral"]
    assert held["asset"] == "ustb" and int(held["balance"]["raw"]) == 1_000 * USTB
    # Single asset: the liquidation NAV is the price × debt / liquidation value.
    price = m.market.asset_price(m.token)[0]
    assert abs(Decimal(held["liquidation_price"]) - Decimal(price * p.debt) / p.liquidation_value / USTB) < Decimal(
        "0.000001"
    )

    ok(ape_run("withdraw_collateral", "ustb", "100", *ME))
    assert m.market.collateral_of(borrower, m.token) == 900 * USTB


def test_deposit__ustb_account_not_admitted__refused_naming_the_fund(refused, on_ustb, outsider):
    message = refused(outsider, "deposit", "ustb", "1", *OUTSIDER)
    assert f"{outsider.address} is not allowlisted by ustb" in message


def test_withdraw_collateral__ustb_to_an_unadmitted_receiver__refused(ape_run, refused, on_ustb, borrower, outsider):
    ok(ape_run("deposit", "ustb", "100", *ME))
    message = refused(borrower, "withdraw_collateral", "ustb", "10", "--to", outsider.address, *ME)
    assert f"receiver {outsider.address} is not allowlisted by ustb" in message


def test_deposit__ustb_removed_from_allow_list__refused(ape_run, refused, on_ustb, ustb, deployer, borrower):
    ustb.allow_list.setEntityIdForAddress(0, borrower, sender=deployer)
    assert "is not allowlisted by ustb" in refused(borrower, "deposit", "ustb", "1", *ME)


def test_leverage_then_unwind__ustb__through_the_subscription_adapter(ape_run, on_ustb, stablecoin, borrower):
    m = on_ustb
    before = stablecoin.balanceOf(borrower)
    ok(ape_run("leverage", "ustb", "10000", "--ltv", "0.80", *ME))
    posted = m.market.collateral_of(borrower, m.token)
    exposure = posted * m.market.asset_price(m.token)[0] // USTB
    assert 49_800 * USD < exposure < 50_000 * USD
    assert abs(m.market.debt_of(borrower) - 40_000 * USD) < 100 * USD
    ok(ape_run("unwind", "ustb", *ME))
    assert m.market.debt_of(borrower) == 0 and m.market.collateral_of(borrower, m.token) == 0
    # Lost: Superstate's 10 bps on about 50,000 of exposure and the flash fees.
    lost = before - stablecoin.balanceOf(borrower)
    assert 50 * USD <= lost < 100 * USD


def test_leverage__ustb_market_without_compliance_source__refused(refused, on_ustb, market_owner, borrower):
    m = on_ustb
    m.market.set_asset_compliance(m.token, "0x" + "00" * 20, sender=market_owner)
    assert "no compliance source for ustb" in refused(borrower, "leverage", "ustb", "1000", *ME)


def test_leverage__ustb_subscriptions_paused__refused(refused, on_ustb, ustb, deployer, borrower):
    ustb.token.accountingPause(sender=deployer)
    assert "would mint no shares now" in refused(borrower, "leverage", "ustb", "1000", *ME)


# ---- OUSG ----


def test_deposit_borrow_position__ousg__through_the_compliance_adapter(ape_run, on_ousg, borrower):
    m = on_ousg
    ok(ape_run("deposit", "ousg", "100", *ME))
    assert m.market.collateral_of(borrower, m.token) == 100 * OUSG
    ok(ape_run("borrow", "5000", *ME))
    doc = position_doc(ape_run, borrower)
    p = m.market.position(borrower)
    assert int(doc["debt"]["raw"]) == p.debt == 5_000 * USD
    (held,) = doc["collateral"]
    assert held["asset"] == "ousg" and Decimal(held["balance"]["value"]) == 100


def test_deposit__ousg_account_not_kyc__refused_naming_the_fund(refused, on_ousg, outsider):
    assert f"{outsider.address} is not allowlisted by ousg" in refused(outsider, "deposit", "ousg", "1", *OUTSIDER)


def test_leverage__ousg_below_ondos_minimum__refused_naming_it(refused, on_ousg, borrower):
    message = refused(borrower, "leverage", "ousg", "10000", *ME)
    assert "ousg's issuer takes at least 100,000.00" in message


def test_leverage_then_unwind__ousg__through_the_subscription_adapter(ape_run, on_ousg, ondo, borrower):
    m = on_ousg
    before = ondo.usdc.balanceOf(borrower)
    ok(ape_run("leverage", "ousg", "30000", "--ltv", "0.80", *ME))
    # About 80 % of a 150,000 exposure (less the flash fee's share).
    assert 119_500 * USD < m.market.debt_of(borrower) <= 120_000 * USD
    ok(ape_run("unwind", "ousg", *ME))
    assert m.market.debt_of(borrower) == 0 and m.market.collateral_of(borrower, m.token) == 0
    # Lost: only the flash fees (Ondo charges no fee here).
    lost = before - ondo.usdc.balanceOf(borrower)
    assert 0 <= lost < 200 * USD



# ---- the market view, over either ----


def assert_market_view(ape_run, m, name: str) -> None:
    doc = json.loads(ok(ape_run("market", "--json")).stdout)
    assert int(doc["cash"]["raw"]) == LENT
    (asset,) = doc["assets"]
    assert asset["asset"] == name
    assert int(asset["price"]["raw"]) == m.market.asset_price(m.token)[0]
    assert Decimal(asset["price"]["value"]) == Decimal(m.market.asset_price(m.token)[0]) / 10 ** m.feed.decimals()


def test_market_view__ustb_market__lists_the_fund(ape_run, on_ustb):
    assert_market_view(ape_run, on_ustb, "ustb")


def test_market_view__ousg_market__lists_the_fund(ape_run, on_ousg):
    assert_market_view(ape_run, on_ousg, "ousg")


def test_deposit__ustb_market_without_source__the_tokens_own_refusal_shown(
    ape_run, on_ustb, ustb, deployer, market_owner, borrower
):
    """No source: the market checks nobody and USTB answers no compliance
    views, so the CLI has nothing to ask before sending; the deposit's
    simulation (after the approval, which USTB allows anyone) shows USTB's
    own refusal of a holder Superstate removed, and the deposit is not
    sent."""
    m = on_ustb
    m.market.set_asset_compliance(m.token, "0x" + "00" * 20, sender=market_owner)
    ustb.allow_list.setEntityIdForAddress(0, borrower, sender=deployer)
    result = ape_run("deposit", "ustb", "1", *ME)
    assert result.exit_code == EXIT_REVERTED
    assert "InsufficientPermissions" in result.stderr and "already sent: approve market" in result.stderr
    assert m.market.collateral_of(borrower, m.token) == 0
