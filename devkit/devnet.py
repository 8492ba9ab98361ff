"""A local chain for the keeper's end-to-end tests, its benchmark and demos:
an anvil process the caller owns (start, kill, restart on the same port with
its state) or Hardhat's node (:mod:`devkit.nodes`, :func:`start_node`), and the world + market + periphery + the keeper's own
FlashLiquidator deployed on it, recorded in a deployments file the bots read.

Why an own process and not ape-foundry's: the tests kill and restart the node
under a running bot, which ape-foundry's managed process does not allow.
The bots that run against it are started by :mod:`devkit.processes`.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ape import chain, networks, project
from prometheus_client.parser import text_string_to_metric_families

from devkit.nodes import ANVIL, HARDHAT, NODE_KINDS, HardhatNode, JsonRpcNode, NodeError, adapt_provider, ape_attachment
from devkit.processes import anvil_binary, free_port, spawn
from devkit.world import deploy_world
from navlend import deployments
from navlend.deployments import ContractRecord
from navlend.market import deploy_local_market, deploy_periphery, market_records

# Test mnemonic of ape-config.yaml (anvil's default): TEST::i is anvil's account i.
ANVIL_ACCOUNTS = 16


@dataclass
class Anvil(JsonRpcNode):
    """An anvil process on ``port`` whose state survives a restart
    (``--dump-state`` on exit, ``--load-state`` on start). Its JSON-RPC and
    the chain control both nodes share come from :class:`devkit.nodes.JsonRpcNode`."""

    port: int
    state_dir: Path
    start_time: int | None = None
    extra_args: tuple[str, ...] = ()
    # Dump the state on exit (for restart); a 10,000-position chain dumps gigabytes.
    persist: bool = True
    kind: str = field(default=ANVIL, init=False)
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def state_file(self) -> Path:
        return self.state_dir / "anvil-state.json"

    def start(self, *, load_state: bool = False) -> Anvil:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        args = [
            anvil_binary(),
            "--port", str(self.port),
            "--host", "127.0.0.1",
            "--accounts", str(ANVIL_ACCOUNTS),
            "--balance", "1000000",
            *(["--dump-state", str(self.state_file)] if self.persist else []),
            *self.extra_args,
        ]
        if load_state and self.state_file.exists():
            args += ["--load-state", str(self.state_file)]
        elif self.start_time is not None:
            args += ["--timestamp", str(self.start_time)]
        self.proc = spawn(args, self.state_dir / f"anvil-{self.port}.log", append=True)
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 300.0) -> None:
        self.wait_answering(self.proc, "anvil", timeout)

    def stop(self) -> None:
        """Stops the node; SIGTERM lets anvil dump its state."""
        self.terminate(timeout=180)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stops the node, waits ``down_seconds``, starts it again on the
        same port with the state it had."""
        self.stop()
        time.sleep(down_seconds)
        self.start(load_state=True)

    # ---- chain control

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def set_interval_mining(self, seconds: int) -> None:
        """0 turns automine back on."""
        if seconds:
            self.rpc("evm_setAutomine", False)
            self.rpc("evm_setIntervalMining", seconds)
        else:
            self.rpc("evm_setIntervalMining", 0)
            self.rpc("evm_setAutomine", True)


def start_node(kind: str, state_dir: Path, *, start_time: int | None = None, persist: bool = True) -> JsonRpcNode:
    """A started ``kind`` node (:data:`devkit.nodes.NODE_KINDS`) on a free
    port, its genesis at ``start_time``; ``persist`` keeps anvil's state
    over a restart (Hardhat cannot)."""
    if kind == ANVIL:
        return Anvil(port=free_port(), state_dir=state_dir, start_time=start_time, persist=persist).start()
    if kind == HARDHAT:
        return HardhatNode(port=free_port(), state_dir=state_dir, start_time=start_time).start()
    raise NodeError(f"unknown node kind {kind!r}; expected one of {NODE_KINDS}")


@dataclass
class LocalMarket:
    """A deployed world + market with the keeper's FlashLiquidator."""

    world: Any
    market: Any
    lens: Any
    leverage: Any
    flash_liquidator: Any
    deployment_path: Path


def deploy_local(deployer: Any, keeper: Any, directory: Path, *, network: str = "local") -> LocalMarket:
    """Deploys the world, the market and its periphery with ``deployer``,
    a FlashLiquidator owned by ``keeper``, and writes
    ``<directory>/<network>.json`` with every address (flash_liquidator
    included). Needs an Ape provider connected to the chain."""
    world = deploy_world(deployer)
    market = deploy_local_market(world, deployer, guardian=deployer, treasury=deployer)
    periphery = deploy_periphery(world, market, deployer)
    flash = keeper.deploy(project.FlashLiquidator, market)
    deployment = keeper_deployment(world, market, periphery, flash, keeper, chain.provider.chain_id, network)
    path = deployments.save(deployment, directory)
    return LocalMarket(world, market, periphery["lens"], periphery["leverage"], flash, path)


def keeper_deployment(
    world: Any, market: Any, periphery: dict[str, Any], flash: Any, owner: Any, chain_id: int, network: str = "local"
) -> Any:
    """The deployments record of a world, its market and periphery, and a
    keeper's FlashLiquidator (``flash_liquidator``, owned by ``owner``)."""
    deployment = world.to_deployment(network, chain_id)
    for record in market_records(world, market, periphery):
        deployment.add(record)
    deployment.add(
        ContractRecord(
            name="flash_liquidator",
            contract_type="FlashLiquidator",
            address=str(flash.address),
            params={"market": str(market.address), "owner": str(owner.address)},
        )
    )
    return deployment


@contextmanager
def connect(url: str, kind: str = ANVIL) -> Iterator[Any]:
    """An Ape provider context on the ``kind`` node (anvil unless told) at
    ``url`` (enter it with ``with``; it yields the provider)."""
    attach = ape_attachment(kind, url)
    with networks.parse_network_choice(attach.network, provider_settings=attach.provider_settings) as provider:
        yield adapt_provider(provider, kind)


def metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def metric_value(port: int, name: str, **labels: str) -> float:
    """The keeper's metric ``name`` at its endpoint, summed over the
    samples whose labels include ``labels`` (every sample also carries the
    constant ``market`` and ``chain`` labels); 0 when absent."""
    return sum(sample.value for family in text_string_to_metric_families(metrics_text(port))
               for sample in family.samples
               if sample.name == name and labels.items() <= sample.labels.items())


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.5) -> None:
    """Polls ``predicate`` until true; AssertionError naming ``what`` after
    ``timeout`` seconds. Exceptions while polling count as false."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return
        except Exception:
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
