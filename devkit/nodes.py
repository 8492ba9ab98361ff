"""The local nodes the keeper's end-to-end tests run on: anvil
(:class:`devkit.devnet.Anvil`) and Hardhat's node (:class:`HardhatNode`),
so that no anvil-only behaviour hides in the keeper.

What differs between them lives here and nowhere else:

- the chain-control RPC: ``anvil_mine`` against ``hardhat_mine``, and
  ``evm_setIntervalMining`` in seconds on anvil but milliseconds on Hardhat;
- how Ape attaches to the node: ape-foundry's provider
  (``ethereum:local:foundry`` with ``host``) on anvil, Ape's generic node
  provider (``ethereum:local:node`` with ``uri``) on Hardhat;
- a restart with the state kept: anvil dumps and loads its state, Hardhat's
  node cannot (:class:`NodeError`).

Both nodes share chain id 31337 and the accounts of the test mnemonic
(``test test ... junk``): ``TEST::i`` is the same address on both.

Hardhat comes from the npm registry (pinned in package.json, installed by
``make setup``'s ``npm ci``); ``NAVLEND_HARDHAT_HOME`` names another folder
whose ``node_modules`` holds it (Hardhat runs only from a local install, so
the node is started with that folder as its working directory).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ape_node.provider import GethDev

from devkit.paths import ROOT
from devkit.processes import stop_process

ANVIL = "anvil"
HARDHAT = "hardhat"
NODE_KINDS = (ANVIL, HARDHAT)
CHAIN_ID = 31337
# Accounts and balance of every dev account (as devkit.devnet's anvil).
ACCOUNTS = 16
BALANCE_ETH = 1_000_000

HARDHAT_CONFIG = ROOT / "devkit" / "hardhat" / "hardhat.config.js"
HARDHAT_HOME_ENV = "NAVLEND_HARDHAT_HOME"


class NodeError(RuntimeError):
    """A node could not be started, or was asked for what it cannot do."""


@dataclass(frozen=True)
class ApeAttachment:
    """How Ape (the tests' process, and the bots' ``--network``) attaches
    to a running node: the network choice, the provider settings for
    ``networks.parse_network_choice`` and the bots' environment."""

    network: str
    provider_settings: dict[str, Any]
    bot_env: dict[str, str]


def ape_attachment(kind: str, url: str) -> ApeAttachment:
    """The Ape network choice, provider settings and bot environment that
    attach to the ``kind`` node at ``url``."""
    if kind == ANVIL:
        return ApeAttachment("ethereum:local:foundry", {"host": url}, {"APE_FOUNDRY_HOST": url})
    if kind == HARDHAT:
        local = {"uri": url, "chain_id": CHAIN_ID}
        # "basic": Ape builds no call tree from debug_traceTransaction, which
        # it asks for after every send (to print console logs) and which
        # Hardhat answers slowly, with full struct logs (10x the set-up time).
        settings = {"ethereum": {"local": local}, "call_trace_approach": "basic"}
        return ApeAttachment("ethereum:local:node", settings, {"APE_NODE_ETHEREUM": json.dumps({"local": local})})
    raise NodeError(f"unknown node kind {kind!r}; expected one of {NODE_KINDS}")


class HardhatNodeProvider(GethDev):
    """Ape's generic node provider, told how Hardhat reports automine.

    Ape's node provider asks ``eth_mining`` whether blocks come by
    themselves; Hardhat answers false even when it automines, so Ape would
    take every send for one waiting in a manual-mining mempool and return a
    receipt without a block or a contract address (a deploy "did not create
    a contract"). Hardhat's own ``hardhat_getAutomine`` says the truth."""

    @property
    def auto_mine(self) -> bool:
        return bool(self.make_request("hardhat_getAutomine", []))


def adapt_provider(provider: Any, kind: str) -> Any:
    """The connected Ape ``provider`` made right for the ``kind`` node (on
    Hardhat, :class:`HardhatNodeProvider`; on anvil, unchanged)."""
    if kind == HARDHAT:
        if not isinstance(provider, GethDev):
            raise NodeError(f"a Hardhat node needs Ape's node provider, not {type(provider).__name__}")
        provider.__class__ = HardhatNodeProvider
    return provider


