"""The subprocesses the kit runs, each writing to its own log file: the
Silverback bots (the keeper, its scale-out workers and submitter, the NAV
reporter) and the anvil node.

Why one home: the keeper's tests, the keeper's benchmark and the demo all
start bots the same way and stop them the same way: SIGINT first, which is
Silverback's graceful shutdown (Ctrl-C), then SIGKILL if a bot hangs; anvil
gets SIGTERM, which lets it dump its state. A bot's readiness is a line its
start-up checks log (``keeper started``, ``nav reporter ready``); a bot that
exits or stays silent is reported with the tail of its log.

A bot inherits this process's environment except the bots' own settings
(``NAVLEND_KEEPER_*``, ``NAVLEND_REPORTER_*``): what a bot is configured
with is what its caller passes, never what a developer's shell holds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from devkit.paths import ROOT, VENV_BIN

log = structlog.get_logger("devkit.processes")

NETWORK = "ethereum:local:foundry"
# The runner the keeper's bots use in the tests and the benchmark
# (keepers/runner.py says why).
RUNNER = "keepers.runner:ResilientPollingRunner"
# What the keeper logs once its start-up checks pass.
KEEPER_READY = "keeper started"
# Inherited variables a bot never sees: its settings come from its caller.
BOT_SETTINGS_PREFIXES = ("NAVLEND_KEEPER_", "NAVLEND_REPORTER_")
# Seconds a bot may take to log its ready line.
START_TIMEOUT = 120.0


class BotError(RuntimeError):
    """A bot did not start, or died."""


def free_port() -> int:
    """A TCP port nothing listens on now (an anvil, a metrics endpoint)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def anvil_binary() -> str:
    """The venv's anvil (``make setup`` links it there), else PATH's."""
    repo_bin = VENV_BIN / "anvil"
    return str(repo_bin) if repo_bin.exists() else (shutil.which("anvil") or "anvil")


def silverback_bin() -> str:
    """The ``silverback`` beside this interpreter (the same venv), else PATH's."""
    beside = Path(sys.executable).with_name("silverback")
    return str(beside) if beside.exists() else (shutil.which("silverback") or "silverback")


def spawn(
    args: list[str], log_path: Path, *, env: Mapping[str, str] | None = None, append: bool = False
) -> subprocess.Popen:
    """Starts ``args`` in the repository with stdout and stderr to
    ``log_path`` (appended to, or truncated); the parent's handle on the
    log is closed once the child holds it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab" if append else "wb") as out:
        return subprocess.Popen(
            args, env=None if env is None else dict(env), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )


def stop_process(proc: subprocess.Popen, sig: int, timeout: float) -> int:
    """Sends ``sig`` to a running ``proc``, waits up to ``timeout`` seconds,
    then kills it; returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def bot_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without the bots' settings, then
    ``settings``, with unbuffered output so the log is current."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(BOT_SETTINGS_PREFIXES)}
    env.update(settings)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class BotProcess:
    """A ``silverback run`` (or ``worker``) subprocess with its log file.

    ``env`` holds the bot's own variables (see :func:`bot_environment`);
    ``ready_marker`` is the log line :meth:`wait_ready` waits for. Each
    start truncates the log, so it only ever holds this run."""

    args: list[str]
    env: Mapping[str, str]
    log_path: Path
    name: str = "bot"
    ready_marker: str | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> BotProcess:
        self.proc = spawn(self.args, self.log_path, env=bot_environment(self.env))
        log.info("bot starting", bot=self.name, pid=self.proc.pid, log=str(self.log_path))
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Waits for the ready line; raises :class:`BotError` with the log's
        tail if the bot exits or stays silent."""
        if self.ready_marker is None:
            raise BotError(f"{self.name} has no ready marker to wait for")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready_marker in self.text():
                log.info("bot ready", bot=self.name)
                return
            if not self.alive:
                code = self.proc.returncode if self.proc is not None else None
                raise BotError(f"{self.name} exited ({code}):\n{self.tail()}")
            time.sleep(0.25)
        raise BotError(f"{self.name} not ready after {timeout:.0f} s:\n{self.tail()}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGINT (Silverback's graceful shutdown), then SIGKILL after
        ``timeout`` seconds; returns the exit status (None if never started)."""
        if self.proc is None:
            return None
        code = stop_process(self.proc, signal.SIGINT, timeout)
        self.proc = None
        log.info("bot stopped", bot=self.name, returncode=code)
        return code

    def text(self) -> str:
        """The whole log so far ("" before the bot has written any)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def count(self, marker: str) -> int:
        """How many log lines contain ``marker``."""
        return sum(1 for line in self.text().splitlines() if marker in line)

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """The structlog JSON lines of the log (``event == name`` if given)."""
        found = []
        for line in self.text().splitlines():
            if not line.startswith("{"):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if name is None or entry.get("event") == name:
                found.append(entry)
        return found


def silverback_command(target: str, *extra: str, network: str = NETWORK) -> list[str]:
    """``silverback run <target> --network <network> [extra]`` (anvil's
    ``ethereum:local:foundry`` unless told; devkit.nodes has Hardhat's)."""
    return [silverback_bin(), "run", target, "--network", network, *extra]


def keeper_env(node_url: str, deployments_file: Path, db_path: Path, **overrides: str) -> dict[str, str]:
    """A keeper bot's settings on the node at ``node_url`` (ape-foundry
    attaches to it through ``APE_FOUNDRY_HOST``)."""
    return {
        "APE_FOUNDRY_HOST": node_url,
        "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(deployments_file),
        "NAVLEND_KEEPER_DB_PATH": str(db_path),
        **overrides,
    }


def keeper_process(
    env: Mapping[str, str],
    log_path: Path,
    module: str = "keepers.bots.liquidator:bot",
    ready_marker: str | None = KEEPER_READY,
    network: str = NETWORK,
) -> BotProcess:
    """The keeper (or another bot ``module`` of it, such as the submitter)
    on the resilient runner, at most 10 concurrent tasks, on ``network``."""
    args = silverback_command(module, "-x", "10", "--runner", RUNNER, network=network)
    name = module.split(":")[0].rsplit(".", 1)[-1]
    return BotProcess(args, env, log_path, name=name, ready_marker=ready_marker)
