"""The rehearsal of the production deployment (``ape run deploy-market``,
docs/deploy.md) on anvil.

The "existing" contracts come first, deployed by accounts that play their
owners, none of them navlend's deployer: Circle's USDC and Superstate's
USTB (AllowList, token, oracle with two daily checkpoints, RedemptionIdle)
by ``ss_issuer``; Ondo's OUSG (KYC registry, token, oracle, BUIDL and its
redeemer, the instant manager) by ``ondo_admin``. Then the command runs
from a config file written to ``tmp_path`` by ``navlend_deployer``:
one market lending USDC against both, through navlend's adapters, owned
(once it accepts) by ``safe``.

Then, against that deployment: the checks' refusals (nothing sent), the
dry run (nothing sent), a resumed interrupted run, and the people, through
the commands they use (the navlend/cli operations the ``ape run`` scripts
call, run in-process, and one ``ape run`` subprocess): a lender lends and
withdraws, a borrower posts USTB and OUSG, borrows, reads the position,
repays and takes the collateral back, a user levers into USTB and OUSG
and unwinds through the subscription adapters and Leverage the command
deployed; the liquidators' keeper (the real engine, not a dry run, its
config read from the deployments file the command wrote) liquidates a
USTB position through SuperstateRedemption and an OUSG one through
OndoRedemption with the command's FlashLiquidator; and liquidations by
hand through each issuer's redemption adapter and through the seize route.
"""

import importlib.util
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import ape
import pytest
from click.testing import CliRunner
from rich.console import Console

from keepers.chain import ChainReader
from keepers.config import load_config
from keepers.wiring import build_keeper
from navlend.deploy.command import DeployRefused, deploy_market, project_type_of
from navlend.deployments import DEPLOYMENTS_DIR_ENV, Deployment
from navlend.market import market_at

USD = 10**6
OUSG = 10**18
DAY = 86_400
MAX = 2**256 - 1
ROOT = Path(__file__).resolve().parents[2]
APE = str(Path(sys.executable).parent / "ape")
SCRIPTS = ROOT / "scripts"
LENDER = ("--account", "TEST::3")
BORROWER = ("--account", "TEST::4")
# Superstate's subscription terms, set by Superstate on its token.
SUBSCRIPTION_FEE_BPS = 10
SUPERSTATE_ORACLE_DELAY = 3_600

USTB_NAV = 10_450_000  # $10.45 (6 decimals)
USTB_DROPPED = 9_700_000  # -7.2 %
OUSG_PRICE = 115 * 10**18
OUSG_DROPPED = OUSG_PRICE * 98 // 100  # Ondo's largest move
ONDO_LIMIT = 2_000_000 * USD
SS_ENTITY = {"lender": 1, "borrower": 2, "liquidator": 3}


@pytest.fixture(scope="module")
def ss_issuer(accounts):
    """Superstate, and Circle: deploys and runs USDC and USTB."""
    return accounts[15]


@pytest.fixture(scope="module")
def navlend_deployer(accounts):
    """Deploys the market from the config (no role at any issuer)."""
    return accounts[12]


@pytest.fixture(scope="module")
def safe(accounts):
    """The owner the config names (a Safe on a live network)."""
    return accounts[11]


@pytest.fixture(scope="module")
def issuers(project, chain, ss_issuer, ondo_admin, lender, borrower, liquidator, outsider, advance):
    """The issuers' contracts, as they would be found on a live network.
    ``lender``, ``borrower`` and ``liquidator`` are Superstate investors;
    ``outsider`` is nobody's (requested here, before the module's chain
    state, so that Ape's isolation need not rebase)."""
    usdc = ss_issuer.deploy(project.MockERC20, "USD Coin", "USDC", 6)
    allow_list = ss_issuer.deploy(project.SuperstateAllowListDouble)
    ustb = ss_issuer.deploy(
        project.SuperstateTokenDouble, "Superstate Short Duration Fund", "USTB", allow_list
    )
    ss_oracle = ss_issuer.deploy(project.SuperstateOracleDouble, 1_000_000)
    for nav, struck_ago in ((USTB_NAV - 1_045, DAY + 3_600), (USTB_NAV, 3_600)):
        now = chain.blocks.head.timestamp + 1
        chain.pending_timestamp = now
        ss_oracle.add_checkpoint(now - struck_ago, now, nav, False, sender=ss_issuer)
        advance(1)
    redemption = ss_issuer.deploy(
        project.SuperstateRedemptionDouble, ustb, ss_oracle, usdc, DAY, False
    )
    allow_list.setProtocolAddressPermission(redemption, "USTB", True, sender=ss_issuer)
    # USTB sells its own shares for USDC (Leverage subscribes through it).
    ustb.setOracle(ss_oracle, SUPERSTATE_ORACLE_DELAY, sender=ss_issuer)
    ustb.setStablecoinConfig(usdc, ss_issuer, SUBSCRIPTION_FEE_BPS, sender=ss_issuer)
    for account, entity in zip((lender, borrower, liquidator), SS_ENTITY.values()):
        allow_list.setEntityIdForAddress(entity, account, sender=ss_issuer)
        allow_list.setEntityAllowedForFund(entity, "USTB", True, sender=ss_issuer)
    usdc.mint(redemption, 1_000_000 * USD, sender=ss_issuer)
    registry = ondo_admin.deploy(project.OndoKycRegistryDouble)
    ousg = ondo_admin.deploy(project.OusgDouble, registry)
    ondo_oracle = ondo_admin.deploy(project.OndoOracleDouble, OUSG_PRICE)
    buidl = ondo_admin.deploy(project.MockERC20, "BlackRock BUIDL", "BUIDL", 6)
    redeemer = ondo_admin.deploy(project.BuidlRedeemerDouble, buidl, usdc)
    manager = ondo_admin.deploy(
        project.OusgInstantManagerDouble, ousg, usdc, buidl, redeemer, ondo_oracle, ONDO_LIMIT, DAY
    )
    for account in (ondo_admin, manager):
        registry.set_kyc_status(1, account, True, sender=ondo_admin)
    ousg.set_minter(manager, True, sender=ondo_admin)
    buidl.mint(manager, 5_000_000 * USD, sender=ondo_admin)
    usdc.mint(redeemer, 5_000_000 * USD, sender=ss_issuer)
    usdc.mint(manager, 100_000 * USD, sender=ss_issuer)
    return {
        "usdc": usdc, "allow_list": allow_list, "ustb": ustb, "ss_oracle": ss_oracle,
        "redemption": redemption, "registry": registry, "ousg": ousg, "ondo_oracle": ondo_oracle,
        "manager": manager,
    }  # fmt: skip


