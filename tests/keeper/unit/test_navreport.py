"""The NAV reporter's pure rules (keepers/navreport.py). No chain."""

from __future__ import annotations

import json

import pytest

from keepers.config import ConfigError
from keepers.navreport import accrued_nav, due_strike, load_reporter_config, within_move
from navlend.timeutil import next_business_day_strike

# Wednesday 2026-11-25 21:00 UTC, a strike.
WEDNESDAY = next_business_day_strike(1_795_900_000)
DAY = 86_400


def test_due_strike__next_business_day_passed__publishes_it():
    assert due_strike(WEDNESDAY, WEDNESDAY + DAY + 60, 72_000) == next_business_day_strike(WEDNESDAY)


def test_due_strike__before_the_next_strike__nothing():
    assert due_strike(WEDNESDAY, WEDNESDAY + DAY - 60, 72_000) is None


def test_due_strike__a_week_missed__only_the_latest():
    latest = due_strike(WEDNESDAY, WEDNESDAY + 7 * DAY + 60, 72_000)
    assert latest == WEDNESDAY + 7 * DAY


def test_accrued_nav__one_year_at_450_bps():
    assert accrued_nav(10_000_000_000, 450, 365 * DAY) == 10_450_000_000


def test_accrued_nav__dividend_fund__unchanged():
    assert accrued_nav(100_000_000, 0, DAY) == 100_000_000


def test_within_move__one_day_of_yield__within_one_percent():
    assert within_move(10_000_000_000, accrued_nav(10_000_000_000, 450, 3 * DAY), 100)
    assert not within_move(10_000_000_000, 10_200_000_000, 100)


def _deployments(tmp_path):
    path = tmp_path / "local.json"
    path.write_text(json.dumps({
        "network": "local", "chain_id": 31337, "deployer": "0x" + "11" * 20,
        "contracts": {
            name: {"name": name, "contract_type": "NavOracle", "address": "0x" + byte * 20}
            for name, byte in (("oracle_a", "22"), ("oracle_b", "33"), ("oracle_c", "44"))
        },
    }))
    return path


def test_load_reporter_config__deployments_file__feeds_with_default_yield(tmp_path):
    """Funds A and C accrue 4.5 %; the $1 dividend fund B accrues nothing
    in its NAV (its yield is paid as shares)."""
    config = load_reporter_config({"NAVLEND_REPORTER_DEPLOYMENTS_FILE": str(_deployments(tmp_path))})
    assert [(f.name, f.apy_bps) for f in config.feeds] == [("oracle_a", 450), ("oracle_b", 0), ("oracle_c", 450)]


def test_load_reporter_config__unknown_feed_and_bad_yield__every_problem_listed(tmp_path):
    env = {
        "NAVLEND_REPORTER_DEPLOYMENTS_FILE": str(_deployments(tmp_path)),
        "NAVLEND_REPORTER_FEEDS": "oracle_z",
        "NAVLEND_REPORTER_APY_BPS": "oracle_a=lots",
    }
    with pytest.raises(ConfigError) as err:
        load_reporter_config(env)
    assert len(err.value.problems) == 2


def test_load_reporter_config__no_file__clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no deployments file"):
        load_reporter_config({"NAVLEND_REPORTER_DEPLOYMENTS_FILE": str(tmp_path / "missing.json")})


def test_nonce_counter__two_feeds_before_a_block__consecutive_nonces():
    from keepers.navreport import NonceCounter

    n = NonceCounter()
    first = n.take(chain_pending=7)
    # The node's count lags (the first is not mined, or not yet counted).
    second = n.take(chain_pending=7)
    assert (first, second) == (7, 8)


def test_nonce_counter__send_failed_before_broadcast__nonce_reused():
    from keepers.navreport import NonceCounter

    n = NonceCounter()
    nonce = n.take(chain_pending=3)
    n.release(nonce)
    assert n.take(chain_pending=3) == 3


def test_nonce_counter__another_sender_moved_the_nonce__follows_the_chain():
    from keepers.navreport import NonceCounter

    n = NonceCounter()
    n.take(chain_pending=3)
    assert n.take(chain_pending=10) == 10


def test_sent_strikes__sent_not_yet_mined__not_sent_again_until_the_retry():
    from keepers.navreport import SentStrikes

    sent = SentStrikes(retry_blocks=3)
    assert sent.should_send("oracle_b", strike=100, block=58)
    sent.sent("oracle_b", strike=100, block=58)
    assert not sent.should_send("oracle_b", strike=100, block=59)  # the next handler, tx still pending
    assert sent.should_send("oracle_a", strike=100, block=59)  # another feed
    assert sent.should_send("oracle_b", strike=200, block=59)  # a newer strike
    assert sent.should_send("oracle_b", strike=100, block=61)  # never showed up: retry
