#!/usr/bin/env bash
# Debian's chromium for the demo report's browser test
# (tests/demo/test_report_browser.py opens reports/demo/report.html headless
# and checks that every chart loads). Called by `make setup`; does nothing
# when /usr/bin/chromium (or chromium on PATH) is already there.
set -euo pipefail

if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then
    exit 0
fi
bash "$(dirname "$0")/../keepers/apt-install.sh" chromium
if ! [ -x /usr/bin/chromium ] && ! command -v chromium >/dev/null 2>&1; then
    echo "error: chromium installed but neither /usr/bin/chromium nor chromium on PATH ($PATH)" >&2
    exit 1
fi
chromium --version 2>/dev/null || /usr/bin/chromium --version
