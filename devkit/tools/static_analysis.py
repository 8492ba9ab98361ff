#!/usr/bin/env python3
"""Static analysis of the navlend contracts, one command.

    python -m devkit.tools.static_analysis                 # the checks (project venv)
    python -m devkit.tools.static_analysis --json out.json # same, machine-readable too
    python -m devkit.tools.static_analysis --slither /path/to/slither-venv/bin/python

The checks read vyper's own output: one standard-JSON compilation of every
non-mock contract and module (with the snekmate modules they import, and
`search_paths`), `annotated_ast` (types, declarations and the storage
variables each node reads/writes) and `layout`. They complement
tests/property/test_property_static.py (which pins the market's @reentrant
set, unsafe_* counts, delegatecall count, admin role checks and call set):
here every deployable contract is covered and the questions are the ones a
slither run would ask. Results: docs/static-analysis.md.

`--slither PY` probes slither 0.11.6 with the interpreter PY of a separate
venv (`pip install slither-analyzer==0.11.6`; nothing is installed here). It
hands slither vyper's complete standard-JSON output through a crytic-compile
platform object (fixing the two crytic-compile gaps: imports and the 0.4
`sourceMap` object) and an AST down-conversion, and reports per contract
how far slither gets. With slither 0.11.6 it stops in slither's Vyper
front end (see the doc); if a future slither gets through, the detectors
run and their results are printed.

Exit status: 0 when no check reports an unreviewed finding, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import vyper
from vyper.cli.vyper_json import compile_json

from devkit.paths import ROOT

CONTRACTS = ROOT / "contracts"
# The market's deployables, which share one storage layout (delegatecall).
MARKET_DEPLOYABLES = ("market/Market.vy", "market/MarketViews.vy", "market/MarketAdmin.vy")

# --------------------------------------------------------------------------
# Reviewed exceptions. Each entry is a decision recorded with its reason; a
# new occurrence that is not here is reported as a finding.

REENTRANT_OK = {
    ("market/Market.vy", "__default__"): "forwards to MarketViews by delegatecall; every MarketViews view checks the same transient lock, and its own fallback forwards the rest",
    ("market/MarketViews.vy", "__default__"): "forwards to MarketAdmin by delegatecall; every MarketAdmin function takes the same transient lock",
    ("market/modules/flash.vy", "flashLoan"): "ERC-3156: the borrower must reach the market from onFlashLoan; no state changed before the callback and none after it (the fee stays as surplus)",
    ("periphery/FlashLiquidator.vy", "onFlashLoan"): "callback from the market inside liquidate(), which holds this contract's lock; checks msg.sender == market and initiator == self",
    ("periphery/Leverage.vy", "onFlashLoan"): "callback from the market inside open/unwind, which hold this contract's lock; checks msg.sender == market and initiator == self",
}

# raw_call sites: (file, enclosing function) -> review note
RAW_CALL_OK = {
    ("market/Market.vy", "__default__"): "delegatecall to the immutable EXTENSION (MarketViews, identical storage layout: check 'layout'); reverts on failure",
    ("market/MarketViews.vy", "__default__"): "delegatecall to the immutable ADMIN (MarketAdmin, identical storage layout: check 'layout'); reverts on failure",
    ("periphery/Leverage.vy", "_fund_of"): "static call asset() on the collateral token: failure means 'not a wrapper' by design; success and len(response) == 32 tested before abi_decode",
    ("periphery/Lens.vy", "_preview"): "static call preview_liquidation() on the market: a reverting preview (dust) reads as (0, 0) so one account cannot fail a batch; ok and len(response) == 64 tested before abi_decode",
    ("periphery/FlashLiquidator.vy", "_liquidate_batch"): "call Market.liquidate(...) for one position of an owner-only batch: a revert with a reason (healthy by now, a facility's refusal) skips that position and is logged with its reason (LiquidationSkipped), state unchanged by the failed sub-call; a revert without data (out of gas at any depth) reverts the batch; the 96-byte success is abi_decoded; max_outsize bounds the copy",
    ("periphery/Lens.vy", "_health"): "static call position() on the market: an account whose view reverts is marked failed (zeros) so one account cannot fail a keeper's batch; ok and len(response) == 192 tested before abi_decode",
    ("market/modules/admin.vy", "list_asset"): "two static probes of the listed token: value_model() first, where ok, len == 32 and the STABLE_DIVIDEND answer (1) reverts the listing (a $1 dividend fund is listed through its wrapper) and failure or another answer means 'not a dividend fund' (a plain token or a wrapper lists as before); then the compliance probe (_answers_compliance), where failure means 'no compliance views' (a plain token or a wrapper; the owner may set a source) by design; ok and len == 32 tested",
    ("market/modules/admin.vy", "_answers_compliance"): "two static probes of a compliance source, is_allowlisted(self) then is_frozen(self): a source must answer both with one word (ok and len == 32 tested), so that no borrow against the asset reverts on a missing view; failure means 'not a source' by design (list_asset leaves the asset without one, set_asset_compliance refuses it)",
    ("market/modules/market_core.vy", "_price"): "static call latestRoundData() on the asset's feed: a reverting or malformed feed reads as price 0, stale (AUDIT.md 'A feed that breaks'), so no third party can make a position unliquidatable; ok and len == 160 tested, fields read with extract32 (no decoding revert)",
    ("market/modules/market_core.vy", "_pending_price"): "static call pending_answer() on a feed flagged as IPendingNav: failure reads as a zero pending price, so borrowing and withdrawing count the asset for nothing (the safe side); ok and len == 64 tested, extract32",
    ("market/modules/market_core.vy", "_set_oracle"): "static call pending_answer() probe when a feed is set: success with 64 bytes flags the feed as IPendingNav, failure leaves it a plain AggregatorV3 feed by design",
    ("adapters/SuperstateNavFeed.vy", "_checkpoint"): "static call checkpoints(i) on Superstate's oracle: a revert means 'past the last checkpoint' (the oracle has no length getter), which ends the feed's forward probe by design, so the feed never reverts on the oracle's account; ok and len == 96 tested before abi_decode",
    ("adapters/OndoNavFeed.vy", "_read"): "static call getPriceData() on Ondo's OUSG oracle: a revert or malformed answer reads as (False, 0, 0) and the feed answers zeros (the market's broken-feed path), so the feed never reverts on the oracle's account; ok and len == 64 tested, fields read with extract32 and range-checked (price in int256, time in uint80) before conversion",
    ("adapters/OndoRedemption.vy", "_admitted"): "static read of OUSG's KYC registry for the adapter's own status (getKYCStatus takes two words, so _probe cannot carry it): a failure reads as 'not admitted' (previews 0); ok and len == 32 tested before convert",
    ("adapters/OndoRedemption.vy", "_probe"): "static one-word reads of Ondo's instant manager, OUSG and the USDC/BUIDL balances for the never-reverting previews (preview_redeem, max_redeem, min_redeem, remaining_limit, fee_bps): the manager's getOUSGPrice reverts at or under the $105 floor by design, and any failure reads as 'cannot redeem' (0); ok and len == 32 tested before convert",
    ("adapters/SuperstateRedemption.vy", "_open"): "static call paused() on Superstate's Redemption contract: a revert or a malformed answer reads as paused, so preview_redeem and max_redeem answer 0 and never revert; ok and len == 32 tested before convert",
    ("adapters/SuperstateRedemption.vy", "_pair"): "static call calculateUsdcOut(shares) or maxUstbRedemptionAmount() on Superstate's Redemption contract, which revert when its oracle cannot price (stale, under the $7 floor): the failure reads as 0 so preview_redeem and max_redeem never revert; ok and len == 64 tested, words read with extract32",
    ("adapters/SuperstateSubscription.vy", "preview_subscribe"): "static call calculateSuperstateTokenOut(assets, stablecoin) on Superstate's fund token, which reverts when the stablecoin is not accepted or the oracle cannot price (stale past the token's delay, under the $7 floor): the failure reads as 0 so preview_subscribe never reverts; ok and len == 96 tested, the first word read with extract32",
    ("adapters/OndoSubscription.vy", "_probe"): "static one-word reads of Ondo's instant manager for the never-reverting preview_subscribe and min_subscribe (mintPaused, minimumDepositAmount, mintFee, getOUSGPrice): getOUSGPrice reverts at or under the $105 floor by design, and any failure reads as 'cannot subscribe' (0); ok and len == 32 tested before convert",
    ("issuer/RedemptionFacility.vy", "_read_nav"): "static call latestRoundData() on the NAV feed: a reverting feed reads as NAV_BAD by design; success and len(response) == 160 tested before abi_decode",
}

# External calls whose return value is discarded: (file, function, method) -> note
IGNORED_RETURN_OK = {
    ("periphery/FlashLiquidator.vy", "_flash", "flashLoan"): "the immutable MARKET's flashLoan returns True or reverts (ERC-3156 lender, our Market.vy)",
    ("periphery/Leverage.vy", "open", "flashLoan"): "the immutable MARKET's flashLoan returns True or reverts",
    ("periphery/Leverage.vy", "unwind", "flashLoan"): "the immutable MARKET's flashLoan returns True or reverts",
    ("periphery/Leverage.vy", "onFlashLoan", "repay"): "repays min(amount, debt); any unspent stablecoin stays here and is swept to the user by unwind's balanceOf transfer",
    ("periphery/Leverage.vy", "_enter", "borrow"): "returns the debt after the borrow; borrow lends exactly `owed` or reverts, and open re-reads debt_of for its LTV check",
    ("periphery/FlashLiquidator.vy", "_liquidate_batch", "redeem_received"): "a gathered batch's one redemption: the facility's reported payout is not trusted, the liquidator measures its own stablecoin balance before and after and checks payout >= repaid + fee on that (the facility also enforces it as min_out)",
    ("adapters/OndoRedemption.vy", "_redeem_held", "redeem"): "the instant manager's reported USDC is not trusted: the adapter measures its own USDC balance before and after, enforces min_out on that and forwards exactly it",
    ("adapters/OndoSubscription.vy", "subscribe", "mint"): "the instant manager's reported OUSG is not trusted: the adapter measures its own OUSG balance before and after, enforces min_shares on that and forwards exactly it",
    ("periphery/Leverage.vy", "_exit", "redeem"): "returns the payout; unwind sweeps the whole stablecoin balance and checks min_out on it",
}

# (a // b) * c sites: (file, line text fragment) -> note
DIV_MUL_OK = {
    ("periphery/Lens.vy", "borrow_apr * utilization // WAD * (BPS - reserve_factor) // BPS"): "display-only supply APR (view); truncation < 1 wei of a WAD-scaled rate",
    ("market/modules/market_core.vy", "x * x // WAD * x // (6 * WAD)"): "third Taylor term of exp(x)-1; truncating x*x/WAD first loses < x/(6 WAD) wei of growth (< 1 wei while one accrual's x < 600 % a year), and the index rounds up after",
    ("market/modules/market_core.vy", "* (WAD // BPS)"): "WAD // BPS = 10**14 is an exact constant: no precision lost (false positive)",
}

BANNED = {"selfdestruct", "send", "create_forwarder_to", "create_minimal_proxy_to"}
BANNED_ENV = {("tx", "origin"), ("block", "prevrandao"), ("block", "difficulty")}
ROLE_CHECKS = {"_check_owner", "_check_guardian_or_owner", "_check_guardian", "_check_role", "_only_owner"}


# --------------------------------------------------------------------------
# Compilation: one standard-JSON run over all sources.

def snekmate_root() -> Path:
    spec = importlib.util.find_spec("snekmate")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("snekmate not importable: run with the project venv (.venv/bin/python)")
    return Path(list(spec.submodule_search_locations)[0]).parent


def project_sources() -> dict[str, dict]:
    """Every non-mock project source (keyed relative to contracts/, e.g.
    market/Market.vy; the contracts import each other relatively) and
    every snekmate source (keyed snekmate/...)."""
    sources: dict[str, dict] = {}
    for p in sorted(CONTRACTS.rglob("*.vy*")):
        if "mocks" in p.relative_to(CONTRACTS).parts:
            continue
        sources[p.relative_to(CONTRACTS).as_posix()] = {"content": p.read_text()}
    sm = snekmate_root()
    for p in sorted((sm / "snekmate").rglob("*.vy*")):
        sources[p.relative_to(sm).as_posix()] = {"content": p.read_text()}
    return sources


def deployables(keys) -> list[str]:
    """The project's contracts: every .vy but the modules (market/modules/)."""
    return [k for k in keys if not k.startswith("snekmate/") and k.endswith(".vy") and Path(k).parent.name != "modules"]


