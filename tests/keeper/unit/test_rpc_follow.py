"""``keepers.rpc.follow_logs`` (an event listener's loop: a range whose
getLogs failed is asked again, never skipped), the process's one RPC
client (``process_client`` / ``installed_client`` / ``web3_on``) and the
``rpc_*`` configuration that the keeper's wiring builds it from."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from keepers.chain import log_record
from keepers.config import ConfigError, load_config
from keepers.rpc import RpcSettings, SharedHead, follow_logs, installed_client, process_client, web3_on

from conftest import MARKET


def _follow(heads, fetch, *, max_range=1_000, seconds=0.5):
    """Runs follow_logs for ``seconds`` on a head that takes the values of
    ``heads`` poll after poll (the last one stays); returns what it yielded."""
    values = list(heads)

    def head():
        return values.pop(0) if len(values) > 1 else values[0]

    shared = SharedHead(head, interval=0.01)

    async def main():
        stop = asyncio.Event()
        out = []

        async def run():
            async for read in follow_logs(shared, stop, fetch, poll_seconds=0.01, max_backoff=0.04,
                                          max_range=max_range):
                out.append(read)

        task = asyncio.create_task(run())
        await asyncio.sleep(seconds)
        stop.set()
        await task
        return out

    return asyncio.run(main())


def _blocks(reads):
    return [b for read in reads for b in range(read.start, read.end + 1)]


def test_follow_logs__fetch_fails__same_blocks_asked_again_none_skipped():
    asked = []
    failures = [2]

    def fetch(lo, hi):
        asked.append((lo, hi))
        if lo <= 12 <= hi and failures[0]:
            failures[0] -= 1
            raise TimeoutError("timed out")
        return [("nav", b) for b in range(lo, hi + 1) if b == 12]

    reads = _follow([10, 11, 12, 13, 14], fetch)

    assert _blocks(reads) == list(range(10, _blocks(reads)[-1] + 1))  # every block once, in order
    assert [entry for read in reads for entry in read.logs] == [("nav", 12)]
    retried = [q for q in asked if q[0] <= 12 <= q[1]]
    assert len(retried) == 3 and len({q[0] for q in retried}) == 1


def test_follow_logs__no_failure__each_block_read_once():
    asked = []

    def fetch(lo, hi):
        asked.append((lo, hi))
        return []

    reads = _follow([5, 6, 9], fetch)

    assert _blocks(reads) == [5, 6, 7, 8, 9]
    assert asked == [(r.start, r.end) for r in reads]


def test_follow_logs__long_gap__ranges_of_max_range_blocks():
    reads = _follow([100, 125], lambda lo, hi: [], max_range=10)

    assert [(r.start, r.end) for r in reads] == [(100, 100), (101, 110), (111, 120), (121, 125)]


def test_follow_logs__shorter_chain__waits_for_it_to_grow_back():
    reads = _follow([50, 52, 51, 51, 53], lambda lo, hi: [])

    assert _blocks(reads) == [50, 51, 52, 53]


def test_follow_logs__bad_arguments__refused():
    async def main(**kwargs):
        async for _ in follow_logs(SharedHead(lambda: 1, interval=1), asyncio.Event(), lambda lo, hi: [], **kwargs):
            pass

    with pytest.raises(ValueError, match="poll_seconds"):
        asyncio.run(main(poll_seconds=0))
    with pytest.raises(ValueError, match="max_range"):
        asyncio.run(main(poll_seconds=0.1, max_range=0))


def test_process_client__same_endpoints__one_client_installed(monkeypatch):
    # This process's clients, for this test only (the runner tests need none).
    monkeypatch.setattr("keepers.rpc._clients", {})
    monkeypatch.setattr("keepers.rpc._latest", [])
    settings = RpcSettings(timeout=1.0)
    first = process_client(["http://127.0.0.1:1"], (), settings)
    again = process_client(["http://127.0.0.1:1"], (), settings)
    other = process_client(["http://127.0.0.1:2"], ["http://127.0.0.1:3"], settings)

    assert first is again and other is not first
    assert installed_client() is other
    assert other.sends.urls == ("http://127.0.0.1:3",) and other.reads.urls == ("http://127.0.0.1:2",)
    assert web3_on(other) is web3_on(other) and web3_on(other).provider.client is other


def _config(**env):
    return load_config(env={
        "NAVLEND_KEEPER_MARKET": MARKET, "NAVLEND_KEEPER_LENS": "0x" + "1e" * 20,
        "NAVLEND_KEEPER_FLASH_LIQUIDATOR": "0x" + "f1" * 20, "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0", **env,
    })


def test_config__rpc_urls__ordered_list_and_send_endpoint():
    config = _config(NAVLEND_KEEPER_RPC_URLS="https://a.example/v3/KEY, http://127.0.0.1:8545",
                     NAVLEND_KEEPER_SEND_RPC_URL="https://rpc.flashbots.net",
                     NAVLEND_KEEPER_RPC_TIMEOUT_SECONDS="2.5")

    assert config.rpc_urls == ("https://a.example/v3/KEY", "http://127.0.0.1:8545")
    assert config.send_rpc_url == "https://rpc.flashbots.net"
    assert config.rpc_timeout_seconds == Decimal("2.5")


def test_config__rpc_unset__the_provider_alone():
    config = _config()

    assert config.rpc_urls == () and config.send_rpc_url is None


@pytest.mark.parametrize("env, message", [
    ({"NAVLEND_KEEPER_RPC_URLS": "ws://a.example/v3/SECRET"}, "rpc_urls: 'ws://a.example/...' is not an http"),
    ({"NAVLEND_KEEPER_RPC_URLS": "http://a.example,http://a.example"}, "listed twice"),
    ({"NAVLEND_KEEPER_SEND_RPC_URL": "relay.example"}, "send_rpc_url"),
    ({"NAVLEND_KEEPER_RPC_TIMEOUT_SECONDS": "0"}, "rpc_timeout_seconds"),
    ({"NAVLEND_KEEPER_RPC_RATE_PER_SECOND": "-1"}, "rpc_rate_per_second"),
])
def test_config__bad_rpc_settings__refused_by_name(env, message):
    with pytest.raises(ConfigError) as refused:
        _config(**env)

    assert message in str(refused.value)
    assert "SECRET" not in str(refused.value)


def _market_log(block_hash, tx_hash):
    return {"event_name": "Borrow", "event_arguments": {"on_behalf": "0x" + "0b" * 20, "scaled_debt": 5,
                                                        "borrow_index": 10**18},
            "block_number": 7, "block_hash": block_hash, "transaction_hash": tx_hash, "log_index": 0}


def test_log_record__hashes_as_lists_of_bytes__read_as_the_runner_hands_them():
    # Silverback hands an event handler the ContractLog's model_dump():
    # its HexBytes hashes arrive as lists of ints.
    record = log_record(_market_log(list(b"\x0a" * 32), list(b"\x0b" * 32)))

    assert record.block_hash == "0x" + "0a" * 32 and record.tx_hash == "0x" + "0b" * 32


def test_log_record__list_not_a_hash__refused():
    with pytest.raises(ValueError, match="32-byte hash"):
        log_record(_market_log([1, 2, 3], "0x" + "0b" * 32))
    with pytest.raises(ValueError, match="32-byte hash"):
        log_record(_market_log(list(b"\x0a" * 32), [300] * 32))
