"""Where the kit finds the repository and its installed tools."""

from __future__ import annotations

from pathlib import Path

# The repository root (devkit/paths.py -> the root).
ROOT = Path(__file__).resolve().parents[1]
# The venv's executables (anvil is linked there by `make setup`).
VENV_BIN = ROOT / ".venv" / "bin"
