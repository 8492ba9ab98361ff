"""Shared fixtures of the navlend test suite.

Actors are role-named, session-scoped test accounts (never ``accounts[i]``
in a test):

=============  ==========  ==================================================
fixture        account     role
=============  ==========  ==================================================
``deployer``   accounts[0] deploys everything; issuer admin of the funds,
               (``issuer`` owner of oracles, facilities and the wrapper
               is an alias)
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

The world (``navlend.world.deploy_world``) is deployed once per session at
a deterministic time: the chain is first moved to the next Wednesday 21:30
UTC, half an hour after a NAV strike, so weekday-dependent staleness never
depends on the wall clock. Ape snapshots the chain around every test, so
tests may change anything. Request world fixtures early in a test's
signature (Ape snapshots per fixture scope).

Helpers (session-scoped closures): ``mint_stable``, ``mint_fund``,
``advance``, ``publish_next``.
"""

from __future__ import annotations

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
from navlend.world import World, deploy_world  # noqa: E402

# Seconds after a strike at which the world starts.
WORLD_START_OFFSET = 30 * 60
# Weekday (Monday = 0) on which the world starts.
WORLD_START_WEEKDAY = 2


# ---- actors ----


@pytest.fixture(scope="session")
def deployer(accounts):
    """Deploys everything; issuer admin (owner) of the world's contracts."""
    return accounts[0]


@pytest.fixture(scope="session")
def issuer(deployer):
    """Alias of ``deployer``: the funds' issuer admin."""
    return deployer


@pytest.fixture(scope="session")
def updater(accounts):
    """Publishes NAVs on both NAV oracles."""
    return accounts[1]


@pytest.fixture(scope="session")
def guardian(accounts):
    """Confirms or rejects out-of-bound NAV moves."""
    return accounts[2]


@pytest.fixture(scope="session")
def lender(accounts):
    """An allowlisted investor who supplies the stablecoin."""
    return accounts[3]


@pytest.fixture(scope="session")
def borrower(accounts):
    """An allowlisted investor who posts fund shares."""
    return accounts[4]


@pytest.fixture(scope="session")
def liquidator(accounts):
    """An allowlisted investor who liquidates."""
    return accounts[5]


@pytest.fixture(scope="session")
def attacker(accounts):
    """An allowlisted (KYC'd) bad actor."""
    return accounts[6]


@pytest.fixture(scope="session")
def outsider(accounts):
    """An account neither fund allowlists."""
    return accounts[7]


@pytest.fixture(scope="session")
def treasury(accounts):
    """Receives the facilities' subscription cash."""
    return accounts[8]


@pytest.fixture(scope="session")
def spare(accounts):
    """Deploys only contracts expected to revert in their constructor."""
    return accounts[9]


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
def world(world_start, deployer, updater, guardian, treasury, lender, borrower, liquidator, attacker) -> World:
    """The local world, with the investor actors allowlisted on both funds
    (``outsider`` is not)."""
    return deploy_world(
        deployer,
        updater=updater,
        guardian=guardian,
        treasury=treasury,
        allowlisted=[lender, borrower, liquidator, attacker],
    )


@pytest.fixture(scope="session")
def stablecoin(world):
    return world.stablecoin


@pytest.fixture(scope="session")
def fund_a(world):
    """NAV-accruing fund, 6 decimals."""
    return world.fund_a


@pytest.fixture(scope="session")
def fund_b(world):
    """$1 dividend fund, 18 decimals."""
    return world.fund_b


@pytest.fixture(scope="session")
def wrapper(world):
    """AccumulatingWrapper over fund B."""
    return world.wrapper


@pytest.fixture(scope="session")
def oracle_a(world):
    return world.oracle_a


@pytest.fixture(scope="session")
def oracle_b(world):
    return world.oracle_b


@pytest.fixture(scope="session")
def wrapper_oracle(world):
    return world.wrapper_oracle


@pytest.fixture(scope="session")
def facility_a(world):
    return world.facility_a


@pytest.fixture(scope="session")
def facility_b(world):
    return world.facility_b


@pytest.fixture(scope="session")
def wrapped_facility(world):
    return world.wrapped_facility


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