class JsonRpcNode:
    """JSON-RPC to a local node on ``self.port`` (plain HTTP, no Ape), and
    the chain control both nodes answer the same way. ``kind`` is
    :data:`ANVIL` or :data:`HARDHAT`."""

    port: int
    kind: str
    proc: subprocess.Popen | None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rpc(self, method: str, *params: Any) -> Any:
        reply = self._post({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result")

    def rpc_batch(self, calls: list[tuple[str, list[Any]]], timeout: float = 600) -> list[Any]:
        """One JSON-RPC batch of ``(method, params)`` calls; their results in
        order. RuntimeError with the first error if any call failed."""
        body = [{"jsonrpc": "2.0", "id": k, "method": m, "params": p} for k, (m, p) in enumerate(calls)]
        replies = sorted(self._post(body, timeout), key=lambda r: r["id"])
        errors = [r["error"] for r in replies if "error" in r]
        if errors:
            raise RuntimeError(f"{len(errors)} of {len(calls)} calls failed, first: {errors[0]}")
        return [r.get("result") for r in replies]

    def _post(self, body: Any, timeout: float) -> Any:
        request = urllib.request.Request(self.url, json.dumps(body).encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def wait_answering(self, proc: subprocess.Popen | None, what: str, timeout: float) -> None:
        """Polls ``eth_blockNumber`` until the node answers; NodeError if
        ``proc`` exits first, TimeoutError after ``timeout`` seconds."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                self.rpc("eth_blockNumber")
                return
            except Exception:
                if proc is not None and proc.poll() is not None:
                    raise NodeError(f"{what} on {self.port} exited with {proc.returncode}") from None
                time.sleep(0.1)
        raise TimeoutError(f"{what} on {self.port} did not answer in {timeout} s")

    def terminate(self, timeout: float) -> None:
        """SIGTERM to the node's process if it runs (SIGKILL after
        ``timeout`` seconds); forgets it."""
        if self.proc is None:
            return
        stop_process(self.proc, signal.SIGTERM, timeout=timeout)
        self.proc = None

    def control(self, method: str, *params: Any) -> Any:
        """A chain-control call both nodes have, each under its own prefix
        (``anvil_<method>``, ``hardhat_<method>``): ``setNextBlockBaseFeePerGas``,
        ``dropTransaction``, ``setBalance``, ``impersonateAccount``..."""
        return self.rpc(f"{self.kind}_{method}", *params)

    def snapshot(self) -> str:
        return self.rpc("evm_snapshot")

    def revert(self, snapshot_id: str) -> None:
        if not self.rpc("evm_revert", snapshot_id):
            raise RuntimeError(f"evm_revert {snapshot_id} refused")

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def timestamp(self) -> int:
        return int(self.rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)


def hardhat_home() -> Path:
    """The folder whose ``node_modules`` holds Hardhat: ``$NAVLEND_HARDHAT_HOME``
    or the repository. NodeError naming the fix when Hardhat is not there."""
    home = Path(os.environ.get(HARDHAT_HOME_ENV) or ROOT)
    if not (home / "node_modules" / ".bin" / "hardhat").exists():
        raise NodeError(f"no Hardhat in {home}/node_modules: run `make setup` (npm ci) or set {HARDHAT_HOME_ENV}")
    return home


@dataclass
class HardhatNode(JsonRpcNode):
    """Hardhat's node (``hardhat node``, the EDR engine) on ``port``,
    automining until told otherwise, its genesis at ``start_time``."""

    port: int
    state_dir: Path
    start_time: int | None = None
    kind: str = field(default=HARDHAT, init=False)
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.state_dir / f"hardhat-{self.port}.log"

    def start(self) -> HardhatNode:
        home = hardhat_home()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",
            "NAVLEND_HARDHAT_ACCOUNTS": str(ACCOUNTS),
            "NAVLEND_HARDHAT_BALANCE_WEI": str(BALANCE_ETH * 10**18),
            "NAVLEND_HARDHAT_CACHE": str(self.state_dir / "hardhat-cache"),
        }
        if self.start_time is not None:
            env["NAVLEND_HARDHAT_START_TIME"] = str(self.start_time)
        args = [
            str(home / "node_modules" / ".bin" / "hardhat"), "--config", str(HARDHAT_CONFIG),
            "node", "--hostname", "127.0.0.1", "--port", str(self.port),
        ]
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(args, cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            self.wait_answering(self.proc, "hardhat node", timeout=120)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.terminate(timeout=30)

    def restart(self, down_seconds: float = 0.0) -> None:
        raise NodeError("Hardhat's node cannot keep its state over a restart (anvil's --dump-state has no equivalent)")

    def mine(self, blocks: int = 1) -> None:
        self.rpc("hardhat_mine", hex(blocks))

    def set_interval_mining(self, seconds: int) -> None:
        """0 turns automine back on. Hardhat's interval is in milliseconds."""
        if seconds:
            self.rpc("evm_setAutomine", False)
            self.rpc("evm_setIntervalMining", seconds * 1000)
        else:
            self.rpc("evm_setIntervalMining", 0)
            self.rpc("evm_setAutomine", True)
