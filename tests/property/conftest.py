"""Fixtures of the property suite (tests/property).

Plain pytest: the contracts run in-process on revm (``propkit.evm``), no Ape
provider is needed (except by ``test_property_ape.py``, marked ``ape``,
which replays a few steps on anvil through the Ape adapter). Selectable
alone with ``pytest tests/property`` or ``ape test tests/property``.

- The world is deployed once per session (``evm_world``) and every test
  and every Hypothesis example runs inside ``world.env.anchor()``, so
  nothing is redeployed between examples.
- Hypothesis profiles (``HYPOTHESIS_PROFILE=ci|dev|audit|replay|mutation``)
  are registered by ``propkit.profiles`` and applied to this suite's tests
  only. ``NAVLEND_PROPERTY_STATS=1`` prints per-operation outcome counts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from propkit import profiles  # noqa: E402  (registers the profiles)


def pytest_configure(config):
    config.addinivalue_line("markers", "ape: needs the Ape provider (anvil); deselect with -m 'not ape'")
    config.addinivalue_line("markers", "property: navlend property suite (in-process revm)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if str(item.fspath).startswith(str(HERE)):
            item.add_marker(pytest.mark.property)


@pytest.fixture(scope="session")
def evm_world():
    """The in-process world (contracts from NAVLEND_CONTRACTS_DIR or contracts/)."""
    from propkit import world as bw

    return bw.shared_world()


@pytest.fixture(scope="session")
def property_profile() -> str:
    return profiles.current()


def pytest_terminal_summary(terminalreporter):
    if os.environ.get("NAVLEND_PROPERTY_STATS") != "1":
        return
    try:
        from propkit.harness import Harness
    except Exception:  # pragma: no cover
        return
    tr = terminalreporter
    tr.section("navlend property suite: operation outcomes")
    for (name, outcome), n in sorted(Harness.stats.items()):
        tr.write_line(f"{n:7d}  {name:40s} {outcome}")
