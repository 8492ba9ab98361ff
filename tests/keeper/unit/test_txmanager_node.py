"""``TxManager`` against a node double (keepers/txmanager.py): how a
block's requests are simulated (one ``eth_estimateGas`` per kind, then one
``eth_call`` each at the kind's gas limit), what is sent with which gas
limit, and how ``poll`` reads anvil's early transaction count (a receipt
from a block after the head is still pending; a used nonce with no receipt
is dropped only when a later head agrees). Signing is replaced by a
recorder: what is under test is the order and the arguments of the node
requests, not the ECDSA (``test_signing_backend.py`` covers that)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_abi import encode

from keepers.txmanager import (
    GAS_SIZE_TTL_BLOCKS,
    FeePolicy,
    GasSize,
    PollVerdict,
    RevertKind,
    TxManager,
    TxRequest,
    TxStatus,
    poll_verdict,
    record_size,
    sized_limit,
)

from conftest import BORROWER, MARKET, OTHER_BORROWER, to_address

FLASH = to_address("0x" + "f1" * 20)
KEEPER = to_address("0x" + "5e" * 20)
LIQUIDATION_GAS = 345_501
HEALTHY_DATA = "0xdead"  # a position someone else liquidated first


def _reason(text: str) -> dict[str, Any]:
    data = bytes.fromhex("08c379a0") + encode(["string"], [text])
    return {"error": {"code": 3, "message": f"execution reverted: {text}", "data": "0x" + data.hex()}}


@dataclass
class Node:
    """Answers like anvil for the keeper's simulations: a liquidation needs
    ``gas_needed`` gas (a call with less runs a sub-call out of gas, which
    Vyper reports as a revert with no data); ``HEALTHY_DATA`` reverts with
    the market's reason. Records every request."""

    gas_needed: dict[str, int] = field(default_factory=dict)
    head: int = 100
    count: int = 0
    receipts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, list[Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def make_request(self, method: str, params: list[Any]) -> dict[str, Any]:
        with self._lock:
            self.requests.append((method, params))
        if method in ("eth_call", "eth_estimateGas"):
            tx = params[0]
            if tx["data"] == HEALTHY_DATA:
                return _reason("market: position healthy")
            needed = self.gas_needed.get(tx["data"], LIQUIDATION_GAS)
            if method == "eth_estimateGas":
                return {"result": hex(needed)}
            if int(tx["gas"], 16) < needed:
                return {"error": {"code": 3, "message": "execution reverted", "data": "0x"}}
            return {"result": "0x" + "00" * 32}
        if method == "eth_blockNumber":
            return {"result": hex(self.head)}
        if method == "eth_getTransactionCount":
            return {"result": hex(self.count)}
        raise AssertionError(f"unexpected request {method}")

    def of(self, method: str) -> list[list[Any]]:
        return [p for m, p in self.requests if m == method]


class Eth:
    def __init__(self, node: Node, by_hash: dict[str, dict[str, Any]]) -> None:
        self.node, self.by_hash = node, by_hash

    def get_block_receipts(self, number: int) -> list[dict[str, Any]]:
        self.node.requests.append(("eth_getBlockReceipts", [number]))
        return self.node.receipts.get(number, [])

    def get_transaction_receipt(self, tx_hash: str) -> dict[str, Any]:
        self.node.requests.append(("eth_getTransactionReceipt", [tx_hash]))
        if tx_hash not in self.by_hash:
            raise LookupError(f"transaction {tx_hash} not found")
        return self.by_hash[tx_hash]


class W3:
    def __init__(self, node: Node) -> None:
        self.provider = node
        self.by_hash: dict[str, dict[str, Any]] = {}
        self.eth = Eth(node, self.by_hash)


@dataclass
class Signer:
    address: str = KEEPER


class RecordingTxManager(TxManager):
    """Sends nothing: each newly signed transaction is recorded in ``sent``
    with its nonce and gas limit, every broadcast (rebroadcasts too) in
    ``broadcasts``. The "signed bytes" name the request, nonce, gas and
    fees; the first transaction signed at a nonce has the hash
    ``0x<nonce>`` (so receipts are easy to write), later ones (bumps,
    cancels) a hash with the version above it."""

    def __init__(self, node: Node, policy: FeePolicy | None = None, **kwargs: Any) -> None:
        super().__init__(W3(node), Signer(), ecosystem=None, chain_id=31337, policy=policy or FeePolicy(), **kwargs)
        self.sent: list[tuple[str, int, int]] = []
        self.signed: dict[bytes, tuple[str, int, int, Any, str]] = {}
        self.broadcasts: list[bytes] = []
        self.refuse: Exception | None = None
        self._versions: dict[int, int] = {}

    def _sign(self, request: TxRequest, nonce: int, gas_limit: int, fees: Any) -> bytes:
        raw = f"{request.key}|{request.to}|{nonce}|{gas_limit}|{fees.max_fee}|{fees.priority_fee}".encode()
        if raw not in self.signed:
            version = self._versions.get(nonce, 0)
            self._versions[nonce] = version + 1
            self.signed[raw] = (request.key, nonce, gas_limit, fees, "0x" + f"{nonce + (version << 128):064x}")
        return raw

    def _tx_hash(self, raw: bytes) -> str:
        return self.signed[raw][4]

    def _broadcast(self, raw: bytes) -> str:
        if self.refuse is not None:
            raise self.refuse
        key, nonce, gas_limit, _, tx_hash = self.signed[raw]
        if raw not in self.broadcasts:
            self.sent.append((key, nonce, gas_limit))
        self.broadcasts.append(raw)
        return tx_hash

    def _pending_count(self) -> int:
        return self.w3.provider.count


def _request(key: str, data: str, to: str = FLASH, label: str = "liquidate:redeem") -> TxRequest:
    return TxRequest(key=key, to=to, data=bytes.fromhex(data[2:]), label=label)


def _receipt(nonce: int, block: int, status: int = 1) -> dict[str, Any]:
    return {"transactionHash": bytes.fromhex(f"{nonce:064x}"), "blockNumber": block, "status": status,
            "gasUsed": LIQUIDATION_GAS, "effectiveGasPrice": 0, "logs": []}


BORROWERS = [to_address("0x" + f"{i + 1:040x}") for i in range(6)]


# ---------------------------------------------------------------- #
#                     gas sizing (pure rules)                       #
# ---------------------------------------------------------------- #


def test_sized_limit__never_sized__none():
    assert sized_limit({}, "kind", 100) is None


def test_sized_limit__sized_recently__the_limit():
    assert sized_limit({"kind": GasSize(430_000, 90)}, "kind", 100) == 430_000


def test_sized_limit__sized_longer_ago_than_the_ttl__none():
    assert sized_limit({"kind": GasSize(430_000, 90)}, "kind", 91 + GAS_SIZE_TTL_BLOCKS) is None


def test_record_size__lighter_estimate_within_ttl__keeps_the_larger():
    sizes = {"kind": GasSize(500_000, 90)}
    record_size(sizes, "kind", 430_000, 100)
    assert sizes["kind"] == GasSize(500_000, 100)


def test_record_size__after_the_ttl__the_new_estimate_replaces_it():
    sizes = {"kind": GasSize(500_000, 90)}
    record_size(sizes, "kind", 430_000, 91 + GAS_SIZE_TTL_BLOCKS)
    assert sizes["kind"] == GasSize(430_000, 91 + GAS_SIZE_TTL_BLOCKS)


# ---------------------------------------------------------------- #
#                 simulation of a block's requests                  #
# ---------------------------------------------------------------- #


def test_submit_many__one_kind__estimated_once_then_one_call_each_at_its_limit():
    node = Node()
    tx = RecordingTxManager(node, gas_margin=1.25)
    requests = [_request(b, "0x" + f"{i:02x}" * 4) for i, b in enumerate(BORROWERS)]
    outcomes = tx.submit_many(requests, block=100, base_fee=0, head=100)
    limit = -(-LIQUIDATION_GAS * 125 // 100)
    assert [o.status for o in outcomes] == [TxStatus.SENT] * 6
    assert len(node.of("eth_estimateGas")) == 1
    calls = node.of("eth_call")
    assert len(calls) == 5 and all(int(c[0]["gas"], 16) == limit and c[1] == hex(100) for c in calls)
    assert sorted(n for _, n, _ in tx.sent) == list(range(6)) and {g for _, _, g in tx.sent} == {limit}
    assert tx.gas_sizes[requests[0].kind] == GasSize(limit, 100)


def test_submit_many__kind_sized_in_an_earlier_block__no_estimate():
    node = Node()
    tx = RecordingTxManager(node)
    tx.submit_many([_request(BORROWER, "0x01")], block=100, base_fee=0, head=100)
    node.requests.clear()
    node.count = 1
    outcomes = tx.submit_many([_request(OTHER_BORROWER, "0x02")], block=101, base_fee=0, head=101)
    assert outcomes[0].status is TxStatus.SENT
    assert node.of("eth_estimateGas") == [] and len(node.of("eth_call")) == 1


def test_submit_many__two_kinds__each_estimated_once():
    node = Node()
    tx = RecordingTxManager(node)
    requests = [_request(b, "0x" + f"{i:02x}", to=FLASH if i % 2 else MARKET, label="liquidate:redeem"
                         if i % 2 else "liquidate:seize") for i, b in enumerate(BORROWERS)]
    tx.submit_many(requests, block=100, base_fee=0, head=100)
    estimated = {p[0]["to"] for p in node.of("eth_estimateGas")}
    assert estimated == {FLASH, MARKET} and len(node.of("eth_estimateGas")) == 2
    assert len(node.of("eth_call")) == 4


def test_submit_many__heavier_case_than_the_kind_size__estimated_and_sent_with_its_own_limit():
    heavy = "0x" + "ee" * 4  # a bad-debt write-off: more gas than the kind's sample
    node = Node(gas_needed={heavy: 600_000})
    tx = RecordingTxManager(node, gas_margin=1.25)
    tx.submit_many([_request(BORROWER, "0x01")], block=100, base_fee=0, head=100)
    node.count = 1
    outcomes = tx.submit_many([_request(OTHER_BORROWER, heavy)], block=101, base_fee=0, head=101)
    assert outcomes[0].status is TxStatus.SENT
    assert tx.sent[-1] == (OTHER_BORROWER, 1, 750_000)  # its own estimate x margin, not the smaller size
    assert tx.gas_sizes[_request(OTHER_BORROWER, heavy).kind].limit == 750_000


def test_submit_many__position_liquidated_by_someone_else__not_sent_with_the_markets_reason():
    node = Node()
    tx = RecordingTxManager(node)
    outcomes = tx.submit_many([_request(BORROWER, "0x01"), _request(OTHER_BORROWER, HEALTHY_DATA)],
                              block=100, base_fee=0, head=100)
    assert outcomes[0].status is TxStatus.SENT
    assert outcomes[1].status is TxStatus.SIMULATION_REVERTED
    assert outcomes[1].kind is RevertKind.LOST_RACE and "position healthy" in outcomes[1].reason
    assert [key for key, _, _ in tx.sent] == [BORROWER]


def test_submit_many__first_of_a_kind_reverts__the_next_one_sizes_the_kind():
    node = Node()
    tx = RecordingTxManager(node)
    requests = [_request(BORROWER, HEALTHY_DATA)] + [_request(b, "0x0" + str(i)) for i, b in enumerate(BORROWERS[:3])]
    outcomes = tx.submit_many(requests, block=100, base_fee=0, head=100)
    assert [o.status for o in outcomes] == [TxStatus.SIMULATION_REVERTED] + [TxStatus.SENT] * 3
    assert len(node.of("eth_estimateGas")) == 2 and len(node.of("eth_call")) == 2


def test_submit_many__dry_run__simulated_never_sent():
    node = Node()
    tx = RecordingTxManager(node, dry_run=True)
    outcomes = tx.submit_many([_request(b, "0x0" + str(i)) for i, b in enumerate(BORROWERS[:3])],
                              block=100, base_fee=0, head=100)
    assert [o.status for o in outcomes] == [TxStatus.DRY_RUN] * 3
    assert tx.sent == [] and len(node.of("eth_estimateGas")) + len(node.of("eth_call")) == 3


def test_submit_many__same_position_twice__second_not_simulated():
    node = Node()
    tx = RecordingTxManager(node)
    outcomes = tx.submit_many([_request(BORROWER, "0x01"), _request(BORROWER, "0x02")], block=100, base_fee=0,
                              head=100)
    assert [o.status for o in outcomes] == [TxStatus.SENT, TxStatus.IN_FLIGHT]
    assert [method for method, _ in node.requests] == ["eth_estimateGas"]


# ---------------------------------------------------------------- #
#                polling: anvil's count runs ahead                  #
# ---------------------------------------------------------------- #


def test_poll_verdict__receipt_up_to_the_head__finished():
    assert poll_verdict(100, 100, None) is PollVerdict.FINISHED


def test_poll_verdict__receipt_from_the_block_being_mined__still_pending():
    assert poll_verdict(101, 100, None) is PollVerdict.PENDING


def test_poll_verdict__nonce_used_without_receipt_first_time__pending():
    assert poll_verdict(None, 100, None) is PollVerdict.PENDING


def test_poll_verdict__nonce_used_without_receipt_at_a_later_head__dropped():
    assert poll_verdict(None, 101, 100) is PollVerdict.DROPPED


def test_poll_verdict__same_head_polled_twice__not_dropped():
    assert poll_verdict(None, 100, 100) is PollVerdict.PENDING


def _sent(node: Node, count: int) -> RecordingTxManager:
    tx = RecordingTxManager(node)
    tx.submit_many([_request(b, "0x0" + str(i)) for i, b in enumerate(BORROWERS[:count])], block=100, base_fee=0,
                   head=100)
    tx.poll(100, 0)  # nothing mined yet: the receipts are read from here on
    return tx


def test_poll__count_ahead_of_the_head__nothing_finished_nor_dropped_then_mined_next_block():
    node = Node(head=100)
    tx = _sent(node, 3)
    node.count = 3  # anvil counts block 101's transactions while 100 is the head
    tx.w3.by_hash.update({"0x" + f"{n:064x}": _receipt(n, 101) for n in range(3)})
    assert tx.poll(100, 0) == [] and len(tx.pending) == 3
    assert node.of("eth_getTransactionReceipt") == []  # block 100 was read whole: no lookups by hash
    node.receipts[101] = [_receipt(n, 101) for n in range(3)]
    outcomes = tx.poll(101, 0)
    assert [o.status for o in outcomes] == [TxStatus.MINED] * 3 and tx.pending == {}


def test_poll__nonce_used_by_another_transaction__dropped_at_the_next_head():
    node = Node(head=100)
    tx = _sent(node, 1)
    node.count = 1  # the keeper's key sent something else with nonce 0
    assert tx.poll(101, 0) == [] and len(tx.pending) == 1
    outcomes = tx.poll(102, 0)
    assert [o.status for o in outcomes] == [TxStatus.DROPPED]
    assert outcomes[0].reason == "nonce used by another transaction" and tx.pending == {}


def test_poll__after_a_gap__receipt_found_by_hash():
    node = Node(head=100)
    tx = _sent(node, 1)
    node.count = 1
    tx.w3.by_hash["0x" + f"{0:064x}"] = _receipt(0, 105)
    outcomes = tx.poll(120, 0)  # 20 blocks unread: more than RECEIPT_BLOCKS_MAX
    assert [o.status for o in outcomes] == [TxStatus.MINED]
    assert len(node.of("eth_getTransactionReceipt")) == 1


@pytest.mark.parametrize("status", [1, 0])
def test_poll__receipt_in_the_blocks_read__finished_with_its_status(status):
    node = Node(head=100)
    tx = _sent(node, 1)
    node.count = 1
    node.receipts[101] = [_receipt(0, 101, status)]
    outcomes = tx.poll(101, 0)
    assert [o.status for o in outcomes] == [TxStatus.MINED if status else TxStatus.REVERTED]
