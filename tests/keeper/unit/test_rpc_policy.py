"""The RPC layer's pure rules (keepers/rpc_policy.py): failure
classification, Retry-After, the token bucket, endpoint health and
failover, the getLogs chunk size, and the shared head's block steps."""

from __future__ import annotations

import socket
import urllib.error
from email.utils import format_datetime
from datetime import datetime, timezone

import pytest

from keepers.rpc_policy import (
    ChunkPolicy,
    ChunkState,
    EndpointState,
    Failure,
    FailureKind,
    HealthPolicy,
    RangeUnsplittable,
    TokenBucket,
    chunk_after_failure,
    chunk_after_success,
    classify,
    classify_exception,
    failover_order,
    new_heads,
    next_ready,
    on_failure,
    on_success,
    parse_retry_after,
    poll_due,
    suggested_range,
)

NOW = 1_800_000_000.0
RATE_LIMITED = Failure(FailureKind.RATE_LIMITED, "429", retry_after=None)
TIMEOUT = Failure(FailureKind.TIMEOUT, "timed out")
RANGE = Failure(FailureKind.LOG_RANGE, "query returned more than 10000 results")


# ---------------------------------------------------------------- Retry-After


def test_retry_after__seconds__parsed():
    assert parse_retry_after("3", NOW) == 3.0
    assert parse_retry_after("1.5", NOW) == 1.5
    assert parse_retry_after(2, NOW) == 2.0


def test_retry_after__http_date__seconds_from_now():
    when = datetime.fromtimestamp(NOW + 7, tz=timezone.utc)
    assert parse_retry_after(format_datetime(when, usegmt=True), NOW) == pytest.approx(7.0)


def test_retry_after__date_in_the_past__zero():
    when = datetime.fromtimestamp(NOW - 60, tz=timezone.utc)
    assert parse_retry_after(format_datetime(when, usegmt=True), NOW) == 0.0
    assert parse_retry_after("-4", NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "Someday, 99 Foo"])
def test_retry_after__absent_or_garbage__none(value):
    assert parse_retry_after(value, NOW) is None


# ---------------------------------------------------------------- classify


def test_classify__http_429_with_retry_after__rate_limited_with_wait():
    failure = classify(status=429, headers={"Retry-After": "4"}, now=NOW)
    assert failure.kind is FailureKind.RATE_LIMITED
    assert failure.retry_after == 4.0
    assert failure.message == "HTTP 429"


def test_classify__http_429_with_http_date__rate_limited_with_wait():
    when = format_datetime(datetime.fromtimestamp(NOW + 2, tz=timezone.utc), usegmt=True)
    failure = classify(status=429, headers={"retry-after": when}, now=NOW)
    assert failure.retry_after == pytest.approx(2.0)


@pytest.mark.parametrize("error", [
    {"code": 429, "message": "Your app has exceeded its compute units per second capacity"},  # Alchemy
    {"code": -32005, "message": "project ID request rate exceeded"},  # Infura
    {"code": -32005, "message": "daily request count exceeded, request rate limited"},  # Infura
    {"code": -32007, "message": "request limit reached"},  # QuickNode-like
    {"code": -32000, "message": "Too many requests, please slow down"},  # Ankr-like
])
def test_classify__provider_rate_limit_words__rate_limited_not_range(error):
    assert classify(error=error).kind is FailureKind.RATE_LIMITED


@pytest.mark.parametrize("error", [
    {"code": -32005, "message": "query returned more than 10000 results"},  # Infura
    {"code": -32602, "message": "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range"},  # Alchemy
    {"code": -32614, "message": "eth_getLogs is limited to a 10,000 range"},  # QuickNode
    {"code": -32600, "message": "block range is too wide"},  # Ankr
    {"code": -32602, "message": "exceed maximum block range: 5000"},  # geth-style
    {"code": -32005, "message": "something new the provider says"},  # -32005 without rate words
])
def test_classify__provider_range_words__log_range(error):
    assert classify(error=error).kind is FailureKind.LOG_RANGE


def test_classify__infura_backoff_seconds__read_as_retry_after():
    error = {"code": -32005, "message": "project ID request rate exceeded",
             "data": {"see": "https://infura.io/dashboard", "rate": {"allowed_rps": 1, "backoff_seconds": 30}}}
    failure = classify(error=error)
    assert failure.kind is FailureKind.RATE_LIMITED
    assert failure.retry_after == 30.0


def test_classify__header_wins_over_body_hint__and_range_error_has_no_wait():
    error = {"code": -32005, "message": "request rate exceeded", "data": {"rate": {"backoff_seconds": 30}}}
    assert classify(status=200, headers={"Retry-After": "2"}, error=error).retry_after == 2.0
    ranged = {"code": -32005, "message": "query returned more than 10000 results", "data": {"backoff_seconds": 9}}
    assert classify(error=ranged).retry_after is None