def config_text(issuers, safe, guardian, treasury, **override) -> str:
    """The rehearsal's config; ``override`` replaces whole lines by key
    (``ustb_ltv='ltv = "0.96"'``)."""
    lines = {
        "head": f'''network = "ethereum:local"
deployer = "TEST::12"
owner = "{safe.address}"
guardian = "{guardian.address}"
treasury = "{treasury.address}"
name = "navlend USDC lender share"
symbol = "nUSDC"
leverage = true''',
        "stablecoin": f'stablecoin = "{issuers["usdc"].address}"',
        "rates": '[rates]\nbase = "0"\nslope1 = "0.04"\nslope2 = "0.60"\nkink = "0.90"\nreserve_factor = "0.10"',
        "fees": '[fees]\nflash = "0.0005"\nliquidation = "0.10"',
        "limits": "[limits]\nmin_borrow = 100\nsmall_position = 2000\ndust_floor = 1000",
        "ustb_token": f'[[collateral]]\ntoken = "{issuers["ustb"].address}"',
        "ustb_feed": f'feed = {{ adapter = "SuperstateNavFeed", oracle = "{issuers["ss_oracle"].address}" }}',
        "ustb_facility": f'facility = {{ adapter = "SuperstateRedemption", redemption = "{issuers["redemption"].address}" }}',
        "ustb_compliance": 'compliance = { adapter = "SuperstateCompliance" }',
        "ustb_subscription": 'subscription = { adapter = "SuperstateSubscription" }',
        "ustb_ltv": 'ltv = "0.83"',
        "ustb_rest": 'threshold = "0.88"\nbonus = "0.03"\nsupply_cap = "15000000"\nmax_oracle_age = "100h"',
        "ousg_token": f'[[collateral]]\ntoken = "{issuers["ousg"].address}"',
        "ousg_feed": f'feed = {{ adapter = "OndoNavFeed", oracle = "{issuers["ondo_oracle"].address}" }}',
        "ousg_facility": f'facility = {{ adapter = "OndoRedemption", manager = "{issuers["manager"].address}" }}',
        "ousg_compliance": 'compliance = { adapter = "OndoCompliance" }',
        "ousg_subscription": f'subscription = {{ adapter = "OndoSubscription", manager = "{issuers["manager"].address}" }}',
        "ousg_rest": 'ltv = "0.89"\nthreshold = "0.90"\nbonus = "0.03"\nsupply_cap = "100000"\nmax_oracle_age = "100h"',
    }
    order = ["head", "stablecoin", "rates", "fees", "limits"]
    order += [
        "ustb_token",
        "ustb_feed",
        "ustb_facility",
        "ustb_compliance",
        "ustb_subscription",
        "ustb_ltv",
        "ustb_rest",
    ]
    order += [
        "ousg_token", "ousg_feed", "ousg_facility", "ousg_compliance", "ousg_subscription",
        "ousg_rest",
    ]  # fmt: skip
    lines |= override
    return "\n".join(lines[key] for key in order) + "\n"


@pytest.fixture
def write_config(tmp_path, issuers, safe, guardian, treasury):
    def write(**override) -> Path:
        path = tmp_path / "market.toml"
        path.write_text(config_text(issuers, safe, guardian, treasury, **override))
        return path

    return write


@pytest.fixture
def deploy_dir(tmp_path):
    return tmp_path / "deployments"


def run(path, deploy_dir, **kwargs):
    return deploy_market(path, directory=deploy_dir, console=Console(width=200), **kwargs)


@pytest.fixture(scope="module")
def deployed(issuers, project, navlend_deployer, safe, guardian, treasury, tmp_path_factory):
    """The command's deployment from the good config, once for the module."""
    folder = tmp_path_factory.mktemp("rehearsal")
    path = folder / "market.toml"
    path.write_text(config_text(issuers, safe, guardian, treasury))
    nonce = navlend_deployer.nonce
    outcome = run(path, folder / "deployments")
    return outcome, folder / "deployments" / "local.json", nonce


# ---- the deployment ----


