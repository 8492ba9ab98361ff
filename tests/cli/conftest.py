"""Fixtures of the CLI suite (navlend/cli, scripts/*, ape_console_extras.py).

The market and its periphery are deployed over the session's world
(tests/conftest.py) as the deploy script wires them, and recorded in a
deployments file in a temporary directory that every tool reads
(``NAVLEND_DEPLOYMENTS_DIR``).

Commands run in-process with click's ``CliRunner`` (:func:`ape_run`). Each
command's ``--network`` would otherwise start a fresh anvil; the fixture
points Ape's network choice at the session's own provider, so a command
runs against the test's chain, inside its snapshot.

Seed (``seeded``): the lender has lent 1,000,000 USDC; the borrower holds
100,000 USDC, 10,000 fund A shares, 20,000 fund C shares, 50,000 fund B
shares (not listed raw: only to wrap) and 50,000 wrapper shares, and has
approved nothing (the commands approve).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
from click.testing import CliRunner

from navlend import deployments
from navlend.cli import schema
from navlend.cli.errors import EXIT_REFUSED, EXIT_REVERTED, EXIT_USAGE
from navlend.deployments import DEPLOYMENTS_DIR_ENV
from navlend.market import deploy_local_market, deploy_periphery, market_records

USD = 10**6
SHARE_A = 10**6
SHARE_B = 10**18
SHARE_C = 10**18
PRICE = 10**8
# Exit statuses of a command that sent nothing (navlend/cli/errors.py).
NOTHING_SENT = (EXIT_USAGE, EXIT_REFUSED, EXIT_REVERTED)
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture(scope="session")
def newcomer(accounts):
    """An account nobody has funded or allowlisted (``TEST::11``)."""
    return accounts[11]


@pytest.fixture(scope="session")
def market(world, deployer, guardian, treasury):
    """The market as the deploy script wires it (owner: deployer)."""
    return deploy_local_market(world, deployer, guardian=guardian, treasury=treasury)


@pytest.fixture(scope="session")
def periphery(world, market, deployer):
    """Lens and Leverage, as the deploy script wires them."""
    return deploy_periphery(world, market, deployer)


@pytest.fixture(scope="session")
def lens(periphery):
    return periphery["lens"]


@pytest.fixture(scope="session")
def leverage(periphery):
    return periphery["leverage"]


@pytest.fixture(scope="session")
def deployment_dir(tmp_path_factory, world, market, periphery, chain):
    """A deployments directory holding ``local.json`` for this world."""
    directory = tmp_path_factory.mktemp("deployments")
    deployment = world.to_deployment("local", chain.chain_id)
    for record in market_records(world, market, periphery):
        deployment.add(record)
    deployments.save(deployment, directory)
    return directory


@pytest.fixture(autouse=True)
def _deployments_env(request, monkeypatch):
    """Points ``NAVLEND_DEPLOYMENTS_DIR`` at the test deployment for the
    tests that use it (only for the test: other suites keep the default)."""
    if "seeded" in request.fixturenames:
        monkeypatch.setenv(DEPLOYMENTS_DIR_ENV, str(request.getfixturevalue("deployment_dir")))


@pytest.fixture(scope="session")
def seeded(deployment_dir, world, market, periphery, deployer, lender, borrower):
    """The seed described in the module docstring."""
    coin = world.stablecoin
    coin.mint(lender, 1_000_000 * USD, sender=deployer)
    coin.approve(market, 1_000_000 * USD, sender=lender)
    market.deposit(1_000_000 * USD, lender, sender=lender)
    coin.mint(borrower, 100_000 * USD, sender=deployer)
    world.fund_a.mint(borrower, 10_000 * SHARE_A, sender=deployer)
    world.fund_c.mint(borrower, 20_000 * SHARE_C, sender=deployer)
    world.fund_b.mint(borrower, 100_000 * SHARE_B, sender=deployer)
    world.fund_b.approve(world.wrapper, 50_000 * SHARE_B, sender=borrower)
    world.wrapper.deposit(50_000 * SHARE_B, borrower, sender=borrower)
    return world


_SCRIPTS: dict[str, object] = {}


def load_script(name: str):
    """``scripts/<name>.py``'s click command, loaded once."""
    if name not in _SCRIPTS:
        spec = importlib.util.spec_from_file_location(
            f"navlend_script_{name}", SCRIPTS / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _SCRIPTS[name] = module.cli
    return _SCRIPTS[name]


@pytest.fixture
def ape_run(seeded, chain, networks, monkeypatch):
    """``ape_run("borrow", "100", "--account", "TEST::4")``: runs the
    command in-process on the test's chain; returns click's result, with
    ``stdout`` and ``stderr`` apart."""
    monkeypatch.setattr(
        type(networks),
        "get_provider_from_choice",
        lambda self, network_choice=None, provider_settings=None: chain.provider,
    )

    def go(script: str, *args: object, input: str | None = None):
        runner = CliRunner(mix_stderr=False)
        words = [str(a) for a in args]
        result = runner.invoke(load_script(script), words, input=input)
        if "--json" in words and "--help" not in words:
            check_json(script, words, result)
        return result

    return go


def check_json(script: str, words: list[str], result) -> None:
    """Every ``--json`` output of the suite holds to its schema
    (navlend/cli/schema.py): the command's document on success, the error
    object on failure, and nothing else on stdout."""
    name = f"admin {words[0]}" if script == "admin" else script
    doc = json.loads(result.stdout)
    if result.exit_code == 0:
        jsonschema.validate(doc, schema.COMMANDS[name])
    else:
        jsonschema.validate(doc, schema.ERROR)
        assert doc["error"]["exit_code"] == result.exit_code


@pytest.fixture
def nonce_kept():
    """``with nonce_kept(account): ...`` asserts nothing was sent from it."""
    from contextlib import contextmanager

    @contextmanager
    def check(*accounts):
        before = [a.nonce for a in accounts]
        yield
        assert [a.nonce for a in accounts] == before, "a transaction was sent"

    return check


@pytest.fixture
def refused(ape_run, nonce_kept):
    """``refused(account, "borrow", ...)``: runs the command, asserts it
    exited with a "nothing sent" status (2 usage, 3 refused, 4 reverted in
    simulation; ``code=`` for one of them) and a one-line error, and sent
    nothing from ``account``; returns the message."""

    def go(account, script: str, *args: object, code: int | None = None) -> str:
        with nonce_kept(account):
            result = ape_run(script, *args)
        expected = NOTHING_SENT if code is None else (code,)
        assert result.exit_code in expected, (
            result.exit_code,
            result.stdout,
            result.stderr,
            result.exception,
        )
        assert "Traceback" not in result.stderr + result.stdout
        message = result.stderr.strip()
        assert message.startswith("Error: ") and "\n" not in message, message
        return message

    return go


@pytest.fixture
def stale_price(market, deployer, project, chain):
    """``stale_price(token, age=101 hours)``: points the market's feed for
    ``token`` at a mock struck ``age`` seconds ago, at the current price."""

    def go(token, age: int = 101 * 3_600):
        price = market.asset_price(token)[0]
        mock = deployer.deploy(project.MockAggregator, 8, price)
        # The market accepts only a fresh feed; the answer ages afterwards.
        market.set_asset_oracle(token, mock, sender=deployer)
        mock.set_answer(price, chain.blocks.head.timestamp - age, sender=deployer)
        return mock

    return go


def ok(result):
    """``result`` of :func:`ape_run`, asserted to have exited 0."""
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def fake_network(name: str = "sepolia", local: bool = False):
    """A stand-in network for the confirmation rules."""
    return SimpleNamespace(name=name, is_local=local)
