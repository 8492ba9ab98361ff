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

    NAVLEND_KEEPER_SHARD_COUNT=2 NAVLEND_KEEPER_REDIS_URL=redis://127.0.0.1:6379/0 \\
    NAVLEND_KEEPER_DB_URL=postgresql://keeper@pg-host:5432/navlend \\
    silverback run keepers.bots.submitter:bot --network ethereum:local:foundry \\
        --runner keepers.runner:ResilientPollingRunner

It runs on the in-memory broker (unset the SILVERBACK_BROKER_* variables),
so its block task never runs twice at once.
"""

from __future__ import annotations

from ape import chain
from silverback.exceptions import CircuitBreaker

from keepers.bots.signing import signing_bot
from keepers.keeper import ScanReport
from keepers.logs import configure_logging
from keepers.scale import candidate_queue
from keepers.wiring import build_keeper, load_bot_config

configure_logging()

config = load_bot_config()
bot, brakes = signing_bot(config)
state: dict = {}


@bot.on_startup()
def startup(startup_state):
    try:
        keeper = build_keeper(config, bot, with_tx=True, serve_metrics=True, brakes=brakes)
        keeper.check_setup()
        if config.index_writer:
            keeper.backfill()
    except Exception as err:
        raise CircuitBreaker(f"submitter cannot start: {err}") from None
    state["keeper"] = keeper
    state["queue"] = candidate_queue(config)


@bot.on_(chain.blocks)
def submit(block):
    keeper, queue = state["keeper"], state["queue"]
    report = ScanReport(block=block.number)
    try:
        head = keeper.reader.head()
        if config.index_writer:
            keeper.sync(head)
        keeper.follow(head)
        accounts = sorted({c.account for c in queue.drain(head.number)})
        if accounts:
            healths = [h for h in keeper.reader.healths(accounts, head.number) if h.liquidatable]
            if healths:
                keeper.act(head, healths, report)
        # Its /healthz follows the blocks it processed, as the keeper's does.
        keeper.health.mark_block(head.number, head.number)
    except Exception as err:
        keeper.fault("submit", err, block=block.number)
    return {"sent": report.sent, "skipped": report.skipped}
