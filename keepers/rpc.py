"""The keeper's JSON-RPC client for real providers: several endpoints,
health tracking and failover, a rate limiter that honours ``Retry-After``,
a timeout on every call, and separate endpoints for reads and for sends.
The rules are :mod:`keepers.rpc_policy`'s; this module does the I/O.

Where it sits. The keeper talks to its node in two ways today:
``keepers.chain.Rpc`` calls ``w3.provider.make_request`` (raw JSON-RPC,
without web3's formatting, for speed), and ``ChainReader`` /
``TxManager`` also use web3's ``eth`` module (``get_block``, ``get_logs``,
``send_raw_transaction``) on the ``Web3`` object of Ape's provider. Both
paths end in one call, ``provider.make_request(method, params)``, so the
layer is a web3 *provider* (:class:`FailoverProvider`, a
``JSONBaseProvider``), not a middleware and not a wrapper of Ape's
provider:

- a provider sees every request of both paths, raw or formatted, with no
  change to ``chain.py`` or ``txmanager.py``: the wiring builds
  ``Web3(FailoverProvider(client))`` and hands it to ``ChainReader`` and
  ``TxManager`` in place of ``provider.web3``;
- a middleware sits above web3's formatting, so ``chain.Rpc``'s raw path
  would skip it, and web3's own ``HTTPProvider`` retries (on its own
  rules, 429 included) below it, with one URL;
- Ape's provider stays what Silverback and the contracts use (its
  ``web3`` object keeps the configured network's single URI); the keeper's
  hot path does not go through Ape.

What the provider hands back: a JSON-RPC response whose ``error`` is the
caller's (a revert, a ``getLogs`` range refusal, invalid params) is
returned as it is, so ``chain.Rpc`` and web3 raise what they raise today;
endpoint failures (429, timeouts, refused connections, 5xx, garbage) are
waited out or failed over here, and only when every endpoint of the pool
has failed for ``max_attempts`` calls or ``max_wait`` seconds does the
call raise :class:`RpcUnavailable` (whose ``failure`` is the last one).

Sends (``eth_sendRawTransaction``, ``eth_sendBundle``, ...) go to the
send pool; everything else to the read pool. Resending a signed
transaction to another endpoint after a timeout is safe (same hash; a
second copy answers "already known", which is the caller's).

:class:`SharedHead` is the head poller all handlers share: one
``eth_blockNumber`` per interval, whoever asks; :func:`watch_heads` is
a listener's loop on it, and :func:`follow_logs` an event listener's
(a range whose ``getLogs`` failed is asked again, never skipped).
``keepers.runner.ResilientPollingRunner`` runs every listener on one
``SharedHead`` (one ``eth_blockNumber`` per poll period, whatever the
number of listeners), through :func:`installed_client` once the keeper
has made the process's client (:func:`process_client`, from
``keepers.wiring.keeper_web3``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from web3 import Web3
from web3.providers.base import JSONBaseProvider

from keepers.rpc_policy import (
    EndpointState,
    Failure,
    FailureKind,
    HealthPolicy,
    HeadStep,
    TokenBucket,
    classify,
    failover_order,
    new_heads,
    next_ready,
    on_failure,
    on_success,
    poll_due,
)

log = structlog.get_logger("keepers.rpc")

SEND_METHODS = frozenset({
    "eth_sendRawTransaction",
    "eth_sendBundle",
    "eth_sendPrivateTransaction",
    "eth_sendPrivateRawTransaction",
    "eth_cancelPrivateTransaction",
    "eth_cancelBundle",
})


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    """POSTs ``body`` to ``url`` within ``timeout`` seconds; raises the
    transport's error (a timeout, a refused connection) when there is no
    reply at all."""

    def post(self, url: str, body: bytes, timeout: float) -> HttpReply: ...


class UrllibTransport:
    """The standard library's HTTP client (one connection per call)."""

    def post(self, url: str, body: bytes, timeout: float) -> HttpReply:
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                return HttpReply(reply.status, dict(reply.headers.items()), reply.read())
        except urllib.error.HTTPError as err:
            with err:
                return HttpReply(err.code, dict(err.headers.items()) if err.headers else {}, err.read())


@dataclass(frozen=True)
class RpcSettings:
    """``timeout``: seconds per HTTP call; ``rate`` / ``burst``: requests
    a second per endpoint; a call gives up after ``max_attempts`` tries or
    ``max_wait`` seconds spent waiting (rests, ``Retry-After``, pacing)."""

    timeout: float = 10.0
    rate: float = 25.0
    burst: float = 50.0
    max_attempts: int = 8
    max_wait: float = 60.0
    health: HealthPolicy = field(default_factory=HealthPolicy)

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive seconds, not {self.timeout}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.max_wait < 0:
            raise ValueError(f"max_wait must be >= 0 seconds, not {self.max_wait}")


