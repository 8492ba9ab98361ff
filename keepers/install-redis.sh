#!/usr/bin/env bash
# Debian's redis-server for the keeper's scale-out (tests/keeper/scale, run
# by `make test`; the test starts its own server on a free port). Called by
# `make setup`; does nothing when redis-server is already on PATH.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
bash "$(dirname "$0")/apt-install.sh" redis-server
if ! command -v redis-server >/dev/null 2>&1; then
    echo "error: redis-server installed but not on PATH ($PATH)" >&2
    exit 1
fi
redis-server --version
