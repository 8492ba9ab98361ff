"""ChainReader.market_logs (keepers/chain.py) on a Web3 over the failover
provider (keepers/rpc.py): a 429 is waited out below web3 and never
halves the chunk; a provider's range refusal halves it."""

from __future__ import annotations

import json

import pytest
from web3 import Web3

from navlend.constants import WAD

from keepers.backfill import backfill_index
from keepers.chain import ChainReader, _range_refused
from keepers.index import PositionIndex
from keepers.rpc import FailoverProvider, HttpReply, RpcClient, RpcSettings
from keepers.rpc_policy import ChunkPolicy, FailureKind, HealthPolicy, classify_exception
from keepers.types import to_address

from conftest import BORROWER, MARKET

URL = "http://node.test:8545"
TOPIC = "0x" + "ab" * 32


class LogsNode:
    """eth_getLogs with a Borrow log in every block ``0..head``; ranges wider
    than ``max_range`` refused in Infura's words; the first
    ``rate_limited`` calls answered 429 with Retry-After."""

    def __init__(self, *, max_range: int, rate_limited: int = 0):
        self.max_range = max_range
        self.rate_limited = rate_limited
        self.ranges: list[tuple[int, int]] = []

    def post(self, url, body, timeout):
        request = json.loads(body)
        assert request["method"] == "eth_getLogs"
        if self.rate_limited:
            self.rate_limited -= 1
            return HttpReply(429, {"Retry-After": "2"}, b"Too Many Requests")
        query = request["params"][0]
        lo, hi = int(query["fromBlock"], 16), int(query["toBlock"], 16)
        self.ranges.append((lo, hi))
        if hi - lo + 1 > self.max_range:
            error = {"code": -32005, "message": "query returned more than 10000 results"}
            return HttpReply(200, {}, json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": error}).encode())
        logs = [{
            "address": MARKET, "topics": [TOPIC], "data": "0x", "blockNumber": hex(b),
            "blockHash": "0x" + f"{b:064x}", "transactionHash": "0x" + f"{b:064x}", "transactionIndex": "0x0",
            "logIndex": "0x0", "removed": False,
        } for b in range(lo, hi + 1)]
        return HttpReply(200, {}, json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": logs}).encode())


def decoded(raw_logs):
    return [{
        "event_name": "Borrow",
        "event_arguments": {"on_behalf": BORROWER, "scaled_debt": 5, "borrow_index": WAD},
        "block_number": int(entry["blockNumber"]),
        "block_hash": entry["blockHash"],
        "transaction_hash": entry["transactionHash"],
        "log_index": int(entry["logIndex"]),
    } for entry in raw_logs]


def reader_on(node):
    slept = []
    now = [0.0]

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    client = RpcClient([URL], settings=RpcSettings(rate=1000, burst=1000, health=HealthPolicy()),
                       transport=node, clock=lambda: now[0], sleep=sleep)
    reader = ChainReader(Web3(FailoverProvider(client)), MARKET, to_address("0x" + "1e" * 20),
                         decode_logs=decoded, event_topics=[TOPIC])
    return reader, slept


def test_market_logs__429__waited_out_not_halved():
    node = LogsNode(max_range=10_000, rate_limited=3)
    reader, slept = reader_on(node)
    records = reader.market_logs(0, 3_999, 2_000)
    assert [r.block_number for r in records] == list(range(4_000))
    assert node.ranges == [(0, 1_999), (2_000, 3_999)]
    # each 429's Retry-After, then the configured rate (1 ms) paces the next call
    assert [s for s in slept if s > 0.01] == [pytest.approx(2.0)] * 3


def test_market_logs__range_refused__halved():
    node = LogsNode(max_range=500)
    reader, _ = reader_on(node)
    records = reader.market_logs(0, 999, 1_000)
    assert [r.block_number for r in records] == list(range(1_000))
    assert [hi - lo + 1 for lo, hi in node.ranges] == [1_000, 500, 500]


def test_range_refused__rate_limit_and_timeout__not_range():
    assert not _range_refused(RuntimeError("429 Client Error: Too Many Requests for url"))
    assert not _range_refused(TimeoutError("timed out"))
    assert not _range_refused(RuntimeError("rate limit exceeded"))
    assert _range_refused(RuntimeError("query returned more than 10000 results"))


def test_market_logs_once__range_refused__raises_log_range_for_the_backfill():
    node = LogsNode(max_range=500)
    reader, _ = reader_on(node)
    with pytest.raises(Exception) as info:
        reader.market_logs_once(0, 999)
    assert classify_exception(info.value).kind is FailureKind.LOG_RANGE
    assert [r.block_number for r in reader.market_logs_once(0, 499)] == list(range(500))


def test_backfill_on_reader__provider_limit__chunks_follow_the_policy():
    node = LogsNode(max_range=200)
    reader, _ = reader_on(node)
    index = PositionIndex(":memory:", MARKET, start_block=0)
    result = backfill_index(index, fetch=reader.market_logs_once, head=999, head_hash="0x" + "ee" * 32,
                            policy=ChunkPolicy(initial=800, maximum=800, grow_after=2, probe_after=100))
    # refused twice, then 200 blocks a chunk (400 was refused: not probed again within 100)
    assert [hi - lo + 1 for lo, hi in node.ranges] == [800, 400] + [200] * 5
    assert result.range_errors == 2 and result.final_chunk == 200
    assert index.checkpoint() == 999
    assert index.position(BORROWER).scaled_debt == 5
