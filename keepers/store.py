"""The keeper's SQL store: SQLite (a file, embedded, one host) or
PostgreSQL (a server, shared by several hosts), behind one small interface
so that the same SQL runs on either.

Where: :func:`parse_location` takes a SQLite path (``.keeper/index.sqlite``,
``:memory:``, ``sqlite:///relative`` or ``sqlite:////absolute``) or a libpq URL
(``postgresql://user:pass@host:5432/db``) and returns a
:class:`StoreLocation`; :func:`configured_location` picks the config's
``db_url`` when set, else ``db_path`` (the embedded default).

A :class:`Store` is one connection with a re-entrant lock (safe to share
between threads), in autocommit mode so that transactions are explicit:

- ``store.execute(sql, params)``: one statement, ``?`` placeholders;
  ``store.execute_many(sql, rows, returning=...)``: the same statement for
  many rows, pipelined on PostgreSQL (one round trip, not one a row);
- ``with store.transaction():`` a write transaction. Writers of one
  namespace are serialised: SQLite takes its write lock at ``BEGIN
  IMMEDIATE``; PostgreSQL takes a transaction-scoped advisory lock keyed by
  the namespace (``pg_advisory_xact_lock``), released at COMMIT/ROLLBACK.
  Nested blocks join the outer transaction;
- ``with store.reading():`` a read-only snapshot (SQLite WAL read
  transaction; PostgreSQL ``REPEATABLE READ READ ONLY``): every read inside
  sees the same committed state, whatever writers commit meanwhile.
  Readers never wait for writers on either store;
- ``store.create(schema)``: ``CREATE ... IF NOT EXISTS`` statements, run in
  one write transaction (two processes starting at once do not race).

A PostgreSQL connection the server dropped (a restart, a failover) is
opened again by the next call outside a transaction; the call that found
it gone raises (the keeper's loop logs it and goes on with the next block).

A namespace is the PostgreSQL schema a store's tables live in
(``CREATE SCHEMA IF NOT EXISTS`` + ``search_path``): one per market's index,
so several markets share one database without renaming tables. SQLite
keeps one file per store and ignores it (besides the write lock's key).

Portable SQL (what :meth:`Store.execute` accepts, checked on both stores so
a SQLite-only test already catches a non-portable statement):

- placeholders are ``?`` (translated to ``%s`` for psycopg; a literal ``%``
  is escaped), so no ``?`` inside a string literal: pass such a value as a
  parameter;
- types: ``BIGINT`` for integers and booleans (0/1; PostgreSQL's
  ``INTEGER`` is 32 bits), ``DOUBLE PRECISION`` for floats (``REAL`` is 32
  bits there), ``TEXT`` for strings and for uint256 values (decimal text:
  neither store has a 256-bit integer; compare them in Python or against
  ``'0'``);
- upserts: ``INSERT ... ON CONFLICT (key columns) DO NOTHING`` or ``DO
  UPDATE SET col = excluded.col [WHERE ...]``. Refused: ``INSERT OR
  IGNORE``, ``INSERT OR REPLACE``, ``REPLACE INTO``, ``PRAGMA``,
  ``AUTOINCREMENT``, ``rowid``, ``executescript``-style multi-statement
  strings (``create`` splits a schema on ``;`` itself);
- ``ORDER BY`` a text column sorts by the database's collation on
  PostgreSQL (case-insensitive in most locales): sort addresses in Python;
- row values (``(a, b) >= (c, d)``), ``EXISTS``, ``LIMIT``, ``RETURNING``
  (SQLite 3.35+) work on both.

The driver for PostgreSQL is psycopg 3 (pinned in pyproject.toml),
imported only when a PostgreSQL store is opened or a URL validated.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import structlog

log = structlog.get_logger("keepers.store")

# A PostgreSQL schema name this module creates (lower case, unquoted-safe).
_NAMESPACE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# What portable SQL must not contain (module docstring).
_NOT_PORTABLE = re.compile(
    r"\bINSERT\s+OR\s+(IGNORE|REPLACE)\b|\bREPLACE\s+INTO\b|\bPRAGMA\b|\bAUTOINCREMENT\b|\browid\b",
    re.IGNORECASE,
)
_PG_SCHEMES = ("postgresql", "postgres")
# How long a SQLite connection waits on another's lock before failing.
SQLITE_BUSY_SECONDS = 30
# Transaction modes.
_WRITE, _READ = "write", "read"


class StoreError(RuntimeError):
    """The store cannot be opened or used (the message says which and why;
    a password in a URL is masked)."""


class NotPortable(ValueError):
    """A statement uses SQL that only one of the two stores understands."""


class StoreKind(Enum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


@dataclass(frozen=True)
class StoreLocation:
    """Where a store lives: a SQLite file (or ``:memory:``) or a libpq URL."""

    kind: StoreKind
    target: str
    # PostgreSQL: put before every namespace (schema) name, so that two
    # deployments (or tests) share one database apart; SQLite ignores it.
    schema_prefix: str = ""

    def __post_init__(self) -> None:
        if self.schema_prefix and not _NAMESPACE.match(self.schema_prefix):
            raise ValueError(f"schema prefix {self.schema_prefix!r}: lower-case letters, digits and _")

    @property
    def is_postgres(self) -> bool:
        return self.kind is StoreKind.POSTGRESQL

    def masked(self) -> str:
        """The location with a URL's password replaced by ``***``."""
        return mask_url(self.target) if self.is_postgres else self.target

    def __str__(self) -> str:
        return self.masked()


