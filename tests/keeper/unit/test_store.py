"""keepers/store.py: where a store is (SQLite path or PostgreSQL URL,
validated), the portable SQL it accepts, transactions; the PostgreSQL side
on the session's throwaway server (conftest.py ``postgres_server``)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest

from keepers.config import ConfigError, load_config
from keepers.index import IndexMismatch, PositionIndex
from keepers.store import (
    NotPortable,
    Store,
    StoreError,
    StoreKind,
    StoreLocation,
    _enable_wal,
    configured_location,
    lock_key,
    mask_url,
    parse_location,
    split_schema,
)
from keepers import store_server
from keepers.store_server import find_postgres_bin, free_port, server_user
from keepers.types import LogRecord, to_address

from conftest import BORROWER, CONFIG_ENV, MARKET

OTHER_MARKET = to_address("0x" + "3b" * 20)


def _borrow(account: str, scaled: int, block: int) -> LogRecord:
    args = {"on_behalf": account, "scaled_debt": scaled, "borrow_index": 10**18}
    return LogRecord.from_event("Borrow", args, block_number=block, block_hash=f"0x{block:064x}",
                                tx_hash=f"0x{block:064x}", log_index=0)


# ---------------------------------------------------------------- #
#                              locations                            #
# ---------------------------------------------------------------- #


@pytest.mark.parametrize("value, kind, target", [
    (".keeper/index.sqlite", StoreKind.SQLITE, ".keeper/index.sqlite"),
    (Path("/var/keeper/index.sqlite"), StoreKind.SQLITE, "/var/keeper/index.sqlite"),
    (":memory:", StoreKind.SQLITE, ":memory:"),
    ("sqlite:///relative/index.sqlite", StoreKind.SQLITE, "relative/index.sqlite"),
    ("sqlite:////abs/index.sqlite", StoreKind.SQLITE, "/abs/index.sqlite"),
    ("postgresql://keeper:pw@10.0.0.5:5432/navlend", StoreKind.POSTGRESQL, "postgresql://keeper:pw@10.0.0.5:5432/navlend"),
    ("postgres://keeper@db/navlend?sslmode=require", StoreKind.POSTGRESQL, "postgres://keeper@db/navlend?sslmode=require"),
])
def test_parse_location__path_or_url__kind_and_target(value, kind, target):
    location = parse_location(value)
    assert (location.kind, location.target) == (kind, target)


@pytest.mark.parametrize("value, match", [
    ("", "empty"),
    ("mysql://root@db/navlend", "unknown store scheme 'mysql'"),
    ("sqlite://index.sqlite", "three slashes"),
    ("postgresql://keeper@db:99999/navlend", "port"),
    ("postgresql://keeper@db:port/navlend", "port"),
    ("postgresql:///navlend", "no host"),
    ("postgresql://keeper:pw@db:5432", "no database"),
    ("postgresql://keeper@db/navlend?nosuchoption=1", "not a valid PostgreSQL URL"),
])
def test_parse_location__bad_value__says_why(value, match):
    with pytest.raises(ValueError, match=match):
        parse_location(value)


def test_parse_location__bad_url__password_masked_in_the_error():
    with pytest.raises(ValueError) as err:
        parse_location("postgresql://keeper:hunter2@db:5432")
    assert "hunter2" not in str(err.value) and "keeper:***@db:5432" in str(err.value)


def test_mask_url__password__masked_else_unchanged():
    assert mask_url("postgresql://u:secret@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert mask_url("postgresql://u@h/d") == "postgresql://u@h/d"


def test_configured_location__db_url_wins_over_db_path():
    url = "postgresql://keeper@db/navlend"
    assert configured_location(url, ".keeper/index.sqlite") == StoreLocation(StoreKind.POSTGRESQL, url)
    assert configured_location(None, ".keeper/index.sqlite") == StoreLocation(StoreKind.SQLITE, ".keeper/index.sqlite")
    assert configured_location("  ", "x.sqlite").kind is StoreKind.SQLITE


def test_schema_prefix__not_an_identifier__refused():
    with pytest.raises(ValueError, match="schema prefix"):
        StoreLocation(StoreKind.POSTGRESQL, "postgresql://h/d", schema_prefix="Bad-Prefix")


def test_config__db_url__validated_with_the_key_named():
    assert load_config(env={**CONFIG_ENV, "NAVLEND_KEEPER_DB_URL": "postgresql://keeper@db:5432/navlend"}).db_url
    assert load_config(env=CONFIG_ENV).db_url is None
    with pytest.raises(ConfigError, match="db_url: .*unknown store scheme 'redis'"):
        load_config(env={**CONFIG_ENV, "NAVLEND_KEEPER_DB_URL": "redis://127.0.0.1:6379/0"})
    with pytest.raises(ConfigError, match="db_url: .*no database"):
        load_config(env={**CONFIG_ENV, "NAVLEND_KEEPER_DB_URL": "postgresql://keeper:pw@db:5432"})


# ---------------------------------------------------------------- #
#                     portable SQL, transactions                    #
# ---------------------------------------------------------------- #


@pytest.mark.parametrize("sql", [
    "INSERT OR IGNORE INTO t VALUES (?)",
    "insert or replace into t values (?)",
    "REPLACE INTO t VALUES (?)",
    "PRAGMA journal_mode=WAL",
    "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT)",
    "SELECT rowid FROM t",
])
def test_store__sqlite_only_statement__refused_on_sqlite_too(sql):
    store = Store(":memory:", "t")
    with pytest.raises(NotPortable, match="not portable"):
        store.execute(sql)


def test_store__portable_upsert__runs(new_location):
    store = Store(new_location(), "upserts")
    store.create("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BIGINT NOT NULL); "
                 "CREATE INDEX IF NOT EXISTS kv_v ON kv (v)")
    sql = "INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v WHERE excluded.v > kv.v"
    for v in (5, 3, 9):
        store.execute(sql, ("a", v))
    store.execute("INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING", ("a", 1))
    assert store.execute("SELECT v FROM kv WHERE k = ? AND k LIKE '%'", ("a",)).fetchone()[0] == 9
    store.close()


def test_store__exception_in_transaction__rolled_back(new_location):
    store = Store(new_location(), "rollback")
    store.create("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BIGINT NOT NULL)")
    with pytest.raises(RuntimeError, match="boom"):
        with store.transaction():
            store.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("a", 1))
            raise RuntimeError("boom")
    assert store.execute("SELECT COUNT(*) FROM kv").fetchone()[0] == 0
    assert not store.in_transaction
    store.close()


def test_split_schema__statements__blanks_dropped():
    assert split_schema("CREATE TABLE a (x TEXT);\n\n CREATE TABLE b (y TEXT) ;") == [
        "CREATE TABLE a (x TEXT)", "CREATE TABLE b (y TEXT)"]


def test_lock_key__per_namespace__stable_signed_64_bits():
    assert lock_key("index_ab") == lock_key("index_ab") != lock_key("index_cd")
    assert -(2**63) <= lock_key("index_ab") < 2**63


def test_store__bad_namespace__refused():
    with pytest.raises(ValueError, match="namespace"):
        Store(":memory:", "Index-1")


# ---------------------------------------------------------------- #
#                             PostgreSQL                            #
# ---------------------------------------------------------------- #


def test_postgres__two_markets_in_one_database__each_in_its_own_schema(postgres_location):
    where = postgres_location()
    first, second = PositionIndex(where, MARKET), PositionIndex(where, OTHER_MARKET)
    try:
        first.apply([_borrow(BORROWER, 600, 2)])
        assert first.open_accounts() == [BORROWER] and second.open_accounts() == []
    finally:
        first.close()
        second.close()


def test_postgres__schema_of_another_market__refused(postgres_location):
    where = postgres_location()
    PositionIndex(where, MARKET, namespace="shared").close()
    with pytest.raises(IndexMismatch, match=f"indexes market {MARKET}"):
        PositionIndex(where, OTHER_MARKET, namespace="shared")


def test_postgres__connection_dropped_by_the_server__next_call_reconnects(postgres_location, postgres_server):
    index = PositionIndex(postgres_location(), MARKET)
    index.apply([_borrow(BORROWER, 600, 2)])
    pid = index.store._conn.info.backend_pid
    with psycopg.connect(postgres_server.url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(psycopg.OperationalError):
        index.open_accounts()  # the call that finds the connection gone fails...
    assert index.open_accounts() == [BORROWER]  # ...the next one reconnects
    index.close()


def test_postgres__nobody_listening__clear_error_password_masked(postgres_server):
    url = f"postgresql://keeper:hunter2@127.0.0.1:{free_port()}/navlend"
    with pytest.raises(StoreError, match=r"cannot connect to postgresql://keeper:\*\*\*@127\.0\.0\.1") as err:
        PositionIndex(url, MARKET)
    assert "hunter2" not in str(err.value)


def test_postgres_server__binaries_found_and_root_runs_it_as_postgres(postgres_server):
    assert find_postgres_bin() == postgres_server.bin_dir
    assert postgres_server.run_as == server_user()


def test_store__write_inside_a_read_snapshot__refused_nothing_written(new_location):
    store = Store(new_location(), "snapshots")
    store.create("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BIGINT NOT NULL)")
    with pytest.raises(StoreError, match="read-only snapshot"):
        with store.reading():
            with store.transaction():
                store.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("a", 1))
    with store.transaction():
        with store.reading():  # a read inside a write joins it
            store.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("b", 2))
    assert store.execute("SELECT k FROM kv").fetchall() == [("b",)]
    store.close()


# ---------------------------------------------------------------- #
#                 the throwaway server's plumbing                   #
# ---------------------------------------------------------------- #


def test_find_postgres_bin__nothing_on_path_or_in_debian_dir__none(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(store_server, "DEBIAN_BIN_ROOT", tmp_path / "absent")
    assert store_server.find_postgres_bin() is None


def test_find_postgres_bin__debian_versions__newest_complete_one(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    for version, names in (("13", ("initdb", "pg_ctl", "postgres")), ("15", ("initdb", "pg_ctl", "postgres")),
                           ("16", ("initdb",))):  # 16 is incomplete
        folder = tmp_path / "lib" / version / "bin"
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).write_text("#!/bin/sh\n")
            (folder / name).chmod(0o755)
    monkeypatch.setattr(store_server, "DEBIAN_BIN_ROOT", tmp_path / "lib")
    assert store_server.find_postgres_bin() == tmp_path / "lib" / "15" / "bin"


def test_install_postgres__script_fails__unavailable_with_its_words(monkeypatch, tmp_path):
    script = tmp_path / "install.sh"
    script.write_text("echo 'error: no apt here' >&2\nexit 1\n")
    monkeypatch.setattr(store_server, "INSTALL_SCRIPT", script)
    with pytest.raises(store_server.PostgresUnavailable, match="exited 1.*no apt here"):
        store_server.install_postgres()


def test_server_user__root_runs_as_postgres_else_as_itself(monkeypatch):
    monkeypatch.setattr(store_server.os, "geteuid", lambda: 1000)
    assert store_server.server_user() is None
    monkeypatch.setattr(store_server.os, "geteuid", lambda: 0)
    monkeypatch.setattr(store_server.pwd, "getpwnam", lambda name: object())
    assert store_server.server_user() == "postgres"

    def no_user(name):
        raise KeyError(name)

    monkeypatch.setattr(store_server.pwd, "getpwnam", no_user)
    with pytest.raises(store_server.PostgresUnavailable, match="refuses root"):
        store_server.server_user()


def test_postgres_server__stopped__directory_gone_and_port_closed(postgres_server):
    # A second cluster of its own (the session's stays up); postgres_server: skipped where none can run.
    server = store_server.ensure_postgres()
    assert server.base_dir.is_dir()
    server.stop()
    assert not server.base_dir.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=2)


def test_config__log_fields__db_url_password_masked():
    config = load_config(env={**CONFIG_ENV, "NAVLEND_KEEPER_DB_URL": "postgresql://keeper:hunter2@db:5432/navlend"})
    assert config.log_fields()["db_url"] == "postgresql://keeper:***@db:5432/navlend"
    assert load_config(env=CONFIG_ENV).log_fields()["db_url"] is None


def test_store__execute_many_returning__one_result_per_row_in_order(new_location):
    store = Store(new_location(), "batches")
    store.create("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BIGINT NOT NULL)")
    sql = "INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING RETURNING v"
    got = store.execute_many(sql, [("a", 1), ("b", 2), ("a", 3), ("c", 4)], returning=True)
    assert got == [[(1,)], [(2,)], [], [(4,)]]
    assert store.execute_many(sql, [], returning=True) == []
    assert store.execute_many("UPDATE kv SET v = v + ? WHERE k = ?", [(10, "a"), (20, "c")]) == []
    assert sorted(store.execute("SELECT k, v FROM kv").fetchall()) == [("a", 11), ("b", 2), ("c", 24)]
    store.close()


def test_store__eight_connections_open_a_new_sqlite_file_at_once__no_locked_error(tmp_path):
    # SQLite's switch to WAL can answer "database is locked" without
    # waiting on the busy timeout while another connection switches the
    # same new file (seen failing about one trial in 40 before the fix).
    failures: list[str] = []
    for trial in range(60):
        target = tmp_path / f"race-{trial}.sqlite"
        barrier = threading.Barrier(8)

        def open_it() -> None:
            barrier.wait()
            try:
                Store(str(target), "race").close()
            except Exception as err:  # surfaced below
                failures.append(repr(err))

        threads = [threading.Thread(target=open_it) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert failures == []


def test_enable_wal__locked_then_free__retried_until_switched():
    class Locked:
        calls = 0

        def execute(self, sql):
            self.calls += 1
            if self.calls < 3:
                raise sqlite3.OperationalError("database is locked")
            return self

        def fetchone(self):
            return ("wal",)

    conn = Locked()
    _enable_wal(conn, pause=0.0)
    assert conn.calls == 3


def test_enable_wal__other_error__raised_at_once():
    class Broken:
        calls = 0

        def execute(self, sql):
            self.calls += 1
            raise sqlite3.OperationalError("disk I/O error")

    conn = Broken()
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _enable_wal(conn, pause=0.0)
    assert conn.calls == 1
