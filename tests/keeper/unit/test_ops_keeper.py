"""The keeper's operations figures (issue 16, point 6), driven through
``Keeper.follow`` with the stuck-transaction node double of
``test_tx_stuck.py``: ``keeper_tx_replacements_total`` counts the fee bumps
and cancels ``TxManager.poll`` signs, and ``/healthz``'s state learns the
transactions past their expiry, the oldest one's age and the signer's
balance."""

from __future__ import annotations

from pathlib import Path

from keepers.chain import BlockRef
from keepers.config import load_config
from keepers.index import PositionIndex
from keepers.keeper import Keeper
from keepers.metrics import HealthPolicy, HealthState, KeeperMetrics

from conftest import MARKET
from test_tx_stuck import GWEI, T0, Reader, StuckManager, _one_sent, _receipt_of
from test_txmanager_node import BORROWERS, FLASH, KEEPER, Node


class BalanceReader(Reader):
    def __init__(self, balance: int) -> None:
        self.balance = balance

    def native_balance(self, account: str) -> int:
        return self.balance


def _keeper(tmp_path: Path, tx: StuckManager, balance: int = 10**18) -> Keeper:
    config = load_config(env={
        "NAVLEND_KEEPER_MARKET": MARKET, "NAVLEND_KEEPER_LENS": "0x" + "1e" * 20,
        "NAVLEND_KEEPER_FLASH_LIQUIDATOR": FLASH, "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0",
    })
    return Keeper(config=config, reader=BalanceReader(balance), index=PositionIndex(tmp_path / "index.sqlite", MARKET),
                  tx=tx, metrics=KeeperMetrics(), health=HealthState(), signer=KEEPER)


def _follow_to(keeper: Keeper, last: int) -> None:
    tx = keeper.tx
    first = (tx._receipts_read_to or 99) + 1
    for number in range(first, last + 1):
        tx.now = T0 + 12 * (number - 100)
        keeper.follow(BlockRef(number=number, hash="0x" + "11" * 32, timestamp=0, base_fee=10 * GWEI))


def _replacements(keeper: Keeper, kind: str) -> float:
    return keeper.metrics.registry.get_sample_value("keeper_tx_replacements_total", {"kind": kind}) or 0.0


def test_replacements__unmined_transaction_bumped__counted_per_bump(tmp_path):
    keeper = _keeper(tmp_path, _one_sent(Node()))
    _follow_to(keeper, 107)
    bumps = keeper.tx.pending[BORROWERS[0]].bumps
    assert bumps == 2 and _replacements(keeper, "bump") == bumps and _replacements(keeper, "cancel") == 0


def test_replacements__expired_transaction_cancelled__cancels_counted(tmp_path):
    keeper = _keeper(tmp_path, _one_sent(Node()))
    _follow_to(keeper, 110)  # expiry at 108, the cancel bumped at 110
    assert len(keeper.tx.pending[BORROWERS[0]].cancel_hashes) == 2
    assert _replacements(keeper, "cancel") == 2 and _replacements(keeper, "bump") == 2


def test_replacements__transaction_mined_at_once__none_counted(tmp_path):
    node = Node()
    keeper = _keeper(tmp_path, _one_sent(node))
    node.count, node.held = 1, 0
    node.receipts[101] = [_receipt_of(keeper.tx.pending[BORROWERS[0]].hashes[-1], 101)]
    _follow_to(keeper, 103)
    assert keeper.tx.pending == {}
    assert _replacements(keeper, "bump") == 0 and _replacements(keeper, "cancel") == 0


def test_follow__expired_transaction__health_fails_as_stuck(tmp_path):
    keeper = _keeper(tmp_path, _one_sent(Node()))
    _follow_to(keeper, 108)
    assert keeper.health.expired == 1 and keeper.health.pending == 1
    assert keeper.metrics.registry.get_sample_value("keeper_stuck_transactions") == 1
    problems = keeper.health.problems(keeper.health.started_at, HealthPolicy())
    assert any("stuck transaction" in p for p in problems)


def test_follow__pending_not_expired__health_not_stuck(tmp_path):
    keeper = _keeper(tmp_path, _one_sent(Node()))
    _follow_to(keeper, 103)
    assert keeper.health.expired == 0 and keeper.health.pending == 1
    assert keeper.health.oldest_pending_age == 36.0
    assert keeper.health.problems(keeper.health.started_at, HealthPolicy(max_pending_age=600)) == []


def test_follow__balance_below_floor__health_fails(tmp_path):
    keeper = _keeper(tmp_path, _one_sent(Node()), balance=10**15)
    _follow_to(keeper, 101)
    assert keeper.health.signer_balance_wei == 10**15
    problems = keeper.health.problems(keeper.health.started_at, HealthPolicy.from_config(keeper.config))
    assert len(problems) == 1 and "below the floor" in problems[0]


def test_follow__balance_above_floor__health_passes(tmp_path):
    keeper = _keeper(tmp_path, _one_sent(Node()), balance=10**18)
    _follow_to(keeper, 101)
    assert keeper.health.signer_balance_wei == 10**18
    assert keeper.health.problems(keeper.health.started_at, HealthPolicy(balance_floor_wei=10**16)) == []
