"""Fixtures of the periphery suite (Lens, FlashLiquidator, Leverage), on
top of the market suite's.

Re-export: a conftest serves only its own folder, so the market fixtures
of tests/market/conftest.py are invisible here. ``from tests.market.conftest
import *`` does not work under ``ape test``: tests/ has no ``__init__.py``
and a third-party ``tests`` package in site-packages shadows it, and
``pytest_plugins`` is refused outside the root conftest. So that file is
run by path (``runpy``) and its public names copied into this module, where
pytest registers any fixture it finds. The market suite's session fixtures
are then defined twice in a full run (once per folder), which only means
one more market deployment for this folder.

Speed: a revert raised deep inside a flash-loan callback (market ->
liquidator or leverage -> market -> facility) costs ape-vyper 10 to 20
seconds to map onto Vyper source lines (for the traceback and the dev
message), which nothing here reads. ``_no_source_tracebacks`` skips that
mapping in this folder: failures still show the revert message, and
``NAVLEND_REVERT_TRACES=1`` (as in tests/conftest.py) brings it back.

Periphery: ``lens`` and ``leverage`` are deployed by the market's owner,
as ``navlend.market.deploy_periphery`` does, each only when a test needs
it; the flash liquidators are deployed by their owners.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest
from navlend.constants import BPS

_MARKET_FIXTURES = runpy.run_path(
    str(Path(__file__).resolve().parents[1] / "market" / "conftest.py"),
    run_name="navlend_periphery_market_fixtures",
)
globals().update(
    {name: value for name, value in _MARKET_FIXTURES.items() if not name.startswith("_")}
)



@pytest.fixture(autouse=True)
def _no_source_tracebacks(monkeypatch):
    """Skips the Vyper source traceback of reverts (see the module notes)."""
    if os.environ.get("NAVLEND_REVERT_TRACES") != "1":
        from ape.exceptions import TransactionError

        no_traceback = property(lambda self: None, lambda self, value: None)
        monkeypatch.setattr(TransactionError, "source_traceback", no_traceback)


@pytest.fixture(scope="session")
def asset_a(collaterals):
    """Fund A as a listed collateral (6 decimals, $10.50, asset 0)."""
    return collaterals["fund_a"]


@pytest.fixture(scope="session")
def lens(owner, project):
    """The stateless Lens."""
    return owner.deploy(project.Lens)


@pytest.fixture(scope="session")
def leverage(world, market, owner, project):
    """The Leverage helper for ``market``, allowlisted by every fund since
    fund shares pass through it (as ``navlend.market.deploy_periphery``)."""
    leverage = owner.deploy(project.Leverage, market)
    world.allowlist(leverage, sender=owner)
    return leverage


@pytest.fixture(scope="session")
def flash_liquidator(market, liquidator, project):
    """A FlashLiquidator owned by ``liquidator``."""
    return liquidator.deploy(project.FlashLiquidator, market)


@pytest.fixture(scope="session")
def capitalless_liquidator(market, outsider, project):
    """A FlashLiquidator owned by ``outsider``: no stablecoin, allowlisted by
    no fund."""
    return outsider.deploy(project.FlashLiquidator, market)


@pytest.fixture(scope="session")
def issuer_facility(world):
    """``issuer_facility(collateral)``: the fund's RedemptionFacility behind
    an asset, which subscribes its shares and finally pays its redemptions
    (fund B's for the wrapper)."""
    facilities = {
        "fund_a": world.facility_a,
        "fund_c": world.facility_c,
        "wrapper": world.facility_b,
    }

    def go(collateral):
        return facilities[collateral.name]

    return go


@pytest.fixture(scope="session")
def move_nav(world, publish_next, guardian):
    """``move_nav(collateral, bps)``: publishes the asset's NAV (fund B's for
    the wrapper) changed by ``bps`` (signed), for the market and the
    facility alike, confirming it as the guardian when it is beyond the
    oracle's bound. Returns the NAV."""

    def go(collateral, bps: int) -> int:
        oracle = {"fund_a": world.oracle_a, "fund_c": world.oracle_c}.get(collateral.name, world.oracle_b)
        nav = oracle.latestRoundData()[1] * (BPS + bps) // BPS
        publish_next(oracle, nav)
        if oracle.has_pending():
            oracle.confirm_pending(sender=guardian)
        return nav

    return go


@pytest.fixture(scope="session")
def fund_wallet(mint_stable, stablecoin):
    """``fund_wallet(who, amount, spender)``: mints stablecoin to ``who`` and
    approves ``spender`` for it."""

    def go(who, amount: int, spender) -> int:
        mint_stable(who, amount)
        stablecoin.approve(spender, amount, sender=who)
        return amount

    return go