def test_deploy_market__good_config__deployed_configured_and_verified(
    deployed, issuers, navlend_deployer, safe, guardian, treasury
):
    outcome, _, nonce = deployed
    assert navlend_deployer.nonce == nonce + len(outcome.plan.steps)
    assert outcome.settings and all(s.ok for s in outcome.settings)
    contracts = outcome.deployment.contracts
    market = market_at(contracts["market"].address)
    assert market.asset() == issuers["usdc"].address
    assert (market.owner(), market.pending_owner()) == (navlend_deployer.address, safe.address)
    assert (market.guardian(), market.treasury()) == (guardian.address, treasury.address)
    ustb = market.asset_config(issuers["ustb"])
    assert (ustb.oracle, ustb.facility) == (
        contracts["ustb_feed"].address,
        contracts["ustb_facility"].address,
    )
    assert (ustb.ltv_bps, ustb.threshold_bps, ustb.bonus_bps) == (8_300, 8_800, 300)
    assert ustb.supply_cap == 15_000_000 * 10**6 and ustb.max_oracle_age == 100 * 3_600
    assert market.asset_compliance(issuers["ustb"]) == contracts["ustb_compliance"].address
    ousg = market.asset_config(issuers["ousg"])
    assert (ousg.oracle, ousg.facility) == (
        contracts["ousg_feed"].address,
        contracts["ousg_facility"].address,
    )
    assert ousg.supply_cap == 100_000 * OUSG
    assert market.asset_compliance(issuers["ousg"]) == contracts["ousg_compliance"].address
    assert market.asset_price(issuers["ustb"]) == (USTB_NAV, False)
    assert market.control()[2:] == (5, 1_000, 100 * USD, 2_000 * USD, 1_000 * USD)


def test_deploy_market__leverage_and_subscriptions__deployed_recorded_for_the_cli(
    deployed, project, issuers
):
    """Leverage serves the market; each subscription adapter sells its
    collateral for the stablecoin, recorded under its contract type (the
    CLI finds the subscription facility by the interface that type
    speaks)."""
    outcome, _, _ = deployed
    contracts = outcome.deployment.contracts
    leverage = project.Leverage.at(contracts["leverage"].address)
    assert (leverage.MARKET(), leverage.BASE()) == (
        contracts["market"].address,
        issuers["usdc"].address,
    )
    for name, kind in (("ustb", "SuperstateSubscription"), ("ousg", "OndoSubscription")):
        record = contracts[f"{name}_subscription"]
        assert record.contract_type == kind
        adapter = getattr(project, kind).at(record.address)
        assert (adapter.share_token(), adapter.payout_token()) == (
            issuers[name].address,
            issuers["usdc"].address,
        )
    assert project.OndoSubscription.at(contracts["ousg_subscription"].address).manager() == (
        issuers["manager"].address
    )
    paths = {s.path for s in outcome.settings}
    assert {"leverage.MARKET", "collateral[1].subscription.manager"} <= paths


def test_project_type_of__an_existing_subscription_facility__recognised_by_its_code(
    project, issuers, ss_issuer
):
    """An existing subscription facility is recorded under the project's
    type whose code it runs (the CLI finds the facility by that type);
    anything else is external."""
    existing = ss_issuer.deploy(project.SuperstateSubscription, issuers["ustb"], issuers["usdc"])
    assert project_type_of(existing.address) == "SuperstateSubscription"
    assert project_type_of(issuers["usdc"].address) == "external"
    assert project_type_of(ss_issuer.address) == "external"


def test_deploy_market__good_config__issuer_actions_named_before_and_after(deployed):
    outcome, _, _ = deployed
    before = " ".join(outcome.report.warnings)
    contracts = outcome.deployment.contracts
    for who in ("market", "ustb_facility", "ustb_subscription", "leverage"):
        assert f"Superstate must grant {contracts[who].address}" in before
    for who in ("market", "ousg_facility", "ousg_subscription", "leverage"):
        assert f"Ondo must add {contracts[who].address}" in before
    assert f"{contracts['leverage'].address} (Leverage)" in before
    assert len(outcome.warnings_after) == 8


def test_deploy_market__good_config__deployments_file_records_every_step_and_block(deployed, chain):
    outcome, path, _ = deployed
    record = Deployment.from_json(json.loads(path.read_text()))
    assert set(record.steps) == {s.key for s in outcome.plan.steps}
    assert all(s.mined and s.tx_hash and s.block for s in record.steps.values())
    first = min(s.block for s in record.steps.values())
    assert record.block == first > 0
    assert chain.provider.get_receipt(
        record.steps["market"].tx_hash
    ).contract_address == record.address("market")
    for name in (
        "market",
        "market_views",
        "market_admin",
        "lens",
        "ustb_feed",
        "ousg_facility",
        "stablecoin",
        "ustb",
    ):
        assert chain.provider.get_code(record.address(name))


def test_deploy_market__rerun_after_completion__sends_nothing_and_verifies(
    deployed, navlend_deployer
):
    outcome, path, _ = deployed
    nonce = navlend_deployer.nonce
    config = path.parent.parent / "market.toml"
    again = run(config, path.parent)
    assert navlend_deployer.nonce == nonce
    assert all(s.ok for s in again.settings)


def test_accept_ownership__by_the_owner__completes_the_transfer(deployed, safe):
    market = market_at(deployed[0].deployment.address("market"))
    market.accept_ownership(sender=safe)
    assert (market.owner(), market.pending_owner()) == (safe.address, "0x" + "00" * 20)


