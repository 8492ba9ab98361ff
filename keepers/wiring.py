"""Assembles a :class:`keepers.keeper.Keeper` from a validated
configuration and a connected Ape provider (the Silverback bot's, or a
script's). Kept apart from ``bot.py`` so the submitter, the benchmark and
the tests build keepers the same way without creating a bot.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import structlog
from ape import project

from keepers.chain import ChainReader, event_topics
from keepers.config import ConfigError, KeeperConfig, load_config
from keepers.index import PositionIndex
from keepers.keeper import Keeper
from keepers.metrics import HealthState, KeeperMetrics, MetricsServer
from keepers.rpc import RpcSettings, process_client, web3_on
from keepers.txmanager import FeePolicy, TxManager
from keepers.txstore import TxStore, tx_store_path
from keepers.types import AccountHealth
from navlend.market import market_at

log = structlog.get_logger("keepers.wiring")


def load_bot_config() -> KeeperConfig:
    """The validated configuration for a bot module, exiting with every
    problem listed when it is bad; also hands the signer alias to
    Silverback (``SILVERBACK_SIGNER_ALIAS``) unless ``--account`` set one."""
    try:
        config = load_config()
    except ConfigError as err:
        raise SystemExit(str(err)) from None
    os.environ.setdefault("SILVERBACK_SIGNER_ALIAS", config.signer_alias)
    return config


def contracts_for(config: KeeperConfig) -> tuple[Any, list[Any]]:
    """The market (both ABIs) and the NAV oracles as Ape contracts."""
    market = market_at(config.market)
    oracles = [project.NavOracle.at(address) for address in config.nav_oracles]
    return market, oracles


def make_reader(
    config: KeeperConfig, provider: Any, on_call: Callable[[str], None] | None = None, w3: Any = None
) -> ChainReader:
    """A :class:`ChainReader` for the configured market on ``w3`` (by
    default ``provider``'s web3)."""
    market, _ = contracts_for(config)
    abis = list(market.contract_type.events)
    ecosystem = provider.network.ecosystem
    return ChainReader(
        w3 if w3 is not None else provider.web3,
        config.market,
        config.lens,
        decode_logs=lambda raw: list(ecosystem.decode_logs(raw, *abis)),
        event_topics=event_topics(),
        batch_size=config.scan_batch_size,
        on_call=on_call,
    )


def keeper_web3(config: KeeperConfig, provider: Any, metrics: KeeperMetrics) -> Any:
    """The keeper's web3: every call through the process's
    :class:`keepers.rpc.RpcClient` on ``rpc_urls`` (default: the Ape
    provider's URI) and ``send_rpc_url``, with failover, rate limits and
    a timeout; endpoint failures counted in ``keeper_rpc_errors_total``
    (``op`` = ``rpc_<pool>_<kind>``)."""
    reads = config.rpc_urls or (provider_uri(provider),)
    sends = (config.send_rpc_url,) if config.send_rpc_url else ()
    settings = RpcSettings(timeout=float(config.rpc_timeout_seconds), rate=float(config.rpc_rate_per_second),
                           burst=float(config.rpc_burst), max_wait=float(config.rpc_max_wait_seconds))
    client = process_client(reads, sends, settings, on_failure=lambda pool, endpoint, kind: metrics.rpc_errors.labels(
        op=f"rpc_{pool}_{kind.value}").inc())
    return web3_on(client)


def provider_uri(provider: Any) -> str:
    """The HTTP URI of Ape's provider (the one endpoint when no
    ``rpc_urls`` are configured)."""
    uri = getattr(provider, "http_uri", None) or getattr(provider, "uri", None)
    if not uri:
        uri = getattr(provider.web3.provider, "endpoint_uri", None)
    if not uri:
        raise ConfigError([f"rpc_urls: not set, and the provider {type(provider).__name__} has no HTTP URI"])
    return str(uri)


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
    metrics = metrics or KeeperMetrics()
    health = HealthState(dry_run=config.dry_run)
    w3 = keeper_web3(config, provider, metrics)
    reader = make_reader(config, provider, w3=w3)
    tx = None
    if with_tx:
        tx = TxManager(
            w3,
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
