"""The keeper's Prometheus metrics and its health endpoint.

One process serves both on ``metrics_port``:

- ``/metrics``: the Prometheus exposition (prometheus-client's WSGI app);
- ``/healthz``: a small JSON document, HTTP 200 while the keeper follows the
  chain, 503 (with each reason in ``problems``) when it has fallen behind or
  lost its node for too long, a transaction of its own is stuck (past its
  expiry, or in flight longer than ``stuck_tx_max_age_seconds``), or the
  signer's balance is below ``balance_floor_wei``.

The metric objects live in a :class:`KeeperMetrics` bound to its own
``CollectorRegistry`` (never the global one), so tests and the benchmark can
build as many keepers as they like in one process. Silverback's taskiq
``PrometheusMiddleware`` only counts tasks; these are the keeper's own
datapoints. Serving and JSON health are the only hand-written parts: the
``/healthz`` route and its rules are ours, everything Prometheus is
prometheus-client's.

Constant labels (``market``, ``chain``, and ``shard`` on the sharded
scanners) are added at collection time by :class:`LabelledExposition`; see
its docstring for why.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

# Scan-time buckets (seconds): a block is ~1-12 s, the target is < 1 s.
SCAN_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)
PACKAGE = "navlend"
UNKNOWN = "unknown"
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


# ---------------------------------------------------------------- constant labels


class LabelledExposition(Collector):
    """Collects one or more registries, adding each one's constant labels
    to every sample, and merges same-named families into one.

    Why a collector and not labels on each metric: prometheus-client has no
    constant labels on a registry (they were removed from its API), and
    ``market``/``chain`` as ordinary label names would make every call site
    in the keeper pass them (``metrics.positions_tracked.labels(market=...,
    chain=...).set(n)``) for values that never change in a process. Adding
    them at collection time keeps the call sites as they are, keeps the
    unlabelled registry for tests (``metrics.registry.get_sample_value``),
    and lets one process expose several keepers' registries (the sharded
    scanners: one per shard, told apart by a ``shard`` label) as one valid
    exposition, where each family name appears once."""

    def __init__(self, sources: Sequence[tuple[CollectorRegistry, Mapping[str, str]]]) -> None:
        if not sources:
            raise ValueError("LabelledExposition needs at least one registry")
        keys = {tuple(sorted(labels)) for _, labels in sources}
        if len(keys) > 1:
            raise ValueError(f"every source needs the same constant label names, got {sorted(keys)}")
        for _, labels in sources:
            check_label_names(labels)
        self.sources = [(registry, dict(labels)) for registry, labels in sources]

    def describe(self) -> list[Metric]:
        # Nothing to check against other collectors at registration: this
        # is the only collector of the exposed registry.
        return []

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for registry, constant in self.sources:
            for family in registry.collect():
                merged = families.get(family.name)
                if merged is None:
                    merged = families[family.name] = Metric(family.name, family.documentation, family.type,
                                                            family.unit)
                for sample in family.samples:
                    clash = set(constant) & set(sample.labels)
                    if clash:
                        raise ValueError(f"{sample.name} already has the label(s) {sorted(clash)}")
                    merged.samples.append(sample._replace(labels={**constant, **sample.labels}))
        yield from families.values()


def check_label_names(labels: Mapping[str, str]) -> None:
    """ValueError unless every name is a Prometheus label name (not one
    reserved with ``__``) and every value a string."""
    for name, value in labels.items():
        if not _LABEL_NAME.match(name) or name.startswith("__"):
            raise ValueError(f"not a Prometheus label name: {name!r}")
        if not isinstance(value, str):
            raise ValueError(f"label {name} must be a string, got {value!r}")


def exposition(metrics: Iterable[KeeperMetrics]) -> CollectorRegistry:
    """One registry exposing every keeper's metrics of this process, each
    sample with its keeper's constant labels."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LabelledExposition([(m.registry, m.labels) for m in metrics]))
    return registry


# ---------------------------------------------------------------- build info


@dataclass(frozen=True)
class BuildInfo:
    """What ``keeper_build_info`` reports (with ``market`` and ``chain``)."""

    version: str
    commit: str
    signer: str


def package_version(package: str = PACKAGE) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return UNKNOWN


