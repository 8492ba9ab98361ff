"""Submission routes: where the keeper's signed transactions go, in a
configured fallback order, one chain of routes per network.

- ``public``: ``eth_sendRawTransaction`` on the node the keeper reads from
  (the public mempool; what the keeper always did);
- ``private``: ``eth_sendRawTransaction`` on a separate URL that keeps the
  transaction out of the public pool (Flashbots Protect, MEV Blocker);
- ``bundle``: ``eth_sendBundle`` (``{txs, blockNumber}``) to every builder
  URL, for each of the ``bundle_blocks`` blocks after the head: included
  at one of them, all or none, or not at all (a bundle that loses costs
  nothing). A transaction sent only as bundles whose last target block is
  past and that did not mine has *lapsed*: its nonce was never used
  (:meth:`Sender.lapsed`, which the transaction manager asks before it
  bumps or cancels);
- ``sequencer``: ``eth_sendRawTransaction`` on an L2 sequencer's endpoint.

A route that fails (no connection, an HTTP error, a JSON-RPC error) hands
the transaction to the next one; each attempt is logged with its route. A
node's answer that the transaction or its nonce is already settled, or
that its fees are too low, is final: the next route would say the same,
and the transaction manager knows what to do with it.

Pure parts (unit-tested without a network): :func:`parse_routes` and
:func:`route_problems` (the configuration), :func:`bundle_targets`,
:func:`bundle_params`, :func:`read_reply`, :func:`is_final_answer`,
:class:`BundleBook` (which bundles are still alive). The edge:
:class:`Sender`, over :class:`keepers.rpc.Transport` (the standard
library's HTTP client by default).

Wiring: ``TxManager(..., sender=sender_from_config(config, rpc.request))``;
without a sender the manager sends on its node as before.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import structlog
from eth_utils import keccak

from keepers.rpc import HttpReply, Transport, UrllibTransport

log = structlog.get_logger("keepers.submit")

DEFAULT_TIMEOUT = 10.0
# Blocks a bundle is offered for, from head + 1 (Flashbots: one block each).
DEFAULT_BUNDLE_BLOCKS = 3
MAX_BUNDLE_BLOCKS = 25
# Answers that settle a send whatever the route: the bytes or their nonce
# are already known, or the fees are below what it takes now.
FINAL_ANSWERS = (
    "already known", "known transaction", "nonce too low", "already imported",
    "replacement transaction underpriced", "less than block base fee", "transaction underpriced",
    "fee cap too low", "max fee per gas less than",
)


class RouteName(str, Enum):
    PUBLIC = "public"
    PRIVATE = "private"
    BUNDLE = "bundle"
    SEQUENCER = "sequencer"


class RouteConfigError(ValueError):
    """The routes cannot be used; ``problems`` lists each reason."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("invalid submission routes:\n  - " + "\n  - ".join(self.problems))


class SendFailed(RuntimeError):
    """Every route failed, or one gave a final answer (its text is the
    message, so the caller's reading of node answers still applies)."""

    def __init__(self, message: str, attempts: tuple[Attempt, ...]):
        self.attempts = attempts
        super().__init__(message)


@dataclass(frozen=True)
class Route:
    """One route: its name and the URLs it posts to (none for ``public``:
    the keeper's node)."""

    name: RouteName
    urls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.name is RouteName.PUBLIC and self.urls:
            raise ValueError("the public route sends on the keeper's node: it takes no URL")
        if self.name is not RouteName.PUBLIC and not self.urls:
            raise ValueError(f"route {self.name.value} needs a URL")
        for url in self.urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"route {self.name.value}: not an http(s) URL: {url!r}")


@dataclass(frozen=True)
class Routes:
    """The fallback order and the bundle window."""

    order: tuple[Route, ...]
    bundle_blocks: int = DEFAULT_BUNDLE_BLOCKS
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if not self.order:
            raise ValueError("at least one submission route")
        names = [r.name for r in self.order]
        if len(set(names)) != len(names):
            raise ValueError(f"a route is named twice: {[n.value for n in names]}")
        if not 1 <= self.bundle_blocks <= MAX_BUNDLE_BLOCKS:
            raise ValueError(f"bundle_blocks must be 1-{MAX_BUNDLE_BLOCKS}, got {self.bundle_blocks}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be > 0, got {self.timeout}")

    @property
    def names(self) -> tuple[RouteName, ...]:
        return tuple(r.name for r in self.order)

    def get(self, name: RouteName) -> Route | None:
        return next((r for r in self.order if r.name is name), None)


