"""The position index: every borrower's scaled debt and collateral,
rebuilt from the market's events and persisted in SQLite.

Each position event carries the position's value *after* the operation
(``SupplyCollateral.collateral``, ``Borrow.scaled_debt``,
``Liquidate.collateral`` and ``.scaled_debt``, ...; verified against
``contracts/market/Market.vy``), so the index stores facts, not deltas:

- ``facts``: one row per (log, kind) with the value it set, keyed by
  (block number, block hash, log index, kind). Applying a log twice is a
  no-op; a removed log (reorg) deletes its facts, and the current value
  falls back to the latest remaining fact for that position. The order in
  which logs and removals arrive does not matter.
- ``state``: the current value per (account, kind, token), the latest fact
  by (block, log index); what the scanner reads.
- ``meta``: the market the file belongs to, the start block, and the
  checkpoint (last block whose logs are all applied, with its hash) that a
  restart resumes from.

``compact(finalized_block)`` drops superseded facts at or below a block no
reorg can reach, so the file grows with positions, not with history.

Health from the index (``keepers/localhealth.py``) adds the table
``health_inputs``: the market-wide inputs (risk parameters, oracle rounds,
the rate curve, the books read after accruing blocks) as facts keyed by
(block, hash, log index, kind, key), with ``apply_health_inputs``,
``health_inputs``, ``rewind_health_inputs`` and ``compact_health_inputs``
(to call beside ``rewind`` and ``compact``), created on first use.

Not tracked: the treasury's share of liquidation bonuses
(``_credit_treasury`` emits no event). The treasury carries no debt, so it
never needs a scan.

SQLite only; no RPC. The chain edge converts Ape logs with
``LogRecord.from_event``.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from navlend.constants import WAD
from navlend.rules.interest import debt_of

from keepers.healthinputs import READ_LOG_INDEX, InputFact, InputKind, InputRecord
from keepers.types import LogRecord, MarketEvent, to_address

# Fact kinds.
DEBT = "debt"
COLLATERAL = "collateral"
BORROW_INDEX = "borrow_index"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS facts (
    block_number INTEGER NOT NULL,
    block_hash TEXT NOT NULL,
    log_index INTEGER NOT NULL,
    kind TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    event TEXT NOT NULL,
    account TEXT NOT NULL,
    token TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (block_number, block_hash, log_index, kind)
);
CREATE INDEX IF NOT EXISTS facts_by_key ON facts (account, kind, token, block_number, log_index);
CREATE TABLE IF NOT EXISTS state (
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    token TEXT NOT NULL,
    value TEXT NOT NULL,
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    PRIMARY KEY (account, kind, token)
);
CREATE INDEX IF NOT EXISTS open_debt ON state (kind, value);
"""

_UPSERT_STATE = """
INSERT INTO state (account, kind, token, value, block_number, log_index) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (account, kind, token) DO UPDATE SET
    value = excluded.value, block_number = excluded.block_number, log_index = excluded.log_index
WHERE (excluded.block_number, excluded.log_index) >= (state.block_number, state.log_index)
"""


# Health from the index (keepers/localhealth.py, keepers/healthinputs.py):
# the market-wide inputs, one row per (log or read, kind, key), the current
# value the latest by (block, log index). Kept apart from ``facts``.
_HEALTH_SCHEMA = """
CREATE TABLE IF NOT EXISTS health_inputs (
    block_number INTEGER NOT NULL,
    block_hash TEXT NOT NULL,
    log_index INTEGER NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (block_number, block_hash, log_index, kind, key)
);
CREATE INDEX IF NOT EXISTS health_inputs_by_key ON health_inputs (kind, key, block_number, log_index);
"""


class IndexMismatch(ValueError):
    """The database file belongs to another market."""


@dataclass(frozen=True)
class Fact:
    account: str
    kind: str
    token: str
    value: int


@dataclass
class ApplyResult:
    """What one ``apply`` call did."""

    applied: int = 0
    duplicates: int = 0
    undone: int = 0
    unknown_removed: int = 0
    touched: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class IndexedPosition:
    account: str
    scaled_debt: int
    collateral: dict[str, int]


