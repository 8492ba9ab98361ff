"""Mutation testing of the market against the property suite.

    .venv/bin/python -m devkit.tools.mutation                 # all mutants, 2 jobs
    .venv/bin/python -m devkit.tools.mutation --jobs 1 --only M07,M21
    .venv/bin/python -m devkit.tools.mutation --list          # the mutants, no run
    .venv/bin/python -m devkit.tools.mutation --check         # each applies cleanly

Each mutant is one textual change to the market's modules
(contracts/market/modules/: the core, the storage's users, and the
behaviour modules lending, borrowing, liquidation, flash, views and admin),
applied IN A TEMPORARY
COPY of contracts/ (the repository's files are never touched). The
property suite then runs against the copy (``NAVLEND_CONTRACTS_DIR``), in a
subprocess: ``pytest tests/property`` without the Ape plugin, the anvil
test and the pinned findings, stopping at the first failure, under the
``mutation`` Hypothesis profile (derandomized, no shrinking). A failing
suite kills the mutant; a passing one lets it survive. The mutated
contracts compile once (the property suite's artifact cache, keyed by source), so a re-run
only pays for the tests.

Operators: flipped or loosened comparisons, off-by-one bounds, dropped
asserts, swapped rounding directions (``_mul_div`` roundup flags,
``_ceil_div`` vs ``//``), removed fee or bonus terms, skipped state
updates. The unmutated tree runs first (it must pass). The final line is
the mutation score; exit status 0 (a report, not a gate) unless the
baseline fails or a mutant no longer applies.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from devkit.paths import ROOT

CONTRACTS = ROOT / "contracts"
# The files mutants change: the market's modules (where its functions live).
CORE = "market/modules/market_core.vy"
LENDING = "market/modules/lending.vy"
BORROWING = "market/modules/borrowing.vy"
LIQUIDATION = "market/modules/liquidation.vy"
FLASH = "market/modules/flash.vy"
VIEWS = "market/modules/views.vy"
ADMIN = "market/modules/admin.vy"
# The deployables a mutant is compiled into.
DEPLOYABLES = ("market/Market.vy", "market/MarketViews.vy", "market/MarketAdmin.vy")


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    find: str
    replace: str
    op: str
    description: str


def _m(i: int, file: str, find: str, replace: str, op: str, description: str) -> Mutant:
    return Mutant(f"M{i:02d}", file, find, replace, op, description)


MUTANTS: list[Mutant] = [
    # ---- interest and index ----
    _m(1, CORE, "growth: uint256 = x + x * x // (2 * WAD) + x * x // WAD * x // (6 * WAD)", "growth: uint256 = x + x * x // (2 * WAD)", "removed term", "compounding drops the 3rd-order term"),
    _m(2, CORE, "new_index: uint256 = index + self._ceil_div(index * growth, WAD)", "new_index: uint256 = index + index * growth // WAD", "rounding", "borrow index rounds down"),
    _m(3, CORE, "    book = book + (reserves_added << store.BOOK_RESERVES_SHIFT)\n", "    book = book\n", "skipped update", "accrual books no reserves"),
    _m(4, CORE, "reserves_added: uint256 = interest * ((rates >> store.RATES_RESERVE_FACTOR_SHIFT) & store.MASK16) // BPS", "reserves_added: uint256 = self._ceil_div(interest * ((rates >> store.RATES_RESERVE_FACTOR_SHIFT) & store.MASK16), BPS)", "rounding", "reserves round up (lenders lose the remainder)"),
    _m(5, CORE, "    if utilization <= kink:\n", "    if utilization < kink:\n", "comparison", "kink test strict (equivalent: both branches agree at the kink)"),
    _m(6, CORE, "return base_rate + slope1 + slope2 * (utilization - kink) // (WAD - kink)", "return base_rate + slope1", "removed term", "no slope above the kink"),
    _m(7, CORE, "    return (book & store.MASK128) + borrows - (book >> store.BOOK_RESERVES_SHIFT)\n", "    return (book & store.MASK128) + borrows\n", "removed term", "total assets ignore reserves"),
    _m(8, CORE, "    return self._ceil_div((scaled & store.MASK112) * index, WAD)\n", "    return (scaled & store.MASK112) * index // WAD\n", "rounding", "debt rounds down"),
    _m(9, CORE, "    if repaid == debt:\n        return scaled\n", "    if repaid == debt + 1:\n        return scaled\n", "off-by-one", "full-repayment shortcut skipped (equivalent: floor(ceil(s*i/W)*W/i) >= s, so the general path also clears all scaled debt)"),
    _m(10, CORE, "    return min(repaid * WAD // index, scaled)\n", "    return min(self._ceil_div(repaid * WAD, index), scaled)\n", "rounding", "partial repayment credits rounded up"),
    # ---- bad debt ----
    _m(11, CORE, "from_reserves: uint256 = min(reserves, amount)", "from_reserves: uint256 = 0", "removed term", "write-off never draws on reserves"),
    _m(12, CORE, "    store._positions[borrower] = store._positions[borrower] - scaled\n", "", "skipped update", "write-off leaves the borrower's scaled debt"),
    _m(13, CORE, "    store._market = market - min(scaled, market & store.MASK112)\n", "", "skipped update", "write-off leaves the total scaled debt"),
    # ---- prices and valuation ----
    _m(14, CORE, "        price = min(price, store._asset_price_cap[asset_id])\n", "        price = max(price, store._asset_price_cap[asset_id])\n", "comparison", "price cap becomes a floor"),
    _m(15, CORE, "return price, block.timestamp - updated_at > word >> store.CONFIG_MAX_AGE_SHIFT", "return price, block.timestamp - updated_at >= word >> store.CONFIG_MAX_AGE_SHIFT", "off-by-one", "stale one second early"),
    _m(16, CORE, "return price, block.timestamp - updated_at > word >> store.CONFIG_MAX_AGE_SHIFT", "return price, False", "dropped check", "prices never stale"),
    _m(17, CORE, "v.liquidation_value += value * ((word >> store.CONFIG_THRESHOLD_SHIFT) & store.MASK16) // BPS", "v.liquidation_value += value * ((word >> 160) & store.MASK16) // BPS", "wrong term", "liquidation value at LTV instead of threshold"),
    _m(18, CORE, "excluded: bool = stale\n", "excluded: bool = mode != VALUE_WITHDRAW and stale\n", "comparison", "withdrawals value stale assets"),
    _m(19, CORE, "                if mode != VALUE_WITHDRAW and word & (store.FLAG_FROZEN << store.CONFIG_FLAGS_SHIFT) != 0:\n                    excluded = True\n", "", "dropped check", "frozen assets count for borrowing"),
    _m(20, CORE, "    if v.target_price == 0:\n        assert not strict, \"market: bad price\"\n        return False\n", "", "dropped assert", "a broken feed's asset seized by value"),
    # ---- liquidation ----
    _m(21, CORE, "        v.liquidation_value * WAD >= CLOSE_FACTOR_HF_THRESHOLD * debt\n", "        v.liquidation_value * WAD > CLOSE_FACTOR_HF_THRESHOLD * debt\n", "comparison", "full close at HF exactly 0.95"),
    _m(22, CORE, "        cap = debt * CLOSE_FACTOR_BPS // BPS\n", "        cap = debt\n", "removed term", "no close factor"),
    _m(23, CORE, "        and debt >= small\n", "        and debt > small\n", "off-by-one", "small-position bound strict"),
    _m(24, CORE, "    seized: uint256 = math._mul_div(repaid * bonus, unit, BPS * v.target_price, False)\n", "    seized: uint256 = math._mul_div(repaid * bonus, unit, BPS * v.target_price, True)\n", "rounding", "seizure rounds up"),
    _m(25, CORE, "repaid = min(repaid, math._mul_div(seized * v.target_price, BPS, unit * bonus, True))", "repaid = min(repaid, math._mul_div(seized * v.target_price, BPS, unit * bonus, False))", "rounding", "repayment for all collateral rounds down"),
    _m(26, CORE, "most = min(debt - dust, (v.target_value - dust) * BPS // bonus)", "most = min(debt - dust, v.target_value - dust)", "removed term", "dust trim ignores the bonus"),
    _m(27, CORE, "        if repaid > most:\n", "        if repaid > most + 1:\n", "off-by-one", "dust trim one unit late"),
    _m(28, CORE, "    bonus: uint256 = BPS + ((word >> store.CONFIG_BONUS_SHIFT) & store.MASK16)\n    unit: uint256", "    bonus: uint256 = BPS\n    unit: uint256", "removed term", "liquidation pays no bonus"),
    _m(29, CORE, "    assert (seized != 0 and repaid != 0) or seized == v.target_balance, \"market: nothing to liquidate\"\n", "", "dropped assert", "zero-amount liquidations pass"),
    _m(30, CORE, "bonus_part: uint256 = seized - math._mul_div(seized, BPS, bonus, True)", "bonus_part: uint256 = seized - math._mul_div(seized, BPS, bonus, False)", "rounding", "protocol fee's bonus part rounds up"),
    _m(31, CORE, "    store._positions[treasury] = self._set_collateral(treasury, asset_id, position, balance)\n", "", "skipped update", "treasury fee credit lost"),
    _m(32, CORE, "    return self._ceil_div(amount * ((market >> store.MARKET_FLASH_FEE_SHIFT) & store.MASK8), BPS)\n", "    return amount * ((market >> store.MARKET_FLASH_FEE_SHIFT) & store.MASK8) // BPS\n", "rounding", "flash fee rounds down"),
    # ---- parameters, pauses, auth ----
    _m(33, CORE, "assert threshold_bps > ltv_bps, \"market: threshold not above ltv\"", "assert threshold_bps >= ltv_bps, \"market: threshold not above ltv\"", "off-by-one", "threshold may equal LTV"),
    _m(34, CORE, "    assert threshold_bps * (BPS + bonus_bps) < BPS * BPS, \"market: threshold x bonus >= 1\"\n", "", "dropped assert", "threshold x (1 + bonus) >= 1 allowed"),
    _m(35, CORE, "assert max_oracle_age >= MIN_ORACLE_AGE and", "assert max_oracle_age > MIN_ORACLE_AGE and", "off-by-one", "min oracle age exclusive"),
    _m(36, CORE, "assert slope2_apr >= slope1_apr", "assert slope2_apr > slope1_apr", "off-by-one", "slope2 must exceed slope1"),
    _m(37, CORE, "assert flash_fee_bps <= MAX_FLASH_FEE_BPS", "assert flash_fee_bps < MAX_FLASH_FEE_BPS", "off-by-one", "max flash fee exclusive"),
    _m(38, CORE, "assert dust_floor <= small_position", "assert dust_floor < small_position", "off-by-one", "dust must be below the small position"),
    _m(39, CORE, "    assert store._market & (action << store.MARKET_PAUSED_SHIFT) == 0, \"market: paused\"\n", "    pass\n", "dropped assert", "pauses ignored"),
    _m(40, CORE, "        assert store.is_authorized[on_behalf][msg.sender], \"market: not authorized\"\n", "        pass\n", "dropped assert", "anyone acts for anyone"),
    _m(41, CORE, "        return quotient + 1\n", "        return quotient\n", "rounding", "_ceil_div rounds down everywhere"),
    # ---- Market.vy: lenders ----
    _m(42, LENDING, "    shares: uint256 = core._shares_for(assets, erc20.totalSupply, market, book, False)\n", "    shares: uint256 = core._shares_for(assets, erc20.totalSupply, market, book, True)\n", "rounding", "deposit mints rounded up"),
    _m(43, LENDING, "    assets: uint256 = core._assets_for(shares, erc20.totalSupply, market, book, True)\n", "    assets: uint256 = core._assets_for(shares, erc20.totalSupply, market, book, False)\n", "rounding", "mint charges rounded down"),
    _m(44, LENDING, "    shares: uint256 = core._shares_for(assets, erc20.totalSupply, market, book, True)\n", "    shares: uint256 = core._shares_for(assets, erc20.totalSupply, market, book, False)\n", "rounding", "withdraw burns rounded down"),
    _m(45, LENDING, "    assets: uint256 = core._assets_for(shares, erc20.totalSupply, market, book, False)\n", "    assets: uint256 = core._assets_for(shares, erc20.totalSupply, market, book, True)\n", "rounding", "redeem pays rounded up"),
    _m(46, CORE, "math._mul_div(assets, supply + VIRTUAL_SHARES, self._total_assets(market, book) + VIRTUAL_ASSETS, roundup)", "math._mul_div(assets, supply + 1, self._total_assets(market, book) + VIRTUAL_ASSETS, roundup)", "removed term", "no virtual shares in assets->shares"),
    _m(47, LENDING, "    assert shares != 0, \"market: zero shares\"\n", "", "dropped assert", "zero-share deposits accepted"),
    _m(48, LENDING, "    assert assets <= book & store.MASK128, \"market: insufficient cash\"\n", "", "dropped assert", "withdraw beyond cash"),
    _m(49, VIEWS, "    return min(self._to_assets(erc20.balanceOf[owner], False), store._book & store.MASK128)\n", "    return self._to_assets(erc20.balanceOf[owner], False)\n", "removed term", "maxWithdraw ignores cash"),
    # ---- Market.vy: borrowers ----
    _m(50, BORROWING, "    added: uint256 = core._ceil_div(amount * core.WAD, index)\n", "    added: uint256 = amount * core.WAD // index\n", "rounding", "borrowed scaled debt rounds down"),
    _m(51, BORROWING, "    assert debt >= ((store._control >> store.CONTROL_MIN_BORROW_SHIFT) & store.MASK48) * core.BASE_UNIT, \"market: below min borrow\"\n", "", "dropped assert", "no minimum borrow"),
    _m(52, BORROWING, "    assert core._valuation(on_behalf, position, max_value(uint256), core.VALUE_OPEN_BORROW).borrow_value >= debt, \\", "    assert core._valuation(on_behalf, position, max_value(uint256), core.VALUE_OPEN_BORROW).borrow_value > debt, \\", "comparison", "borrow limit exclusive"),
    _m(53, BORROWING, "    assert cash >= amount, \"market: insufficient cash\"\n", "", "dropped assert", "borrow beyond cash"),
    _m(54, BORROWING, "        assert not v.target_stale, \"market: stale price\"\n", "", "dropped assert", "stale collateral withdrawable"),
    _m(55, BORROWING, "        assert v.borrow_value >= debt, \"market: exceeds borrow limit\"\n", "", "dropped assert", "withdrawal ignores the limit"),
    _m(56, BORROWING, "    repaid: uint256 = min(amount, debt)\n", "    repaid: uint256 = amount\n", "removed bound", "repay beyond the debt"),
    # ---- Market.vy: liquidation and flash loans ----
    _m(57, CORE, "    if v.liquidation_value >= debt:\n        assert not strict, \"market: position healthy\"\n", "    if v.liquidation_value > debt:\n        assert not strict, \"market: position healthy\"\n", "off-by-one", "liquidation at HF exactly 1"),
    _m(58, LIQUIDATION, "    if scaled_left != 0:\n", "    if False:\n", "skipped update", "no bad-debt write-off"),
    _m(59, LIQUIDATION, "    taken: uint256 = seized - fee\n", "    taken: uint256 = seized\n", "removed term", "protocol fee paid out twice"),
    _m(60, LIQUIDATION, "        assert sent >= min_out, \"market: slippage\"\n", "        pass\n", "dropped assert", "share-route slippage ignored"),
    _m(61, LIQUIDATION, "    store._assets[token] = unsafe_sub(word, taken << store.TOKEN_TOTAL_SHIFT)\n", "", "skipped update", "liquidation leaves total supplied"),
    _m(62, FLASH, "    core._pull(token, receiver.address, amount + fee)\n", "    core._pull(token, receiver.address, amount)\n", "removed term", "flash loan fee never pulled"),
    # M63 and M64 mutated the flash loan's fee booking and cash check, both
    # gone since the flash loan writes no storage; they now mutate the
    # surplus booking that replaced them (see also M71-M76).
    _m(63, ADMIN, "    new_book: uint256 = book + amount + (amount << store.BOOK_RESERVES_SHIFT)\n", "    new_book: uint256 = book + amount\n", "removed term", "surplus booked to cash only (lenders gain the fees)"),
    _m(64, ADMIN, "    market, book = core._accrue()\n    return (self._book_surplus(book) >> store.BOOK_RESERVES_SHIFT)", "    book = store._book\n    return (self._book_surplus(book) >> store.BOOK_RESERVES_SHIFT)", "skipped update", "book_surplus books without accruing first"),
    # ---- MarketAdmin.vy ----
    _m(65, ADMIN, "    if actions & core.PAUSE_LIQUIDATION != 0:\n        ownable._check_owner()\n    else:\n        self._check_guardian_or_owner()\n    store._market = store._market | (actions << store.MARKET_PAUSED_SHIFT)", "    self._check_guardian_or_owner()\n    store._market = store._market | (actions << store.MARKET_PAUSED_SHIFT)", "dropped check", "guardian may pause liquidation"),
    _m(66, ADMIN, "assert grace_period <= core.MAX_GRACE_PERIOD", "assert grace_period < core.MAX_GRACE_PERIOD", "off-by-one", "max grace exclusive"),
    _m(67, ADMIN, "    assert amount <= book >> store.BOOK_RESERVES_SHIFT, \"market: exceeds reserves\"\n", "", "dropped assert", "withdraw beyond reserves"),
    _m(68, ADMIN, "    store._book = book - amount - (amount << store.BOOK_RESERVES_SHIFT)\n", "    store._book = book - amount\n", "skipped update", "reserves not reduced on withdrawal"),
    _m(69, ADMIN, "    ownable._check_owner()\n    core._accrue()\n    core._set_rates(", "    ownable._check_owner()\n    core._set_rates(", "skipped update", "rate change without accruing at the old rate"),
    _m(70, CORE, "    if block.timestamp < store._control & store.MASK40:\n        assert not strict, \"market: liquidation grace period\"\n        return False\n", "", "dropped check", "liquidation and its preview ignore the grace period"),
    # ---- MarketAdmin.vy: the surplus booking ----
    _m(71, CORE, "    if held <= cash:\n", "    if held < cash:\n", "comparison", "surplus test strict (equivalent: at held == cash both return 0)"),
    _m(72, CORE, "    if held <= cash:\n        return 0\n", "", "dropped check", "surplus underflows when less than the cash is held (inside a flash loan)"),
    _m(73, CORE, "    if held <= cash:\n", "    if held <= cash + 1:\n", "off-by-one", "a one-unit surplus is never booked"),
    _m(74, ADMIN, "    book = self._book_surplus(book)\n", "", "skipped update", "withdraw_reserves does not book the surplus first"),
    _m(75, ADMIN, "    store._book = new_book\n", "", "skipped update", "booked surplus not stored"),
    _m(76, ADMIN, "reserves=new_book >> store.BOOK_RESERVES_SHIFT)", "reserves=book >> store.BOOK_RESERVES_SHIFT)", "wrong term", "SurplusBooked logs the reserves before booking"),
    # ---- market v2 (issue 13): pending NAV, compliance, sub-dust, accrual time, broken feeds ----
    _m(77, CORE, "                        if pending < price:\n", "                        if pending < price and mode == VALUE_WITHDRAW:\n", "dropped check", "borrowing ignores a lower pending NAV"),
    _m(78, CORE, "                if mode == VALUE_OPEN_BORROW and word & (store.FLAG_COMPLIANCE << store.CONFIG_FLAGS_SHIFT) != 0:\n", "                if mode == VALUE_LIQUIDATION and word & (store.FLAG_COMPLIANCE << store.CONFIG_FLAGS_SHIFT) != 0:\n", "dropped check", "a non-compliant owner borrows"),
    _m(79, BORROWING, "    if word & store.TOKEN_COMPLIANCE != 0:\n        assert core._is_compliant(on_behalf, asset_id), \"market: owner not compliant\"\n", "    if word & store.TOKEN_COMPLIANCE != 0:\n", "dropped check", "a non-compliant owner withdraws collateral"),
    _m(80, LIQUIDATION, "            remaining_value == 0 or remaining_value < ((control >> store.CONTROL_DUST_FLOOR_SHIFT) & store.MASK48) * core.BASE_UNIT\n", "            remaining_value == 0\n", "dropped check", "a sub-dust remnant keeps an insolvent debt alive"),
    _m(81, CORE, "    elif (market >> store.MARKET_ACCRUAL_SHIFT) & store.MASK32 != (store._market >> store.MARKET_ACCRUAL_SHIFT) & store.MASK32:\n        store._market = market\n", "", "skipped update", "the accrual time stands still while nothing accrues"),
    _m(82, CORE, "    if answer <= 0 or updated_at > block.timestamp:\n        return 0, True\n", "    if updated_at > block.timestamp:\n        return 0, True\n", "dropped check", "a non-positive answer is taken as a price"),
    # ---- the books that exceed the balance (issuer seizure or burn) ----
    _m(83, CORE, "        price = price * store._asset_ratio[asset_id] // WAD\n", "        pass\n", "skipped update", "a short asset priced at whole units"),
    _m(84, CORE, "    return booked * store._asset_ratio[asset_id] // WAD\n", "    return booked\n", "wrong term", "a short asset paid out at whole units (the last holder's transfer fails)"),
    _m(85, ADMIN, "        ratio = balance * core.WAD // booked\n", "        ratio = core._ceil_div(balance * core.WAD, booked)\n", "rounding", "the ratio rounds up (the books exceed the balance by a unit)"),
    _m(86, ADMIN, "            word = word | ((store.FLAG_FROZEN | store.FLAG_SHORT) << store.CONFIG_FLAGS_SHIFT)\n", "            word = word | (store.FLAG_SHORT << store.CONFIG_FLAGS_SHIFT)\n", "dropped check", "a new loss does not stop borrowing against the asset"),
    _m(87, ADMIN, "    assert frozen or token_word & store.TOKEN_SHORT == 0, \"market: asset short\"\n", "", "dropped assert", "a short asset unfrozen (new units booked at par)"),
]


def apply(m: Mutant, root: Path) -> None:
    path = root / m.file
    text = path.read_text()
    n = text.count(m.find)
    if n != 1:
        raise SystemExit(f"{m.id}: pattern found {n} times in {m.file} (the contract changed; update the mutant)")
    path.write_text(text.replace(m.find, m.replace))


def line_of(m: Mutant) -> int:
    text = (CONTRACTS / m.file).read_text()
    return text[: text.index(m.find)].count("\n") + 1 if m.find in text else 0


def run_suite(contracts: Path, profile: str, timeout: int, extra: list[str]) -> tuple[bool, str, float]:
    """Runs the property suite against ``contracts``; True if it passed."""
    env = dict(os.environ)
    env["NAVLEND_CONTRACTS_DIR"] = str(contracts)
    # A mutant is judged on its behaviour: one that only grows `Market`
    # past EIP-170 (it has 11 bytes left) must not count as killed.
    env["NAVLEND_CODE_SIZE_LIMIT"] = str(2 * 24_576)
    env["HYPOTHESIS_PROFILE"] = profile
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(ROOT / "tests" / "property"),
        "-p",
        "no:ape_test",
        "-p",
        "no:cacheprovider",
        "-x",
        "-q",
        "--no-header",
        "-m",
        "not ape",
        "--ignore",
        str(ROOT / "tests" / "property" / "test_property_findings.py"),
        *extra,
    ]
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, "timeout", time.perf_counter() - t
    out = (p.stdout + p.stderr).strip().splitlines()
    reason = ""
    for line in out:
        if "InvariantViolation:" in line or line.startswith("E   ") and not reason:
            reason = line.strip()[:160]
            if "InvariantViolation:" in line:
                break
    if p.returncode != 0 and not reason:
        reason = (out[-1] if out else f"exit {p.returncode}")[:160]
    return p.returncode == 0, reason, time.perf_counter() - t


def compiles(root: Path) -> tuple[bool, str]:
    """Compiles the market's contracts of a mutated tree (into the artifact
    cache, which the suite then reuses); False for a stillborn mutant."""
    code = (
        "import sys; sys.path.insert(0, %r); from propkit import artifacts; "
        "artifacts.load(%r, root=__import__('pathlib').Path(%r))"
    ) % (str(ROOT / "tests" / "property"), list(DEPLOYABLES), str(root))
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    tail = (p.stderr.strip().splitlines() or [""])[-1]
    return p.returncode == 0, tail[:160]


def mutate_and_run(m: Mutant, profile: str, timeout: int, extra: list[str]) -> tuple[Mutant, bool | None, str, float]:
    """(mutant, killed?, reason, seconds); killed is None if it does not
    compile."""
    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"navlend-{m.id}-") as tmp:
        root = Path(tmp) / "contracts"
        shutil.copytree(CONTRACTS, root)
        apply(m, root)
        ok, why = compiles(root)
        if not ok:
            return m, None, why, time.perf_counter() - t
        passed, reason, dt = run_suite(root, profile, timeout, extra)
    return m, not passed, reason, time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Mutation score of the property suite.")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", default="", help="comma-separated mutant ids")
    ap.add_argument("--profile", default="mutation")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per mutant (a timeout counts as killed)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--check", action="store_true", help="only check that every mutant applies")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args(argv)
    mutants = MUTANTS
    if args.only:
        ids = set(args.only.split(","))
        mutants = [m for m in MUTANTS if m.id in ids]
    if args.list or args.check:
        for m in mutants:
            if args.check:
                with tempfile.TemporaryDirectory() as tmp:
                    root = Path(tmp) / "contracts"
                    shutil.copytree(CONTRACTS, root)
                    apply(m, root)
            print(f"{m.id}  {m.file}:{line_of(m):<4} {m.op:15s} {m.description}")
        return 0
    t0 = time.perf_counter()
    if not args.no_baseline:
        ok, reason, dt = run_suite(CONTRACTS, args.profile, args.timeout, args.pytest_args)
        print(f"baseline (unmutated contracts): {'pass' if ok else 'FAIL'} in {dt:.0f} s {reason}", flush=True)
        if not ok:
            return 2
    for m in mutants:  # fail fast on a stale pattern, before any run
        text = (CONTRACTS / m.file).read_text()
        if text.count(m.find) != 1:
            raise SystemExit(f"{m.id}: pattern found {text.count(m.find)} times in {m.file}")
    killed: list[Mutant] = []
    survived: list[Mutant] = []
    invalid: list[Mutant] = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(mutate_and_run, m, args.profile, args.timeout, args.pytest_args) for m in mutants]
        for f in futures:
            m, was_killed, reason, dt = f.result()
            if was_killed is None:
                invalid.append(m)
                print(f"INVALID  {m.id} {m.file}:{line_of(m):<4} [{m.op}] {m.description}: does not compile ({reason})", flush=True)
                continue
            (killed if was_killed else survived).append(m)
            status = "KILLED  " if was_killed else "SURVIVED"
            print(f"{status} {m.id} {m.file}:{line_of(m):<4} [{m.op}] {m.description} ({dt:.0f} s){'  <- ' + reason if was_killed and reason else ''}", flush=True)
    total = len(killed) + len(survived)
    print()
    if survived:
        print("survivors: " + ", ".join(f"{m.id} ({m.description})" for m in survived))
    if invalid:
        print("invalid (not compiled, not counted): " + ", ".join(m.id for m in invalid))
    print(f"mutation score: {len(killed)}/{total} killed = {100 * len(killed) / max(total, 1):.1f} % in {time.perf_counter() - t0:.0f} s ({args.jobs} jobs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
