"""Static review of the market, scripted (slither cannot read Vyper 0.4:
see AUDIT.md, "Static analysis"). Uses vyper's own outputs (storage layout,
ABI) from the artifact cache and greps of the sources; each check is one
of the review's questions, so a change that breaks it is flagged.
"""

from __future__ import annotations

import re

from propkit import artifacts
from propkit import world

CONTRACTS = artifacts.contracts_dir()
MARKET_MODULES = list(world.MARKET_MODULES)
MARKET_FILES = list(world.MARKET_FILES)
MARKET_DEPLOYABLES = list(world.MARKET_DEPLOYABLES)


def _src(rel: str) -> str:
    return (CONTRACTS / rel).read_text()


def test_market_and_extensions_share_one_storage_layout():
    """MarketViews and MarketAdmin run by delegatecall on Market's storage:
    every variable must sit in the same slot in all three (vyper -f
    layout), and the reentrancy lock in the same transient slot."""
    arts = artifacts.load(MARKET_DEPLOYABLES)
    a = arts["market/Market.vy"].layout
    for rel in MARKET_DEPLOYABLES[1:]:
        b = arts[rel].layout
        assert a["storage_layout"] == b["storage_layout"], rel
        assert a.get("transient_storage_layout") == b.get("transient_storage_layout"), rel


def test_every_deployable_market_file_takes_the_global_lock():
    """The deployables and every module that holds external functions."""
    for rel in MARKET_DEPLOYABLES + MARKET_MODULES[:6]:
        assert "# pragma nonreentrancy on" in _src(rel), rel


def test_only_the_reviewed_functions_opt_out_of_the_lock():
    """@reentrant only on the two fallbacks (the extensions' functions take
    the lock themselves) and on flashLoan (ERC-3156 callbacks must reach the market)."""
    found = []
    for rel in MARKET_FILES:
        src = _src(rel)
        for m in re.finditer(r"@reentrant\n(?:@\w+\n)*def (\w+)", src):
            found.append(m.group(1))
    assert sorted(found) == ["__default__", "__default__", "flashLoan"], found


# raw_call sites outside the fallback, reviewed (devkit/tools/static_analysis.py,
# RAW_CALL_OK): each is a static call whose failure is an expected answer.
REVIEWED_STATIC_RAW_CALLS = {"market/modules/admin.vy": 3, "market/modules/market_core.vy": 3}


def test_no_selfdestruct_delegatecall_only_in_the_fallback():
    for rel in MARKET_FILES:
        src = _src(rel)
        assert "selfdestruct" not in src
        # Only the fallbacks: Market's to the views, the views' to the admin.
        assert src.count("is_delegate_call=True") == (1 if rel in ("market/Market.vy", "market/MarketViews.vy") else 0), rel
    for rel, count in REVIEWED_STATIC_RAW_CALLS.items():
        src = _src(rel)
        assert src.count("raw_call(") == count, rel
        assert src.count("is_static_call=True") == count, rel


def test_unchecked_arithmetic_is_the_reviewed_set():
    """Each unsafe_* sits next to the check that makes it safe (reviewed
    by hand; a new one must be reviewed and added here)."""
    counts = {rel: len(re.findall(r"unsafe_(?:add|sub|mul|div)", _src(rel))) for rel in MARKET_FILES}
    assert counts == {
        "market/Market.vy": 0,
        "market/MarketViews.vy": 0,
        "market/MarketAdmin.vy": 0,
        "market/modules/lending.vy": 1,
        "market/modules/borrowing.vy": 4,
        "market/modules/liquidation.vy": 1,
        "market/modules/flash.vy": 0,
        "market/modules/views.vy": 0,
        "market/modules/admin.vy": 0,
        "market/modules/market_core.vy": 1,
        "market/modules/market_storage.vy": 0,
    }, counts


