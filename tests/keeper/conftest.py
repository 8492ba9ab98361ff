"""Fixtures of the keeper suites.

End-to-end tests (``tests/keeper/e2e``) run the real bot as a ``silverback
run keepers.bots.liquidator:bot`` subprocess against an anvil this conftest starts on a
free port (``devkit.devnet.Anvil``; the bots are ``devkit.processes.BotProcess``), so a test can kill and restart the
node, revert it (a reorg) or stop it mining, and other engineers' anvils
never clash. Ape's per-test snapshots are switched off for this suite: a
snapshot revert under a running bot would be a reorg nobody asked for.

Actors (anvil's accounts, as in tests/conftest.py):

- ``deployer`` TEST::0: deploys, issuer admin, NAV updater and guardian;
- ``lender`` TEST::3: supplies 5,000,000 USDC;
- ``keeper`` TEST::5: the bot's signer, owner of its FlashLiquidator, NOT
  allowlisted by the funds (so only the redeem route is open to it);
- ``liquidator`` TEST::6: a competing, allowlisted liquidator;
- ``borrowers`` TEST::9..15: the seeded book (``devkit.seeding.SEEDS``).
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from devkit import seeding
from devkit.devnet import LocalMarket, connect, deploy_local, start_node
from devkit.nodes import ANVIL, JsonRpcNode, ape_attachment
from devkit.processes import BotProcess, free_port, keeper_env, keeper_process
from navlend.timeutil import STRIKE_HOUR_UTC, next_business_day_strike

USD = 10**6


def pytest_configure(config):
    config.option.disable_isolation = True


def _wednesday_evening(now: int) -> int:
    """The next Wednesday, 30 minutes after the NAV strike (as tests/conftest.py)."""
    day = datetime.fromtimestamp(now, tz=timezone.utc) + timedelta(days=1)
    while day.weekday() != 2:
        day += timedelta(days=1)
    return int(day.replace(hour=STRIKE_HOUR_UTC, minute=0, second=0, microsecond=0).timestamp()) + 1800


@dataclass
class Devnet:
    """One test's chain, market, actors and bots. ``anvil`` is the node,
    anvil's or Hardhat's (``node_kind``; their chain control is the same)."""

    anvil: JsonRpcNode
    lm: LocalMarket
    workdir: Path
    accounts: Any
    bots: list[BotProcess] = field(default_factory=list)

    @property
    def deployer(self) -> Any:
        return self.accounts[0]

    @property
    def keeper(self) -> Any:
        return self.accounts[5]

    @property
    def liquidator(self) -> Any:
        return self.accounts[6]

    @property
    def borrowers(self) -> list[Any]:
        return [self.accounts[i] for i in range(9, 9 + len(seeding.SEEDS))]

    @property
    def node_kind(self) -> str:
        return self.anvil.kind

    def env(self, metrics_port: int, **overrides: str) -> dict[str, str]:
        return keeper_env(
            self.anvil.url,
            self.lm.deployment_path,
            self.workdir / "index.sqlite",
            NAVLEND_KEEPER_SIGNER_ALIAS="TEST::5",
            NAVLEND_KEEPER_METRICS_PORT=str(metrics_port),
            NAVLEND_KEEPER_HEALTHY_SCAN_INTERVAL="2",
            SILVERBACK_BOT_NAME=f"keeper-{self.anvil.port}",
            **{**ape_attachment(self.node_kind, self.anvil.url).bot_env, **overrides},
        )

    def start_keeper(self, name: str = "keeper", **overrides: str) -> tuple[BotProcess, int]:
        port = free_port()
        network = ape_attachment(self.node_kind, self.anvil.url).network
        bot = keeper_process(self.env(port, **overrides), self.workdir / f"{name}.log", network=network).start()
        self.bots.append(bot)
        bot.wait_ready(timeout=90)
        return bot, port

    def drop_nav(self, bps: int) -> None:
        """Fund A's administrator strikes a NAV ``bps`` lower on the next
        business day; the guardian confirms it (a move above 1 %)."""
        oracle = self.lm.world.oracle_a
        _, answer, _, as_of, _ = oracle.latestRoundData()
        strike = next_business_day_strike(as_of)
        with self.automine():
            if self.anvil.timestamp() < strike + 60:
                self.anvil.rpc("evm_setNextBlockTimestamp", hex(strike + 60))
                self.anvil.mine(1)
            oracle.publish(answer * (10_000 - bps) // 10_000, strike, sender=self.deployer)
            if oracle.pending_round().answer != 0:
                oracle.confirm_pending(sender=self.deployer)

    @contextmanager
    def automine(self):
        """Automine for the block (Ape's sends), then blocks every second again."""
        self.anvil.set_interval_mining(0)
        try:
            yield
        finally:
            self.anvil.set_interval_mining(1)

    def liquidations(self, borrower: Any | None = None) -> list[Any]:
        logs = list(self.lm.market.Liquidate.range(0, self.anvil.block_number() + 1))
        if borrower is not None:
            logs = [entry for entry in logs if entry.borrower == str(getattr(borrower, "address", borrower))]
        return logs

    def health(self, account: Any) -> Any:
        return self.lm.lens.health(self.lm.market, account)


def _open(lm: LocalMarket, issuer: Any, who: Any, seed: seeding.Seed) -> None:
    """``seeding.open_seeded``; wrapper seeds are opened here because that
    function's wrapper branch reads an undefined name at HEAD (reported)."""
    if seed.asset == "fund_a":
        seeding.open_seeded(lm.world, lm.market, issuer, who, seed)
        return
    world, market = lm.world, lm.market
    amount = seed.collateral_usd * 10**18
    world.fund_b.mint(who, amount, sender=issuer)
    world.fund_b.approve(world.wrapper, amount, sender=who)
    world.wrapper.deposit(amount, who, sender=who)
    shares = world.wrapper.balanceOf(who)
    world.wrapper.approve(market, shares, sender=who)
    market.supply_collateral(world.wrapper, shares, who, sender=who)
    market.borrow(seed.collateral_usd * seed.ltv_bps // 10_000 * USD, who, who, sender=who)


@pytest.fixture
def node_kind(request) -> str:
    """The node a ``devnet`` runs on: anvil, unless a test is parametrized
    with Hardhat (tests/keeper/e2e/conftest.py's ``both_nodes`` marker)."""
    return getattr(request, "param", ANVIL)


@contextmanager
def running_devnet(tmp_path: Path, node_kind: str = ANVIL, network: str = "local", chain_id: int | None = None):
    """A fresh node (anvil, or Hardhat's for ``node_kind`` hardhat) with the
    world, the market, the keeper's FlashLiquidator, a lender and the
    seeded borrowers, its deployments file ``<network>.json``; blocks every
    second once seeded. With ``chain_id`` (anvil only), anvil is restarted
    on that chain id once everything is deployed (the mock stablecoin mints
    on local chain ids only), and the deployments file says so."""
    anvil = start_node(node_kind, tmp_path / node_kind, start_time=_wednesday_evening(int(time.time())))
    net = None
    try:
        with connect(anvil.url, node_kind):
            from ape import accounts

            test = accounts.test_accounts
            lm = deploy_local(test[0], test[5], tmp_path / "deployments", network=network)
            net = Devnet(anvil=anvil, lm=lm, workdir=tmp_path, accounts=test)
            lm.world.allowlist(*net.borrowers, net.liquidator, sender=net.deployer)
            seeding.lend(lm.world, lm.market, net.deployer, test[3], 5_000_000)
            for who, seed in zip(net.borrowers, seeding.SEEDS):
                _open(lm, net.deployer, who, seed)
            if chain_id is not None:
                _move_to_chain_id(net, chain_id)
            anvil.set_interval_mining(1)
            yield net
    finally:
        for bot in net.bots if net else []:
            bot.stop(timeout=15)
        anvil.stop()


def _move_to_chain_id(net: Devnet, chain_id: int) -> None:
    """Restarts ``net``'s anvil with its state on ``chain_id``, reconnects
    Ape to it and records the chain id in the deployments file."""
    from ape import chain

    net.anvil.stop()
    net.anvil.extra_args = ("--chain-id", str(chain_id))
    net.anvil.start(load_state=True)
    chain.provider.disconnect()
    chain.provider.cached_chain_id = None  # ape-foundry keeps the first one it read
    chain.provider.connect()
    path = net.lm.deployment_path
    path.write_text(json.dumps({**json.loads(path.read_text()), "chain_id": chain_id}, indent=2) + "\n")


@pytest.fixture
def devnet(tmp_path, node_kind):
    """The seeded local chain (:func:`running_devnet`) on ``node_kind``."""
    with running_devnet(tmp_path, node_kind) as net:
        yield net


# The rehearsal chain of docs/keeper-mainnet.md: anvil answering Sepolia's
# chain id, so that the keeper connects to it as ``ethereum:sepolia:<url>``
# (a network that is not local) while the deployment uses the local tools.
REHEARSAL_CHAIN_ID = 11155111


@pytest.fixture
def rehearsal(tmp_path):
    """The seeded chain as a "sepolia": deployments file ``sepolia.json``."""
    with running_devnet(tmp_path, network="sepolia", chain_id=REHEARSAL_CHAIN_ID) as net:
        yield net


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster on loopback for the session
    (keepers/store_server.py), stopped and deleted after it: the index's
    second store (unit tests) and the keeper's on DB_URL (e2e). Skipped,
    with the reason, when it cannot be installed or started; under CI
    (where `make setup` installs it) that is a failure instead."""
    from keepers.store_server import PostgresUnavailable, ensure_postgres

    try:
        server = ensure_postgres()
    except PostgresUnavailable as err:
        message = f"PostgreSQL unavailable (`make setup` installs it: keepers/install-postgres.sh): {err}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    yield server
    server.stop()
