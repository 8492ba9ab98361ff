"""The rules of the keeper's RPC layer, without I/O (``keepers.rpc`` does
the I/O): every function here takes the time as an argument and returns a
new frozen value, so each rule is unit-tested without a node or a clock.

- :func:`classify`: what a failed JSON-RPC/HTTP call was, as a
  :class:`Failure` of one :class:`FailureKind` (a 429 with its
  ``Retry-After``, a timeout, an unreachable endpoint, a server error, a
  ``getLogs`` range or result-size refusal as providers word it, a revert,
  anything else). A 429 is never a range error: a rate limit is waited
  out, a range error shrinks the range.
- :class:`TokenBucket`: a per-endpoint rate limiter that also honours a
  ``Retry-After`` (no token before it).
- :class:`EndpointState` with :func:`on_success` / :func:`on_failure`:
  health (consecutive faults, a cool-down that doubles up to a cap,
  recovery on the first success after it); :func:`failover_order`: which
  endpoints of a pool to try, in configured order, a rested one probed (the read pool and the
  send pool are separate pools).
- :class:`ChunkPolicy` / :class:`ChunkState`: the ``getLogs`` chunk size,
  halved on a range error only, grown back (doubled) after ``grow_after``
  successes, up to ``maximum``.
- :func:`new_heads`: which block numbers a head poll hands to the block
  handlers (one shared poll, see ``keepers.rpc.SharedHead``).
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Mapping, Sequence


class FailureKind(enum.Enum):
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    SERVER = "server"
    LOG_RANGE = "log_range"
    REVERTED = "reverted"
    OTHER = "other"

    @property
    def endpoint_fault(self) -> bool:
        """The endpoint failed (count it against its health, try another);
        otherwise it answered and the answer is the caller's."""
        return self in (FailureKind.TIMEOUT, FailureKind.UNREACHABLE, FailureKind.SERVER)


@dataclass(frozen=True)
class Failure:
    """One failed call: its kind, the seconds a rate limit asks to wait
    (``None`` when it names none), and the provider's words."""

    kind: FailureKind
    message: str = ""
    retry_after: float | None = None
    code: int | None = None
    status: int | None = None


# Providers' words for a rate limit (Alchemy: "Your app has exceeded its
# compute units per second capacity", code 429; Infura: "project ID request
# rate exceeded", code -32005; QuickNode: "request limit reached"; Ankr:
# "Too many requests"; public nodes: "rate limited").
_RATE_WORDS = (
    "rate limit", "rate-limit", "ratelimit", "too many requests", "request rate", "rate exceeded",
    "compute units", "request limit reached", "capacity exceeded", "daily request count",
    "throughput", "exceeded the quota", "credits",
)
# Providers' words for a getLogs range or result size they refuse (Infura:
# "query returned more than 10000 results"; Alchemy: "Log response size
# exceeded ... up to a 2K block range"; QuickNode: "eth_getLogs is limited
# to a 10,000 range"; Ankr / BlastAPI: "block range is too wide"; Geth:
# "exceed maximum block range", -32602 on some nodes; the project's fault
# proxy speaks Infura's and Ankr's words).
_RANGE_WORDS = (
    "more than 10000 results", "query returned more than", "block range", "range is too",
    "range too large", "range too wide", "exceed maximum block range", "exceeds maximum block range",
    "response size exceeded", "response size should not", "limited to a", "too many logs",
    "logs matched", "max range", "query exceeds max results", "query timeout exceeded",
)
_TIMEOUT_WORDS = ("timed out", "timeout", "deadline exceeded")
_UNREACHABLE_WORDS = ("connection refused", "connection reset", "connection aborted", "name or service not known",
                      "no route to host", "network is unreachable", "remote end closed", "broken pipe")
# A suggested range some providers put in the message ("this block range
# should work: [0x1, 0x7d0]", "try with this block range [0x.., 0x..]").
_SUGGESTED = re.compile(r"\[\s*(0x[0-9a-fA-F]+)\s*,\s*(0x[0-9a-fA-F]+)\s*\]")