# ---------------------------------------------------------------- configuration


def route_problems(names: Sequence[str], private_url: str | None, builder_urls: Sequence[str],
                   sequencer_url: str | None, bundle_blocks: int) -> list[str]:
    """What is wrong with a route configuration (empty: nothing)."""
    problems: list[str] = []
    known = {r.value for r in RouteName}
    seen: set[str] = set()
    urls = {"private": [private_url] if private_url else [], "bundle": list(builder_urls),
            "sequencer": [sequencer_url] if sequencer_url else []}
    setting = {"private": "private_rpc_url", "bundle": "builder_urls", "sequencer": "sequencer_url"}
    if not names:
        problems.append("submit_routes: at least one route (public, private, bundle, sequencer)")
    for name in names:
        if name not in known:
            problems.append(f"submit_routes: unknown route {name!r} (known: {', '.join(sorted(known))})")
            continue
        if name in seen:
            problems.append(f"submit_routes: route {name!r} named twice")
        seen.add(name)
        if name != "public" and not urls[name]:
            problems.append(f"submit_routes: route {name!r} needs {setting[name]}")
        for url in urls.get(name, []):
            if not url.startswith(("http://", "https://")):
                problems.append(f"{setting[name]}: not an http(s) URL: {url!r}")
    if not 1 <= bundle_blocks <= MAX_BUNDLE_BLOCKS:
        problems.append(f"bundle_blocks: {bundle_blocks} must be 1-{MAX_BUNDLE_BLOCKS}")
    return problems


def parse_routes(names: Sequence[str], private_url: str | None = None, builder_urls: Sequence[str] = (),
                 sequencer_url: str | None = None, bundle_blocks: int = DEFAULT_BUNDLE_BLOCKS,
                 timeout: float = DEFAULT_TIMEOUT) -> Routes:
    """The routes named in order, each with its URLs; RouteConfigError
    lists every mistake (an unknown name, a route without its URL)."""
    problems = route_problems(names, private_url, builder_urls, sequencer_url, bundle_blocks)
    if problems:
        raise RouteConfigError(problems)
    urls = {RouteName.PUBLIC: (), RouteName.PRIVATE: (private_url,), RouteName.BUNDLE: tuple(builder_urls),
            RouteName.SEQUENCER: (sequencer_url,)}
    order = tuple(Route(RouteName(n), tuple(u for u in urls[RouteName(n)] if u)) for n in names)
    return Routes(order, bundle_blocks, timeout)


# ---------------------------------------------------------------- pure rules


def bundle_targets(head: int, blocks: int) -> tuple[int, ...]:
    """The blocks a bundle sent at ``head`` is offered for."""
    if head < 0 or blocks < 1:
        raise ValueError(f"head must be >= 0 and blocks >= 1, got {head}, {blocks}")
    return tuple(range(head + 1, head + 1 + blocks))


def bundle_params(raws: Sequence[str], target: int) -> list[dict[str, Any]]:
    """``eth_sendBundle``'s params: signed transactions in order, the
    target block as a hex quantity."""
    if not raws:
        raise ValueError("a bundle holds at least one transaction")
    for raw in raws:
        if not isinstance(raw, str) or not raw.startswith("0x") or len(raw) < 4:
            raise ValueError(f"a bundle's transaction is 0x-prefixed hex, got {raw!r}")
    if target < 1:
        raise ValueError(f"a bundle's target is a positive block number, got {target}")
    return [{"txs": list(raws), "blockNumber": hex(target)}]


def read_reply(reply: HttpReply) -> Any:
    """A JSON-RPC reply's result; ValueError with the reason when the HTTP
    status, the body or a JSON-RPC error says it failed."""
    if reply.status != 200:
        raise ValueError(f"HTTP {reply.status}: {reply.body[:200].decode(errors='replace')}")
    try:
        body = json.loads(reply.body)
    except ValueError as err:
        raise ValueError(f"not JSON: {reply.body[:200]!r}") from err
    if not isinstance(body, dict):
        raise ValueError(f"not a JSON-RPC reply: {str(body)[:200]}")
    if body.get("error") is not None:
        error = body["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise ValueError(f"JSON-RPC error: {message}")
    if "result" not in body:
        raise ValueError(f"no result in the reply: {str(body)[:200]}")
    return body["result"]


def is_final_answer(text: str) -> bool:
    """Whether a refusal settles the send on every route."""
    low = text.lower()
    return any(answer in low for answer in FINAL_ANSWERS)


def tx_hash(raw: str) -> str:
    return "0x" + keccak(hexstr=raw).hex().removeprefix("0x")


@dataclass(frozen=True)
class Attempt:
    """One try of one route (``error`` empty when it took the transaction)."""

    route: RouteName
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True)
class Submission:
    """Where a transaction went: the route that took it, every attempt,
    and for a bundle the blocks it was offered for."""

    tx_hash: str
    route: RouteName
    attempts: tuple[Attempt, ...]
    targets: tuple[int, ...] = ()


