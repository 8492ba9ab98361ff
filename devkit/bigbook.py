"""A large book, fast: ``positions`` open positions over ``markets``
markets on anvil, written into storage instead of opened by transactions,
and saved as an anvil state a benchmark loads in seconds.

    python -m devkit.bigbook --positions 100000 --markets 3 --state out.json

How (``build_book``):

1. real transactions, automined: one world (``devkit.world``) and
   ``markets`` markets over it (``navlend.market.deploy_local_market``:
   every market lists fund A, fund C and the wrapper, so a NAV move on one
   fund hits every market), each with its periphery and the keeper's
   FlashLiquidator and its own deployments file ``<dir>/m<k>/local.json``;
2. the plan (:mod:`devkit.bigbook_plan`, pure): every position's
   collateral, scaled debt and intended health, at each market's prices
   and borrow index read from the chain;
3. real transactions again for everything outside the market's books: the
   issuer mints each fund's total (the wrapper's shares through
   ``wrapper.mint``) and transfers each market its share; a lender deposits
   each market's borrows / 80 %;
4. ``anvil_setStorageAt`` (JSON-RPC batches) for the market's books, at the
   slots the compiler's storage layout gives (``vyper -f layout``): every
   ``_positions`` word (scaled debt | asset bitmap | asset 0's collateral)
   and ``_collateral`` balance, the total scaled debt and last accrual
   (``_market``), the cash (``_book``: the borrows left it), each token's
   total supplied (``_assets``); and on the stablecoin the cash the borrows
   took out moves from the market to one sink address (:data:`SINK`).
   Each word is read first and checked against the market's views, so a
   wrong layout fails loudly instead of corrupting the book;
5. one empty block mined: the *seed block*. The book holds from it on.

The keeper's index is event-sourced, and a storage-written position has no
log: ``seed_index`` writes the book into a :class:`keepers.index.PositionIndex`
as the SupplyCollateral and Borrow facts it would have logged, dated the
seed block (real number and hash, synthetic transaction hash), and sets the
index's checkpoint there; the keeper resumes at the next block. Limits: a
keeper started with an empty index backfills from the deployment and finds
no position; the fund tokens' Transfer logs show the issuer's bulk
transfers to the markets, not one per borrower; borrowers hold no
stablecoin (the sink does) and are not allowlisted by the funds (a
borrower that borrows more must be allowlisted first; repay, liquidation
and the Lens need nothing).

``--state`` writes anvil's state (``anvil_dumpState``) and, beside it,
``<stem>.book.json`` (the plan, the seed block, the deployments) and the
deployments folders ``<stem>.deployments/m<k>/``; ``--index-dir`` also
writes each market's seeded keeper index. :func:`start_loaded` starts
anvil on that state with a 30,000,000 block gas limit and a block every
second: the blocks, their hashes and the deployment's logs come back, but
the clock resumes at the wall clock, so a state older than the NAV
oracles' age limit (100 hours) has stale prices (publish a NAV, or build
again: it is quick).

Measured here (2 cores, 2026-12-06): 10,000 positions over 3 markets in
7.4 s (state 6.3 MiB); 100,000 in 24.7 s (deploy 3.0, plan 4.5, storage
writes 6.3, dump 1.5, keeper indexes 6.6; state 28 MiB, book 20 MB, 380 MB
peak memory); loading the 100,000 state takes 0.4 s, and the Lens agreed
with the plan on all 100,000 positions after the load.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ape import accounts, chain, project
from ape.logging import logger as ape_logger
from eth_utils import to_checksum_address

from devkit.bigbook_plan import (
    AssetTerms,
    BookError,
    BookSpec,
    Holding,
    MarketTerms,
    PlannedPosition,
    book_word,
    index_records,
    mapping_slot,
    market_word,
    plan_book,
    position_writes,
    token_word,
    totals,
)
from devkit.devnet import Anvil, connect, deploy_local, keeper_deployment
from devkit.paths import ROOT
from devkit.processes import free_port
from keepers.index import PositionIndex
from navlend import deployments
from navlend.constants import WAD
from navlend.market import deploy_local_market, deploy_periphery, market_at

MARKET_SOURCE = "contracts/market/Market.vy"
STABLECOIN_SOURCE = "contracts/mocks/MockStablecoin.vy"
BLOCK_GAS_LIMIT = 30_000_000
BLOCK_TIME = 1
# Lenders deposit the borrows over this utilisation.
UTILIZATION_BPS = 8_000
# Storage writes per JSON-RPC batch.
WRITE_BATCH = 2_000
# Where the cash the seeded borrows took out sits.
SINK = to_checksum_address("0x000000000000000000000000000000000000b0b5")
NETWORK = "local"


class LayoutError(RuntimeError):
    """The compiler's storage layout, or the chain, disagrees with what the
    seeding expects."""


# ---- storage layout ----


@lru_cache(maxsize=None)
def layout_slots(source: str) -> dict[str, int]:
    """Storage slot of every variable of ``source`` (a path under the
    repository), from ``vyper -f layout``: keyed by the variable's name and
    by ``module.name``; a bare name two modules share is left out."""
    vyper = Path(sys.executable).with_name("vyper")
    result = subprocess.run(
        [str(vyper), "-f", "layout", source], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise LayoutError(f"vyper -f layout {source} failed: {result.stderr.strip()[-500:]}")
    return flatten_layout(json.loads(result.stdout)["storage_layout"])


def flatten_layout(tree: dict[str, Any], prefix: str = "") -> dict[str, int]:
    """``{"mod": {"var": {"slot": 7, ...}}}`` as ``{"mod.var": 7, "var": 7}``
    (bare names only when unique)."""
    full: dict[str, int] = {}

    def walk(node: dict[str, Any], path: str) -> None:
        for name, child in node.items():
            here = f"{path}.{name}" if path else name
            if isinstance(child, dict) and "slot" in child and "type" in child:
                full[here] = int(child["slot"])
            elif isinstance(child, dict):
                walk(child, here)

    walk(tree, prefix)
    bare: dict[str, list[int]] = {}
    for key, slot in full.items():
        bare.setdefault(key.rsplit(".", 1)[-1], []).append(slot)
    return {**{k: v[0] for k, v in bare.items() if len(v) == 1}, **full}


def slot_of(slots: dict[str, int], name: str) -> int:
    try:
        return slots[name]
    except KeyError:
        raise LayoutError(f"no storage variable {name!r} in the layout (have {sorted(slots)[:12]}...)") from None


# ---- the seeded book ----


@dataclass(frozen=True)
class SeededMarket:
    index: int
    market: str
    lens: str
    deployment_path: str
    borrow_index: int
    total_scaled: int
    borrowed: int


@dataclass(frozen=True)
class BigBook:
    """What ``build_book`` seeded, and where it holds."""

    spec: BookSpec
    markets: tuple[SeededMarket, ...]
    positions: tuple[PlannedPosition, ...]
    block_number: int
    block_hash: str

    def of_market(self, k: int) -> list[PlannedPosition]:
        return [p for p in self.positions if p.market == k]

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": asdict(self.spec),
            "markets": [asdict(m) for m in self.markets],
            "block_number": self.block_number,
            "block_hash": self.block_hash,
            "positions": [
                [p.market, p.account, [[h.asset_id, h.token, h.units] for h in p.holdings],
                 p.scaled_debt, p.debt, p.liquidation_value, p.health]
                for p in self.positions
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BigBook:
        return cls(
            spec=BookSpec(**data["spec"]),
            markets=tuple(SeededMarket(**m) for m in data["markets"]),
            positions=tuple(
                PlannedPosition(k, account, tuple(Holding(i, t, u) for i, t, u in holdings), scaled, debt, lv, hf)
                for k, account, holdings, scaled, debt, lv, hf in data["positions"]
            ),
            block_number=data["block_number"],
            block_hash=data["block_hash"],
        )


def _word(node: Any, address: str, slot: int) -> int:
    return int(node.rpc("eth_getStorageAt", address, hex(slot), "latest"), 16)


def write_storage(node: Any, address: str, writes: Sequence[tuple[int, int]]) -> None:
    """``anvil_setStorageAt`` for every ``(slot, value)``, in batches."""
    for start in range(0, len(writes), WRITE_BATCH):
        node.rpc_batch([
            ("anvil_setStorageAt", [address, "0x%064x" % slot, "0x%064x" % value])
            for slot, value in writes[start : start + WRITE_BATCH]
        ])


def read_terms(node: Any, market: Any, slots: dict[str, int], base_unit: int) -> MarketTerms:
    """The market's listed assets (config words from storage, prices from
    ``asset_price``), borrow index and minimum debt."""
    assets = []
    for i in range(market.asset_count()):
        token = str(market.asset_at(i))
        config = _word(node, str(market.address), mapping_slot(slot_of(slots, "_asset_config"), i))
        view = market.asset_config(token)
        terms = AssetTerms.from_config(token, i, config, market.asset_price(token)[0])
        if (terms.ltv_bps, terms.threshold_bps) != (view.ltv_bps, view.threshold_bps):
            raise LayoutError(f"asset {i}: config word says {terms.ltv_bps}/{terms.threshold_bps}, the view "
                              f"{view.ltv_bps}/{view.threshold_bps}")
        assets.append(terms)
    index = market.market_state()[3]
    return MarketTerms(tuple(assets), index, base_unit, market.control()[4])


def deploy_markets(count: int, deployer: Any, keeper: Any, directory: Path) -> tuple[Any, list[Any], list[Path]]:
    """One world and ``count`` markets over it, each with its periphery,
    the keeper's FlashLiquidator and ``<directory>/m<k>/local.json``."""
    lm = deploy_local(deployer, keeper, directory / "m0", network=NETWORK)
    markets, paths = [lm.market], [lm.deployment_path]
    for k in range(1, count):
        market = deploy_local_market(lm.world, deployer, guardian=deployer, treasury=deployer)
        periphery = deploy_periphery(lm.world, market, deployer)
        flash = keeper.deploy(project.FlashLiquidator, market)
        record = keeper_deployment(lm.world, market, periphery, flash, keeper, chain.provider.chain_id, NETWORK)
        markets.append(market)
        paths.append(deployments.save(record, directory / f"m{k}"))
    return lm.world, markets, paths


