"""A scanner worker's block task (keepers/hosts.py ``ScannerWorker.run``)
on a real redis-server and a SQLite index another connection writes:
candidates queued once per position however many blocks find them, a
shard not due left alone, a worker started before the writer waits, a
fault is counted and the runner keeps going, and a shard whose task died
with its worker is covered by the next due block's task on another."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
import redis

from navlend.constants import WAD

from keepers.config import KeeperConfig
from keepers.hosts import ScannerWorker
from keepers.index import PositionIndex
from keepers.metrics import HealthState, KeeperMetrics, keeper_labels
from keepers.scale import CandidateQueue
from keepers.shards import covering_block, plan_tasks
from keepers.shardscan import ShardIndexReader
from keepers.store import parse_location
from keepers.types import AccountHealth, LogRecord, to_address

MARKET = to_address("0x" + "3a" * 20)
TOKEN = to_address("0x" + "fa" * 20)
RNG = random.Random(5)
ACCOUNTS = [to_address("0x" + f"{RNG.getrandbits(160):040x}") for _ in range(30)]
SICK = set(ACCOUNTS[::4])


def _borrow(account: str, block: int, i: int) -> LogRecord:
    return LogRecord.from_event("Borrow", {"on_behalf": account, "scaled_debt": 100, "borrow_index": WAD},
                                block_number=block, block_hash=f"0x{block:064x}", tx_hash=f"0x{block:032x}{i:032x}",
                                log_index=i)


def _health(account: str) -> AccountHealth:
    sick = account in SICK
    return AccountHealth(account=account, debt=100, borrow_value=0, liquidation_value=0,
                         health_factor=WAD // 2 if sick else 2 * WAD, liquidatable=sick, best_token=TOKEN,
                         max_repay=0, max_seize=0, assets_bitmap=1)


class LensOf:
    """The health of every account at any block (SICK liquidatable); the
    calls made, to check which shards were read."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...], int]] = []
        self.broken = False

    def __call__(self, market, accounts, block):
        if self.broken:
            raise ConnectionError("node restarting")
        self.calls.append((market, tuple(accounts), block))
        return [_health(a) for a in accounts]


@pytest.fixture
def setup(redis_url, tmp_path):
    location = parse_location(str(tmp_path / "index.sqlite"))
    writer = PositionIndex(location, MARKET)
    queue = CandidateQueue(redis.Redis.from_url(redis_url, decode_responses=True), MARKET)

    def worker(every: int = 1, scan=None) -> ScannerWorker:
        config = replace(KeeperConfig(market=MARKET, shard_count=2, redis_url=redis_url), scan_every_blocks=every)
        tasks = plan_tasks([MARKET], 2)
        metrics = {t.name: KeeperMetrics(labels=keeper_labels(MARKET, 31337, shard=t.label)) for t in tasks}
        return ScannerWorker(config=config, tasks=tasks, indexes={MARKET: ShardIndexReader(location, MARKET)},
                             queues={MARKET: queue}, scan=scan or LensOf(), metrics=metrics,
                             health=HealthState(dry_run=True))

    def sync(block: int) -> None:
        writer.apply([_borrow(a, block, i) for i, a in enumerate(ACCOUNTS)], checkpoint=(block, f"0x{block:064x}"))

    return worker, sync, queue


def _scanned(worker: ScannerWorker, task) -> float:
    return worker.metrics[task.name].registry.get_sample_value("keeper_accounts_scanned_total")


def test_run__every_shard_on_three_blocks__each_liquidatable_position_queued_once(setup):
    make, sync, queue = setup
    sync(10)
    lens = LensOf()
    worker = make(scan=lens)
    for block in (11, 12, 13):
        for task in worker.tasks:
            result = worker.run(task, block)
            assert result["due"] == 1
    assert queue.size() == len(SICK)
    drained = queue.drain(head=13)
    assert {c.account for c in drained} == SICK and {c.block for c in drained} == {13}
    assert sum(_scanned(worker, t) for t in worker.tasks) == 3 * len(ACCOUNTS)
    assert all(_scanned(worker, t) > 0 for t in worker.tasks)
    assert worker.health.last_block == 13


def test_run__not_due__nothing_read(setup):
    make, sync, queue = setup
    sync(10)
    lens = LensOf()
    worker = make(every=2, scan=lens)
    task = worker.tasks[0]  # slot 0: due on even blocks
    assert worker.run(task, 11) == {"scanned": 0, "due": 0} and lens.calls == []
    assert worker.run(task, 12)["due"] == 1 and len(lens.calls) == 1


def test_run__before_the_writer__skipped_without_raising(setup):
    make, _, queue = setup
    worker = make()
    assert worker.run(worker.tasks[0], 11) == {"scanned": 0, "due": 1}
    assert queue.size() == 0 and worker.metrics[worker.tasks[0].name].registry.get_sample_value(
        "keeper_rpc_errors_total", {"op": "shard_scan"}) is None


def test_run__scan_fails__fault_counted_and_no_raise(setup):
    make, sync, queue = setup
    sync(10)
    lens = LensOf()
    lens.broken = True
    worker = make(scan=lens)
    task = worker.tasks[1]
    assert worker.run(task, 11) == {"scanned": 0, "due": 1}
    assert worker.metrics[task.name].registry.get_sample_value("keeper_rpc_errors_total", {"op": "shard_scan"}) == 1
    assert "node restarting" in worker.health.last_error and queue.size() == 0


@pytest.mark.parametrize("every", [1, 3])
def test_run__a_worker_dies_with_its_task__the_next_due_block_on_another_covers_the_shard(setup, every):
    make, sync, queue = setup
    sync(10)
    dead, alive = make(every=every), make(every=every)
    for task in dead.tasks:
        died_at = 20 + task.slot  # the task popped by the dead worker: never run, never redelivered
        sick_here = {a for a in SICK if task.accounts.holds(a)}
        block = covering_block(task, died_at, every)
        assert alive.run(task, block)["due"] == 1
        assert sick_here and {c.account for c in queue.drain(head=block)} == sick_here
    assert all(_scanned(dead, t) == 0 for t in dead.tasks) and all(_scanned(alive, t) > 0 for t in alive.tasks)
