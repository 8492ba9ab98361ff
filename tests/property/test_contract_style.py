"""contracts/STYLE.md, the rules a machine can check, over every contract.

Pure text checks (no chain, no compiler): the folder of each source by
role, relative project imports, pragmas, the one banner form, a NatSpec
docstring on every function, a reason beside every unchecked operation,
and the market's revert prefix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from propkit import world

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
SOURCES = sorted(p for p in CONTRACTS.rglob("*") if p.suffix in (".vy", ".vyi"))
DEPLOYABLES = [p for p in SOURCES if p.suffix == ".vy" and p.parent.name != "modules"]
# Test doubles that re-enter the market on purpose (STYLE.md, Files).
REENTRANT_DOUBLES = {"mocks/FlashBorrowerMock.vy", "mocks/HookedERC20.vy"}
MARKET_FILES = world.MARKET_FILES
# contracts/ laid out by role (STYLE.md, Files): the folders a source may sit in.
ROLE_FOLDERS = ("market", "market/modules", "periphery", "adapters", "issuer", "mocks", "interfaces")
BANNER = re.compile(r"^# ---- [A-Z0-9][A-Z0-9 :/()&,.'-]* ----$")
UNSAFE = re.compile(r"unsafe_(?:add|sub|mul|div)\(")


def _rel(path: Path) -> str:
    return path.relative_to(CONTRACTS).as_posix()


def _functions(source: str) -> list[tuple[str, str]]:
    """(name, first line after the signature) of every ``def``."""
    lines = source.splitlines()
    out = []
    for i, line in enumerate(lines):
        match = re.match(r"def (\w+)\(", line)
        if not match:
            continue
        j = i
        while not lines[j].rstrip().endswith(":"):
            j += 1
        out.append((match.group(1), lines[j + 1].strip() if j + 1 < len(lines) else ""))
    return out


def test_sources__found():
    assert len(SOURCES) > 20 and CONTRACTS.joinpath("STYLE.md").is_file()


def test_contracts_layout__by_role():
    """Every source sits in the folder of its role, none at the root of
    contracts/; the simulated issuer's folder has its README, and the Files
    section of STYLE.md names each folder."""
    misplaced = [_rel(p) for p in SOURCES if p.parent.relative_to(CONTRACTS).as_posix() not in ROLE_FOLDERS]
    assert not misplaced, misplaced
    at_root = sorted(p.name for p in CONTRACTS.glob("*.vy*"))
    assert not at_root, at_root
    empty = [f for f in ROLE_FOLDERS if not any(p.parent == CONTRACTS / f for p in SOURCES)]
    assert not empty, empty
    assert CONTRACTS.joinpath("issuer", "README.md").is_file()
    files = CONTRACTS.joinpath("STYLE.md").read_text().split("\n## Files\n", 1)[1].split("\n## ", 1)[0]
    unnamed = [f for f in ROLE_FOLDERS if f"`{f}/`" not in files]
    assert not unnamed, unnamed


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_imports__project_files__relative(path):
    """A project file is imported relatively (``from ..interfaces``), never
    through a contracts/ search path (``from interfaces``)."""
    tops = {f.split("/")[0] for f in ROLE_FOLDERS} | {"modules"}
    absolute = [m for m in re.findall(r"^(?:from|import) ([\w.]+)", path.read_text(), flags=re.M) if m.split(".")[0] in tops]
    assert not absolute, absolute


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_pragma_version__every_file__pinned(path):
    assert path.read_text().splitlines()[0] == "# pragma version 0.4.3"


@pytest.mark.parametrize("path", DEPLOYABLES, ids=_rel)
def test_pragmas__every_deployable__evm_version_and_lock(path):
    source = path.read_text()
    assert "# pragma evm-version cancun" in source
    if _rel(path) not in REENTRANT_DOUBLES:
        assert "# pragma nonreentrancy on" in source


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_banners__one_form(path):
    bad = [line for line in path.read_text().splitlines() if line.startswith(("# ---", "###")) and not BANNER.match(line)]
    assert not bad, bad


def test_banners__a_boxed_banner__refused():
    assert not BANNER.match("# ---------------------------------------------------------------- #")
    assert not BANNER.match("# ---- lower case ----")
    assert BANNER.match("# ---- FLASH LOANS (ERC-3156) ----")


@pytest.mark.parametrize("path", [p for p in SOURCES if p.suffix == ".vy"], ids=_rel)
def test_natspec__every_function__has_a_docstring(path):
    missing = [name for name, first in _functions(path.read_text()) if not first.startswith('"""')]
    assert not missing, missing


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_unsafe__every_use__says_why(path):
    lines = path.read_text().splitlines()
    bare = [
        i + 1
        for i, line in enumerate(lines)
        if UNSAFE.search(line) and "#" not in line and not any(lines[k].lstrip().startswith("#") for k in (i - 1, i - 2))
    ]
    assert not bare, f"{_rel(path)}: unsafe_* without a reason on lines {bare}"


@pytest.mark.parametrize("rel", MARKET_FILES)
def test_revert_reasons__market__prefixed(rel):
    source = (CONTRACTS / rel).read_text()
    reasons = re.findall(r'(?:assert [^\n]*?, |raise )"([^"]*)"', source)
    assert all(r.startswith("market: ") for r in reasons), [r for r in reasons if not r.startswith("market: ")]


def test_market_interfaces__declared_once_and_implemented():
    """The market's three interfaces live in interfaces/*.vyi; the market,
    its views and its admin side implement them (the compiler checks every
    signature) and no contract declares an inline copy."""
    assert "implements: IMarket\n" in (CONTRACTS / "market/Market.vy").read_text()
    assert "implements: IMarketViews\n" in (CONTRACTS / "market/MarketViews.vy").read_text()
    assert "implements: IMarketAdmin\n" in (CONTRACTS / "market/MarketAdmin.vy").read_text()
    inline = [_rel(p) for p in SOURCES if re.search(r"^interface IMarket", p.read_text(), flags=re.M)]
    assert not inline, inline
    for name in ("Position", "AssetConfig", "RateConfig"):
        declared = [_rel(p) for p in SOURCES if re.search(rf"^struct {name}:", p.read_text(), flags=re.M)]
        assert declared == ["interfaces/IMarketViews.vyi"], (name, declared)
