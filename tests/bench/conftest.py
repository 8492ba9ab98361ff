"""Fixtures of the gas-benchmark suite.

The scenario's measured lender and borrower are the suite's ``lender`` and
``borrower``; two more accounts keep the markets from being empty before
anything is measured (the reference's lender0 and borrower0).
"""

from __future__ import annotations

import pytest

from devkit.gasbench.scenario import Actors


@pytest.fixture(scope="session")
def background_lender(accounts):
    """Supplies the first 1,000,000 before anything is measured."""
    return accounts[10]


@pytest.fixture(scope="session")
def background_borrower(accounts):
    """Borrows 50,000 against 100,000 before anything is measured."""
    return accounts[11]


@pytest.fixture(scope="session")
def scenario_actors(
    deployer, background_lender, background_borrower, lender, borrower, liquidator
) -> Actors:
    """The gas scenario's roles, in the reference's order."""
    return Actors(
        owner=deployer,
        lender0=background_lender,
        borrower0=background_borrower,
        lender1=lender,
        borrower1=borrower,
        liquidator=liquidator,
    )
