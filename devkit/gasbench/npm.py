"""The npm packages the benchmark builds the peers from, and its build cache."""

from __future__ import annotations

import json
from pathlib import Path

from devkit.paths import ROOT

NODE_MODULES = ROOT / "node_modules"
# Compiled peers live here, never in git (.build/ is ignored).
PEER_CACHE = ROOT / ".build" / "peers"
# This package's folder: its own Solidity fixtures (sol/, compiled at bench
# time and named from here) and the solc-js driver.
PACKAGE_DIR = ROOT / "devkit" / "gasbench"


class MissingPackageError(RuntimeError):
    """An npm package the benchmark needs is not installed."""


def npm_package_dir(package: str) -> Path:
    """The installed npm package's folder; raises if `npm ci` has not run."""
    folder = NODE_MODULES / package
    if not (folder / "package.json").exists():
        raise MissingPackageError(
            f"npm package {package} is not installed in {NODE_MODULES}: run `npm ci`"
        )
    return folder


def npm_version(package: str) -> str:
    """The installed version of an npm package."""
    return json.loads((npm_package_dir(package) / "package.json").read_text())["version"]
