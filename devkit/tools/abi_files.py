"""Generates ``navlend/abi/*.json``: the ABIs the Python binds to
(``navlend/abi.py``), so that no selector, type or struct field is ever
typed by hand in the keeper or the CLI.

    python -m devkit.tools.abi_files           # rewrites the files that changed (make abi)
    python -m devkit.tools.abi_files --check   # writes nothing; exit 1 naming the stale files

The files are committed, and ``make compile`` never rewrites them: the
drift test (``tests/lib/test_abi.py``) compares them with what this
produces now, so a struct field renamed or reordered in Vyper without a
``make abi`` fails the suite instead of shipping a keeper that decodes
the wrong word.

Where each file comes from:

- every interface in ``contracts/interfaces/`` (``IMarket``,
  ``IMarketViews``, ``IMarketAdmin``, ``IRedemptionFacility``, ...),
  compiled here with vyper (``.build`` holds no interfaces); the views'
  struct outputs keep their component names;
- ``ERC20``: vyper's built-in ``ethereum.ercs.IERC20`` with
  ``IERC20Detailed`` (``decimals``), one file for a token's ERC-20 side;
  ``IERC4626``: vyper's built-in (a wrapper's ``asset()``);
- from the compiled project (``.build/__local__.json``, which ``make
  compile`` brings up to date first): the periphery deployables ``Lens``,
  ``FlashLiquidator`` and ``Leverage``; the local issuer models
  ``RedemptionFacility`` and ``WrappedFacility`` (the keeper probes views
  no interface declares: ``min_redeem``, ``remaining_limit``,
  ``facility``); and ``MarketEvents``, the events of ``Market``,
  ``MarketViews`` and ``MarketAdmin`` merged (the market's address emits
  all three's).

Each file is the compiler's entries as they are, keys sorted, two-space
indent, so a diff shows what changed in the contracts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import vyper.builtins.interfaces as vyper_ercs
from eth_utils.abi import abi_to_signature
from vyper.cli.vyper_compile import compile_files

from devkit.paths import ROOT
from navlend.abi import ABI_DIR

INTERFACES = ROOT / "contracts" / "interfaces"
BUILD = ROOT / ".build" / "__local__.json"
# vyper's built-in `ethereum.ercs` interfaces.
ERCS = Path(list(vyper_ercs.__path__)[0])

# Compiled contract types whose whole ABI is shipped under their own name.
DEPLOYED = ("Lens", "FlashLiquidator", "Leverage", "RedemptionFacility", "WrappedFacility")
# The contract types whose events the market's address emits.
MARKET_PARTS = ("Market", "MarketViews", "MarketAdmin")
MARKET_EVENTS = "MarketEvents"
# One ERC-20 file: the transfer side and the metadata (decimals).
ERC20 = ("ERC20", ("IERC20", "IERC20Detailed"))
ERC4626 = "IERC4626"

Entry = Mapping[str, Any]


def compiled_abis(sources: Sequence[Path]) -> list[list[Entry]]:
    """vyper's ABI of each source (an interface or a contract), in order,
    compiled with the repository and the venv on the search path."""
    out = compile_files([str(s) for s in sources], ("abi",), paths=[str(ROOT)])
    return [out[Path(str(s))]["abi"] for s in sources]


def build_abis(names: Sequence[str]) -> list[list[Entry]]:
    """The ABI of each compiled contract type in ``.build/__local__.json``."""
    if not BUILD.is_file():
        raise FileNotFoundError(f"{BUILD} is missing: run `make compile` first")
    types = json.loads(BUILD.read_text()).get("contractTypes", {})
    missing = [n for n in names if n not in types]
    if missing:
        names = ", ".join(missing)
        raise KeyError(f"{BUILD} has no contract type {names}: run `make compile` first")
    return [types[n]["abi"] for n in names]


def merged(label: str, abis: Sequence[Sequence[Entry]], kinds: tuple[str, ...]) -> list[Entry]:
    """The entries of ``kinds`` of several ABIs, each signature once, in
    order of appearance. ValueError when two declare one name with
    different arguments (the market's parts must agree on an event)."""
    seen: dict[tuple[str, str], str] = {}
    out: list[Entry] = []
    for abi in abis:
        for entry in abi:
            if entry.get("type") not in kinds:
                continue
            signature = abi_to_signature(dict(entry))
            key = (entry["type"], entry["name"])
            if key in seen and seen[key] != signature:
                raise ValueError(f"{label}: {entry['name']} is both {seen[key]} and {signature}")
            if key not in seen:
                seen[key] = signature
                out.append(entry)
    return out


def generate() -> dict[str, str]:
    """Every ABI file's name and text, as the sources give them now."""
    interfaces = sorted(INTERFACES.glob("*.vyi"))
    erc_name, erc_parts = ERC20
    ercs = [ERCS / f"{name}.vyi" for name in (*erc_parts, ERC4626)]
    compiled = compiled_abis([*interfaces, *ercs])
    abis: dict[str, list[Entry]] = {p.stem: abi for p, abi in zip(interfaces, compiled)}
    erc_abis = compiled[len(interfaces):]
    abis[erc_name] = merged(erc_name, erc_abis[: len(erc_parts)], ("function", "event"))
    abis[ERC4626] = erc_abis[-1]
    abis.update(zip(DEPLOYED, build_abis(DEPLOYED)))
    abis[MARKET_EVENTS] = merged(MARKET_EVENTS, build_abis(MARKET_PARTS), ("event",))
    return {f"{name}.json": render(abi) for name, abi in sorted(abis.items())}


def render(abi: Sequence[Entry]) -> str:
    """An ABI as its committed file's text."""
    return json.dumps(list(abi), indent=2, sort_keys=True) + "\n"


def stale_files(directory: Path, expected: Mapping[str, str]) -> list[str]:
    """The files of ``directory`` that differ from ``expected``: changed,
    missing, or no longer generated (a JSON file nothing produces)."""
    present = {p.name for p in directory.glob("*.json")} if directory.is_dir() else set()
    changed = [
        n for n, text in expected.items() if n not in present or (directory / n).read_text() != text
    ]
    return sorted(changed + [n for n in present if n not in expected])


def write_files(directory: Path, expected: Mapping[str, str]) -> list[str]:
    """Brings ``directory`` to ``expected``; returns the files written or removed."""
    stale = stale_files(directory, expected)
    directory.mkdir(parents=True, exist_ok=True)
    for name in stale:
        if name in expected:
            (directory / name).write_text(expected[name])
        else:
            (directory / name).unlink()
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devkit.tools.abi_files", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 naming the stale files"
    )
    parser.add_argument(
        "--dir", type=Path, default=ABI_DIR, help=f"the ABI folder (default {ABI_DIR})"
    )
    args = parser.parse_args(argv)
    try:
        expected = generate()
    except (FileNotFoundError, KeyError, ValueError) as err:
        print(f"abi_files: {err}", file=sys.stderr)
        return 2
    if args.check:
        stale = stale_files(args.dir, expected)
        for name in stale:
            print(f"stale: {args.dir / name} (run `make abi`)", file=sys.stderr)
        if not stale:
            print(f"{len(expected)} ABI files in {args.dir} match the contracts")
        return 1 if stale else 0
    written = write_files(args.dir, expected)
    for name in written:
        print(f"{'wrote' if name in expected else 'removed'} {args.dir / name}")
    print(f"{len(expected)} ABI files in {args.dir}, {len(written)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
