"""The deployments file: which contract lives where, per network.

Every tool (deploy script, keepers, reporter bot, demo) reads
``deployments/<network-name>.json``, e.g. ``deployments/local.json``. The
file is plain JSON so that non-Python tools can read it too::

    {
      "network": "local",
      "chain_id": 31337,
      "deployer": "0x...",
      "created_at": 1700000000,
      "block": 0,
      "contracts": {
        "fund_a": {"name": "fund_a", "contract_type": "FundToken",
                   "address": "0x...", "params": {"decimals": 6, ...}},
        ...
      },
      "steps": {}
    }

``block`` is the block of the deployment's first transaction (0 when not
known): the keeper's backfill of the market's events starts there.
``steps`` is the production deployment's log (``navlend.deploy``): each
step of its plan, recorded as it is sent and again when it is mined, so
that an interrupted deployment resumes from it; ``plan`` identifies the
plan the steps belong to. The local world's deployment has neither.

The directory defaults to ``<repo>/deployments`` (the repository this
package sits in) and can be moved with ``NAVLEND_DEPLOYMENTS_DIR``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Environment variable that overrides the deployments directory.
DEPLOYMENTS_DIR_ENV = "NAVLEND_DEPLOYMENTS_DIR"


@dataclass(frozen=True)
class ContractRecord:
    """One deployed contract.

    ``name`` is the role in the world ("fund_a", "facility_b", "market"),
    ``contract_type`` the compiled contract's name in the project
    ("FundToken"), ``params`` the key constructor / configuration values,
    JSON-serialisable.
    """

    name: str
    contract_type: str
    address: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepRecord:
    """One step of a production deployment's plan.

    ``nonce`` is the deployer's nonce the step was sent with. A step is
    ``sent`` when recorded before sending and ``mined`` once its receipt
    is in: then ``tx_hash`` and ``block`` are set, and ``address`` for a
    contract it created. A step found already done on chain when resuming
    (a send whose record was lost) is ``mined`` with ``tx_hash`` empty.
    """

    key: str
    status: str
    nonce: int
    address: str = ""
    tx_hash: str = ""
    block: int = 0

    @property
    def mined(self) -> bool:
        return self.status == "mined"


@dataclass
class Deployment:
    """Every contract deployed on one network."""

    network: str
    chain_id: int
    deployer: str
    created_at: int = field(default_factory=lambda: int(time.time()))
    contracts: dict[str, ContractRecord] = field(default_factory=dict)
    block: int = 0
    plan: str = ""
    steps: dict[str, StepRecord] = field(default_factory=dict)

    def record_step(self, step: StepRecord) -> None:
        """Adds or replaces the step ``step.key``; the deployment block is
        the earliest block of a mined step."""
        self.steps[step.key] = step
        if step.mined and step.block and (self.block == 0 or step.block < self.block):
            self.block = step.block

    def add(self, record: ContractRecord) -> None:
        """Adds or replaces the record named ``record.name``."""
        self.contracts[record.name] = record

    def address(self, name: str) -> str:
        """The address of the contract named ``name`` (KeyError if absent)."""
        return self.contracts[name].address

    def get(self, name: str) -> ContractRecord | None:
        """The record named ``name``, or None."""
        return self.contracts.get(name)

    def to_json(self) -> dict[str, Any]:
        """The JSON document written to disk."""
        data = asdict(self)
        data["contracts"] = {name: asdict(rec) for name, rec in self.contracts.items()}
        data["steps"] = {key: asdict(step) for key, step in self.steps.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        """Parses a document written by :meth:`to_json`."""
        contracts = {
            name: ContractRecord(
                name=rec.get("name", name),
                contract_type=rec["contract_type"],
                address=rec["address"],
                params=dict(rec.get("params", {})),
            )
            for name, rec in data.get("contracts", {}).items()
        }
        steps = {
            key: StepRecord(
                key=step.get("key", key),
                status=step["status"],
                nonce=int(step["nonce"]),
                address=step.get("address", ""),
                tx_hash=step.get("tx_hash", ""),
                block=int(step.get("block", 0)),
            )
            for key, step in data.get("steps", {}).items()
        }
        return cls(
            network=data["network"],
            chain_id=int(data["chain_id"]),
            deployer=data["deployer"],
            created_at=int(data.get("created_at", 0)),
            contracts=contracts,
            block=int(data.get("block", 0)),
            plan=data.get("plan", ""),
            steps=steps,
        )


def deployments_dir() -> Path:
    """The directory holding the deployments files."""
    override = os.environ.get(DEPLOYMENTS_DIR_ENV)
    if override:
        return Path(override)
    repo = Path(__file__).resolve().parents[1]
    if (repo / "ape-config.yaml").exists():
        return repo / "deployments"
    return Path.cwd() / "deployments"


def deployments_path(network: str, directory: Path | None = None) -> Path:
    """``<directory>/<network>.json``; ``network`` is the Ape network name."""
    return (directory or deployments_dir()) / f"{network}.json"


def save(deployment: Deployment, directory: Path | None = None) -> Path:
    """Writes ``deployment`` to its network's file and returns the path."""
    path = deployments_path(deployment.network, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(deployment.to_json(), indent=2, sort_keys=False) + "\n")
    return path


def load(network: str, directory: Path | None = None) -> Deployment:
    """Reads the deployment of ``network`` (FileNotFoundError if none)."""
    path = deployments_path(network, directory)
    return Deployment.from_json(json.loads(path.read_text()))