def imported_snekmate(sources: dict[str, dict]) -> list[str]:
    """snekmate modules reachable from the project (transitively)."""
    todo = [k for k in sources if not k.startswith("snekmate/") and k.endswith(".vy")]
    seen: set[str] = set()
    while todo:
        k = todo.pop()
        src = sources[k]["content"]
        for m in re.finditer(r"^from (\.*[\w.]*) import (\w+)", src, re.M):
            base, name = m.group(1), m.group(2)
            if base.startswith("."):
                lvl = len(base) - len(base.lstrip("."))
                parent = Path(k).parent
                for _ in range(lvl - 1):
                    parent = parent.parent
                cand = (parent / base.lstrip(".").replace(".", "/") / f"{name}.vy").as_posix()
            else:
                cand = f"{base.replace('.', '/')}/{name}.vy"
            if cand.startswith("snekmate/") and cand in sources and cand not in seen:
                seen.add(cand)
                todo.append(cand)
    return sorted(seen)


def standard_json_input(sources, selection: dict[str, list[str]]) -> dict:
    return {
        "language": "Vyper",
        "sources": sources,
        "settings": {"search_paths": ["."], "outputSelection": selection},
    }


def compile_all(extra_outputs: list[str] | None = None) -> tuple[dict, dict]:
    sources = project_sources()
    targets = [k for k in sources if not k.startswith("snekmate/") and k.endswith(".vy")]
    targets += imported_snekmate(sources)
    sel = {t: ["annotated_ast"] for t in targets}
    for t in MARKET_DEPLOYABLES:
        sel[t] = ["annotated_ast", "layout"]
    for t in deployables(sources):
        sel[t] = sorted(set(sel[t]) | set(extra_outputs or []))
    inp = standard_json_input(sources, sel)
    out = compile_json(json.dumps(inp))
    if isinstance(out, str):
        out = json.loads(out)
    errs = [e for e in out.get("errors", []) if e.get("severity") != "warning"]
    if errs:
        sys.exit("vyper failed:\n" + "\n".join(e.get("formattedMessage", e["message"]) for e in errs))
    return inp, out


