"""The keeper on the 100,000-position book (issue 17, "The benchmark"):
figures printed beside their targets, never a timed test.

    python -m devkit.bench_book [--positions 100000] [--steady-blocks 30] [--json out.json]

1. the book: ``devkit.bigbook``'s state (``positions`` over three markets,
   each market's keeper index seeded), built once and kept under
   ``.build/bench_book/<key>/`` (the key is the spec); each run starts anvil
   on it (30M gas, a block a second, ``start_loaded``) and publishes the
   same NAVs again when the state's are older than a day;
2. the keeper under test runs as processes (:class:`ProcessSpec`: command,
   environment, working directory) through a counting JSON-RPC proxy
   (``devkit.faultproxy``: every batch element counts as a call); after
   ``warmup`` blocks, ``steady`` blocks give the keeper's work per block
   (timed inside its processes by ``devkit.bench_probe``: the per-block
   method's wall time, summed over the processes per block) and the RPC
   calls per block;
3. a NAV drop on every fund, chosen from the plan (``bench_book_figures
   .choose_drop``) to sink 1 % of the positions: the blocks from the NAV
   update's block to the last liquidation's, how many were liquidated
   against how many were liquidatable (the Lens at the NAV block), gas per
   position from the receipts;
4. the same drop on a fresh chain with the keeper split over scan-worker
   processes (``--split``), each in its own working directory;
5. the keeper's peak resident memory (VmHWM of its process trees) per
   100,000 positions.

The keeper under test is a :data:`KeeperFactory`: given the run (the
proxy's URL, the three deployments files, the seeded index per market, a
working directory) it returns the :class:`KeeperUnderTest` to launch.
The default is :func:`fleet_keeper` (issue 17's: one process over the
three markets, health from the index); :func:`single_market_keepers` is
issue 16's (one ``keepers.bots.liquidator`` process per market, signers
TEST::5-7, the FlashLiquidators of markets 1 and 2 deployed again for
their signers), kept for side-by-side figures (``--keeper
devkit.bench_book:single_market_keepers``). The split is
:func:`hosts_split` (the keeper on several hosts: a submitter, a
dispatcher and two scanner workers, on Redis and one PostgreSQL database).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import redis as redis_client
import structlog
from ape import accounts, project
from eth_utils import keccak, to_checksum_address

from devkit import bench_probe
from devkit.bench_book_figures import (
    BenchReport,
    DropFigures,
    FiguresError,
    ProbeRecord,
    block_work,
    call_rate,
    choose_drop,
    health_now,
    parse_probe_lines,
    parse_vmhwm,
    render,
)
from devkit.bigbook import BigBook, load_book, seed_index, start_loaded
from devkit.bigbook_plan import BookSpec
from devkit.devnet import connect
from devkit.faultproxy import FaultProxy
from devkit.paths import ROOT
from devkit.processes import KEEPER_READY, NETWORK, RUNNER, bot_environment, free_port, silverback_bin
from devkit.world import attach_world
from keepers.chain import decode_healths
from keepers.index import PositionIndex
from keepers.markets import market_db_path
from keepers.scale import broker_env, ensure_redis
from keepers.store_server import ensure_postgres
from navlend import deployments
from navlend.constants import BPS
from navlend.market import market_at
from navlend.timeutil import next_business_day_strike

log = structlog.get_logger("devkit.bench_book")

CACHE_VERSION = 1
DEFAULT_CACHE = ROOT / ".build" / "bench_book"
FRESH_SECONDS = 86_400
LENS_CHUNK = 500
LIQUIDATE_TOPIC = "0x" + keccak(
    text="Liquidate(address,address,address,address,uint256,uint256,uint256,uint256,uint256,uint256)").hex()
# Test accounts: the deployer (issuer, NAV updater and guardian) and the keepers' signers.
DEPLOYER = 0
FIRST_SIGNER = 5


class BenchError(RuntimeError):
    """The benchmark could not run (a process died, the book is wrong)."""


# ---- the book, cached ----


@dataclass(frozen=True)
class CachedBook:
    directory: Path

    @property
    def state(self) -> Path:
        return self.directory / "state.json"

    @property
    def index_dir(self) -> Path:
        return self.directory / "index"

    def deployments(self, k: int) -> Path:
        return self.directory / "state.deployments" / f"m{k}" / "local.json"

    def book(self) -> BigBook:
        return load_book(self.state)


def cache_key(spec: BookSpec) -> str:
    fields = json.dumps({"v": CACHE_VERSION, **asdict(spec)}, sort_keys=True)
    return f"p{spec.positions}-m{spec.markets}-" + hashlib.sha256(fields.encode()).hexdigest()[:12]


def ensure_book(spec: BookSpec, cache_root: Path = DEFAULT_CACHE) -> CachedBook:
    """The cached state of ``spec``, built (``python -m devkit.bigbook``,
    into a scratch directory renamed when complete) when missing."""
    target = CachedBook(cache_root / cache_key(spec))
    if (target.directory / "done").exists():
        return target
    scratch = cache_root / f".{cache_key(spec)}.{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    args = [sys.executable, "-m", "devkit.bigbook", "--positions", str(spec.positions), "--markets",
            str(spec.markets), "--seed", str(spec.seed), "--underwater", str(spec.underwater),
            "--state", str(scratch / "state.json"), "--index-dir", str(scratch / "index"), "--check", "200"]
    print(f"building the book ({spec.positions:,} positions, {spec.markets} markets) in {scratch} ...", flush=True)
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"devkit.bigbook failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    print("  " + done.stdout.strip().replace("\n", "\n  "), flush=True)
    (scratch / "done").write_text(json.dumps(asdict(spec)))
    shutil.rmtree(target.directory, ignore_errors=True)
    scratch.rename(target.directory)
    return target


# ---- the keeper under test ----


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the keeper: its command, its own variables (over
    this process's environment without the bots' settings), the directory
    of its log (``<logdir>/<name>.log``) and files, the log line that says
    it is up (None: none awaited), and its working directory (the
    repository by default: Ape finds the project's contracts in its cwd)."""

    name: str
    args: tuple[str, ...]
    env: Mapping[str, str]
    logdir: Path
    ready_marker: str | None = KEEPER_READY
    cwd: Path = ROOT
    # Processes of one group are up when ONE of them logged its marker (a
    # sharded keeper's start-up task runs in whichever worker takes it).
    ready_group: str | None = None


