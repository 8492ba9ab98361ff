"""A scanner worker's shard scan (keepers/shardscan.py), on both stores:
the shard's open positions read from an index another connection writes,
read-only (a write is refused by the store itself), a clear error before
the writer's first sync, and the liquidatable positions with debt queued."""

from __future__ import annotations

import random
import pytest

from navlend.constants import WAD

from keepers.index import PositionIndex
from keepers.shards import plan_tasks
from keepers.shardscan import IndexNotReady, ShardIndexReader, lens_scan, scan_shard
from keepers.store import StoreLocation, parse_location
from keepers.types import AccountHealth, LogRecord, to_address

from conftest import FUND_A, MARKET

RNG = random.Random(17)
ACCOUNTS = [to_address("0x" + f"{RNG.getrandbits(160):040x}") for _ in range(40)]


def _borrow(account: str, scaled: int, block: int, i: int) -> LogRecord:
    return LogRecord.from_event("Borrow", {"on_behalf": account, "scaled_debt": scaled, "borrow_index": WAD},
                                block_number=block, block_hash=f"0x{block:064x}", tx_hash=f"0x{block:032x}{i:032x}",
                                log_index=i)


def _location(new_location) -> StoreLocation:
    made = new_location(persistent=True)
    return made if isinstance(made, StoreLocation) else parse_location(made)


def _written(location: StoreLocation, debts: dict[str, int], block: int = 10) -> PositionIndex:
    """The writer's index: ``debts`` borrowed at ``block``, checkpointed."""
    index = PositionIndex(location, MARKET)
    records = [_borrow(a, d, block, i) for i, (a, d) in enumerate(debts.items())]
    index.apply(records, checkpoint=(block, f"0x{block:064x}"))
    return index


def _health(account: str, liquidatable: bool, debt: int = 5, failed: bool = False) -> AccountHealth:
    return AccountHealth(account=account, debt=debt, borrow_value=0, liquidation_value=0,
                         health_factor=WAD // 2 if liquidatable else 2 * WAD, liquidatable=liquidatable,
                         best_token=FUND_A, max_repay=0, max_seize=0, assets_bitmap=1, failed=failed)


def test_reader__two_shards__each_reads_its_own_open_positions_only(new_location):
    location = _location(new_location)
    debts = {a: (0 if i % 5 == 0 else 100 + i) for i, a in enumerate(ACCOUNTS)}  # every fifth repaid
    _written(location, debts)
    tasks = plan_tasks([MARKET], 2)
    reader = ShardIndexReader(location, MARKET)
    shards = [reader.open_accounts(t) for t in tasks]
    assert sorted(shards[0] + shards[1]) == sorted(a for a, d in debts.items() if d)
    for task, accounts in zip(tasks, shards):
        assert accounts and all(task.accounts.holds(a) for a in accounts)
    assert reader.checkpoint() == 10


def test_reader__the_writer_moves_on__the_reader_sees_it(new_location):
    location = _location(new_location)
    writer = _written(location, {ACCOUNTS[0]: 100})
    reader = ShardIndexReader(location, MARKET)
    (task,) = plan_tasks([MARKET], 1)
    assert reader.open_accounts(task) == [ACCOUNTS[0]]
    writer.apply([_borrow(ACCOUNTS[1], 50, 11, 0)], checkpoint=(11, "0x" + "11" * 32))
    assert reader.open_accounts(task) == sorted(ACCOUNTS[:2]) and reader.checkpoint() == 11


def test_reader__a_write__refused_by_the_store(new_location):
    location = _location(new_location)
    _written(location, {ACCOUNTS[0]: 100})
    reader = ShardIndexReader(location, MARKET)
    with pytest.raises(Exception, match="read-only|readonly"):
        reader._conn.execute("DELETE FROM state")
    (task,) = plan_tasks([MARKET], 1)
    assert reader.open_accounts(task) == [ACCOUNTS[0]]


