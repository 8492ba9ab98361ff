"""The scanner role of the keeper on several hosts (``keepers/bots/scanner.py``
is its Silverback bot; keepers/README.md, "When to scale out, and how").

Three roles share only a Redis URL, a PostgreSQL URL and the node; they
cover every market of ``deployments`` (``keepers/markets.py``), else the
configured market, each market's index in its own schema and its
candidates in its own queue:

- the **submitter** (``keepers/bots/submitter.py``, one per signing key,
  in-memory broker) is also the **index writer** (``index_writer``, true on
  exactly one of them): the only process that reads the chain's logs, on
  each block, into every market's index in PostgreSQL; it drains each
  market's candidate queue, re-reads health, decides and sends (with
  ``deployments``, through the fleet: ``keepers/hostsubmit.py``);
- the **dispatcher** (``silverback run keepers.bots.scanner:bot`` on the
  Redis broker) only puts each block's shard tasks on the broker;
- the **scanner workers** (``silverback worker keepers.bots.scanner:bot``,
  any number, any host) run them: :class:`ScannerWorker` reads the shard's
  positions from the index read-only, checks their health and queues the
  liquidatable ones (``keepers/shardscan.py``).

Why the submitter writes the index, not the dispatcher: the dispatcher's
handlers run on the workers (a Redis broker sends every task of it there,
start-up tasks included), so "the dispatcher writes" would make a worker,
any worker, the writer; the submitter runs its own tasks in its own
process, once per block, and needs the index itself (each position's
collateral for its decisions). A scan reading the index a block behind
the writer misses a position opened in that block until the next block;
its health is read at the block anyway.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from keepers.config import ConfigError, KeeperConfig, bot_problems, load_config
from keepers.markets import market_configs
from keepers.metrics import HealthState, KeeperMetrics, build_info, keeper_labels
from keepers.scale import CandidateQueue, candidate_queue, serve_scanner_metrics
from keepers.shards import ShardTask, due, plan_tasks
from keepers.shardscan import IndexNotReady, ScanFn, ShardIndexReader, lens_scan, scan_shard
from keepers.store import configured_location
from keepers.types import to_address
from keepers.wiring import keeper_web3, make_reader

log = structlog.get_logger("keepers.hosts")

# A scanner never signs: the configuration's required signer alias, when
# the scanner's environment does not name one.
SCANNER_SIGNER = "none:scanner"
SIGNER_ENV = "NAVLEND_KEEPER_SIGNER_ALIAS"


def scanner_config(env: Mapping[str, str] | None = None, network_choice: str | None = None) -> KeeperConfig:
    """The scanner's validated configuration (exits listing every problem):
    the keeper's, without a signer; ``shard_count`` > 1 and ``redis_url``
    required (this bot exists to spread the scan)."""
    env = dict(os.environ if env is None else env)
    env.setdefault(SIGNER_ENV, SCANNER_SIGNER)
    try:
        config = load_config(env=env, network_choice=network_choice)
        problems = bot_problems(config)
        if config.shard_count < 2:
            problems.append(f"shard_count: {config.shard_count}; the scanner workers need 2 or more "
                            "(one process: keepers.bots.liquidator)")
        if problems:
            raise ConfigError(problems)
    except ConfigError as err:
        raise SystemExit(str(err)) from None
    return config


def market_settings(config: KeeperConfig) -> tuple[KeeperConfig, ...]:
    """Each market's configuration (``keepers.markets.market_configs``):
    every market of ``deployments``, else the configured one."""
    configs = market_configs(config)
    missing = [str(c.deployments_file or "the configuration") for c in configs if not c.market]
    if missing:
        raise ValueError(f"no market configured ({', '.join(missing)})")
    return configs


def markets_of(config: KeeperConfig) -> tuple[str, ...]:
    """The markets the scanners cover: every market of ``deployments``
    (in its order), else the configured market."""
    return tuple(to_address(c.market) for c in market_settings(config))


def shard_tasks(config: KeeperConfig) -> tuple[ShardTask, ...]:
    """The block tasks of ``config`` (the same in every process)."""
    return plan_tasks(markets_of(config), config.shard_count)


@dataclass
class ScannerWorker:
    """One worker process's scan: a read-only index, a chain reader and a
    queue per market, one metrics registry per task (a ``shard`` label)."""

    config: KeeperConfig
    tasks: tuple[ShardTask, ...]
    indexes: dict[str, ShardIndexReader]
    queues: dict[str, CandidateQueue]
    scan: ScanFn
    metrics: dict[str, KeeperMetrics]
    health: HealthState

    def run(self, task: ShardTask, block: int) -> dict[str, float]:
        """The task at ``block``: scanned when due, every fault logged and
        counted (the runner's exception budget is for bugs)."""
        metrics = self.metrics[task.name]
        if not due(task, block, self.config.scan_every_blocks):
            return {"scanned": 0, "due": 0}
        tlog = log.bind(task=task.name, block=block)
        try:
            queue = self.queues[to_address(task.market)]
            report = scan_shard(task, block, self.indexes[to_address(task.market)], self.scan, queue.push)
        except IndexNotReady as err:
            tlog.info("index not ready; shard skipped", reason=str(err))
            return {"scanned": 0, "due": 1}
        except Exception as err:
            metrics.rpc_errors.labels(op="shard_scan").inc()
            self.health.last_error = f"shard_scan: {str(err)[:200]}"
            tlog.warning("handled fault", op="shard_scan", error=str(err)[:300], error_type=type(err).__name__)
            return {"scanned": 0, "due": 1}
        metrics.accounts_scanned.inc(report.scanned)
        metrics.positions_liquidatable.set(report.liquidatable)
        metrics.scan_seconds.observe(report.seconds)
        metrics.last_block.set(block)
        if report.checkpoint is not None:
            metrics.index_checkpoint.set(report.checkpoint)
        self.health.last_rpc_ok_at = time.time()
        self.health.mark_block(block, block)
        tlog.debug("shard scanned", scanned=report.scanned, liquidatable=report.liquidatable,
                   checkpoint=report.checkpoint, seconds=round(report.seconds, 4))
        return {"scanned": report.scanned, "liquidatable": report.liquidatable, "due": 1}


def build_scanner(config: KeeperConfig, provider: Any, scan: ScanFn | None = None) -> ScannerWorker:
    """A worker's scan on ``provider`` (Ape's, the worker's node), its
    metrics served (``keepers.scale.serve_scanner_metrics``). ``scan``:
    how health is checked (default: the Lens, :func:`keepers.shardscan.lens_scan`)."""
    tasks = shard_tasks(config)
    chain_id = provider.chain_id
    metrics = {}
    for task in tasks:
        metrics[task.name] = KeeperMetrics(labels=keeper_labels(task.market, chain_id, shard=task.label))
        metrics[task.name].set_build_info(build_info(SCANNER_SIGNER))
    health = HealthState(dry_run=True)
    location = configured_location(config.db_url, config.db_path)
    indexes, queues, readers = {}, {}, {}
    for market_config in market_settings(config):
        market = to_address(market_config.market)
        first = next(metrics[t.name] for t in tasks if to_address(t.market) == market)
        readers[market] = make_reader(market_config, provider, w3=keeper_web3(market_config, provider, first))
        # The market's own index: its schema on PostgreSQL (its file on SQLite).
        indexes[market] = ShardIndexReader(configured_location(market_config.db_url, market_config.db_path), market)
        queues[market] = candidate_queue(market_config)
    serve_scanner_metrics(config, list(metrics.values()), health)
    log.info("scanner worker ready", tasks=[t.name for t in tasks], store=location.masked(),
             scan_every_blocks=config.scan_every_blocks)
    return ScannerWorker(config=config, tasks=tasks, indexes=indexes, queues=queues,
                         scan=scan or lens_scan(readers), metrics=metrics, health=health)
