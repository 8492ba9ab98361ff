"""The failing examples saved in Hypothesis's example database: what
``make replay`` re-runs (the ``replay`` profile runs those and nothing else).

An ``audit`` run saves every failure it finds in the example database, a
directory: ``.hypothesis/examples`` under the directory the run started in
(the repository root for the make targets), or ``examples`` under
``HYPOTHESIS_STORAGE_DIRECTORY`` when that is set. It holds one
sub-directory per test key and one file per saved example, plus Hypothesis's
own index of the keys it has written, which is not an example.

``python -m propkit.saved [DIRECTORY]`` (from tests/property, or with it on
``PYTHONPATH``) prints how many examples are saved; ``make replay`` says
"no saved failures" when that is 0 instead of running a suite of tests that
each have nothing to run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis.database import DirectoryBasedExampleDatabase

STORAGE_ENV = "HYPOTHESIS_STORAGE_DIRECTORY"
# The directory of Hypothesis's index of the keys it has written (every
# key saved is also recorded there): bookkeeping, not a saved example.
KEY_INDEX = DirectoryBasedExampleDatabase._metakeys_hash


def database_directory(start: Path | None = None) -> Path:
    """Where Hypothesis keeps the example database of a run started in
    ``start`` (default: the current directory)."""
    home = os.environ.get(STORAGE_ENV)
    base = Path(home) if home else (start or Path.cwd()) / ".hypothesis"
    return base / "examples"


def saved_examples(directory: Path) -> int:
    """How many examples the database in ``directory`` holds (0 when the
    directory does not exist)."""
    if not directory.is_dir():
        return 0
    return sum(
        1
        for key in directory.iterdir()
        if key.is_dir() and key.name != KEY_INDEX
        for example in key.iterdir()
        if example.is_file()
    )


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else database_directory()
    print(saved_examples(directory))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
