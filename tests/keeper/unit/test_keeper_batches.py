"""``Keeper._execute`` with batches, against the node double of
``test_txmanager_node.py``: a block's redeem plans go out as
``liquidate_many`` transactions; a batch whose simulation reverts goes out
again at once as one transaction per position; what a mined batch skipped
is counted as a lost race."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector
from structlog.testing import capture_logs

from keepers.chain import BATCH_LIQUIDATED_TOPIC, LIQUIDATION_SKIPPED_TOPIC, BlockRef
from keepers.config import load_config
from keepers.index import PositionIndex
from keepers.keeper import Keeper
from keepers.metrics import HealthState, KeeperMetrics
from keepers.txmanager import TxOutcome, TxStatus
from navlend.constants import MAX_UINT256
from keepers.types import AccountHealth, Plan, Route

from conftest import FUND_A, MARKET, USD, to_address
from test_txmanager_node import FLASH, KEEPER, Node, RecordingTxManager, _reason

BORROWERS = [to_address("0x" + f"{i + 1:040x}") for i in range(12)]
MANY = "0x" + function_signature_to_4byte_selector("liquidate_many(address,address[],uint256[],uint256,uint256)").hex()


def _plan(i: int) -> Plan:
    return Plan(borrower=BORROWERS[i], token=FUND_A, route=Route.REDEEM, max_repay=MAX_UINT256, repaid=1_000 * USD,
                seized=0, taken=0, sent=0, proceeds=1_030 * USD, flash_fee=0, redemption_fee=0, gas_cost=0, safety_buffer=0,
                net_profit=25 * USD, min_profit=2 * USD, health_factor=10**18 - 10**16, min_out=0)


def _health(account: str) -> AccountHealth:
    return AccountHealth(account=account, debt=1_000 * USD, borrow_value=0, liquidation_value=0,
                         health_factor=10**18 - 10**16, liquidatable=True, best_token=FUND_A, max_repay=0,
                         max_seize=0, assets_bitmap=1)


@dataclass
class Reader:
    """The chain reads ``_execute`` makes: the head and the re-check."""

    market: str = MARKET

    def head(self) -> BlockRef:
        return BlockRef(number=100, hash="0x" + "11" * 32, timestamp=0, base_fee=0)

    def healths(self, accounts, block):
        return [_health(a) for a in accounts]


class BatchRevertingNode(Node):
    """Every ``liquidate_many`` simulation reverts below its profit floor
    (one of its positions was liquidated by someone else meanwhile)."""

    def make_request(self, method, params):
        if method in ("eth_call", "eth_estimateGas") and params[0]["data"].startswith(MANY):
            self.requests.append((method, params))
            return _reason("flash liquidator: profit below minimum")
        return super().make_request(method, params)


def _keeper(node: Node, tmp_path: Path, batch_size: int = 10) -> tuple[Keeper, RecordingTxManager]:
    config = load_config(env={
        "NAVLEND_KEEPER_MARKET": MARKET, "NAVLEND_KEEPER_LENS": "0x" + "1e" * 20,
        "NAVLEND_KEEPER_FLASH_LIQUIDATOR": FLASH, "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0",
        "NAVLEND_KEEPER_LIQUIDATION_BATCH_SIZE": str(batch_size),
    })
    tx = RecordingTxManager(node)
    keeper = Keeper(config=config, reader=Reader(), index=PositionIndex(tmp_path / "index.sqlite", MARKET), tx=tx,
                    metrics=KeeperMetrics(), health=HealthState(), signer=KEEPER)
    return keeper, tx


def _sample(keeper: Keeper, name: str, **labels: str) -> float:
    return keeper.metrics.registry.get_sample_value(name, labels) or 0.0


def test_execute__twelve_redeem_plans__two_batch_transactions(tmp_path):
    node = Node()
    keeper, tx = _keeper(node, tmp_path)
    sent = keeper._execute([_plan(i) for i in range(12)], max_loan=10**30)
    assert sent == 12
    assert [key.count(",") + 1 for key, _, _ in tx.sent] == [10, 2]
    assert tx.in_flight_positions() == set(BORROWERS)
    assert _sample(keeper, "keeper_liquidations_attempted_total", route="redeem") == 12


def test_execute__batch_simulation_reverts__sent_again_one_transaction_per_position(tmp_path):
    node = BatchRevertingNode()
    keeper, tx = _keeper(node, tmp_path)
    sent = keeper._execute([_plan(i) for i in range(3)], max_loan=10**30)
    assert sent == 3
    assert sorted(key for key, _, _ in tx.sent) == sorted(BORROWERS[:3])
    assert [n for _, n, _ in tx.sent] == [0, 1, 2]  # the failed batch took no nonce


def test_execute__batch_size_one__one_transaction_per_position(tmp_path):
    node = Node()
    keeper, tx = _keeper(node, tmp_path, batch_size=1)
    keeper._execute([_plan(i) for i in range(3)], max_loan=10**30)
    assert sorted(key for key, _, _ in tx.sent) == sorted(BORROWERS[:3])
    assert not any(p[0]["data"].startswith(MANY) for m, p in node.requests if m in ("eth_call", "eth_estimateGas"))


def test_record__mined_batch_with_a_skip__liquidated_counted_skip_is_a_lost_race(tmp_path):
    keeper, tx = _keeper(Node(), tmp_path)
    request = keeper._request(tuple(_plan(i) for i in range(3)))
    skipped = encode(["bytes"], [bytes.fromhex("08c379a0") + encode(["string"], ["market: no debt"])])
    receipt = {"logs": [
        {"topics": [LIQUIDATION_SKIPPED_TOPIC, "0x" + "00" * 12 + BORROWERS[1][2:].lower()], "data": skipped},
        {"topics": [BATCH_LIQUIDATED_TOPIC], "data": encode(["uint256"] * 6, [2, 1, 2_000, 2_100, 2, 98])},
    ]}
    keeper._record(Reader().head(), TxOutcome(TxStatus.MINED, request, tx_hash="0x01", nonce=0, receipt=receipt))
    assert _sample(keeper, "keeper_liquidations_succeeded_total", route="redeem") == 2
    assert _sample(keeper, "keeper_liquidations_failed_total", outcome="lost_race") == 1
    assert _sample(keeper, "keeper_profit_stable_units_total") == 98


def test_request__two_collaterals_or_sizes__different_kinds_sized_apart(tmp_path):
    from dataclasses import replace

    from conftest import FUND_C

    keeper, _ = _keeper(Node(), tmp_path)
    fund_a = [_plan(i) for i in range(3)]
    fund_c = [replace(p, token=FUND_C) for p in fund_a]
    kinds = {keeper._request(tuple(g)).kind for g in (fund_a, fund_c, fund_a[:2])}
    singles = {keeper._request((p,)).kind for p in (fund_a[0], fund_c[0])}
    assert len(kinds) == 3 and len(singles) == 2


@dataclass
class ReaderWithAFailedAccount(Reader):
    """The Lens marks the first account ``failed`` (its position view
    reverted); the others are liquidatable."""

    def healths(self, accounts, block):
        first, *rest = accounts
        failed = AccountHealth(account=first, debt=0, borrow_value=0, liquidation_value=0, health_factor=0,
                               liquidatable=False, best_token="0x" + "00" * 20, max_repay=0, max_seize=0,
                               assets_bitmap=0, failed=True)
        return [failed, *[_health(a) for a in rest]]


def test_scan_stage__lens_marks_an_account_failed__logged_and_the_rest_scanned(tmp_path, monkeypatch):
    from keepers.keeper import ScanReport

    keeper, _tx = _keeper(Node(), tmp_path)
    keeper.reader = ReaderWithAFailedAccount()
    acted: list[list[str]] = []
    monkeypatch.setattr(keeper, "act", lambda head, healths, report: acted.append([h.account for h in healths]))
    report = ScanReport(block=100)

    with capture_logs() as logs:
        keeper._scan_stage(Reader().head(), tuple(BORROWERS[:3]), True, 0, report)

    assert acted == [BORROWERS[1:3]]
    assert (report.scanned, report.liquidatable) == (2, 2)
    warning = [e for e in logs if e["event"] == "position view reverted"]
    assert warning and warning[0]["accounts"] == [BORROWERS[0]] and warning[0]["count"] == 1


def test_scan_stage__no_failed_account__every_account_scanned(tmp_path, monkeypatch):
    from keepers.keeper import ScanReport

    keeper, _tx = _keeper(Node(), tmp_path)
    acted: list[list[str]] = []
    monkeypatch.setattr(keeper, "act", lambda head, healths, report: acted.append([h.account for h in healths]))
    report = ScanReport(block=100)

    keeper._scan_stage(Reader().head(), tuple(BORROWERS[:3]), True, 0, report)

    assert acted == [BORROWERS[:3]]
    assert report.scanned == 3
