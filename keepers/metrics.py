"""The keeper's Prometheus metrics and its health endpoint.

One process serves both on ``metrics_port``:

- ``/metrics``: the Prometheus exposition (prometheus-client's WSGI app);
- ``/healthz``: a small JSON document, HTTP 200 while the keeper follows the
  chain, 503 when it has fallen behind or lost its node for too long.

The metric objects live in a :class:`KeeperMetrics` bound to its own
``CollectorRegistry`` (never the global one), so tests and the benchmark can
build as many keepers as they like in one process. Silverback's taskiq
``PrometheusMiddleware`` only counts tasks; these are the keeper's own
datapoints. Serving and JSON health are the only hand-written parts: the
``/healthz`` route and its staleness rule are ours, everything Prometheus is
prometheus-client's.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

# Scan-time buckets (seconds): a block is ~1-12 s, the target is < 1 s.
SCAN_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)


class KeeperMetrics:
    """Every metric the liquidation keeper exports."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
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
            "keeper_tx_replacements_total", "Same-nonce fee bumps of stuck transactions.", registry=r
        )
        self.reorgs = Counter("keeper_reorgs_total", "Reorgs the index rolled back.", registry=r)
        self.skipped_blocks = Counter(
            "keeper_blocks_skipped_total", "Blocks skipped because the previous scan was still running.", registry=r
        )


@dataclass
class HealthState:
    """What ``/healthz`` reports. The keeper updates it; the server reads it."""

    started_at: float = field(default_factory=time.time)
    last_block: int = -1
    last_block_at: float = 0.0
    head: int = -1
    last_rpc_ok_at: float = 0.0
    last_error: str = ""
    dry_run: bool = False
    pending: int = 0

    def healthy(self, now: float, max_silence: float, max_lag: int) -> bool:
        """Healthy when a block was processed within ``max_silence`` seconds
        (or the keeper is still starting) and the lag is at most ``max_lag``."""
        if self.last_block < 0:
            return now - self.started_at <= max_silence
        lag = max(self.head - self.last_block, 0)
        return now - self.last_block_at <= max_silence and lag <= max_lag


class MetricsServer:
    """Serves ``/metrics`` and ``/healthz`` from a daemon thread."""

    def __init__(
        self,
        metrics: KeeperMetrics,
        health: HealthState,
        *,
        host: str = "127.0.0.1",
        port: int = 9102,
        max_silence: float = 120.0,
        max_lag: int = 5,
    ) -> None:
        self.metrics = metrics
        self.health = health
        self.max_silence = max_silence
        self.max_lag = max_lag
        self._prometheus = make_wsgi_app(metrics.registry)
        self._server = make_server(host, port, self._app, ThreadingWSGIServer, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="keeper-metrics", daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ.get("PATH_INFO", "") in ("/healthz", "/health"):
            ok = self.health.healthy(time.time(), self.max_silence, self.max_lag)
            body = json.dumps({"ok": ok, **asdict(self.health)}).encode()
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return self._prometheus(environ, start_response)


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr (structlog carries the keeper's logs)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return
