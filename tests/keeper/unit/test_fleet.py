"""Several markets in one keeper (``keepers/fleet.py``), without a chain:
a fake node answers the reads of three markets' keepers, and one
recording transaction manager (the node double of
``test_txmanager_node.py``) is the signer's, shared through
:class:`MarketTx` views."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from keepers.chain import BlockRef
from keepers.config import load_config
from keepers.fleet import Fleet, MarketTx
from keepers.index import PositionIndex
from keepers.keeper import CONTEXT_REFRESH_BLOCKS, Keeper, StartupError
from keepers.metrics import HealthState, KeeperMetrics
from keepers.txmanager import TxStatus
from keepers.types import AccountHealth, Plan, Route
from navlend.constants import MAX_UINT256

from conftest import FUND_A, USD, to_address
from test_txmanager_node import FLASH, KEEPER, Node, RecordingTxManager, _receipt

MARKETS = [to_address("0x" + f"3{k}" * 20) for k in range(3)]
FLASHES = [to_address("0x" + f"f{k}" * 20) for k in range(3)]
ORACLE_A, ORACLE_C, ORACLE_X = (to_address("0x" + t * 20) for t in ("0a", "0c", "0e"))
BORROWER = to_address("0x" + "b0" * 20)
OTHER = to_address("0x" + "b1" * 20)


@dataclass
class Chain:
    """What the markets' readers share: the head and a count of its reads."""

    number: int = 100
    head_reads: int = 0
    balance_reads: int = 0
    # FlashLiquidator -> (owner, market)
    flashes: dict[str, tuple[str, str]] = field(default_factory=dict)

    def ref(self) -> BlockRef:
        return BlockRef(number=self.number, hash="0x" + f"{self.number:064x}", timestamp=0, base_fee=0)


@dataclass
class Reader:
    """One market's reads: the head, the block hashes, no logs, every
    re-checked account liquidatable; the FlashLiquidator checks."""

    chain: Chain
    market: str

    def head(self) -> BlockRef:
        self.chain.head_reads += 1
        return self.chain.ref()

    def block_hash(self, number: int) -> str:
        return "0x" + f"{number:064x}"

    def market_logs_once(self, start: int, end: int) -> list:
        return []

    def native_balance(self, account: str) -> int:
        self.chain.balance_reads += 1
        return 10**18

    def healths(self, accounts, block):
        return [AccountHealth(account=a, debt=1_000 * USD, borrow_value=0, liquidation_value=0,
                              health_factor=10**18 - 10**16, liquidatable=True, best_token=FUND_A, max_repay=0,
                              max_seize=0, assets_bitmap=1) for a in accounts]

    # ---- check_setup

    def code_size(self, address: str) -> int:
        return 100 if address in self.chain.flashes else 0

    def owner_of(self, contract: str) -> str:
        return self.chain.flashes[contract][0]

    def read_address(self, contract: str, function) -> str:
        if contract == self.market:
            return to_address("0x" + "5c" * 20)  # the market's asset
        return self.chain.flashes[contract][1]

    def has_liquidate_gathered(self, flash: str) -> bool:
        return True

    def optional_uint(self, to, function, block="latest") -> int:
        return 24


def _config(k: int, oracles: tuple[str, ...]):
    return load_config(env={
        "NAVLEND_KEEPER_MARKET": MARKETS[k], "NAVLEND_KEEPER_LENS": "0x" + "1e" * 20,
        "NAVLEND_KEEPER_FLASH_LIQUIDATOR": FLASHES[k], "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0",
        "NAVLEND_KEEPER_NAV_ORACLES": ",".join(oracles), "NAVLEND_KEEPER_LIQUIDATION_BATCH_SIZE": "1",
    })


ORACLES = [(ORACLE_A, ORACLE_C), (ORACLE_A,), (ORACLE_C,)]


