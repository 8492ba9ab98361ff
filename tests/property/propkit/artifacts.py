"""Compiled contracts for the property harness: bytecode, ABI and storage layout,
cached on disk by a hash of each contract's own source tree.

Why not titanoboa's ``boa.load_partial``: it pickles the whole compiler state (ASTs,
IR) per contract and unpickling the market costs seconds; the property
suite only needs bytecode, ABI and the storage layout (the invariants read
packed storage words directly), which load in milliseconds. The mutation
runner compiles mutated copies of the tree through the same function, and
a re-run reuses the cached mutants.

The cache key of a contract is the vyper version, the snekmate version and
the text of the contract and of every project file it imports
(transitively), so editing ``market/modules/market_core.vy`` recompiles exactly
Market and MarketAdmin.

Environment:
- ``NAVLEND_CONTRACTS_DIR``: the contracts tree (default: the repository's
  ``contracts/``); the mutation runner points it at a temporary copy.
- ``NAVLEND_ARTIFACT_CACHE``: the cache folder (default
  ``~/.cache/navlend/property-artifacts``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CONTRACTS_DIR = REPO_ROOT / "contracts"

_IMPORT_RE = re.compile(r"^\s*(?:from\s+([.\w]+)\s+import\s+([\w, ]+?)(?:\s+as\s+\w+)?|import\s+([.\w]+)(?:\s+as\s+\w+)?)\s*$")


@dataclass(frozen=True)
class Artifact:
    """What the harness needs of one compiled contract."""

    name: str
    abi: list
    bytecode: bytes
    layout: dict

    def slot(self, *path: str) -> int:
        """The storage slot of a variable, e.g. ``slot("core", "_market")``
        or ``slot("erc20", "balanceOf")`` (module-qualified as vyper's
        layout output nests them)."""
        node = self.layout.get("storage_layout", self.layout)
        for key in path:
            node = node[key]
        return int(node["slot"])


def contracts_dir() -> Path:
    return Path(os.environ.get("NAVLEND_CONTRACTS_DIR", DEFAULT_CONTRACTS_DIR)).resolve()


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "navlend" / "property-artifacts"
    path = Path(os.environ.get("NAVLEND_ARTIFACT_CACHE", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _toolchain_key() -> str:
    import vyper

    try:
        from importlib.metadata import version

        snek = version("snekmate")
    except Exception:  # pragma: no cover - snekmate always installed here
        snek = "?"
    return f"vyper={vyper.__version__};snekmate={snek}"


def _imports(path: Path, root: Path) -> list[Path]:
    """Project files imported by ``path`` (interfaces and modules)."""
    found = []
    for line in path.read_text().splitlines():
        m = _IMPORT_RE.match(line)
        if not m:
            continue
        module = m.group(1) or m.group(3)
        names = [n.strip() for n in (m.group(2) or "").split(",") if n.strip()]
        dots = len(module) - len(module.lstrip("."))
        parts = [p for p in module.lstrip(".").split(".") if p]
        # `from .x` is the importer's folder, each further dot one folder up.
        bases = [path.parents[dots - 1]] if dots else [root]
        for base in bases:
            for name in names or [""]:
                stem = base.joinpath(*parts, name) if name else base.joinpath(*parts)
                for ext in (".vy", ".vyi"):
                    cand = Path(str(stem) + ext)
                    if cand.is_file():
                        found.append(cand)
            stem = base.joinpath(*parts)
            for ext in (".vy", ".vyi"):
                cand = Path(str(stem) + ext)
                if cand.is_file():
                    found.append(cand)
    return found


def source_key(relpath: str, root: Path | None = None) -> str:
    """Hash of a contract, everything it imports from the tree, and the
    toolchain."""
    root = root or contracts_dir()
    seen: dict[Path, None] = {}
    todo = [root / relpath]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen[p] = None
        todo.extend(_imports(p, root))
    h = hashlib.sha256(_toolchain_key().encode())
    for p in sorted(seen, key=lambda q: str(q.relative_to(root))):
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def _compile_one(root: str, relpath: str) -> dict:
    """Compiles one contract (runs in a worker process)."""
    from vyper.compiler import compile_from_file_input
    from vyper.compiler.input_bundle import FilesystemInputBundle

    paths = [Path(root)] + [Path(p) for p in sys.path if p and os.path.isdir(p)]
    bundle = FilesystemInputBundle(paths)
    file_input = bundle.load_file(Path(relpath))
    out = compile_from_file_input(
        file_input, input_bundle=bundle, output_formats=["abi", "bytecode", "layout"]
    )
    return {"abi": out["abi"], "bytecode": out["bytecode"], "layout": out["layout"]}


def _to_artifact(name: str, data: dict) -> Artifact:
    code = data["bytecode"]
    return Artifact(
        name=name,
        abi=data["abi"],
        bytecode=bytes.fromhex(code[2:] if code.startswith("0x") else code),
        layout=data["layout"],
    )


def load(relpaths: list[str], root: Path | None = None, jobs: int | None = None) -> dict[str, Artifact]:
    """Artifacts of ``relpaths`` (relative to the contracts tree), compiling
    (in parallel) only those not cached. Keys are the relpaths."""
    root = (root or contracts_dir()).resolve()
    cache = cache_dir()
    result: dict[str, Artifact] = {}
    missing: list[tuple[str, Path]] = []
    for rel in relpaths:
        key = source_key(rel, root)
        file = cache / f"{Path(rel).stem}-{key[:24]}.json"
        if file.is_file():
            try:
                result[rel] = _to_artifact(Path(rel).stem, json.loads(file.read_text()))
                continue
            except (ValueError, KeyError):
                pass
        missing.append((rel, file))
    if missing:
        jobs = jobs or min(len(missing), max(1, (os.cpu_count() or 1)))
        if jobs == 1 or len(missing) == 1:
            outs = [_compile_one(str(root), rel) for rel, _ in missing]
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                outs = list(pool.map(_compile_one, [str(root)] * len(missing), [r for r, _ in missing]))
        for (rel, file), data in zip(missing, outs):
            tmp = file.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(data))
            tmp.replace(file)
            result[rel] = _to_artifact(Path(rel).stem, data)
    return result
