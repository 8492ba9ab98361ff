"""SuperstateNavFeed over a double of Superstate's NAV oracle: the struck
NAV at its strike time, never the oracle's extrapolation or its block-time
`updatedAt`; no revert when the oracle goes stale; the announced checkpoint
as the pending answer; reads from a hint that anyone can move."""

import ape
import pytest

DAY = 86_400
NAV = 10_450_000  # $10.45, 6 decimals
MAX_DELTA = 1_000_000  # $1 per checkpoint, as Superstate's deployment


@pytest.fixture
def superstate(project, deployer, chain):
    """(oracle double, add) where ``add(nav, struck_ago=3_600, effective_in=0)``
    adds a checkpoint struck ``struck_ago`` seconds before the next block,
    effective ``effective_in`` seconds after it."""
    oracle = deployer.deploy(project.SuperstateOracleDouble, MAX_DELTA)

    def add(nav: int, struck_ago: int = 3_600, effective_in: int = 0, override: bool = False):
        now = chain.blocks.head.timestamp + 1
        chain.pending_timestamp = now
        return oracle.add_checkpoint(now - struck_ago, now + effective_in, nav, override, sender=deployer)

    return oracle, add


def _two_days(add, advance):
    """Two daily checkpoints, +0.01 % a day, the last struck an hour ago."""
    add(NAV - 1_045, struck_ago=DAY + 3_600)
    advance(1)
    return add(NAV)


def _feed(project, deployer, oracle, hint: int = 0):
    return deployer.deploy(project.SuperstateNavFeed, oracle, "USTB / USD NAV", hint)


def test_latest_round_data__struck_nav_at_strike_time__not_the_oracles_projection(
    superstate, project, deployer, advance
):
    oracle, add = superstate
    tx = _two_days(add, advance)
    feed = _feed(project, deployer, oracle)
    struck = tx.timestamp - 3_600
    now = advance(DAY)
    assert feed.latestRoundData() == (1, NAV, struck, struck, 1)
    assert feed.decimals() == 6 and feed.description() == "USTB / USD NAV"
    # The oracle's own answer: projected a day and an hour past the
    # strike, at the block time.
    round_id, answer, started, updated, answered = oracle.latestRoundData()
    assert (round_id, started, updated) == (1, now, now) and answer > NAV


def test_latest_round_data__oracle_stale_after_five_days__feed_still_answers(
    superstate, project, deployer, advance
):
    oracle, add = superstate
    tx = _two_days(add, advance)
    feed = _feed(project, deployer, oracle)
    advance(5 * DAY + 60)
    with ape.reverts("StaleCheckpoint"):
        oracle.latestRoundData()
    struck = tx.timestamp - 3_600
    assert feed.latestRoundData() == (1, NAV, struck, struck, 1)


def test_latest_round_data__after_a_drop__stays_at_the_struck_nav(superstate, project, deployer, advance):
    oracle, add = superstate
    add(NAV, struck_ago=DAY + 3_600)
    advance(1)
    add(NAV * 97 // 100)  # the fund breaks the buck: -3 % in one strike
    feed = _feed(project, deployer, oracle)
    advance(3 * DAY)
    # The oracle carries the drop forward as a slope, three more "days" of it.
    assert oracle.latestRoundData()[1] < NAV * 97 // 100 - 3 * (NAV * 3 // 100) // 2
    assert feed.latestRoundData()[1] == NAV * 97 // 100


def test_pending_answer__announced_checkpoint__reported_until_in_effect(superstate, project, deployer, advance):
    oracle, add = superstate
    _two_days(add, advance)
    feed = _feed(project, deployer, oracle)
    assert feed.pending_answer() == (0, 0)
    advance(DAY)
    tx = add(NAV - 50_000, struck_ago=600, effective_in=12 * 3_600)
    announced = tx.timestamp - 600
    assert feed.pending_answer() == (NAV - 50_000, announced)
    assert feed.latestRoundData()[:2] == (1, NAV)
    with ape.reverts("feed: no such round"):
        feed.getRoundData(2)
    advance(12 * 3_600)
    assert feed.latestRoundData() == (2, NAV - 50_000, announced, announced, 2)
    assert feed.pending_answer() == (0, 0)


def test_get_round_data__past_checkpoint__its_nav_and_strike(superstate, project, deployer, advance):
    oracle, add = superstate
    first = add(NAV - 1_045, struck_ago=DAY + 3_600)
    advance(1)
    add(NAV)
    feed = _feed(project, deployer, oracle)
    struck = first.timestamp - DAY - 3_600
    assert feed.getRoundData(0) == (0, NAV - 1_045, struck, struck, 0)
    with ape.reverts("feed: no such round"):
        feed.getRoundData(7)


def test_poke__moves_the_hint_to_the_last_checkpoint_in_effect(superstate, project, deployer, advance, attacker):
    oracle, add = superstate
    _two_days(add, advance)
    feed = _feed(project, deployer, oracle)
    for day in range(3):
        advance(DAY)
        add(NAV + (day + 1) * 1_000, struck_ago=600)
    tx = feed.poke(sender=attacker)
    assert feed.hint() == 4
    assert [log.hint for log in tx.decode_logs(feed.Poked)] == [4]
    assert feed.latestRoundData()[:2] == (4, NAV + 3_000)
    tx = feed.poke(sender=attacker)
    assert tx.decode_logs(feed.Poked) == []


def test_latest_round_data__more_than_max_scan_past_the_hint__answers_the_last_it_reaches(
    superstate, project, deployer, advance
):
    """Without a poke, a read probes MAX_SCAN checkpoints past the hint:
    older answers carry their old strike time, so the market sees them as
    stale rather than trusts them."""
    oracle, add = superstate
    add(NAV, struck_ago=3_600)
    feed = _feed(project, deployer, oracle)
    scan = feed.MAX_SCAN()
    for i in range(scan + 2):
        advance(DAY)
        add(NAV + i + 1, struck_ago=600)
    assert feed.latestRoundData()[0] == scan - 1
    feed.poke(sender=deployer)
    assert feed.latestRoundData()[0] == scan + 2


def test_constructor__zero_oracle_or_missing_checkpoint__reverts(superstate, project, spare):
    oracle, add = superstate
    with ape.reverts("feed: zero address"):
        spare.deploy(project.SuperstateNavFeed, "0x" + "00" * 20, "USTB / USD NAV", 0)
    with ape.reverts("feed: no such checkpoint"):
        spare.deploy(project.SuperstateNavFeed, oracle, "USTB / USD NAV", 0)
