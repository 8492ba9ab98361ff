"""Compiles the peers' Solidity with the npm ``solc`` package (solc-js).

The benchmark builds Morpho Blue from its npm sources at bench time, as the
issue asks, so no compiled peer code is ever committed. solc-js runs under
node in Standard JSON mode; every source is passed in the input (no import
callback), named by its path relative to a package root, so relative
imports resolve inside the input. The output is cached under
``.build/peers/`` (ignored by git), keyed by the hash of the exact input and
the compiler version: a via-IR build at 999,999 runs takes a minute or two
in WebAssembly, a cache hit none.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devkit.gasbench.npm import NODE_MODULES, PACKAGE_DIR, PEER_CACHE, npm_version

# The compiler settings the issue fixes for Morpho Blue.
EVM_VERSION = "paris"
OPTIMIZER_RUNS = 999_999
SOLC_PACKAGE = "solc"
# A few lines of node that run solc-js from file to file.
DRIVER = PACKAGE_DIR / "solc_standard_json.js"


class SolcError(RuntimeError):
    """solc-js is missing or the sources do not compile."""


@dataclass(frozen=True)
class SolcSettings:
    """The compiler settings of one build."""

    via_ir: bool = True
    optimizer_runs: int = OPTIMIZER_RUNS
    evm_version: str = EVM_VERSION

    def as_json(self) -> dict:
        return {
            "viaIR": self.via_ir,
            "optimizer": {"enabled": True, "runs": self.optimizer_runs},
            "evmVersion": self.evm_version,
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        }

    def describe(self) -> str:
        ir = "via-IR, " if self.via_ir else ""
        return f"{ir}optimizer {self.optimizer_runs:,} runs, evm {self.evm_version}"


@dataclass(frozen=True)
class CompiledContract:
    """One contract of a build: its ABI and creation bytecode (0x hex)."""

    name: str
    abi: list
    bytecode: str


@dataclass(frozen=True)
class SourceTree:
    """Solidity files under ``root``, named by their path relative to it."""

    root: Path
    files: tuple[str, ...]

    @classmethod
    def under(cls, root: Path, folder: str) -> SourceTree:
        base = root / folder
        if not base.is_dir():
            raise SolcError(f"no Solidity sources at {base} (run `npm ci`)")
        return cls(root, tuple(sorted(str(p.relative_to(root)) for p in base.rglob("*.sol"))))

    def read(self) -> dict[str, dict[str, str]]:
        return {name: {"content": (self.root / name).read_text()} for name in self.files}


def compile_sources(
    trees: list[SourceTree], wanted: dict[str, str], settings: SolcSettings = SolcSettings()
) -> dict[str, CompiledContract]:
    """Compiles every file of ``trees`` in one build and returns the contracts
    of ``wanted`` (contract name -> source unit name), from the cache when the
    same input was compiled before."""
    sources: dict[str, dict[str, str]] = {}
    for tree in trees:
        for name, body in tree.read().items():
            if name in sources:
                raise SolcError(f"two source trees both define {name}")
            sources[name] = body
    standard_input = {"language": "Solidity", "sources": sources, "settings": settings.as_json()}
    output = _cached_output(standard_input)
    contracts: dict[str, CompiledContract] = {}
    for contract, unit in wanted.items():
        try:
            entry = output["contracts"][unit][contract]
        except KeyError as exc:
            raise SolcError(f"the build has no contract {contract} in {unit}") from exc
        contracts[contract] = CompiledContract(
            contract, entry["abi"], "0x" + entry["evm"]["bytecode"]["object"]
        )
    return contracts


def solc_version() -> str:
    """The npm solc package's version (the compiler's version)."""
    return npm_version(SOLC_PACKAGE)


def _cached_output(standard_input: dict) -> dict:
    encoded = json.dumps(standard_input, sort_keys=True).encode()
    key = hashlib.sha256(encoded + solc_version().encode()).hexdigest()[:24]
    cached = PEER_CACHE / f"solc-{key}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    output = _run_solcjs(encoded)
    PEER_CACHE.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".tmp")
    partial.write_text(json.dumps(output))
    partial.replace(cached)
    return output


def _run_solcjs(encoded_input: bytes) -> dict:
    node = shutil.which("node")
    package = NODE_MODULES / SOLC_PACKAGE
    if node is None:
        raise SolcError("node is not on PATH: solc-js needs Node.js")
    if not (package / "soljson.js").exists():
        raise SolcError(f"{package} is missing: run `npm ci` to install the pinned solc")
    with tempfile.TemporaryDirectory() as work:
        source, target = Path(work) / "input.json", Path(work) / "output.json"
        source.write_bytes(encoded_input)
        done = subprocess.run(
            [node, str(DRIVER), str(package), str(source), str(target)],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0 or not target.exists():
            raise SolcError(f"solc-js failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
        output = json.loads(target.read_text())
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise SolcError(
            "solc-js: " + "\n".join(e.get("formattedMessage", e["message"]) for e in errors)
        )
    return output
