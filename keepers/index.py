"""The position index: every borrower's scaled debt and collateral,
rebuilt from the market's events and persisted in SQLite (one process, the
embedded default) or PostgreSQL (several hosts), through
:mod:`keepers.store`: the same SQL runs on both.

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

Several hosts (PostgreSQL; each market's tables in their own schema,
``index_<market>``): **one writer per market, any number of readers.** The
process that follows the market's logs (the keeper, or on several hosts
the submitter, ``keepers/hosts.py``) applies them and moves the checkpoint; the scan
workers, on any host, only read (``open_accounts``, ``balances_many``,
``position``), each its own range of positions. Why not each worker
writing its own shard's rows: the logs are the market's, not a shard's
(one ``getLogs`` per block whoever asks, and the borrow index, prices and
risk parameters are global), so N writers would mean N times the RPC calls
for the same rows. Correctness does not depend on that choice, though:

- every write (``apply``, ``set_checkpoint``, ``rewind``, ``compact``) is
  one transaction that first takes the index's write lock (SQLite's
  ``BEGIN IMMEDIATE``; a transaction-scoped advisory lock on PostgreSQL),
  so a second writer (a restarted process replaying a chunk) waits, then
  finds every fact already there: facts are keyed by (block number, block
  hash, log index, kind) and inserted ``ON CONFLICT DO NOTHING``; ``state``
  only moves forward except through an undo, which runs under the same
  lock;
- ``apply(records, checkpoint=..)`` applies a chunk and moves the
  checkpoint in the same transaction: a reader that sees checkpoint N sees
  every log up to N;
- readers never wait for the writer; ``with index.reading():`` makes their
  reads one snapshot (the checkpoint and the positions of the same
  instant).

No RPC. The chain edge converts Ape logs with ``LogRecord.from_event``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from navlend.constants import WAD
from navlend.rules.interest import debt_of

from keepers.healthinputs import READ_LOG_INDEX, InputFact, InputKind, InputRecord
from keepers.store import Store, StoreLocation
from keepers.types import LogRecord, MarketEvent, to_address

# Fact kinds.
DEBT = "debt"
COLLATERAL = "collateral"
BORROW_INDEX = "borrow_index"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS facts (
    block_number BIGINT NOT NULL,
    block_hash TEXT NOT NULL,
    log_index BIGINT NOT NULL,
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
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
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
# After an undo: the latest remaining fact, whatever the current row says.
_REPLACE_STATE = """
INSERT INTO state (account, kind, token, value, block_number, log_index) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (account, kind, token) DO UPDATE SET
    value = excluded.value, block_number = excluded.block_number, log_index = excluded.log_index