class RpcFailure(RuntimeError):
    """A call that failed; ``failure`` says how (``keepers.rpc_policy``)."""

    def __init__(self, message: str, failure: Failure) -> None:
        super().__init__(message)
        self.failure = failure


class RpcUnavailable(RpcFailure):
    """No endpoint of the pool answered within the attempts and the wait allowed."""


class EndpointPool:
    """One ordered list of endpoints (the reads', or the sends'), with
    each endpoint's health and rate limiter. Thread-safe."""

    def __init__(
        self,
        name: str,
        urls: Sequence[str],
        settings: RpcSettings,
        transport: Transport,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        on_failure: Callable[[str, str, FailureKind], None] | None = None,
    ) -> None:
        urls = [str(u).strip() for u in urls]
        if not urls:
            raise ValueError(f"the {name} pool needs at least one endpoint URL")
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"the {name} pool's endpoint {url!r} is not an http(s) URL")
        if len(set(urls)) != len(urls):
            raise ValueError(f"the {name} pool lists an endpoint twice: {urls}")
        self.name = name
        self.urls = tuple(urls)
        self.settings = settings
        self._transport = transport
        self._clock = clock
        self._sleep = sleep
        self._wall = wall_clock
        self._on_failure = on_failure or (lambda pool, endpoint, kind: None)
        now = clock()
        self._states = [EndpointState(_label(u)) for u in urls]
        self._buckets = [TokenBucket.full(settings.rate, settings.burst, now) for _ in urls]
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def states(self) -> tuple[EndpointState, ...]:
        with self._lock:
            return tuple(self._states)

    def exchange(self, method: str, params: Any) -> dict[str, Any]:
        """The JSON-RPC response to ``method(params)`` from the first
        endpoint that answers; RpcUnavailable when none does."""
        waited = 0.0
        attempts = 0
        last: Failure | None = None
        while attempts < self.settings.max_attempts:
            with self._lock:
                now = self._clock()
                order = failover_order(self._states, now)
                if order:
                    index = order[0]
                    self._buckets[index], pace = self._buckets[index].take(now)
                else:
                    index, pace = -1, next_ready(self._states) - now
            if pace > 0:
                if waited + pace > self.settings.max_wait:
                    break
                self._sleep(pace)
                waited += pace
            if index < 0:
                continue
            attempts += 1
            outcome = self._post(index, method, params)
            with self._lock:
                if isinstance(outcome, Failure):
                    self._note_failure(index, outcome)
                else:
                    self._states[index] = on_success(self._states[index])
            if not isinstance(outcome, Failure):
                return outcome
            self._on_failure(self.name, self._states[index].name, outcome.kind)
            last = outcome
        failure = last or Failure(FailureKind.OTHER, "no attempt made within max_wait")
        raise RpcUnavailable(
            f"{method}: no {self.name} endpoint answered ({attempts} attempt(s), {waited:.1f} s waited; "
            f"last: {failure.kind.value} {failure.message[:160]})", failure)

    def _note_failure(self, index: int, failure: Failure) -> None:
        now = self._clock()
        before = self._states[index]
        after = on_failure(before, failure, now, self.settings.health)
        self._states[index] = after
        if failure.kind is FailureKind.RATE_LIMITED:
            self._buckets[index] = self._buckets[index].retry_after(max(after.down_until - now, 0.0), now)
        log.warning("rpc endpoint failed", pool=self.name, endpoint=after.name, kind=failure.kind.value,
                    retry_after=failure.retry_after, faults=after.faults,
                    rests_for=round(max(after.down_until - now, 0.0), 3), message=failure.message[:200])

    def _post(self, index: int, method: str, params: Any) -> dict[str, Any] | Failure:
        """The endpoint's response when it answered (its ``error``, if any,
        is the caller's), else the endpoint's failure."""
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params or [])}
        ).encode()
        try:
            reply = self._transport.post(self.urls[index], body, self.settings.timeout)
        except Exception as err:  # the transport's own error: no reply at all
            return classify(exception=err, now=self._wall())
        try:
            response = json.loads(reply.body)
        except ValueError:
            response = None
        error = response.get("error") if isinstance(response, dict) else None
        if not isinstance(error, Mapping):
            error = None
        if reply.status == 200 and isinstance(response, dict) and ("result" in response or error is not None):
            if error is None:
                return response
            failure = classify(status=200, headers=reply.headers, error=error, now=self._wall())
            return failure if failure.kind is FailureKind.RATE_LIMITED else response
        failure = classify(status=reply.status, headers=reply.headers, error=error, now=self._wall())
        if reply.status == 200:  # 200 without a JSON-RPC answer: a broken endpoint
            return Failure(FailureKind.SERVER, f"not a JSON-RPC response: {reply.body[:120]!r}", status=200)
        if error is not None and not failure.kind.endpoint_fault and failure.kind is not FailureKind.RATE_LIMITED:
            return response  # e.g. HTTP 400 with a JSON-RPC error: the caller's
        return failure


