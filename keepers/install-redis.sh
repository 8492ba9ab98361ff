#!/usr/bin/env bash
# Debian's redis-server for the keeper's scale-out (tests/keeper/scale, run
# by `make test`; the test starts its own server on a free port). Called by
# `make setup`; does nothing when redis-server is already on PATH.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "error: redis-server is not installed and this user can neither install packages nor sudo without a" >&2
    echo "       password. Install it as root: apt-get install -y redis-server" >&2
    exit 1
fi
echo "installing redis-server (apt-get install -y redis-server)"
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get install -y -qq redis-server; then
    # A fresh machine may have no package lists yet.
    "${as_root[@]}" apt-get update -qq && "${as_root[@]}" apt-get install -y -qq redis-server || {
        echo "error: apt-get could not install redis-server (see above)" >&2
        exit 1
    }
fi
if ! command -v redis-server >/dev/null 2>&1; then
    echo "error: redis-server installed but not on PATH ($PATH)" >&2
    exit 1
fi
redis-server --version
