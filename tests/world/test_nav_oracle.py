"""NavOracle: strike times (never the block time), the minimum interval,
the per-update move bound with the guardian's pending round, round
history, roles and bounds."""

import ape
import pytest

from navlend.timeutil import HOUR, next_business_day_strike, previous_business_day_strike

NAV_A = 10_50_000_000
ONE_DOLLAR = 1_00_000_000


def _as_of(oracle) -> int:
    return oracle.latestRoundData()[3]


@pytest.fixture(scope="session")
def empty_oracle(project, deployer, updater, guardian, world_start):
    """A NavOracle deployed without a first round."""
    return deployer.deploy(project.NavOracle, "EMPTY / USD NAV", updater, guardian, 0, 0)


# ---- metadata and first round ----


def test_metadata__aggregator_v3_shape(oracle_a):
    assert oracle_a.decimals() == 8
    assert oracle_a.version() == 1
    assert oracle_a.description() == "TBFA / USD NAV"
    assert oracle_a.min_interval() == 20 * HOUR
    assert oracle_a.max_move_bps() == 100


def test_latest_round_data__initial_round__reports_strike_time_not_block_time(
    oracle_a, chain, world_start
):
    round_id, answer, started_at, updated_at, answered_in = oracle_a.latestRoundData()
    strike = previous_business_day_strike(world_start)
    assert (round_id, answer, started_at, updated_at, answered_in) == (1, NAV_A, strike, strike, 1)
    assert oracle_a.latest_published_at() > strike
    assert chain.blocks.head.timestamp > updated_at


def test_latest_round_data__no_round__reverts(empty_oracle):
    assert empty_oracle.latest_round_id() == 0
    with ape.reverts("oracle: no data"):
        empty_oracle.latestRoundData()


def test_publish__first_round__has_no_move_limit(empty_oracle, updater, chain):
    as_of = chain.blocks.head.timestamp - HOUR
    tx = empty_oracle.publish(123 * ONE_DOLLAR, as_of, sender=updater)
    assert empty_oracle.latestRoundData() == (1, 123 * ONE_DOLLAR, as_of, as_of, 1)
    assert empty_oracle.NavPublished(round_id=1, answer=123 * ONE_DOLLAR, as_of=as_of) in tx.events


def test_constructor__initial_as_of_in_future__reverts(project, spare, updater, guardian, chain):
    with ape.reverts("oracle: as_of in future"):
        spare.deploy(
            project.NavOracle,
            "X",
            updater,
            guardian,
            ONE_DOLLAR,
            chain.blocks.head.timestamp + 10 * HOUR,
        )


# ---- publish ----


def test_publish__within_bound__applies_with_strike_time(oracle_a, publish_next, chain):
    nav = NAV_A + NAV_A * 50 // 10_000
    tx = publish_next(oracle_a, nav, delay=3 * HOUR)
    as_of = next_business_day_strike(
        previous_business_day_strike(chain.blocks.head.timestamp - 4 * HOUR)
    )
    assert oracle_a.latestRoundData() == (2, nav, as_of, as_of, 2)
    assert oracle_a.latest_published_at() == tx.timestamp == as_of + 3 * HOUR
    assert (
        oracle_a.NavPublished(round_id=2, answer=nav, as_of=as_of, published_at=tx.timestamp)
        in tx.events
    )


@pytest.mark.parametrize("direction", [1, -1], ids=["up", "down"])
def test_publish__exactly_at_bound__applies(oracle_a, publish_next, direction):
    nav = NAV_A + direction * NAV_A // 100
    publish_next(oracle_a, nav)
    assert oracle_a.latestRoundData()[1] == nav
    assert not oracle_a.has_pending()


