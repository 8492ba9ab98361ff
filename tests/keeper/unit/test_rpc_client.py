"""keepers/rpc.py's client on a scripted transport and a fake clock:
failover, Retry-After, timeouts, the read/send split, the shared head."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque

import pytest
from web3 import Web3

from keepers.rpc import (
    EndpointPool,
    FailoverProvider,
    HttpReply,
    RpcClient,
    RpcFailure,
    RpcSettings,
    RpcUnavailable,
    SharedHead,
    watch_heads,
)
from keepers.rpc_policy import FailureKind, HealthPolicy

A = "http://node-a.test:8545"
B = "https://node-b.test/v3/SECRET-KEY"
SEND = "https://relay.test/"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def ok(result):
    return HttpReply(200, {}, json.dumps({"jsonrpc": "2.0", "id": 1, "result": result}).encode())


def rpc_error(code, message, status=200):
    return HttpReply(status, {}, json.dumps({"jsonrpc": "2.0", "id": 1, "error": {"code": code, "message": message}}).encode())


def too_many(retry_after=None):
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return HttpReply(429, headers, b"Too Many Requests")


class Script:
    """Per-URL queues of replies (or exceptions to raise); records calls."""

    def __init__(self, **_):
        self.queues: dict[str, deque] = {}
        self.calls: list[tuple[str, str, float]] = []

    def on(self, url, *replies):
        self.queues.setdefault(url, deque()).extend(replies)
        return self

    def post(self, url, body, timeout):
        self.calls.append((url, json.loads(body)["method"], timeout))
        queue = self.queues.get(url)
        if not queue:
            raise AssertionError(f"unexpected call to {url}")
        reply = queue.popleft()
        if isinstance(reply, BaseException):
            raise reply
        return reply


SETTINGS = RpcSettings(timeout=3.0, rate=1000, burst=1000, max_attempts=6, max_wait=30.0,
                       health=HealthPolicy(down_after=1, cooldown=5.0, max_cooldown=60.0, rate_limit_backoff=1.0))


def client(script, reads=(A, B), sends=(), settings=SETTINGS, clock=None, on_failure=None):
    clock = clock or Clock()
    return RpcClient(reads, sends, settings, script, clock=clock, sleep=clock.sleep, wall_clock=lambda: 1e9,
                     on_failure=on_failure), clock


def test_client__healthy_first_endpoint__answers_with_timeout_on_call():
    script = Script().on(A, ok("0x10"))
    rpc, _ = client(script)
    assert rpc.request("eth_blockNumber", []) == "0x10"
    assert script.calls == [(A, "eth_blockNumber", 3.0)]


def test_failover__endpoint_down__next_one_then_back():
    script = Script().on(A, ConnectionRefusedError(111, "Connection refused"), ok("0x2"), ok("0x3"))
    script.on(B, ok("0x1"), ok("0x1"))
    rpc, clock = client(script)
    assert rpc.request("eth_blockNumber", []) == "0x1"  # A refused, B answered
    assert rpc.request("eth_blockNumber", []) == "0x1"  # A rests: B alone
    clock.now = 5.0  # A's rest is over: probed first again, it answers
    assert rpc.request("eth_blockNumber", []) == "0x2"
    assert rpc.request("eth_blockNumber", []) == "0x3"  # A serves again, recovered
    assert [url for url, _, _ in script.calls] == [A, B, B, A, A]
    assert [s.faults for s in rpc.reads.states()] == [0, 0]
    assert clock.slept == []


def test_failover__endpoint_back_but_still_failing__backup_serves_probe_rests_longer():
    script = Script().on(A, ConnectionRefusedError(111, "Connection refused"),
                         ConnectionRefusedError(111, "Connection refused"))
    script.on(B, ok("0x1"), ok("0x1"), ok("0x1"))
    rpc, clock = client(script)
    assert rpc.request("eth_blockNumber", []) == "0x1"
    clock.now = 5.0  # A probed: still refused, B answers
    assert rpc.request("eth_blockNumber", []) == "0x1"
    clock.now = 5.5  # A rests again, longer
    assert rpc.request("eth_blockNumber", []) == "0x1"
    assert [url for url, _, _ in script.calls] == [A, B, A, B, B]
    assert rpc.reads.states()[0].faults == 2


def test_client__429_with_retry_after__single_endpoint_waits_then_retries():
    script = Script().on(A, too_many(retry_after=2), ok("0x5"))
    rpc, clock = client(script, reads=(A,))
    assert rpc.request("eth_blockNumber", []) == "0x5"
    assert clock.slept == [pytest.approx(2.0)]


def test_client__429__other_endpoint_serves_meanwhile():
    script = Script().on(A, too_many(retry_after=10), ok("0xa")).on(B, ok("0xb"), ok("0xb"))
    rpc, clock = client(script)
    assert rpc.request("eth_blockNumber", []) == "0xb"
    assert rpc.request("eth_blockNumber", []) == "0xb"
    clock.now = 10.0
    assert rpc.request("eth_blockNumber", []) == "0xa"
    assert clock.slept == []


def test_client__failures__reported_by_pool_endpoint_and_kind():
    seen = []
    script = Script().on(A, too_many(retry_after=1), TimeoutError("timed out")).on(B, ok("0x1"), ok("0x1"))
    rpc, clock = client(script, on_failure=lambda *event: seen.append(event))
    rpc.request("eth_blockNumber", [])
    clock.now = 1.0
    rpc.request("eth_blockNumber", [])
    assert seen == [("read", "http://node-a.test:8545", FailureKind.RATE_LIMITED),
                    ("read", "http://node-a.test:8545", FailureKind.TIMEOUT)]


def test_client__answers__no_failure_reported():
    seen = []
    script = Script().on(A, ok("0x1"), rpc_error(3, "execution reverted"))
    rpc, _ = client(script, on_failure=lambda *event: seen.append(event))
    rpc.request("eth_blockNumber", [])
    rpc.exchange("eth_call", [{}, "latest"])
    assert seen == []


def test_client__429_as_json_rpc_error__rate_limited_not_returned():
    script = Script().on(A, rpc_error(-32005, "project ID request rate exceeded"), ok("0x1"))
    rpc, clock = client(script, reads=(A,))
    assert rpc.request("eth_blockNumber", []) == "0x1"
    assert clock.slept == [pytest.approx(1.0)]  # the policy's back-off (no Retry-After)


def test_client__range_error__returned_to_caller_not_retried():
    script = Script().on(A, rpc_error(-32005, "query returned more than 10000 results"))
    rpc, _ = client(script)
    with pytest.raises(RpcFailure) as info:
        rpc.request("eth_getLogs", [{"fromBlock": "0x0", "toBlock": "0x2710"}])
    assert info.value.failure.kind is FailureKind.LOG_RANGE
    assert len(script.calls) == 1
    assert [s.faults for s in rpc.reads.states()] == [0, 0]


def test_client__revert_in_http_400__returned_as_response():
    script = Script().on(A, rpc_error(3, "execution reverted: no", status=400))
    rpc, _ = client(script)
    response = rpc.exchange("eth_call", [{}, "latest"])
    assert response["error"]["message"] == "execution reverted: no"


def test_client__every_endpoint_fails__unavailable_with_last_failure():
    script = Script().on(A, *[TimeoutError("timed out")] * 10).on(B, *[HttpReply(502, {}, b"bad gateway")] * 10)
    settings = RpcSettings(timeout=1.0, rate=1000, burst=1000, max_attempts=4, max_wait=100.0,
                           health=HealthPolicy(down_after=1, cooldown=1.0, max_cooldown=2.0))
    rpc, _ = client(script, settings=settings)
    with pytest.raises(RpcUnavailable, match="no read endpoint answered") as info:
        rpc.request("eth_blockNumber", [])
    assert info.value.failure.kind in (FailureKind.TIMEOUT, FailureKind.SERVER)
    assert len(script.calls) == 4


def test_client__wait_beyond_max_wait__unavailable_without_sleeping_it():
    script = Script().on(A, too_many(retry_after=600))
    rpc, clock = client(script, reads=(A,))
    with pytest.raises(RpcUnavailable) as info:
        rpc.request("eth_blockNumber", [])
    assert info.value.failure.kind is FailureKind.RATE_LIMITED
    assert clock.slept == []


def test_client__garbage_200__endpoint_fault_and_failover():
    script = Script().on(A, HttpReply(200, {}, b"<html>captive portal</html>")).on(B, ok("0x1"))
    rpc, _ = client(script)
    assert rpc.request("eth_blockNumber", []) == "0x1"
    assert rpc.reads.states()[0].faults == 1


def test_client__sends__go_to_send_pool_only():
    script = Script().on(SEND, ok("0xhash")).on(A, ok("0x1"))
    rpc, _ = client(script, sends=(SEND,))
    assert rpc.request("eth_sendRawTransaction", ["0x02"]) == "0xhash"
    assert rpc.request("eth_blockNumber", []) == "0x1"
    assert [url for url, _, _ in script.calls] == [SEND, A]


def test_client__no_send_pool__sends_through_reads():
    script = Script().on(A, ok("0xhash"))
    rpc, _ = client(script)
    assert rpc.request("eth_sendRawTransaction", ["0x02"]) == "0xhash"


def test_client__rate_paces_requests():
    script = Script().on(A, *[ok("0x1")] * 3)
    settings = RpcSettings(rate=2, burst=1, health=HealthPolicy())
    rpc, clock = client(script, reads=(A,), settings=settings)
    for _ in range(3):
        rpc.request("eth_blockNumber", [])
    assert clock.slept == [pytest.approx(0.5), pytest.approx(0.5)]


@pytest.mark.parametrize("urls,match", [((), "at least one"), (("ws://x",), "not an http"), ((A, A), "twice")])
def test_pool__bad_urls__refused(urls, match):
    with pytest.raises(ValueError, match=match):
        EndpointPool("read", urls, SETTINGS, Script())


@pytest.mark.parametrize("kwargs", [{"timeout": 0}, {"max_attempts": 0}, {"max_wait": -1}])
def test_settings__bad_values__refused(kwargs):
    with pytest.raises(ValueError):
        RpcSettings(**kwargs)


def test_pool__endpoint_names__hide_keys():
    pool = EndpointPool("read", (B, "https://user:pw@node-c.test:8443/key?x=1"), SETTINGS, Script())
    assert [s.name for s in pool.states()] == ["https://node-b.test", "https://node-c.test:8443"]


def test_provider__web3_on_client__reads_and_raises_reverts():
    script = Script().on(A, ok("0x2a"), rpc_error(3, "execution reverted: market: healthy"))
    rpc, _ = client(script)
    w3 = Web3(FailoverProvider(rpc))
    assert w3.eth.block_number == 42
    with pytest.raises(Exception, match="market: healthy"):
        w3.eth.call({"to": "0x" + "11" * 20, "data": "0x"})


def test_shared_head__many_handlers__one_poll_per_interval():
    clock = Clock()
    polls = []
    head = SharedHead(lambda: polls.append(1) or 100 + len(polls), interval=1.0, clock=clock)
    assert [head.head() for _ in range(11)] == [101] * 11
    clock.now = 0.99
    assert head.head() == 101
    clock.now = 1.0
    assert head.head() == 102
    assert head.polls == 2


def test_shared_head__failed_poll__next_caller_polls_again():
    clock = Clock()
    answers = deque([TimeoutError("timed out"), 7])

    def fetch():
        answer = answers.popleft()
        if isinstance(answer, BaseException):
            raise answer
        return answer

    head = SharedHead(fetch, interval=1.0, clock=clock)
    with pytest.raises(TimeoutError):
        head.head()
    assert head.head() == 7
    assert head.follow(5).blocks == (6, 7)


def test_shared_head__bad_interval__refused():
    with pytest.raises(ValueError, match="positive"):
        SharedHead(lambda: 1, interval=0)


def _watch(listeners: int, fetch, *, until: int, poll_seconds: float = 0.01):
    """Runs ``listeners`` watch_heads loops on one SharedHead until each has
    seen ``until``; returns what each saw."""
    shared = SharedHead(fetch, interval=poll_seconds)

    async def main():
        stop = asyncio.Event()

        async def listen():
            seen = []
            async for head in watch_heads(shared, stop, poll_seconds=poll_seconds, max_backoff=0.05):
                seen.append(head)
                if head >= until:
                    break
            return seen

        return await asyncio.wait_for(asyncio.gather(*(listen() for _ in range(listeners))), timeout=10)

    return shared, asyncio.run(main())


def test_watch_heads__eleven_listeners__share_one_poll_per_interval():
    heads = iter(range(1, 10_000))
    started = time.monotonic()
    shared, seen = _watch(11, lambda: next(heads) // 3, until=5)
    elapsed = time.monotonic() - started
    assert all(s == sorted(set(s)) and s[-1] == 5 for s in seen)
    # one poll per interval between all of them (not 11)
    assert shared.polls <= elapsed / 0.01 + 2


def test_watch_heads__poll_fails__retried_never_ends():
    answers = deque([ConnectionRefusedError("Connection refused"), TimeoutError("timed out"), 8, 9])

    def fetch():
        answer = answers.popleft() if answers else 9
        if isinstance(answer, BaseException):
            raise answer
        return answer

    _, seen = _watch(1, fetch, until=9)
    assert seen == [[8, 9]]


def test_watch_heads__bad_poll_seconds__refused():
    async def main():
        async for _ in watch_heads(SharedHead(lambda: 1, interval=1), asyncio.Event(), poll_seconds=0):
            pass

    with pytest.raises(ValueError, match="poll_seconds"):
        asyncio.run(main())
