"""A scanner worker's shard scan (several hosts, ``keepers/shards.py``):
read the shard's open positions from the index, read-only; check their
health; queue the liquidatable ones for the submitter.

- :class:`ShardIndexReader`: one market's index (``keepers/index.py``'s
  tables, written by the single index writer, the submitter) opened
  read-only: on PostgreSQL a session whose transactions are all
  ``READ ONLY`` (the server refuses any write), on SQLite the file opened
  ``mode=ro``. It never creates a table or a schema: a worker started
  before the writer waits (:class:`IndexNotReady`) instead.
- :data:`ScanFn`: how a shard's health is checked, pluggable: the Lens at
  the block (:func:`lens_scan`, the default), or health from the index
  (``keepers/localscan.py``) once it holds the inputs.
- :func:`scan_shard`: the task's body, no state kept between blocks (a
  worker that dies mid-task loses nothing: the next due block's task
  covers the shard, ``keepers/shards.py``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from keepers.index import DEBT
from keepers.shards import ShardTask
from keepers.store import StoreLocation, psycopg_module
from keepers.types import AccountHealth, to_address

log = structlog.get_logger("keepers.shardscan")

# (market, accounts, block) -> their health at block.
ScanFn = Callable[[str, Sequence[str], int], list[AccountHealth]]
# (block, liquidatable healths) -> entries the bounded queue dropped.
PushFn = Callable[[int, list[AccountHealth]], int]


class IndexNotReady(RuntimeError):
    """The market's index has not been written yet (no writer ran)."""


def index_namespace(location: StoreLocation, market: str) -> str:
    """The PostgreSQL schema ``keepers.index.PositionIndex`` writes
    ``market``'s tables in."""
    return location.schema_prefix + f"index_{to_address(market)[2:].lower()}"


class ShardIndexReader:
    """``market``'s index at ``location``, read-only (module docstring)."""

    def __init__(self, location: StoreLocation, market: str) -> None:
        self.location = location
        self.market = to_address(market)
        self.postgres = location.is_postgres
        # A worker may run two tasks at once (threads): one statement at a time.
        self._lock = threading.Lock()
        if self.postgres:
            self._conn: Any = self._connect_postgres()
            self._missing: tuple[type[BaseException], ...] = (psycopg_module().errors.UndefinedTable,)
        else:
            try:
                self._conn = sqlite3.connect(f"file:{location.target}?mode=ro", uri=True, check_same_thread=False)
            except sqlite3.OperationalError as err:
                raise self._not_ready() from err
            self._missing = (sqlite3.OperationalError,)

    def _connect_postgres(self) -> Any:
        conn = psycopg_module().connect(self.location.target, autocommit=True, connect_timeout=10,
                                        options="-c default_transaction_read_only=on")
        conn.execute(f'SET search_path TO "{index_namespace(self.location, self.market)}"')
        return conn

    def _not_ready(self) -> IndexNotReady:
        return IndexNotReady(f"no index of market {self.market} at {self.location.masked()} yet "
                             "(the index writer, the submitter, creates it)")

    def close(self) -> None:
        self._conn.close()

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        if self.postgres:
            sql = sql.replace("?", "%s")
        with self._lock:
            if self.postgres and (self._conn.closed or self._conn.broken):
                # The server restarted or dropped an idle session: a new one.
                log.warning("index connection lost; reconnecting", store=self.location.masked(), market=self.market)
                self._conn = self._connect_postgres()
            try:
                return list(self._conn.execute(sql, params).fetchall())
            except self._missing as err:
                if self.postgres or "no such table" in str(err):
                    raise self._not_ready() from err
                raise

    def checkpoint(self) -> int | None:
        """The last block the writer applied, None before its first."""
        rows = self._rows("SELECT value FROM meta WHERE key = ?", ("checkpoint",))
        return int(rows[0][0]) if rows else None

    def open_accounts(self, task: ShardTask) -> list[str]:
        """``task``'s accounts with debt, sorted."""
        if to_address(task.market) != self.market:
            raise ValueError(f"task {task.name} is market {task.market}, this index is {self.market}")
        column = 'lower(account) COLLATE "C"' if self.postgres else "lower(account)"
        sql = f"SELECT account FROM state WHERE kind = ? AND value != '0' AND {column} >= ?"
        params: list[Any] = [DEBT, task.accounts.lo_hex]
        if task.accounts.hi_hex is not None:
            sql += f" AND {column} < ?"
            params.append(task.accounts.hi_hex)
        return sorted(r[0] for r in self._rows(sql, params))


@dataclass(frozen=True)
class ShardScanReport:
    """What one task did."""

    task: str
    block: int
    checkpoint: int | None
    scanned: int
    liquidatable: int
    dropped: int
    seconds: float


def scan_shard(task: ShardTask, block: int, index: ShardIndexReader, scan: ScanFn, push: PushFn) -> ShardScanReport:
    """The shard's open positions (as the index has them), their health at
    ``block`` by ``scan``, the liquidatable ones with debt pushed to the
    queue. IndexNotReady before the writer's first checkpoint."""
    started = time.perf_counter()
    checkpoint = index.checkpoint()
    if checkpoint is None:
        raise IndexNotReady(f"market {task.market}'s index has no checkpoint yet (the writer has not synced)")
    accounts = index.open_accounts(task)
    healths = scan(task.market, accounts, block) if accounts else []
    failed = [h.account for h in healths if h.failed]
    if failed:
        log.warning("position view reverted", task=task.name, block=block, accounts=failed[:10], count=len(failed))
    liquidatable = [h for h in healths if h.liquidatable and h.debt > 0 and not h.failed]
    dropped = push(block, liquidatable) if liquidatable else 0
    report = ShardScanReport(task=task.name, block=block, checkpoint=checkpoint, scanned=len(healths),
                             liquidatable=len(liquidatable), dropped=dropped,
                             seconds=time.perf_counter() - started)
    if liquidatable:
        log.info("shard candidates queued", task=task.name, block=block, checkpoint=checkpoint,
                 accounts=[h.account for h in liquidatable][:20], count=len(liquidatable), dropped=dropped)
    return report


def lens_scan(readers: dict[str, Any]) -> ScanFn:
    """The default :data:`ScanFn`: ``reader.healths`` (the Lens, in
    batches) of the market's ``keepers.chain.ChainReader``."""

    def scan(market: str, accounts: Sequence[str], block: int) -> list[AccountHealth]:
        reader = readers.get(to_address(market))
        if reader is None:
            raise ValueError(f"no chain reader for market {market}")
        return list(reader.healths(list(accounts), block))

    return scan