@dataclass(frozen=True)
class KeeperUnderTest:
    label: str
    processes: tuple[ProcessSpec, ...]
    # The signers whose transactions are the keeper's (gas per position).
    signers: tuple[str, ...]
    probe_target: str = bench_probe.DEFAULT_TARGET


@dataclass(frozen=True)
class BookRun:
    """What a keeper factory is given: the chain through the counting
    proxy, each market's deployments file and seeded index (a SQLite path,
    or a PostgreSQL URL when the factory asked for one), a working
    directory of its own, and helpers on the chain."""

    node_url: str
    deployments: tuple[Path, ...]
    indexes: tuple[str, ...]
    workdir: Path
    chain: ChainDesk


@dataclass(frozen=True)
class SplitServices:
    """What a split keeper shares, on loopback: a Redis database per
    market (``redis_urls[k]``) and the PostgreSQL cluster holding each
    market's seeded index (``BookRun.indexes[k]`` are its URLs)."""

    redis_urls: tuple[str, ...]
    postgres_url: str


KeeperFactory = Callable[[BookRun], KeeperUnderTest]
SplitFactory = Callable[[BookRun, SplitServices], KeeperUnderTest]


@dataclass
class Launched:
    specs: tuple[ProcessSpec, ...]
    procs: list[subprocess.Popen] = field(default_factory=list)

    def log_path(self, spec: ProcessSpec) -> Path:
        return spec.logdir / f"{spec.name}.log"

    def text(self, spec: ProcessSpec) -> str:
        try:
            return self.log_path(spec).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, spec: ProcessSpec, lines: int = 30) -> str:
        return f"{spec.name}:\n" + "\n".join(self.text(spec).splitlines()[-lines:])

    def check_alive(self) -> None:
        for spec, proc in zip(self.specs, self.procs):
            if proc.poll() is not None:
                raise BenchError(f"{spec.name} exited ({proc.returncode}):\n{self.tail(spec)}")

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Until every group (a process without one is its own) has a
        process that logged its ready marker."""
        deadline = time.monotonic() + timeout
        groups: dict[str, list[ProcessSpec]] = {}
        for spec in self.specs:
            if spec.ready_marker:
                groups.setdefault(spec.ready_group or spec.name, []).append(spec)
        while groups:
            self.check_alive()
            groups = {g: specs for g, specs in groups.items()
                      if not any(s.ready_marker in self.text(s) for s in specs)}
            if groups and time.monotonic() > deadline:
                waiting = [s for specs in groups.values() for s in specs]
                raise BenchError(f"not ready after {timeout:.0f} s:\n" + "\n".join(self.tail(s) for s in waiting))
            time.sleep(0.5)

    def peak_rss_by_process(self) -> dict[str, float]:
        """Each launched process's VmHWM plus its children's (MiB)."""
        out = {}
        for spec, proc in zip(self.specs, self.procs):
            total = 0
            for pid in _tree(proc.pid):
                try:
                    total += parse_vmhwm(Path(f"/proc/{pid}/status").read_text())
                except (OSError, FiguresError):
                    continue
            out[spec.name] = round(total / 1024, 1)
        return out

    def peak_rss_mib(self) -> float:
        """Sum of VmHWM over every launched process and its children."""
        return round(sum(self.peak_rss_by_process().values()), 1)

    def stop(self, timeout: float = 30.0) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for children in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo += [int(c) for c in children.read_text().split()]
            except OSError:
                continue
    return out


def launch(specs: Sequence[ProcessSpec], probe_dir: Path | None = None,
           probe_target: str = bench_probe.DEFAULT_TARGET) -> Launched:
    """Starts every process (output to ``<logdir>/<name>.log``), probed
    when ``probe_dir`` is given."""
    launched = Launched(tuple(specs))
    for spec in specs:
        env = dict(spec.env)
        if probe_dir is not None:
            base = {"PYTHONPATH": env.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))}
            target = spec.env.get(bench_probe.ENV_TARGET, probe_target)
            env.update(bench_probe.probe_environment(probe_dir, target, base))
        spec.logdir.mkdir(parents=True, exist_ok=True)
        with open(launched.log_path(spec), "wb") as out:
            launched.procs.append(subprocess.Popen(list(spec.args), env=bot_environment(env), cwd=spec.cwd,
                                                   stdout=out, stderr=subprocess.STDOUT))
    return launched


def _keeper_args(module: str = "keepers.bots.liquidator:bot") -> tuple[str, ...]:
    return (silverback_bin(), "run", module, "--network", NETWORK, "-x", "10", "--runner", RUNNER)


def _base_env(run: BookRun, k: int, signer: int) -> dict[str, str]:
    return {
        "APE_FOUNDRY_HOST": run.node_url,
        "NAVLEND_KEEPER_DEPLOYMENTS_FILE": str(run.deployments[k]),
        "NAVLEND_KEEPER_SIGNER_ALIAS": f"TEST::{signer}",
        "NAVLEND_KEEPER_METRICS_PORT": str(free_port()),
        "SILVERBACK_BOT_NAME": f"bench-keeper-m{k}-{os.getpid()}",
        # The repository's ape-config.yaml and contracts, whatever the cwd.
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
    }


def _index_env(location: str) -> dict[str, str]:
    if location.startswith("postgresql://"):
        return {"NAVLEND_KEEPER_DB_URL": location}
    return {"NAVLEND_KEEPER_DB_PATH": location}


def single_market_keepers(run: BookRun) -> KeeperUnderTest:
    """Today's keeper: one ``keepers.bots.liquidator`` process per market
    (signer TEST::5+k, its own FlashLiquidator), all in one host."""
    specs, signers = [], []
    for k in range(len(run.deployments)):
        signer = FIRST_SIGNER + k
        env = {**_base_env(run, k, signer), **_index_env(run.indexes[k])}
        if k:
            env["NAVLEND_KEEPER_FLASH_LIQUIDATOR"] = run.chain.flash_liquidator_for(k, signer)
        specs.append(ProcessSpec(f"keeper-m{k}", _keeper_args(), env, run.workdir / f"keeper-m{k}"))
        signers.append(run.chain.address(signer))
    return KeeperUnderTest(f"{len(specs)} single-market keepers (keepers.bots.liquidator, one process per market)",
                           tuple(specs), tuple(signers))


def _fleet_env(run: BookRun, signer: int) -> dict[str, str]:
    """One keeper over every market (``DEPLOYMENTS``): the first market's
    settings of :func:`_base_env`, every deployments file named."""
    env = _base_env(run, 0, signer)
    env.pop("NAVLEND_KEEPER_DEPLOYMENTS_FILE")
    env["NAVLEND_KEEPER_DEPLOYMENTS"] = ",".join(str(p) for p in run.deployments)
    env["SILVERBACK_BOT_NAME"] = f"bench-fleet-{os.getpid()}"
    return env


def fleet_keeper(run: BookRun) -> KeeperUnderTest:
    """Issue 17's keeper: ONE ``keepers.bots.liquidator`` process over the
    three markets (``DEPLOYMENTS``: one head read, one getLogs and one
    transaction manager per block for all), health from the index (the
    default), signer TEST::5 (every market's FlashLiquidator is its). The
    seeded indexes go where the several-market keeper keeps them
    (``keepers.markets.market_db_path`` beside ``DB_PATH``). Timed at
    ``Fleet.on_block``, the block's whole work."""
    db_path = run.workdir / "index.sqlite"
    for k, seeded in enumerate(run.indexes):
        shutil.copyfile(seeded, market_db_path(db_path, run.chain.book.markets[k].market))
    env = {**_fleet_env(run, FIRST_SIGNER), "NAVLEND_KEEPER_DB_PATH": str(db_path)}
    spec = ProcessSpec("keeper", _keeper_args(), env, run.workdir / "keeper")
    return KeeperUnderTest("one keeper over the 3 markets (keepers.bots.liquidator, DEPLOYMENTS), health from the index",
                           (spec,), (run.chain.address(FIRST_SIGNER),), probe_target="keepers.fleet:Fleet.on_block")


def hosts_split(run: BookRun, services: SplitServices, workers: int = 2) -> KeeperUnderTest:
    """Issue 17's keeper on several hosts (keepers/README.md, "When to
    scale out, and how"): the submitter (the index writer, a fleet over the
    three markets, the only signer), the dispatcher and ``workers`` scanner
    workers on Redis, each reading the shards (market x address range)
    from the one PostgreSQL database, each in a directory of its own;
    shared: the Redis and PostgreSQL URLs and the node. Timed at the
    submitter's ``HostSubmitter.on_block`` and the workers' shard tasks."""
    redis_url = services.redis_urls[0]
    common = {**_fleet_env(run, FIRST_SIGNER), "NAVLEND_KEEPER_DB_URL": run.indexes[0],
              "NAVLEND_KEEPER_SHARD_COUNT": str(workers), "NAVLEND_KEEPER_REDIS_URL": redis_url}
    submitter = {**common, bench_probe.ENV_TARGET: "keepers.hostsubmit:HostSubmitter.on_block"}
    scan = {**common, **broker_env(redis_url), "NAVLEND_KEEPER_SCAN_METRICS_PORT": str(free_port()),
            "NAVLEND_KEEPER_SCAN_METRICS_PORTS": "8", bench_probe.ENV_TARGET: "keepers.hosts:ScannerWorker.run"}
    specs = [ProcessSpec("submitter", _keeper_args("keepers.bots.submitter:bot"), submitter,
                         run.workdir / "submitter", "submitter started")]
    for w in range(workers):
        args = (silverback_bin(), "worker", "keepers.bots.scanner:bot", "-w", "1", "--network", NETWORK)
        specs.append(ProcessSpec(f"worker-{w}", args, scan, run.workdir / f"worker-{w}", "scanner worker ready"))
    specs.append(ProcessSpec("dispatcher", _keeper_args("keepers.bots.scanner:bot"), scan,
                             run.workdir / "dispatcher", None))
    return KeeperUnderTest(f"several hosts: a submitter (index writer, the 3 markets), a dispatcher and {workers} "
                           "scanner workers on Redis, the index on PostgreSQL", tuple(specs),
                           (run.chain.address(FIRST_SIGNER),))


def postgres_one_database(cached: CachedBook, server: Any) -> Callable[[int, Path], str]:
    """Every market's index seeded into ONE database on ``server`` (a
    schema each, as the keeper on several hosts keeps them); the location
    maker returns its URL for every market."""
    book = cached.book()
    made: dict[str, str] = {}

    def location(k: int, workdir: Path) -> str:
        if "url" not in made:
            made["url"] = server.create_database(f"bench_hosts_{os.getpid()}")
        index = PositionIndex(made["url"], book.markets[k].market)
        seed_index(index, book, k)
        index.close()
        return made["url"]

    return location


# ---- the chain ----


class ChainDesk:
    """The harness's own hand on the loaded chain (straight to anvil, never
    through the proxy): blocks, the NAV oracles, the Lens, receipts. Needs
    Ape connected to ``anvil``."""

    def __init__(self, anvil: Any, book: BigBook, deployment: Path):
        self.anvil, self.book = anvil, book
        self._accounts = accounts.test_accounts
        self.world = attach_world(deployments.load("local", deployment.parent))
        self.oracles = (self.world.oracle_a, self.world.oracle_b, self.world.oracle_c)
        self.markets = [market_at(m.market) for m in book.markets]
        self.lenses = [project.Lens.at(m.lens) for m in book.markets]
        self._project = project
        self._flash: dict[tuple[int, int], str] = {}

    def address(self, i: int) -> str:
        return str(self._accounts[i].address)

    def head(self) -> int:
        return self.anvil.block_number()

    def timestamp(self) -> int:
        return int(self.anvil.rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)

    def wait_blocks(self, count: int, check: Callable[[], None] = lambda: None) -> int:
        """Waits until ``count`` more blocks are mined; returns the head."""
        target = self.head() + count
        while (head := self.head()) < target:
            check()
            time.sleep(0.2)
        return head

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No mining inside (transactions wait in the pool); a block a second after."""
        self.anvil.rpc("evm_setIntervalMining", 0)
        self.anvil.rpc("evm_setAutomine", False)
        try:
            yield
        finally:
            self.anvil.rpc("evm_setIntervalMining", 1)

    def flash_liquidator_for(self, k: int, signer: int) -> str:
        """A FlashLiquidator on market ``k`` owned by account ``signer``."""
        if (k, signer) not in self._flash:
            self.anvil.rpc("evm_setAutomine", True)
            try:
                flash = self._accounts[signer].deploy(self._project.FlashLiquidator, self.markets[k])
            finally:
                self.anvil.rpc("evm_setAutomine", False)
                self.anvil.rpc("evm_setIntervalMining", 1)
            self._flash[(k, signer)] = str(flash.address)
        return self._flash[(k, signer)]

    def publish_navs(self, kept_bps: int) -> int:
        """Every fund's NAV times ``kept_bps`` / 10,000, struck at the next
        business-day strike, published (and confirmed when the move is
        over the oracle's bound) in ONE block, stamped a minute after the
        strike; returns that block."""
        deployer = self.address(DEPLOYER)
        confirms = []
        latest = 0
        for oracle in self.oracles:
            _, answer, _, as_of, _ = oracle.latestRoundData()
            latest = max(latest, as_of + oracle.min_interval() - 1)
            nav = answer * kept_bps // BPS
            if abs(nav - answer) * BPS > oracle.max_move_bps() * answer:
                confirms.append(oracle)
        strike = next_business_day_strike(max(latest, self.timestamp() - 1))
        txs = []
        for oracle in self.oracles:
            _, answer, _, _, _ = oracle.latestRoundData()
            txs.append((oracle, oracle.publish.encode_input(answer * kept_bps // BPS, strike)))
        txs += [(o, o.confirm_pending.encode_input()) for o in confirms]
        return self.send_in_one_block(txs, at=strike + 60)

    def send_in_one_block(self, txs: Sequence[tuple[Any, Any]], at: int | None = None) -> int:
        """The deployer's ``(contract, calldata)`` transactions mined
        together in one block (stamped ``at`` or later); returns it."""
        deployer = self.address(DEPLOYER)
        with self.paused():
            nonce = int(self.anvil.rpc("eth_getTransactionCount", deployer, "pending"), 16)
            hashes = self.anvil.rpc_batch([
                ("eth_sendTransaction", [{"from": deployer, "to": str(c.address), "data": _hex(data),
                                          "gas": hex(400_000), "nonce": hex(nonce + i)}])
                for i, (c, data) in enumerate(txs)
            ])
            self.anvil.rpc("evm_setNextBlockTimestamp", hex(max(at or 0, self.timestamp() + 1)))
            self.anvil.rpc("evm_mine")
        blocks = set()
        for h in hashes:
            receipt = self.anvil.rpc("eth_getTransactionReceipt", h)
            if receipt is None or int(receipt["status"], 16) != 1:
                raise BenchError(f"transaction {h} failed: {receipt}")
            blocks.add(int(receipt["blockNumber"], 16))
        if len(blocks) != 1:
            raise BenchError(f"the transactions were mined in blocks {sorted(blocks)}, not one")
        return blocks.pop()

    def deepen_facilities(self) -> int:
        """Each fund's redemption facility gets the book's whole borrowed
        cash as liquidity and as its daily limit, so the world's
        facilities (5M liquidity, 2.5M a day) never cap the keeper;
        returns the block."""
        amount = sum(m.borrowed for m in self.book.markets)
        coin = self.world.stablecoin
        txs = []
        for facility in (self.world.facility_a, self.world.facility_b, self.world.facility_c):
            txs.append((facility, facility.set_daily_limit.encode_input(amount)))
            txs.append((coin, coin.mint.encode_input(str(facility.address), amount)))
        return self.send_in_one_block(txs)

    def navs_stale(self, now: int) -> bool:
        return any(now - o.latestRoundData()[3] > FRESH_SECONDS for o in self.oracles)

    def healths_now(self) -> list[int]:
        """The plan's healths at each market's borrow index now."""
        index_now = [m.market_state()[3] for m in self.markets]
        return [health_now(p.health, self.book.markets[p.market].borrow_index, index_now[p.market])
                for p in self.book.positions]

    def liquidatable(self, accounts_by_market: Sequence[Sequence[str]], block: int | str = "latest") -> set[str]:
        """``"<k>:<account>"`` of the accounts the Lens says are
        liquidatable at ``block``: one batch of raw ``eth_call``s, read by
        the keeper's own decoder (Ape's takes minutes at 100,000)."""
        tag = hex(block) if isinstance(block, int) else block
        calls, parts = [], []
        for k, accounts_k in enumerate(accounts_by_market):
            lens, market = str(self.lenses[k].address), str(self.markets[k].address)
            for start in range(0, len(accounts_k), LENS_CHUNK):
                part = list(accounts_k[start : start + LENS_CHUNK])
                data = _hex(self.lenses[k].healths.encode_input(market, part))
                calls.append(("eth_call", [{"to": lens, "data": data}, tag]))
                parts.append((k, part))
        out = set()
        for start in range(0, len(calls), 20):
            answers = self.anvil.rpc_batch(calls[start : start + 20])
            for (k, part), raw in zip(parts[start : start + 20], answers):
                healths = decode_healths(bytes.fromhex(raw.removeprefix("0x")), part)
                out |= {f"{k}:{a}" for a, h in zip(part, healths) if h.liquidatable}
        return out

    def liquidations(self, since: int) -> list[Liquidation]:
        """Every market's ``Liquidate`` logs from block ``since`` on (raw
        ``eth_getLogs``: the borrower is the second indexed topic)."""
        logs = self.anvil.rpc("eth_getLogs", {"fromBlock": hex(since), "toBlock": "latest",
                                              "address": [str(m.address) for m in self.markets],
                                              "topics": [LIQUIDATE_TOPIC]})
        index_of = {str(m.address).lower(): k for k, m in enumerate(self.markets)}
        return [Liquidation(index_of[entry["address"].lower()], to_checksum_address("0x" + entry["topics"][2][-40:]),
                            int(entry["blockNumber"], 16), entry["transactionHash"]) for entry in logs]

    def gas_of(self, tx_hashes: Sequence[str], signers: Sequence[str]) -> tuple[int, int]:
        """(transactions from ``signers``, their gas used)."""
        wanted = {s.lower() for s in signers}
        receipts = self.anvil.rpc_batch([("eth_getTransactionReceipt", [h]) for h in tx_hashes]) if tx_hashes else []
        mine = [r for r in receipts if r and r["from"].lower() in wanted]
        return len(mine), sum(int(r["gasUsed"], 16) for r in mine)


def _hex(data: Any) -> str:
    return data if isinstance(data, str) else "0x" + bytes(data).hex()


@dataclass(frozen=True)
class Liquidation:
    market: int
    borrower: str
    block: int
    tx_hash: str


# ---- one run ----


@dataclass(frozen=True)
class Phase:
    """What one launch of the keeper measured."""

    label: str
    work: Any
    calls: Any
    drop: DropFigures | None
    records: tuple[ProbeRecord, ...]


def _records(probe_dir: Path) -> list[ProbeRecord]:
    out: list[ProbeRecord] = []
    for path in sorted(probe_dir.glob("probe-*.jsonl")):
        out += parse_probe_lines(path.read_text().splitlines())
    return out


def run_once(cached: CachedBook, factory: KeeperFactory, mode: str, workdir: Path, *, steady: int, warmup: int,
             fraction_bps: int, drop_timeout: float, index_location: Callable[[int, Path], str] | None = None,
             with_drop: bool = True) -> Phase:
    """A fresh chain from the cache, the keeper launched through the
    counting proxy, ``steady`` blocks measured, then the drop."""
    book = cached.book()
    workdir.mkdir(parents=True, exist_ok=True)
    indexes = []
    for k in range(book.spec.markets):
        if index_location is None:
            path = workdir / f"index-m{k}.sqlite"
            shutil.copyfile(cached.index_dir / f"m{k}.sqlite", path)
            indexes.append(str(path))
        else:
            indexes.append(index_location(k, workdir))
    with ExitStack() as stack:
        anvil = start_loaded(cached.state, workdir / "anvil")
        stack.callback(anvil.stop)
        stack.enter_context(connect(anvil.url))
        desk = ChainDesk(anvil, book, cached.deployments(0))
        if desk.navs_stale(int(time.time())):
            block = desk.publish_navs(BPS)
            print(f"  [{mode}] the state's NAVs were stale: published again in block {block}", flush=True)
        desk.deepen_facilities()
        proxy = FaultProxy(upstream=anvil.url).start()
        stack.callback(proxy.stop)
        run = BookRun(proxy.url, tuple(cached.deployments(k) for k in range(book.spec.markets)), tuple(indexes),
                      workdir, desk)
        keeper = factory(run)
        probe_dir = workdir / "probe"
        launched = launch(keeper.processes, probe_dir, keeper.probe_target)
        stack.callback(launched.stop)
        print(f"  [{mode}] {keeper.label}: {len(keeper.processes)} processes starting ...", flush=True)
        launched.wait_ready()
        desk.wait_blocks(warmup, launched.check_alive)
        proxy.reset_stats()
        first = desk.head() + 1
        last = desk.wait_blocks(steady, launched.check_alive)
        stats = proxy.stats()
        calls = call_rate(last - first + 1, stats.calls, stats.requests, stats.forwarded)
        time.sleep(0.5)  # the last block's work lands in the probe files
        work = block_work(_records(probe_dir), first, last)
        print(f"  [{mode}] steady blocks {first}..{last}: work median {work.stats.median} ms, "
              f"p95 {work.stats.p95} ms; {calls.per_block} RPC calls per block", flush=True)
        drop = None
        if with_drop:
            drop = replace(_drop(desk, keeper, launched, mode, fraction_bps, drop_timeout), steady_work=work.stats,
                           steady_calls_per_block=calls.per_block)
        records = tuple(_records(probe_dir))
        return Phase(keeper.label, work, calls, drop, records)


def _drop(desk: ChainDesk, keeper: KeeperUnderTest, launched: Launched, mode: str, fraction_bps: int,
          timeout: float) -> DropFigures:
    book = desk.book
    healths = desk.healths_now()
    choice = choose_drop(healths, fraction_bps)
    planned = [[p.account for p, h in zip(book.positions, healths) if p.market == k and h * (BPS - choice.drop_bps)
                < 10**18 * BPS] for k in range(book.spec.markets)]
    nav_block = desk.publish_navs(BPS - choice.drop_bps)
    print(f"  [{mode}] NAV drop of {choice.drop_bps / 100:.2f} % in block {nav_block}: "
          f"{choice.expected} positions planned to sink", flush=True)
    deadline = time.monotonic() + timeout
    last_new, seen = desk.head(), 0
    while time.monotonic() < deadline:
        launched.check_alive()
        time.sleep(1.0)
        events = desk.liquidations(nav_block)
        head = desk.head()
        if len(events) > seen:
            seen, last_new = len(events), head
        if head - last_new >= 5 and not desk.liquidatable(planned):
            break
        if head - last_new >= 30:
            break
    events = desk.liquidations(nav_block)
    liquidatable = desk.liquidatable([[p.account for p in book.positions if p.market == k]
                                      for k in range(book.spec.markets)], nav_block)
    liquidated = {f"{e.market}:{e.borrower}" for e in events}
    hashes = sorted({e.tx_hash for e in events})
    sent, gas = desk.gas_of(hashes, keeper.signers)
    print(f"  [{mode}] peak RSS (MiB) by process: {launched.peak_rss_by_process()}", flush=True)
    return DropFigures(
        mode=mode, keeper=keeper.label, drop_bps=choice.drop_bps, planned=choice.expected,
        liquidatable=len(liquidatable), liquidated=len(liquidated & liquidatable) if liquidatable else len(liquidated),
        liquidations=len(events), nav_block=nav_block,
        last_block=max((e.block for e in events), default=None), keeper_transactions=sent,
        gas_per_position=gas // len(events) if events else None, peak_rss_mib=launched.peak_rss_mib(),
    )


# ---- the whole benchmark ----


def run_bench(spec: BookSpec, *, steady: int, warmup: int, fraction_bps: int = 100, split: bool = False,
              only_split: bool = False,
              cache_root: Path = DEFAULT_CACHE, workdir: Path, drop_timeout: float = 300.0,
              factory: KeeperFactory = fleet_keeper, split_factory: SplitFactory | None = None) -> BenchReport:
    cached = ensure_book(spec, cache_root)
    phases, drops = [], []
    if not only_split:
        phases.append(run_once(cached, factory, "one host", workdir / "one", steady=steady, warmup=warmup,
                               fraction_bps=fraction_bps, drop_timeout=drop_timeout))
        drops.append(phases[0].drop)
    if split or only_split:
        phases.append(_split_phase(cached, workdir / "split", steady, warmup, fraction_bps, drop_timeout,
                                   split_factory or hosts_split))
        drops.append(phases[-1].drop)
    first = phases[0]
    notes = [f"RPC calls counted through one proxy for all keeper processes; steady window {first.work.first}.."
             f"{first.work.last}",
             "the redemption facilities hold the book's whole borrowed cash and allow it per day (deepen_facilities)"]
    kept = tuple(d for d in drops if d is not None)
    return BenchReport(
        positions=spec.positions, markets=spec.markets, keeper=first.label, steady_blocks=steady,
        work=first.work.stats, unworked_blocks=first.work.unworked_blocks, skipped_calls=first.work.skipped_calls,
        calls=first.calls, peak_rss_mib=kept[0].peak_rss_mib if kept else 0.0, drops=kept, notes=tuple(notes),
    )


def _split_phase(cached: CachedBook, workdir: Path, steady: int, warmup: int, fraction_bps: int,
                 timeout: float, factory: SplitFactory) -> Phase:
    """The drop with the keeper split (``factory``, by default
    :func:`hosts_split`) over a Redis of its own and a PostgreSQL cluster
    of its own holding the seeded indexes in one database."""
    with ExitStack() as stack:
        url = ensure_redis(free_port())
        stack.callback(lambda: _shutdown_redis(redis_client, url))
        pg = ensure_postgres()
        stack.callback(pg.stop)
        base = url.rsplit("/", 1)[0]
        services = SplitServices(tuple(f"{base}/{k}" for k in range(cached.book().spec.markets)), pg.url)
        phase = run_once(cached, lambda run: factory(run, services), "split", workdir, steady=steady, warmup=warmup, fraction_bps=fraction_bps,
                         drop_timeout=timeout, index_location=postgres_one_database(cached, pg))
        return phase


def _shutdown_redis(client: Any, url: str) -> None:
    try:
        client.Redis.from_url(url).shutdown(nosave=True)
    except Exception:
        pass  # shutdown closes the connection under the client


def named_function(target: str) -> Callable[..., Any]:
    """``module:function`` imported."""
    module, sep, name = target.partition(":")
    if not sep or not module or not name:
        raise BenchError(f"a factory is module:function, not {target!r}")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise BenchError(f"no factory {target}: {err}") from None
    if not callable(found):
        raise BenchError(f"{target} is not callable")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.bench_book", description=__doc__.split("\n\n")[0])
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--markets", type=int, default=3)
    parser.add_argument("--steady-blocks", type=int, default=30)
    parser.add_argument("--warmup-blocks", type=int, default=15)
    parser.add_argument("--fraction-bps", type=int, default=100, help="share of the book the drop sinks (100: 1 %%)")
    parser.add_argument("--split", action="store_true", help="also the drop with the keeper split over scan workers")
    parser.add_argument("--only-split", action="store_true", help="the split run alone")
    parser.add_argument("--keeper", default="devkit.bench_book:fleet_keeper",
                        help="module:function, the KeeperFactory of the keeper under test")
    parser.add_argument("--split-keeper", default="devkit.bench_book:hosts_split",
                        help="module:function, the SplitFactory of --split")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--drop-timeout", type=float, default=300.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.steady_blocks < 1 or args.warmup_blocks < 0:
        parser.error("--steady-blocks must be at least 1 and --warmup-blocks at least 0")
    spec = BookSpec(args.positions, args.markets)
    workdir = args.workdir or Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-book-{os.getpid()}"
    try:
        factory, split_factory = named_function(args.keeper), named_function(args.split_keeper)
    except BenchError as err:
        parser.error(str(err))
    report = run_bench(spec, steady=args.steady_blocks, warmup=args.warmup_blocks, fraction_bps=args.fraction_bps,
                       split=args.split, only_split=args.only_split, cache_root=args.cache, workdir=workdir, drop_timeout=args.drop_timeout,
                       factory=factory, split_factory=split_factory)
    print(render(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_json(), indent=2))
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