# --------------------------------------------------------------------------
# AST helpers

def walk(n, parent=None):
    if isinstance(n, dict):
        yield n, parent
        for v in n.values():
            yield from walk(v, n)
    elif isinstance(n, list):
        for v in n:
            yield from walk(v, parent)


def decorators(fd) -> list[str]:
    out = []
    for d in fd.get("decorator_list", []):
        if d["ast_type"] == "Name":
            out.append(d["id"])
        elif d["ast_type"] == "Call" and d["func"]["ast_type"] == "Name":
            out.append(d["func"]["id"])
    return out


class Model:
    def __init__(self, out: dict):
        self.out = out
        self.asts = {p: s["annotated_ast"] for p, s in out["sources"].items()}
        self.path_of_sid = {a["source_id"]: p for p, a in self.asts.items()}
        self.funcs = {}        # (sid, node_id) -> (path, FunctionDef)
        self.storage = {}      # (sid, node_id) -> var name, for storage/transient vars
        for p, a in self.asts.items():
            sid = a["source_id"]
            for n in a["body"]:
                if n["ast_type"] == "FunctionDef":
                    self.funcs[(sid, n["node_id"])] = (p, n)
                elif n["ast_type"] == "VariableDecl" and not n.get("is_constant") and not n.get("is_immutable") and not n.get("is_transient"):
                    self.storage[(sid, n["node_id"])] = n["target"]["id"]
        self._summ = {}

    def callees(self, fd) -> set:
        res = set()
        for n, _ in walk(fd["body"]):
            if n.get("ast_type") == "Call":
                t = n["func"].get("type") or {}
                if t.get("typeclass") == "contract_function" and "type_decl_node" in t:
                    key = (t["type_decl_node"]["source_id"], t["type_decl_node"]["node_id"])
                    if key in self.funcs:
                        res.add(key)
        return res

    def local(self, fd):
        """(writes storage, emits, role-check names called, external calls)"""
        writes = emits = False
        roles, ext = set(), []
        for n, _ in walk(fd["body"]):
            for w in n.get("variable_writes", []) or []:
                d = w["decl_node"]
                if (d["source_id"], d["node_id"]) in self.storage:
                    writes = True
            t = n.get("ast_type")
            if t == "Log":
                emits = True
            if t in ("ExtCall", "StaticCall"):
                ext.append(n)
            if t == "Call" and n["func"]["ast_type"] == "Attribute" and n["func"]["attr"] in ROLE_CHECKS:
                roles.add(n["func"]["attr"])
        return writes, emits, roles, ext

    def summary(self, key, stack=()):
        """transitive (writes, emits, roles)"""
        if key in self._summ:
            return self._summ[key]
        if key in stack:
            return (False, False, frozenset())
        _, fd = self.funcs[key]
        w, e, r, _ = self.local(fd)
        r = set(r)
        for c in self.callees(fd):
            cw, ce, cr = self.summary(c, stack + (key,))
            w, e = w or cw, e or ce
            r |= cr
        self._summ[key] = (w, e, frozenset(r))
        return self._summ[key]


