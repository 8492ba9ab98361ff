"""Health from the index wired into the keeper (keepers/localkeeper.py,
``Keeper.sync`` and ``Keeper._scan_and_act``), without a chain: a scripted
chain of logs (the market's admin and position events, the NAV oracles'
rounds) read through one getLogs per range, the Lens answered by the
reference model. The Lens is asked only about the recheck set; a sweep's
mismatch is counted; a missing input falls back to the Lens path; the index
is compacted on its cadence; a reorg forgets the inputs above it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from structlog.testing import capture_logs

from navlend.constants import WAD

from keepers.chain import BlockRef
from keepers.config import load_config
from keepers.healthinputs import InputKind
from keepers.index import PositionIndex
from keepers.keeper import Keeper
from keepers.localhealth import DEFAULT_EDGE_BPS
from keepers.localkeeper import (
    LocalScanner,
    compaction_due,
    split_logs,
    unanswered_oracles,
    unfollowed_assets,
)
from keepers.localscan import LocalHealth
from keepers.metrics import HealthState, KeeperMetrics
from keepers.schedule import shard_of
from keepers.types import AccountHealth, to_address

from conftest import BORROWER, CONFIG_ENV, FUND_A, FUND_C, MARKET, NOW, OTHER_BORROWER, lens_health, model_market, open_position
from test_localhealth_inputs import ORACLE_A, ORACLE_C
from test_txmanager_node import KEEPER

USD = 10**6
ORACLE_X = to_address("0x" + "0e" * 20)  # an oracle the keeper does not follow


def _hash(number: int, fork: str = "a") -> str:
    return f"0x{fork}{number:063x}"


def entry(name: str, args: dict, block: int, i: int, emitter: str = MARKET, fork: str = "a") -> dict[str, Any]:
    """A decoded log as Ape gives it (the fields the keeper reads)."""
    return {"event_name": name, "event_arguments": args, "contract_address": emitter, "block_number": block,
            "block_hash": _hash(block, fork), "log_index": i, "transaction_hash": _hash(block, fork)}


def listing(token: str, asset_id: int, oracle: str, block: int, threshold: int = 9_000) -> list[dict[str, Any]]:
    return [
        entry("AssetListed", {"token": token, "asset_id": asset_id, "oracle": oracle}, block, 0),
        entry("AssetRiskSet", {"token": token, "ltv_bps": 8_500, "threshold_bps": threshold, "bonus_bps": 300}, block, 1),
        entry("AssetLimitsSet", {"token": token, "supply_cap": 10**30, "price_cap": 0, "max_oracle_age": 360_000}, block, 2),
        entry("AssetOracleSet", {"token": token, "oracle": oracle}, block, 3),
    ]


def nav(oracle: str, answer: int, block: int, i: int = 0, fork: str = "a") -> dict[str, Any]:
    args = {"round_id": 1, "answer": answer, "as_of": NOW - 100, "published_at": NOW - 100}
    return entry("NavPublished", args, block, i, emitter=oracle, fork=fork)


@dataclass
class Chain:
    """The scripted chain: its logs, head and block hashes; the model
    market behind the Lens and the reads; every call counted by method."""

    m: Any
    prices: dict[int, int]
    logs: list[dict[str, Any]] = field(default_factory=list)
    head_number: int = 4
    fork_from: int | None = None  # blocks from here on carry fork "b" hashes
    calls: Counter = field(default_factory=Counter)
    lens_asked: list[tuple[str, ...]] = field(default_factory=list)
    lens_error: dict[str, int] = field(default_factory=dict)  # account -> a debt the Lens gets wrong
    market: str = MARKET
    state_from: int = 0  # the node answers for blocks from here only (a loaded state dump)
    market_state_blocks: list[int] = field(default_factory=list)

    def fork(self, number: int) -> str:
        return "b" if self.fork_from is not None and number >= self.fork_from else "a"

    # the reader
    def block(self, number: int) -> BlockRef:
        self.calls["eth_getBlockByNumber"] += 1
        return BlockRef(number=number, hash=_hash(number, self.fork(number)), timestamp=NOW, base_fee=0,
                        parent_hash=_hash(number - 1, self.fork(number - 1)))

    def head(self) -> BlockRef:
        return self.block(self.head_number)

    def block_hash(self, number: int) -> str:
        return self.block(number).hash

    def fetch_logs(self, start: int, end: int) -> list[dict[str, Any]]:
        self.calls["eth_getLogs"] += 1
        return [e for e in self.logs if start <= e["block_number"] <= end and e["block_hash"][2] == self.fork(e["block_number"])]

    def market_logs_once(self, start: int, end: int):
        """The position logs alone (a keeper without local health)."""
        return split_logs(self.fetch_logs(start, end), self.market)[0]

    def healths(self, accounts, block) -> list[AccountHealth]:
        self.calls["lens"] += 1
        self.lens_asked.append(tuple(accounts))
        out = []
        for account in accounts:
            health = lens_health(self.m, account, self.prices)
            if account in self.lens_error:
                health = replace(health, debt=self.lens_error[account])
            out.append(health)
        return out

    # the health reads
    def market_state(self, block: int) -> tuple[int, int, int, int, int]:
        self.calls["market_state"] += 1
        self.market_state_blocks.append(block)
        if block < self.state_from:
            raise RuntimeError(f"BlockOutOfRangeError: block height is {self.head_number} but requested was {block}")
        a = self.m.accrued(NOW)
        return (self.m.cash, self.m.total_scaled * a.index // WAD, a.reserves, a.index, self.m.total_scaled)

    def value_exponent(self, token: str, block: int) -> int:
        self.calls["value_exponent"] += 1
        return self.m.assets[self.m.asset_id(token)].exponent

    def asset_price(self, token: str, block: int) -> int:
        self.calls["asset_price"] += 1
        return self.prices[self.m.asset_id(token)]

    def latest_round(self, oracle: str, block: int) -> tuple[int, int]:
        self.calls["latest_round"] += 1
        return self.prices[0 if oracle == ORACLE_A else 1], NOW - 100


def book(oracle_c: str = ORACLE_C, navs: bool = True) -> Chain:
    """Fund A (oracle A) and fund C listed; the borrower at a health of
    0.9989 (100 A at $10, 901 of debt), the other borrower healthy (1,000 C
    at $1, 500 of debt)."""
    m = model_market()
    open_position(m, BORROWER, {0: 100 * USD}, 901 * USD)
    open_position(m, OTHER_BORROWER, {1: 10**21}, 500 * USD)
    chain = Chain(m, {0: 10 * 10**8, 1: 10**8})
    r = m.rates
    chain.logs += listing(FUND_A, 0, ORACLE_A, 1)
    chain.logs += listing(FUND_C, 1, oracle_c, 2)
    chain.logs.append(entry("RatesSet", dict(base_rate=r.base_rate, slope1=r.slope1, slope2=r.slope2,
                                             kink_bps=r.kink_bps, reserve_factor_bps=r.reserve_factor_bps), 2, 5))
    if navs:
        chain.logs += [nav(ORACLE_A, 10 * 10**8, 3), nav(ORACLE_C, 10**8, 3, 1)]
    chain.logs += [
        entry("SupplyCollateral", {"on_behalf": BORROWER, "token": FUND_A, "amount": 1, "collateral": 100 * USD}, 4, 0),
        entry("Borrow", {"on_behalf": BORROWER, "scaled_debt": 901 * USD, "borrow_index": WAD}, 4, 1),
        entry("SupplyCollateral", {"on_behalf": OTHER_BORROWER, "token": FUND_C, "amount": 1, "collateral": 10**21}, 4, 2),
        entry("Borrow", {"on_behalf": OTHER_BORROWER, "scaled_debt": 500 * USD, "borrow_index": WAD}, 4, 3),
    ]
    return chain


@dataclass
class Clock:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


def keeper_on(chain: Chain, *, sweep_seconds: int = 0, clock: Clock | None = None, compact_every: int = 0,
              shard: tuple[int, int] = (1, 0), **env: str) -> tuple[Keeper, list[AccountHealth]]:
    """A scan-only keeper with local health on ``chain``; the second value
    collects what it acts on (the Lens-confirmed liquidatable)."""
    config = load_config(env={**CONFIG_ENV, "NAVLEND_KEEPER_NAV_ORACLES": f"{ORACLE_A},{ORACLE_C}",
                              "NAVLEND_KEEPER_START_BLOCK": "1", "NAVLEND_KEEPER_FINALITY_DEPTH": "2",
                              "NAVLEND_KEEPER_COMPACT_EVERY_BLOCKS": str(compact_every),
                              **{f"NAVLEND_KEEPER_{key}": value for key, value in env.items()}})
    acted: list[AccountHealth] = []
    index = PositionIndex(":memory:", MARKET, start_block=1)
    keeper = Keeper(config=config, reader=chain, index=index, tx=None, metrics=KeeperMetrics(), health=HealthState(),
                    signer=KEEPER, forward=lambda block, healths: acted.extend(healths))
    keeper.local = LocalScanner(
        local=LocalHealth(index, chain, edge_bps=config.health_edge_bps), reads=chain, market=MARKET,
        followed_oracles=config.nav_oracles, fetch_logs=chain.fetch_logs, healths=chain.healths,
        metrics=keeper.metrics, read_priced=frozenset(config.read_priced_assets), sweep_seconds=sweep_seconds,
        near_edge_hf_wad=config.near_edge_hf_wad, shard_count=shard[0], shard_id=shard[1],
        clock=clock or Clock(), block_of=chain.block,
    )
    return keeper, acted


def metric(keeper: Keeper, name: str) -> float:
    return keeper.metrics.registry.get_sample_value(name) or 0.0


# ---------------------------------------------------------------- the Lens asked about the recheck set only


def test_scan__local_health__lens_asked_only_about_candidates():
    chain = book()
    keeper, acted = keeper_on(chain)
    report = keeper.on_block()
    assert report.error == ""
    assert chain.lens_asked == [(BORROWER,)]  # the healthy borrower never asked about
    assert [h.account for h in acted] == [BORROWER]
    assert metric(keeper, "keeper_positions_tracked") == 2
    assert metric(keeper, "keeper_health_rechecked_total") == 1
    assert metric(keeper, "keeper_health_fallbacks_total") == 0


def after_fund_c_drop() -> tuple[Chain, Keeper, list[AccountHealth]]:
    """Blocks 4 and 5, fund C's NAV halving at 5 (the other borrower's 450
    against 500): both borrowers then go to the Lens."""
    chain = book()
    keeper, acted = keeper_on(chain)
    keeper.on_block()
    chain.head_number = 5
    chain.prices[1] = 5 * 10**7
    chain.logs.append(nav(ORACLE_C, 5 * 10**7, 5))
    keeper.on_block()
    assert chain.lens_asked[-1] == (BORROWER, OTHER_BORROWER)
    return chain, keeper, acted


def test_scan__local_health__nav_drop_in_the_logs__newly_sunk_position_rechecked():
    _chain, _keeper, acted = after_fund_c_drop()
    assert {h.account for h in acted} == {BORROWER, OTHER_BORROWER}


def test_scan__local_health__lens_says_healthy__nothing_acted_on():
    chain = book()
    keeper, acted = keeper_on(chain)
    chain.prices[0] = 11 * 10**8  # the chain's price moved, and no event said so: the Lens wins
    keeper.on_block()
    assert chain.lens_asked == [(BORROWER,)]
    assert acted == []


def test_scan__local_health__edge_band__near_position_rechecked_far_one_not():
    # 1,000 C at $1 (liquidation value 900) against 897: 0.33 % above the edge, inside 50 bps.
    chain = book_with_other_debt(897)
    keeper, acted = keeper_on(chain)
    keeper.on_block()
    assert chain.lens_asked == [(BORROWER, OTHER_BORROWER)]
    assert [h.account for h in acted] == [BORROWER]
    narrow, _ = keeper_on(book_with_other_debt(897), HEALTH_EDGE_BPS="10")
    narrow.on_block()
    assert narrow.reader.lens_asked == [(BORROWER,)]


def book_with_other_debt(debt: int) -> Chain:
    chain = book()
    chain.logs[-1] = entry("Borrow", {"on_behalf": OTHER_BORROWER, "scaled_debt": debt * USD, "borrow_index": WAD}, 4, 3)
    chain.m.scaled[OTHER_BORROWER] = debt * USD
    return chain


def test_scan__local_health__shards__each_asks_the_lens_about_its_own():
    chain = book_with_other_debt(950)  # both liquidatable
    asked = []
    for shard in range(2):
        chain.lens_asked.clear()
        keeper, _ = keeper_on(chain, shard=(2, shard), SHARD_COUNT="2", SHARD_ID=str(shard), REDIS_URL="redis://x")
        keeper.on_block()
        asked += [a for call in chain.lens_asked for a in call]
        assert all(shard_of(a, 2) == shard for call in chain.lens_asked for a in call)
    assert sorted(asked) == sorted([BORROWER, OTHER_BORROWER])


# ---------------------------------------------------------------- steady blocks: calls


def test_sync__local_health__steady_block__one_head_one_getlogs_nothing_else():
    chain = book()
    keeper, _ = keeper_on(chain)
    keeper.on_block()
    for number in (5, 6, 7):
        chain.head_number = number
        chain.calls.clear()
        keeper.on_block()
        # The borrower sits inside the band: its one Lens call is the only other.
        assert dict(chain.calls) == {"eth_getBlockByNumber": 1, "eth_getLogs": 1, "lens": 1}, number


def test_sync__local_health__accruing_event__books_read_once_at_its_block():
    chain = book()
    keeper, _ = keeper_on(chain)
    keeper.on_block()
    chain.head_number = 6
    chain.logs.append(entry("Deposit", {"sender": KEEPER, "owner": KEEPER, "assets": 1, "shares": 1}, 5, 0))
    chain.logs.append(entry("Deposit", {"sender": KEEPER, "owner": KEEPER, "assets": 1, "shares": 1}, 6, 0))
    chain.calls.clear()
    keeper.on_block()
    assert chain.calls["market_state"] == 1 and chain.calls["eth_getLogs"] == 1
    assert keeper.index.health_inputs()[(InputKind.BOOK, "")][1] == NOW


# ---------------------------------------------------------------- the sweep


def test_sweep__local_equals_lens__no_mismatch_counted():
    chain = book()
    clock = Clock()
    keeper, acted = keeper_on(chain, sweep_seconds=3_600, clock=clock)
    keeper.on_block()
    assert chain.lens_asked == [(BORROWER, OTHER_BORROWER)]  # the first block sweeps every position
    assert metric(keeper, "keeper_health_sweeps_total") == 1
    assert metric(keeper, "keeper_health_mismatches_total") == 0
    assert [h.account for h in acted] == [BORROWER]  # the sweep's read is acted on
    chain.head_number, clock.now = 5, clock.now + 3_599
    keeper.on_block()
    assert metric(keeper, "keeper_health_sweeps_total") == 1 and chain.lens_asked[-1] == (BORROWER,)
    chain.head_number, clock.now = 6, clock.now + 1
    keeper.on_block()
    assert metric(keeper, "keeper_health_sweeps_total") == 2


def test_sweep__lens_differs__mismatch_logged_with_its_fields_and_counted():
    chain = book()
    chain.lens_error[OTHER_BORROWER] = 501 * USD
    keeper, _ = keeper_on(chain, sweep_seconds=60)
    with capture_logs() as logs:
        keeper.on_block()
    assert metric(keeper, "keeper_health_mismatches_total") == 1
    (warning,) = [e for e in logs if e["event"] == "local health differs from the Lens"]
    assert warning["account"] == OTHER_BORROWER and warning["lens_debt"] == 501 * USD
    assert warning["local_debt"] == 500 * USD
    # A mismatch is read once more before it counts.
    assert chain.lens_asked[-1] == (OTHER_BORROWER,)


def test_sweep__lens_differs_once_then_agrees__not_counted():
    chain = book()
    chain.lens_error[OTHER_BORROWER] = 501 * USD
    healths = chain.healths

    def then_right(accounts, block):
        out = healths(accounts, block)
        chain.lens_error.clear()  # the head moved past the block: the second read is right
        return out

    chain.healths = then_right  # type: ignore[method-assign]
    keeper, _ = keeper_on(chain, sweep_seconds=60)
    keeper.local.healths = chain.healths
    keeper.on_block()
    assert metric(keeper, "keeper_health_sweeps_total") == 1
    assert metric(keeper, "keeper_health_mismatches_total") == 0


# ---------------------------------------------------------------- fallback


def test_scan__local_health__input_missing__every_position_through_the_lens_with_a_warning():
    chain = book(oracle_c=ORACLE_X)  # fund C read-priced (its oracle is not followed)
    chain.logs = [e for e in chain.logs if e["event_name"] != "NavPublished"]
    keeper, acted = keeper_on(chain)
    keeper.local.reads = BrokenRounds(chain)
    with capture_logs() as logs:
        keeper.on_block()
        chain.head_number = 5
        keeper.on_block()
    assert metric(keeper, "keeper_health_fallbacks_total") == 2
    warnings = [e for e in logs if e["event"] == "local health: an input is missing; scanning through the Lens"]
    assert len(warnings) == 1 and "price" in warnings[0]["missing"]  # once per cause
    # The Lens path: every open position read (the start's full scan).
    assert set(chain.lens_asked[0]) == {BORROWER, OTHER_BORROWER}
    assert [h.account for h in acted if h.account == BORROWER]


class BrokenRounds:
    """Reads whose ``latest_round`` fails to give a round (a feed not
    deployed yet): the input stays missing."""

    def __init__(self, chain: Chain):
        self.chain = chain

    def latest_round(self, oracle: str, block: int) -> tuple[int, int]:
        from keepers.healthinputs import MissingInput

        raise MissingInput(f"{oracle}: no round (price)")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.chain, name)


def two_blocks(chain: Chain) -> tuple[Keeper, list[AccountHealth]]:
    """Blocks 4 and 5 worked locally (no fallback); the borrower acted on at both."""
    keeper, acted = keeper_on(chain)
    for number in (4, 5):
        chain.head_number = number
        keeper.on_block()
    assert metric(keeper, "keeper_health_fallbacks_total") == 0
    assert [h.account for h in acted] == [BORROWER, BORROWER]
    return keeper, acted


def test_scan__local_health__oracle_not_followed__its_round_read_each_block():
    chain = book(oracle_c=ORACLE_X)
    two_blocks(chain)
    assert chain.calls["latest_round"] == 2  # oracle X, once a block
    assert chain.calls["asset_price"] == 0  # priced by the market's rule, not asked


def test_scan__local_health__read_priced_asset__its_market_price_read_each_block():
    chain = book()
    keeper, acted = keeper_on(chain, READ_PRICED_ASSETS=FUND_C)
    for number in (4, 5):
        chain.head_number = number
        keeper.on_block()
    assert chain.calls["asset_price"] == 2  # fund C's asset_price, once a block
    assert [h.account for h in acted] == [BORROWER, BORROWER]


def test_round_cache__three_markets_one_block__one_read_then_a_new_block_reads_again():
    from keepers.healthreads import RoundCache

    cache, reads = RoundCache(), []

    def read():
        reads.append(1)
        return (10**8, 1_000)

    assert [cache.get(ORACLE_X, 7, read) for _ in range(3)] == [(10**8, 1_000)] * 3
    assert len(reads) == 1
    cache.get(ORACLE_A, 7, read)
    cache.get(ORACLE_X, 8, read)
    assert len(reads) == 3


def test_scan__local_health__round_before_the_index__read_once():
    chain = book(navs=False)
    two_blocks(chain)
    assert chain.calls["latest_round"] == 2  # oracle A and oracle C, once
    assert chain.lens_asked == [(BORROWER,), (BORROWER,)]


def test_scan__local_health__inputs_back__local_again():
    chain = book()
    keeper, _ = keeper_on(chain)
    real = keeper.local.local.inputs_at
    from keepers.healthinputs import MissingInput

    def missing(number):
        raise MissingInput("the books")

    keeper.local.local.inputs_at = missing  # type: ignore[method-assign]
    keeper.on_block()
    assert metric(keeper, "keeper_health_fallbacks_total") == 1
    keeper.local.local.inputs_at = real  # type: ignore[method-assign]
    chain.head_number = 5
    chain.lens_asked.clear()
    keeper.on_block()
    assert chain.lens_asked == [(BORROWER,)]


def test_scan__local_health__books_of_an_old_accruing_block__read_at_the_head_local_at_once():
    chain = book()
    keeper, acted = keeper_on(chain)
    chain.head_number = 4 + 500  # far from the accruing block: a node holds no state there
    chain.state_from = chain.head_number
    keeper.on_block()
    assert chain.calls["market_state"] == 1
    assert chain.market_state_blocks == [chain.head_number]  # the head's state holds the books
    assert metric(keeper, "keeper_health_fallbacks_total") == 0
    assert chain.lens_asked == [(BORROWER,)]
    assert [h.account for h in acted] == [BORROWER]


def test_scan__local_health__books_unreadable_at_the_head__lens_path_warned():
    chain = book()
    chain.state_from = 10**9  # the node answers no state at all
    keeper, _ = keeper_on(chain)
    with capture_logs() as logs:
        keeper.on_block()
    assert metric(keeper, "keeper_health_fallbacks_total") == 1
    (warning,) = [e for e in logs if e["event"].startswith("local health: an input is missing")]
    assert "the books at block 4: RuntimeError: BlockOutOfRangeError" in warning["missing"]
    assert set(chain.lens_asked[0]) == {BORROWER, OTHER_BORROWER}


def test_backfill__index_built_before_health_inputs__inputs_read_once_then_local():
    chain = book()
    old, _ = keeper_on(chain)
    old.local = None  # the index of a keeper without local health
    old.backfill()
    assert old.index.health_inputs() == {}
    keeper, acted = keeper_on(chain)
    keeper.index = keeper.local.local.index = old.index
    chain.calls.clear()
    keeper.backfill()
    assert chain.calls["eth_getLogs"] == 1  # blocks 1-4, the checkpoint's range, inputs only
    assert old.index.stats()["facts"] == 6  # the position facts untouched
    chain.head_number = 5
    keeper.on_block()
    assert metric(keeper, "keeper_health_fallbacks_total") == 0
    assert chain.lens_asked[-1] == (BORROWER,)
    chain.calls.clear()
    keeper.backfill()  # inputs already there: nothing read again
    assert chain.calls["eth_getLogs"] == 0


def test_scan__local_health__oracle_changed__exponent_read_again():
    chain = book()
    keeper, _ = keeper_on(chain)
    keeper.on_block()
    assert chain.calls["value_exponent"] == 2  # each listing, once
    chain.head_number = 5
    keeper.on_block()
    assert chain.calls["value_exponent"] == 2
    chain.head_number = 6
    chain.logs.append(entry("AssetOracleSet", {"token": FUND_A, "oracle": ORACLE_C}, 6, 0))
    keeper.on_block()
    assert chain.calls["value_exponent"] == 3


def test_fetch__inputs_stored_with_the_range_before_any_read():
    chain = book()
    keeper, _ = keeper_on(chain)
    positions = keeper.local.fetch(1, 4)
    assert len(positions) == 4
    stored = keeper.index.health_inputs()
    assert stored[(InputKind.ACCRUAL, "")] == (4,) and stored[(InputKind.ANSWER, ORACLE_A)] == (10 * 10**8, NOW - 100)
    assert chain.calls["market_state"] == chain.calls["value_exponent"] == 0
    assert keeper.local.applied(chain.head()) and not keeper.local.applied(chain.head())  # a round moved, once


# ---------------------------------------------------------------- compaction


def test_compaction_due__cadence():
    assert not compaction_due(100, None, 0)
    assert compaction_due(100, None, 10)
    assert not compaction_due(109, 100, 10)
    assert compaction_due(110, 100, 10)
    assert compaction_due(50, 100, 10)  # a rewound chain
    with pytest.raises(ValueError, match="compaction period"):
        compaction_due(1, None, -1)


def test_keeper__compaction__every_n_blocks_below_the_finalized_block():
    chain = book()
    keeper, _ = keeper_on(chain, compact_every=3)
    superseded = entry("SupplyCollateral", {"on_behalf": BORROWER, "token": FUND_A, "amount": 1, "collateral": 100 * USD}, 5, 0)
    chain.logs.append(superseded)
    for number in range(4, 12):
        chain.head_number = number
        keeper.on_block()
    # Compacted at 4, 7 and 10: block 4's collateral fact of the borrower and
    # its first borrow index are superseded by final facts (7 facts -> 5).
    assert metric(keeper, "keeper_index_compactions_total") == 3
    assert keeper.index.stats()["facts"] == 5
    assert keeper.index.position(BORROWER).collateral == {FUND_A: 100 * USD}


def test_keeper__compaction_off__index_keeps_every_fact():
    chain = book()
    keeper, _ = keeper_on(chain, compact_every=0)
    for number in range(4, 12):
        chain.head_number = number
        keeper.on_block()
    assert metric(keeper, "keeper_index_compactions_total") == 0


# ---------------------------------------------------------------- reorgs


def test_sync__local_health__reorg__inputs_above_forgotten_screen_follows():
    chain, keeper, _ = after_fund_c_drop()
    # Block 5 is replaced by one without the NAV drop; the head is now 6.
    chain.fork_from, chain.head_number = 5, 6
    chain.prices[1] = 10**8
    chain.logs = [e for e in chain.logs if e["block_number"] < 5]
    keeper.on_block()
    assert keeper.index.health_inputs()[(InputKind.ANSWER, ORACLE_C)] == (10**8, NOW - 100)
    assert chain.lens_asked[-1] == (BORROWER,)
    assert metric(keeper, "keeper_reorgs_total") == 1


# ---------------------------------------------------------------- pure parts


def test_split_logs__positions_and_inputs_by_block():
    chain = book()
    positions, blocks = split_logs(reversed(chain.logs), MARKET)
    assert [p.event.value for p in positions] == ["SupplyCollateral", "Borrow", "SupplyCollateral", "Borrow"]
    assert [b.number for b in blocks] == [1, 2, 3, 4]
    assert blocks[3].accrues and not blocks[2].accrues
    assert blocks[2].market_events == () and len(blocks[2].inputs) == 2  # the oracles' rounds


def test_split_logs__oracle_event_named_like_a_position_event__not_a_position():
    other = entry("Borrow", {"on_behalf": BORROWER, "scaled_debt": 1, "borrow_index": WAD}, 7, 0, emitter=ORACLE_A)
    positions, blocks = split_logs([other], MARKET)
    assert positions == [] and blocks[0].market_events == ()


def test_split_logs__bad_arguments__clear_error():
    with pytest.raises(ValueError, match="AssetRiskSet log without argument"):
        split_logs([entry("AssetRiskSet", {"token": FUND_A}, 1, 0)], MARKET)


def test_unfollowed_assets_and_unanswered_oracles():
    current = {
        (InputKind.ASSET_ID, FUND_A): (0,), (InputKind.ORACLE, FUND_A): (int(ORACLE_A, 16),),
        (InputKind.ASSET_ID, FUND_C): (1,), (InputKind.ORACLE, FUND_C): (int(ORACLE_X, 16),),
        (InputKind.ANSWER, ORACLE_C): (1, 1),
    }
    assert unfollowed_assets(current, [ORACLE_A, ORACLE_C]) == {FUND_C}
    assert unanswered_oracles(current, {FUND_C}) == {ORACLE_A}
    current[(InputKind.ANSWER, ORACLE_A)] = (1, 1)
    assert unanswered_oracles(current, {FUND_C}) == set()


def test_config__local_health_fields__defaults_and_errors():
    config = load_config(env=CONFIG_ENV)
    assert config.health_edge_bps == DEFAULT_EDGE_BPS and config.health_sweep_seconds == 3_600
    assert config.read_priced_assets == () and config.compact_every_blocks == 1_000
    given = load_config(env={**CONFIG_ENV, "NAVLEND_KEEPER_READ_PRICED_ASSETS": f"{FUND_A.lower()}, {FUND_C}",
                             "NAVLEND_KEEPER_LOCAL_HEALTH": "false", "NAVLEND_KEEPER_HEALTH_SWEEP_SECONDS": "0"})
    assert given.read_priced_assets == (FUND_A, FUND_C) and not given.local_health
    with pytest.raises(ValueError, match="read_priced_assets: listed more than once: " + FUND_A):
        load_config(env={**CONFIG_ENV, "NAVLEND_KEEPER_READ_PRICED_ASSETS": f"{FUND_A},{FUND_A.lower()}"})
    with pytest.raises(ValueError) as bad:
        load_config(env={**CONFIG_ENV, "NAVLEND_KEEPER_HEALTH_EDGE_BPS": "10001",
                         "NAVLEND_KEEPER_COMPACT_EVERY_BLOCKS": "-1", "NAVLEND_KEEPER_LOCAL_HEALTH": "maybe"})
    text = str(bad.value)
    assert "health_edge_bps" in text and "compact_every_blocks" in text and "local_health: must be true or false" in text