def mask_url(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def parse_location(value: str | Path) -> StoreLocation:
    """A SQLite path or ``sqlite:///path``, or a ``postgresql://`` URL;
    ValueError says what is wrong with any other."""
    if isinstance(value, Path):
        return StoreLocation(StoreKind.SQLITE, str(value))
    text = value.strip()
    if not text:
        raise ValueError("a store location is a SQLite path or a postgresql:// URL, not an empty string")
    scheme, sep, rest = text.partition("://")
    if not sep:
        return StoreLocation(StoreKind.SQLITE, text)
    scheme = scheme.lower()
    if scheme == "sqlite":
        # SQLAlchemy's form: sqlite:///relative/path, sqlite:////absolute/path, sqlite:///:memory:
        path = rest[1:] if rest.startswith("/") else ""
        if not path:
            raise ValueError(f"{text!r}: a SQLite URL is sqlite:///path/to/index.sqlite (three slashes, then the path)")
        return StoreLocation(StoreKind.SQLITE, path)
    if scheme in _PG_SCHEMES:
        check_postgres_url(text)
        return StoreLocation(StoreKind.POSTGRESQL, text)
    raise ValueError(f"{mask_url(text)!r}: unknown store scheme {scheme!r} (postgresql://... or a SQLite path)")


def check_postgres_url(url: str) -> None:
    """ValueError unless ``url`` is a libpq URL with a host and a
    database (the driver's own parser decides the syntax)."""
    parts = urlsplit(url)
    shown = mask_url(url)
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{shown!r}: the port is not a number from 1 to 65535") from None
    if port is not None and not 0 < port < 65_536:
        raise ValueError(f"{shown!r}: the port is not a number from 1 to 65535")
    if not parts.hostname:
        raise ValueError(f"{shown!r}: no host (postgresql://user@127.0.0.1:5432/navlend)")
    if not parts.path.strip("/"):
        raise ValueError(f"{shown!r}: no database name after the host (postgresql://user@host:5432/navlend)")
    psycopg = psycopg_module()
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as err:
        raise ValueError(f"{shown!r}: not a valid PostgreSQL URL: {err}") from None


def configured_location(db_url: str | None, db_path: str | Path) -> StoreLocation:
    """The config's store: ``db_url`` when set, else the SQLite ``db_path``."""
    if db_url is not None and db_url.strip():
        return parse_location(db_url)
    return parse_location(Path(db_path))


def psycopg_module() -> Any:
    """The PostgreSQL driver, imported on first use (a SQLite keeper never
    pays its ~0.14 s import)."""
    try:
        # optional dependency: psycopg, only for a PostgreSQL store
        import psycopg
    except ImportError as err:  # a broken setup, not a configuration problem
        raise StoreError("PostgreSQL needs the psycopg driver: run `make setup` (it is pinned in pyproject.toml)") from err
    return psycopg


# ---------------------------------------------------------------- #
#                              DIALECTS                             #
# ---------------------------------------------------------------- #


@dataclass(frozen=True)
class Dialect:
    """What differs between the stores below the portable SQL."""

    kind: StoreKind
    begin_write: str
    begin_read: str

    def sql(self, text: str) -> str:
        """``text`` in this store's placeholder style; NotPortable when
        it uses a construct of one store only."""
        return _translated(text, self.kind is StoreKind.POSTGRESQL)


@functools.lru_cache(maxsize=512)
def _translated(text: str, postgres: bool) -> str:
    found = _NOT_PORTABLE.search(text)
    if found:
        raise NotPortable(f"not portable between SQLite and PostgreSQL: {found.group(0)!r} in {text.strip()[:120]!r} "
                          "(keepers/store.py lists the portable forms)")
    return text.replace("%", "%%").replace("?", "%s") if postgres else text


SQLITE = Dialect(StoreKind.SQLITE, begin_write="BEGIN IMMEDIATE", begin_read="BEGIN")
POSTGRESQL = Dialect(StoreKind.POSTGRESQL, begin_write="BEGIN ISOLATION LEVEL READ COMMITTED",
                     begin_read="BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")


def split_schema(schema: str) -> list[str]:
    """The statements of a schema string (split on ``;``, blanks dropped)."""
    return [s.strip() for s in schema.split(";") if s.strip()]


def lock_key(namespace: str) -> int:
    """The advisory lock key (a signed 64-bit integer) of a namespace."""
    return int.from_bytes(hashlib.sha256(f"navlend:{namespace}".encode()).digest()[:8], "big", signed=True)


# ---------------------------------------------------------------- #
#                               STORE                               #
# ---------------------------------------------------------------- #


def _enable_wal(conn: Any, pause: float = 0.01) -> None:
    """Switches a SQLite connection to WAL. The switch can answer "database
    is locked" at once, without waiting on the busy timeout, while another
    connection switches the same new file (several processes or threads
    opening a fresh index together); it is asked again with a growing
    pause, for about SQLITE_BUSY_SECONDS in all. Any other error is raised
    at once."""
    waited = 0.0
    attempt = 0
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            return
        except sqlite3.OperationalError as err:
            attempt += 1
            if "locked" not in str(err) or waited >= SQLITE_BUSY_SECONDS:
                raise
            step = min(pause * attempt, 0.25)
            waited += step if step > 0 else 0.01
            time.sleep(step)


class Store:
    """One connection to a SQLite file or a PostgreSQL schema (module
    docstring). ``namespace``: the PostgreSQL schema (created if missing)
    and the write lock's key."""

    def __init__(self, location: StoreLocation | str | Path, namespace: str) -> None:
        self.location = location if isinstance(location, StoreLocation) else parse_location(location)
        self.namespace = self.location.schema_prefix + namespace
        if not _NAMESPACE.match(self.namespace):
            raise ValueError(f"namespace {self.namespace!r}: lower-case letters, digits and _, at most 63, "
                             "not a digit first")
        self.dialect = POSTGRESQL if self.location.is_postgres else SQLITE
        self._lock = threading.RLock()
        self._mode: str | None = None  # the open transaction's: _WRITE, _READ or None
        self._conn: Any = None
        self._connect()

    # -- connection --

    def _connect(self) -> None:
        if self.location.is_postgres:
            psycopg = psycopg_module()
            try:
                conn = psycopg.connect(self.location.target, autocommit=True, connect_timeout=10)
            except psycopg.Error as err:
                raise StoreError(f"cannot connect to {self.location.masked()}: {str(err).strip()}") from err
            self._conn = conn
            self._ensure_schema_namespace()
        else:
            target = self.location.target
            if target != ":memory:":
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            try:
                conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None,
                                       timeout=SQLITE_BUSY_SECONDS)
                conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
                _enable_wal(conn)
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as err:
                raise StoreError(f"cannot open the SQLite store {target}: {err}") from err
            self._conn = conn

    def _ensure_schema_namespace(self) -> None:
        """The PostgreSQL schema, created under the write lock (two
        processes creating it at once would otherwise collide), then put
        first on the search path."""
        conn = self._conn
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(self.namespace),))
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.namespace}"')
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        conn.execute(f'SET search_path TO "{self.namespace}"')

    def _reconnect_if_broken(self) -> None:
        """A PostgreSQL connection the server dropped (restart, idle
        timeout) is opened again, outside a transaction only."""
        if self.location.is_postgres and self._mode is None and (self._conn.closed or self._conn.broken):
            log.warning("store connection lost; reconnecting", store=self.location.masked(), namespace=self.namespace)
            self._connect()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @property
    def in_transaction(self) -> bool:
        return self._mode is not None

    # -- statements --

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Runs one portable statement; returns the driver's cursor
        (``fetchone``, ``fetchall``, ``rowcount``)."""
        text = self.dialect.sql(sql)
        with self._lock:
            self._reconnect_if_broken()
            return self._conn.execute(text, tuple(params))

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]], returning: bool = False) -> list[list[tuple]]:
        """Runs one portable statement per row of parameters, in as few
        round trips as the driver allows (psycopg pipelines them). With
        ``returning`` (a ``RETURNING`` statement): each row's result rows,
        in order; else an empty list."""
        text = self.dialect.sql(sql)
        params = [tuple(r) for r in rows]
        with self._lock:
            self._reconnect_if_broken()
            if not params:
                return []
            if not self.location.is_postgres:
                if returning:
                    return [self._conn.execute(text, p).fetchall() for p in params]
                self._conn.executemany(text, params)
                return []
            with self._conn.cursor() as cursor:
                cursor.executemany(text, params, returning=returning)
                if not returning:
                    return []
                out = []
                while True:
                    out.append(cursor.fetchall())
                    if not cursor.nextset():
                        return out

    def create(self, schema: str) -> None:
        """Runs a schema's ``CREATE ... IF NOT EXISTS`` statements in one
        write transaction."""
        with self.transaction():
            for statement in split_schema(schema):
                self.execute(statement)

    # -- transactions --

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction, serialised with every other writer of the
        namespace; committed on exit, rolled back on an exception. Nested:
        joins the open one (StoreError inside a read-only ``reading``)."""
        with self._lock:
            if self._mode == _READ:
                raise StoreError("a write inside a read-only snapshot (reading()): open the transaction first")
            if self._mode == _WRITE:
                yield
                return
            with self._outermost(_WRITE):
                yield

    @contextmanager
    def reading(self) -> Iterator[None]:
        """A read-only snapshot: the reads inside see one committed state.
        Inside a write transaction: joins it (and sees its own writes)."""
        with self._lock:
            if self._mode is not None:
                yield
                return
            with self._outermost(_READ):
                yield

    @contextmanager
    def _outermost(self, mode: str) -> Iterator[None]:
        self._reconnect_if_broken()
        self._conn.execute(self.dialect.begin_write if mode == _WRITE else self.dialect.begin_read)
        self._mode = mode
        try:
            if mode == _WRITE and self.location.is_postgres:
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(self.namespace),))
            yield
        except BaseException:
            self._mode = None
            self._rollback()
            raise
        self._mode = None
        if mode == _WRITE:
            self._conn.execute("COMMIT")
        else:
            self._rollback()  # a read transaction has nothing to keep

    def _rollback(self) -> None:
        try:
            self._conn.execute("ROLLBACK")
        except Exception as err:  # a dropped connection has nothing to roll back
            log.warning("rollback failed", store=self.location.masked(), error=str(err))
