"""The index shared between processes (keepers/index.py, "Several hosts"),
on both stores: readers in other processes while one writer applies blocks
see, in each snapshot, exactly the logs up to the checkpoint they see; two
writers applying the same logs at once end where one would; reorg undo
through a second connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from keepers.index import PositionIndex
from keepers.store import StoreLocation, parse_location
from keepers.types import to_address

import test_index as T
from conftest import BORROWER, FUND_A, MARKET

REPO = Path(__file__).resolve().parents[3]
BLOCKS = 120

# A reader process: opens the index, says "ready", then reads snapshots
# until it sees the last checkpoint; prints what it saw.
READER = r"""
import json, sys, time
from keepers.index import PositionIndex
from keepers.store import StoreKind, StoreLocation
kind, target, prefix, market, last = sys.argv[1:6]
location = StoreLocation(StoreKind(kind), target, prefix)
index = PositionIndex(location, market)
print("ready", flush=True)
seen, bad = set(), []
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    with index.reading():
        checkpoint = index.checkpoint() or 0
        accounts = index.open_accounts()
        newest = sorted(accounts, key=lambda a: int(a, 16))[-3:]
        debt = sum(index.position(a).scaled_debt for a in newest)
    # Block b opens account b with scaled debt b: the snapshot must hold
    # exactly accounts 1..checkpoint.
    want = sum(range(max(checkpoint - 2, 1), checkpoint + 1)) if checkpoint else 0
    if len(accounts) != checkpoint or debt != want:
        bad.append([checkpoint, len(accounts), debt, want])
    seen.add(checkpoint)
    if checkpoint >= int(last):
        break
index.close()
print(json.dumps({"seen": sorted(seen), "bad": bad[:5]}), flush=True)
"""


def _account(block: int) -> str:
    return to_address(f"0x{block:040x}")


def _reader(location: StoreLocation) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-c", READER, location.kind.value, location.target, location.schema_prefix, MARKET,
            str(BLOCKS)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)


def _as_location(value) -> StoreLocation:
    return value if isinstance(value, StoreLocation) else parse_location(value)


def test_concurrency__two_reader_processes_while_one_writes__each_snapshot_matches_its_checkpoint(new_location):
    location = _as_location(new_location(persistent=True))
    writer = PositionIndex(location, MARKET)
    readers = [_reader(location) for _ in range(2)]
    try:
        for reader in readers:
            line = reader.stdout.readline().strip()
            assert line == "ready", f"reader did not start: {line!r} {reader.stderr.read() if not line else ''}"
        for block in range(1, BLOCKS + 1):
            record = T.borrow(_account(block), block, block)
            writer.apply([record, T.supply(_account(block), FUND_A, 10 * block, block, i=1)],
                         checkpoint=(block, record.block_hash))
            time.sleep(0.002)
        reports = []
        for reader in readers:
            out, err = reader.communicate(timeout=90)
            assert reader.returncode == 0, err[-2000:]
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for reader in readers:
            if reader.poll() is None:
                reader.kill()
        writer.close()
    for report in reports:
        assert report["bad"] == []
        assert report["seen"][-1] == BLOCKS
        # Each reader saw the index in motion, not only before and after.
        assert len([c for c in report["seen"] if 0 < c < BLOCKS]) >= 2, report["seen"]


def test_concurrency__two_writers_apply_the_same_logs_at_once__state_of_one_writer(new_location):
    where = new_location(persistent=True)
    history = T._history(seed=17, n=60)
    alone = PositionIndex(new_location(persistent=True), MARKET)
    alone.apply(history)
    writers = [PositionIndex(where, MARKET), PositionIndex(where, MARKET)]
    orders = [history, list(reversed(history))]
    errors: list[BaseException] = []

    def run(index: PositionIndex, logs) -> None:
        try:
            for i in range(0, len(logs), 5):
                index.apply(logs[i : i + 5], checkpoint=(max(r.block_number for r in logs[: i + 5]), None))
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(w, o)) for w, o in zip(writers, orders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert T._snapshot(writers[0]) == T._snapshot(alone)
        assert writers[1].stats()["facts"] == alone.stats()["facts"]
        assert writers[0].checkpoint() == 60
    finally:
        for index in (*writers, alone):
            index.close()


def test_concurrency__reorg_undone_by_one_connection__seen_by_another(new_location):
    where = new_location(persistent=True)
    writer, reader = PositionIndex(where, MARKET), PositionIndex(where, MARKET)
    try:
        old = T.repay(BORROWER, 0, 3, fork="a")
        writer.apply([T.supply(BORROWER, FUND_A, 1_000, 1), T.borrow(BORROWER, 600, 2), old], checkpoint=(3, "0xa3"))
        assert reader.open_accounts() == []
        writer.apply([T.removed(old), T.repay(BORROWER, 300, 3, fork="b")], checkpoint=(4, "0xb4"))
        assert reader.position(BORROWER).scaled_debt == 300 and reader.open_accounts() == [BORROWER]
        touched = writer.rewind(2)
        assert touched == {BORROWER}
        assert (reader.checkpoint(), reader.checkpoint_hash(), reader.position(BORROWER).scaled_debt) == (2, None, 600)
    finally:
        writer.close()
        reader.close()


def test_concurrency__four_connections_open_a_new_index_at_once__one_schema_no_error(new_location):
    where = new_location(persistent=True)
    barrier = threading.Barrier(4)
    opened: list[PositionIndex] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        barrier.wait()
        try:
            opened.append(PositionIndex(where, MARKET, start_block=7))
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == [] and len(opened) == 4
        assert {index.start_block for index in opened} == {7}
    finally:
        for index in opened:
            index.close()