def test_reader__before_the_writer__index_not_ready(new_location):
    location = _location(new_location)
    with pytest.raises(IndexNotReady, match="index writer"):
        ShardIndexReader(location, MARKET).checkpoint()


def test_reader__another_market_s_task__refused(new_location):
    location = _location(new_location)
    _written(location, {ACCOUNTS[0]: 100})
    other = to_address("0x" + "3b" * 20)
    with pytest.raises(ValueError, match="this index is"):
        ShardIndexReader(location, MARKET).open_accounts(plan_tasks([other], 1)[0])


def test_scan_shard__liquidatable_with_debt__queued_others_not(new_location):
    location = _location(new_location)
    debts = {a: 100 for a in ACCOUNTS}
    _written(location, debts)
    task = plan_tasks([MARKET], 2)[1]
    reader = ShardIndexReader(location, MARKET)
    mine = reader.open_accounts(task)
    sick, zero_debt, reverted = mine[0], mine[1], mine[2]
    asked, pushed = [], []

    def scan(market, accounts, block):
        asked.append((market, tuple(accounts), block))
        return [_health(a, liquidatable=a in (sick, zero_debt, reverted), debt=0 if a == zero_debt else 5,
                        failed=a == reverted) for a in accounts]

    def push(block, healths):
        pushed.append((block, [h.account for h in healths]))
        return 0

    report = scan_shard(task, 12, reader, scan, push)
    assert asked == [(MARKET, tuple(mine), 12)]
    assert pushed == [(12, [sick])]
    assert (report.scanned, report.liquidatable, report.checkpoint, report.block) == (len(mine), 1, 10, 12)


def test_scan_shard__nothing_liquidatable__nothing_pushed(new_location):
    location = _location(new_location)
    _written(location, {a: 100 for a in ACCOUNTS[:6]})
    (task,) = plan_tasks([MARKET], 1)
    pushed = []
    report = scan_shard(task, 12, ShardIndexReader(location, MARKET),
                        lambda m, accounts, b: [_health(a, liquidatable=False) for a in accounts],
                        lambda block, healths: pushed.append(healths) or 0)
    assert pushed == [] and report.scanned == 6 and report.liquidatable == 0


def test_scan_shard__no_checkpoint_yet__index_not_ready(new_location):
    location = _location(new_location)
    PositionIndex(location, MARKET)  # the writer opened it, has not synced
    (task,) = plan_tasks([MARKET], 1)
    with pytest.raises(IndexNotReady, match="no checkpoint"):
        scan_shard(task, 12, ShardIndexReader(location, MARKET), lambda *a: [], lambda *a: 0)


def test_lens_scan__unknown_market__refused():
    with pytest.raises(ValueError, match="no chain reader"):
        lens_scan({})(MARKET, [ACCOUNTS[0]], 1)


def test_reader__sqlite_file_missing__index_not_ready(tmp_path):
    with pytest.raises(IndexNotReady):
        ShardIndexReader(parse_location(str(tmp_path / "none.sqlite")), MARKET)
    assert not (tmp_path / "none.sqlite").exists()  # a reader creates nothing


def test_reader__postgres_session_dropped__reconnects_read_only(postgres_location):
    location = postgres_location(persistent=True)
    _written(location, {ACCOUNTS[0]: 100})
    reader = ShardIndexReader(location, MARKET)
    (task,) = plan_tasks([MARKET], 1)
    reader._conn.close()  # as when the server drops the session
    assert reader.open_accounts(task) == [ACCOUNTS[0]]
    with pytest.raises(Exception, match="read-only"):
        reader._conn.execute("DELETE FROM state")


def test_reader__sqlite_closed_by_its_owner__not_reopened(tmp_path):
    location = parse_location(str(tmp_path / "index.sqlite"))
    _written(location, {ACCOUNTS[0]: 100})
    reader = ShardIndexReader(location, MARKET)
    reader.close()
    with pytest.raises(Exception, match="closed"):
        reader.checkpoint()
