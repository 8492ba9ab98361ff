"""Helpers of the keeper's end-to-end tests.

- A second node: a test marked ``both_nodes`` runs twice, its ``devnet``
  on anvil and on Hardhat's node (``devkit.nodes``), so that no
  anvil-only behaviour hides in the keeper. Tests that need what only
  anvil does (a restart that keeps the state, the fault proxy's and the
  relay's anvil-specific setups) stay on anvil.
- For the fault-proxy and relay tests: signed transactions from anvil's dev
  accounts (its well-known test mnemonic), with explicit gas so nothing is
  estimated against a chain the test is about to change.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account import Account

from devkit.nodes import NODE_KINDS
from devkit.rpcwire import rpc

BOTH_NODES = "both_nodes"


def pytest_configure(config):
    config.addinivalue_line("markers", f"{BOTH_NODES}: run the test on anvil and on Hardhat's node")


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker(BOTH_NODES) is None:
        return
    if "node_kind" not in metafunc.fixturenames:
        raise pytest.UsageError(f"{metafunc.definition.nodeid} is marked {BOTH_NODES} but uses no node_kind fixture")
    metafunc.parametrize("node_kind", NODE_KINDS, indirect=True)


# anvil's dev accounts 0 and 1.
DEV_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
)
RECEIVER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
CHAIN_ID = 31337


def signer(url: str) -> Callable[..., tuple[str, str]]:
    """sign(account=0, to=RECEIVER, data="0x", nonce_offset=0, gas=100_000)
    -> (raw, hash) of a 1-wei call from dev account ``account``, at its
    pending nonce plus ``nonce_offset``."""

    def sign(
        account: int = 0, to: str = RECEIVER, data: str = "0x", nonce_offset: int = 0, gas: int = 100_000
    ) -> tuple[str, str]:
        key = Account.from_key(DEV_KEYS[account])
        nonce = int(rpc(url, "eth_getTransactionCount", [key.address, "pending"]), 16) + nonce_offset
        signed = key.sign_transaction({
            "to": to, "value": 1, "data": data, "gas": gas, "nonce": nonce, "chainId": CHAIN_ID,
            "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9,
        })
        raw = "0x" + signed.raw_transaction.hex().removeprefix("0x")
        return raw, "0x" + signed.hash.hex().removeprefix("0x")

    return sign


@pytest.fixture
def sign_for():
    return signer