def enclosing_functions(ast) -> list[tuple[dict, list]]:
    return [(n, list(walk(n["body"]))) for n in ast["body"] if n["ast_type"] == "FunctionDef"]


# --------------------------------------------------------------------------
# Checks. Each returns a list of rows: (status, file:line, message) where
# status is "ok" (reviewed / informational) or "FINDING".

def check_banned(m: Model, project: list[str]):
    rows = []
    for p in project:
        for n, _ in walk(m.asts[p]["body"]):
            t = n.get("ast_type")
            if t == "Call" and n["func"]["ast_type"] == "Name" and n["func"]["id"] in BANNED:
                rows.append(("FINDING", f"{p}:{n['lineno']}", f"banned builtin {n['func']['id']}"))
            if t == "Attribute" and n["value"].get("ast_type") == "Name" and (n["value"]["id"], n["attr"]) in BANNED_ENV:
                rows.append(("FINDING", f"{p}:{n['lineno']}", f"{n['value']['id']}.{n['attr']} used"))
    if not rows:
        rows.append(("ok", "*", f"no {', '.join(sorted(BANNED))}, tx.origin, block.prevrandao/difficulty in {len(project)} files"))
    return rows


def check_reentrancy(m: Model, deploy: list[str]):
    rows = []
    for p in deploy:
        a = m.asts[p]
        on = (a.get("settings") or {}).get("nonreentrancy_by_default")
        if not on:
            rows.append(("FINDING", p, "no `# pragma nonreentrancy on`"))
        for fd in a["body"]:
            if fd["ast_type"] != "FunctionDef":
                continue
            dec = decorators(fd)
            if "reentrant" in dec or "nonreentrant" in dec:
                key = (p, fd["name"])
                if "reentrant" in dec and key in REENTRANT_OK:
                    rows.append(("ok", f"{p}:{fd['lineno']}", f"@reentrant {fd['name']}: {REENTRANT_OK[key]}"))
                elif "reentrant" in dec:
                    rows.append(("FINDING", f"{p}:{fd['lineno']}", f"@reentrant {fd['name']} not reviewed"))
    rows.append(("ok", "*", f"{sum(1 for p in deploy if (m.asts[p].get('settings') or {}).get('nonreentrancy_by_default'))}/{len(deploy)} deployables have the global lock pragma"))
    return rows