# ---- refusals: nothing sent ----


def test_deploy_market__bad_config__refused_with_every_problem_nothing_sent(
    issuers, navlend_deployer, outsider, write_config, deploy_dir
):
    path = write_config(
        stablecoin=f'stablecoin = "{outsider.address}"',
        ustb_ltv='ltv = "0.96"',
        ustb_facility=f'facility = {{ adapter = "OndoRedemption", manager = "{issuers["manager"].address}" }}',
        ousg_rest='ltv = "0.89"\nthreshold = "0.90"\nbonus = "0.12"\nsupply_cap = "100000"\nmax_oracle_age = "100h"',
    )
    nonce = navlend_deployer.nonce
    with pytest.raises(DeployRefused) as refused:
        run(path, deploy_dir)
    paths = {p.path for p in refused.value.problems}
    assert paths == {
        "stablecoin",  # no code
        "collateral[0]",  # LTV above 95 %
        "collateral[0].facility",  # the OUSG manager: redeems OUSG, pays real USDC
        "collateral[1]",  # 0.90 x 1.12 >= 1
        "collateral[1].facility",  # pays real USDC, not the configured "stablecoin"
        "collateral[1].subscription",  # Ondo's manager takes real USDC too
    }
    messages = str(refused.value)
    assert "no contract at" in messages and "LTV must be above 0" in messages
    assert "not the collateral" in messages and "threshold × (1 + bonus)" in messages
    assert "collateral[1].subscription: takes" in messages
    assert navlend_deployer.nonce == nonce
    assert not deploy_dir.exists()


def test_deploy_market__stale_feed__refused(navlend_deployer, write_config, deploy_dir):
    """USTB's last checkpoint was struck about an hour before the market
    would list it: an age bound of one hour refuses it."""
    path = write_config(
        ustb_rest='threshold = "0.88"\nbonus = "0.03"\nsupply_cap = "15000000"\nmax_oracle_age = "1h"'
    )
    nonce = navlend_deployer.nonce
    with pytest.raises(DeployRefused, match=r"collateral\[0\]\.feed: its price was struck"):
        run(path, deploy_dir)
    assert navlend_deployer.nonce == nonce


def test_deploy_market__wrong_chain__refused(navlend_deployer, write_config, deploy_dir):
    path = write_config()
    path.write_text(
        path.read_text().replace('network = "ethereum:local"', 'network = "ethereum:mainnet"')
    )
    nonce = navlend_deployer.nonce
    with pytest.raises(
        DeployRefused, match="ethereum:mainnet is chain 1; the connected node is chain 31337"
    ):
        run(path, deploy_dir)
    assert navlend_deployer.nonce == nonce


# ---- dry run, resume ----


def test_deploy_market__dry_run__simulates_and_sends_nothing(
    navlend_deployer, chain, write_config, deploy_dir
):
    path = write_config()
    nonce, head = navlend_deployer.nonce, chain.blocks.head.number
    outcome = run(path, deploy_dir, dry_run=True)
    assert outcome.simulated.startswith(f"simulated the {len(outcome.plan.steps)} steps")
    assert outcome.settings and all(s.ok for s in outcome.settings)
    assert outcome.deployment is None
    assert navlend_deployer.nonce == nonce and chain.blocks.head.number == head
    assert not deploy_dir.exists()


class Interrupted(Exception):
    pass


def test_deploy_market__interrupted__rerun_resumes_without_deploying_twice(
    navlend_deployer, write_config, deploy_dir
):
    path = write_config()
    nonce = navlend_deployer.nonce
    mined = []

    def stop_after_five(step, record):
        mined.append(record)
        if len(mined) == 5:
            raise Interrupted

    with pytest.raises(Interrupted):
        run(path, deploy_dir, after_step=stop_after_five)
    file = deploy_dir / "local.json"
    halfway = Deployment.from_json(json.loads(file.read_text()))
    assert sum(s.mined for s in halfway.steps.values()) == 5
    assert navlend_deployer.nonce == nonce + 5
    # The fifth step's receipt "never got recorded": the rerun finds its
    # contract on chain and adopts it rather than deploying it again.
    fifth = mined[4]
    data = json.loads(file.read_text())
    data["steps"][fifth.key].update(status="sent", tx_hash="", block=0)
    file.write_text(json.dumps(data))
    outcome = run(path, deploy_dir)
    total = len(outcome.plan.steps)
    assert navlend_deployer.nonce == nonce + total
    final = outcome.deployment
    for record in mined:
        assert final.steps[record.key].address == record.address
    assert final.steps[fifth.key].mined and final.steps[fifth.key].tx_hash == ""
    assert all(s.ok for s in outcome.settings)
    assert final.block == mined[0].block


