"""``TxManager.poll`` on a node without ``eth_getBlockReceipts`` (Hardhat's
node answers -32004 "Method eth_getBlockReceipts is not supported"; other
nodes -32601 "method not found"): the keeper follows its transactions by
hash from then on instead of failing every poll until the blocks unread
pass ``RECEIPT_BLOCKS_MAX``. Any other error of the call is still raised.
Found by running the end-to-end suite on Hardhat (tests/keeper/e2e,
``both_nodes``)."""

from __future__ import annotations

from typing import Any

import pytest
from web3.exceptions import Web3RPCError

from keepers.txmanager import TxStatus, method_unsupported

from test_txmanager_node import BORROWERS, Eth, Node, RecordingTxManager, _receipt, _request

HARDHAT_ANSWER = {"code": -32004, "message": "Method eth_getBlockReceipts is not supported",
                  "data": {"message": "Method eth_getBlockReceipts is not supported"}}
GETH_STYLE_ANSWER = {"code": -32601, "message": "the method eth_getBlockReceipts does not exist/is not available"}
SERVER_FAULT = {"code": -32000, "message": "header not found"}


def _rpc_error(error: dict[str, Any]) -> Web3RPCError:
    return Web3RPCError(str(error), rpc_response={"jsonrpc": "2.0", "id": 1, "error": error})


class NoBlockReceipts(Eth):
    """A node whose ``eth_getBlockReceipts`` answers ``error``."""

    error: dict[str, Any] = HARDHAT_ANSWER

    def get_block_receipts(self, number: int) -> list[dict[str, Any]]:
        self.node.requests.append(("eth_getBlockReceipts", [number]))
        raise _rpc_error(self.error)


def _sent_on(node: Node, error: dict[str, Any]) -> RecordingTxManager:
    tx = RecordingTxManager(node)
    eth = NoBlockReceipts(node, tx.w3.by_hash)
    eth.error = error
    tx.w3.eth = eth
    tx.submit_many([_request(BORROWERS[0], "0x01")], block=100, base_fee=0, head=100)
    tx.poll(100, 0)
    return tx


@pytest.mark.parametrize("error", [HARDHAT_ANSWER, GETH_STYLE_ANSWER],
                         ids=["hardhat_-32004", "method_not_found_-32601"])
def test_poll__node_without_block_receipts__receipt_found_by_hash_then_no_more_block_receipt_calls(error):
    node = Node(head=100)
    tx = _sent_on(node, error)
    node.count = 1
    tx.w3.by_hash["0x" + f"{0:064x}"] = _receipt(0, 101)

    outcomes = tx.poll(101, 0)

    assert [o.status for o in outcomes] == [TxStatus.MINED] and tx.pending == {}
    assert tx.block_receipts_served is False
    assert len(node.of("eth_getTransactionReceipt")) == 1
    asked = len(node.of("eth_getBlockReceipts"))
    tx.submit_many([_request(BORROWERS[1], "0x02")], block=101, base_fee=0, head=101)
    node.count = 2
    tx.w3.by_hash["0x" + f"{1:064x}"] = _receipt(1, 102)
    assert [o.status for o in tx.poll(102, 0)] == [TxStatus.MINED]
    assert len(node.of("eth_getBlockReceipts")) == asked  # not asked again


def test_poll__block_receipts_fail_for_another_reason__raised_and_still_used_later():
    node = Node(head=100)
    tx = _sent_on(node, SERVER_FAULT)
    node.count = 1

    with pytest.raises(Web3RPCError, match="header not found"):
        tx.poll(101, 0)

    assert tx.block_receipts_served is True and len(tx.pending) == 1


@pytest.mark.parametrize("error", [HARDHAT_ANSWER, GETH_STYLE_ANSWER,
                                   {"code": -32000, "message": "unsupported method"}])
def test_method_unsupported__node_says_it_has_no_such_method__true(error):
    assert method_unsupported(_rpc_error(error))


@pytest.mark.parametrize("error", [SERVER_FAULT, {"code": 3, "message": "execution reverted"},
                                   {"code": 429, "message": "Too Many Requests"}])
def test_method_unsupported__other_answers__false(error):
    assert not method_unsupported(_rpc_error(error))


def test_method_unsupported__transport_error__false():
    assert not method_unsupported(ConnectionError("connection refused"))