def fund_markets(world: Any, markets: Sequence[Any], units: Sequence[dict[str, int]], issuer: Any) -> None:
    """The issuer mints each token's total and transfers each market its
    share (the wrapper's shares: fund B minted, then ``wrapper.mint``)."""
    wrapper = str(world.wrapper.address)
    tokens = {t for u in units for t in u}
    contract = {str(c.address): c for c in (world.fund_a, world.fund_b, world.fund_c, world.wrapper)}
    for token in sorted(tokens):
        total = sum(u.get(token, 0) for u in units)
        if token == wrapper:
            need = world.wrapper.previewMint(total)
            world.fund_b.mint(issuer, need, sender=issuer)
            world.fund_b.approve(world.wrapper, need, sender=issuer)
            world.wrapper.mint(total, issuer, sender=issuer)
        elif token in contract:
            contract[token].mint(issuer, total, sender=issuer)
        else:
            raise BookError(f"token {token} is not one of the world's")
        for market, u in zip(markets, units):
            if u.get(token):
                contract[token].transfer(market, u[token], sender=issuer)


def lend(world: Any, market: Any, lender: Any, amount: int) -> None:
    world.stablecoin.mint(lender, amount, sender=lender)
    world.stablecoin.approve(market, amount, sender=lender)
    market.deposit(amount, lender, sender=lender)