def test_deploy_market__interrupted_after_a_listing__listing_adopted_setter_sent_again(
    navlend_deployer, write_config, deploy_dir
):
    """Killed after `list_asset` and `set_asset_facility` were sent but
    before either receipt was recorded: the rerun finds USTB listed (no
    second listing, which would revert) and sends the setter again."""
    path = write_config()
    nonce = navlend_deployer.nonce
    mined = []

    def stop_after_the_facility(step, record):
        mined.append(record)
        if step.key == "set_asset_facility:ustb":
            raise Interrupted

    with pytest.raises(Interrupted):
        run(path, deploy_dir, after_step=stop_after_the_facility)
    file = deploy_dir / "local.json"
    data = json.loads(file.read_text())
    for key in ("list_asset:ustb", "set_asset_facility:ustb"):
        data["steps"][key].update(status="sent", tx_hash="", block=0)
    file.write_text(json.dumps(data))
    outcome = run(path, deploy_dir)
    assert navlend_deployer.nonce == nonce + len(outcome.plan.steps) + 1  # the setter, twice
    steps = outcome.deployment.steps
    assert steps["list_asset:ustb"].mined and steps["list_asset:ustb"].tx_hash == ""
    assert steps["set_asset_facility:ustb"].tx_hash  # sent again, mined
    assert all(s.ok for s in outcome.settings)


def test_deploy_market__file_of_another_deployment__refused(navlend_deployer, chain, write_config, deploy_dir):
    """A deployments file the local world (or another config) wrote is
    never resumed or overwritten."""
    deploy_dir.mkdir()
    other = Deployment("local", chain.chain_id, navlend_deployer.address)
    (deploy_dir / "local.json").write_text(json.dumps(other.to_json()))
    nonce = navlend_deployer.nonce
    with pytest.raises(DeployRefused, match="records another deployment"):
        run(write_config(), deploy_dir)
    assert navlend_deployer.nonce == nonce
    assert json.loads((deploy_dir / "local.json").read_text()) == other.to_json()


def test_deploy_market__unknown_deployer_alias__refused(navlend_deployer, write_config, deploy_dir):
    path = write_config()
    path.write_text(path.read_text().replace('deployer = "TEST::12"', 'deployer = "no-such-alias"'))
    with pytest.raises(DeployRefused, match="deployer: no Ape account named 'no-such-alias'"):
        deploy_market(path, directory=deploy_dir, console=Console(width=200))


