"""Scale-out plumbing: Redis on loopback and the queue from the sharded
scanners to the single submitter.

- :func:`ensure_redis` installs Debian's ``redis-server`` if it is missing
  (``apt-get install -y redis-server``) and starts it on 127.0.0.1 unless
  something already answers there;
- :class:`CandidateQueue`: scanners (Silverback workers, one block task per
  shard) push liquidatable accounts; the submitter (``keepers/bots/submitter.py``)
  pops them. A Redis list; duplicates are harmless because the submitter's
  transaction manager keeps one liquidation per position in flight.

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
