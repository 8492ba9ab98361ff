"""Scale-out plumbing: Redis on loopback and the queue from the sharded
scanners to the single submitter.

- :func:`ensure_redis` installs Debian's ``redis-server`` if it is missing
  (``apt-get install -y redis-server``) and starts it on 127.0.0.1 unless
  something already answers there;
- :class:`CandidateQueue`: scanners (Silverback workers, one block task per
  shard) push liquidatable accounts; the submitter (``keepers/bots/submitter.py``)
  pops them. A Redis list; duplicates are harmless because the submitter's
  transaction manager keeps one liquidation per position in flight.
- :func:`serve_scanner_metrics`: each scan worker process serves its own
  ``/metrics`` and ``/healthz`` on the first free port of
  ``scan_metrics_port`` .. ``+ scan_metrics_ports - 1`` (the submitter keeps
  ``metrics_port``). Every worker process builds a keeper for every shard
  (any worker may receive any shard's task), so its exposition holds one
  series per shard, told apart by a ``shard`` label, besides ``market`` and
  ``chain``. Prometheus scrapes the whole range (``sum by (shard)`` across
  workers for counters); a port without a worker is a target down.

  Why not prometheus-client's multiprocess mode or a pushgateway: the
  workers are separate ``silverback worker`` processes, possibly on other
  hosts, not forks of one parent sharing a directory; multiprocess mode
  needs that shared directory and cannot serve gauges per process the way
  a scrape does, and a pushgateway keeps a dead worker's last values for
  ever and is one more service to run. A port per process is what
  Prometheus scrapes natively, and each worker's ``/healthz`` says whether
  that worker is processing blocks.

Workers on Redis (Silverback's documented set-up, taskiq-redis)::

    SILVERBACK_BROKER_CLASS=taskiq_redis:ListQueueBroker
    SILVERBACK_BROKER_KWARGS='{"url": "redis://127.0.0.1:6379"}'
    SILVERBACK_RESULT_BACKEND_CLASS=taskiq_redis:RedisAsyncResultBackend
    SILVERBACK_RESULT_BACKEND_KWARGS='{"redis_url": "redis://127.0.0.1:6379"}'
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
import structlog

from keepers.config import KeeperConfig
from keepers.metrics import HealthPolicy, HealthState, KeeperMetrics, MetricsServer, exposition
from keepers.types import AccountHealth

log = structlog.get_logger("keepers.scale")


def ensure_redis(port: int = 6379) -> str:
    """A running redis-server on 127.0.0.1:``port`` (installed with apt-get
    if missing); returns its URL. RuntimeError with the reason otherwise."""
    url = f"redis://127.0.0.1:{port}/0"
    try:
        redis.Redis.from_url(url).ping()
        return url
    except Exception:
        pass
    if shutil.which("redis-server") is None:
        log.info("installing redis-server from Debian's packages")
        result = subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], capture_output=True, text=True)
        if result.returncode != 0 or shutil.which("redis-server") is None:
            raise RuntimeError(f"redis-server cannot be installed: {result.stderr.strip()[-400:]}")
    subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--daemonize", "yes"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ).wait(timeout=30)
    for _ in range(50):
        try:
            redis.Redis.from_url(url).ping()
            return url
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"redis-server did not answer on 127.0.0.1:{port}")


def broker_env(redis_url: str) -> Mapping[str, str]:
    """The Silverback settings that put its tasks on Redis."""
    return {
        "SILVERBACK_BROKER_CLASS": "taskiq_redis:ListQueueBroker",
        "SILVERBACK_BROKER_KWARGS": json.dumps({"url": redis_url}),
        "SILVERBACK_RESULT_BACKEND_CLASS": "taskiq_redis:RedisAsyncResultBackend",
        "SILVERBACK_RESULT_BACKEND_KWARGS": json.dumps({"redis_url": redis_url}),
    }


@dataclass(frozen=True)
class Candidate:
    """A position a scanner found liquidatable at ``block``."""

    block: int
    account: str


class CandidateQueue:
    """The scanners' hand-off to the submitter (a Redis list per market)."""

    def __init__(self, client: Any, market: str) -> None:
        self.client = client
        self.key = f"navlend:keeper:{market}:candidates"

    def push(self, block: int, healths: list[AccountHealth]) -> None:
        if healths:
            self.client.rpush(self.key, *[json.dumps({"block": block, "account": h.account}) for h in healths])

    def drain(self, limit: int = 1_000) -> list[Candidate]:
        raw = self.client.lpop(self.key, limit) or []
        return [Candidate(**json.loads(item)) for item in raw]


def candidate_queue(config: KeeperConfig) -> CandidateQueue:
    """The configured market's queue on ``config.redis_url``."""
    if not config.redis_url:
        raise RuntimeError("shard_count > 1 needs redis_url (NAVLEND_KEEPER_REDIS_URL)")
    return CandidateQueue(redis.Redis.from_url(config.redis_url, decode_responses=True), config.market)


def scanner_ports(config: KeeperConfig) -> range:
    """The ports the scan workers' metrics servers may take."""
    return range(config.scan_metrics_port, config.scan_metrics_port + config.scan_metrics_ports)


def serve_scanner_metrics(config: KeeperConfig, metrics: list[KeeperMetrics], health: HealthState) -> MetricsServer:
    """This scan worker's ``/metrics`` (every shard's keeper, each with its
    ``shard`` label) and ``/healthz`` (blocks processed by any shard), on
    the first free port of :func:`scanner_ports`; started. OSError when
    every port of the range is taken."""
    if not metrics:
        raise ValueError("a scan worker without a keeper has no metrics to serve")
    shards = [m.labels.get("shard") for m in metrics]
    if None in shards or len(set(shards)) != len(shards):
        raise ValueError(f"each scan keeper's metrics need a distinct shard label, got {shards}")
    server = MetricsServer.on_first_free(exposition(metrics), health, host=config.metrics_host,
                                         ports=scanner_ports(config), policy=HealthPolicy()).start()
    log.info("scan worker metrics and health endpoint", shards=len(metrics),
             url=f"http://{config.metrics_host}:{server.port}/metrics",
             health=f"http://{config.metrics_host}:{server.port}/healthz")
    return server
