#!/usr/bin/env bash
# Debian's PostgreSQL server for the keeper's shared index (keepers/store.py;
# tests start a throwaway cluster of their own through
# keepers/store_server.py:ensure_postgres). Called by `make setup`; does
# nothing when initdb, pg_ctl and postgres are already there, on PATH or in
# /usr/lib/postgresql/<version>/bin (where Debian puts them, off PATH).
set -euo pipefail

have_server() {
    local dir
    if command -v pg_ctl >/dev/null 2>&1; then
        dir="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
        [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ] && return 0
    fi
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ] && return 0
    done
    return 1
}

# PostgreSQL refuses to run as root: as root, the tests run it as the
# `postgres` user, which Debian's package creates.
have_user() {
    [ "$(id -u)" -ne 0 ] || getent passwd postgres >/dev/null 2>&1
}

if have_server && have_user; then
    exit 0
fi
bash "$(dirname "$0")/apt-install.sh" postgresql
if ! have_server; then
    echo "error: postgresql installed but no initdb/pg_ctl/postgres found on PATH or in /usr/lib/postgresql/*/bin" >&2
    exit 1
fi
if ! have_user; then
    echo "error: postgresql installed but there is no 'postgres' user to run it as (it refuses root)" >&2
    exit 1
fi
for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/postgres" ]; then "$dir/postgres" --version; fi
done
