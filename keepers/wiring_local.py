"""Health from the index as ``build_keeper`` attaches it
(``keepers/localkeeper.py``; kept apart from keepers/wiring.py, which the
rest of the keeper's parts share): the one ``getLogs`` over the market and
the NAV oracles, decoded with both contracts' event ABIs."""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from keepers.chain import ChainReader, event_topics
from keepers.config import KeeperConfig
from keepers.healthreads import ChainHealthReads
from keepers.index import PositionIndex
from keepers.localkeeper import MARKET_EVENTS, ORACLE_EVENTS, LocalScanner
from keepers.localscan import LocalHealth
from keepers.metrics import KeeperMetrics


def local_scanner(
    config: KeeperConfig, reader: ChainReader, index: PositionIndex, metrics: KeeperMetrics,
    market_events: list[Any], oracle_events: list[Any], ecosystem: Any,
) -> LocalScanner:
    """The keeper's :class:`LocalScanner` on ``reader``: its logs are the
    market's ``MARKET_EVENTS`` and the configured NAV oracles'
    ``ORACLE_EVENTS`` in one ``getLogs`` per range, decoded by Ape
    (``ecosystem.decode_logs``) with the contracts' event ABIs
    (``market_events``, ``oracle_events``: Ape ``EventABI``s)."""
    rounds = [e for e in oracle_events if e.name in ORACLE_EVENTS]
    missing = sorted(set(ORACLE_EVENTS) - {e.name for e in rounds})
    if missing:
        raise ValueError(f"the NAV oracle's ABI has no event {', '.join(missing)}")
    abis = [e for e in market_events if e.name in MARKET_EVENTS] + rounds
    topics = event_topics(MARKET_EVENTS) + ["0x" + keccak(text=e.selector).hex() for e in rounds]
    addresses = [reader.market, *config.nav_oracles]

    def fetch_logs(start: int, end: int) -> list[Any]:
        raw = reader.logs_of(start, end, addresses, topics)
        return list(ecosystem.decode_logs([dict(r) for r in raw], *abis)) if raw else []

    reads = ChainHealthReads(reader)
    return LocalScanner(
        local=LocalHealth(index, reads, edge_bps=config.health_edge_bps),
        reads=reads,
        market=reader.market,
        followed_oracles=tuple(config.nav_oracles),
        fetch_logs=fetch_logs,
        healths=reader.healths,
        metrics=metrics,
        read_priced=frozenset(config.read_priced_assets),
        sweep_seconds=config.health_sweep_seconds,
        near_edge_hf_wad=config.near_edge_hf_wad,
        shard_count=config.shard_count,
        shard_id=config.shard_id,
        block_of=reader.block,
    )