def _fleet(tmp_path: Path, node: Node | None = None, chain: Chain | None = None,
           markets: int = 3) -> tuple[Fleet, RecordingTxManager, Chain]:
    chain = chain or Chain()
    tx = RecordingTxManager(node or Node())
    health = HealthState()
    keepers = tuple(
        Keeper(config=_config(k, ORACLES[k]), reader=Reader(chain, MARKETS[k]),
               index=PositionIndex(tmp_path / f"index-{k}.sqlite", MARKETS[k]), tx=MarketTx(tx, MARKETS[k]),
               metrics=KeeperMetrics(), health=health, signer=KEEPER)
        for k in range(markets)
    )
    return Fleet(keepers, tx, health), tx, chain


def _plan(borrower: str) -> Plan:
    return Plan(borrower=borrower, token=FUND_A, route=Route.REDEEM, max_repay=MAX_UINT256, repaid=1_000 * USD,
                seized=0, taken=0, sent=0, proceeds=1_030 * USD, flash_fee=0, redemption_fee=0, gas_cost=0,
                safety_buffer=0, net_profit=25 * USD, min_profit=2 * USD, health_factor=10**18 - 10**16, min_out=0)


def _sample(keeper: Keeper, name: str, **labels: str) -> float:
    return keeper.metrics.registry.get_sample_value(name, labels) or 0.0


# ---------------------------------------------------------------- blocks


def test_on_block__three_markets__the_head_read_once_and_every_market_at_it(tmp_path):
    fleet, _, chain = _fleet(tmp_path)
    for number in (100, 101, 102):
        chain.number = number
        report = fleet.on_block(number)
        assert not report.error and set(report.markets) == set(MARKETS)
        assert all(r.block == number for r in report.markets.values())
        assert [k.index.checkpoint() for k in fleet.keepers] == [number] * 3
    assert chain.head_reads == 3  # one per block, not one (or two) per market
    assert chain.balance_reads == 1  # nothing of the signer's moved: read once


def test_on_block__quiet_blocks__balance_read_again_every_refresh_interval(tmp_path):
    fleet, _, chain = _fleet(tmp_path)
    for number in range(100, 100 + CONTEXT_REFRESH_BLOCKS + 1):
        chain.number = number
        fleet.on_block(number)
    assert chain.balance_reads == 2  # at 100, then CONTEXT_REFRESH_BLOCKS later


def test_on_block__before_block_hook__called_once_per_block(tmp_path):
    fleet, _, chain = _fleet(tmp_path)
    calls = []
    fleet.before_block = lambda: calls.append(chain.number)
    for number in (100, 101):
        chain.number = number
        fleet.on_block(number)
    assert calls == [100, 101]


def test_on_block__one_market_alone__reads_the_head_once(tmp_path):
    fleet, _, chain = _fleet(tmp_path)
    fleet.keepers[0].on_block(100)
    assert chain.head_reads == 1  # the block lag is measured at the next block


def test_on_block__while_the_previous_block_is_worked__skipped_in_every_market(tmp_path):
    fleet, _, chain = _fleet(tmp_path)
    with fleet._busy:
        report = fleet.on_block(100)
    assert report.skipped_block and chain.head_reads == 0
    assert all(_sample(k, "keeper_blocks_skipped_total") == 1 for k in fleet.keepers)


# ---------------------------------------------------------------- one signer, one nonce sequence


def test_execute__the_same_borrower_in_two_markets__two_transactions_consecutive_nonces(tmp_path):
    fleet, tx, _ = _fleet(tmp_path)
    first, second = fleet.keepers[0], fleet.keepers[1]
    assert first._execute([_plan(BORROWER), _plan(OTHER)], max_loan=10**30) == 2
    assert second._execute([_plan(BORROWER)], max_loan=10**30) == 1
    assert [nonce for _, nonce, _ in tx.sent] == [0, 1, 2]
    assert [key for key, _, _ in tx.sent] == [f"{MARKETS[0].lower()}/{BORROWER}", f"{MARKETS[0].lower()}/{OTHER}",
                                              f"{MARKETS[1].lower()}/{BORROWER}"]
    # Each market sees its own positions in flight, under its own names.
    assert first.tx.in_flight_positions() == {BORROWER, OTHER}
    assert second.tx.in_flight_positions() == {BORROWER}
    assert fleet.keepers[2].tx.in_flight_positions() == set()
    assert len(tx.pending) == 3