"""
_INSERT_FACT = """
INSERT INTO facts (block_number, block_hash, log_index, kind, tx_hash, event, account, token, value)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (block_number, block_hash, log_index, kind) DO NOTHING
"""
_SET_META = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"


# Health from the index (keepers/localhealth.py, keepers/healthinputs.py):
# the market-wide inputs, one row per (log or read, kind, key), the current
# value the latest by (block, log index). Kept apart from ``facts``.
_HEALTH_SCHEMA = """
CREATE TABLE IF NOT EXISTS health_inputs (
    block_number BIGINT NOT NULL,
    block_hash TEXT NOT NULL,
    log_index BIGINT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (block_number, block_hash, log_index, kind, key)
);
CREATE INDEX IF NOT EXISTS health_inputs_by_key ON health_inputs (kind, key, block_number, log_index);
"""


class IndexMismatch(ValueError):
    """The database file (or PostgreSQL schema) belongs to another market."""


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
    """The index of one market's positions (module docstring), in SQLite or
    PostgreSQL. ``location``: a SQLite path (``":memory:"`` too), a
    ``postgresql://`` URL or a :class:`keepers.store.StoreLocation`;
    ``namespace``: the PostgreSQL schema (default ``index_<market>``).
    Safe to share between threads."""

    def __init__(self, location: str | Path | StoreLocation, market: str, start_block: int = 0,
                 namespace: str | None = None):
        self.market = to_address(market)
        self._store = Store(location, namespace or f"index_{self.market[2:].lower()}")
        with self._store.transaction():
            self._store.create(_SCHEMA)
            self._store.create(_HEALTH_SCHEMA)
            stored = self._meta("market")
            if stored is None:
                self._set_meta("market", self.market)
                self._set_meta("start_block", str(start_block))
            elif stored != self.market:
                raise IndexMismatch(f"{self._store.location} indexes market {stored}, not {self.market}")
        self.start_block = int(self._meta("start_block") or 0)

    @property
    def location(self) -> StoreLocation:
        return self._store.location

    @property
    def store(self) -> Store:
        """The index's store: more tables of the same market go in it
        (``store.create``), their writes in ``store.transaction()``, which
        joins an ``apply`` in progress."""
        return self._store

    def close(self) -> None:
        self._store.close()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """The reads inside see one committed state (module docstring)."""
        with self._store.reading():
            yield

    # ------------------------------------------------------------ #
    # writes

    def apply(self, records: Iterable[LogRecord], checkpoint: tuple[int, str | None] | None = None) -> ApplyResult:
        """Applies logs, undoing those marked ``removed``, in one
        transaction. Idempotent per log. ``checkpoint=(block, hash)``
        also moves the checkpoint (as :meth:`set_checkpoint`) in the same
        transaction, so that no reader sees one without the other."""
        result = ApplyResult()
        with self._store.transaction():
            run: list[LogRecord] = []
            for record in records:
                if record.removed:
                    self._apply_run(run, result)
                    run = []
                    self._undo(record, result)
                else:
                    run.append(record)
            self._apply_run(run, result)
            if checkpoint is not None:
                self.set_checkpoint(*checkpoint)
        return result

    def _apply_run(self, records: list[LogRecord], result: ApplyResult) -> None:
        """New logs between two removals, in two batched statements: their
        order within the run does not matter (a fact is inserted once; the
        state moves only to a later fact)."""
        facts = [(i, record, fact) for i, record in enumerate(records) for fact in facts_of(record)]
        rows = [
            (r.block_number, r.block_hash, r.log_index, f.kind, r.tx_hash, r.event.value, f.account, f.token,
             str(f.value))
            for _, r, f in facts
        ]
        inserted = self._store.execute_many(_INSERT_FACT + " RETURNING 1", rows, returning=True)
        new = [(i, r, f) for (i, r, f), got in zip(facts, inserted) if got]
        self._store.execute_many(
            _UPSERT_STATE, [(f.account, f.kind, f.token, str(f.value), r.block_number, r.log_index) for _, r, f in new]
        )
        fresh = {i for i, _, _ in new}
        for i, record in enumerate(records):
            if i in fresh:
                result.applied += 1
                result.touched.add(record.account)
            else:
                result.duplicates += 1

    def _undo(self, record: LogRecord, result: ApplyResult) -> None:
        key = (record.block_number, record.block_hash, record.log_index)
        rows = self._store.execute(
            "SELECT account, kind, token FROM facts WHERE block_number = ? AND block_hash = ? AND log_index = ?", key
        ).fetchall()
        if not rows:
            result.unknown_removed += 1
            return
        self._store.execute("DELETE FROM facts WHERE block_number = ? AND block_hash = ? AND log_index = ?", key)
        for account, kind, token in rows:
            self._recompute(account, kind, token)
        result.undone += 1
        result.touched.add(record.account)

    def _recompute(self, account: str, kind: str, token: str) -> None:
        latest = self._store.execute(
            "SELECT value, block_number, log_index FROM facts WHERE account = ? AND kind = ? AND token = ? "
            "ORDER BY block_number DESC, log_index DESC LIMIT 1",
            (account, kind, token),
        ).fetchone()
        if latest is None:
            self._store.execute("DELETE FROM state WHERE account = ? AND kind = ? AND token = ?", (account, kind, token))
        else:
            self._store.execute(_REPLACE_STATE, (account, kind, token, *latest))

    def rewind(self, to_block: int) -> set[str]:
        """Forgets every fact above ``to_block`` (a reorg the node did not
        report as removed logs, e.g. while the keeper was down) and moves
        the checkpoint back to it. Returns the accounts affected."""
        with self._store.transaction():
            rows = self._store.execute(
                "SELECT DISTINCT account, kind, token FROM facts WHERE block_number > ?", (to_block,)
            ).fetchall()
            self._store.execute("DELETE FROM facts WHERE block_number > ?", (to_block,))
            for account, kind, token in rows:
                self._recompute(account, kind, token)
            checkpoint = self.checkpoint()
            if checkpoint is not None and checkpoint > to_block:
                self._set_meta("checkpoint", str(to_block))
                self._store.execute("DELETE FROM meta WHERE key = 'checkpoint_hash'")
        return {a for a, _, _ in rows if a}

    def compact(self, finalized_block: int) -> int:
        """Deletes facts at or below ``finalized_block`` that a later fact,
        also at or below it, supersedes: the last final value of each
        position stays, so undoing any newer log still falls back to it.
        Returns the number of rows deleted."""
        with self._store.transaction():
            cur = self._store.execute(
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
        with self._store.transaction():
            current = self.checkpoint()
            if current is not None and block <= current:
                return False
            self._set_meta("checkpoint", str(block))
            if block_hash is not None:
                self._set_meta("checkpoint_hash", block_hash)
            else:
                self._store.execute("DELETE FROM meta WHERE key = 'checkpoint_hash'")
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
        rows = self._store.execute("SELECT account FROM state WHERE kind = ? AND value != '0'", (DEBT,)).fetchall()
        # Sorted here: PostgreSQL's ORDER BY on text follows the database's collation.
        return sorted(r[0] for r in rows)

    def balances(self, account: str) -> dict[str, int]:
        """The account's non-zero collateral by token."""
        return self.balances_many([account]).get(account, {})

    def balances_many(self, accounts: Iterable[str]) -> dict[str, dict[str, int]]:
        """Non-zero collateral by token for each account (absent: none)."""
        wanted = list(accounts)
        out: dict[str, dict[str, int]] = {}
        with self._store.reading():
            for i in range(0, len(wanted), 500):
                part = wanted[i : i + 500]
                marks = ",".join("?" * len(part))
                rows = self._store.execute(
                    f"SELECT account, token, value FROM state WHERE kind = ? AND value != '0' AND account IN ({marks})",
                    (COLLATERAL, *part),
                ).fetchall()
                for account, token, value in rows:
                    out.setdefault(account, {})[token] = int(value)
        return out

    def position(self, account: str) -> IndexedPosition:
        account = to_address(account)
        with self._store.reading():
            row = self._store.execute(
                "SELECT value FROM state WHERE account = ? AND kind = ? AND token = ''", (account, DEBT)
            ).fetchone()
            return IndexedPosition(account, int(row[0]) if row else 0, self.balances(account))

    def borrow_index(self) -> int | None:
        """The borrow index of the latest Borrow or Repay seen."""
        row = self._store.execute(
            "SELECT value FROM state WHERE account = '' AND kind = ? AND token = ''", (BORROW_INDEX,)
        ).fetchone()
        return int(row[0]) if row else None

    def debt_estimate(self, account: str) -> int:
        """The market's debt (scaled debt x index, rounded up) at the last
        known index (1.0 before any Borrow or Repay): a lower bound of the
        debt now (interest since that log is missing)."""
        with self._store.reading():
            return debt_of(self.position(account).scaled_debt, self.borrow_index() or WAD)

    def stats(self) -> dict[str, int]:
        with self._store.reading():
            facts = self._store.execute("SELECT COUNT(*) FROM facts").fetchone()[0]
            positions = self._store.execute(
                "SELECT COUNT(*) FROM state WHERE kind = ? AND value != '0'", (DEBT,)
            ).fetchone()[0]
            return {"facts": facts, "open_positions": positions, "checkpoint": self.checkpoint() or -1}

    # ------------------------------------------------------------ #
    # health from the index (table ``health_inputs``)

    def open_positions(self) -> list[IndexedPosition]:
        """Every account with debt, with its scaled debt and non-zero
        collateral, in account order (two queries)."""
        with self._store.reading():
            rows = self._store.execute(
                "SELECT account, value FROM state WHERE kind = ? AND token = '' AND value != '0'",
                (DEBT,),
            ).fetchall()
            # Sorted here: PostgreSQL orders text by its collation.
            rows = sorted(rows)
            held = self._store.execute(
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
        with self._store.transaction():
            for record in records:
                if record.removed:
                    cur = self._store.execute(
                        "DELETE FROM health_inputs WHERE block_number = ? AND block_hash = ? "
                        "AND (log_index = ? OR log_index = ?)",
                        (record.block_number, record.block_hash, record.log_index, READ_LOG_INDEX),
                    )
                    changed += cur.rowcount
                    continue
                # One hash per block number: what another fork set there is gone.
                cur = self._store.execute(
                    "DELETE FROM health_inputs WHERE block_number = ? AND block_hash != ?",
                    (record.block_number, record.block_hash),
                )
                changed += cur.rowcount
                for fact in record.facts:
                    cur = self._store.execute(
                        "INSERT INTO health_inputs (block_number, block_hash, log_index, kind, key, value) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (block_number, block_hash, log_index, kind, key) "
                        "DO NOTHING",
                        (record.block_number, record.block_hash, record.log_index, fact.kind.value, fact.key, fact.encoded()),
                    )
                    changed += cur.rowcount
        return changed

    def health_inputs(self) -> dict[tuple[InputKind, str], tuple[int, ...]]:
        """The current value of every input: the latest by (block, log
        index) per (kind, key)."""
        with self._store.reading():
            rows = self._store.execute(
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
        with self._store.transaction():
            return self._store.execute("DELETE FROM health_inputs WHERE block_number > ?", (to_block,)).rowcount

    def compact_health_inputs(self, finalized_block: int) -> int:
        """Drops inputs at or below ``finalized_block`` that a later one,
        also final, supersedes (with ``compact``)."""
        with self._store.transaction():
            return self._store.execute(
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

    # ------------------------------------------------------------ #
    # plumbing

    def _meta(self, key: str) -> str | None:
        row = self._store.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, key: str, value: str) -> None:
        self._store.execute(_SET_META, (key, value))
