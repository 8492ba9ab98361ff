"""The second node of the keeper's end-to-end tests (``devkit.nodes``):
Hardhat's node started from the npm install, with anvil's chain id and
accounts, mining on demand, at an interval or on every send, and what it
cannot do refused with a clear error. Each test is cheap (no market)."""

from __future__ import annotations

import json
import time

import pytest

from devkit.devnet import connect, start_node, wait_for
from devkit.nodes import ACCOUNTS, ANVIL, CHAIN_ID, HARDHAT, HardhatNode, NodeError, ape_attachment


@pytest.fixture
def node(tmp_path, node_kind):
    started = start_node(node_kind, tmp_path / node_kind, start_time=1_900_000_000, persist=False)
    try:
        yield started
    finally:
        started.stop()


@pytest.mark.both_nodes
def test_node__chain_id_accounts_and_genesis_time__as_anvil(node):
    assert int(node.rpc("eth_chainId"), 16) == CHAIN_ID
    with connect(node.url, node.kind):
        from ape import accounts

        expected = [str(a.address).lower() for a in list(accounts.test_accounts)[:ACCOUNTS]]
    assert [a.lower() for a in node.rpc("eth_accounts")] == expected
    assert int(node.rpc("eth_getBalance", expected[15], "latest"), 16) == 10**24
    assert 1_900_000_000 <= node.timestamp() < 1_900_000_000 + 600


@pytest.mark.both_nodes
def test_node__mine_interval_and_automine__blocks_as_asked(node):
    start = node.block_number()
    node.mine(3)
    assert node.block_number() == start + 3

    node.set_interval_mining(1)
    at = node.block_number()
    wait_for(lambda: node.block_number() >= at + 2, 10, "two interval blocks")
    node.set_interval_mining(0)
    tx = node.rpc("eth_sendTransaction", {"from": node.rpc("eth_accounts")[0], "to": node.rpc("eth_accounts")[1],
                                          "value": "0x1"})
    # The node may answer the send before its block is sealed (seen once
    # under load: the block came after the count below): count from the
    # block that holds it.
    wait_for(lambda: node.rpc("eth_getTransactionReceipt", tx) is not None, 10, "the transaction mined")
    mined = node.block_number()
    time.sleep(2.5)
    assert node.block_number() == mined  # automine again: no block without a transaction


@pytest.mark.both_nodes
def test_node__control_prefix__the_nodes_own_namespace(node):
    address = node.rpc("eth_accounts")[2]
    node.control("setBalance", address, hex(12345))
    assert int(node.rpc("eth_getBalance", address, "latest"), 16) == 12345


def test_hardhat_node__restart__refused_with_the_reason(tmp_path):
    hardhat = start_node(HARDHAT, tmp_path)
    try:
        with pytest.raises(NodeError, match="cannot keep its state"):
            hardhat.restart()
    finally:
        hardhat.stop()


def test_hardhat_node__no_install__refused_naming_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("NAVLEND_HARDHAT_HOME", str(tmp_path))
    with pytest.raises(NodeError, match="make setup"):
        HardhatNode(port=1, state_dir=tmp_path).start()


def test_start_node__unknown_kind__refused(tmp_path):
    with pytest.raises(NodeError, match="unknown node kind 'geth'"):
        start_node("geth", tmp_path)


def test_ape_attachment__each_kind__its_provider_and_the_bots_setting():
    anvil, hardhat = ape_attachment(ANVIL, "http://127.0.0.1:1"), ape_attachment(HARDHAT, "http://127.0.0.1:2")
    assert (anvil.network, anvil.bot_env) == ("ethereum:local:foundry", {"APE_FOUNDRY_HOST": "http://127.0.0.1:1"})
    assert hardhat.network == "ethereum:local:node"
    assert json.loads(hardhat.bot_env["APE_NODE_ETHEREUM"])["local"]["uri"] == "http://127.0.0.1:2"
    with pytest.raises(NodeError, match="unknown node kind"):
        ape_attachment("geth", "http://127.0.0.1:3")