def test_execute__a_position_already_in_flight_in_its_market__not_sent_again(tmp_path):
    fleet, tx, _ = _fleet(tmp_path)
    keeper = fleet.keepers[0]
    keeper._execute([_plan(BORROWER)], max_loan=10**30)
    assert keeper._execute([_plan(BORROWER)], max_loan=10**30) == 0
    assert [nonce for _, nonce, _ in tx.sent] == [0]


def test_submit_many__outcomes__carry_the_markets_own_request(tmp_path):
    fleet, _, _ = _fleet(tmp_path)
    keeper = fleet.keepers[2]
    request = keeper._request((_plan(BORROWER),))
    (outcome,) = keeper.tx.submit_many([request], 100, 0, 100)
    assert outcome.status is TxStatus.SENT and outcome.request == request


# ---------------------------------------------------------------- following: one poll


def test_follow__mined_in_two_markets__one_poll_each_market_records_its_own(tmp_path):
    node = Node()
    fleet, tx, chain = _fleet(tmp_path, node=node)
    fleet.keepers[0]._execute([_plan(BORROWER)], max_loan=10**30)
    fleet.keepers[1]._execute([_plan(BORROWER), _plan(OTHER)], max_loan=10**30)
    node.count, chain.number = 3, 101
    node.receipts[101] = [_receipt(n, 101) for n in range(3)]
    fleet.on_block(101)
    assert len(node.of("eth_getTransactionCount")) == 1  # the shared manager polled once
    assert [_sample(k, "keeper_liquidations_succeeded_total", route="redeem") for k in fleet.keepers] == [1, 2, 0]
    assert not tx.pending and all(not k.tx.pending for k in fleet.keepers)


def test_follow__nothing_mined_yet__every_market_keeps_its_transactions(tmp_path):
    node = Node()
    fleet, _, chain = _fleet(tmp_path, node=node)
    fleet.keepers[2]._execute([_plan(BORROWER)], max_loan=10**30)
    chain.number = 101
    fleet.on_block(101)
    assert fleet.keepers[2].tx.in_flight_positions() == {BORROWER}
    assert all(_sample(k, "keeper_liquidations_succeeded_total", route="redeem") == 0 for k in fleet.keepers)


# ---------------------------------------------------------------- NAV oracles


def test_on_nav_update__an_oracle_two_markets_list__both_scan_everything(tmp_path):
    fleet, _, chain = _fleet(tmp_path)
    fleet.on_block(100)  # the start's full scan is done
    assert not any(k._nav_trigger for k in fleet.keepers)
    assert fleet.on_nav_update(ORACLE_A, 100) == (MARKETS[0], MARKETS[1])
    assert [k._nav_trigger for k in fleet.keepers] == [True, True, False]


def test_on_nav_update__an_oracle_no_market_lists__none_triggered_warned(tmp_path):
    fleet, _, _ = _fleet(tmp_path)
    fleet.on_block(100)
    with capture_logs() as logs:
        assert fleet.on_nav_update(ORACLE_X, 100) == ()
    assert not any(k._nav_trigger for k in fleet.keepers)
    assert any(e["event"] == "nav update of an oracle no market lists" for e in logs)


# ---------------------------------------------------------------- start


def test_check_setup__every_flash_liquidator_the_signers_and_its_markets__ready(tmp_path):
    chain = Chain(flashes={FLASHES[k]: (KEEPER, MARKETS[k]) for k in range(3)})
    fleet, _, _ = _fleet(tmp_path, chain=chain)
    fleet.check_setup()
    assert all(k.flash_ready for k in fleet.keepers)


def test_check_setup__a_flash_liquidator_bound_to_another_market__refused_naming_the_market(tmp_path):
    chain = Chain(flashes={FLASHES[0]: (KEEPER, MARKETS[0]), FLASHES[1]: (KEEPER, MARKETS[0]),
                           FLASHES[2]: (KEEPER, MARKETS[2])})
    fleet, _, _ = _fleet(tmp_path, chain=chain)
    with pytest.raises(StartupError) as err:
        fleet.check_setup()
    assert f"market {MARKETS[1]}: flash_liquidator {FLASHES[1]} serves market {MARKETS[0]}" in str(err.value)
    assert f"market {MARKETS[0]}:" not in str(err.value) and f"market {MARKETS[2]}:" not in str(err.value)