@dataclass
class BundleBook:
    """Transactions sent as bundles and the last block each is offered
    for; a hash another route took is no longer the book's."""

    last_target: dict[str, int] = field(default_factory=dict)
    elsewhere: set[str] = field(default_factory=set)

    def offered(self, tx: str, last_target: int) -> None:
        self.last_target[tx] = max(last_target, self.last_target.get(tx, 0))
        self.elsewhere.discard(tx)

    def took_elsewhere(self, tx: str) -> None:
        self.elsewhere.add(tx)

    def open_until(self, tx: str, head: int) -> int | None:
        """The last target of ``tx``'s bundles if one is still to come
        after ``head``, else None."""
        last = self.last_target.get(tx)
        return last if last is not None and last > head else None

    def lapsed(self, hashes: Sequence[str], head: int) -> bool:
        """Every one of ``hashes`` went only as bundles, and the last
        target block of each is at or below ``head``: none can be
        included any more, their nonce is free."""
        return bool(hashes) and all(
            h in self.last_target and h not in self.elsewhere and self.last_target[h] <= head for h in hashes)

    def forget_before(self, head: int) -> None:
        """Drops what lapsed more than a window ago (bounded memory)."""
        for h in [h for h, last in self.last_target.items() if last < head - MAX_BUNDLE_BLOCKS]:
            del self.last_target[h]
            self.elsewhere.discard(h)


# ---------------------------------------------------------------- the edge


