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

from keepers.brakes import BrakeMetrics, Brakes, effective_dry_run, install_signal_handlers, limits_from_config
from keepers.chain import ChainReader, event_topics
from keepers.config import ConfigError, KeeperConfig, bot_problems, load_config
from keepers.fleet import Fleet, MarketTx
from keepers.index import PositionIndex
from keepers.keeper import Keeper
from keepers.markets import market_configs
from keepers.metrics import (HealthPolicy, HealthState, KeeperMetrics, MetricsServer, build_info, exposition,
                             keeper_labels)
from keepers.profit import feed_policy_from_config, gas_model_from_config
from keepers.spending import Spending, SpendingMetrics
from keepers.treasury import approval_policy_from_config, sweep_policy_from_config
from keepers.decide import ProfitPolicy
from keepers.rpc import RpcSettings, process_client, web3_on
from keepers.store import configured_location
from keepers.txmanager import FeePolicy, TxManager
from keepers.txstore import TxStore, tx_store_location
from keepers.wiring_routes import request_tip, submission_sender
from keepers.healthreads import RoundCache
from keepers.wiring_local import SharedLogs, local_scanner
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


def process_brakes(config: KeeperConfig) -> Brakes:
    """The brakes of a signing process, made at import, in the main thread,
    so that the operator's signals reach them (SIGUSR1 halts sending,
    SIGUSR2 resumes); the kill file works from any thread."""
    brakes = Brakes(limits_from_config(config))
    try:
        install_signal_handlers(brakes)
    except ValueError as err:  # imported outside the main thread (a test harness)
        log.warning("kill-switch signals not installed; the kill file still works", error=str(err))
    return brakes


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


def with_effective_dry_run(config: KeeperConfig) -> KeeperConfig:
    """``config`` with the dry run the keeper runs with: off local networks
    nothing is sent without ``live`` (``python -m keepers.run --live``);
    logged with the reason."""
    decision = effective_dry_run(config.network, config.live, config.dry_run)
    log.info("dry run" if decision.dry_run else "sending live", network=config.network, why=decision.why)
    return replace(config, dry_run=decision.dry_run)


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


def keeper_metrics(config: KeeperConfig, bot: Any, **labels: str) -> KeeperMetrics:
    """Metrics labelled with the market and the chain id (and ``labels``:
    ``shard``), with ``keeper_build_info`` set."""
    metrics = KeeperMetrics(labels=keeper_labels(config.market, bot.provider.chain_id, **labels))
    metrics.set_build_info(build_info(str(bot.signer.address)))
    return metrics


def build_keeper(
    config: KeeperConfig,
    bot: Any,
    *,
    with_tx: bool,
    forward: Callable[[int, list[AccountHealth]], None] | None = None,
    serve_metrics: bool = True,
    metrics: KeeperMetrics | None = None,
    health: HealthState | None = None,
    brakes: Brakes | None = None,
) -> Keeper:
    """A keeper on ``bot.provider`` signing with ``bot.signer``.
    ``with_tx=False`` builds a scan-only keeper that hands liquidatable
    accounts to ``forward``. ``health``: shared by the scan keepers of one
    process. ``brakes``: the process's brakes (the bot makes them at
    import, in the main thread, to install the kill-switch signals); new
    ones otherwise."""
    provider = bot.provider
    config = with_effective_dry_run(config)
    metrics = metrics or keeper_metrics(config, bot)
    health = health or HealthState(dry_run=config.dry_run)
    w3 = keeper_web3(config, provider, metrics)
    reader = make_reader(config, provider, w3=w3)
    tx = None
    spending = None
    if with_tx:
        spending = make_spending(config, reader, str(bot.signer.address), metrics, brakes)
        tx = make_tx_manager(config, bot, w3, spending, metrics)
    index = PositionIndex(configured_location(config.db_url, config.db_path), config.market, config.start_block)
    keeper = Keeper(
        config=config,
        reader=reader,
        index=index,
        tx=tx,
        metrics=metrics,
        health=health,
        signer=str(bot.signer.address),
        forward=forward,
        spending=spending,
    )
    attach_local_health(keeper, provider)
    if serve_metrics:
        serve_keeper_metrics(config, metrics, health)
    return keeper


def make_tx_manager(config: KeeperConfig, bot: Any, w3: Any, spending: Spending, metrics: KeeperMetrics) -> TxManager:
    """The signer's transaction manager: its nonces, its store of the
    transactions in flight, the brakes of ``spending`` before each send,
    the submission routes; RPC faults counted on ``metrics``."""
    provider = bot.provider
    return TxManager(
        w3,
        bot.signer,
        provider.network.ecosystem,
        provider.chain_id,
        fee_policy(config),
        dry_run=config.dry_run,
        on_rpc_error=lambda op: metrics.rpc_errors.labels(op=op).inc(),
        # Transactions in flight survive a restart (followed, not sent again).
        store=TxStore(tx_store_location(config.db_url, config.db_path), provider.chain_id, str(bot.signer.address)),
        gate=spending.gate,
        # Submission routes and each request's tip (keepers/submit.py, keepers/tipping.py).
        sender=submission_sender(config, w3),
        tip=request_tip(config, spending),
    )