def test_classify__revert__reverted_not_range():
    assert classify(error={"code": 3, "message": "execution reverted: market: healthy"}).kind is FailureKind.REVERTED
    assert classify(error={"code": -32000, "message": "execution reverted"}).kind is FailureKind.REVERTED


def test_classify__revert_reason_with_rate_words__reverted_not_rate_limited():
    error = {"code": 3, "message": "execution reverted: facility: daily request count exceeded", "data": "0x08c379a0"}
    assert classify(error=error).kind is FailureKind.REVERTED


def test_classify_exception__revert_text_with_rate_words__reverted():
    assert classify_exception(RuntimeError("execution reverted: rate limit of the facility")).kind is FailureKind.REVERTED


def test_classify__other_rpc_error__other():
    failure = classify(error={"code": -32601, "message": "the method eth_foo does not exist"})
    assert failure.kind is FailureKind.OTHER
    assert not failure.kind.endpoint_fault


def test_classify__timeout_exceptions__timeout():
    assert classify(exception=socket.timeout("timed out")).kind is FailureKind.TIMEOUT
    assert classify(exception=urllib.error.URLError(TimeoutError("timed out"))).kind is FailureKind.TIMEOUT


def test_classify__connection_refused__unreachable():
    assert classify(exception=ConnectionRefusedError(111, "Connection refused")).kind is FailureKind.UNREACHABLE
    wrapped = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    assert classify(exception=wrapped).kind is FailureKind.UNREACHABLE
    # requests' errors are not the builtin ones: their words are read
    assert classify(exception=OSError("HTTPConnectionPool: Connection refused")).kind is FailureKind.UNREACHABLE


def test_classify__gateway_errors__endpoint_faults():
    assert classify(status=502).kind is FailureKind.SERVER
    assert classify(status=504).kind is FailureKind.TIMEOUT
    assert classify(status=401).kind is FailureKind.SERVER  # an expired key: try another endpoint
    assert classify(status=500, error={"code": -32603, "message": "internal error"}).kind is FailureKind.SERVER


def test_classify__range_error_in_http_400__still_log_range():
    failure = classify(status=400, error={"code": -32602, "message": "block range is too wide"})
    assert failure.kind is FailureKind.LOG_RANGE
    assert failure.retry_after is None


def test_classify__nothing_given__refused():
    with pytest.raises(ValueError, match="give an HTTP status"):
        classify()


def test_classify_exception__web3_rpc_error__reads_its_response():
    class Web3RPCError(Exception):
        def __init__(self):
            super().__init__("{'code': -32005, 'message': 'query returned more than 10000 results'}")
            self.rpc_response = {"error": {"code": -32005, "message": "query returned more than 10000 results"}}

    assert classify_exception(Web3RPCError()).kind is FailureKind.LOG_RANGE


def test_classify_exception__plain_message_with_limit__not_range():
    # the old _range_refused read "limit" as a range error
    assert classify_exception(RuntimeError("429 Client Error: Too Many Requests")).kind is FailureKind.RATE_LIMITED


def test_suggested_range__alchemy_hint__its_size():
    assert suggested_range("this block range should work: [0x10, 0x1f]") == 16
    assert suggested_range("block range is too wide") is None


# ---------------------------------------------------------------- token bucket


def test_limiter__burst__goes_at_once_then_paced():
    bucket = TokenBucket.full(rate=10, burst=2, now=0.0)
    bucket, w1 = bucket.take(0.0)
    bucket, w2 = bucket.take(0.0)
    bucket, w3 = bucket.take(0.0)
    assert (w1, w2) == (0.0, 0.0)
    assert w3 == pytest.approx(0.1)


def test_limiter__refills_with_time__no_wait():
    bucket = TokenBucket.full(rate=10, burst=1, now=0.0)
    bucket, _ = bucket.take(0.0)
    bucket, wait = bucket.take(0.5)
    assert wait == 0.0


def test_limiter__retry_after__waits():
    bucket = TokenBucket.full(rate=100, burst=50, now=0.0).retry_after(3.0, now=1.0)
    bucket, wait = bucket.take(1.0)
    assert wait == pytest.approx(3.0)
    _, wait_after = bucket.take(4.5)
    assert wait_after == pytest.approx(0.0, abs=1e-9)