class Sender:
    """Sends signed transactions along :class:`Routes`.

    ``public`` is the node's JSON-RPC (``Rpc.request``-like: method,
    params -> result); ``head`` the node's block number (asked only to
    aim a bundle). Thread-safe (one lock around the bundle book)."""

    def __init__(self, routes: Routes, public: Callable[[str, list[Any]], Any], *,
                 head: Callable[[], int] | None = None, transport: Transport | None = None) -> None:
        self.routes = routes
        self._public = public
        self._head = head or (lambda: int(str(public("eth_blockNumber", [])), 16))
        self._transport = transport or UrllibTransport()
        self._lock = threading.Lock()
        self.book = BundleBook()
        self._collected: list[str] | None = None
        self._log = log.bind(routes=[n.value for n in routes.names])

    @classmethod
    def public_only(cls, public: Callable[[str, list[Any]], Any]) -> Sender:
        return cls(Routes((Route(RouteName.PUBLIC),)), public)

    # -- sending

    def send(self, raw: bytes | str) -> Submission:
        """``raw`` along the routes in order, until one takes it; raises
        :class:`SendFailed` when none does, or one answers finally."""
        raw_hex = raw if isinstance(raw, str) else "0x" + bytes(raw).hex()
        tx = tx_hash(raw_hex)
        attempts: list[Attempt] = []
        with self._lock:
            collecting = self._collected is not None
        # A back-run's transactions go only in its bundle (see behind()).
        order = tuple(r for r in self.routes.order if r.name is RouteName.BUNDLE) if collecting else self.routes.order
        for route in order:
            try:
                targets = self._via(route, raw_hex, tx)
            except Exception as err:  # the route failed: the next one
                text = str(err)[:300]
                attempts.append(Attempt(route.name, text))
                if is_final_answer(text):
                    self._log.info("send settled by the answer", route=route.name.value, tx=tx, answer=text)
                    raise SendFailed(text, tuple(attempts)) from err
                self._log.warning("route failed; next route", route=route.name.value, tx=tx, error=text)
                continue
            attempts.append(Attempt(route.name))
            with self._lock:
                if route.name is not RouteName.BUNDLE:
                    self.book.took_elsewhere(tx)
            self._log.info("sent", route=route.name.value, tx=tx, targets=list(targets) or None,
                           fallbacks=len(attempts) - 1)
            return Submission(tx, route.name, tuple(attempts), targets)
        message = "; ".join(f"{a.route.value}: {a.error}" for a in attempts)
        self._log.error("every route failed", tx=tx, attempts=message)
        raise SendFailed(f"every route failed: {message}", tuple(attempts))

    def _via(self, route: Route, raw: str, tx: str) -> tuple[int, ...]:
        if route.name is RouteName.PUBLIC:
            self._public("eth_sendRawTransaction", [raw])
            return ()
        if route.name is RouteName.BUNDLE:
            return self._bundle(route, raw, tx)
        self._post(route.urls[0], "eth_sendRawTransaction", [raw])
        return ()

    def _bundle(self, route: Route, raw: str, tx: str) -> tuple[int, ...]:
        """One bundle per target block to every builder; taken when at
        least one builder took one. A transaction whose bundles are still
        to come (a rebroadcast) is not sent again."""
        head = self._head()
        with self._lock:
            until = self.book.open_until(tx, head)
            if self._collected is not None:
                # Behind someone's transaction: sent as one bundle on leaving.
                self._collected.append(raw)
                self.book.offered(tx, head + 1)
                return (head + 1,)
        if until is not None:
            return tuple(range(head + 1, until + 1))
        targets = bundle_targets(head, self.routes.bundle_blocks)
        self._post_bundle(route, [raw], targets, tx)
        with self._lock:
            self.book.offered(tx, targets[-1])
            self.book.forget_before(head)
        return targets

    def _post_bundle(self, route: Route, txs: list[str], targets: Sequence[int], tx: str) -> None:
        """``txs`` as a bundle for each of ``targets`` to every builder;
        ConnectionError when no builder took any."""
        taken, errors = 0, []
        for target in targets:
            params = bundle_params(txs, target)
            for url in route.urls:
                try:
                    self._post(url, "eth_sendBundle", params)
                    taken += 1
                except Exception as err:
                    errors.append(f"{url}: {str(err)[:200]}")
        if not taken:
            raise ConnectionError("no builder took the bundle: " + "; ".join(errors))
        if errors:
            self._log.warning("some builders refused the bundle", tx=tx, errors=errors)

    def _post(self, url: str, method: str, params: list[Any]) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        return read_reply(self._transport.post(url, body, self.routes.timeout))

    # -- back-running

    @contextmanager
    def behind(self, raws: Sequence[str]) -> Iterator[list[str]]:
        """A back-run: the transactions sent inside (through the bundle
        route, which must be configured) are collected, and on leaving go
        as ONE bundle ``[*raws, *collected]`` for the next block to every
        builder (``raws``: someone else's signed transactions, e.g. the
        oracle's confirmation seen in the pool). Yields the collected list.
        If no builder takes it, the transactions lapse after that block."""
        route = self.routes.get(RouteName.BUNDLE)
        if route is None:
            raise ValueError("a back-run needs the bundle route")
        if not raws:
            raise ValueError("a back-run is behind at least one transaction")
        collected: list[str] = []
        with self._lock:
            if self._collected is not None:
                raise RuntimeError("a back-run is already being collected")
            self._collected = collected
        try:
            yield collected
        finally:
            with self._lock:
                self._collected = None
        if not collected:
            return
        target = self._head() + 1
        try:
            self._post_bundle(route, [*raws, *collected], (target,), tx_hash(collected[0]))
        except ConnectionError as err:
            self._log.warning("back-run bundle not taken; its transactions lapse", target=target,
                              txs=len(collected), error=str(err)[:300])
            return
        self._log.info("back-run bundle sent", route=RouteName.BUNDLE.value, target=target,
                       behind=[tx_hash(r) for r in raws], txs=[tx_hash(r) for r in collected])

    @property
    def bundles(self) -> bool:
        return self.routes.get(RouteName.BUNDLE) is not None

    # -- following

    def lapsed(self, hashes: Sequence[str], head: int) -> bool:
        """Whether a transaction sent as ``hashes`` can no longer be
        included (:meth:`BundleBook.lapsed`)."""
        with self._lock:
            return self.book.lapsed(hashes, head)


def sender_from_config(config: Any, public: Callable[[str, list[Any]], Any]) -> Sender:
    """The routes of a :class:`keepers.config.KeeperConfig`."""
    routes = parse_routes(config.submit_routes, config.private_rpc_url, config.builder_urls,
                          config.sequencer_url, config.bundle_blocks, float(config.submit_timeout_seconds))
    return Sender(routes, public)
