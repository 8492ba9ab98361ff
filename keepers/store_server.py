"""A throwaway PostgreSQL server on loopback, for tests and the benchmark
(as :func:`keepers.scale.ensure_redis` is for Redis).

:func:`ensure_postgres` finds Debian's binaries (``pg_ctl`` on PATH, else
``/usr/lib/postgresql/<version>/bin``), installs them with
``keepers/install-postgres.sh`` when missing, and starts a new cluster in a
temporary directory on a free 127.0.0.1 port: ``initdb`` (trust auth on
loopback only, C locale, no fsync: nothing in it is worth keeping), then
``pg_ctl start``, then a database ``navlend``. :meth:`PostgresServer.stop`
stops it and deletes the directory.

PostgreSQL refuses to run as root. As root (the sandbox, CI), every server
command runs as the ``postgres`` system user that Debian's package creates
(``runuser -u postgres --``), and the directory is handed to that user; as
anyone else, as that user.

A production database is not started here: run it as a service and give
the keeper its URL (``NAVLEND_KEEPER_DB_URL``; keepers/README.md).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from keepers.store import psycopg_module

log = structlog.get_logger("keepers.store_server")

INSTALL_SCRIPT = Path(__file__).with_name("install-postgres.sh")
DEBIAN_BIN_ROOT = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"
SUPERUSER = "navlend"
DATABASE = "navlend"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be installed or started here (the message says why)."""


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway cluster."""

    url: str
    port: int
    base_dir: Path
    bin_dir: Path
    run_as: str | None

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    def url_of(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database on this server; its URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"database name {name!r}: lower-case letters, digits and _")
        with psycopg_module().connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_of(name)

    def stop(self) -> None:
        """Stops the server (fast shutdown) and deletes its directory."""
        result = _run([str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30"],
                      self.run_as, check=False)
        if result.returncode != 0:
            log.warning("pg_ctl stop failed", output=(result.stdout + result.stderr).strip()[-400:])
        shutil.rmtree(self.base_dir, ignore_errors=True)


def find_postgres_bin() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``:
    ``pg_ctl``'s on PATH (resolving links), else Debian's newest
    ``/usr/lib/postgresql/<version>/bin``; None when neither has them."""
    candidates = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    if DEBIAN_BIN_ROOT.is_dir():
        versions = sorted((p for p in DEBIAN_BIN_ROOT.iterdir() if p.name.isdigit()), key=lambda p: int(p.name),
                          reverse=True)
        candidates += [v / "bin" for v in versions]
    for directory in candidates:
        if all(os.access(directory / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def install_postgres() -> Path:
    """Runs keepers/install-postgres.sh (apt-get install postgresql);
    the binaries' directory, or PostgresUnavailable with the script's words."""
    result = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=900)
    found = find_postgres_bin()
    if result.returncode != 0 or found is None:
        raise PostgresUnavailable(f"PostgreSQL cannot be installed ({INSTALL_SCRIPT.name} exited {result.returncode}): "
                                  f"{(result.stderr or result.stdout).strip()[-600:]}")
    return found


def server_user() -> str | None:
    """The OS user the server runs as: ``postgres`` when this process is
    root (PostgreSQL refuses root), None (this user) otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PostgresUnavailable(
            f"running as root, and there is no {SERVER_USER!r} user to run PostgreSQL as (PostgreSQL refuses root): "
            f"run keepers/install-postgres.sh, which installs Debian's package (it creates the user)"
        ) from None
    return SERVER_USER


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_postgres(port: int | None = None, parent: Path | None = None) -> PostgresServer:
    """A new PostgreSQL cluster on 127.0.0.1:``port`` (a free one by
    default) in a temporary directory under ``parent``; installed first if
    missing. PostgresUnavailable with the reason when it cannot be."""
    bin_dir = find_postgres_bin() or install_postgres()
    run_as = server_user()
    port = port or free_port()
    base = Path(tempfile.mkdtemp(prefix="navlend-pg-", dir=parent))
    try:
        if run_as is not None:
            entry = pwd.getpwnam(run_as)
            os.chown(base, entry.pw_uid, entry.pw_gid)
        data = base / "data"
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "--locale=C",
              "--encoding=UTF8", "--no-sync"], run_as)
        options = (f"-p {port} -c listen_addresses=127.0.0.1 -k {base} -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=50")
        started = PostgresServer(url=f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres", port=port,
                                 base_dir=base, bin_dir=bin_dir, run_as=run_as)
        _run([str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-l", str(base / "server.log"), "-w", "-t", "30",
              "-o", options], run_as)
        try:
            _wait_ready(started)
            url = started.create_database(DATABASE)
        except Exception:
            _log_tail(base)
            started.stop()
            raise
        server = PostgresServer(url=url, port=port, base_dir=base, bin_dir=bin_dir, run_as=run_as)
    except Exception as err:
        _log_tail(base)
        shutil.rmtree(base, ignore_errors=True)
        if isinstance(err, PostgresUnavailable):
            raise
        raise PostgresUnavailable(f"postgres could not be started on port {port}: {err}") from err
    log.info("postgres started", url=server.url, dir=str(base), run_as=run_as or "self")
    return server


def _wait_ready(server: PostgresServer, timeout: float = 30.0) -> None:
    psycopg = psycopg_module()
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(server.url, connect_timeout=2):
                return
        except psycopg.OperationalError as err:
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"postgres on port {server.port} did not answer within {timeout} s: {err}")
            time.sleep(0.1)


def _run(cmd: list[str], run_as: str | None, check: bool = True) -> subprocess.CompletedProcess[str]:
    full = ["runuser", "-u", run_as, "--", *cmd] if run_as else cmd
    try:
        result = subprocess.run(full, capture_output=True, text=True, timeout=120, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as err:
        raise PostgresUnavailable(f"{Path(cmd[0]).name} could not run: {err}") from err
    if check and result.returncode != 0:
        raise PostgresUnavailable(f"{Path(cmd[0]).name} {cmd[1] if len(cmd) > 1 else ''} failed "
                                  f"(exit {result.returncode}): {(result.stderr or result.stdout).strip()[-600:]}")
    return result


def _log_tail(base: Path) -> None:
    server_log = base / "server.log"
    if server_log.exists():
        log.warning("postgres server log", tail=server_log.read_text(errors="replace")[-1000:])
