"""Silverback bot: the submitter of the keeper on several hosts
(``keepers/hosts.py``), one per signing key. It is the only process that
signs with its key: on each block it drains the candidates the scanner
workers (``keepers/bots/scanner.py``) queued in Redis (``keepers/scale.py``),
re-reads their health at the latest block and decides and sends exactly as
the single-process keeper does (``Keeper.act``), with one nonce manager and
one liquidation in flight per position.

With ``index_writer`` (the default) it is also the index writer: the only
process that reads the chain's logs (``getLogs``, each block) into the
index the scanners read (PostgreSQL on ``db_url``). A second submitter
with another key sets ``NAVLEND_KEEPER_INDEX_WRITER=false`` and only reads.

With ``deployments`` (several markets) it builds the fleet
(``keepers.wiring.build_fleet``: one transaction manager, one nonce
sequence), writes every market's index and drains each market's queue into
that market's keeper, every market at the fleet's one head
(``keepers/hostsubmit.py``).

    NAVLEND_KEEPER_SHARD_COUNT=2 NAVLEND_KEEPER_REDIS_URL=redis://127.0.0.1:6379/0 \\
    NAVLEND_KEEPER_DB_URL=postgresql://keeper@pg-host:5432/navlend \\
    silverback run keepers.bots.submitter:bot --network ethereum:local:foundry \\
        --runner keepers.runner:ResilientPollingRunner

It runs on the in-memory broker (unset the SILVERBACK_BROKER_* variables),
so its block task never runs twice at once.
"""

from __future__ import annotations

import structlog
from ape import chain
from silverback.exceptions import CircuitBreaker

from keepers.bots.signing import signing_bot
from keepers.chain import block_ref
from keepers.hostsubmit import HostSubmitter
from keepers.logs import configure_logging
from keepers.markets import market_configs
from keepers.scale import candidate_queue
from keepers.wiring import build_fleet, build_keeper, load_bot_config

configure_logging()
log = structlog.get_logger("keepers.bots.submitter")

config = load_bot_config()
bot, brakes = signing_bot(config)
state: dict = {}


@bot.on_startup()
def startup(startup_state):
    try:
        queues = {c.market: candidate_queue(c) for c in market_configs(config)}
        if config.deployments:
            fleet = build_fleet(config, bot, serve_metrics=True, brakes=brakes)
            fleet.check_setup()
            submitter = HostSubmitter(queues, config.index_writer, fleet=fleet)
        else:
            keeper = build_keeper(config, bot, with_tx=True, serve_metrics=True, brakes=brakes)
            keeper.check_setup()
            submitter = HostSubmitter(queues, config.index_writer, keeper=keeper)
        if config.index_writer:
            submitter.backfill()
    except Exception as err:
        raise CircuitBreaker(f"submitter cannot start: {err}") from None
    state["submitter"] = submitter
    log.info("submitter started", markets=[c.market for c in market_configs(config)],
             index_writer=config.index_writer, dry_run=config.dry_run)


@bot.on_(chain.blocks)
def submit(block):
    # The block handed in is the head (no second read; keepers.chain.block_ref).
    return state["submitter"].on_block(block.number, head=block_ref(block))