@pytest.mark.parametrize("direction", [1, -1], ids=["up", "down"])
def test_publish__beyond_bound__parks_pending(oracle_a, publish_next, direction):
    nav = NAV_A + direction * (NAV_A // 100 + 1)
    tx = publish_next(oracle_a, nav)
    assert oracle_a.latestRoundData()[:2] == (1, NAV_A)
    assert oracle_a.has_pending()
    pending = oracle_a.pending_round()
    assert pending.answer == nav
    assert oracle_a.NavPending(answer=nav, previous_answer=NAV_A, move_bps=101) in tx.events
    assert len(tx.decode_logs(oracle_a.NavPublished)) == 0


def test_publish__while_pending__reverts(oracle_a, publish_next, updater, chain):
    publish_next(oracle_a, NAV_A * 2)
    later = next_business_day_strike(chain.blocks.head.timestamp)
    chain.mine(1, timestamp=later + 60)
    with ape.reverts("oracle: pending confirmation"):
        oracle_a.publish(NAV_A, later, sender=updater)


def test_publish__zero_nav__reverts(oracle_a, updater, advance):
    now = advance(2 * 86_400)
    with ape.reverts("oracle: zero nav"):
        oracle_a.publish(0, now, sender=updater)


def test_publish__as_of_in_future__reverts(oracle_a, updater, chain):
    with ape.reverts("oracle: as_of in future"):
        oracle_a.publish(NAV_A, chain.blocks.head.timestamp + 2 * 86_400, sender=updater)


def test_publish__as_of_not_after_last__reverts(oracle_a, updater):
    with ape.reverts("oracle: as_of not after last"):
        oracle_a.publish(NAV_A, _as_of(oracle_a), sender=updater)


def test_publish__interval_too_short__reverts(oracle_a, updater, advance):
    advance(20 * HOUR)
    with ape.reverts("oracle: interval too short"):
        oracle_a.publish(NAV_A, _as_of(oracle_a) + 19 * HOUR, sender=updater)


def test_publish__exactly_min_interval__applies(oracle_a, updater, advance):
    advance(20 * HOUR)
    as_of = _as_of(oracle_a) + 20 * HOUR
    oracle_a.publish(NAV_A + 1, as_of, sender=updater)
    assert _as_of(oracle_a) == as_of


def test_publish__over_a_weekend__monday_strike_applies(oracle_a, publish_next):
    # World starts on a Wednesday: Thursday, Friday, then Monday.
    publish_next(oracle_a, NAV_A + 1)
    publish_next(oracle_a, NAV_A + 2)
    friday = _as_of(oracle_a)
    publish_next(oracle_a, NAV_A + 3)
    assert _as_of(oracle_a) - friday == 72 * HOUR


# ---- guardian ----


def test_confirm_pending__guardian__applies_pending_round(oracle_b, publish_next, guardian):
    # Break the buck: $1.00 -> $0.97 needs the guardian.
    publish_next(oracle_b, 97_000_000)
    pending_as_of = oracle_b.pending_round().as_of
    tx = oracle_b.confirm_pending(sender=guardian)
    assert oracle_b.latestRoundData() == (2, 97_000_000, pending_as_of, pending_as_of, 2)
    assert not oracle_b.has_pending()
    assert (
        oracle_b.PendingConfirmed(round_id=2, answer=97_000_000, as_of=pending_as_of) in tx.events
    )


def test_reject_pending__guardian__drops_and_unblocks(oracle_a, publish_next, guardian):
    publish_next(oracle_a, NAV_A * 2)
    as_of = oracle_a.pending_round().as_of
    tx = oracle_a.reject_pending(sender=guardian)
    assert oracle_a.PendingRejected(answer=NAV_A * 2, as_of=as_of) in tx.events
    assert oracle_a.latestRoundData()[:2] == (1, NAV_A)
    publish_next(oracle_a, NAV_A + 7)
    assert oracle_a.latestRoundData()[:2] == (2, NAV_A + 7)


# ---- round history ----


def test_get_round_data__past_rounds__kept(oracle_a, publish_next):
    first = oracle_a.latestRoundData()
    publish_next(oracle_a, NAV_A + 10)
    second = oracle_a.latestRoundData()
    publish_next(oracle_a, NAV_A + 20)
    assert oracle_a.getRoundData(1) == first
    assert oracle_a.getRoundData(2) == second
    assert oracle_a.getRoundData(3) == oracle_a.latestRoundData()
    assert oracle_a.latest_round_id() == 3


@pytest.mark.parametrize("round_id", [0, 2, 2**80 - 1])
def test_get_round_data__unknown_round__reverts(oracle_a, round_id):
    with ape.reverts("oracle: unknown round"):
        oracle_a.getRoundData(round_id)


# ---- admin ----


def test_set_min_interval__owner__changes_and_logs(oracle_a, deployer, updater, advance):
    tx = oracle_a.set_min_interval(HOUR, sender=deployer)
    assert oracle_a.MinIntervalChanged(previous_interval=20 * HOUR, new_interval=HOUR) in tx.events
    advance(2 * HOUR)
    oracle_a.publish(NAV_A + 1, _as_of(oracle_a) + HOUR, sender=updater)
    assert oracle_a.latest_round_id() == 2


def test_set_max_move_bps__owner__widens_bound(oracle_a, deployer, publish_next):
    tx = oracle_a.set_max_move_bps(500, sender=deployer)
    assert oracle_a.MaxMoveChanged(previous_bps=100, new_bps=500) in tx.events
    publish_next(oracle_a, NAV_A * 104 // 100)
    assert not oracle_a.has_pending()


def test_set_updater__owner__moves_role(oracle_a, deployer, updater, attacker):
    tx = oracle_a.set_updater(attacker, sender=deployer)
    assert oracle_a.updater() == attacker.address
    assert oracle_a.UpdaterChanged(previous_updater=updater, new_updater=attacker) in tx.events


def test_set_updater__empty__stops_publishing(oracle_a, deployer, updater, advance):
    oracle_a.set_updater(ape.utils.ZERO_ADDRESS, sender=deployer)
    now = advance(86_400)
    with ape.reverts("oracle: caller not updater"):
        oracle_a.publish(NAV_A, now, sender=updater)


def test_set_guardian__owner__moves_role(oracle_a, deployer, guardian, lender):
    tx = oracle_a.set_guardian(lender, sender=deployer)
    assert oracle_a.guardian() == lender.address
    assert oracle_a.GuardianChanged(previous_guardian=guardian, new_guardian=lender) in tx.events


def test_transfer_ownership__two_step(oracle_a, deployer, guardian):
    oracle_a.transfer_ownership(guardian, sender=deployer)
    assert oracle_a.pending_owner() == guardian.address
    oracle_a.accept_ownership(sender=guardian)
    assert oracle_a.owner() == guardian.address