# The admin module's state-changing functions that anyone may call, reviewed:
# book_surplus accrues, then moves only base asset held beyond the cash into
# cash and reserves alike (the lenders' claim is unchanged; the property
# suite checks it to the unit after every call).
# sync_asset only lowers (or restores, up to one) the ratio of real to
# booked units to what the market's balance shows, and freezes the asset on
# a new loss: it moves nothing.
# set_authorization changes only the caller's own operators.
PERMISSIONLESS_ADMIN_FUNCTIONS = ("set_authorization", "sync_asset", "book_surplus")


def test_every_state_changing_admin_function_checks_a_role():
    """Owner/guardian functions of MarketAdmin: each non-view external
    either checks the owner or the guardian, but the reviewed
    permissionless ones."""
    src = _src("market/modules/admin.vy")
    bodies = re.split(r"\n@external\n", src)[1:]
    permissionless = []
    for body in bodies:
        name = re.search(r"def (\w+)", body).group(1)
        if body.startswith("@view") or name in ("asset",):
            continue
        head = body.split("\n@", 1)[0]
        if name in PERMISSIONLESS_ADMIN_FUNCTIONS:
            permissionless.append(name)
            assert "_check_owner()" not in head, f"{name} is listed as permissionless"
            continue
        assert "_check_owner()" in head or "_check_guardian_or_owner()" in head, name
    assert tuple(permissionless) == PERMISSIONLESS_ADMIN_FUNCTIONS, permissionless


def test_external_calls_of_the_market_are_the_reviewed_set():
    """The market calls out only to: the base asset and collateral tokens
    (transfer/transferFrom/approve; the base asset's balanceOf, read by the
    surplus booking), the oracles (latestRoundData, decimals; and
    pending_answer, by raw_call), the facility (redeem, share_token,
    payout_token), the assets' compliance sources (is_allowlisted,
    is_frozen: views) and the flash borrower (onFlashLoan)."""
    calls = set()
    for rel in MARKET_FILES:
        calls |= set(re.findall(r"(?:extcall|staticcall) [\w.]+\([^)]*\)\.(\w+)\(", _src(rel)))
        calls |= set(re.findall(r"(?:extcall|staticcall) (?:receiver|IERC20\([^)]*\)|[\w.]+)\.(\w+)\(", _src(rel)))
    allowed = {"transfer", "transferFrom", "approve", "balanceOf", "decimals", "latestRoundData", "redeem", "share_token", "payout_token", "onFlashLoan", "asset", "is_allowlisted", "is_frozen"}
    assert calls <= allowed, calls - allowed


def test_python_constants_mirror_the_contract():
    """navlend.constants (read by the model, the scripts' checks and the
    keeper) equals market_core.vy's constants, name by name."""
    from navlend import constants

    source = _src("market/modules/market_core.vy") + _src("market/modules/market_storage.vy")
    found = dict(re.findall(r"^([A-Z_0-9]+): constant\(uint\d+\) = (.+?)\s*(?:#.*)?$", source, flags=re.M))
    # The EVM's own facts, not the market's: checked here, not in Vyper.
    assert constants.MAX_UINT256 == 2**256 - 1
    assert int(constants.ZERO_ADDRESS, 16) == 0 and len(constants.ZERO_ADDRESS) == 42
    mirrored = [n for n in dir(constants) if n.isupper() and n not in ("MAX_UINT256", "ZERO_ADDRESS")]
    assert mirrored, "navlend.constants defines nothing"
    for name in mirrored:
        assert name in found, f"{name} is not a constant of market_core.vy"
        value = eval(found[name], {"__builtins__": {}}, {"WAD": 10**18, "BPS": 10_000})  # noqa: S307 (literal arithmetic)
        assert getattr(constants, name) == value, f"{name}: python {getattr(constants, name)} != vyper {found[name]}"


def test_static_analysis_reports_no_unreviewed_finding():
    """devkit/tools/static_analysis.py (AUDIT.md section 9) over every deployable:
    any new finding, not yet triaged in the tool, fails the suite."""
    import subprocess
    import sys

    root = artifacts.REPO_ROOT
    p = subprocess.run([sys.executable, "-m", "devkit.tools.static_analysis"], cwd=root, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert "0 unreviewed finding(s)" in p.stdout