def check_raw_calls(m: Model, project: list[str]):
    rows = []
    for p in project:
        for fd, nodes in enclosing_functions(m.asts[p]):
            for n, parent in nodes:
                if n.get("ast_type") == "Call" and n["func"].get("id") == "raw_call":
                    kw = {k["arg"]: k["value"] for k in n.get("keywords", [])}
                    flags = [k for k in ("is_delegate_call", "is_static_call") if kw.get(k, {}).get("value") is True]
                    rof = kw.get("revert_on_failure", {}).get("value", True)
                    note = RAW_CALL_OK.get((p, fd["name"]))
                    desc = f"raw_call in {fd['name']} {' '.join(flags)} revert_on_failure={rof}"
                    if rof is False:
                        # the (success, data) tuple must be assigned and `success` asserted
                        lines = m_src(p).splitlines()
                        head = lines[n["lineno"] - 1]
                        flag = re.match(r"\s*(\w+)\s*,\s*\w+\s*=\s*raw_call", head)
                        body = "\n".join(lines[n["lineno"]: n["lineno"] + 14])
                        checked = bool(flag) and re.search(rf"(assert|if)\s+(not\s+)?{flag.group(1)}\b", body) is not None
                        if not checked:
                            rows.append(("FINDING", f"{p}:{n['lineno']}", desc + ": success never tested"))
                            continue
                    rows.append(("ok" if note else "FINDING", f"{p}:{n['lineno']}", desc + (f": {note}" if note else ": not reviewed")))
    return rows


_SRC: dict[str, str] = {}


def m_src(p: str) -> str:
    if p not in _SRC:
        _SRC[p] = (CONTRACTS / p).read_text()
    return _SRC[p]


