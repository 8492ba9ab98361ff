"""Shared fixtures of the navlend test suite.

Actors are role-named, session-scoped test accounts (never ``accounts[i]``
in a test):

=============  ==========  ==================================================
fixture        account     role
=============  ==========  ==================================================
``deployer``   accounts[0] deploys everything: issuer admin of the funds,
                           owner of the oracles, facilities and wrapper
``issuer``     accounts[0] alias of ``deployer``
``updater``    accounts[1] publishes NAVs
``guardian``   accounts[2] confirms / rejects out-of-bound NAV moves
``lender``     accounts[3] allowlisted investor
``borrower``   accounts[4] allowlisted investor
``liquidator`` accounts[5] allowlisted investor
``attacker``   accounts[6] allowlisted (a KYC'd bad actor)
``outsider``   accounts[7] NOT allowlisted by either fund
``treasury``   accounts[8] receives subscription cash
``spare``      accounts[9] deploys contracts whose constructor must revert
=============  ==========  ==================================================

Why ``spare``: Ape caches the contract type per address, and a snapshot
revert does not clear that cache. A deployment that reverts at an address
(sender, nonce) where an earlier, reverted-away test deployed something
else is decoded with the wrong ABI. ``spare`` never deploys successfully,
so its addresses never carry a stale type.

The world (``devkit.world.deploy_world``) is deployed once per session at
a deterministic time: the chain is first moved to the next Wednesday 21:30
UTC, half an hour after a NAV strike, so weekday-dependent staleness never
depends on the wall clock. Ape snapshots the chain around every test, so
tests may change anything. Request world fixtures early in a test's
signature (Ape snapshots per fixture scope).

Helpers (session-scoped closures): ``mint_stable``, ``mint_fund``,
``advance``, ``publish_next``.

Speed: ape-foundry renders the full call trace of every reverted
transaction, including the reverts a test expects with ``ape.reverts``;
that costs about a second per revert on anvil (a third of the suite). The
rendering is switched off here; the revert message and the Vyper source
traceback still appear on failures. ``NAVLEND_REVERT_TRACES=1`` turns the
traces back on.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

# The navlend package lives at the repository root; make it importable when
# the project is not pip-installed (``make setup`` installs it editable).
_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from navlend.timeutil import STRIKE_HOUR_UTC, next_business_day_strike  # noqa: E402
from devkit.world import World, deploy_world  # noqa: E402

# Set to 1 to print the call trace of every reverted transaction again.
REVERT_TRACES_ENV = "NAVLEND_REVERT_TRACES"
# Seconds after a strike at which the world starts.
WORLD_START_OFFSET = 30 * 60
# Weekday (Monday = 0) on which the world starts.
WORLD_START_WEEKDAY = 2


def _silence_revert_traces() -> None:
    """Stops ape-foundry from rendering a call trace on each revert."""
    from ape_ethereum.trace import Trace
    from ape_foundry.provider import FoundryProvider

    original = FoundryProvider._handle_execution_reverted

    def quiet(self, *args, **kwargs):
        show = Trace.show
        Trace.show = lambda *_args, **_kwargs: None
        try:
            return original(self, *args, **kwargs)
        finally:
            Trace.show = show

    FoundryProvider._handle_execution_reverted = quiet


def pytest_configure(config):
    if os.environ.get(REVERT_TRACES_ENV) != "1":
        _silence_revert_traces()


# ---- actors ----


def _actor(index: int, doc: str):
    """A session fixture returning ``accounts[index]``, documented ``doc``."""

    def fixture(accounts):
        return accounts[index]

    fixture.__doc__ = doc
    return pytest.fixture(scope="session")(fixture)


deployer = _actor(0, "Deploys everything; issuer admin (owner) of the world's contracts.")
updater = _actor(1, "Publishes NAVs on every NAV oracle.")
guardian = _actor(2, "Confirms or rejects out-of-bound NAV moves.")
lender = _actor(3, "An allowlisted investor who supplies the stablecoin.")
borrower = _actor(4, "An allowlisted investor who posts fund shares.")
liquidator = _actor(5, "An allowlisted investor who liquidates.")
attacker = _actor(6, "An allowlisted (KYC'd) bad actor.")
outsider = _actor(7, "An account no fund allowlists.")
treasury = _actor(8, "Receives the facilities' subscription cash.")
spare = _actor(9, "Deploys only contracts expected to revert in their constructor.")


@pytest.fixture(scope="session")
def issuer(deployer):
    """Alias of ``deployer``: the funds' issuer admin."""
    return deployer


