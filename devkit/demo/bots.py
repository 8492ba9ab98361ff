"""Running the keepers (``keepers/``) as live Silverback subprocesses
against the demo's anvil, each with its own log file.

- the liquidation keeper, ``silverback run keepers.bots.liquidator:bot``, signing with
  ``NAVLEND_KEEPER_SIGNER_ALIAS``;
- the NAV reporter (a simulated fund administrator),
  ``silverback run keepers.bots.nav_reporter:bot --account <updater>``.

Both find the contracts in the deployments file the demo writes, and reach
the node through ``APE_FOUNDRY_HOST`` (ape-foundry then attaches to it
instead of starting its own). Readiness is the line each bot logs once its
start-up checks have passed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from devkit.paths import ROOT

log = structlog.get_logger("devkit.demo.bots")

NETWORK = "ethereum:local:foundry"
START_TIMEOUT = 120.0


class BotError(RuntimeError):
    """A bot did not start, or died."""


@dataclass(frozen=True)
class BotSpec:
    """How to start one bot."""

    name: str
    target: str
    # Logged once the bot's start-up checks pass.
    ready_marker: str
    account: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def command(self) -> list[str]:
        silverback = Path(sys.executable).with_name("silverback")
        cmd = [str(silverback), "run", self.target, "--network", NETWORK]
        if self.account:
            cmd += ["--account", self.account]
        return cmd


def free_port() -> int:
    """A TCP port nothing listens on now (for the keeper's metrics)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keeper_spec(node_uri: str, deployments_file: Path, workdir: Path, signer: str) -> BotSpec:
    """The liquidation keeper, configured through ``NAVLEND_KEEPER_*``."""
    return BotSpec(
        name="keeper",
        target="keepers.bots.liquidator:bot",
        ready_marker="keeper started",
        env={
            "APE_FOUNDRY_HOST": node_uri,
            "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(deployments_file),
            "NAVLEND_KEEPER_SIGNER_ALIAS": signer,
            "NAVLEND_KEEPER_DB_PATH": str(workdir / "keeper-index.sqlite"),
            "NAVLEND_KEEPER_METRICS_PORT": str(free_port()),
        },
    )


def reporter_spec(node_uri: str, deployments_file: Path, updater: str, apy_bps: int) -> BotSpec:
    """The NAV reporter: funds A and C accrue ``apy_bps``; fund B is a $1 fund."""
    return BotSpec(
        name="nav-reporter",
        target="keepers.bots.nav_reporter:bot",
        ready_marker="nav reporter ready",
        account=updater,
        env={
            "APE_FOUNDRY_HOST": node_uri,
            "NAVLEND_REPORTER_DEPLOYMENTS_FILE": str(deployments_file),
            "NAVLEND_REPORTER_APY_BPS": f"oracle_a={apy_bps},oracle_b=0,oracle_c={apy_bps}",
        },
    )


@dataclass
class BotProcess:
    """One running bot."""

    spec: BotSpec
    log_path: Path
    proc: subprocess.Popen | None = None

    def start(self) -> BotProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NAVLEND_KEEPER_", "NAVLEND_REPORTER_"))}
        env.update(self.spec.env)
        env["PYTHONUNBUFFERED"] = "1"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.spec.command(), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=_repo_root()
        )
        out.close()
        log.info("bot starting", bot=self.spec.name, pid=self.proc.pid, log=str(self.log_path))
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Waits for the ready line; raises :class:`BotError` with the log's
        tail if the bot exits or stays silent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.spec.ready_marker in self._text():
                log.info("bot ready", bot=self.spec.name)
                return
            if not self.alive():
                raise BotError(f"{self.spec.name} exited ({self.proc.returncode}):\n{self.tail()}")
            time.sleep(0.25)
        raise BotError(f"{self.spec.name} not ready after {timeout:.0f} s:\n{self.tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """Stops the bot (SIGINT, as Ctrl-C would; SIGKILL if it hangs)."""
        if self.proc is None:
            return
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        log.info("bot stopped", bot=self.spec.name, returncode=self.proc.returncode)

    def _text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self._text().splitlines()[-lines:])

    def count(self, marker: str) -> int:
        """How many log lines contain ``marker``."""
        return sum(1 for line in self._text().splitlines() if marker in line)


def _repo_root() -> Path:
    return ROOT