def check_ignored_returns(m: Model, project: list[str]):
    """slither unused-return / unchecked-transfer: an external call used as a
    statement although it returns a value."""
    rows = []
    n_calls = 0
    for p in project:
        for fd, nodes in enclosing_functions(m.asts[p]):
            for n, parent in nodes:
                if n.get("ast_type") in ("ExtCall", "StaticCall"):
                    n_calls += 1
                if n.get("ast_type") == "Expr" and n["value"].get("ast_type") == "ExtCall" and (n["value"].get("type") or {}).get("name") not in (None, "(void)"):
                    meth = n["value"]["value"]["func"].get("attr")
                    note = IGNORED_RETURN_OK.get((p, fd["name"], meth))
                    rows.append(("ok" if note else "FINDING", f"{p}:{n['lineno']}",
                                 f"return of extcall .{meth}() ({n['value']['type'].get('name')}) discarded in {fd['name']}" + (f": {note}" if note else "")))
    rows.append(("ok", "*", f"{n_calls} extcall/staticcall sites scanned for discarded return values"))
    return rows


def check_unsafe_comments(m: Model, project: list[str]):
    rows = []
    for p in project:
        lines = m_src(p).splitlines()
        for i, line in enumerate(lines):
            for mm in re.finditer(r"unsafe_(add|sub|mul|div)\(", line.split("#")[0]):
                ctx = lines[max(0, i - 3): i + 1]
                commented = "#" in line or any(c.strip().startswith("#") for c in ctx[:-1])
                rows.append(("ok" if commented else "FINDING", f"{p}:{i + 1}",
                             f"unsafe_{mm.group(1)} " + ("commented" if commented else "without a justifying comment within 3 lines")))
    return rows


def check_admin_events(m: Model, deploy: list[str]):
    """Every external function that checks a role and (transitively) writes
    storage must (transitively) emit an event."""
    rows = []
    for p in deploy:
        a = m.asts[p]
        sid = a["source_id"]
        for fd in a["body"]:
            if fd["ast_type"] != "FunctionDef" or "external" not in decorators(fd):
                continue
            w, e, r = m.summary((sid, fd["node_id"]))
            if r and w:
                rows.append(("ok" if e else "FINDING", f"{p}:{fd['lineno']}",
                             f"{fd['name']} ({'/'.join(sorted(r))}) writes storage, " + ("emits" if e else "emits NO event")))
    # exported module functions (e.g. ownable_2step.transfer_ownership) are snekmate's own, which emit.
    return rows


def check_divide_before_multiply(m: Model, project: list[str]):
    """slither divide-before-multiply: (a // b) * c, directly in one expression."""
    rows = []
    for p in project:
        for n, _ in walk(m.asts[p]["body"]):
            if n.get("ast_type") == "BinOp" and n["op"]["ast_type"] == "Mult":
                for side in (n["left"], n["right"]):
                    if side.get("ast_type") == "BinOp" and side["op"]["ast_type"] in ("FloorDiv", "Div"):
                        text = m_src(p).splitlines()[n["lineno"] - 1]
                        note = next((v for (f, frag), v in DIV_MUL_OK.items() if f == p and frag in text), None)
                        rows.append(("ok" if note else "FINDING", f"{p}:{n['lineno']}",
                                     "multiplication of a quotient" + (f": {note}" if note else " (precision loss) not reviewed")))
    if not rows:
        rows.append(("ok", "*", "no (a // b) * c expression"))
    return rows


def _flat(d, pre=""):
    r = {}
    for k, v in d.items():
        if isinstance(v, dict) and "type" not in v:
            r.update(_flat(v, pre + k + "."))
        else:
            r[pre + k] = v
    return r


def check_layout(m: Model):
    """Cross-check of test_property_static's layout test, plus immutables:
    under delegatecall each extension's code reads its OWN immutables."""
    lay = {p: c[Path(p).stem]["layout"] for p, c in m.out["contracts"].items() if p in MARKET_DEPLOYABLES}
    a = lay["market/Market.vy"]
    rows = []
    checks = {
        "market/MarketViews.vy": ("Market.vy/MarketViews.vy", "staticcall IERC4626(extension).asset() == base.address", "market/Market.vy"),
        "market/MarketAdmin.vy": ("Market.vy/MarketAdmin.vy", "staticcall IERC4626(admin).asset() == base.address", "market/MarketViews.vy"),
    }
    for path, (label, guard, guard_src) in checks.items():
        b = lay[path]
        for k in ("storage_layout", "transient_storage_layout"):
            same = a.get(k) == b.get(k)
            rows.append(("ok" if same else "FINDING", label,
                         f"{k} {'identical' if same else 'DIFFERS'} ({len(_flat(a.get(k, {})))} variables)"))
        ca, cb = _flat(a.get("code_layout", {})), _flat(b.get("code_layout", {}))
        shared = sorted(set(ca) & set(cb))
        base_checked = guard in m_src(guard_src)
        core_shared = [x for x in shared if x.startswith("core.")]
        rows.append(("ok" if base_checked and set(core_shared) == {x for x in ca if x.startswith("core.")} else "FINDING", label,
                     f"immutables: {len(shared)} shared ({', '.join(core_shared)}, erc20.*) are the extension's own values under delegatecall; "
                     f"{Path(guard_src).name}'s constructor asserts the next one's asset() is the base: {base_checked}"))
    return rows


