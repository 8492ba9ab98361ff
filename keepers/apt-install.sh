#!/usr/bin/env bash
# apt-install.sh PACKAGE...: Debian's packages for the keeper's services
# (install-redis.sh, install-postgres.sh), with apt-get as root, or through
# `sudo -n` when not root; a clear error when neither can.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 PACKAGE..." >&2
    exit 2
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "error: $* not installed and this user can neither install packages nor sudo without a password." >&2
    echo "       Install as root: apt-get install -y $*" >&2
    exit 1
fi
echo "installing $* (apt-get install -y $*)"
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get install -y -qq "$@"; then
    # A fresh machine may have no package lists yet.
    "${as_root[@]}" apt-get update -qq && "${as_root[@]}" apt-get install -y -qq "$@" || {
        echo "error: apt-get could not install $* (see above)" >&2
        exit 1
    }
fi
