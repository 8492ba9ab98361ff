"""Health from the index as ``build_keeper`` attaches it
(``keepers/localkeeper.py``; kept apart from keepers/wiring.py, which the
rest of the keeper's parts share): the one ``getLogs`` over the market and
the NAV oracles, decoded with both contracts' event ABIs; for several
markets, one ``getLogs`` shared by them all (:class:`SharedLogs`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_utils import keccak

from keepers.chain import ChainReader, event_topics
from keepers.config import KeeperConfig
from keepers.healthreads import ChainHealthReads, RoundCache
from keepers.index import PositionIndex
from keepers.localkeeper import MARKET_EVENTS, ORACLE_EVENTS, LocalScanner
from keepers.localscan import LocalHealth
from keepers.metrics import KeeperMetrics


class SharedLogs:
    """One ``getLogs`` per block for every market of a several-market keeper
    (``keepers/fleet.py``): the first market to ask for a range fetches the
    logs of every market and NAV oracle the fleet follows, over the union of
    their topics; the next markets asking for that range, or a range inside
    it, are served from it, each only its own addresses' logs. Served only
    within one block: the fleet calls :meth:`reset` before each (a reorg
    between blocks can replace what was fetched)."""

    def __init__(self, reader: ChainReader, ecosystem: Any) -> None:
        self.reader = reader
        self.ecosystem = ecosystem
        self.addresses: list[str] = []
        self.topics: list[str] = []
        self._range: tuple[int, int] | None = None
        self._raw: list[Any] = []

    def reset(self) -> None:
        self._range = None
        self._raw = []

    def fetcher(self, addresses: list[str], topics: list[str], abis: list[Any]) -> Callable[[int, int], list[Any]]:
        """A market's ``fetch_logs``: its ``addresses``' logs, decoded with
        its ``abis``, from the shared fetch."""
        self.addresses += [a for a in addresses if a not in self.addresses]
        self.topics += [t for t in topics if t not in self.topics]
        wanted = {a.lower() for a in addresses}

        def fetch_logs(start: int, end: int) -> list[Any]:
            mine = [r for r in self._raw_for(start, end)
                    if str(r["address"]).lower() in wanted and start <= int(r["blockNumber"]) <= end]
            return list(self.ecosystem.decode_logs([dict(r) for r in mine], *abis)) if mine else []

        return fetch_logs

    def _raw_for(self, start: int, end: int) -> list[Any]:
        if self._range is not None and self._range[0] <= start and end <= self._range[1]:
            return self._raw
        self._raw = list(self.reader.logs_of(start, end, self.addresses, self.topics))
        self._range = (start, end)
        return self._raw


def local_scanner(
    config: KeeperConfig, reader: ChainReader, index: PositionIndex, metrics: KeeperMetrics,
    market_events: list[Any], oracle_events: list[Any], ecosystem: Any, shared: SharedLogs | None = None,
    round_cache: RoundCache | None = None,
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

    def own_logs(start: int, end: int) -> list[Any]:
        raw = reader.logs_of(start, end, addresses, topics)
        return list(ecosystem.decode_logs([dict(r) for r in raw], *abis)) if raw else []

    fetch_logs = own_logs if shared is None else shared.fetcher(addresses, topics, abis)

    reads = ChainHealthReads(reader, round_cache)
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