def write_book(node: Any, world: Any, market: Any, positions: Sequence[PlannedPosition], borrow_index: int,
               slots: dict[str, int], coin_slots: dict[str, int]) -> tuple[int, int]:
    """The storage writes of one market's positions (module docstring,
    step 4); returns (total scaled, borrowed)."""
    addr = str(market.address)
    t = totals(positions, borrow_index)
    writes = position_writes(positions, slot_of(slots, "_positions"), slot_of(slots, "_collateral"))
    cash, _, _, index, scaled_before = market.market_state()
    mslot, bslot = slot_of(slots, "_market"), slot_of(slots, "_book")
    mword, bword = _word(node, addr, mslot), _word(node, addr, bslot)
    if (mword >> 160, mword & (2**112 - 1), bword & (2**128 - 1)) != (index, scaled_before, cash):
        raise LayoutError(f"{addr}: _market/_book words disagree with market_state()")
    if index != borrow_index:
        raise LayoutError(f"{addr}: borrow index moved from {borrow_index} to {index} since the plan")
    head = int(node.rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
    writes.append((mslot, market_word(mword, scaled_before + t.total_scaled, head)))
    writes.append((bslot, book_word(bword, t.borrowed)))
    aslot = slot_of(slots, "_assets")
    for token, added in t.units.items():
        tslot = mapping_slot(aslot, token)
        tword = _word(node, addr, tslot)
        if (tword >> 16) & (2**120 - 1) != market.asset_config(token).total_supplied:
            raise LayoutError(f"{addr}: _assets word of {token} disagrees with asset_config()")
        writes.append((tslot, token_word(tword, added)))
    write_storage(node, addr, writes)
    # The borrowed cash leaves the market's stablecoin balance for the sink.
    coin = str(world.stablecoin.address)
    bal = slot_of(coin_slots, "balanceOf")
    at_market, at_sink = mapping_slot(bal, addr), mapping_slot(bal, SINK)
    held = _word(node, coin, at_market)
    if held != world.stablecoin.balanceOf(market):
        raise LayoutError("the stablecoin's balanceOf slot disagrees with balanceOf()")
    write_storage(node, coin, [(at_market, held - t.borrowed), (at_sink, _word(node, coin, at_sink) + t.borrowed)])
    return t.total_scaled, t.borrowed


def build_book(node: Any, spec: BookSpec, directory: Path, deployer: Any, keeper: Any,
               say: Callable[[str], None] = lambda _: None) -> BigBook:
    """Seeds ``spec`` on ``node`` (anvil, automining, Ape connected to it;
    module docstring). ``deployer`` is the issuer, owner and lender."""
    t0 = time.monotonic()
    world, markets, paths = deploy_markets(spec.markets, deployer, keeper, directory)
    say(f"deployed world + {spec.markets} markets in {time.monotonic() - t0:.1f} s")
    slots, coin_slots = layout_slots(MARKET_SOURCE), layout_slots(STABLECOIN_SOURCE)
    base_unit = 10 ** world.stablecoin.decimals()
    terms = [read_terms(node, m, slots, base_unit) for m in markets]
    t1 = time.monotonic()
    positions = plan_book(spec, terms)
    per_market = [[p for p in positions if p.market == k] for k in range(spec.markets)]
    sums = [totals(ps, terms[k].borrow_index) for k, ps in enumerate(per_market)]
    say(f"planned {len(positions)} positions in {time.monotonic() - t1:.1f} s")
    t2 = time.monotonic()
    fund_markets(world, markets, [s.units for s in sums], deployer)
    for market, s in zip(markets, sums):
        lend(world, market, deployer, -(-s.borrowed * 10_000 // UTILIZATION_BPS) + base_unit)
    say(f"funded the markets in {time.monotonic() - t2:.1f} s")
    t3 = time.monotonic()
    seeded = []
    lenses = [json.loads(Path(p).read_text())["contracts"]["lens"]["address"] for p in paths]
    for k, market in enumerate(markets):
        total_scaled, borrowed = write_book(node, world, market, per_market[k], terms[k].borrow_index, slots, coin_slots)
        seeded.append(SeededMarket(k, str(market.address), lenses[k], str(paths[k]), terms[k].borrow_index,
                                   total_scaled, borrowed))
    node.rpc("evm_mine")
    block = node.rpc("eth_getBlockByNumber", "latest", False)
    say(f"wrote the books in {time.monotonic() - t3:.1f} s")
    return BigBook(spec, tuple(seeded), positions, int(block["number"], 16), block["hash"].lower())


# ---- the keeper's index ----


def seed_index(index: PositionIndex, book: BigBook, k: int) -> int:
    """Writes market ``k``'s positions into ``index`` (that market's) as
    facts of the seed block, and sets its checkpoint there. Returns the
    records applied."""
    seeded = book.markets[k]
    if index.market != seeded.market:
        raise BookError(f"index of {index.market} given for market {k} ({seeded.market})")
    records = index_records(book.of_market(k), book.block_number, book.block_hash, seeded.borrow_index)
    applied = index.apply(records).applied
    index.set_checkpoint(book.block_number, book.block_hash)
    return applied


# ---- checks ----


@dataclass(frozen=True)
class SampleCheck:
    checked: int
    mismatches: tuple[str, ...]


def check_sample(book: BigBook, size: int, seed: int = 0) -> SampleCheck:
    """Lens figures of ``size`` random positions against the plan, all
    read at one block: the value at the threshold exactly, the debt as the
    planned scaled debt at the market's index then, and the health as
    their quotient (the plan's own health is at the seed's index; interest
    since moves it). Needs Ape connected."""
    rng = random.Random(seed)
    picks = rng.sample(range(len(book.positions)), min(size, len(book.positions)))
    head = chain.blocks.head.number
    mismatches = []
    for k, seeded in enumerate(book.markets):
        mine = [book.positions[i] for i in picks if book.positions[i].market == k]
        if not mine:
            continue
        lens, market = project.Lens.at(seeded.lens), market_at(seeded.market)
        index = market.market_state(block_id=head)[3]
        for start in range(0, len(mine), 500):
            part = mine[start : start + 500]
            for p, h in zip(part, lens.healths(seeded.market, [p.account for p in part], block_id=head)):
                debt = -(-p.scaled_debt * index // WAD)
                want = (p.liquidation_value, debt, p.liquidation_value * WAD // debt)
                got = (h.liquidation_value, h.debt, h.health_factor)
                if got != want:
                    mismatches.append(f"{p.account} (market {k}): (value at threshold, debt, health) {got}, "
                                      f"planned {want}")
    return SampleCheck(len(picks), tuple(mismatches))


# ---- anvil and the CLI ----


def anvil_args(block_time: int | None) -> tuple[str, ...]:
    """A real block gas limit, and interval mining when ``block_time``."""
    return ("--gas-limit", str(BLOCK_GAS_LIMIT), *(("--block-time", str(block_time)) if block_time else ()))


def start_loaded(state: Path, state_dir: Path, block_time: int = BLOCK_TIME) -> Anvil:
    """anvil on a free port with ``state`` (a ``--state`` file) loaded, a
    30,000,000 gas block limit and a block every ``block_time`` seconds."""
    if not state.exists():
        raise FileNotFoundError(f"no anvil state at {state}")
    return Anvil(port=free_port(), state_dir=state_dir, persist=False,
                 extra_args=(*anvil_args(block_time), "--load-state", str(state))).start()


def dump_state(node: Any, path: Path) -> int:
    """Writes anvil's state (``anvil_dumpState``, gunzipped) to ``path``;
    returns its size in bytes."""
    raw = bytes.fromhex(node.rpc("anvil_dumpState").removeprefix("0x"))
    data = gzip.decompress(raw)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data)


def book_path(state: Path) -> Path:
    return state.with_name(state.stem + ".book.json")


def load_book(state: Path) -> BigBook:
    """The book saved beside a ``--state`` file."""
    return BigBook.from_json(json.loads(book_path(state).read_text()))


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.bigbook", description=__doc__.split("\n\n")[0])
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--markets", type=int, default=3)
    parser.add_argument("--state", type=Path, required=True, help="anvil state file to write (JSON)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--underwater", type=int, default=0, help="positions per market below health 1")
    parser.add_argument("--check", type=int, default=200, help="positions checked against the Lens (0: none)")
    parser.add_argument("--index-dir", type=Path, help="also write each market's keeper index, <dir>/m<k>.sqlite")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        spec = BookSpec(args.positions, args.markets, seed=args.seed, underwater=args.underwater)
    except BookError as err:
        parser.error(str(err))
    state = args.state.resolve()
    ape_logger.set_level("WARNING")  # not a line per deployment and transaction
    started = time.monotonic()
    anvil = Anvil(port=free_port(), state_dir=state.with_name(state.stem + ".anvil"), persist=False,
                  start_time=int(time.time()), extra_args=anvil_args(None))
    anvil.start()
    try:
        with connect(anvil.url):
            test = accounts.test_accounts
            book = build_book(anvil, spec, state.with_name(state.stem + ".deployments"), test[0], test[5], say=print)
            if args.check:
                result = check_sample(book, args.check)
                print(f"checked {result.checked} positions against the Lens: {len(result.mismatches)} mismatches")
                for line in result.mismatches[:10]:
                    print("  " + line)
                if result.mismatches:
                    return 1
        t = time.monotonic()
        size = dump_state(anvil, state)
        book_path(state).write_text(json.dumps(book.to_json()))
        print(f"state {state} ({size / 2**20:.1f} MiB) and book {book_path(state)} written in {time.monotonic() - t:.1f} s")
        if args.index_dir is not None:
            t = time.monotonic()
            for k, seeded in enumerate(book.markets):
                index = PositionIndex(args.index_dir / f"m{k}.sqlite", seeded.market)
                seed_index(index, book, k)
                index.close()
            print(f"keeper indexes in {args.index_dir} written in {time.monotonic() - t:.1f} s")
    finally:
        anvil.stop()
    print(f"{spec.positions} positions over {spec.markets} markets in {time.monotonic() - started:.1f} s "
          f"(seed block {book.block_number})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