def external_call_inventory(m: Model, project: list[str]) -> dict[str, list[str]]:
    inv: dict[str, set] = {}
    for p in project:
        for n, _ in walk(m.asts[p]["body"]):
            if n.get("ast_type") in ("ExtCall", "StaticCall"):
                f = n["value"]["func"]
                itf = ((f.get("value") or {}).get("type") or {}).get("name") or "?"
                inv.setdefault(p, set()).add(f"{'extcall' if n['ast_type'] == 'ExtCall' else 'staticcall'} {Path(itf).stem}.{f.get('attr')}")
    return {k: sorted(v) for k, v in sorted(inv.items())}


# --------------------------------------------------------------------------
# slither probe (runs in the slither venv's interpreter)

SLITHER_WORKER = r'''
import json, sys, traceback
from pathlib import Path
out_path, targets = sys.argv[1], sys.argv[2:]
out = json.load(open(out_path))
from crytic_compile import CryticCompile
from crytic_compile.platform.vyper import VyperStandardJson
from crytic_compile.compilation_unit import CompilationUnit
from crytic_compile.compiler.compiler import CompilerVersion
from crytic_compile.utils.naming import convert_filename
from crytic_compile.utils.natspec import Natspec

DROP = {"ImplementsDecl", "InitializesDecl", "ExportsDecl", "UsesDecl"}
OPS = {"FloorDiv": "Div", "LShift": "Shr", "RShift": "Shl"}  # slither's map is 0.3's (Shr -> "<<")
def down(n):
    """vyper 0.4 AST -> the 0.3 shapes slither's Vyper front end parses."""
    if isinstance(n, list):
        return [down(x) for x in n if not (isinstance(x, dict) and x.get("ast_type") in DROP)]
    if not isinstance(n, dict):
        return n
    t = n.get("ast_type")
    if t in ("ExtCall", "StaticCall"):
        return down(n["value"])
    if t in OPS:
        n = dict(n, ast_type=OPS[t])
    if t == "FlagDef":
        n = dict(n, ast_type="EnumDef")
    if t == "Module":
        n = dict(n, name=n.get("name") or n.get("path"))
    if t == "Subscript" and n["slice"].get("ast_type") != "Index":
        s = n["slice"]
        n = dict(n, slice={"ast_type": "Index", "value": s, "src": s["src"], "node_id": s["node_id"]})
    if t == "For" and n["target"].get("ast_type") == "AnnAssign":
        n = dict(n, target=n["target"]["target"])
    if t == "Call":
        n = dict(n)
        n.setdefault("keyword", None)
    return {k: down(v) for k, v in n.items()}

target = mode = None
class Prebuilt(VyperStandardJson):
    """crytic-compile's vyper platform, fed vyper's complete output."""
    def compile(self, cc, **kw):
        cu = CompilationUnit(cc, str(self._target))
        cu.compiler_version = CompilerVersion(compiler="vyper", version=out["compiler"].split("-")[1], optimized=False, via_ir=False)
        for path, info in out["contracts"].items():
            if path != target:
                continue
            su = cu.create_source_unit(convert_filename(path, lambda x: x, cc))
            for name, c in info.items():
                su.add_contract_name(name)
                cu.filename_to_contracts[su.filename].add(name)
                su.abis[name] = c["abi"]
                su.bytecodes_init[name] = c["evm"]["bytecode"]["object"].replace("0x", "")
                su.srcmaps_init[name] = []
                sm = c["evm"]["deployedBytecode"]["sourceMap"]
                su.srcmaps_runtime[name] = (sm["pc_pos_map_compressed"] if isinstance(sm, dict) else sm).split(";")
                su.bytecodes_runtime[name] = c["evm"]["deployedBytecode"]["object"].replace("0x", "")
                su.natspec[name] = Natspec(c.get("userdoc", {}), c.get("devdoc", {}))
        s = out["sources"][target]
        su = cu.create_source_unit(convert_filename(target, lambda x: x, cc))
        su.ast = dict(s, ast=down(s["ast"]) if mode == "shim" else s["ast"])

def probe(target, mode):
  res = {"target": target, "mode": mode}
  globals().update(target=target, mode=mode)
  try:
    cc = CryticCompile(Prebuilt(target))
    res["crytic_compile"] = "ok"
    from slither import Slither
    from slither.detectors import all_detectors
    from slither.detectors.abstract_detector import AbstractDetector
    sl = Slither(cc)
    res["slither"] = "ok"
    for d in [getattr(all_detectors, n) for n in dir(all_detectors)]:
        if isinstance(d, type) and issubclass(d, AbstractDetector):
            sl.register_detector(d)
    res["findings"] = [{"check": r["check"], "impact": r["impact"], "description": r["description"]} for rr in sl.run_detectors() for r in rr]
  except Exception as e:
    tb = traceback.extract_tb(e.__traceback__)
    last = tb[-1]
    res["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
    res["where"] = f"{last.filename.split('site-packages/')[-1]}:{last.lineno} ({last.name})"
  print(json.dumps(res), flush=True)

for t in targets:
    for m in ("raw", "shim"):
        probe(t, m)
'''


