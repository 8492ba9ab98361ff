"""``TxManager`` with transactions that do not mine, against the node
double of ``test_txmanager_node.py``: the same bytes sent again, the
expiry's same-nonce cancel, the positions released once the nonce is used,
fee bumps held to the plan's profit, nonce gaps filled, outside nonces
resynchronised, a restart that follows what is in flight instead of
sending it again, and the keeper's follow-up isolated from its scan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keepers.chain import BlockRef
from keepers.config import load_config
from keepers.index import PositionIndex
from keepers.keeper import Keeper
from keepers.metrics import HealthState, KeeperMetrics
from keepers.txmanager import CANCEL_LABEL, GAP_LABEL, TxStatus
from keepers.txrules import CANCEL_GAS, FeePolicy, StuckPolicy, is_valid_replacement
from keepers.txstore import TxStore

from conftest import MARKET
from test_txmanager_node import BORROWERS, FLASH, KEEPER, Node, RecordingTxManager, _request

GWEI = 10**9
T0 = 1_800_000_000.0
POLICY = FeePolicy(priority_fee=1 * GWEI, max_fee_cap=100 * GWEI, bump=1.125, max_bumps=2, stuck_after_blocks=2)
STUCK = StuckPolicy(rebroadcast_blocks=2, expiry_blocks=8, expiry_seconds=3_600, cancel_fee_cap=500 * GWEI)


class StuckManager(RecordingTxManager):
    """The recording manager, with the node's pending count apart from its
    mined count (``node.held``: transactions in its pool) and a clock."""

    def __init__(self, node: Node, **kwargs: Any) -> None:
        self.now = T0
        kwargs.setdefault("stuck", STUCK)
        super().__init__(node, policy=kwargs.pop("policy", POLICY), clock=lambda: self.now, **kwargs)
        self.refused_keys: set[str] = set()

    def _pending_count(self) -> int:
        return self.w3.provider.count + getattr(self.w3.provider, "held", 0)

    def _broadcast(self, raw: bytes) -> str:
        if self.signed[raw][0] in self.refused_keys:
            raise ConnectionError("connection reset by peer")
        return super()._broadcast(raw)


def _receipt_of(tx_hash: str, block: int, status: int = 1) -> dict[str, Any]:
    return {"transactionHash": bytes.fromhex(tx_hash[2:]), "blockNumber": block, "status": status,
            "gasUsed": 21_000, "effectiveGasPrice": 0, "logs": []}


def _one_sent(node: Node, **kwargs: Any) -> StuckManager:
    tx = StuckManager(node, **kwargs)
    outcomes = tx.submit_many([_request(BORROWERS[0], "0x01")], block=100, base_fee=10 * GWEI, head=100)
    assert outcomes[0].status is TxStatus.SENT and outcomes[0].nonce == 0
    node.held = 1  # in the node's pool
    return tx


def _poll_to(tx: StuckManager, last: int, base_fee: int = 10 * GWEI) -> list[Any]:
    outcomes = []
    first = (tx._receipts_read_to or 99) + 1
    for head in range(first, last + 1):
        tx.now = T0 + 12 * (head - 100)
        outcomes += tx.poll(head, base_fee)
    return outcomes


# ---------------------------------------------------------------- rebroadcast


def test_rebroadcast__unmined_without_bumps_left__same_bytes_sent_again():
    node = Node()
    tx = _one_sent(node, policy=FeePolicy(priority_fee=1 * GWEI, max_fee_cap=100 * GWEI, max_bumps=0))
    _poll_to(tx, 101)
    assert len(tx.broadcasts) == 1
    _poll_to(tx, 102)
    assert len(tx.broadcasts) == 2 and tx.broadcasts[1] == tx.broadcasts[0]
    assert len(tx.sent) == 1  # nothing newly signed


def test_rebroadcast__node_answers_already_known__not_an_rpc_error():
    node = Node()
    errors: list[str] = []
    tx = _one_sent(node, policy=FeePolicy(max_bumps=0), on_rpc_error=errors.append)
    original = tx._broadcast

    def known(raw: bytes) -> str:
        raise ValueError("already known")

    tx._broadcast = known  # type: ignore[method-assign]
    _poll_to(tx, 102)
    tx._broadcast = original  # type: ignore[method-assign]
    assert errors == [] and len(tx.pending) == 1


def test_rebroadcast__node_refuses_fees_below_the_base_fee__not_an_rpc_error():
    node = Node()
    errors: list[str] = []
    tx = _one_sent(node, policy=FeePolicy(max_bumps=0), on_rpc_error=errors.append)

    def low(raw: bytes) -> str:
        raise ValueError("max fee per gas less than block base fee")

    tx._broadcast = low  # type: ignore[method-assign]
    _poll_to(tx, 102)
    assert errors == [] and len(tx.pending) == 1


def test_rebroadcast__node_refuses_for_another_reason__counted_as_an_rpc_error():
    node = Node()
    errors: list[str] = []
    tx = _one_sent(node, policy=FeePolicy(max_bumps=0), on_rpc_error=errors.append)
    tx.refused_keys.add(BORROWERS[0])
    _poll_to(tx, 102)
    assert errors == ["rebroadcast"] and len(tx.pending) == 1


# ---------------------------------------------------------------- expiry and cancel


def test_expiry__past_deadline__cancel_at_bumped_fee():
    node = Node()
    tx = _one_sent(node)
    _poll_to(tx, 107)
    pending = tx.pending[BORROWERS[0]]
    assert not pending.cancelling and pending.bumps == 2
    before = pending.fees
    _poll_to(tx, 108)  # 8 blocks after the first send
    assert pending.cancelling and len(pending.cancel_hashes) == 1
    key, nonce, gas, fees, _ = tx.signed[tx.broadcasts[-1]]
    assert (key, nonce, gas) == (f"cancel:{BORROWERS[0]}", 0, CANCEL_GAS)
    assert is_valid_replacement(before, fees)
    assert tx.in_flight_positions() == {BORROWERS[0]}  # still busy until the nonce is used


def _expired_then_mined(which: str) -> tuple[StuckManager, list[Any]]:
    """A transaction cancelled at its expiry (block 108), then block 109
    mines its nonce: the cancel (``which="cancel"``) or the original."""
    node = Node()
    tx = _one_sent(node)
    _poll_to(tx, 108)
    pending = tx.pending[BORROWERS[0]]
    mined_hash = (pending.cancel_hashes if which == "cancel" else pending.hashes)[-1]
    node.count, node.held = 1, 0
    node.receipts[109] = [_receipt_of(mined_hash, 109)]
    return tx, _poll_to(tx, 109)


def test_expiry__cancel_mined__positions_released_and_next_nonce_free():
    tx, outcomes = _expired_then_mined("cancel")
    assert [o.status for o in outcomes] == [TxStatus.CANCELLED]
    assert outcomes[0].request.key == BORROWERS[0] and tx.pending == {} and tx.in_flight_positions() == set()
    again = tx.submit_many([_request(BORROWERS[0], "0x02")], block=109, base_fee=10 * GWEI, head=109)
    assert again[0].status is TxStatus.SENT and again[0].nonce == 1


def test_expiry__original_mines_while_cancelling__mined():
    tx, outcomes = _expired_then_mined("original")
    assert [o.status for o in outcomes] == [TxStatus.MINED] and tx.pending == {}


def test_expiry__cancel_sits__cancel_bumped():
    node = Node()
    tx = _one_sent(node)
    _poll_to(tx, 108)
    pending = tx.pending[BORROWERS[0]]
    first_cancel = pending.fees
    _poll_to(tx, 110)
    assert len(pending.cancel_hashes) == 2 and is_valid_replacement(first_cancel, pending.fees)
    assert tx.signed[tx.broadcasts[-1]][0] == f"cancel:{BORROWERS[0]}"


def test_expired_count__cancel_in_flight__counted_until_the_nonce_is_used():
    node = Node()
    tx = _one_sent(node)
    _poll_to(tx, 107)
    assert tx.expired_count() == 0
    _poll_to(tx, 108)
    assert tx.expired_count() == 1


def test_expiry__before_deadline__no_cancel():
    node = Node()
    tx = _one_sent(node)
    _poll_to(tx, 107)
    assert not any(key.startswith("cancel:") for key, _, _ in tx.sent)


# ---------------------------------------------------------------- bumps against profit


def _with_profit(node: Node, net_profit_wei: int) -> StuckManager:
    tx = StuckManager(node)
    request = _request(BORROWERS[0], "0x01")
    request = type(request)(key=request.key, to=request.to, data=request.data, label=request.label,
                            net_profit_wei=net_profit_wei, planned_gas_price=21 * GWEI)
    tx.submit_many([request], block=100, base_fee=10 * GWEI, head=100)
    node.held = 1
    return tx


def test_bump__would_make_the_plan_unprofitable__not_sent_then_cancelled_at_expiry():
    node = Node()
    tx = _with_profit(node, net_profit_wei=10**12)  # far less than 345,501 gas x a few gwei
    _poll_to(tx, 107, base_fee=40 * GWEI)
    pending = tx.pending[BORROWERS[0]]
    assert pending.bumps == 0 and pending.bumps_exhausted and len(tx.sent) == 1
    assert len(tx.broadcasts) > 1  # the same bytes were sent again meanwhile
    _poll_to(tx, 108, base_fee=40 * GWEI)
    assert pending.cancelling


def test_bump__within_the_profit__sent():
    node = Node()
    tx = _with_profit(node, net_profit_wei=10**18)
    _poll_to(tx, 102, base_fee=40 * GWEI)
    assert tx.pending[BORROWERS[0]].bumps == 1 and len(tx.sent) == 2


# ---------------------------------------------------------------- nonce audit


def test_nonce_gap__filled_with_cancel():
    node = Node()
    tx = StuckManager(node)
    node.held = 1  # another process on the key has nonce 0 in the pool: the keeper takes 1
    sent = tx.submit_many([_request(BORROWERS[0], "0x01")], block=100, base_fee=10 * GWEI, head=100)[0]
    assert sent.nonce == 1
    node.held = 0  # the node evicts nonce 0: the keeper's transaction waits behind a gap for ever
    tx.poll(101, 10 * GWEI)
    filler = tx.pending["gap:0"]
    assert filler.request.label == GAP_LABEL and filler.nonce == 0 and filler.cancelling
    _, nonce, gas, _, _ = tx.signed[filler.raw]
    assert (nonce, gas, filler.request.to) == (0, CANCEL_GAS, KEEPER)
    assert tx.broadcasts[-2:] == [tx.pending[BORROWERS[0]].raw, filler.raw]  # the queued one sent again too
    node.count = 2
    node.receipts[102] = [_receipt_of(h, 102) for p in tx.pending.values() for h in p.all_hashes]
    finished = tx.poll(102, 10 * GWEI)
    assert [o.request.key for o in finished] == [BORROWERS[0]]  # the gap's cancel is the manager's own
    assert tx.pending == {}


def test_nonce_gap__none_when_the_node_holds_every_nonce__no_cancel():
    node = Node()
    tx = StuckManager(node)
    node.held = 1
    tx.submit_many([_request(BORROWERS[0], "0x01")], block=100, base_fee=10 * GWEI, head=100)
    node.held = 2
    tx.poll(101, 10 * GWEI)
    assert list(tx.pending) == [BORROWERS[0]] and len(tx.broadcasts) == 1


def test_nonce_audit__contiguous_nonces__nothing_sent():
    node = Node()
    tx = StuckManager(node)
    tx.submit_many([_request(b, "0x0" + str(i)) for i, b in enumerate(BORROWERS[:3])], block=100,
                   base_fee=10 * GWEI, head=100)
    node.held = 3
    tx.poll(100, 10 * GWEI)
    assert len(tx.broadcasts) == 3 and not any(k.startswith("gap:") for k in tx.pending)


def test_nonce_audit__nonces_used_outside_the_keeper__counter_resynchronised():
    node = Node()
    tx = StuckManager(node)
    tx.submit_many([_request(BORROWERS[0], "0x01")], block=100, base_fee=10 * GWEI, head=100)
    assert tx.nonces.next_nonce == 1
    node.held = 3  # the keeper's nonce 0, and 1 and 2 from another process on the key
    tx.poll(101, 10 * GWEI)
    assert tx.nonces.next_nonce is None and list(tx.pending) == [BORROWERS[0]]
    outcome = tx.submit_many([_request(BORROWERS[1], "0x02")], block=101, base_fee=10 * GWEI, head=101)[0]
    assert outcome.nonce == 3


def test_poll__nothing_in_flight__no_nonce_audit():
    node = Node()
    tx = StuckManager(node)
    tx.poll(100, 10 * GWEI)
    tx.poll(101, 10 * GWEI)
    assert node.requests == []


def test_restart__node_lost_the_transaction__sent_again_at_once(tmp_path):
    node = Node()
    store = TxStore(tmp_path / "tx.sqlite", 31337, KEEPER)
    tx = _one_sent(node, store=store)
    raw = tx.pending[BORROWERS[0]].raw
    node.held = 0  # the node restarted with an empty pool
    restarted = StuckManager(node, store=TxStore(tmp_path / "tx.sqlite", 31337, KEEPER))
    restarted.signed.update(tx.signed)
    restarted.poll(101, 10 * GWEI)  # not due for a rebroadcast (every 2 blocks), yet sent again
    assert restarted.broadcasts == [raw]


# ---------------------------------------------------------------- restart


def test_restart__pending_persisted__followed_not_resent(tmp_path):
    node = Node()
    tx = _one_sent(node, store=TxStore(tmp_path / "tx.sqlite", 31337, KEEPER))
    sent_hash = tx.pending[BORROWERS[0]].hashes[0]
    restarted = StuckManager(node, store=TxStore(tmp_path / "tx.sqlite", 31337, KEEPER))
    restarted.signed.update(tx.signed)
    assert restarted.in_flight_positions() == {BORROWERS[0]}
    again = restarted.submit_many([_request(BORROWERS[0], "0x01")], block=101, base_fee=10 * GWEI, head=101)
    assert again[0].status is TxStatus.IN_FLIGHT and restarted.sent == []
    node.count, node.held = 1, 0
    restarted.w3.by_hash[sent_hash] = _receipt_of(sent_hash, 101)
    outcomes = restarted.poll(101, 10 * GWEI)
    assert [o.status for o in outcomes] == [TxStatus.MINED]
    assert TxStore(tmp_path / "tx.sqlite", 31337, KEEPER).load() == []


def test_restart__nothing_stored__nothing_resumed(tmp_path):
    tx = StuckManager(Node(), store=TxStore(tmp_path / "tx.sqlite", 31337, KEEPER))
    assert tx.pending == {} and tx.resume() == 0


def test_restart__send_failed__not_stored(tmp_path):
    node = Node()
    tx = StuckManager(node, store=TxStore(tmp_path / "tx.sqlite", 31337, KEEPER))
    tx.refused_keys.add(BORROWERS[0])
    outcome = tx.submit_many([_request(BORROWERS[0], "0x01")], block=100, base_fee=10 * GWEI, head=100)[0]
    assert outcome.status is TxStatus.SEND_FAILED
    assert TxStore(tmp_path / "tx.sqlite", 31337, KEEPER).load() == []


def test_restart__cancel_in_flight__resumed_as_a_cancel(tmp_path):
    node = Node()
    tx = _one_sent(node, store=TxStore(tmp_path / "tx.sqlite", 31337, KEEPER))
    _poll_to(tx, 108)
    restarted = StuckManager(node, store=TxStore(tmp_path / "tx.sqlite", 31337, KEEPER))
    pending = restarted.pending[BORROWERS[0]]
    assert pending.cancelling and pending.cancel_hashes == tx.pending[BORROWERS[0]].cancel_hashes
    assert pending.fees == tx.pending[BORROWERS[0]].fees and pending.first_block == 100


# ---------------------------------------------------------------- follow isolated from the scan


class Reader:
    """What ``Keeper.on_block`` reads with an empty book."""

    market: str = MARKET

    def head(self) -> BlockRef:
        return BlockRef(number=100, hash="0x" + "11" * 32, timestamp=0, base_fee=0)

    def block_hash(self, number: int) -> str:
        return "0x" + "11" * 32

    def market_logs_once(self, start: int, end: int) -> list[Any]:
        return []

    def healths(self, accounts, block):
        return []

    def native_balance(self, account: str) -> int:
        return 10**18


class ReceiptFails(StuckManager):
    def poll(self, head: int, base_fee: int) -> list[Any]:
        raise TimeoutError("eth_getBlockReceipts timed out")


def _keeper(tmp_path: Path, tx: StuckManager) -> tuple[Keeper, list[int]]:
    config = load_config(env={
        "NAVLEND_KEEPER_MARKET": MARKET, "NAVLEND_KEEPER_LENS": "0x" + "1e" * 20,
        "NAVLEND_KEEPER_FLASH_LIQUIDATOR": FLASH, "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0",
    })
    keeper = Keeper(config=config, reader=Reader(), index=PositionIndex(tmp_path / "index.sqlite", MARKET), tx=tx,
                    metrics=KeeperMetrics(), health=HealthState(), signer=KEEPER)
    scanned: list[int] = []
    scan = keeper._scan_and_act
    keeper._scan_and_act = lambda head, report: (scanned.append(head.number), scan(head, report))  # type: ignore
    return keeper, scanned


def _faults(keeper: Keeper, op: str) -> float:
    return keeper.metrics.registry.get_sample_value("keeper_rpc_errors_total", {"op": op}) or 0.0


def test_follow__receipt_error__scan_still_runs(tmp_path):
    keeper, scanned = _keeper(tmp_path, ReceiptFails(Node()))
    report = keeper.on_block(100)
    assert scanned == [100] and report.error == ""
    assert _faults(keeper, "follow") == 1 and keeper.health.last_block == 100


def test_follow__no_error__followed_and_scanned_without_a_fault(tmp_path):
    keeper, scanned = _keeper(tmp_path, StuckManager(Node()))
    report = keeper.on_block(100)
    assert scanned == [100] and report.error == "" and _faults(keeper, "follow") == 0


def test_labels__cancel_and_gap_fill__distinct():
    assert CANCEL_LABEL != GAP_LABEL
