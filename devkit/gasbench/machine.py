"""Where a benchmark ran: the machine, the node and the package versions."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from devkit.gasbench.npm import MissingPackageError, npm_version
from devkit.paths import ROOT

PYTHON_PACKAGES = ("eth-ape", "ape-vyper", "ape-foundry", "vyper", "snekmate")
NPM_PACKAGES = ("@foundry-rs/anvil-linux-amd64", "@morpho-org/morpho-blue", "@aave/core-v3", "solc")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class MachineInfo:
    """The machine a run came from."""

    cpu_model: str
    cores: int
    kernel: str
    python: str
    node_client: str

    @classmethod
    def collect(cls, node_client: str) -> MachineInfo:
        """This machine; ``node_client`` is the chain's ``web3_clientVersion``
        (e.g. ``anvil/v1.7.1``)."""
        return cls(
            _cpu_model(),
            os.cpu_count() or 0,
            platform.release(),
            platform.python_version(),
            node_client,
        )

    def describe(self) -> str:
        return f"{self.cpu_model}, {self.cores} cores, Linux {self.kernel}, Python {self.python}, {self.node_client}"

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Versions:
    """The code that was measured and the tools that built and ran it."""

    navlend_commit: str
    python_packages: dict[str, str]
    npm_packages: dict[str, str]

    @classmethod
    def collect(cls) -> Versions:
        return cls(
            _git_commit(),
            {name: _python_version(name) for name in PYTHON_PACKAGES},
            {name: _npm_version(name) for name in NPM_PACKAGES},
        )

    def as_json(self) -> dict:
        return asdict(self)


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or UNKNOWN


def _git_commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else UNKNOWN


def _python_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return UNKNOWN


def _npm_version(name: str) -> str:
    try:
        return npm_version(name)
    except MissingPackageError:
        return UNKNOWN
