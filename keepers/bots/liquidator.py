"""Silverback bot: the navlend liquidation keeper.

One process by default::

    APE_FOUNDRY_HOST=http://127.0.0.1:8545 \\
    NAVLEND_KEEPER_SIGNER_ALIAS=TEST::5 \\
    NAVLEND_KEEPER_DEPLOYMENTS_FILE=deployments/local.json \\
    silverback run keepers.bots.liquidator:bot --network ethereum:local:foundry

Handlers (the engine is ``keepers/keeper.py``):

- worker start: configuration (``keepers/config.py``, fails fast with every
  problem listed), the keeper's pieces, the metrics server;
- start: the signer and FlashLiquidator checks, then the index backfill from
  its checkpoint;
- every block: index sync (reorg check + logs to the head), pending
  transactions, scan, decisions, sends;
- each market position event, ``removed`` logs included: the index;
- each NAV oracle ``NavPublished`` / ``PendingConfirmed``: a full scan on
  the next block;
- each NAV oracle ``NavPending``: the positions the pending NAV would sink
  are prepared; its ``PendingConfirmed`` sends them at once, its
  ``PendingRejected`` drops them (``keepers/backrun.py``).

With ``NAVLEND_KEEPER_DEPLOYMENTS=m0/local.json,m1/local.json,...`` the
bot keeps several markets (``keepers/bots/liquidator_fleet.py``,
``keepers/fleet.py``): one keeper per market, one transaction manager for
the signer; each market's events go to its keeper, a NAV oracle's to
every market listing it, and one block task works every market at the
same head.

With ``NAVLEND_KEEPER_SHARD_COUNT`` > 1 the keeper runs on several hosts
instead (``keepers/hosts.py``): ``keepers.bots.scanner`` (a dispatcher and
scanner workers on Redis) and ``keepers.bots.submitter``; this bot refuses
to start.
"""

from __future__ import annotations

import structlog
from ape import chain
from silverback.exceptions import CircuitBreaker

from keepers.chain import block_ref, log_record
from keepers.config import check_node
from keepers.bots.signing import signing_bot
from keepers.logs import configure_logging
from keepers.types import INDEXED_EVENTS
from keepers.wiring import build_keeper, contracts_for, load_bot_config

configure_logging()
log = structlog.get_logger("keepers.bots.liquidator")

config = load_bot_config()
if config.shard_count > 1:
    raise SystemExit(f"shard_count is {config.shard_count}: the keeper on several hosts runs as "
                     "keepers.bots.scanner (a dispatcher and workers) and keepers.bots.submitter "
                     "(keepers/README.md, \"When to scale out, and how\")")

bot, brakes = signing_bot(config)
market, oracles = contracts_for(config)
# Several markets (deployments): the handlers of keepers/bots/liquidator_fleet.py.
FLEET = bool(config.deployments)
keepers_by_shard: dict[int, object] = {}

if FLEET:
    from keepers.bots.liquidator_fleet import register

    register(bot, config, brakes)
else:

    @bot.on_worker_startup()
    def build(state):
        """Builds this process's keeper; fails fast on a bad setup."""
        keepers_by_shard[0] = build_keeper(config, bot, with_tx=True, serve_metrics=True, brakes=brakes)

    @bot.on_startup()
    def startup(startup_state):
        """Checks the signer and the FlashLiquidator, then backfills."""
        first = keepers_by_shard[0]
        try:
            node = check_node(config, bot.provider.network.name, bot.provider.chain_id)
            log.info("node checked", network=node.node_network, chain_id=node.node_chain_id,
                     deployment_chain_id=node.deployment_chain_id)
            first.check_setup()
            first.backfill()
        except Exception as err:
            raise CircuitBreaker(f"keeper cannot start: {err}") from None
        log.info("keeper started", signer=first.signer, market=config.market, shards=config.shard_count,
                 dry_run=first.config.dry_run, snapshot=dict(startup_state) if isinstance(startup_state, dict) else str(startup_state))

    def _on_market_log(log_entry):
        try:
            record = log_record(log_entry)
        except ValueError as err:
            log.warning("unreadable market log", error=str(err))
            return
        for keeper in keepers_by_shard.values():
            keeper.on_log(record)

    def _on_nav(log_entry):
        for keeper in keepers_by_shard.values():
            keeper.on_nav_update(getattr(log_entry, "block_number", None))

    def _named(name, target):
        """A distinct handler function (taskiq names tasks by function name)."""

        def handler(log_entry):
            target(log_entry)

        handler.__name__ = handler.__qualname__ = name
        return handler

    # With health from the index, the keeper's own getLogs per block reads
    # the market's and the NAV oracles' logs (keepers/localkeeper.py): a
    # listener of its own for each would ask the node again for the same.
    if not config.local_health:
        for _event in INDEXED_EVENTS:
            bot.on_(getattr(market, _event))(_named(f"index_{_event}", _on_market_log))

        for _i, _oracle in enumerate(oracles):
            bot.on_(_oracle.NavPublished)(_named(f"nav_NavPublished_{_i}", _on_nav))

    # ---- pending NAV (keepers/backrun.py): prepared on NavPending, sent on PendingConfirmed

    def _on_pending(log_entry):
        for keeper in keepers_by_shard.values():
            keeper.on_nav_pending(str(log_entry.contract_address), getattr(log_entry, "block_number", None))

    def _on_confirmed(log_entry):
        for keeper in keepers_by_shard.values():
            keeper.on_pending_confirmed(str(log_entry.contract_address), getattr(log_entry, "block_number", None))

    def _on_rejected(log_entry):
        for keeper in keepers_by_shard.values():
            keeper.on_pending_rejected(str(log_entry.contract_address))

    for _i, _oracle in enumerate(oracles if config.pending_nav_plans else ()):
        for _event, _target in (("PendingConfirmed", _on_confirmed), ("NavPending", _on_pending),
                                ("PendingRejected", _on_rejected)):
            _abi_event = getattr(_oracle, _event, None)
            if _abi_event is not None:
                bot.on_(_abi_event)(_named(f"nav_{_event}_{_i}", _target))

    @bot.on_(chain.blocks)
    def scan(block):
        """Sync, follow, scan, act at the block handed in (not read again);
        then a pending NAV's candidates bundled behind its confirmation
        when it shows in the pool (nothing to do without candidates). One
        block task: the runner reads each task's block. Every fault is
        handled inside."""
        keeper = keepers_by_shard[0]
        metrics = keeper.on_block(block.number, head=block_ref(block)).as_metrics()
        return {**metrics, "backrun_sent": keeper.backrun_pending()}