def run_slither(python: str, inp: dict, deploy: list[str]) -> list[dict]:
    sel = {t: ["abi", "devdoc", "userdoc", "evm.bytecode", "evm.deployedBytecode", "ast"] for t in deploy}
    out = compile_json(json.dumps(dict(inp, settings=dict(inp["settings"], outputSelection=sel))))
    out = json.loads(out) if isinstance(out, str) else out
    results = []
    with tempfile.TemporaryDirectory() as td:
        op = Path(td) / "vyper_out.json"
        op.write_text(json.dumps(out))
        wp = Path(td) / "worker.py"
        wp.write_text(SLITHER_WORKER)
        # cwd contracts/: crytic-compile checks that each source file exists
        r = subprocess.run([python, str(wp), str(op), *deploy], capture_output=True, text=True, cwd=CONTRACTS, timeout=900)
        for line in r.stdout.splitlines():
            if line.startswith("{"):
                results.append(json.loads(line))
        if not results:
            results.append({"target": "*", "mode": "*", "error": (r.stderr or r.stdout)[-500:]})
    return results


# --------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="also write the results as JSON to this path")
    ap.add_argument("--slither", metavar="PYTHON", help="interpreter of a venv with slither-analyzer==0.11.6")
    args = ap.parse_args()
    print(f"vyper {vyper.__version__}, snekmate from {snekmate_root()}")
    inp, out = compile_all(["abi"] if args.slither else None)
    m = Model(out)
    project = [p for p in m.asts if not p.startswith("snekmate/")]
    deploy = deployables(project)

    sections = {
        "banned constructs": check_banned(m, project),
        "reentrancy lock / @reentrant": check_reentrancy(m, deploy),
        "raw_call / delegatecall": check_raw_calls(m, project),
        "discarded external-call returns": check_ignored_returns(m, project),
        "unsafe_* justification": check_unsafe_comments(m, project),
        "role-gated state changes emit events": check_admin_events(m, deploy),
        "divide before multiply": check_divide_before_multiply(m, project),
        "Market/MarketAdmin storage layout": check_layout(m),
    }
    inv = external_call_inventory(m, project)
    n_find = 0
    for title, rows in sections.items():
        print(f"\n== {title}")
        for st, where, msg in rows:
            n_find += st == "FINDING"
            print(f"  [{st}] {where}: {msg}")
    print("\n== external call inventory (reviewed in docs/static-analysis.md)")
    for p, calls in inv.items():
        print(f"  {p}: {', '.join(calls)}")

    result = {"sections": sections, "external_calls": inv, "findings": n_find}
    if args.slither:
        print(f"\n== slither probe ({args.slither})")
        sres = run_slither(args.slither, inp, deploy)
        for r in sres:
            status = "detectors ran: %d results" % len(r["findings"]) if "findings" in r else f"FAILED at {r.get('where', '?')}: {r.get('error', '?')[:150]}"
            print(f"  {r.get('target')} [{r.get('mode')}]: {status}")
            for f in r.get("findings", []):
                print(f"      {f['impact']:<13} {f['check']}: {f['description'].strip().splitlines()[0]}")
        result["slither"] = sres

    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=list))
    print(f"\n{n_find} unreviewed finding(s)")
    return 1 if n_find else 0


if __name__ == "__main__":
    sys.exit(main())
