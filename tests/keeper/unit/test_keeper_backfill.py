"""``Keeper.backfill`` and ``Keeper.sync`` on the chunked, checkpointed
backfill (keepers/backfill.py), against the scripted getLogs provider of
``test_backfill.py`` and a real PositionIndex: the regressions of issue 16
point 3 (5 % of calls answering 429, three 429s shrinking the chunk, an
error restarting the backfill from zero) at the keeper's own entry points."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from keepers.backfill import BackfillInterrupted
from keepers.chain import BlockRef, ChainReader
from keepers.config import load_config
from keepers.index import PositionIndex
from keepers.keeper import Keeper
from keepers.metrics import HealthState, KeeperMetrics
from keepers.rpc import RpcFailure
from keepers.rpc_policy import Failure, FailureKind

from conftest import MARKET
from test_backfill import DEPLOYED_AT, HEAD, Provider, history, reference, snapshot
from test_txmanager_node import KEEPER

RATE_LIMITED = Failure(FailureKind.RATE_LIMITED, "Too Many Requests", retry_after=0.0)


def _hash(number: int) -> str:
    return f"0x{number:064x}"


@dataclass
class Reader:
    """The head and the market's getLogs (one call per range, refusals raised)."""

    provider: Provider
    head_number: int = HEAD
    heads: list[int] = field(default_factory=list)

    def head(self) -> BlockRef:
        return BlockRef(number=self.head_number, hash=_hash(self.head_number), timestamp=0, base_fee=0)

    def block_hash(self, number: int) -> str:
        return _hash(number)

    def market_logs_once(self, start: int, end: int):
        return self.provider(start, end)

    # The reader's own chunked read, on the same getLogs (what the keeper
    # used before keepers.backfill).
    market_logs = ChainReader.market_logs


def _keeper(provider: Provider, chunk: int = 2_000) -> Keeper:
    config = load_config(env={
        "NAVLEND_KEEPER_MARKET": MARKET, "NAVLEND_KEEPER_LENS": "0x" + "1e" * 20,
        "NAVLEND_KEEPER_FLASH_LIQUIDATOR": "0x" + "f1" * 20, "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0",
        "NAVLEND_KEEPER_BACKFILL_CHUNK_BLOCKS": str(chunk), "NAVLEND_KEEPER_START_BLOCK": str(DEPLOYED_AT),
    })
    index = PositionIndex(":memory:", MARKET, start_block=config.start_block)
    return Keeper(config=config, reader=Reader(provider), index=index, tx=None, metrics=KeeperMetrics(),
                  health=HealthState(), signer=KEEPER)


def test_keeper_backfill__5pct_of_calls_429__completes_from_the_deployment_block():
    logs = history(every=3)
    provider = Provider(logs)
    keeper = _keeper(provider, chunk=100)
    # Every 20th getLogs answers 429 (5 % of calls), whatever the range.
    calls = [0]

    def flaky(lo, hi):
        calls[0] += 1
        if calls[0] % 20 == 0:
            raise RpcFailure("429", RATE_LIMITED)
        return provider(lo, hi)

    keeper.reader.provider = flaky

    applied = keeper.backfill()

    assert calls[0] >= 90 and calls[0] // 20 >= 4
    assert keeper.index.checkpoint() == HEAD
    assert keeper.index.checkpoint_hash() == _hash(HEAD)
    assert provider.ranges[0][0] == DEPLOYED_AT
    assert {hi - lo + 1 for lo, hi in provider.ranges} == {100}
    assert applied == sum(len(v) for v in logs.values())
    assert snapshot(keeper.index) == reference(logs)


def test_keeper_backfill__three_429s__the_chunk_keeps_its_size():
    logs = history()
    faults = {start: RpcFailure("429", RATE_LIMITED) for start in (1_000, 3_000, 5_000)}
    provider = Provider(logs, faults=faults)
    keeper = _keeper(provider)

    keeper.backfill()

    widths = [hi - lo + 1 for lo, hi in provider.ranges[:-1]]
    assert set(widths) == {2_000}, widths
    assert provider.ranges.count((3_000, 4_999)) == 2  # asked again, not halved
    assert keeper.index.checkpoint() == HEAD


def test_keeper_backfill__range_refusals__halved_then_grown_back():
    logs = history()
    provider = Provider(logs, max_range=1_000)
    keeper = _keeper(provider, chunk=2_000)

    keeper.backfill()

    assert keeper.index.checkpoint() == HEAD
    assert snapshot(keeper.index) == reference(logs)
    refused = [(lo, hi) for lo, hi in provider.ranges if hi - lo + 1 > 1_000]
    assert refused and max(hi - lo + 1 for lo, hi in provider.ranges if (lo, hi) not in refused) == 1_000


def test_keeper_backfill__error__checkpoint_at_last_chunk_and_resumed_there():
    logs = history()
    broken = RpcFailure("bad params", Failure(FailureKind.OTHER, "invalid params"))
    provider = Provider(logs, faults={5_000: broken})
    keeper = _keeper(provider)

    with pytest.raises(BackfillInterrupted) as stopped:
        keeper.backfill()
    assert stopped.value.resume_from == 5_000
    assert keeper.index.checkpoint() == 4_999

    provider.ranges.clear()
    keeper.backfill()
    assert provider.ranges[0] == (5_000, 6_999)  # resumed, not restarted from the deployment
    assert keeper.index.checkpoint() == HEAD
    assert snapshot(keeper.index) == reference(logs)


def test_keeper_sync__after_an_outage__catches_up_in_chunks_at_the_learned_size():
    logs = history()
    provider = Provider(logs, max_range=500)
    keeper = _keeper(provider)
    keeper.backfill()
    refusals_in_backfill = sum(1 for lo, hi in provider.ranges if hi - lo + 1 > 500)
    provider.ranges.clear()

    later = HEAD + 3_000
    keeper.reader.head_number = later
    keeper.sync(keeper.reader.head())

    assert refusals_in_backfill > 0
    assert provider.ranges and all(hi - lo + 1 <= 500 for lo, hi in provider.ranges)  # no refusal again
    assert provider.ranges[0][0] == HEAD + 1
    assert keeper.index.checkpoint() == later and keeper.index.checkpoint_hash() == _hash(later)


def test_keeper_sync__getlogs_fails__block_faulted_checkpoint_kept():
    logs = history()
    keeper = _keeper(Provider(logs))
    keeper.backfill()
    keeper.reader.head_number = HEAD + 10
    down = RpcFailure("unreachable", Failure(FailureKind.OTHER, "no endpoint"))
    keeper.reader.provider = Provider(logs, faults={HEAD + 1: down})

    with pytest.raises(BackfillInterrupted):
        keeper.sync(keeper.reader.head())

    assert keeper.index.checkpoint() == HEAD
