"""Scale-out plumbing: Redis on loopback and the queue from the sharded
scanners to the single submitter.

- :func:`ensure_redis` installs Debian's ``redis-server`` if it is missing
  (``apt-get install -y redis-server``) and starts it on 127.0.0.1 unless
  something already answers there;
- :class:`CandidateQueue`: scanners (Silverback workers of
  ``keepers/bots/scanner.py``, one block task per shard) push liquidatable
  accounts; the submitter (``keepers/bots/submitter.py``)
  pops them. A Redis sorted set keyed by the account, scored by the block
  it was last found at: a position found liquidatable on every block while
  the submitter is slow or down is one entry, not one per block (the
  Redis list it replaces grew without bound), and the set holds at most
  ``max_size`` entries, the oldest dropped first (logged and counted).
  The submitter pops the oldest first and drops those seen more than
  ``max_age_blocks`` ago (a later scan finds them again if they still
  are).
- :func:`serve_scanner_metrics`: each scan worker process serves its own
  ``/metrics`` and ``/healthz`` on the first free port of
  ``scan_metrics_port`` .. ``+ scan_metrics_ports - 1`` (the submitter keeps
  ``metrics_port``). Every worker process can run every shard's task
  (any worker may receive any of them), so its exposition holds one
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


# The most candidates a queue holds (a book's liquidatable positions after
# a NAV shock are a few percent of it; 100,000 is a whole book twice over).
MAX_CANDIDATES = 100_000
# A candidate older than this many blocks is dropped at the drain: the scan
# that found it is stale, and a later scan queues it again if it still is.
MAX_CANDIDATE_AGE_BLOCKS = 20


class CandidateQueue:
    """The scanners' hand-off to the submitter: one Redis sorted set per
    market, member = account, score = the last block it was found at."""

    def __init__(self, client: Any, market: str, max_size: int = MAX_CANDIDATES,
                 max_age_blocks: int = MAX_CANDIDATE_AGE_BLOCKS) -> None:
        if max_size < 1 or max_age_blocks < 0:
            raise ValueError(f"max_size >= 1 and max_age_blocks >= 0, got {max_size}, {max_age_blocks}")
        self.client = client
        self.key = f"navlend:keeper:{market}:candidates"
        self.max_size = max_size
        self.max_age_blocks = max_age_blocks

    def push(self, block: int, healths: list[AccountHealth]) -> int:
        """Queues ``healths``' accounts at ``block`` (an account already
        queued keeps one entry, at the later block); returns how many
        entries the bound dropped (the oldest)."""
        if not healths:
            return 0
        pipe = self.client.pipeline(transaction=True)
        pipe.zadd(self.key, {h.account: block for h in healths}, gt=True)
        pipe.zcard(self.key)
        _, size = pipe.execute()
        excess = int(size) - self.max_size
        if excess <= 0:
            return 0
        dropped = int(self.client.zremrangebyrank(self.key, 0, excess - 1))
        log.warning("candidate queue full: oldest dropped", key=self.key, dropped=dropped, max_size=self.max_size,
                    block=block)
        return dropped

    def drain(self, head: int, limit: int = 1_000) -> list[Candidate]:
        """Pops up to ``limit`` candidates, oldest first; those found more
        than ``max_age_blocks`` before ``head`` are dropped (logged)."""
        popped = self.client.zpopmin(self.key, limit) or []
        fresh, stale = [], 0
        for account, score in popped:
            block = int(score)
            if head - block > self.max_age_blocks:
                stale += 1
            else:
                fresh.append(Candidate(block=block, account=str(account)))
        if stale:
            log.info("stale candidates dropped", key=self.key, dropped=stale, head=head,
                     max_age_blocks=self.max_age_blocks)
        return fresh

    def size(self) -> int:
        return int(self.client.zcard(self.key))


def candidate_queue(config: KeeperConfig) -> CandidateQueue:
    """The configured market's queue on ``config.redis_url``."""
    if not config.redis_url:
        raise RuntimeError("the scanners and the submitter need redis_url (NAVLEND_KEEPER_REDIS_URL)")
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