def git_commit(directory: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    """``NAVLEND_BUILD_COMMIT`` when set (a container image has no
    ``.git``), else the short commit of the checkout the keeper runs from,
    else ``unknown``."""
    given = (env if env is not None else os.environ).get("NAVLEND_BUILD_COMMIT", "").strip()
    if given:
        return given
    where = directory or Path(__file__).resolve().parent
    try:
        result = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=where, capture_output=True,
                                text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return UNKNOWN
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else UNKNOWN


def build_info(signer: str) -> BuildInfo:
    return BuildInfo(version=package_version(), commit=git_commit(), signer=signer)


def keeper_labels(market: str | None, chain_id: int | str, **extra: str) -> dict[str, str]:
    """The constant labels of a keeper's metrics: its market's address and
    the chain id (a number, unlike network names, is the same in every
    set-up), plus ``extra`` (``shard``)."""
    if not market:
        raise ValueError("the market label needs the market's address")
    labels = {"market": str(market), "chain": str(chain_id), **extra}
    check_label_names(labels)
    return labels


class KeeperMetrics:
    """Every metric the liquidation keeper exports.

    ``registry`` holds them without constant labels (what the tests read);
    ``labels`` (``keeper_labels``: market, chain) are added to every sample
    in ``exposed``, the registry ``/metrics`` serves."""

    def __init__(self, registry: CollectorRegistry | None = None, *, labels: Mapping[str, str] | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.labels = dict(labels or {})
        check_label_names(self.labels)
        self.exposed = exposition([self])
        r = self.registry
        self.positions_tracked = Gauge(
            "keeper_positions_tracked", "Open positions in the index.", registry=r
        )
        self.positions_at_risk = Gauge(
            "keeper_positions_at_risk",
            "Positions below the near-edge health factor at the last scan.",
            registry=r,
        )
        self.positions_liquidatable = Gauge(
            "keeper_positions_liquidatable", "Liquidatable positions at the last scan.", registry=r
        )
        self.scan_seconds = Histogram(
            "keeper_scan_seconds", "Time of one block's health scan.", buckets=SCAN_BUCKETS, registry=r
        )
        self.accounts_scanned = Counter(
            "keeper_accounts_scanned_total", "Accounts whose health was read.", registry=r
        )
        self.block_lag = Gauge(
            "keeper_block_lag", "Chain head minus the last block the keeper processed.", registry=r
        )
        self.last_block = Gauge("keeper_last_block", "Last block the keeper processed.", registry=r)
        self.index_checkpoint = Gauge(
            "keeper_index_checkpoint_block", "Block the position index is synced to.", registry=r
        )
        self.attempted = Counter(
            "keeper_liquidations_attempted_total", "Liquidation transactions sent.", ["route"], registry=r
        )
        self.succeeded = Counter(
            "keeper_liquidations_succeeded_total", "Liquidations mined successfully.", ["route"], registry=r
        )
        self.failed = Counter(
            "keeper_liquidations_failed_total",
            "Liquidations that reverted or were dropped, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.skipped = Counter(
            "keeper_liquidations_skipped_total", "Candidates not acted on, by reason.", ["reason"], registry=r
        )
        self.profit = Counter(
            "keeper_profit_stable_units_total", "Realised profit, stablecoin smallest units.", registry=r
        )
        self.gas_spent = Counter("keeper_gas_spent_wei_total", "Gas paid by the signer, wei.", registry=r)
        self.signer_balance = Gauge("keeper_signer_balance_wei", "Signer's native balance, wei.", registry=r)
        self.signer_balance_low = Gauge(
            "keeper_signer_balance_low", "1 when the signer's balance is below the alert threshold.", registry=r
        )
        self.rpc_errors = Counter("keeper_rpc_errors_total", "RPC failures, by operation.", ["op"], registry=r)
        self.pending_txs = Gauge("keeper_pending_transactions", "Transactions in flight.", registry=r)
        self.oldest_pending_age = Gauge(
            "keeper_oldest_pending_tx_age_seconds", "Age of the oldest transaction in flight.", registry=r
        )
        self.replacements = Counter(
            "keeper_tx_replacements_total",
            "Same-nonce replacements signed for transactions not mined: a fee bump, or a cancel (first or bumped).",
            ["kind"],
            registry=r,
        )
        self.stuck_txs = Gauge(
            "keeper_stuck_transactions",
            "Transactions past their expiry whose nonce is not used yet (a cancel in flight).",
            registry=r,
        )
        self.build_info = Gauge(
            "keeper_build_info", "Always 1: the keeper's version, commit and signer.",
            ["version", "commit", "signer"], registry=r,
        )
        self.reorgs = Counter("keeper_reorgs_total", "Reorgs the index rolled back.", registry=r)
        self.skipped_blocks = Counter(
            "keeper_blocks_skipped_total", "Blocks skipped because the previous scan was still running.", registry=r
        )
        # --- local health (keepers/localkeeper.py; i17-local) ---
        self.local_screen_seconds = Histogram(
            "keeper_local_screen_seconds", "Time of one block's local health screen (every position).",
            buckets=SCAN_BUCKETS, registry=r,
        )
        self.health_rechecked = Counter(
            "keeper_health_rechecked_total", "Positions the local screen sent to the Lens (candidates and the edge band).",
            registry=r,
        )
        self.health_sweeps = Counter(
            "keeper_health_sweeps_total", "Full Lens sweeps comparing the local figures with the chain.", registry=r
        )
        self.health_mismatches = Counter(
            "keeper_health_mismatches_total", "Positions whose local figures differed from the Lens's in a sweep.",
            registry=r,
        )
        self.health_fallbacks = Counter(
            "keeper_health_fallbacks_total", "Blocks scanned through the Lens because a local input was missing.",
            registry=r,
        )
        self.index_compactions = Counter(
            "keeper_index_compactions_total", "Compactions of the index below the finalized block.", registry=r
        )
        for name in self.labels:
            if any(name in getattr(m, "_labelnames", ()) for m in vars(self).values()):
                raise ValueError(f"constant label {name!r} is also a label of one of the keeper's metrics")

    def set_build_info(self, info: BuildInfo) -> None:
        """``keeper_build_info{version, commit, signer}`` = 1 (one series)."""
        self.build_info.clear()
        self.build_info.labels(version=info.version, commit=info.commit, signer=info.signer).set(1)

    def count_replacements(self, count: ReplacementCount) -> None:
        if count.bumps:
            self.replacements.labels(kind="bump").inc(count.bumps)
        if count.cancels:
            self.replacements.labels(kind="cancel").inc(count.cancels)


# ---------------------------------------------------------------- replacements


@dataclass(frozen=True)
class ReplacementCount:
    """Same-nonce replacements signed between two looks at the pending set."""

    bumps: int = 0
    cancels: int = 0


def replacement_marks(pending: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """``(bumps, cancels signed)`` of each transaction in flight, by key
    (``TxManager.pending``: ``PendingTx.bumps`` and ``cancel_hashes``)."""
    return {key: (p.bumps, len(p.cancel_hashes)) for key, p in pending.items()}


def replacements_between(before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]]) -> ReplacementCount:
    """What was replaced between two marks. ``TxManager.poll`` bumps or
    cancels only transactions it did not find mined, and those are still in
    flight after it; one that left the pending set was settled, not
    replaced. A key new in ``after`` is a new send, not a replacement.
    ValueError if a count went down (the marks are not of one manager)."""
    bumps = cancels = 0
    for key, (bumps_after, cancels_after) in after.items():
        if key not in before:
            continue
        bumps_before, cancels_before = before[key]
        if bumps_after < bumps_before or cancels_after < cancels_before:
            raise ValueError(f"replacement counts of {key} went down: {before[key]} -> {after[key]}")
        bumps += bumps_after - bumps_before
        cancels += cancels_after - cancels_before
    return ReplacementCount(bumps=bumps, cancels=cancels)


# ---------------------------------------------------------------- health


@dataclass(frozen=True)
class HealthPolicy:
    """When ``/healthz`` answers 503. ``max_pending_age`` None: no age rule
    (a transaction past its expiry still fails it)."""

    max_silence: float = 120.0
    max_lag: int = 5
    max_pending_age: float | None = None
    balance_floor_wei: int = 0

    def __post_init__(self) -> None:
        if self.max_silence <= 0:
            raise ValueError(f"max_silence must be positive, not {self.max_silence}")
        if self.max_lag < 0:
            raise ValueError(f"max_lag must be >= 0, not {self.max_lag}")
        if self.max_pending_age is not None and self.max_pending_age <= 0:
            raise ValueError(f"max_pending_age must be positive, not {self.max_pending_age}")
        if self.balance_floor_wei < 0:
            raise ValueError(f"balance_floor_wei must be >= 0, not {self.balance_floor_wei}")

    @classmethod
    def from_config(cls, config: Any) -> HealthPolicy:
        """From a :class:`keepers.config.KeeperConfig`."""
        return cls(max_pending_age=float(config.stuck_tx_max_age_seconds),
                   balance_floor_wei=config.balance_floor_wei)


@dataclass
class HealthState:
    """What ``/healthz`` reports. The keeper updates it (``set_pending``,
    ``set_balance``); the server reads it."""

    started_at: float = field(default_factory=time.time)
    last_block: int = -1
    last_block_at: float = 0.0
    head: int = -1
    last_rpc_ok_at: float = 0.0
    last_error: str = ""
    dry_run: bool = False
    pending: int = 0
    # Transactions past their expiry (TxManager.expired_count).
    expired: int = 0
    oldest_pending_age: float = 0.0
    # None until the keeper has read it (a scan-only process never does).
    signer_balance_wei: int | None = None

    def set_pending(self, count: int, expired: int, oldest_age: float) -> None:
        if count < 0 or expired < 0 or expired > count or oldest_age < 0:
            raise ValueError(f"bad pending figures: count={count} expired={expired} oldest_age={oldest_age}")
        self.pending, self.expired, self.oldest_pending_age = count, expired, float(oldest_age)

    def mark_block(self, number: int, head: int, now: float | None = None) -> None:
        """Block ``number`` was processed with the chain at ``head``."""
        if number < 0 or head < number:
            raise ValueError(f"bad block figures: block={number} head={head}")
        self.last_block, self.head = number, head
        self.last_block_at = self.last_rpc_ok_at = time.time() if now is None else now

    def set_balance(self, wei: int) -> None:
        if not isinstance(wei, int) or wei < 0:
            raise ValueError(f"a balance is a wei amount >= 0, not {wei!r}")
        self.signer_balance_wei = wei

    def problems(self, now: float, policy: HealthPolicy) -> list[str]:
        """Why the keeper is unhealthy; empty when healthy. A block must
        have been processed within ``max_silence`` seconds (or the keeper
        is still starting) with a lag of at most ``max_lag``; no
        transaction may be past its expiry or older than
        ``max_pending_age``; the balance, once read, not below the floor."""
        found = []
        if self.last_block < 0:
            if now - self.started_at > policy.max_silence:
                found.append(f"no block processed in {now - self.started_at:.0f} s since start")
        else:
            if now - self.last_block_at > policy.max_silence:
                found.append(f"no block processed for {now - self.last_block_at:.0f} s")
            lag = max(self.head - self.last_block, 0)
            if lag > policy.max_lag:
                found.append(f"{lag} blocks behind the head (max {policy.max_lag})")
        if self.expired:
            found.append(f"stuck transaction: {self.expired} past expiry, cancel not mined yet")
        if policy.max_pending_age is not None and self.oldest_pending_age > policy.max_pending_age:
            found.append(f"stuck transaction: in flight for {self.oldest_pending_age:.0f} s "
                         f"(max {policy.max_pending_age:.0f} s)")
        if self.signer_balance_wei is not None and self.signer_balance_wei < policy.balance_floor_wei:
            found.append(f"signer balance {self.signer_balance_wei} wei below the floor {policy.balance_floor_wei}")
        return found

    def healthy(self, now: float, policy: HealthPolicy) -> bool:
        return not self.problems(now, policy)


class MetricsServer:
    """Serves ``/metrics`` and ``/healthz`` from a daemon thread.

    ``metrics``: a :class:`KeeperMetrics` (its ``exposed`` registry) or a
    registry (``exposition([...])`` of several keepers). ``port`` 0 takes a
    free one (``self.port`` says which)."""

    def __init__(
        self,
        metrics: KeeperMetrics | CollectorRegistry,
        health: HealthState,
        *,
        host: str = "127.0.0.1",
        port: int = 9102,
        policy: HealthPolicy | None = None,
    ) -> None:
        self.registry = metrics.exposed if isinstance(metrics, KeeperMetrics) else metrics
        self.health = health
        self.policy = policy or HealthPolicy()
        self._prometheus = make_wsgi_app(self.registry)
        self._server = make_server(host, port, self._app, ThreadingWSGIServer, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="keeper-metrics", daemon=True)

    @classmethod
    def on_first_free(cls, metrics: KeeperMetrics | CollectorRegistry, health: HealthState, *, host: str,
                      ports: range, policy: HealthPolicy | None = None) -> MetricsServer:
        """On the first port of ``ports`` nothing listens on: how several
        worker processes of one host each get their own (Prometheus scrapes
        the whole range; a port without a worker is a target down).
        OSError naming the range when every port is taken."""
        if len(ports) == 0:
            raise ValueError("an empty port range")
        last: OSError | None = None
        for port in ports:
            try:
                return cls(metrics, health, host=host, port=port, policy=policy)
            except OSError as err:
                last = err
        raise OSError(f"no free metrics port in {ports.start}-{ports.stop - 1} on {host}: {last}")

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving (if started) and frees the port."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ.get("PATH_INFO", "") in ("/healthz", "/health"):
            problems = self.health.problems(time.time(), self.policy)
            body = json.dumps({"ok": not problems, "problems": problems, **asdict(self.health)}).encode()
            start_response(
                "200 OK" if not problems else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return self._prometheus(environ, start_response)


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr (structlog carries the keeper's logs)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return
