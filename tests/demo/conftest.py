"""Fixtures of the demo's pure tests."""

from __future__ import annotations

import pytest
from synthetic_run import synthetic_results

from devkit.demo.results import DemoResults


@pytest.fixture
def results() -> DemoResults:
    """A synthetic demo run (tests/demo/synthetic_run.py)."""
    return synthetic_results()
