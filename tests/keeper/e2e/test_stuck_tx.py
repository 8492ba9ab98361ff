"""End to end against anvil and Hardhat's node (``both_nodes``): a
transaction that never mines does not stop the keeper's transaction manager.

The node mines only on ``evm_mine`` here (automine off, no interval), and each
block's base fee is set above the liquidation's fee cap
(``anvil_``/``hardhat_setNextBlockBaseFeePerGas``), so the keeper's transaction stays in
the pool while blocks go by: the manager bumps it to its cap, sends the same
bytes again, and at its expiry sends a same-nonce cancel (allowed a higher
cap: it costs 21,000 gas) that the node takes in its place and mines. Then
the next nonce is free: a new transaction mines at once. The manager's
store follows it across a restart in the middle.

No market is needed: the stuck transaction is a plain call from the
keeper's account (TEST::5), signed by Ape like every keeper transaction.
"""

from __future__ import annotations

import time

import pytest

from devkit.devnet import connect, start_node
from devkit.nodes import JsonRpcNode
from keepers.txmanager import TxManager, TxRequest, TxStatus
from keepers.txrules import FeePolicy, StuckPolicy
from keepers.txstore import TxStore

GWEI = 10**9
HIGH_BASE_FEE = 150 * GWEI
POLICY = FeePolicy(priority_fee=1 * GWEI, max_fee_cap=100 * GWEI, bump=1.125, max_bumps=2, stuck_after_blocks=2)
STUCK = StuckPolicy(rebroadcast_blocks=2, expiry_blocks=8, expiry_seconds=3_600, cancel_fee_cap=500 * GWEI)


@pytest.fixture
def chain(tmp_path, node_kind):
    anvil = start_node(node_kind, tmp_path / node_kind, persist=False)
    try:
        with connect(anvil.url, node_kind):
            from ape import accounts, chain as ape_chain

            anvil.rpc("evm_setAutomine", False)
            yield anvil, accounts.test_accounts, ape_chain.provider
    finally:
        anvil.stop()


def _manager(provider, signer, store: TxStore) -> TxManager:
    return TxManager(provider.web3, signer, provider.network.ecosystem, provider.chain_id, POLICY,
                     stuck=STUCK, store=store)


def _mine(anvil: JsonRpcNode, base_fee: int | None = None) -> tuple[int, int]:
    """One block (at ``base_fee`` if given); its number and base fee."""
    if base_fee is not None:
        anvil.control("setNextBlockBaseFeePerGas", hex(base_fee))
    anvil.rpc("evm_mine")
    block = anvil.rpc("eth_getBlockByNumber", "latest", False)
    return int(block["number"], 16), int(block["baseFeePerGas"], 16)


def _head(anvil: JsonRpcNode) -> tuple[int, int]:
    block = anvil.rpc("eth_getBlockByNumber", "latest", False)
    return int(block["number"], 16), int(block["baseFeePerGas"], 16)


def _nonce(anvil: JsonRpcNode, address: str, tag: str) -> int:
    return int(anvil.rpc("eth_getTransactionCount", address, tag), 16)


@pytest.mark.both_nodes
def test_stuck_tx__never_mines__bumped_rebroadcast_cancelled_and_next_nonce_free(chain, tmp_path):
    anvil, test_accounts, provider = chain
    keeper, target = test_accounts[5], test_accounts[7]
    address = str(keeper.address)
    store_path = tmp_path / "tx.sqlite"
    tx = _manager(provider, keeper, TxStore(store_path, provider.chain_id, address))
    request = TxRequest(key="position-1", to=str(target.address), data=b"", label="stuck")

    head, base_fee = _head(anvil)
    outcome = tx.submit_many([request], head, base_fee, head)[0]
    assert outcome.status is TxStatus.SENT
    first_nonce = outcome.nonce
    assert _nonce(anvil, address, "pending") == first_nonce + 1

    # Blocks go by at a base fee above the liquidation's cap: it never mines
    # (anvil even stops holding it, and refuses it sent again: the audit
    # and the rebroadcast keep trying, the bumps stop at the cap).
    for _ in range(4):
        head, base_fee = _mine(anvil, HIGH_BASE_FEE)
        assert tx.poll(head, base_fee) == []
    pending = tx.pending["position-1"]
    assert pending.bumps >= 1 and pending.fees.max_fee <= POLICY.max_fee_cap
    assert _nonce(anvil, address, "latest") == first_nonce

    # A restart in the middle: the new manager follows it, sends nothing new.
    tx = _manager(provider, keeper, TxStore(store_path, provider.chain_id, address))
    assert tx.in_flight_positions() == {"position-1"}
    again = tx.submit_many([request], head, base_fee, head)[0]
    assert again.status is TxStatus.IN_FLIGHT

    outcomes = []
    deadline = time.time() + 60
    while not outcomes and time.time() < deadline:
        pending = tx.pending["position-1"]
        # Base fee above the liquidation's cap, below the cancel's.
        head, base_fee = _mine(anvil, HIGH_BASE_FEE)
        outcomes = tx.poll(head, base_fee)
        assert head - pending.first_block <= STUCK.expiry_blocks + 4, "no cancel mined after the expiry"
    assert [o.status for o in outcomes] == [TxStatus.CANCELLED]
    assert outcomes[0].nonce == first_nonce
    assert _nonce(anvil, address, "latest") == first_nonce + 1
    assert tx.pending == {} and TxStore(store_path, provider.chain_id, address).load() == []
    mined = provider.web3.eth.get_transaction(outcomes[0].tx_hash)
    assert mined["to"] == address and mined["value"] == 0  # the cancel: a 0-value transfer to itself
    assert mined["maxFeePerGas"] > POLICY.max_fee_cap  # above the liquidation's cap, within the cancel's

    # The position is free again, and the next nonce is not blocked.
    head, base_fee = _mine(anvil, 1 * GWEI)
    outcome = tx.submit_many([request], head, base_fee, head)[0]
    assert outcome.status is TxStatus.SENT and outcome.nonce == first_nonce + 1
    head, base_fee = _mine(anvil)
    outcomes = tx.poll(head, base_fee)
    assert [o.status for o in outcomes] == [TxStatus.MINED]


@pytest.mark.both_nodes
def test_stuck_tx__node_drops_it__sent_again_and_mined(chain, tmp_path):
    anvil, test_accounts, provider = chain
    keeper, target = test_accounts[5], test_accounts[7]
    address = str(keeper.address)
    tx = _manager(provider, keeper, TxStore(tmp_path / "tx.sqlite", provider.chain_id, address))
    head, base_fee = _head(anvil)
    outcome = tx.submit_many([TxRequest(key="p", to=str(target.address), data=b"", label="dropped")], head,
                             base_fee, head)[0]
    anvil.control("dropTransaction", outcome.tx_hash)
    assert _nonce(anvil, address, "pending") == outcome.nonce  # the node lost it
    head, base_fee = _mine(anvil)
    assert tx.poll(head, base_fee) == []  # the audit sees it unheld and sends the same bytes again
    assert _nonce(anvil, address, "pending") == outcome.nonce + 1
    head, base_fee = _mine(anvil)
    outcomes = tx.poll(head, base_fee)
    assert [o.status for o in outcomes] == [TxStatus.MINED] and outcomes[0].tx_hash == outcome.tx_hash
