"""The several-market keeper's one getLogs per block
(keepers/wiring_local.py ``SharedLogs``): the first market's fetch serves
the others, each only its own addresses' logs; a new block (``reset``) or a
range outside the one fetched asks the node again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from keepers.wiring_local import SharedLogs

MARKET_A = "0x" + "a" * 40
MARKET_B = "0x" + "b" * 40
ORACLE = "0x" + "c" * 40


@dataclass
class Reader:
    logs: list[dict[str, Any]]
    calls: list[tuple[int, int, tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)

    def logs_of(self, start, end, addresses, topics):
        self.calls.append((start, end, tuple(addresses), tuple(topics)))
        return [r for r in self.logs if start <= r["blockNumber"] <= end and r["address"] in addresses]


class Ecosystem:
    """Decoding stands in as the identity: the test sees the raw logs a market got."""

    @staticmethod
    def decode_logs(raw, *abis):
        return [(r["address"], r["blockNumber"], abis) for r in raw]


def _shared(logs):
    reader = Reader(logs)
    shared = SharedLogs(reader, Ecosystem())
    fetch_a = shared.fetcher([MARKET_A, ORACLE], ["0x01", "0x02"], ["abi-a"])
    fetch_b = shared.fetcher([MARKET_B, ORACLE], ["0x01", "0x03"], ["abi-b"])
    return reader, shared, fetch_a, fetch_b


LOGS = [
    {"address": MARKET_A, "blockNumber": 10},
    {"address": MARKET_B, "blockNumber": 10},
    {"address": ORACLE, "blockNumber": 11},
    {"address": MARKET_B, "blockNumber": 12},
]


def test_shared_logs__two_markets_one_block__one_get_logs_each_its_own():
    reader, _, fetch_a, fetch_b = _shared(LOGS)
    a = fetch_a(10, 12)
    b = fetch_b(10, 12)
    assert len(reader.calls) == 1
    _, _, addresses, topics = reader.calls[0]
    assert set(addresses) == {MARKET_A, MARKET_B, ORACLE} and len(addresses) == 3
    assert set(topics) == {"0x01", "0x02", "0x03"}
    assert a == [(MARKET_A, 10, ("abi-a",)), (ORACLE, 11, ("abi-a",))]
    assert b == [(MARKET_B, 10, ("abi-b",)), (ORACLE, 11, ("abi-b",)), (MARKET_B, 12, ("abi-b",))]


def test_shared_logs__range_inside_the_fetched_one__served_and_cut_to_it():
    reader, _, fetch_a, fetch_b = _shared(LOGS)
    fetch_a(10, 12)
    assert fetch_b(12, 12) == [(MARKET_B, 12, ("abi-b",))]
    assert len(reader.calls) == 1


@pytest.mark.parametrize("second", [(9, 12), (10, 13)])
def test_shared_logs__range_outside_the_fetched_one__asked_again(second):
    reader, _, fetch_a, fetch_b = _shared(LOGS)
    fetch_a(10, 12)
    fetch_b(*second)
    assert len(reader.calls) == 2 and reader.calls[1][:2] == second


def test_shared_logs__reset__the_next_block_asks_again():
    reader, shared, fetch_a, _ = _shared(LOGS)
    fetch_a(10, 12)
    shared.reset()
    fetch_a(10, 12)
    assert len(reader.calls) == 2


def test_shared_logs__no_log_of_the_market__empty_without_decoding():
    reader, _, fetch_a, _ = _shared([{"address": MARKET_B, "blockNumber": 10}])
    assert fetch_a(10, 10) == []