def facts_of(record: LogRecord) -> list[Fact]:
    """The values a log sets (pure)."""
    out: list[Fact] = []
    if record.scaled_debt is not None:
        out.append(Fact(record.account, DEBT, "", record.scaled_debt))
    if record.collateral is not None and record.token is not None:
        out.append(Fact(record.account, COLLATERAL, record.token, record.collateral))
    if record.borrow_index is not None and record.event in (MarketEvent.BORROW, MarketEvent.REPAY):
        out.append(Fact("", BORROW_INDEX, "", record.borrow_index))
    return out


def backfill_ranges(start_block: int, head: int, chunk: int) -> list[tuple[int, int]]:
    """Inclusive block ranges of at most ``chunk`` blocks covering
    ``start_block..head`` (empty when start > head)."""
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    return [(b, min(b + chunk - 1, head)) for b in range(start_block, head + 1, chunk)]


class PositionIndex:
    """The SQLite-backed index of one market's positions (module docstring).
    ``path`` may be ``":memory:"``. Safe to share between threads."""

    def __init__(self, path: str | Path, market: str, start_block: int = 0):
        self.market = to_address(market)
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            stored = self._meta("market")
            if stored is None:
                self._set_meta("market", self.market)
                self._set_meta("start_block", str(start_block))
            elif stored != self.market:
                raise IndexMismatch(f"{path} indexes market {stored}, not {self.market}")
        self.start_block = int(self._meta("start_block") or 0)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------ #
    # writes

    def apply(self, records: Iterable[LogRecord]) -> ApplyResult:
        """Applies logs, undoing those marked ``removed``, in one
        transaction. Idempotent per log."""
        result = ApplyResult()
        with self._lock, self._transaction():
            for record in records:
                if record.removed:
                    self._undo(record, result)
                else:
                    self._apply_one(record, result)
        return result

    def _apply_one(self, record: LogRecord, result: ApplyResult) -> None:
        inserted = 0
        for fact in facts_of(record):
            cur = self._db.execute(
                "INSERT OR IGNORE INTO facts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.block_number,
                    record.block_hash,
                    record.log_index,
                    fact.kind,
                    record.tx_hash,
                    record.event.value,
                    fact.account,
                    fact.token,
                    str(fact.value),
                ),
            )
            if cur.rowcount:
                inserted += 1
                self._db.execute(
                    _UPSERT_STATE,
                    (fact.account, fact.kind, fact.token, str(fact.value), record.block_number, record.log_index),
                )
        if inserted:
            result.applied += 1
            result.touched.add(record.account)
        else:
            result.duplicates += 1

    def _undo(self, record: LogRecord, result: ApplyResult) -> None:
        key = (record.block_number, record.block_hash, record.log_index)
        rows = self._db.execute(
            "SELECT account, kind, token FROM facts WHERE block_number = ? AND block_hash = ? AND log_index = ?", key
        ).fetchall()
        if not rows:
            result.unknown_removed += 1
            return
        self._db.execute("DELETE FROM facts WHERE block_number = ? AND block_hash = ? AND log_index = ?", key)
        for account, kind, token in rows:
            self._recompute(account, kind, token)
        result.undone += 1
        result.touched.add(record.account)

    def _recompute(self, account: str, kind: str, token: str) -> None:
        latest = self._db.execute(
            "SELECT value, block_number, log_index FROM facts WHERE account = ? AND kind = ? AND token = ? "
            "ORDER BY block_number DESC, log_index DESC LIMIT 1",
            (account, kind, token),
        ).fetchone()
        if latest is None:
            self._db.execute("DELETE FROM state WHERE account = ? AND kind = ? AND token = ?", (account, kind, token))
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO state VALUES (?, ?, ?, ?, ?, ?)", (account, kind, token, *latest)
            )

    def rewind(self, to_block: int) -> set[str]:
        """Forgets every fact above ``to_block`` (a reorg the node did not
        report as removed logs, e.g. while the keeper was down) and moves
        the checkpoint back to it. Returns the accounts affected."""
        with self._lock, self._transaction():
            rows = self._db.execute(
                "SELECT DISTINCT account, kind, token FROM facts WHERE block_number > ?", (to_block,)
            ).fetchall()
            self._db.execute("DELETE FROM facts WHERE block_number > ?", (to_block,))
            for account, kind, token in rows:
                self._recompute(account, kind, token)
            checkpoint = self.checkpoint()
            if checkpoint is not None and checkpoint > to_block:
                self._set_meta("checkpoint", str(to_block))
                self._db.execute("DELETE FROM meta WHERE key = 'checkpoint_hash'")
        return {a for a, _, _ in rows if a}

    def compact(self, finalized_block: int) -> int:
        """Deletes facts at or below ``finalized_block`` that a later fact,
        also at or below it, supersedes: the last final value of each
        position stays, so undoing any newer log still falls back to it.
        Returns the number of rows deleted."""
        with self._lock, self._transaction():
            cur = self._db.execute(
                """
                DELETE FROM facts WHERE block_number <= ? AND EXISTS (
                    SELECT 1 FROM facts AS newer
                    WHERE newer.account = facts.account AND newer.kind = facts.kind AND newer.token = facts.token
                      AND newer.block_number <= ?
                      AND (newer.block_number, newer.log_index) > (facts.block_number, facts.log_index)
                )
                """,
                (finalized_block, finalized_block),
            )
            return cur.rowcount

    def set_checkpoint(self, block: int, block_hash: str | None = None) -> bool:
        """Records that every log up to ``block`` is applied. Moves only
        forward (``rewind`` moves back); returns whether it moved."""
        with self._lock, self._transaction():
            current = self.checkpoint()
            if current is not None and block <= current:
                return False
            self._set_meta("checkpoint", str(block))
            if block_hash is not None:
                self._set_meta("checkpoint_hash", block_hash)
            else:
                self._db.execute("DELETE FROM meta WHERE key = 'checkpoint_hash'")
            return True

    # ------------------------------------------------------------ #
    # reads

    def checkpoint(self) -> int | None:
        value = self._meta("checkpoint")
        return None if value is None else int(value)

    def checkpoint_hash(self) -> str | None:
        return self._meta("checkpoint_hash")

    def resume_block(self) -> int:
        """The first block a backfill must read."""
        checkpoint = self.checkpoint()
        return self.start_block if checkpoint is None else checkpoint + 1

    def open_accounts(self) -> list[str]:
        """Accounts with debt, in a stable order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT account FROM state WHERE kind = ? AND value != '0' ORDER BY account", (DEBT,)
            ).fetchall()
        return [r[0] for r in rows]

    def balances(self, account: str) -> dict[str, int]:
        """The account's non-zero collateral by token."""
        return self.balances_many([account]).get(account, {})

    def balances_many(self, accounts: Iterable[str]) -> dict[str, dict[str, int]]:
        """Non-zero collateral by token for each account (absent: none)."""
        wanted = list(accounts)
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            for i in range(0, len(wanted), 500):
                part = wanted[i : i + 500]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT account, token, value FROM state WHERE kind = ? AND value != '0' AND account IN ({marks})",
                    (COLLATERAL, *part),
                ).fetchall()
                for account, token, value in rows:
                    out.setdefault(account, {})[token] = int(value)
        return out

    def position(self, account: str) -> IndexedPosition:
        account = to_address(account)
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM state WHERE account = ? AND kind = ? AND token = ''", (account, DEBT)
            ).fetchone()
        return IndexedPosition(account, int(row[0]) if row else 0, self.balances(account))

    def borrow_index(self) -> int | None:
        """The borrow index of the latest Borrow or Repay seen."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM state WHERE account = '' AND kind = ? AND token = ''", (BORROW_INDEX,)
            ).fetchone()
        return int(row[0]) if row else None

    def debt_estimate(self, account: str) -> int:
        """The market's debt (scaled debt x index, rounded up) at the last
        known index (1.0 before any Borrow or Repay): a lower bound of the
        debt now (interest since that log is missing)."""
        return debt_of(self.position(account).scaled_debt, self.borrow_index() or WAD)

    def stats(self) -> dict[str, int]:
        with self._lock:
            facts = self._db.execute("SELECT COUNT(*) FROM facts").fetchone()[0]
            positions = self._db.execute(
                "SELECT COUNT(*) FROM state WHERE kind = ? AND value != '0'", (DEBT,)
            ).fetchone()[0]
        return {"facts": facts, "open_positions": positions, "checkpoint": self.checkpoint() or -1}

    # ------------------------------------------------------------ #
    # health from the index (table ``health_inputs``)

    def open_positions(self) -> list[IndexedPosition]:
        """Every account with debt, with its scaled debt and non-zero
        collateral, in account order (two queries)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT account, value FROM state WHERE kind = ? AND token = '' AND value != '0' ORDER BY account",
                (DEBT,),
            ).fetchall()
            held = self._db.execute(
                "SELECT account, token, value FROM state WHERE kind = ? AND value != '0'", (COLLATERAL,)
            ).fetchall()
        balances: dict[str, dict[str, int]] = {}
        for account, token, value in held:
            balances.setdefault(account, {})[token] = int(value)
        return [IndexedPosition(a, int(v), balances.get(a, {})) for a, v in rows]

    def apply_health_inputs(self, records: Iterable[InputRecord]) -> int:
        """Stores the inputs each record sets, or forgets a removed log's
        (and every read taken at its block, which the reorg orphaned). A
        record at a block number drops what another hash of that number
        set (a fork the node never reported as removed). Idempotent.
        Returns the rows written or deleted."""
        changed = 0
        with self._lock, self._transaction():
            self._health_schema()
            for record in records:
                if record.removed:
                    cur = self._db.execute(
                        "DELETE FROM health_inputs WHERE block_number = ? AND block_hash = ? "
                        "AND (log_index = ? OR log_index = ?)",
                        (record.block_number, record.block_hash, record.log_index, READ_LOG_INDEX),
                    )
                    changed += cur.rowcount
                    continue
                # One hash per block number: what another fork set there is gone.
                cur = self._db.execute(
                    "DELETE FROM health_inputs WHERE block_number = ? AND block_hash != ?",
                    (record.block_number, record.block_hash),
                )
                changed += cur.rowcount
                for fact in record.facts:
                    cur = self._db.execute(
                        "INSERT OR IGNORE INTO health_inputs VALUES (?, ?, ?, ?, ?, ?)",
                        (record.block_number, record.block_hash, record.log_index, fact.kind.value, fact.key, fact.encoded()),
                    )
                    changed += cur.rowcount
        return changed

    def health_inputs(self) -> dict[tuple[InputKind, str], tuple[int, ...]]:
        """The current value of every input: the latest by (block, log
        index) per (kind, key)."""
        with self._lock:
            self._health_schema()
            rows = self._db.execute(
                """
                SELECT kind, key, value FROM health_inputs AS f WHERE NOT EXISTS (
                    SELECT 1 FROM health_inputs AS newer
                    WHERE newer.kind = f.kind AND newer.key = f.key
                      AND (newer.block_number, newer.log_index) > (f.block_number, f.log_index)
                )
                """
            ).fetchall()
        return {(InputKind(kind), key): InputFact.decode(value) for kind, key, value in rows}

    def rewind_health_inputs(self, to_block: int) -> int:
        """Forgets every input above ``to_block`` (with ``rewind``)."""
        with self._lock, self._transaction():
            self._health_schema()
            return self._db.execute("DELETE FROM health_inputs WHERE block_number > ?", (to_block,)).rowcount

    def compact_health_inputs(self, finalized_block: int) -> int:
        """Drops inputs at or below ``finalized_block`` that a later one,
        also final, supersedes (with ``compact``)."""
        with self._lock, self._transaction():
            self._health_schema()
            return self._db.execute(
                """
                DELETE FROM health_inputs WHERE block_number <= ? AND EXISTS (
                    SELECT 1 FROM health_inputs AS newer
                    WHERE newer.kind = health_inputs.kind AND newer.key = health_inputs.key
                      AND newer.block_number <= ?
                      AND (newer.block_number, newer.log_index) > (health_inputs.block_number, health_inputs.log_index)
                )
                """,
                (finalized_block, finalized_block),
            ).rowcount

    def _health_schema(self) -> None:
        if not getattr(self, "_health_ready", False):
            # One statement at a time: ``executescript`` would commit an
            # open transaction.
            for statement in _HEALTH_SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._health_ready = True

    # ------------------------------------------------------------ #
    # plumbing

    def _meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN ... COMMIT, or ROLLBACK on an exception (the connection runs
    in autocommit mode so that nesting is explicit). Re-entrant: an inner
    block inside an open transaction joins it."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db
        self._outer = False

    def __enter__(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
            self._outer = True

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._outer:
            return
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