# ---- world ----


def _world_start(now: int) -> int:
    """The next WORLD_START_WEEKDAY, WORLD_START_OFFSET after the strike."""
    day = datetime.fromtimestamp(now, tz=timezone.utc) + timedelta(days=1)
    while day.weekday() != WORLD_START_WEEKDAY:
        day += timedelta(days=1)
    start = day.replace(hour=STRIKE_HOUR_UTC, minute=0, second=0, microsecond=0)
    return int(start.timestamp()) + WORLD_START_OFFSET


@pytest.fixture(scope="session")
def world_start(chain) -> int:
    """Moves the chain to a deterministic Wednesday evening; returns it."""
    start = _world_start(chain.blocks.head.timestamp)
    chain.mine(1, timestamp=start)
    return start


@pytest.fixture(scope="session")
def world(
    world_start, deployer, updater, guardian, treasury, lender, borrower, liquidator, attacker
) -> World:
    """The local world, with the investor actors allowlisted on every fund
    (``outsider`` is not)."""
    return deploy_world(
        deployer,
        updater=updater,
        guardian=guardian,
        treasury=treasury,
        allowlisted=[lender, borrower, liquidator, attacker],
    )


def _part(name: str, doc: str):
    """A session fixture returning ``world.<name>``, documented ``doc``."""

    def fixture(world):
        return getattr(world, name)

    fixture.__doc__ = doc
    return pytest.fixture(scope="session")(fixture)


stablecoin = _part("stablecoin", "The 6-decimal USD stablecoin.")
fund_a = _part("fund_a", "NAV-accruing fund, 6 decimals, NAV about $10.50.")
fund_b = _part("fund_b", "$1 dividend fund, 18 decimals (the wrapper's underlying).")
fund_c = _part("fund_c", "NAV-accruing fund, 18 decimals, NAV about $1.05.")
wrapper = _part("wrapper", "AccumulatingWrapper (ERC-4626) over fund B.")
oracle_a = _part("oracle_a", "NavOracle of fund A.")
oracle_b = _part("oracle_b", "NavOracle of fund B.")
oracle_c = _part("oracle_c", "NavOracle of fund C.")
wrapper_oracle = _part("wrapper_oracle", "WrapperNavOracle pricing one wrapper share.")
facility_a = _part("facility_a", "RedemptionFacility of fund A.")
facility_b = _part("facility_b", "RedemptionFacility of fund B.")
facility_c = _part("facility_c", "RedemptionFacility of fund C.")
wrapped_facility = _part("wrapped_facility", "WrappedFacility redeeming wrapper shares.")


# ---- helpers ----


@pytest.fixture(scope="session")
def mint_stable(stablecoin, deployer):
    """``mint_stable(to, amount)``: mints stablecoin units to ``to``."""

    def mint(to, amount: int):
        return stablecoin.mint(to, amount, sender=deployer)

    return mint


@pytest.fixture(scope="session")
def mint_fund(deployer):
    """``mint_fund(fund, to, amount)``: issuer-mints fund shares to ``to``
    (which must be allowlisted)."""

    def mint(fund, to, amount: int):
        return fund.mint(to, amount, sender=deployer)

    return mint


@pytest.fixture(scope="session")
def advance(chain):
    """``advance(seconds)``: mines a block ``seconds`` after the head and
    returns its timestamp (views then see the new time)."""

    def go(seconds: int) -> int:
        ts = chain.blocks.head.timestamp + seconds
        chain.mine(1, timestamp=ts)
        return ts

    return go


@pytest.fixture(scope="session")
def publish_next(chain, updater):
    """``publish_next(oracle, nav, delay=60)``: publishes ``nav`` struck at
    the next business-day strike after the oracle's latest round, in a block
    exactly ``delay`` seconds after that strike (or now, if the chain is
    already later). Returns the receipt."""

    def publish(oracle, nav: int, delay: int = 60):
        as_of = next_business_day_strike(oracle.latestRoundData()[3])
        if chain.blocks.head.timestamp < as_of + delay:
            chain.pending_timestamp = as_of + delay
        return oracle.publish(nav, as_of, sender=updater)

    return publish
