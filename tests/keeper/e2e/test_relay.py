"""The stand-in relay (``devkit.relay``) building blocks on a real anvil
(``--no-mining --order fifo``): private transactions held out of the pool
then included, bundles at their target block, all or none, and a
competitor's bundle that wins.
"""

from __future__ import annotations

import itertools

import httpx
import pytest
from eth_utils import to_checksum_address

from devkit.devnet import Anvil, wait_for
from devkit.processes import free_port
from devkit.relay import Bundle, BundleError, Relay, RelayError
from devkit.rpcwire import rpc

# A prize claimed once: reverts if slot 0 is set, else sets it.
# PUSH1 0 SLOAD PUSH1 12 JUMPI PUSH1 1 PUSH1 0 SSTORE STOP JUMPDEST PUSH1 0 DUP1 REVERT
CLAIM_ONCE_CODE = "0x600054600c576001600055005b600080fd"
PRIZE_ADDRESSES = (to_checksum_address(f"0x{n:040x}") for n in itertools.count(0xC1A1_0000))


@pytest.fixture(scope="module")
def anvil(tmp_path_factory):
    node = Anvil(
        free_port(), tmp_path_factory.mktemp("relay-anvil"), persist=False,
        extra_args=("--no-mining", "--order", "fifo"),
    ).start()
    yield node
    node.stop()


@pytest.fixture
def relay(anvil):
    with Relay(anvil.url) as r:
        yield r


@pytest.fixture
def sign(anvil, sign_for):
    return sign_for(anvil.url)


@pytest.fixture
def prize(anvil):
    """A fresh claim-once contract for each test."""
    address = next(PRIZE_ADDRESSES)
    rpc(anvil.url, "anvil_setCode", [address, CLAIM_ONCE_CODE])
    return address


def head(anvil) -> int:
    return int(rpc(anvil.url, "eth_blockNumber"), 16)


def send(url: str, method: str, *params) -> dict:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    return httpx.post(url, json=body, timeout=10).json()


def receipt(anvil, tx_hash: str) -> dict | None:
    return rpc(anvil.url, "eth_getTransactionReceipt", [tx_hash])


def test_private_tx__held_out_of_the_pool__included_in_the_next_block(anvil, relay, sign):
    raw, tx_hash = sign()

    assert send(relay.url, "eth_sendRawTransaction", raw)["result"] == tx_hash
    assert rpc(anvil.url, "eth_getTransactionByHash", [tx_hash]) is None
    built = relay.build_block()

    assert built.private == (tx_hash,) and built.tx_hashes == (tx_hash,)
    assert int(receipt(anvil, tx_hash)["blockNumber"], 16) == built.number == head(anvil)
    assert relay.received()[0].method == "eth_sendRawTransaction"


def test_bundle__waits_for_its_target_block__included_there_in_order(anvil, relay, sign):
    first, second = sign(), sign(nonce_offset=1)
    target = head(anvil) + 2

    reply = send(relay.url, "eth_sendBundle", {"txs": [first[0], second[0]], "blockNumber": hex(target)})
    early = relay.build_block()
    pending_after_early = receipt(anvil, first[1])
    at_target = relay.build_block()

    assert reply["result"]["bundleHash"] == Bundle((first[0], second[0]), target).bundle_hash
    assert early.included == () and pending_after_early is None
    assert at_target.number == target and at_target.included == (reply["result"]["bundleHash"],)
    assert at_target.tx_hashes == (first[1], second[1])


def test_bundle__a_reverting_tx__none_of_it_included(anvil, relay, sign, prize):
    rpc(anvil.url, "anvil_setStorageAt", [prize, "0x0", "0x" + "00" * 31 + "01"])  # already claimed
    transfer, claim = sign(), sign(to=prize, nonce_offset=1)

    bundle = relay.send_bundle(Bundle((transfer[0], claim[0]), head(anvil) + 1))
    built = relay.build_block()

    assert built.failed == (bundle,) and built.included == () and built.tx_hashes == ()
    assert receipt(anvil, transfer[1]) is None and receipt(anvil, claim[1]) is None


