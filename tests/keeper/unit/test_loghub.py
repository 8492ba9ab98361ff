"""The runner's one getLogs per range for all its event listeners
(keepers/loghub.py)."""

from __future__ import annotations

import pytest

from keepers.loghub import LogFilter, LogHub

NAV_PENDING = "0x" + "11" * 32
CONFIRMED = "0x" + "22" * 32
ORACLE_A = "0x" + "aa" * 20
ORACLE_B = "0x" + "bb" * 20


def _log(address: str, topic: str, block: int) -> dict:
    return {"address": address, "topics": [bytes.fromhex(topic[2:])], "blockNumber": block}


LOGS = [_log(ORACLE_A, NAV_PENDING, 10), _log(ORACLE_B, NAV_PENDING, 11), _log(ORACLE_A, CONFIRMED, 12)]


class Node:
    def __init__(self, logs):
        self.logs = logs
        self.queries: list[dict] = []

    def get_logs(self, query):
        self.queries.append(query)
        return [e for e in self.logs if query["fromBlock"] <= e["blockNumber"] <= query["toBlock"]]


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def _hub(logs=LOGS):
    node, clock = Node(logs), Clock()
    return node, clock, LogHub(node.get_logs, clock=clock)


def test_hub__three_listeners_one_range__one_get_logs_each_its_own():
    node, _, hub = _hub()
    pending_a = hub.register(LogFilter(NAV_PENDING, ORACLE_A))
    pending_b = hub.register(LogFilter(NAV_PENDING, ORACLE_B))
    confirmed_a = hub.register(LogFilter(CONFIRMED, ORACLE_A))
    assert [e["blockNumber"] for e in pending_a(10, 12)] == [10]
    assert [e["blockNumber"] for e in pending_b(10, 12)] == [11]
    assert [e["blockNumber"] for e in confirmed_a(10, 12)] == [12]
    assert len(node.queries) == 1
    query = node.queries[0]
    assert query["topics"] == [sorted([NAV_PENDING, CONFIRMED])]
    assert query["address"] == sorted([ORACLE_A, ORACLE_B])


def test_hub__listener_of_any_emitter__query_without_address():
    node, _, hub = _hub()
    hub.register(LogFilter(NAV_PENDING, ORACLE_A))
    anyone = hub.register(LogFilter(NAV_PENDING))
    assert [e["blockNumber"] for e in anyone(10, 12)] == [10, 11]
    assert "address" not in node.queries[0]


def test_hub__range_inside_the_fetched_one__served_and_cut_to_it():
    node, _, hub = _hub()
    a = hub.register(LogFilter(NAV_PENDING, ORACLE_A))
    b = hub.register(LogFilter(NAV_PENDING, ORACLE_B))
    a(10, 12)
    assert b(12, 12) == [] and [e["blockNumber"] for e in b(11, 11)] == [11]
    assert len(node.queries) == 1


@pytest.mark.parametrize("second", [(9, 12), (10, 13)])
def test_hub__range_beyond_the_fetched_one__asked_again(second):
    node, _, hub = _hub()
    a = hub.register(LogFilter(NAV_PENDING, ORACLE_A))
    a(10, 12)
    a(*second)
    assert len(node.queries) == 2 and (node.queries[1]["fromBlock"], node.queries[1]["toBlock"]) == second


def test_hub__fetched_range_older_than_serve_seconds__asked_again():
    node, clock, hub = _hub()
    a = hub.register(LogFilter(NAV_PENDING, ORACLE_A))
    a(10, 12)
    clock.now += 2.5
    a(10, 12)
    assert len(node.queries) == 2


def test_hub__listener_registered_after_a_fetch__next_ask_includes_it():
    node, _, hub = _hub()
    a = hub.register(LogFilter(NAV_PENDING, ORACLE_A))
    a(10, 12)
    confirmed = hub.register(LogFilter(CONFIRMED, ORACLE_A))
    assert [e["blockNumber"] for e in confirmed(10, 12)] == [12]
    assert len(node.queries) == 2 and CONFIRMED in node.queries[1]["topics"][0]


def test_hub__node_refuses__error_raised_and_nothing_kept():
    _, _, hub = _hub()

    def refuse(query):
        raise TimeoutError("node away")

    hub._get_logs = refuse
    a = hub.register(LogFilter(NAV_PENDING, ORACLE_A))
    with pytest.raises(TimeoutError):
        a(10, 12)
    assert hub.queries == 0