def test_limiter__retry_after__no_burst_banked_while_blocked():
    bucket = TokenBucket.full(rate=1, burst=10, now=0.0).retry_after(5.0, now=0.0)
    bucket, first = bucket.take(0.0)
    bucket, second = bucket.take(0.0)
    assert first == pytest.approx(5.0)
    assert second == pytest.approx(6.0)


@pytest.mark.parametrize("rate,burst", [(0, 1), (-1, 1), (1, 0), (float("inf"), 1)])
def test_limiter__bad_settings__refused(rate, burst):
    with pytest.raises(ValueError):
        TokenBucket.full(rate=rate, burst=burst, now=0.0)


def test_limiter__negative_retry_after__refused():
    with pytest.raises(ValueError, match="retry-after"):
        TokenBucket.full(1, 1, 0.0).retry_after(-1, 0.0)


# ---------------------------------------------------------------- health and failover

POLICY = HealthPolicy(down_after=2, cooldown=1.0, max_cooldown=8.0, rate_limit_backoff=0.5)


def test_health__faults_below_threshold__still_available():
    state = on_failure(EndpointState("a"), TIMEOUT, 0.0, POLICY)
    assert state.faults == 1
    assert state.available(0.0)


def test_health__threshold_reached__cooldown_then_doubles_capped():
    state = EndpointState("a")
    rests = []
    for _ in range(7):
        state = on_failure(state, TIMEOUT, 100.0, POLICY)
        rests.append(state.down_until - 100.0 if state.down_until else 0.0)
    assert rests == [0.0, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert not state.available(107.9)
    assert state.available(108.0)


def test_health__success__recovers():
    state = on_failure(on_failure(EndpointState("a"), TIMEOUT, 0.0, POLICY), TIMEOUT, 0.0, POLICY)
    assert not state.healthy
    assert on_success(state).healthy
    assert on_success(state).faults == 0


def test_health__callers_error__endpoint_counted_as_working():
    state = on_failure(EndpointState("a"), TIMEOUT, 0.0, POLICY)
    assert on_failure(state, RANGE, 0.0, POLICY).faults == 0
    reverted = Failure(FailureKind.REVERTED, "execution reverted")
    assert on_failure(state, reverted, 0.0, POLICY).faults == 0


def test_health__429_with_retry_after__rests_exactly_that_long():
    failure = Failure(FailureKind.RATE_LIMITED, "429", retry_after=3.0)
    state = on_failure(EndpointState("a"), failure, 10.0, POLICY)
    assert state.down_until == 13.0
    assert state.faults == 0  # a rate limit is not a fault


def test_health__429_without_retry_after__doubling_backoff():
    state = EndpointState("a")
    rests = []
    for _ in range(3):
        state = on_failure(state, RATE_LIMITED, 0.0, POLICY)
        rests.append(state.down_until)
    assert rests == [0.5, 1.0, 2.0]


def test_failover__endpoint_down__next_one_then_back():
    states = [EndpointState("a"), EndpointState("b")]
    assert failover_order(states, 0.0) == (0, 1)
    for _ in range(2):
        states[0] = on_failure(states[0], TIMEOUT, 0.0, POLICY)
    assert failover_order(states, 0.5) == (1,)
    # back after its rest: probed in its configured place, first
    assert failover_order(states, 1.0) == (0, 1)
    states[0] = on_success(states[0])
    assert failover_order(states, 1.0) == (0, 1)


def test_failover__probe_after_rest_fails__rests_longer_backup_serves():
    states = [EndpointState("a"), EndpointState("b")]
    for _ in range(2):
        states[0] = on_failure(states[0], TIMEOUT, 0.0, POLICY)
    assert failover_order(states, 1.0) == (0, 1)  # probed
    states[0] = on_failure(states[0], TIMEOUT, 1.0, POLICY)
    assert states[0].down_until == 3.0  # the rest doubled
    assert failover_order(states, 2.5) == (1,)
    assert failover_order(states, 3.0) == (0, 1)


def test_failover__all_resting__empty_and_next_ready():
    states = [EndpointState("a", faults=3, down_until=5.0), EndpointState("b", faults=3, down_until=2.0)]
    assert failover_order(states, 1.0) == ()
    assert next_ready(states) == 2.0


def test_failover__empty_pool__refused():
    with pytest.raises(ValueError, match="at least one endpoint"):
        next_ready([])


@pytest.mark.parametrize("kwargs", [{"down_after": 0}, {"cooldown": 0}, {"cooldown": 10, "max_cooldown": 5},
                                    {"rate_limit_backoff": 0}])
def test_health_policy__bad_values__refused(kwargs):
    with pytest.raises(ValueError):
        HealthPolicy(**kwargs)


# ---------------------------------------------------------------- chunk size

CHUNKS = ChunkPolicy(initial=2000, maximum=2000, minimum=1, grow_after=3)


def test_chunk__429__not_halved():
    state = CHUNKS.start()
    for _ in range(3):
        state = chunk_after_failure(state, RATE_LIMITED, CHUNKS)
    assert state.size == 2000


def test_chunk__timeout__not_halved():
    assert chunk_after_failure(CHUNKS.start(), TIMEOUT, CHUNKS).size == 2000


def test_chunk__range_error__halved_then_grows_back():
    policy = ChunkPolicy(initial=2000, maximum=2000, grow_after=3, probe_after=5)
    state = chunk_after_failure(chunk_after_failure(policy.start(), RANGE, policy), RANGE, policy)
    assert (state.size, state.refused) == (500, 1000)
    sizes = []
    for _ in range(11):
        state = chunk_after_success(state, policy)
        sizes.append(state.size)
    # 1,000 was refused: probed after 5 successes; once it works, 2,000 after 3
    assert sizes == [500, 500, 500, 500, 1000, 1000, 1000, 2000, 2000, 2000, 2000]
    assert state.refused is None


def test_chunk__never_refused__grows_after_grow_after():
    policy = ChunkPolicy(initial=250, maximum=1000, grow_after=2, probe_after=50)
    state = policy.start()
    sizes = []
    for _ in range(5):
        state = chunk_after_success(state, policy)
        sizes.append(state.size)
    assert sizes == [250, 500, 500, 1000, 1000]


def test_chunk__refused_size__probed_only_after_probe_after():
    policy = ChunkPolicy(initial=2000, maximum=2000, grow_after=2, probe_after=10)
    state = chunk_after_failure(policy.start(), RANGE, policy)
    for _ in range(9):
        state = chunk_after_success(state, policy)
    assert state.size == 1000
    assert chunk_after_success(state, policy).size == 2000


def test_chunk__failure_resets_streak__no_growth():
    state = ChunkState(size=500, successes=2)
    state = chunk_after_failure(state, RATE_LIMITED, CHUNKS)
    assert chunk_after_success(state, CHUNKS).size == 500


def test_chunk__provider_suggests_smaller__takes_it():
    hint = Failure(FailureKind.LOG_RANGE, "Log response size exceeded. this block range should work: [0x0, 0x63]")
    assert chunk_after_failure(CHUNKS.start(), hint, CHUNKS).size == 100


def test_chunk__provider_suggests_larger__still_halved():
    hint = Failure(FailureKind.LOG_RANGE, "try with this block range [0x0, 0x1869f]")
    assert chunk_after_failure(CHUNKS.start(), hint, CHUNKS).size == 1000


def test_chunk__range_error_at_minimum__unsplittable():
    with pytest.raises(RangeUnsplittable, match="minimum"):
        chunk_after_failure(ChunkState(size=1), RANGE, CHUNKS)


@pytest.mark.parametrize("kwargs", [{"initial": 0, "minimum": 0}, {"initial": 3000}, {"minimum": 5, "initial": 4},
                                    {"grow_after": 0}, {"grow_after": 10, "probe_after": 5}])
def test_chunk_policy__bad_values__refused(kwargs):
    with pytest.raises(ValueError):
        ChunkPolicy(**kwargs)


# ---------------------------------------------------------------- heads


def test_heads__first_poll__starts_at_head():
    assert new_heads(None, 100).blocks == (100,)


def test_heads__new_blocks__each_once_in_order():
    step = new_heads(100, 103)
    assert step.blocks == (101, 102, 103)
    assert new_heads(step.last, 103).blocks == ()


def test_heads__shorter_chain_within_depth__waits():
    step = new_heads(100, 98)
    assert step.blocks == ()
    assert step.last == 100


def test_heads__new_chain__restarts_at_head():
    assert new_heads(10_000, 5) == new_heads(None, 5)


def test_heads__long_outage__latest_blocks_only():
    step = new_heads(0, 1_000, max_blocks=10)
    assert step.blocks == tuple(range(991, 1001))


def test_heads__negative_head__refused():
    with pytest.raises(ValueError):
        new_heads(1, -1)


def test_poll_due__within_interval__not_due():
    assert poll_due(None, 0.0, 1.0)
    assert not poll_due(10.0, 10.5, 1.0)
    assert poll_due(10.0, 11.0, 1.0)


def test_classify__node_query_timeout__log_range_but_client_timeout__timeout():
    # the node answered (its query was too heavy) versus no answer at all
    assert classify(error={"code": -32000, "message": "query timeout exceeded"}).kind is FailureKind.LOG_RANGE
    assert classify(exception=TimeoutError("timed out")).kind is FailureKind.TIMEOUT
