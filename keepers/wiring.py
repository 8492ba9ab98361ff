"""Assembles a :class:`keepers.keeper.Keeper` from a validated
configuration and a connected Ape provider (the Silverback bot's, or a
script's). Kept apart from ``bot.py`` so the submitter, the benchmark and
the tests build keepers the same way without creating a bot.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import structlog
from ape import project

from keepers.brakes import effective_dry_run
from keepers.chain import ChainReader, event_topics
from keepers.config import ConfigError, KeeperConfig, bot_problems, load_config
from keepers.index import PositionIndex
from keepers.keeper import Keeper
from keepers.metrics import HealthState, KeeperMetrics, MetricsServer
from keepers.txmanager import FeePolicy, TxManager
from keepers.txstore import TxStore, tx_store_path
from keepers.types import AccountHealth
from navlend.market import market_at

log = structlog.get_logger("keepers.wiring")


# Silverback's own record of ``--network`` (set by ``keepers.run``, or by
# ``silverback run --network`` when the option comes before the bot).
NETWORK_CHOICE_ENV = "SILVERBACK_NETWORK_CHOICE"


def load_bot_config() -> KeeperConfig:
    """The validated configuration for a bot module, exiting with every
    problem listed when it is bad; the network is Silverback's
    ``--network`` (``keepers.config.load_config``); also hands the signer
    alias to Silverback (``SILVERBACK_SIGNER_ALIAS``) unless ``--account``
    set one."""
    try:
        config = load_config(network_choice=os.environ.get(NETWORK_CHOICE_ENV))
        if problems := bot_problems(config):
            raise ConfigError(problems)
    except ConfigError as err:
        raise SystemExit(str(err)) from None
    os.environ.setdefault("SILVERBACK_SIGNER_ALIAS", config.signer_alias)
    return config


def contracts_for(config: KeeperConfig) -> tuple[Any, list[Any]]:
    """The market (both ABIs) and the NAV oracles as Ape contracts."""
    market = market_at(config.market)
    oracles = [project.NavOracle.at(address) for address in config.nav_oracles]
    return market, oracles


def make_reader(config: KeeperConfig, provider: Any, on_call: Callable[[str], None] | None = None) -> ChainReader:
    """A :class:`ChainReader` on ``provider``'s web3 for the configured market."""
    market, _ = contracts_for(config)
    abis = list(market.contract_type.events)
    ecosystem = provider.network.ecosystem
    return ChainReader(
        provider.web3,
        config.market,
        config.lens,
        decode_logs=lambda raw: list(ecosystem.decode_logs(raw, *abis)),
        event_topics=event_topics(),
        batch_size=config.scan_batch_size,
        on_call=on_call,
    )


def with_effective_dry_run(config: KeeperConfig) -> KeeperConfig:
    """``config`` with the dry run the keeper runs with: off local networks
    nothing is sent without ``live`` (``python -m keepers.run --live``);
    logged with the reason."""
    decision = effective_dry_run(config.network, config.live, config.dry_run)
    log.info("dry run" if decision.dry_run else "sending live", network=config.network, why=decision.why)
    return replace(config, dry_run=decision.dry_run)


def fee_policy(config: KeeperConfig) -> FeePolicy:
    return FeePolicy(
        priority_fee=config.priority_fee_wei,
        max_fee_cap=config.max_fee_wei,
        bump=float(config.fee_bump),
        max_bumps=config.max_fee_bumps,
        stuck_after_blocks=config.pending_timeout_blocks,
    )


def build_keeper(
    config: KeeperConfig,
    bot: Any,
    *,
    with_tx: bool,
    forward: Callable[[int, list[AccountHealth]], None] | None = None,
    serve_metrics: bool = True,
    metrics: KeeperMetrics | None = None,
) -> Keeper:
    """A keeper on ``bot.provider`` signing with ``bot.signer``.
    ``with_tx=False`` builds a scan-only keeper that hands liquidatable
    accounts to ``forward``."""
    provider = bot.provider
    config = with_effective_dry_run(config)
    metrics = metrics or KeeperMetrics()
    health = HealthState(dry_run=config.dry_run)
    reader = make_reader(config, provider)
    tx = None
    if with_tx:
        tx = TxManager(
            provider.web3,
            bot.signer,
            provider.network.ecosystem,
            provider.chain_id,
            fee_policy(config),
            dry_run=config.dry_run,
            on_rpc_error=lambda op: metrics.rpc_errors.labels(op=op).inc(),
            # Transactions in flight survive a restart (followed, not sent again).
            store=TxStore(tx_store_path(config.db_path), provider.chain_id, str(bot.signer.address)),
        )
    index = PositionIndex(config.db_path, config.market, config.start_block)
    keeper = Keeper(
        config=config,
        reader=reader,
        index=index,
        tx=tx,
        metrics=metrics,
        health=health,
        signer=str(bot.signer.address),
        forward=forward,
    )
    if serve_metrics:
        server = MetricsServer(metrics, health, host=config.metrics_host, port=config.metrics_port).start()
        log.info("metrics and health endpoint", url=f"http://{config.metrics_host}:{server.port}/metrics",
                 health=f"http://{config.metrics_host}:{server.port}/healthz")
    return keeper
