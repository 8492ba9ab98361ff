"""The scanners' hand-off to the submitter (keepers/scale.py
``CandidateQueue``) on a real redis-server: one entry per position however
many blocks find it, a bound on the whole, the oldest dropped first, and
stale candidates dropped at the drain. Before, a Redis list grew by every
liquidatable position on every block while the submitter was away."""

from __future__ import annotations

import pytest
import redis
from structlog.testing import capture_logs

from keepers.scale import CandidateQueue
from keepers.types import AccountHealth, to_address

MARKET = to_address("0x" + "aa" * 20)
ACCOUNTS = [to_address("0x" + f"{i + 1:040x}") for i in range(10)]


def _health(account: str) -> AccountHealth:
    return AccountHealth(account=account, debt=1, borrow_value=0, liquidation_value=0, health_factor=0,
                         liquidatable=True, best_token=MARKET, max_repay=0, max_seize=0, assets_bitmap=1)


@pytest.fixture
def queue_on(redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)

    def make(**limits) -> CandidateQueue:
        return CandidateQueue(client, MARKET, **limits)

    return make


def test_push__same_positions_every_block__one_entry_each_at_the_last_block(queue_on):
    queue = queue_on()
    for block in range(100, 150):  # the submitter away for 50 blocks
        queue.push(block, [_health(a) for a in ACCOUNTS[:3]])
    assert queue.size() == 3
    drained = queue.drain(head=150)
    assert sorted(c.account for c in drained) == sorted(ACCOUNTS[:3]) and {c.block for c in drained} == {149}
    assert queue.size() == 0


def test_push__older_block_after_newer__keeps_the_newer(queue_on):
    queue = queue_on()
    queue.push(120, [_health(ACCOUNTS[0])])
    queue.push(110, [_health(ACCOUNTS[0])])  # a slow scanner's late push
    assert [c.block for c in queue.drain(head=121)] == [120]


def test_push__over_the_bound__oldest_dropped_and_logged(queue_on):
    queue = queue_on(max_size=4)
    for block, account in enumerate(ACCOUNTS[:6], start=100):
        with capture_logs() as logs:
            dropped = queue.push(block, [_health(account)])
    assert queue.size() == 4 and dropped == 1
    assert any(e["event"] == "candidate queue full: oldest dropped" for e in logs)
    assert [c.account for c in queue.drain(head=106)] == ACCOUNTS[2:6]  # oldest first, the first two gone


def test_drain__stale_candidates__dropped_fresh_kept(queue_on):
    queue = queue_on(max_age_blocks=5)
    queue.push(100, [_health(ACCOUNTS[0])])
    queue.push(108, [_health(ACCOUNTS[1])])
    with capture_logs() as logs:
        drained = queue.drain(head=110)
    assert [c.account for c in drained] == [ACCOUNTS[1]]
    assert any(e["event"] == "stale candidates dropped" and e["dropped"] == 1 for e in logs)


def test_drain__limit__the_rest_stays(queue_on):
    queue = queue_on()
    queue.push(100, [_health(a) for a in ACCOUNTS])
    assert len(queue.drain(head=100, limit=4)) == 4 and queue.size() == 6


def test_queue__bad_limits__refused():
    with pytest.raises(ValueError, match="max_size"):
        CandidateQueue(None, MARKET, max_size=0)