def _label(url: str) -> str:
    """An endpoint's name for logs: scheme, host and port (API keys in
    the path or query stay out of logs)."""
    rest = url.split("://", 1)[1]
    return url.split("://", 1)[0] + "://" + rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]


class RpcClient:
    """Reads through ``reads``, sends through ``sends`` (the reads' URLs
    when none are given). ``on_failure(pool, endpoint, kind)`` is told of
    each endpoint failure (the keeper's ``rpc_errors`` counter)."""

    def __init__(
        self,
        reads: Sequence[str],
        sends: Sequence[str] = (),
        settings: RpcSettings | None = None,
        transport: Transport | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        on_failure: Callable[[str, str, FailureKind], None] | None = None,
    ) -> None:
        settings = settings or RpcSettings()
        transport = transport or UrllibTransport()
        shared = dict(clock=clock, sleep=sleep, wall_clock=wall_clock, on_failure=on_failure)
        self.reads = EndpointPool("read", reads, settings, transport, **shared)
        self.sends = EndpointPool("send", sends or reads, settings, transport, **shared)
        self._web3: Any = None  # web3_on's

    def pool_for(self, method: str) -> EndpointPool:
        return self.sends if method in SEND_METHODS else self.reads

    def exchange(self, method: str, params: Any) -> dict[str, Any]:
        return self.pool_for(method).exchange(method, params)

    def request(self, method: str, params: Any) -> Any:
        """The ``result``; a JSON-RPC error raises :class:`RpcFailure`
        with its classification (a revert, a range error, ...)."""
        response = self.exchange(method, params)
        error = response.get("error")
        if error is not None:
            failure = classify(error=error if isinstance(error, Mapping) else {"message": str(error)})
            raise RpcFailure(f"{method}: {failure.message}", failure)
        return response.get("result")


_clients: dict[tuple[Any, ...], RpcClient] = {}
_clients_lock = threading.Lock()
_latest: list[RpcClient] = []


def process_client(
    reads: Sequence[str],
    sends: Sequence[str] = (),
    settings: RpcSettings | None = None,
    *,
    on_failure: Callable[[str, str, FailureKind], None] | None = None,
) -> RpcClient:
    """The process's client on these endpoints: made on the first call,
    the same one after (a sharded process builds a keeper per shard, and
    the runner polls heads: they share the endpoints' health and rate
    limits, as the provider sees one client). The last one made is
    :func:`installed_client`."""
    settings = settings or RpcSettings()
    key = (tuple(reads), tuple(sends), settings)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = RpcClient(reads, sends, settings, on_failure=on_failure)
            _clients[key] = client
            log.info("rpc endpoints", reads=[_label(u) for u in client.reads.urls],
                     sends=[_label(u) for u in client.sends.urls], timeout=settings.timeout,
                     rate=settings.rate, burst=settings.burst, max_wait=settings.max_wait)
        _latest[:] = [client]
    return client


def installed_client() -> RpcClient | None:
    """The client :func:`process_client` made last in this process (the
    runner's listeners use it once the keeper is built), or None."""
    with _clients_lock:
        return _latest[0] if _latest else None


def web3_on(client: RpcClient) -> Any:
    """A ``Web3`` whose every request goes through ``client`` (one per client)."""
    with _clients_lock:
        w3 = client._web3
        if w3 is None:
            w3 = Web3(FailoverProvider(client))
            client._web3 = w3
        return w3