def serve_keeper_metrics(config: KeeperConfig, metrics: KeeperMetrics | Any, health: HealthState) -> MetricsServer:
    """``/metrics`` (a keeper's metrics, or an ``exposition`` of several)
    and ``/healthz`` on the configured host and port; started."""
    server = MetricsServer(metrics, health, host=config.metrics_host, port=config.metrics_port,
                           policy=HealthPolicy.from_config(config)).start()
    log.info("metrics and health endpoint", url=f"http://{config.metrics_host}:{server.port}/metrics",
             health=f"http://{config.metrics_host}:{server.port}/healthz")
    return server


def make_spending(
    config: KeeperConfig, reader: ChainReader, signer: str, metrics: KeeperMetrics, brakes: Brakes | None = None,
    *, brake_metrics: bool = True,
) -> Spending:
    """The brakes, the live profit model and the treasury rules of
    ``config`` for ``signer``, their metrics on the keeper's registry
    (the brakes' too unless ``brake_metrics`` is False: brakes shared by
    several markets report on the first market's registry only)."""
    brakes = brakes or Brakes(limits_from_config(config))
    if brake_metrics:
        brakes.metrics = BrakeMetrics(metrics.registry)
    sweep = sweep_policy_from_config(config, signer)
    if sweep is None:
        log.warning("no profit_receiver: profit stays on the signing key", signer=signer)
    limits = brakes.limits
    log.info("brakes", max_tx_wei=limits.max_tx_wei, max_hour_wei=limits.max_hour_wei,
             max_day_wei=limits.max_day_wei, max_consecutive_failures=limits.max_consecutive_failures,
             balance_floor_wei=limits.balance_floor_wei, kill_file=str(limits.kill_file) if limits.kill_file else None)
    return Spending(
        reader=reader,
        signer=signer,
        market=config.market,
        base_token="",  # the market's asset, read at check_setup
        brakes=brakes,
        base_policy=ProfitPolicy.from_config(config),
        gas_model=gas_model_from_config(config),
        feed=config.eth_usd_feed,
        feed_policy=feed_policy_from_config(config),
        approval_policy=approval_policy_from_config(config),
        sweep_policy=sweep,
        l1_fee_oracle=config.l1_fee_oracle,
        metrics=SpendingMetrics(metrics.registry),
    )


def attach_local_health(keeper: Keeper, provider: Any, shared: SharedLogs | None = None,
                        rounds: RoundCache | None = None) -> None:
    """Health from the index on ``keeper`` when its config turns it on
    (``keepers/wiring_local.py``); ``shared``, ``rounds``: the one getLogs
    and the oracle rounds read once per block of a several-market keeper."""
    config = keeper.config
    if not config.local_health:
        return
    keeper.local = local_scanner(config, keeper.reader, keeper.index, keeper.metrics,
                                 list(market_at(config.market).contract_type.events),
                                 list(project.NavOracle.contract_type.events), provider.network.ecosystem, shared,
                                 rounds)
    log.info("health from the index", market=config.market, edge_bps=config.health_edge_bps,
             sweep_seconds=config.health_sweep_seconds, read_priced=list(config.read_priced_assets))


def build_fleet(config: KeeperConfig, bot: Any, *, serve_metrics: bool = True, brakes: Brakes | None = None) -> Fleet:
    """A keeper over every market of ``config.deployments`` (``keepers/fleet.py``)
    on ``bot.provider``, signing with ``bot.signer``: one reader, index,
    metrics registry (labelled with its market) and Spending per market;
    one web3 client, one :class:`TxManager` (one nonce sequence, one store
    of the transactions in flight), one set of brakes and one health state
    for them all; one ``/metrics`` exposing every market's registry."""
    provider = bot.provider
    config = with_effective_dry_run(config)
    signer = str(bot.signer.address)
    configs = market_configs(config)
    metrics = [keeper_metrics(c, bot) for c in configs]
    health = HealthState(dry_run=config.dry_run)
    w3 = keeper_web3(config, provider, metrics[0])
    readers = [make_reader(c, provider, w3=w3) for c in configs]
    brakes = brakes or Brakes(limits_from_config(config))
    spendings = [make_spending(c, r, signer, m, brakes, brake_metrics=i == 0)
                 for i, (c, r, m) in enumerate(zip(configs, readers, metrics))]
    # One transaction manager: the brakes are the signer's, so any market's
    # Spending asks the same ones; RPC faults counted on the first market.
    tx = make_tx_manager(config, bot, w3, spendings[0], metrics[0])
    keepers = tuple(
        Keeper(config=c, reader=r, index=PositionIndex(configured_location(c.db_url, c.db_path), c.market,
                                                       c.start_block),
               tx=MarketTx(tx, c.market), metrics=m, health=health, signer=signer, spending=s)
        for c, r, m, s in zip(configs, readers, metrics, spendings)
    )
    shared = SharedLogs(readers[0], provider.network.ecosystem)
    rounds = RoundCache()
    for keeper in keepers:
        attach_local_health(keeper, provider, shared, rounds)
    fleet = Fleet(keepers, tx, health, before_block=shared.reset)
    if serve_metrics:
        serve_keeper_metrics(config, exposition(metrics), health)
    return fleet