def test_ape_run_deploy_market__dry_run_in_a_subprocess__plans_and_sends_nothing(
    navlend_deployer, chain, write_config, deploy_dir
):
    path = write_config()
    nonce = navlend_deployer.nonce
    env = {
        **os.environ,
        "APE_FOUNDRY_HOST": chain.provider.uri,
        DEPLOYMENTS_DIR_ENV: str(deploy_dir),
    }
    result = subprocess.run(
        [APE, "run", "deploy-market", "--config", str(path), "--dry-run"],
        cwd=ROOT, env=env, check=False, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    assert "dry run: simulated the" in result.stdout and "list_asset" in result.stdout
    assert navlend_deployer.nonce == nonce


# ---- the people, against the deployment ----


@pytest.fixture(scope="module")
def live(deployed, issuers, project, ss_issuer, ondo_admin, safe, lender):
    """The deployment once the issuers have done what the command named
    (Superstate's protocol permissions, Ondo's KYC of the market, the
    adapters and Leverage), the owner has accepted, and a lender has
    supplied 3M USDC."""
    outcome = deployed[0]
    contracts = outcome.deployment.contracts
    market = market_at(contracts["market"].address)
    for who in ("market", "ustb_facility", "ustb_subscription", "leverage"):
        issuers["allow_list"].setProtocolAddressPermission(
            contracts[who].address, "USTB", True, sender=ss_issuer
        )
    for who in ("market", "ousg_facility", "ousg_subscription", "leverage"):
        issuers["registry"].set_kyc_status(1, contracts[who].address, True, sender=ondo_admin)
    market.accept_ownership(sender=safe)
    usdc = issuers["usdc"]
    usdc.mint(lender, 3_000_000 * USD, sender=ss_issuer)
    usdc.approve(market, 3_000_000 * USD, sender=lender)
    market.deposit(3_000_000 * USD, lender, sender=lender)
    adapters = {
        name: getattr(project, contracts[name].contract_type).at(contracts[name].address)
        for name in ("ustb_facility", "ousg_facility")
    }
    return market, adapters


def test_live__issuers_acted__no_issuer_action_left(deployed, live):
    outcome, path, _ = deployed
    again = run(path.parent.parent / "market.toml", path.parent)
    assert again.warnings_after == ()


@pytest.fixture
def ustb_borrower(live, issuers, ss_issuer, borrower):
    """``borrower`` posts 1,000 USTB ($10,450) and borrows $8,600."""
    market, _ = live
    issuers["ustb"].mint(borrower, 1_000 * USD, sender=ss_issuer)
    issuers["ustb"].approve(market, 1_000 * USD, sender=borrower)
    market.supply_collateral(issuers["ustb"], 1_000 * USD, borrower, sender=borrower)
    market.borrow(8_600 * USD, borrower, borrower, sender=borrower)
    return borrower


@pytest.fixture
def ustb_unhealthy(ustb_borrower, live, issuers, ss_issuer, chain, advance):
    """A day later Superstate strikes $9.70: the borrower is liquidatable."""
    advance(DAY - 3_600)
    now = chain.blocks.head.timestamp + 1
    chain.pending_timestamp = now
    issuers["ss_oracle"].add_checkpoint(now - 600, now, USTB_DROPPED, False, sender=ss_issuer)
    market, _ = live
    assert 0.95 * 10**18 < market.position(ustb_borrower).health_factor < 10**18
    return ustb_borrower


def test_live__borrower_on_ustb__borrows_the_stablecoin(live, ustb_borrower, issuers):
    market, _ = live
    assert issuers["usdc"].balanceOf(ustb_borrower) == 8_600 * USD
    assert market.debt_of(ustb_borrower) >= 8_600 * USD
    assert market.collateral_of(ustb_borrower, issuers["ustb"]) == 1_000 * USD


def test_live__borrower_dropped_by_superstate__refused_through_the_compliance_adapter(
    live, ustb_borrower, issuers, ss_issuer
):
    market, _ = live
    issuers["allow_list"].setEntityIdForAddress(0, ustb_borrower, sender=ss_issuer)
    with ape.reverts("market: owner not compliant"):
        market.borrow(10 * USD, ustb_borrower, ustb_borrower, sender=ustb_borrower)


def liquidate_ustb(live, issuers, ss_issuer, borrower, liquidator, redeem: bool):
    """``liquidator``, given twice the previewed repayment in USDC,
    liquidates ``borrower``'s USTB as far as it may; returns the previewed
    repayment and the receipt."""
    market, _ = live
    repay, _seize = market.preview_liquidation(borrower, issuers["ustb"], MAX)
    issuers["usdc"].mint(liquidator, repay * 2, sender=ss_issuer)
    issuers["usdc"].approve(market, MAX, sender=liquidator)
    return repay, market.liquidate(
        borrower, issuers["ustb"], MAX, 0, redeem, liquidator, sender=liquidator
    )


def test_live__ustb_redeem_route__outsider_paid_through_superstate_redemption(
    live, ustb_unhealthy, issuers, ss_issuer, outsider
):
    _, adapters = live
    repay, tx = liquidate_ustb(live, issuers, ss_issuer, ustb_unhealthy, outsider, redeem=True)
    repaid, seized, payout = tx.return_value
    assert repaid >= repay and payout > repaid
    (redeemed,) = tx.decode_logs(adapters["ustb_facility"].Redeemed)
    # The protocol keeps its share of the bonus (fees.liquidation = 10 %)
    # in shares; the rest is redeemed for the liquidator.
    assert (redeemed.receiver, redeemed.payout) == (outsider.address, payout)
    assert 0 < redeemed.shares < seized
    assert issuers["ustb"].balanceOf(outsider) == 0


def test_live__ustb_seize_route__allowlisted_liquidator_gets_the_shares(
    live, ustb_unhealthy, issuers, ss_issuer, liquidator
):
    repay, tx = liquidate_ustb(live, issuers, ss_issuer, ustb_unhealthy, liquidator, redeem=False)
    repaid, seized, payout = tx.return_value
    assert repaid >= repay and 0 < payout < seized  # the protocol's share stays
    assert issuers["ustb"].balanceOf(liquidator) == payout


def test_live__ousg_redeem_route__liquidator_without_kyc_paid_through_ondo_redemption(
    live, issuers, ss_issuer, ondo_admin, borrower, liquidator, chain
):
    market, adapters = live
    ousg, usdc, oracle = issuers["ousg"], issuers["usdc"], issuers["ondo_oracle"]
    issuers["registry"].set_kyc_status(1, borrower, True, sender=ondo_admin)
    ousg.mint(borrower, 10_000 * OUSG, sender=ondo_admin)
    ousg.approve(market, 10_000 * OUSG, sender=borrower)
    market.supply_collateral(ousg, 10_000 * OUSG, borrower, sender=borrower)
    market.borrow(1_020_000 * USD, borrower, borrower, sender=borrower)
    chain.pending_timestamp = oracle.price_timestamp() + oracle.MIN_PRICE_UPDATE_WINDOW()
    oracle.setPrice(OUSG_DROPPED, sender=ondo_admin)
    assert market.position(borrower).health_factor < 10**18
    supply = ousg.totalSupply()
    usdc.approve(market, MAX, sender=liquidator)
    tx = market.liquidate(borrower, ousg, MAX, 0, True, liquidator, sender=liquidator)
    repaid, seized, payout = tx.return_value
    assert payout > repaid > 0
    (redeemed,) = tx.decode_logs(adapters["ousg_facility"].Redeemed)
    assert (redeemed.receiver, redeemed.payout) == (liquidator.address, payout)
    assert ousg.totalSupply() == supply - redeemed.shares  # burnt by Ondo
    assert usdc.balanceOf(liquidator) > 0


def test_live__keeper__finds_the_deployment_and_reads_both_assets_and_the_borrower(
    deployed, live, ustb_borrower, chain
):
    """The keeper's config takes the market, the lens and the
    FlashLiquidator from the deployments file the command wrote; its
    chain reader sees both assets through their adapters, and the
    borrower's position through the lens."""
    outcome, path, _ = deployed
    record = outcome.deployment
    config = load_config(
        env={"NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(path), "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::5"}
    )
    assert (config.market, config.lens, config.flash_liquidator) == tuple(
        record.address(name) for name in ("market", "lens", "flash_liquidator")
    )
    reader = ChainReader(
        chain.provider.web3, config.market, config.lens, decode_logs=lambda raw: [], event_topics=[]
    )
    ustb, ousg = reader.market_terms().assets
    assert (ustb.facility, ousg.facility) == (
        record.address("ustb_facility"),
        record.address("ousg_facility"),
    )
    assert ustb.facility_max_redeem > 0 and ousg.facility_min_redeem > 0  # Ondo's $50,000 minimum
    (health,) = reader.healths([ustb_borrower.address])
    assert health.debt >= 8_600 * USD and 10**18 < health.health_factor
    # A backfill from the recorded block misses none of the market's events.
    get_logs = chain.provider.web3.eth.get_logs
    assert get_logs({"fromBlock": 0, "toBlock": record.block - 1, "address": config.market}) == []
    assert get_logs({"fromBlock": record.block, "toBlock": "latest", "address": config.market})


_SCRIPTS: dict[str, object] = {}


def script(name: str):
    """``scripts/<name>.py``'s click command, loaded once."""
    if name not in _SCRIPTS:
        spec = importlib.util.spec_from_file_location(f"navlend_rehearsal_{name}", SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _SCRIPTS[name] = module.cli
    return _SCRIPTS[name]


@pytest.fixture
def command(deployed, live, networks, chain, monkeypatch):
    """``command("borrow", "100", *BORROWER)``: the ``ape run`` script's
    click command, in-process, on the test's chain (its network choice
    pointed at the session's provider), reading the deployments file the
    command wrote; asserts it succeeded and returns click's result."""
    _, path, _ = deployed
    monkeypatch.setenv(DEPLOYMENTS_DIR_ENV, str(path.parent))
    monkeypatch.setattr(
        type(networks),
        "get_provider_from_choice",
        lambda self, network_choice=None, provider_settings=None: chain.provider,
    )

    def go(name: str, *args: object):
        result = CliRunner(mix_stderr=False).invoke(script(name), [str(a) for a in args])
        assert result.exit_code == 0, (name, result.stdout, result.stderr, result.exception)
        return result

    return go


@pytest.fixture
def ondo_investor(issuers, ondo_admin, borrower):
    """``borrower``, KYC'd by Ondo as well (a Superstate investor already)."""
    issuers["registry"].set_kyc_status(1, borrower, True, sender=ondo_admin)
    return borrower


def test_people__lender__lends_and_withdraws_with_the_commands(command, live, issuers, ss_issuer, lender):
    market, _ = live
    issuers["usdc"].mint(lender, 1_000 * USD, sender=ss_issuer)
    before = market.maxWithdraw(lender)
    command("lend", "1000", *LENDER)
    assert market.maxWithdraw(lender) >= before + 1_000 * USD - 1
    command("withdraw", "400", *LENDER)
    assert issuers["usdc"].balanceOf(lender) == 400 * USD
    shown = json.loads(command("market", "--json").stdout)
    assert [a["asset"] for a in shown["assets"]] == ["ustb", "ousg"]


def test_people__borrower__posts_ustb_and_ousg_borrows_repays_takes_them_back(
    command, live, issuers, ss_issuer, ondo_admin, ondo_investor
):
    """Every borrower's command on both funds, through the compliance
    adapters the command deployed."""
    market, _ = live
    me, ustb, ousg, usdc = ondo_investor, issuers["ustb"], issuers["ousg"], issuers["usdc"]
    ustb.mint(me, 1_000 * USD, sender=ss_issuer)
    ousg.mint(me, 100 * OUSG, sender=ondo_admin)
    command("deposit", "ustb", "1000", *BORROWER)
    command("deposit", "ousg", "100", *BORROWER)
    assert market.collateral_of(me, ustb) == 1_000 * USD
    assert market.collateral_of(me, ousg) == 100 * OUSG
    command("borrow", "15000", *BORROWER)
    assert usdc.balanceOf(me) == 15_000 * USD

    doc = json.loads(command("position", me.address, "--json").stdout)["borrowed"]
    assert int(doc["debt"]["raw"]) == market.position(me).debt
    assert {h["asset"]: Decimal(h["balance"]["value"]) for h in doc["collateral"]} == {
        "ustb": 1_000,
        "ousg": 100,
    }

    command("repay", "5000", *BORROWER)
    assert 10_000 * USD <= market.debt_of(me) < 10_001 * USD
    command("withdraw_collateral", "ousg", "50", *BORROWER)
    assert ousg.balanceOf(me) == 50 * OUSG
    usdc.mint(me, 10 * USD, sender=ss_issuer)  # the interest
    command("repay", "max", *BORROWER)
    assert market.debt_of(me) == 0
    command("withdraw_collateral", "ousg", "max", *BORROWER)
    command("withdraw_collateral", "ustb", "max", *BORROWER)
    assert ustb.balanceOf(me) == 1_000 * USD and ousg.balanceOf(me) == 100 * OUSG
    assert market.position(me).assets_bitmap == 0


def test_people__deposit_through_ape_run__a_subprocess_against_the_deployment(
    deployed, live, issuers, ss_issuer, borrower, chain
):
    """``ape run deposit`` itself, in a subprocess, against the deployments
    file the command wrote."""
    _, path, _ = deployed
    market, _ = live
    issuers["ustb"].mint(borrower, 100 * USD, sender=ss_issuer)
    env = {**os.environ, "APE_FOUNDRY_HOST": chain.provider.uri, DEPLOYMENTS_DIR_ENV: str(path.parent)}
    result = subprocess.run(
        [APE, "run", "deposit", "ustb", "100", *BORROWER, "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [t["step"] for t in doc["transactions"]] == ["approve market", "supply_collateral"]
    assert market.collateral_of(borrower, issuers["ustb"]) == 100 * USD


def test_people__leverage_then_unwind_on_ustb__through_superstate_subscription(
    command, live, issuers, ss_issuer, borrower
):
    market, _ = live
    usdc, ustb = issuers["usdc"], issuers["ustb"]
    usdc.mint(borrower, 10_000 * USD, sender=ss_issuer)
    # An 80 % LTV ends under the 1.10 warning level: --yes, as a person confirms.
    command("leverage", "ustb", "10000", "--ltv", "0.80", "--yes", *BORROWER)
    exposure = market.collateral_of(borrower, ustb) * market.asset_price(ustb)[0] // USD
    assert 49_800 * USD < exposure < 50_000 * USD
    assert abs(market.debt_of(borrower) - 40_000 * USD) < 100 * USD
    command("unwind", "ustb", *BORROWER)
    assert market.debt_of(borrower) == 0 and market.collateral_of(borrower, ustb) == 0
    # Lost: Superstate's 10 bps on about 50,000, the flash fees, and
    # RedemptionIdle's price spread on the way out.
    assert 9_800 * USD < usdc.balanceOf(borrower) < 10_000 * USD


def test_people__leverage_then_unwind_on_ousg__through_ondo_subscription(
    command, live, issuers, ondo_admin, ss_issuer, ondo_investor
):
    """30,000 at 80 %: 150,000 subscribed, above Ondo's $100,000 minimum."""
    market, _ = live
    me, usdc, ousg = ondo_investor, issuers["usdc"], issuers["ousg"]
    usdc.mint(me, 30_000 * USD, sender=ss_issuer)
    command("leverage", "ousg", "30000", "--ltv", "0.80", "--yes", *BORROWER)
    assert 119_500 * USD < market.debt_of(me) <= 120_000 * USD
    assert market.collateral_of(me, ousg) > 0
    command("unwind", "ousg", *BORROWER)
    assert market.debt_of(me) == 0 and market.collateral_of(me, ousg) == 0
    assert 29_800 * USD < usdc.balanceOf(me) <= 30_000 * USD


@pytest.fixture
def ousg_unhealthy(live, issuers, ondo_admin, ss_issuer, accounts, chain):
    """An Ondo investor posts 10,000 OUSG ($1.15M), borrows $1.02M, and
    Ondo posts a 2 % lower price: a position whose close-factor half is far
    above Ondo's $50,000 redemption minimum, liquidatable."""
    market, _ = live
    holder = accounts[10]
    ousg, oracle = issuers["ousg"], issuers["ondo_oracle"]
    issuers["registry"].set_kyc_status(1, holder, True, sender=ondo_admin)
    ousg.mint(holder, 10_000 * OUSG, sender=ondo_admin)
    ousg.approve(market, 10_000 * OUSG, sender=holder)
    market.supply_collateral(ousg, 10_000 * OUSG, holder, sender=holder)
    market.borrow(1_020_000 * USD, holder, holder, sender=holder)
    earliest = oracle.price_timestamp() + oracle.MIN_PRICE_UPDATE_WINDOW()
    chain.pending_timestamp = max(earliest, chain.blocks.head.timestamp + 1)
    oracle.setPrice(OUSG_DROPPED, sender=ondo_admin)
    assert market.position(holder).health_factor < 10**18
    return holder


def test_keeper__liquidates_ustb_and_ousg_through_the_issuers_redemption_with_the_flash_liquidator(
    deployed, live, issuers, ustb_unhealthy, ousg_unhealthy, navlend_deployer, chain, tmp_path
):
    """The liquidators' keeper, as ``keepers.wiring`` builds it for the bot,
    sending for real: its market, lens and FlashLiquidator from the
    deployments file, its backfill from the recorded block, signing as the
    FlashLiquidator's owner (the deployer; no issuer admits it). Both
    positions go through the redeem route, paid by SuperstateRedemption
    and OndoRedemption, and the profit lands with the signer."""
    outcome, path, _ = deployed
    market, adapters = live
    config = load_config(
        env={
            "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(path),
            "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::12",
            "NAVLEND_KEEPER_START_BLOCK": str(outcome.deployment.block),
            "NAVLEND_KEEPER_DB_PATH": str(tmp_path / "index.sqlite"),
        }
    )
    assert not config.dry_run
    keeper = build_keeper(
        config,
        SimpleNamespace(provider=chain.provider, signer=navlend_deployer),
        with_tx=True,
        serve_metrics=False,
    )
    keeper.check_setup()
    keeper.backfill()
    usdc = issuers["usdc"]
    debts = {who: market.debt_of(who) for who in (ustb_unhealthy, ousg_unhealthy)}
    gained = usdc.balanceOf(navlend_deployer)
    first = keeper.on_block()
    assert (first.error, first.sent) == ("", 2)
    # The next blocks read the receipts. Anvil's automine mines each sent
    # transaction in its own task, after the send has answered, so follow
    # until both are read (a bounded wait, not a fixed count of blocks).
    succeeded = None
    for _ in range(20):
        assert keeper.on_block().error == ""
        succeeded = keeper.metrics.registry.get_sample_value(
            "keeper_liquidations_succeeded_total", {"route": "redeem"}
        )
        if succeeded == 2:
            break
        time.sleep(0.25)
    assert succeeded == 2
    for who, debt in debts.items():
        assert market.debt_of(who) < debt
    assert usdc.balanceOf(navlend_deployer) > gained
    flash = outcome.deployment.address("flash_liquidator")
    for name in ("ustb_facility", "ousg_facility"):
        (redeemed,) = adapters[name].Redeemed.range(first.block, chain.blocks.head.number + 1)
        assert redeemed.receiver == flash