class FailoverProvider(JSONBaseProvider):
    """A web3 provider on an :class:`RpcClient` (module docstring):
    ``Web3(FailoverProvider(client))``."""

    def __init__(self, client: RpcClient, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client

    def make_request(self, method: Any, params: Any) -> Any:
        return self.client.exchange(str(method), params)

    def is_connected(self, show_traceback: bool = False) -> bool:
        try:
            self.client.request("eth_chainId", [])
        except Exception:
            if show_traceback:
                raise
            return False
        return True


class SharedHead:
    """The head, polled at most once per ``interval`` seconds whoever asks:
    every handler calls :meth:`head` (one ``eth_blockNumber`` serves them
    all; a caller arriving during a poll waits for it). A failed poll
    raises to its caller and the next caller polls again."""

    def __init__(self, fetch: Callable[[], int], interval: float, *, clock: Callable[[], float] = time.monotonic):
        if not interval > 0:
            raise ValueError(f"the head poll interval must be positive seconds, not {interval}")
        self._fetch = fetch
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._head: int | None = None
        self._polled_at: float | None = None
        self.polls = 0

    def head(self) -> int:
        with self._lock:
            if self._head is None or poll_due(self._polled_at, self._clock(), self.interval):
                head = int(self._fetch())
                self.polls += 1
                self._head, self._polled_at = head, self._clock()
            return self._head

    def follow(self, last: int | None) -> HeadStep:
        """The blocks a handler that last saw ``last`` has not seen (:func:`new_heads`)."""
        return new_heads(last, self.head())

    @classmethod
    def on_client(cls, client: RpcClient, interval: float, **kwargs: Any) -> SharedHead:
        return cls(lambda: int(client.request("eth_blockNumber", []), 16), interval, **kwargs)


async def watch_heads(
    shared: SharedHead,
    stop: asyncio.Event,
    *,
    poll_seconds: float,
    max_backoff: float = 10.0,
    task: str = "",
) -> AsyncIterator[int]:
    """Yields the head each time it moves, until ``stop`` is set: every
    listener runs this on the same :class:`SharedHead`, so they cost one
    poll per interval between them. A failed poll is logged and retried
    after a doubling back-off (``max_backoff`` at most); it never ends
    the loop. ``task`` names the listener in the logs."""
    if not (0 < poll_seconds <= max_backoff):
        raise ValueError(f"need 0 < poll_seconds ({poll_seconds}) <= max_backoff ({max_backoff})")
    seen: int | None = None
    backoff = poll_seconds
    while not stop.is_set():
        try:
            head = await asyncio.to_thread(shared.head)
        except Exception as err:
            backoff = min(backoff * 2, max_backoff)
            log.warning("RPC error while polling; retrying", task=task, error=str(err)[:300],
                        error_type=type(err).__name__, retry_in=backoff)
            await _wait(stop, backoff)
            continue
        backoff = poll_seconds
        if head != seen:
            seen = head
            yield head
        await _wait(stop, poll_seconds)


@dataclass(frozen=True)
class LogRange:
    """The logs of blocks ``start..end`` (inclusive), read in one go."""

    start: int
    end: int
    logs: tuple[Any, ...]


async def follow_logs(
    shared: SharedHead,
    stop: asyncio.Event,
    fetch: Callable[[int, int], Sequence[Any]],
    *,
    poll_seconds: float,
    max_range: int = 1_000,
    max_backoff: float = 10.0,
    reset_depth: int = 64,
    task: str = "",
) -> AsyncIterator[LogRange]:
    """Yields the logs of every block from the first head on, range by
    range, until ``stop`` is set: ``fetch(start, end)`` reads a range (a
    ``getLogs``), at most ``max_range`` blocks. A range whose read fails is
    asked again, from the same first block, after a doubling back-off: a
    block is never skipped (an oracle's NAV event is read late, not lost).
    A head far below the next block (``reset_depth``: a new chain) starts
    again at the head; a head a little below it (a reorg to a shorter
    chain) waits for the chain to grow back."""
    if not (0 < poll_seconds <= max_backoff):
        raise ValueError(f"need 0 < poll_seconds ({poll_seconds}) <= max_backoff ({max_backoff})")
    if max_range < 1:
        raise ValueError(f"max_range must be at least 1 block, not {max_range}")
    next_block: int | None = None
    backoff = poll_seconds
    while not stop.is_set():
        failed = False
        try:
            head = await asyncio.to_thread(shared.head)
        except Exception as err:
            failed = True
            log.warning("RPC error while polling; retrying", task=task, error=str(err)[:300],
                        error_type=type(err).__name__)
            head = None
        if head is not None:
            if next_block is None or head < next_block - reset_depth:
                next_block = head
            while next_block <= head and not stop.is_set():
                end = min(head, next_block + max_range - 1)
                try:
                    logs = tuple(await asyncio.to_thread(fetch, next_block, end))
                except Exception as err:
                    failed = True
                    log.warning("logs unavailable; the same blocks asked again", task=task, start=next_block,
                                end=end, error=str(err)[:300], error_type=type(err).__name__)
                    break
                yield LogRange(next_block, end, logs)
                next_block = end + 1
        backoff = min(backoff * 2, max_backoff) if failed else poll_seconds
        await _wait(stop, backoff)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleeps ``seconds``, or less when ``stop`` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
