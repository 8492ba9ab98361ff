"""A fault-injecting JSON-RPC proxy between a client (the keeper) and an
upstream node (anvil), programmed at run time with faults as real providers
and networks produce them.

Start one in front of an anvil and point the client at ``proxy.url``::

    proxy = FaultProxy(upstream=anvil.url, seed=7).start()
    proxy.add(RateLimit(calls=3, retry_after=2))            # the next 3 requests: HTTP 429
    proxy.add(RateLimit(fraction=0.05, methods=frozenset({"eth_getLogs"})))
    proxy.add(Timeout(seconds=5.0))                          # held 5 s, then answered
    proxy.add(Timeout(hang_up=True, calls=1))                # closed unanswered
    proxy.add(DropSend())                                    # sends answered, never forwarded
    proxy.add(EvictSend(after=0.5))                          # forwarded, then dropped from the pool
    proxy.add(LogLimits())                                   # 10,000 blocks / 10,000 logs, code -32005
    proxy.outage(3.0)                                        # the port refuses connections for 3 s
    proxy.reorg(2)                                           # anvil_reorg: the last 2 blocks replaced
    proxy.stats()                                            # ProxyStats: what it did, for assertions
    proxy.clear(); proxy.stop()

Rules (frozen dataclasses) and where they act:

- Request rules, :class:`RateLimit` and :class:`Timeout`, act on a whole
  HTTP request (a single call or a batch), as a provider's gateway does: a
  request matches when any of its calls' methods is in ``methods`` (empty:
  every method). Each has ``calls`` (the next N matching requests, None:
  unlimited) and ``fraction`` (the share of matching requests hit, drawn from
  the proxy's seeded generator). The first rule that fires decides.
- Call rules act on each call of a request, the rest of a batch is
  forwarded as a batch and the answers are merged in order:
  :class:`DropSend` answers ``eth_sendRawTransaction`` with the
  transaction's hash and never forwards it; :class:`EvictSend` forwards it,
  then ``after`` seconds later removes it from anvil's pool
  (``anvil_dropTransaction``); :class:`LogLimits` refuses an ``eth_getLogs``
  whose block range or result is over the limit, with the provider-style
  error (code -32005, the message names the limit). ``calls`` and
  ``fraction`` select sends the same way; LogLimits applies to every call.
- Actions: :meth:`FaultProxy.outage` closes the listening port (connections
  refused) and opens it again after the period, or at :meth:`FaultProxy.restore`;
  requests already on an open keep-alive connection are hung up meanwhile.
  :meth:`FaultProxy.reorg` replaces the last ``depth`` blocks through anvil's
  ``anvil_reorg`` (anvil 1.x; the chain keeps its height, blocks change hash,
  the replaced blocks' transactions are dropped unless re-sent).

Another process (a keeper run by hand, a shell) programs it through
control methods on the same URL, JSON-RPC calls that are never forwarded:
``faultproxy_add [kind, {fields}]`` (``["RateLimit", {"fraction": 0.05}]``,
``methods`` as a list), ``faultproxy_clear``, ``faultproxy_outage
[seconds]``, ``faultproxy_reorg [depth]``, ``faultproxy_stats``. From a
shell::

    python -m devkit.faultproxy --upstream http://127.0.0.1:8545 --port 8546 \
        --rule 'RateLimit:{"fraction": 0.05}' --rule LogLimits

Determinism: given the seed and the order of requests, the same requests
are hit (the generator is drawn only for rules with ``fraction`` < 1).
A client sending from several threads at once orders its requests itself.

The proxy is test infrastructure (devkit): nothing in navlend or keepers
imports it.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import structlog
from eth_utils import keccak

from devkit.rpcwire import HttpAnswer, LocalHttpServer, RpcError, error_reply, post_json, result_reply, rpc

log = structlog.get_logger("devkit.faultproxy")

SEND_RAW = "eth_sendRawTransaction"
GET_LOGS = "eth_getLogs"
# The provider-style error code of a refused eth_getLogs (Infura, Alchemy).
LIMIT_EXCEEDED = -32005
UPSTREAM_TIMEOUT = 60.0


class FaultError(ValueError):
    """A rule or an action with a bad parameter."""


@dataclass(frozen=True, kw_only=True)
class Selector:
    """Which requests (or sends) a rule hits: the methods it watches (empty:
    all), the next ``calls`` of them (None: no end), a ``fraction`` of them."""

    methods: frozenset[str] = frozenset()
    calls: int | None = None
    fraction: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.methods, frozenset):
            raise FaultError(f"methods must be a frozenset of method names, got {self.methods!r}")
        if self.calls is not None and (not isinstance(self.calls, int) or self.calls < 1):
            raise FaultError(f"calls must be a positive int or None, got {self.calls!r}")
        if not 0.0 < self.fraction <= 1.0:
            raise FaultError(f"fraction must be in (0, 1], got {self.fraction!r}")

    def watches(self, method: str) -> bool:
        return not self.methods or method in self.methods


@dataclass(frozen=True, kw_only=True)
class RateLimit(Selector):
    """HTTP 429 with ``Retry-After: retry_after`` (seconds) and a JSON-RPC
    error body (code 429)."""

    retry_after: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.retry_after, int) or self.retry_after < 0:
            raise FaultError(f"retry_after must be a non-negative int of seconds, got {self.retry_after!r}")


@dataclass(frozen=True, kw_only=True)
class Timeout(Selector):
    """Holds the request ``seconds``, then forwards and answers it late; with
    ``hang_up``, closes the connection unanswered after the hold instead."""

    seconds: float = 30.0
    hang_up: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.seconds < 0:
            raise FaultError(f"seconds must be >= 0, got {self.seconds!r}")


@dataclass(frozen=True, kw_only=True)
class DropSend(Selector):
    """``eth_sendRawTransaction`` answered with the transaction's hash and
    never forwarded: the transaction exists nowhere."""

    methods: frozenset[str] = frozenset({SEND_RAW})


@dataclass(frozen=True, kw_only=True)
class EvictSend(Selector):
    """``eth_sendRawTransaction`` forwarded, then ``after`` seconds later
    removed from anvil's pool (unless it has mined by then: an automining
    anvil mines it at once, so run anvil with ``--block-time`` or
    ``--no-mining`` for an eviction to happen)."""

    methods: frozenset[str] = frozenset({SEND_RAW})
    after: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.after < 0:
            raise FaultError(f"after must be >= 0, got {self.after!r}")


@dataclass(frozen=True)
class LogLimits:
    """A provider's ``eth_getLogs`` limits: a range over ``max_blocks``
    blocks, or a result over ``max_logs`` logs, is refused with ``code``."""

    max_blocks: int = 10_000
    max_logs: int = 10_000
    code: int = LIMIT_EXCEEDED

    def __post_init__(self) -> None:
        if self.max_blocks < 1 or self.max_logs < 1:
            raise FaultError(f"limits must be positive, got {self.max_blocks} blocks, {self.max_logs} logs")


Rule = RateLimit | Timeout | DropSend | EvictSend | LogLimits
RULE_TYPES: Mapping[str, type] = MappingProxyType(
    {t.__name__: t for t in (RateLimit, Timeout, DropSend, EvictSend, LogLimits)}
)
CONTROL_PREFIX = "faultproxy_"
REQUEST_RULES = (RateLimit, Timeout)
SEND_RULES = (DropSend, EvictSend)


@dataclass(frozen=True)
class ProxyStats:
    """What the proxy did since it started (or :meth:`FaultProxy.reset_stats`)."""

    requests: int
    calls: int
    forwarded: Mapping[str, int]
    rate_limited: int
    timed_out: int
    hung_up: int
    dropped_sends: tuple[str, ...]
    evicted: tuple[str, ...]
    log_limit_refusals: int
    outages: int
    refused_while_down: int
    reorgs: int


@dataclass
class _Armed:
    """A rule and how many more requests it may hit."""

    rule: Rule
    left: int | None


@dataclass
class _Counts:
    requests: int = 0
    calls: int = 0
    forwarded: Counter = field(default_factory=Counter)
    rate_limited: int = 0
    timed_out: int = 0
    hung_up: int = 0
    dropped_sends: list[str] = field(default_factory=list)
    evicted: list[str] = field(default_factory=list)
    log_limit_refusals: int = 0
    outages: int = 0
    refused_while_down: int = 0
    reorgs: int = 0


def rule_from_json(kind: str, fields: Mapping[str, Any] | None = None) -> Rule:
    """A rule from its class name and fields (``methods`` a list), as the
    control method ``faultproxy_add`` receives it."""
    rule_type = RULE_TYPES.get(kind)
    if rule_type is None:
        raise FaultError(f"no fault rule {kind!r}; the rules: {', '.join(RULE_TYPES)}")
    values = dict(fields or {})
    if "methods" in values:
        values["methods"] = frozenset(values["methods"])
    return rule_type(**values)


def _methods(body: Any) -> list[str]:
    calls = body if isinstance(body, list) else [body]
    return [c.get("method", "") for c in calls if isinstance(c, dict)]


def _block_number(tag: Any, head: int) -> int:
    if tag is None or tag in ("latest", "safe", "finalized", "pending"):
        return head
    if tag == "earliest":
        return 0
    if isinstance(tag, str) and tag.startswith("0x"):
        return int(tag, 16)
    raise FaultError(f"not a block number or tag: {tag!r}")


class FaultProxy:
    """The proxy: :meth:`start` it, point the client at :attr:`url`, program
    it with :meth:`add` and the actions. ``port`` 0 picks a free port."""

    def __init__(self, upstream: str, *, seed: int = 0, port: int = 0):
        self.upstream = upstream
        self._rng = random.Random(seed)
        self._rules: list[_Armed] = []
        self._lock = threading.Lock()
        self._counts = _Counts()
        self._down = threading.Event()
        self._closing = threading.Event()
        self._server = LocalHttpServer(self._handle, port)
        self._log = log.bind(upstream=upstream, seed=seed)

    # -- life -------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> FaultProxy:
        self._server.start()
        self._log = self._log.bind(url=self.url)
        self._log.info("fault proxy started")
        return self

    def stop(self) -> None:
        self._closing.set()
        self._server.stop()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- programming ------------------------------------------------------
    def add(self, rule: Rule) -> Rule:
        """Arms ``rule`` (after the rules already armed); returns it, for :meth:`remove`."""
        if not isinstance(rule, (RateLimit, Timeout, DropSend, EvictSend, LogLimits)):
            raise FaultError(f"not a fault rule: {rule!r}")
        with self._lock:
            self._rules.append(_Armed(rule, getattr(rule, "calls", None)))
        self._log.info("fault armed", rule=repr(rule))
        return rule

    def remove(self, rule: Rule) -> None:
        with self._lock:
            before = len(self._rules)
            self._rules = [a for a in self._rules if a.rule is not rule]
            if len(self._rules) == before:
                raise FaultError(f"rule not armed: {rule!r}")

    def clear(self) -> None:
        """Disarms every rule (an outage under way still ends at its time)."""
        with self._lock:
            self._rules = []

    def stats(self) -> ProxyStats:
        with self._lock:
            c = self._counts
            return ProxyStats(
                requests=c.requests,
                calls=c.calls,
                forwarded=MappingProxyType(dict(c.forwarded)),
                rate_limited=c.rate_limited,
                timed_out=c.timed_out,
                hung_up=c.hung_up,
                dropped_sends=tuple(c.dropped_sends),
                evicted=tuple(c.evicted),
                log_limit_refusals=c.log_limit_refusals,
                outages=c.outages,
                refused_while_down=c.refused_while_down,
                reorgs=c.reorgs,
            )

    def reset_stats(self) -> None:
        with self._lock:
            self._counts = _Counts()

    # -- actions ----------------------------------------------------------
    def outage(self, seconds: float | None) -> None:
        """The endpoint dies now: its port refuses connections; it comes back
        after ``seconds`` (None: at :meth:`restore`)."""
        if seconds is not None and seconds <= 0:
            raise FaultError(f"an outage lasts a positive number of seconds, got {seconds!r}")
        self._down.set()
        self._server.stop()
        with self._lock:
            self._counts.outages += 1
        self._log.info("endpoint down", seconds=seconds)
        if seconds is not None:
            timer = threading.Timer(seconds, self.restore)
            timer.daemon = True
            timer.start()

    def restore(self) -> None:
        """The endpoint comes back on the same port (unless the proxy was stopped)."""
        if self._closing.is_set() or not self._down.is_set():
            return
        self._server.start()
        self._down.clear()
        self._log.info("endpoint up")

    @property
    def down(self) -> bool:
        return self._down.is_set()

    def reorg(self, depth: int) -> None:
        """Replaces the upstream's last ``depth`` blocks (``anvil_reorg``)."""
        if not isinstance(depth, int) or depth < 1:
            raise FaultError(f"a reorg depth is a positive int, got {depth!r}")
        rpc(self.upstream, "anvil_reorg", [depth, []])
        with self._lock:
            self._counts.reorgs += 1
        self._log.info("reorg", depth=depth)

    # -- the control methods (another process programs the proxy) ----------
    def _control(self, call: dict[str, Any]) -> dict[str, Any]:
        """A ``faultproxy_*`` call: never forwarded, never faulted, not counted."""
        call_id, method = call.get("id"), call["method"].removeprefix(CONTROL_PREFIX)
        params = call.get("params") or []
        try:
            if method == "add":
                self.add(rule_from_json(*params))
            elif method == "clear":
                self.clear()
            elif method == "outage":
                self.outage(*params)
            elif method == "reorg":
                self.reorg(*params)
            elif method == "stats":
                stats = self.stats()
                return result_reply(call_id, {**stats.__dict__, "forwarded": dict(stats.forwarded)})
            else:
                return error_reply(call_id, -32601, f"no control method {call['method']!r}")
        except (FaultError, TypeError) as err:
            return error_reply(call_id, -32602, f"invalid params: {err}")
        except RpcError as err:
            return error_reply(call_id, -32000, f"upstream: {err}")
        return result_reply(call_id, True)

    # -- the request path -------------------------------------------------
    def _fires(self, armed: _Armed, methods: list[str]) -> bool:
        """Under the lock: whether ``armed`` hits a request of ``methods``,
        spending one of its calls if it does."""
        if armed.left == 0 or not any(armed.rule.watches(m) for m in methods):
            return False
        if armed.rule.fraction < 1.0 and self._rng.random() >= armed.rule.fraction:
            return False
        if armed.left is not None:
            armed.left -= 1
        return True

    def _request_fault(self, methods: list[str]) -> RateLimit | Timeout | None:
        with self._lock:
            for armed in self._rules:
                if isinstance(armed.rule, REQUEST_RULES) and self._fires(armed, methods):
                    return armed.rule
        return None

    def _handle(self, body: Any) -> HttpAnswer:
        if isinstance(body, dict) and str(body.get("method", "")).startswith(CONTROL_PREFIX):
            return HttpAnswer(200, self._control(body))
        methods = _methods(body)
        with self._lock:
            self._counts.requests += 1
            self._counts.calls += len(methods)
            if self._down.is_set():
                self._counts.refused_while_down += 1
        if self._down.is_set():
            return HttpAnswer(hang_up=True)
        fault = self._request_fault(methods)
        if isinstance(fault, RateLimit):
            with self._lock:
                self._counts.rate_limited += 1
            message = f"rate limited: too many requests, retry after {fault.retry_after} s"
            batch = body if isinstance(body, list) else [body]
            errors = [error_reply(c.get("id") if isinstance(c, dict) else None, 429, message) for c in batch]
            headers = (("Retry-After", str(fault.retry_after)),)
            return HttpAnswer(429, errors if isinstance(body, list) else errors[0], headers)
        if isinstance(fault, Timeout):
            self._closing.wait(fault.seconds)
            with self._lock:
                self._counts.timed_out += 1
                if fault.hang_up:
                    self._counts.hung_up += 1
            if fault.hang_up:
                return HttpAnswer(hang_up=True)
        return self._forward(body)

    def _forward(self, body: Any) -> HttpAnswer:
        calls = body if isinstance(body, list) else [body]
        local: dict[int, dict[str, Any]] = {}
        evict_after: dict[int, float] = {}
        for k, call in enumerate(calls):
            if not isinstance(call, dict):
                local[k] = error_reply(None, -32600, "invalid request: a call is a JSON object")
                continue
            answer, after = self._call_fault(call)
            if answer is not None:
                local[k] = answer
            elif after is not None:
                evict_after[k] = after
        passing = [(k, c) for k, c in enumerate(calls) if k not in local]
        answers: dict[int, Any] = dict(local)
        if passing:
            if isinstance(body, list):
                replies = post_json(self.upstream, [c for _, c in passing], UPSTREAM_TIMEOUT)
                by_id = {r.get("id"): r for r in replies} if isinstance(replies, list) else {}
                for k, c in passing:
                    missing = error_reply(c.get("id"), -32603, "no upstream answer")
                    answers[k] = by_id.get(c.get("id"), missing)
            else:
                answers[0] = post_json(self.upstream, calls[0], UPSTREAM_TIMEOUT)
            with self._lock:
                self._counts.forwarded.update(c.get("method", "") for _, c in passing)
        for k, after in evict_after.items():
            tx_hash = answers[k].get("result")
            if tx_hash:
                self._evict_later(tx_hash, after)
        ordered = [answers[k] for k in range(len(calls))]
        return HttpAnswer(200, ordered if isinstance(body, list) else ordered[0])

    def _call_fault(self, call: dict[str, Any]) -> tuple[dict[str, Any] | None, float | None]:
        """A call's local answer (the call is not forwarded), or the eviction
        delay of a send to forward, or neither."""
        method = call.get("method", "")
        if method == SEND_RAW:
            with self._lock:
                sends = (a for a in self._rules if isinstance(a.rule, SEND_RULES))
                rule = next((a.rule for a in sends if self._fires(a, [method])), None)
            if isinstance(rule, DropSend):
                raw = (call.get("params") or [""])[0]
                tx_hash = "0x" + keccak(hexstr=raw).hex().removeprefix("0x")
                with self._lock:
                    self._counts.dropped_sends.append(tx_hash)
                self._log.info("send dropped", tx=tx_hash)
                return result_reply(call.get("id"), tx_hash), None
            if isinstance(rule, EvictSend):
                return None, rule.after
        if method == GET_LOGS:
            with self._lock:
                limits = next((a.rule for a in self._rules if isinstance(a.rule, LogLimits)), None)
            if limits is not None:
                return self._limited_logs(call, limits), None
        return None, None

    def _limited_logs(self, call: dict[str, Any], limits: LogLimits) -> dict[str, Any]:
        """An ``eth_getLogs`` answered under ``limits``: refused when its range
        or its result is over them, else the upstream's answer."""
        call_id = call.get("id")
        params = call.get("params") or [{}]
        query = params[0] if params and isinstance(params[0], dict) else {}
        if "blockHash" not in query:
            head = int(rpc(self.upstream, "eth_blockNumber"), 16)
            try:
                low = _block_number(query.get("fromBlock"), head)
                high = _block_number(query.get("toBlock"), head)
            except FaultError as err:
                return error_reply(call_id, -32602, f"invalid params: {err}")
            if high - low + 1 > limits.max_blocks:
                message = f"query exceeds max block range {limits.max_blocks}"
                return self._refuse_logs(call_id, limits, message)
        reply = post_json(self.upstream, call, UPSTREAM_TIMEOUT)
        with self._lock:
            self._counts.forwarded[GET_LOGS] += 1
        result = reply.get("result")
        if isinstance(result, list) and len(result) > limits.max_logs:
            return self._refuse_logs(call_id, limits, f"query returned more than {limits.max_logs} results")
        return reply

    def _refuse_logs(self, call_id: Any, limits: LogLimits, message: str) -> dict[str, Any]:
        with self._lock:
            self._counts.log_limit_refusals += 1
        self._log.info("getLogs refused", reason=message)
        return error_reply(call_id, limits.code, message)

    def _evict_later(self, tx_hash: str, after: float) -> None:
        def evict() -> None:
            if self._closing.wait(after):
                return
            try:
                if rpc(self.upstream, "eth_getTransactionReceipt", [tx_hash]) is not None:
                    return  # mined before its eviction
                rpc(self.upstream, "anvil_dropTransaction", [tx_hash])
            except (RpcError, OSError) as err:
                self._log.warning("eviction failed", tx=tx_hash, error=str(err))
                return
            with self._lock:
                self._counts.evicted.append(tx_hash)
            self._log.info("send evicted", tx=tx_hash)

        threading.Thread(target=evict, daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    """``python -m devkit.faultproxy``: a proxy in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m devkit.faultproxy", description=main.__doc__)
    parser.add_argument("--upstream", required=True, help="the node's URL, e.g. http://127.0.0.1:8545")
    parser.add_argument("--port", type=int, default=0, help="the port to listen on (0: a free one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--rule", action="append", default=[], metavar="KIND[:JSON]",
        help=f"a rule to arm, e.g. 'RateLimit:{{\"calls\": 3}}' (kinds: {', '.join(RULE_TYPES)})",
    )
    args = parser.parse_args(argv)
    proxy = FaultProxy(args.upstream, seed=args.seed, port=args.port)
    try:
        rules = [_rule_arg(text) for text in args.rule]
    except (FaultError, TypeError, ValueError) as err:
        parser.error(str(err))
    for rule in rules:
        proxy.add(rule)
    proxy.start()
    print(f"fault proxy on {proxy.url} -> {args.upstream}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        proxy.stop()


def _rule_arg(text: str) -> Rule:
    kind, _, fields = text.partition(":")
    return rule_from_json(kind, json.loads(fields) if fields else None)


if __name__ == "__main__":
    main()