def test_fleet__a_keeper_on_its_own_tx_manager__refused(tmp_path):
    fleet, tx, chain = _fleet(tmp_path, markets=2)
    stray = Keeper(config=_config(2, ORACLES[2]), reader=Reader(chain, MARKETS[2]),
                   index=PositionIndex(tmp_path / "stray.sqlite", MARKETS[2]), tx=RecordingTxManager(Node()),
                   metrics=KeeperMetrics(), health=fleet.health, signer=KEEPER)
    with pytest.raises(ValueError, match="MarketTx"):
        Fleet((*fleet.keepers, stray), tx, fleet.health)


def test_fleet__a_market_twice__refused(tmp_path):
    fleet, tx, _ = _fleet(tmp_path, markets=2)
    with pytest.raises(ValueError, match="a market twice"):
        Fleet((fleet.keepers[0], fleet.keepers[0]), tx, fleet.health)


def test_market_tx__keys_of_another_market__not_its_own(tmp_path):
    tx = RecordingTxManager(Node())
    view = MarketTx(tx, MARKETS[0])
    wrapped = view.wrap(_request_of(BORROWER))
    assert view.owns(wrapped.key) and not MarketTx(tx, MARKETS[1]).owns(wrapped.key)
    assert view.unwrap(wrapped) == _request_of(BORROWER)


def _request_of(borrower: str):
    from keepers.txmanager import TxRequest

    return TxRequest(key="batch:" + borrower, to=FLASH, data=b"\x01", positions=(borrower, OTHER))


def test_on_pending_confirmed__an_oracle_two_markets_list__both_act_and_scan(tmp_path):
    fleet, _, _ = _fleet(tmp_path)
    fleet.on_block(100)
    report = fleet.on_pending_confirmed(ORACLE_C, 100)
    assert set(report.markets) == {MARKETS[0], MARKETS[2]}
    assert [k._nav_trigger for k in fleet.keepers] == [True, False, True]


def test_backrun_pending__nothing_prepared__returns_without_waiting_for_the_block(tmp_path):
    fleet, _, _ = _fleet(tmp_path)
    with fleet._busy:  # a block being worked
        assert fleet.backrun_pending() == 0


def test_on_block__a_transaction_in_flight_in_the_first_market__health_counts_it(tmp_path):
    fleet, _, chain = _fleet(tmp_path)
    fleet.keepers[0]._execute([_plan(BORROWER)], max_loan=10**30)
    chain.number = 101
    fleet.on_block(101)  # the last market has nothing in flight: it must not hide the first's
    assert fleet.health.pending == 1


def test_on_block__nothing_in_flight__health_counts_none(tmp_path):
    fleet, _, _ = _fleet(tmp_path)
    fleet.on_block(100)
    assert fleet.health.pending == 0


def test_tx_store__restart__each_market_takes_back_its_own_transactions(tmp_path):
    from keepers.txstore import TxStore

    def store() -> TxStore:
        return TxStore(tmp_path / "txs.sqlite", 31337, KEEPER)

    first = RecordingTxManager(Node(), store=store())
    MarketTx(first, MARKETS[1]).submit_many([_request_of(BORROWER)], 100, 0, 100)
    again = RecordingTxManager(Node(), store=store())
    assert MarketTx(again, MARKETS[1]).in_flight_positions() == {BORROWER, OTHER}
    assert MarketTx(again, MARKETS[0]).in_flight_positions() == set()


# ---------------------------------------------------------------- the profit sweep: the signer's, every market's

STABLE = to_address("0x" + "5c" * 20)  # every market's asset (Reader.read_address)
RECEIVER = to_address("0x" + "7e" * 20)


@dataclass
class StableReader(Reader):
    stable: int = 10_000 * USD

    def erc20_balance(self, token, account, block="latest") -> int:
        assert token == STABLE
        return self.stable


