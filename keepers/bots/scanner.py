"""Silverback bot: the keeper's scan on several hosts (``keepers/hosts.py``).

The same module is the dispatcher and the workers, on a Redis broker
(``keepers.scale.broker_env``)::

    # the dispatcher: one process, puts each block's shard tasks on Redis
    silverback run keepers.bots.scanner:bot --network ethereum:mainnet:node
    # the workers: any number, any host
    silverback worker keepers.bots.scanner:bot -w 1 --network ethereum:mainnet:node

One block handler per shard (``keepers/shards.py``: each market's accounts
in ``shard_count`` address ranges), named by the shard. A worker reads its
shard's positions from the index in PostgreSQL read-only (the submitter
writes it), reads their health and queues the liquidatable ones in Redis
for the submitter (``keepers/bots/submitter.py``). No event handler: the
dispatcher reads no logs, the submitter is the only process that does.
No signer: a scanner never signs.
"""

from __future__ import annotations

import os

import structlog
from ape import chain
from silverback import SilverbackBot
from silverback.main import SharedState

from keepers.hosts import ScannerWorker, build_scanner, scanner_config, shard_tasks
from keepers.logs import configure_logging
from keepers.wiring import NETWORK_CHOICE_ENV

configure_logging()
log = structlog.get_logger("keepers.bots.scanner")

config = scanner_config(network_choice=os.environ.get(NETWORK_CHOICE_ENV))
os.environ.pop("SILVERBACK_SIGNER_ALIAS", None)  # no key on a scanner host
bot = SilverbackBot()
TASKS = shard_tasks(config)
worker: dict[str, ScannerWorker] = {}


@bot.on_worker_startup()
def build(state):
    """This worker's readers, queues and metrics; fails fast on a bad setup."""
    # Silverback 0.7.38 sends its state snapshot (SYSTEM_LOAD_SNAPSHOT) as
    # ONE task: on a Redis list broker only one worker receives it, and in
    # every other worker each block task fails at its checkpoint
    # ("'SilverbackBot' object has no attribute 'state'"). An empty state
    # here; the snapshot, where it lands, replaces it.
    if not hasattr(bot, "state"):
        bot.state = SharedState()
    worker["scan"] = build_scanner(config, bot.provider)


def _handler(task):
    def scan(block):
        return worker["scan"].run(task, block.number)

    scan.__name__ = scan.__qualname__ = task.name
    return scan


for _task in TASKS:
    bot.on_(chain.blocks)(_handler(_task))