def parse_retry_after(value: str | float | int | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds
    (``"2"``, ``"1.5"``) or an HTTP-date (``"Wed, 21 Oct 2026 07:28:00
    GMT"``) against ``now`` (Unix seconds); a date already past is 0.
    ``None`` for no value or one that is neither (a provider's header is
    not ours to refuse; the caller then backs off by its own rule)."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return max(float(value), 0.0) if math.isfinite(value) else None
    text = str(value).strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(when.timestamp() - now, 0.0)


def suggested_range(message: str) -> int | None:
    """The block count of a range a provider suggests in its refusal, if any."""
    match = _SUGGESTED.search(message)
    if not match:
        return None
    lo, hi = int(match.group(1), 16), int(match.group(2), 16)
    return hi - lo + 1 if hi >= lo else None


def _has(text: str, words: Sequence[str]) -> bool:
    return any(word in text for word in words)


def classify(
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    error: Mapping[str, Any] | None = None,
    exception: BaseException | None = None,
    now: float = 0.0,
) -> Failure:
    """What a failed call was, from what is known of it: the HTTP
    ``status`` and ``headers`` (case-insensitive), the JSON-RPC ``error``
    object (``{"code", "message", "data"}``), or the ``exception`` the
    transport raised. At least one must be given."""
    if status is None and error is None and exception is None:
        raise ValueError("classify: give an HTTP status, a JSON-RPC error or an exception")
    lowered = {str(k).lower(): v for k, v in (headers or {}).items()}
    retry_after = parse_retry_after(lowered.get("retry-after"), now)
    code = None
    message = ""
    if error is not None:
        raw_code = error.get("code")
        code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
        message = str(error.get("message", ""))
        data = error.get("data")
        if isinstance(data, str) and not data.startswith("0x"):
            message = f"{message} {data}".strip()
        if retry_after is None and isinstance(data, Mapping):
            # Infura's rate limit: {"rate": {..., "backoff_seconds": 30}}
            hint = data.get("rate", data)
            if isinstance(hint, Mapping):
                retry_after = parse_retry_after(hint.get("backoff_seconds", hint.get("retry_after")), now)
    elif exception is not None:
        message = f"{type(exception).__name__}: {exception}"
    text = message.lower()

    def failure(kind: FailureKind) -> Failure:
        said = message or (f"HTTP {status}" if status is not None else "")
        return Failure(kind, said, retry_after if kind is FailureKind.RATE_LIMITED else None, code, status)

    if status == 429 or code == 429:
        return failure(FailureKind.RATE_LIMITED)
    if exception is not None and error is None:
        return failure(_exception_kind(exception, text))
    if error is not None:
        # A contract's reason may say anything ("rate limit exceeded"):
        # a revert is read first.
        if code == 3 or "revert" in text:
            return failure(FailureKind.REVERTED)
        if _has(text, _RATE_WORDS):
            return failure(FailureKind.RATE_LIMITED)
        if _has(text, _RANGE_WORDS) or code == -32005:
            # -32005 without rate-limit words: Infura's "query returned
            # more than 10000 results" family.
            return failure(FailureKind.LOG_RANGE)
        if status is not None and status >= 500:
            return failure(FailureKind.SERVER)
        return failure(FailureKind.OTHER)
    if status is not None and status >= 400:
        # No JSON-RPC answer at all: the endpoint failed (a gateway, an
        # expired key, a proxy's error page), whatever the code.
        return failure(FailureKind.TIMEOUT if status in (408, 504) else FailureKind.SERVER)
    return failure(FailureKind.OTHER)


def _exception_kind(exception: BaseException, text: str) -> FailureKind:
    seen: set[int] = set()
    current: BaseException | None = exception
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TimeoutError):  # socket.timeout is TimeoutError
            return FailureKind.TIMEOUT
        if isinstance(current, (ConnectionError,)):
            return FailureKind.UNREACHABLE
        reason = getattr(current, "reason", None)  # urllib's URLError
        current = reason if isinstance(reason, BaseException) else (current.__cause__ or current.__context__)
    if "revert" in text:
        return FailureKind.REVERTED
    if _has(text, _RATE_WORDS) or "429" in text:
        return FailureKind.RATE_LIMITED
    if _has(text, _TIMEOUT_WORDS):
        return FailureKind.TIMEOUT
    if _has(text, _UNREACHABLE_WORDS):
        return FailureKind.UNREACHABLE
    if _has(text, _RANGE_WORDS):
        return FailureKind.LOG_RANGE
    return FailureKind.OTHER


def classify_exception(exception: BaseException, now: float = 0.0) -> Failure:
    """:func:`classify` of an error raised above the transport (web3's
    ``Web3RPCError`` carries the JSON-RPC error as its ``rpc_response``;
    ``keepers.rpc.RpcFailure`` carries its ``Failure``)."""
    carried = getattr(exception, "failure", None)
    if isinstance(carried, Failure):
        return carried
    response = getattr(exception, "rpc_response", None)
    if isinstance(response, Mapping) and isinstance(response.get("error"), Mapping):
        return classify(error=response["error"], now=now)
    return classify(exception=exception, now=now)


# ---------------------------------------------------------------- rate limit


@dataclass(frozen=True)
class TokenBucket:
    """``rate`` requests a second on average, ``burst`` at once; nothing
    before ``blocked_until`` (a ``Retry-After``). Times are monotonic
    seconds given by the caller."""

    rate: float
    burst: float
    tokens: float
    updated_at: float
    blocked_until: float = 0.0

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> TokenBucket:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number of requests a second, not {rate!r}")
        if not (burst >= 1 and math.isfinite(burst)):
            raise ValueError(f"burst must be at least 1 request, not {burst!r}")
        return cls(rate=float(rate), burst=float(burst), tokens=float(burst), updated_at=now)

    def take(self, now: float) -> tuple[TokenBucket, float]:
        """Reserves one request: the bucket after it and the seconds to
        wait before sending it (0 when it may go now)."""
        start = max(now, self.blocked_until, self.updated_at)
        tokens = min(self.burst, self.tokens + (start - self.updated_at) * self.rate)
        wait_tokens = max(1.0 - tokens, 0.0)
        send_at = start + wait_tokens / self.rate
        after = replace(self, tokens=tokens + wait_tokens - 1.0, updated_at=send_at)
        return after, send_at - now

    def retry_after(self, seconds: float, now: float) -> TokenBucket:
        """No request before ``now + seconds``, and then one, not a burst
        (the provider said it is over its limit)."""
        if seconds < 0 or not math.isfinite(seconds):
            raise ValueError(f"retry-after must be a finite number of seconds >= 0, not {seconds!r}")
        until = max(self.blocked_until, now + seconds)
        return replace(self, blocked_until=until, tokens=1.0, updated_at=max(self.updated_at, until))


# ---------------------------------------------------------------- endpoint health


@dataclass(frozen=True)
class HealthPolicy:
    """An endpoint with ``down_after`` consecutive faults rests for
    ``cooldown`` seconds, doubled with each further fault up to
    ``max_cooldown``; a 429 without ``Retry-After`` rests it
    ``rate_limit_backoff`` seconds (doubled the same way)."""

    down_after: int = 3
    cooldown: float = 2.0
    max_cooldown: float = 120.0
    rate_limit_backoff: float = 1.0

    def __post_init__(self) -> None:
        if self.down_after < 1:
            raise ValueError(f"down_after must be at least 1 fault, not {self.down_after}")
        if not (0 < self.cooldown <= self.max_cooldown):
            raise ValueError(f"need 0 < cooldown ({self.cooldown}) <= max_cooldown ({self.max_cooldown})")
        if self.rate_limit_backoff <= 0:
            raise ValueError(f"rate_limit_backoff must be positive, not {self.rate_limit_backoff}")


@dataclass(frozen=True)
class EndpointState:
    """One endpoint's standing: consecutive faults and 429s, and until
    when it rests (monotonic seconds)."""

    name: str
    faults: int = 0
    rate_limits: int = 0
    down_until: float = 0.0

    def available(self, now: float) -> bool:
        return now >= self.down_until

    @property
    def healthy(self) -> bool:
        return self.faults == 0


def on_success(state: EndpointState) -> EndpointState:
    """The endpoint answered: it has recovered."""
    if state.faults == 0 and state.rate_limits == 0:
        return state
    return replace(state, faults=0, rate_limits=0)


def on_failure(state: EndpointState, failure: Failure, now: float, policy: HealthPolicy) -> EndpointState:
    """The endpoint's standing after ``failure``. A rate limit rests it
    for its ``Retry-After`` (or the policy's doubling back-off); a fault
    rests it once ``down_after`` faults are consecutive; an answer that is
    the caller's (a revert, a range error, any other JSON-RPC error) says
    the endpoint works."""
    if failure.kind is FailureKind.RATE_LIMITED:
        count = state.rate_limits + 1
        wait = failure.retry_after
        if wait is None:
            wait = min(policy.rate_limit_backoff * 2 ** (count - 1), policy.max_cooldown)
        return replace(state, rate_limits=count, down_until=max(state.down_until, now + wait))
    if not failure.kind.endpoint_fault:
        return on_success(state)
    faults = state.faults + 1
    if faults < policy.down_after:
        return replace(state, faults=faults)
    rest = min(policy.cooldown * 2 ** (faults - policy.down_after), policy.max_cooldown)
    return replace(state, faults=faults, down_until=now + rest)


def failover_order(states: Sequence[EndpointState], now: float) -> tuple[int, ...]:
    """The endpoints to try now, by index: the available ones in
    configured order (the operator's preference). One back from a rest
    is tried in its place again (a probe): it answers and is healthy, or
    fails and rests longer (:func:`on_failure` doubles the rest), so a
    primary endpoint that came back serves again instead of being passed
    over for as long as a backup answers. Empty when all rest (see
    :func:`next_ready`)."""
    return tuple(i for i, s in enumerate(states) if s.available(now))


def next_ready(states: Sequence[EndpointState]) -> float:
    """When the first resting endpoint may be tried again."""
    if not states:
        raise ValueError("an endpoint pool needs at least one endpoint")
    return min(s.down_until for s in states)


# ---------------------------------------------------------------- getLogs chunks


class RangeUnsplittable(RuntimeError):
    """A range error on a chunk already at the minimum size (one block
    with more logs than the provider returns)."""


@dataclass(frozen=True)
class ChunkPolicy:
    """``getLogs`` ranges start at ``initial`` blocks, never exceed
    ``maximum`` nor go below ``minimum``; a range error halves them, and
    ``grow_after`` successes in a row double them again, except that a
    size the provider refused is tried again only after ``probe_after``
    successes in a row (a provider with a fixed limit is not asked for
    more every ``grow_after`` calls)."""

    initial: int = 2_000
    maximum: int = 2_000
    minimum: int = 1
    grow_after: int = 4
    probe_after: int = 64

    def __post_init__(self) -> None:
        if not (1 <= self.minimum <= self.initial <= self.maximum):
            raise ValueError(
                f"need 1 <= minimum ({self.minimum}) <= initial ({self.initial}) <= maximum ({self.maximum})")
        if not (1 <= self.grow_after <= self.probe_after):
            raise ValueError(
                f"need 1 <= grow_after ({self.grow_after}) <= probe_after ({self.probe_after}) successes")

    def start(self) -> ChunkState:
        return ChunkState(size=self.initial)


@dataclass(frozen=True)
class ChunkState:
    """The current size, the successes in a row at it, and the smallest
    size the provider refused since (``None``: none, or it took it later)."""

    size: int
    successes: int = 0
    refused: int | None = None


def chunk_after_success(state: ChunkState, policy: ChunkPolicy) -> ChunkState:
    """One more range fetched: after ``grow_after`` in a row the size
    doubles (capped), after ``probe_after`` when that reaches a size
    once refused; a refused size that now succeeds is forgotten."""
    refused = state.refused
    if refused is not None and state.size >= refused:
        refused = None
    successes = state.successes + 1
    target = min(state.size * 2, policy.maximum)
    needed = policy.grow_after if refused is None or target < refused else policy.probe_after
    if successes >= needed and state.size < policy.maximum:
        return ChunkState(size=target, successes=0, refused=refused)
    return ChunkState(size=state.size, successes=successes, refused=refused)


def chunk_after_failure(state: ChunkState, failure: Failure, policy: ChunkPolicy) -> ChunkState:
    """A range refused: halved (to a suggested range when the provider
    names a smaller one), never below ``minimum`` (then
    :class:`RangeUnsplittable`). Any other failure (a 429 above all)
    leaves the size as it is; the success streak restarts either way."""
    if failure.kind is not FailureKind.LOG_RANGE:
        return ChunkState(size=state.size, successes=0, refused=state.refused)
    if state.size <= policy.minimum:
        raise RangeUnsplittable(
            f"getLogs refused a range of {state.size} block(s), the minimum: {failure.message[:200]}")
    size = state.size // 2
    hint = suggested_range(failure.message)
    if hint is not None and hint < size:
        size = hint
    refused = state.size if state.refused is None else min(state.refused, state.size)
    return ChunkState(size=max(size, policy.minimum), successes=0, refused=refused)


# ---------------------------------------------------------------- heads


@dataclass(frozen=True)
class HeadStep:
    """What one head poll hands on: the new block numbers, in order, and
    the last block handed on after them."""

    blocks: tuple[int, ...]
    last: int


def new_heads(last: int | None, head: int, *, reset_depth: int = 64, max_blocks: int = 256) -> HeadStep:
    """The blocks after ``last`` up to ``head``. The first poll (``last``
    None) or a head more than ``reset_depth`` below ``last`` (a new chain)
    starts at the head; a head below ``last`` within it (a reorg to a
    shorter chain) hands nothing until the chain is longer again; a gap
    longer than ``max_blocks`` (an outage) hands the latest ``max_blocks``
    (the index sync reads the logs of the rest)."""
    if head < 0:
        raise ValueError(f"a head is a block number >= 0, not {head}")
    if last is None or head < last - reset_depth:
        return HeadStep((head,), head)
    if head <= last:
        return HeadStep((), last)
    first = max(last + 1, head - max_blocks + 1)
    return HeadStep(tuple(range(first, head + 1)), head)


def poll_due(last_poll: float | None, now: float, interval: float) -> bool:
    """Whether the shared head is stale (polled more than ``interval`` ago)."""
    return last_poll is None or now - last_poll >= interval