def _swept_fleet(tmp_path: Path, node: Node) -> tuple[Fleet, RecordingTxManager, Chain]:
    from keepers.brakes import Brakes, limits_from_config
    from keepers.decide import ProfitPolicy
    from keepers.profit import feed_policy_from_config, gas_model_from_config
    from keepers.spending import Spending
    from keepers.treasury import approval_policy_from_config, sweep_policy_from_config

    chain = Chain(flashes={FLASHES[k]: (KEEPER, MARKETS[k]) for k in range(3)})
    tx = RecordingTxManager(node)
    health = HealthState()
    base = {"NAVLEND_KEEPER_PROFIT_RECEIVER": RECEIVER, "NAVLEND_KEEPER_MIN_SWEEP_USD": "1",
            "NAVLEND_KEEPER_KILL_FILE": str(tmp_path / "STOP")}
    keepers = []
    brakes = None
    for k in range(3):
        config = load_config(env={
            "NAVLEND_KEEPER_MARKET": MARKETS[k], "NAVLEND_KEEPER_LENS": "0x" + "1e" * 20,
            "NAVLEND_KEEPER_FLASH_LIQUIDATOR": FLASHES[k], "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0",
            "NAVLEND_KEEPER_LIQUIDATION_BATCH_SIZE": "1", **base})
        brakes = brakes or Brakes(limits_from_config(config))
        reader = StableReader(chain, MARKETS[k])
        spending = Spending(reader=reader, signer=KEEPER, market=MARKETS[k], base_token="", brakes=brakes,
                            base_policy=ProfitPolicy.from_config(config), gas_model=gas_model_from_config(config),
                            feed=None, feed_policy=feed_policy_from_config(config),
                            approval_policy=approval_policy_from_config(config),
                            sweep_policy=sweep_policy_from_config(config, KEEPER))
        keepers.append(Keeper(config=config, reader=reader,
                              index=PositionIndex(tmp_path / f"index-{k}.sqlite", MARKETS[k]),
                              tx=MarketTx(tx, MARKETS[k]), metrics=KeeperMetrics(), health=health, signer=KEEPER,
                              spending=spending))
    fleet = Fleet(tuple(keepers), tx, health)
    fleet.check_setup()
    return fleet, tx, chain


def _sweeps(tx: RecordingTxManager) -> list:
    return [p.request for p in tx.pending.values() if p.request.label == "sweep"]


