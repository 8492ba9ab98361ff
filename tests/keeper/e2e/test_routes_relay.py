"""The keeper's transaction manager sending through its submission routes
(keepers/submit.py) to the stand-in relay (devkit.relay) in front of an
anvil the relay mines (``--order fifo``, automine off): a private
transaction held out of the pool then mined, a bundle mined at its target
block, a dead private endpoint falling back to the public pool, and a
competitor's bundle that wins: ours is not mined, costs nothing, lapses
after its last target block, and the position is not sent again.

The "position" is a claim-once contract (it reverts once claimed), signed
and sent by the keeper's account (TEST::5) like any liquidation.
"""

from __future__ import annotations

import pytest
from eth_utils import to_checksum_address

from devkit.devnet import Anvil, connect
from devkit.processes import free_port
from devkit.relay import Relay
from devkit.rpcwire import rpc
from keepers.submit import RouteName, Sender, parse_routes
from keepers.txmanager import TxManager, TxRequest, TxStatus
from keepers.txrules import FeePolicy

from conftest import signer

CLAIM_ONCE_CODE = "0x600054600c576001600055005b600080fd"
PRIZE = to_checksum_address("0x00000000000000000000000000000000c1a1b0b0")


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    anvil = Anvil(port=free_port(), state_dir=tmp_path_factory.mktemp("routes-anvil"), persist=False,
                  extra_args=("--order", "fifo")).start()
    try:
        with connect(anvil.url):
            from ape import accounts, chain as ape_chain

            anvil.rpc("evm_setAutomine", False)
            with Relay(anvil.url) as relay:
                yield anvil, relay, accounts.test_accounts[5], ape_chain.provider
    finally:
        anvil.stop()


@pytest.fixture
def prize(chain):
    anvil = chain[0]
    anvil.rpc("anvil_setCode", PRIZE, CLAIM_ONCE_CODE)
    anvil.rpc("anvil_setStorageAt", PRIZE, "0x0", "0x" + "00" * 32)
    return PRIZE


def _manager(chain, names, **urls) -> TxManager:
    _, relay, keeper, provider = chain
    tx = TxManager(provider.web3, keeper, provider.network.ecosystem, provider.chain_id, FeePolicy())
    routes = parse_routes(names, urls.get("private", relay.url), urls.get("builders", (relay.url,)), None,
                          urls.get("blocks", 2))
    tx.sender = Sender(routes, tx.rpc.request)
    return tx


def _head(anvil) -> tuple[int, int]:
    block = anvil.rpc("eth_getBlockByNumber", "latest", False)
    return int(block["number"], 16), int(block["baseFeePerGas"], 16)


def _submit(tx: TxManager, anvil, key: str, to: str):
    head, base_fee = _head(anvil)
    return tx.submit_many([TxRequest(key=key, to=to, data=b"", label="claim")], head, base_fee, head)[0]


def _receipt(anvil, tx_hash: str):
    return anvil.rpc("eth_getTransactionReceipt", tx_hash)


def _build_and_poll(tx: TxManager, relay: Relay, anvil):
    built = relay.build_block()
    head, base_fee = _head(anvil)
    return built, tx.poll(head, base_fee)


def test_private_route__held_out_of_the_pool__mined_by_the_relay(chain, prize):
    anvil, relay, _, _ = chain
    tx = _manager(chain, ["private", "public"])

    sent = _submit(tx, anvil, "position-private", prize)
    in_pool = anvil.rpc("eth_getTransactionByHash", sent.tx_hash)
    built, outcomes = _build_and_poll(tx, relay, anvil)

    assert sent.status is TxStatus.SENT and in_pool is None
    assert built.private == (sent.tx_hash,)
    assert [o.status for o in outcomes] == [TxStatus.MINED] and outcomes[0].tx_hash == sent.tx_hash


def test_bundle_route__mined_at_its_target_block(chain, prize):
    anvil, relay, _, _ = chain
    tx = _manager(chain, ["bundle", "public"])
    head, _ = _head(anvil)
    before = len(relay.received())

    sent = _submit(tx, anvil, "position-bundle", prize)
    built, outcomes = _build_and_poll(tx, relay, anvil)

    bundles = [r for r in relay.received()[before:] if r.method == "eth_sendBundle"]
    assert sorted(int(r.params[0]["blockNumber"], 16) for r in bundles) == [head + 1, head + 2]
    assert built.number == head + 1 and sent.tx_hash in built.tx_hashes and len(built.included) == 1
    assert [o.status for o in outcomes] == [TxStatus.MINED]
    relay.build_block()  # the second target: its copy is refused (nonce used), nothing else happens


def test_private_route_down__falls_back_to_the_public_pool(chain, prize):
    anvil, relay, _, _ = chain
    tx = _manager(chain, ["private", "public"], private=f"http://127.0.0.1:{free_port()}")

    sent = _submit(tx, anvil, "position-fallback", prize)
    in_pool = anvil.rpc("eth_getTransactionByHash", sent.tx_hash)
    built, outcomes = _build_and_poll(tx, relay, anvil)

    assert sent.status is TxStatus.SENT and in_pool is not None and built.private == ()
    assert sent.tx_hash in built.tx_hashes and [o.status for o in outcomes] == [TxStatus.MINED]


def test_bundle_route__competitor_wins__ours_unmined_unpaid_lapses_and_is_not_sent_again(chain, prize):
    anvil, relay, keeper, provider = chain
    address = str(keeper.address)
    tx = _manager(chain, ["bundle"], blocks=2)
    head, _ = _head(anvil)
    balance = provider.web3.eth.get_balance(address)
    nonce = provider.web3.eth.get_transaction_count(address)

    sent = _submit(tx, anvil, "position-contested", prize)
    theirs, their_hash = signer(anvil.url)(1, to=prize)
    relay.compete([theirs], head + 1)
    first, early = _build_and_poll(tx, relay, anvil)
    second, late = _build_and_poll(tx, relay, anvil)
    sends = len([r for r in relay.received() if r.method == "eth_sendBundle"])
    again = _submit(tx, anvil, "position-contested", prize)

    assert sent.status is TxStatus.SENT
    assert first.tx_hashes == (their_hash,) and len(first.failed) == 1 and second.tx_hashes == ()
    assert _receipt(anvil, sent.tx_hash) is None and _receipt(anvil, their_hash)["status"] == "0x1"
    assert early == [] and [o.status for o in late] == [TxStatus.DROPPED] and tx.pending == {}
    assert provider.web3.eth.get_balance(address) == balance  # a losing bundle costs nothing
    assert provider.web3.eth.get_transaction_count(address) == nonce
    assert again.status is TxStatus.SIMULATION_REVERTED
    assert len([r for r in relay.received() if r.method == "eth_sendBundle"]) == sends


def test_routes__keeper_config_bundle_without_builders__refused():
    with pytest.raises(ValueError, match="route 'bundle' needs builder_urls"):
        parse_routes(["bundle"], None, (), None)
    assert parse_routes(["bundle"], None, ("http://b.test",), None).names == (RouteName.BUNDLE,)
