"""The liquidator bot's handlers for several markets in one keeper
(``NAVLEND_KEEPER_DEPLOYMENTS``: one deployments file per market;
``keepers/fleet.py``). Registered by ``keepers.bots.liquidator`` on its
bot in place of the one-market handlers.

- worker start: the fleet (``keepers.wiring.build_fleet``): a keeper per
  market sharing one transaction manager, one ``/metrics`` with a
  ``market`` label on every sample;
- start: the node, every market's FlashLiquidator (the signer's, bound to
  its market), every market's index backfilled;
- each market's position events, ``removed`` ones included: that market's
  index;
- each NAV oracle's events (every oracle of every market, once): every
  market listing the oracle;
- every block: one head, one poll of the transactions in flight, then
  each market (``Fleet.on_block``); and the pending-NAV back-run.
"""

from __future__ import annotations

from typing import Any

import structlog
from ape import chain, project
from silverback.exceptions import CircuitBreaker

from keepers.chain import block_ref, log_record
from keepers.config import KeeperConfig, check_node
from keepers.fleet import Fleet
from keepers.markets import market_configs
from keepers.types import INDEXED_EVENTS, to_address
from keepers.wiring import build_fleet
from navlend.market import market_at

log = structlog.get_logger("keepers.bots.liquidator")

PENDING_EVENTS = ("PendingConfirmed", "NavPending", "PendingRejected")


def _named(name: str, target: Any) -> Any:
    """A distinct handler function (taskiq names tasks by function name)."""

    def handler(entry: Any) -> Any:
        return target(entry)

    handler.__name__ = handler.__qualname__ = name
    return handler


def oracles_of(configs: tuple[KeeperConfig, ...]) -> tuple[str, ...]:
    """Every market's NAV oracles, each once, in the order first listed."""
    seen: dict[str, None] = {}
    for config in configs:
        for oracle in config.nav_oracles:
            seen.setdefault(to_address(oracle), None)
    return tuple(seen)


def register(bot: Any, config: KeeperConfig, brakes: Any) -> dict[str, Fleet]:
    """Registers the several-market handlers on ``bot``; returns the holder
    of the fleet (filled at worker start)."""
    configs = market_configs(config)
    holder: dict[str, Fleet] = {}

    @bot.on_worker_startup()
    def build(state):
        """Builds the fleet; fails fast on a bad setup."""
        holder["fleet"] = build_fleet(config, bot, serve_metrics=True, brakes=brakes)

    @bot.on_startup()
    def startup(startup_state):
        """Checks the node and every market's FlashLiquidator, then backfills."""
        fleet = holder["fleet"]
        try:
            node = check_node(config, bot.provider.network.name, bot.provider.chain_id)
            log.info("node checked", network=node.node_network, chain_id=node.node_chain_id,
                     deployment_chain_id=node.deployment_chain_id)
            fleet.check_setup(require_flash=True)
            fleet.backfill()
        except Exception as err:
            raise CircuitBreaker(f"keeper cannot start: {err}") from None
        log.info("keeper started", signer=fleet.signer, markets=list(fleet.markets),
                 dry_run=fleet.keepers[0].config.dry_run)

    for k, market_config in enumerate(configs):
        market = market_at(market_config.market)
        address = market_config.market

        def on_market_log(entry, _address=address):
            try:
                record = log_record(entry)
            except ValueError as err:
                log.warning("unreadable market log", market=_address, error=str(err))
                return
            holder["fleet"].on_log(_address, record)

        # With health from the index each market's sync reads these logs in
        # the fleet's one getLogs per block: no listener asks for them again.
        if not config.local_health:
            for event in INDEXED_EVENTS:
                bot.on_(getattr(market, event))(_named(f"index_m{k}_{event}", on_market_log))

    def on_nav(entry):
        holder["fleet"].on_nav_update(str(entry.contract_address), getattr(entry, "block_number", None))

    def on_pending(entry):
        holder["fleet"].on_nav_pending(str(entry.contract_address), getattr(entry, "block_number", None))

    def on_confirmed(entry):
        holder["fleet"].on_pending_confirmed(str(entry.contract_address), getattr(entry, "block_number", None))

    def on_rejected(entry):
        holder["fleet"].on_pending_rejected(str(entry.contract_address))

    for i, address in enumerate(oracles_of(configs)):
        oracle = project.NavOracle.at(address)
        if not config.local_health:
            bot.on_(oracle.NavPublished)(_named(f"nav_NavPublished_{i}", on_nav))
        if not config.pending_nav_plans:
            continue
        for event, target in zip(PENDING_EVENTS, (on_confirmed, on_pending, on_rejected)):
            abi_event = getattr(oracle, event, None)
            if abi_event is not None:
                bot.on_(abi_event)(_named(f"nav_{event}_{i}", target))

    @bot.on_(chain.blocks)
    def scan(block):
        """One head (the block handed in), one poll, every market; then the
        pending NAVs' candidates bundled behind their confirmations (one
        block task: the runner reads each task's block). Every fault is
        handled inside."""
        fleet = holder["fleet"]
        metrics = fleet.on_block(block.number, head=block_ref(block)).as_metrics()
        return {**metrics, "backrun_sent": fleet.backrun_pending()}

    log.info("several markets", markets=[c.market for c in configs], oracles=len(oracles_of(configs)))
    return holder