def test_competing_bundle__wins_the_target_block__ours_left_out(anvil, relay, sign, prize):
    ours, theirs = sign(0, to=prize), sign(1, to=prize)
    target = head(anvil) + 1

    reply = send(relay.url, "eth_sendBundle", {"txs": [ours[0]], "blockNumber": hex(target)})
    ours_hash = reply["result"]["bundleHash"]
    competitor = relay.compete([theirs[0]], target)
    built = relay.build_block()

    assert built.included == (competitor.bundle_hash,) and built.failed == (ours_hash,)
    assert receipt(anvil, theirs[1])["status"] == "0x1"
    assert receipt(anvil, ours[1]) is None  # a losing bundle costs nothing


def test_bundle__no_competitor__ours_claims_the_prize(anvil, relay, sign, prize):
    ours = sign(0, to=prize)

    relay.send_bundle(Bundle((ours[0],), head(anvil) + 1))
    built = relay.build_block()

    assert built.failed == () and receipt(anvil, ours[1])["status"] == "0x1"


def test_bundle__carrying_a_public_tx__back_runs_it_once(anvil, relay, sign, prize):
    public, ours = sign(1, to=prize), sign(0)
    rpc(anvil.url, "eth_sendRawTransaction", [public[0]])

    relay.send_bundle(Bundle((public[0], ours[0]), head(anvil) + 1))
    built = relay.build_block()

    assert built.tx_hashes == (public[1], ours[1])


def test_public_pool__included_after_the_bundles(anvil, relay, sign):
    public, ours = sign(1), sign(0)
    rpc(anvil.url, "eth_sendRawTransaction", [public[0]])

    relay.send_bundle(Bundle((ours[0],), head(anvil) + 1))
    built = relay.build_block()

    assert built.tx_hashes == (ours[1], public[1])


def test_bundle__target_passed__expired_not_included(anvil, relay, sign):
    raw, tx_hash = sign()
    rpc(anvil.url, "evm_mine")

    bundle = relay.send_bundle(Bundle((raw,), head(anvil)))
    built = relay.build_block()

    assert built.expired == (bundle,) and receipt(anvil, tx_hash) is None


def test_call_bundle__simulated__nothing_kept(anvil, relay, sign, prize):
    claim = sign(to=prize)
    before = head(anvil)

    result = send(relay.url, "eth_callBundle", {"txs": [claim[0]], "blockNumber": hex(before + 1)})["result"]

    assert result["results"][0]["status"] == "0x1" and result["results"][0]["txHash"] == claim[1]
    assert head(anvil) == before and receipt(anvil, claim[1]) is None
    assert rpc(anvil.url, "eth_getStorageAt", [prize, "0x0", "latest"]) == "0x" + "00" * 32


def test_block_time__private_tx_mined_without_a_build_call(anvil, sign):
    raw, tx_hash = sign()
    with Relay(anvil.url, block_time=0.2) as relay:
        send(relay.url, "eth_sendRawTransaction", raw)
        wait_for(lambda: receipt(anvil, tx_hash) is not None, 5, "the private tx mined", 0.05)


def test_other_methods__forwarded_to_the_node(anvil, relay):
    assert send(relay.url, "eth_chainId")["result"] == rpc(anvil.url, "eth_chainId")


@pytest.mark.parametrize(
    "params, message",
    [
        ({"txs": [], "blockNumber": "0x10"}, "at least one"),
        ({"txs": ["0xzz"], "blockNumber": "0x10"}, "hex string"),
        ({"txs": ["0x02"], "blockNumber": 16}, "hex quantity"),
    ],
)
def test_send_bundle__bad_params__refused_with_a_clear_error(relay, params, message):
    reply = send(relay.url, "eth_sendBundle", params)

    assert reply["error"]["code"] == -32602 and message in reply["error"]["message"]
    assert relay.built() == ()


def test_start__automining_node__refused(tmp_path):
    node = Anvil(free_port(), tmp_path, persist=False).start()
    try:
        with pytest.raises(RelayError, match="--no-mining"):
            Relay(node.url).start()
    finally:
        node.stop()


def test_bundle__bad_block__refused():
    with pytest.raises(BundleError, match="positive block"):
        Bundle(("0x02",), 0)


def test_private_tx__refused_by_the_node__left_out_block_still_built(anvil, relay, sign):
    raw, tx_hash = sign()
    relay.send_private(raw)
    relay.build_block()

    relay.send_private(raw)  # its nonce is spent now
    again = relay.build_block()

    assert again.private == () and again.tx_hashes == ()
    assert again.number == head(anvil)