def test_sweep__mined_in_another_market__swept_once_leaving_every_markets_seize_plans(tmp_path):
    from dataclasses import replace

    node = Node()
    fleet, tx, chain = _swept_fleet(tmp_path, node)
    assert all(k.spending.sweep_policy is None for k in fleet.keepers)  # the fleet sweeps, not each market
    fleet.keepers[1]._execute([_plan(BORROWER)], max_loan=10**30)  # nonce 0: a redeem liquidation
    seize = replace(_plan(OTHER), route=Route.SEIZE)
    fleet.keepers[2]._execute([seize], max_loan=10**30)  # nonce 1: a seize plan, in flight
    node.count, chain.number = 1, 101
    node.receipts[101] = [_receipt(0, 101)]
    fleet.on_block(101)
    (sweep,) = _sweeps(tx)
    assert sweep.key == f"{MARKETS[0].lower()}/sweep:{STABLE}"
    need = -(-seize.repaid * 10_010 // 10_000)  # the seize plan's pull, plus its margin
    assert sweep.context["amount"] == 10_000 * USD - need and sweep.context["receiver"] == RECEIVER


def test_sweep__nothing_mined__nothing_swept(tmp_path):
    node = Node()
    fleet, tx, chain = _swept_fleet(tmp_path, node)
    fleet.keepers[1]._execute([_plan(BORROWER)], max_loan=10**30)
    chain.number = 101
    fleet.on_block(101)
    assert _sweeps(tx) == []


# ---------------------------------------------------------------- what the other markets' transactions draw


def test_in_flight_elsewhere__other_markets_plans__counted_not_the_markets_own(tmp_path):
    from dataclasses import replace

    fleet, _, _ = _fleet(tmp_path)
    for keeper in fleet.keepers:
        keeper.base_token = STABLE
    fleet.keepers[0]._execute([_plan(BORROWER)], max_loan=10**30)
    fleet.keepers[2]._execute([replace(_plan(OTHER), route=Route.SEIZE)], max_loan=10**30)
    drawn = fleet.keepers[1].elsewhere()
    assert sorted((p.borrower, p.route) for p in drawn) == [(BORROWER, Route.REDEEM), (OTHER, Route.SEIZE)]
    assert [p.borrower for p in fleet.keepers[0].elsewhere()] == [OTHER]


def test_in_flight_elsewhere__a_seize_plan_in_another_stablecoin__not_counted(tmp_path):
    from dataclasses import replace

    fleet, _, _ = _fleet(tmp_path)
    fleet.keepers[0].base_token, fleet.keepers[1].base_token = STABLE, to_address("0x" + "5d" * 20)
    fleet.keepers[0]._execute([replace(_plan(OTHER), route=Route.SEIZE), _plan(BORROWER)], max_loan=10**30)
    assert [(p.borrower, p.route) for p in fleet.keepers[1].elsewhere()] == [(BORROWER, Route.REDEEM)]


def test_in_flight_elsewhere__mined__no_longer_counted(tmp_path):
    node = Node()
    fleet, _, chain = _fleet(tmp_path, node=node)
    fleet.keepers[0]._execute([_plan(BORROWER)], max_loan=10**30)
    node.count, chain.number = 1, 101
    node.receipts[101] = [_receipt(0, 101)]
    fleet.on_block(101)
    assert fleet.keepers[1].elsewhere() == []


@dataclass
class TermsReader(Reader):
    """``Keeper.act``'s reads: the market's terms, no allowlisting."""

    terms: object = None

    def market_terms(self, block):
        return self.terms

    def is_allowlisted(self, token, account, block) -> bool:
        return False

    def is_frozen(self, token, account, block) -> bool:
        return False


@dataclass
class Balances:
    """The index's balances of the one position ``act`` decides on."""

    balances: dict

    def balances_many(self, accounts):
        return {a: self.balances for a in accounts}


def _act_in_market_1(tmp_path: Path, underwater, other_draws: bool) -> tuple[int, Keeper]:
    """Market 1 acts on ``underwater``'s borrower, its fund's facility able
    to redeem exactly that position's shares; market 0 has a redeem plan in
    flight on the same fund drawing as much (``other_draws``) or nothing."""
    from dataclasses import replace

    from conftest import balances_of, lens_health, terms_of
    from keepers.decide import ProfitPolicy, decide_block
    from keepers.keeper import ScanReport
    from keepers.types import ExecutionContext

    m, prices = underwater
    health = lens_health(m, BORROWER, prices)
    need = decide_block([health], {BORROWER: balances_of(m, BORROWER)}, terms_of(m, prices),
                        ExecutionContext(gas_price_wei=1), ProfitPolicy.from_config(_config(1, ())))[0].plan.sent
    fleet, _, chain = _fleet(tmp_path)
    market0, market1 = fleet.keepers[0], fleet.keepers[1]
    market0._execute([replace(_plan(OTHER), sent=need if other_draws else 0)], max_loan=10**30)
    market1.reader = TermsReader(chain, MARKETS[1], terms=terms_of(m, prices, facility_max_redeem=need))
    market1.index = Balances(balances_of(m, BORROWER))
    market1.flash_ready = True
    report = ScanReport(block=100)
    market1.act(chain.ref(), [health], report)
    return report.sent, market1


def test_act__another_market_draws_the_funds_facility__this_market_skips_facility_dry(tmp_path, underwater):
    sent, keeper = _act_in_market_1(tmp_path, underwater, other_draws=True)
    assert sent == 0
    assert _sample(keeper, "keeper_liquidations_skipped_total", reason="facility_dry") == 1


def test_act__another_markets_plan_draws_nothing__this_market_sends(tmp_path, underwater):
    sent, keeper = _act_in_market_1(tmp_path, underwater, other_draws=False)
    assert sent == 1
    assert keeper.tx.in_flight_positions() == {BORROWER}
