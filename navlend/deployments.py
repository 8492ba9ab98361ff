"""The deployments file: which contract lives where, per network.

Every tool (deploy script, keepers, reporter bot, demo) reads
``deployments/<network-name>.json``, e.g. ``deployments/local.json``. The
file is plain JSON so that non-Python tools can read it too::

    {
      "network": "local",
      "chain_id": 31337,
      "deployer": "0x...",
      "created_at": 1700000000,
      "contracts": {
        "fund_a": {"name": "fund_a", "contract_type": "FundToken",
                   "address": "0x...", "params": {"decimals": 6, ...}},
        ...
      }
    }

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


@dataclass
class Deployment:
    """Every contract deployed on one network."""

    network: str
    chain_id: int
    deployer: str
    created_at: int = field(default_factory=lambda: int(time.time()))
    contracts: dict[str, ContractRecord] = field(default_factory=dict)

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
        return cls(
            network=data["network"],
            chain_id=int(data["chain_id"]),
            deployer=data["deployer"],
            created_at=int(data.get("created_at", 0)),
            contracts=contracts,
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
