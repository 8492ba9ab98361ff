"""The fault proxy (``devkit.faultproxy``) in front of a real anvil: each
fault it injects is seen by a plain HTTP client (httpx), and what it does
not inject passes through untouched.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import pytest

from devkit.devnet import Anvil, wait_for
from devkit.faultproxy import (
    DropSend,
    EvictSend,
    FaultError,
    FaultProxy,
    LogLimits,
    RateLimit,
    Timeout,
)
from devkit.processes import free_port
from devkit.rpcwire import rpc

# Runtime code that emits one LOG0 per call: PUSH1 0 PUSH1 0 LOG0 STOP.
LOGGER_CODE = "0x60006000a000"
LOGGER = "0x0000000000000000000000000000000000010661"


@pytest.fixture(scope="module")
def anvil(tmp_path_factory):
    node = Anvil(free_port(), tmp_path_factory.mktemp("faultproxy-anvil"), persist=False).start()
    yield node
    node.stop()


@pytest.fixture
def proxy(anvil):
    rpc(anvil.url, "evm_setAutomine", [True])
    with FaultProxy(anvil.url, seed=7) as p:
        yield p


def call(url: str, method: str, *params, timeout: float = 5.0) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    return httpx.post(url, json=body, timeout=timeout)


def block_hash(anvil, number: int) -> str:
    return rpc(anvil.url, "eth_getBlockByNumber", [hex(number), False])["hash"]


def test_forward__single_and_batch__answered_as_upstream(anvil, proxy):
    single = call(proxy.url, "eth_chainId").json()
    batch = httpx.post(
        proxy.url,
        json=[
            {"jsonrpc": "2.0", "id": 5, "method": "eth_chainId"},
            {"jsonrpc": "2.0", "id": 6, "method": "eth_blockNumber"},
        ],
    ).json()

    assert single["result"] == rpc(anvil.url, "eth_chainId")
    assert [r["id"] for r in batch] == [5, 6] and batch[0]["result"] == single["result"]
    assert proxy.stats().forwarded["eth_chainId"] == 2 and proxy.stats().rate_limited == 0


def test_rate_limit__next_two_calls__429_with_retry_after_then_passes(proxy):
    proxy.add(RateLimit(calls=2, retry_after=3))

    first, second, third = (call(proxy.url, "eth_blockNumber") for _ in range(3))

    assert first.status_code == second.status_code == 429
    assert first.headers["Retry-After"] == "3" and first.json()["error"]["code"] == 429
    assert third.status_code == 200 and "result" in third.json()
    assert proxy.stats().rate_limited == 2


def test_rate_limit__per_method__other_methods_pass(proxy):
    proxy.add(RateLimit(methods=frozenset({"eth_getLogs"})))

    logs = call(proxy.url, "eth_getLogs", {"fromBlock": "0x0", "toBlock": "0x0"})
    head = call(proxy.url, "eth_blockNumber")

    assert logs.status_code == 429 and head.status_code == 200


def test_rate_limit__fraction__deterministic_given_the_seed(anvil):
    def hits(seed: int) -> list[int]:
        with FaultProxy(anvil.url, seed=seed) as p:
            p.add(RateLimit(fraction=0.3))
            return [call(p.url, "eth_chainId").status_code for _ in range(20)]

    first, again, other = hits(11), hits(11), hits(12)

    assert first == again and 0 < first.count(429) < 20
    assert other != first


def test_timeout__held_past_the_client_timeout__client_times_out(proxy):
    proxy.add(Timeout(seconds=1.0, calls=1))

    with pytest.raises(httpx.ReadTimeout):
        call(proxy.url, "eth_blockNumber", timeout=0.3)
    late = call(proxy.url, "eth_blockNumber", timeout=0.3)

    assert late.status_code == 200
    wait_for(lambda: proxy.stats().timed_out == 1, 3, "the held call counted", 0.05)


def test_timeout__hang_up__connection_closed_unanswered(proxy):
    proxy.add(Timeout(seconds=0.0, hang_up=True, calls=1))

    with pytest.raises(httpx.RemoteProtocolError):
        call(proxy.url, "eth_blockNumber")

    assert call(proxy.url, "eth_blockNumber").status_code == 200
    assert proxy.stats().hung_up == 1


def test_drop_send__hash_answered__never_mined(anvil, proxy, sign_for):
    proxy.add(DropSend(calls=1))
    raw, tx_hash = sign_for(anvil.url)()

    answered = call(proxy.url, "eth_sendRawTransaction", raw).json()
    rpc(anvil.url, "anvil_mine", ["0x2"])

    assert answered["result"] == tx_hash
    assert rpc(anvil.url, "eth_getTransactionByHash", [tx_hash]) is None
    assert proxy.stats().dropped_sends == (tx_hash,)
    assert "eth_sendRawTransaction" not in proxy.stats().forwarded


def test_drop_send__spent__the_next_send_mines(anvil, proxy, sign_for):
    proxy.add(DropSend(calls=1))
    call(proxy.url, "eth_sendRawTransaction", sign_for(anvil.url)()[0])
    raw, tx_hash = sign_for(anvil.url)()

    assert call(proxy.url, "eth_sendRawTransaction", raw).json()["result"] == tx_hash
    assert rpc(anvil.url, "eth_getTransactionReceipt", [tx_hash])["status"] == "0x1"


def test_evict_send__forwarded_then_dropped_from_the_pool__never_mined(anvil, proxy, sign_for):
    rpc(anvil.url, "evm_setAutomine", [False])
    proxy.add(EvictSend(after=0.2))
    raw, tx_hash = sign_for(anvil.url)()

    call(proxy.url, "eth_sendRawTransaction", raw)
    assert rpc(anvil.url, "eth_getTransactionByHash", [tx_hash]) is not None
    wait_for(lambda: proxy.stats().evicted == (tx_hash,), 3, "the send evicted", 0.05)
    rpc(anvil.url, "evm_mine")

    assert rpc(anvil.url, "eth_getTransactionReceipt", [tx_hash]) is None
    assert rpc(anvil.url, "eth_getTransactionByHash", [tx_hash]) is None


def test_evict_send__mined_before_its_eviction__stays_mined(anvil, proxy, sign_for):
    proxy.add(EvictSend(after=0.2))
    raw, tx_hash = sign_for(anvil.url)()

    call(proxy.url, "eth_sendRawTransaction", raw)
    time.sleep(0.5)

    assert rpc(anvil.url, "eth_getTransactionReceipt", [tx_hash])["status"] == "0x1"
    assert proxy.stats().evicted == ()


def test_log_limits__range_over_10000_blocks__refused_with_32005(proxy):
    proxy.add(LogLimits())

    over = call(proxy.url, "eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(10_000)}).json()
    latest = call(proxy.url, "eth_getLogs", {"fromBlock": "earliest", "toBlock": "latest"}).json()

    assert over["error"] == {"code": -32005, "message": "query exceeds max block range 10000"}
    assert latest["result"] == []
    assert proxy.stats().log_limit_refusals == 1


def test_log_limits__range_at_the_limit__forwarded_one_over__refused(anvil, proxy):
    rpc(anvil.url, "anvil_mine", ["0x6"])
    head = int(rpc(anvil.url, "eth_blockNumber"), 16)
    proxy.add(LogLimits(max_blocks=5))

    at = call(proxy.url, "eth_getLogs", {"fromBlock": hex(head - 4), "toBlock": "latest"}).json()
    over = call(proxy.url, "eth_getLogs", {"fromBlock": hex(head - 5), "toBlock": "latest"}).json()

    assert at["result"] == [] and proxy.stats().forwarded["eth_getLogs"] == 1
    assert over["error"]["code"] == -32005 and "5" in over["error"]["message"]


def test_log_limits__result_over_max_logs__refused_under_it_answered(anvil, proxy):
    rpc(anvil.url, "anvil_setCode", [LOGGER, LOGGER_CODE])
    start = int(rpc(anvil.url, "eth_blockNumber"), 16) + 1
    sender = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # dev account 0
    for _ in range(4):
        rpc(anvil.url, "eth_sendTransaction", [{"from": sender, "to": LOGGER}])
    proxy.add(LogLimits(max_logs=3))

    over = call(proxy.url, "eth_getLogs", {"fromBlock": hex(start), "address": LOGGER}).json()
    under = call(proxy.url, "eth_getLogs", {"fromBlock": hex(start + 1), "address": LOGGER}).json()

    assert over["error"] == {"code": -32005, "message": "query returned more than 3 results"}
    assert len(under["result"]) == 3


def test_outage__refused_while_down__answers_after(proxy):
    proxy.outage(0.6)

    with pytest.raises(httpx.ConnectError):
        call(proxy.url, "eth_blockNumber")
    wait_for(lambda: not proxy.down, 3, "the endpoint back", 0.05)

    assert call(proxy.url, "eth_blockNumber").status_code == 200
    assert proxy.stats().outages == 1


def test_outage__until_restored__still_refused(proxy):
    proxy.outage(None)
    time.sleep(0.3)

    with pytest.raises(httpx.ConnectError):
        call(proxy.url, "eth_blockNumber")
    proxy.restore()
    assert call(proxy.url, "eth_blockNumber").status_code == 200


def test_reorg__replaces_the_last_blocks__hashes_change_height_kept(anvil, proxy):
    rpc(anvil.url, "anvil_mine", ["0x3"])
    head = int(rpc(anvil.url, "eth_blockNumber"), 16)
    before = [block_hash(anvil, n) for n in (head - 2, head - 1, head)]

    proxy.reorg(2)
    after = [block_hash(anvil, n) for n in (head - 2, head - 1, head)]

    assert int(rpc(anvil.url, "eth_blockNumber"), 16) == head
    assert after[0] == before[0] and after[1] != before[1] and after[2] != before[2]
    assert proxy.stats().reorgs == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda: RateLimit(fraction=0.0),
        lambda: RateLimit(calls=0),
        lambda: RateLimit(methods={"eth_call"}),
        lambda: Timeout(seconds=-1),
        lambda: EvictSend(after=-0.1),
        lambda: LogLimits(max_blocks=0),
    ],
)
def test_rules__bad_parameters__refused_with_a_clear_error(make):
    with pytest.raises(FaultError):
        make()


def test_add__not_a_rule__refused(proxy):
    with pytest.raises(FaultError, match="not a fault rule"):
        proxy.add("429")



def test_reorg__a_tx_in_a_replaced_block__its_receipt_gone(anvil, proxy, sign_for):
    raw, tx_hash = sign_for(anvil.url)()
    rpc(anvil.url, "eth_sendRawTransaction", [raw])
    rpc(anvil.url, "anvil_mine", ["0x1"])
    assert rpc(anvil.url, "eth_getTransactionReceipt", [tx_hash]) is not None

    proxy.reorg(2)

    assert rpc(anvil.url, "eth_getTransactionReceipt", [tx_hash]) is None


def test_drop_send__inside_a_batch__answered_in_place_the_rest_forwarded(anvil, proxy, sign_for):
    proxy.add(DropSend())
    raw, tx_hash = sign_for(anvil.url)()

    replies = httpx.post(proxy.url, json=[
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_sendRawTransaction", "params": [raw]},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_blockNumber"},
    ]).json()

    assert [r["id"] for r in replies] == [1, 2, 3] and replies[1]["result"] == tx_hash
    assert replies[0]["result"] == "0x7a69" and "result" in replies[2]
    assert dict(proxy.stats().forwarded) == {"eth_chainId": 1, "eth_blockNumber": 1}
    assert rpc(anvil.url, "eth_getTransactionByHash", [tx_hash]) is None


def test_rate_limit__batch__every_call_answered_429(proxy):
    proxy.add(RateLimit(calls=1, methods=frozenset({"eth_getLogs"})))

    reply = httpx.post(proxy.url, json=[
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_getLogs", "params": [{}]},
    ])

    assert reply.status_code == 429 and [r["error"]["code"] for r in reply.json()] == [429, 429]


def test_bad_body__not_json__parse_error(proxy):
    reply = httpx.post(proxy.url, content=b"{not json", headers={"Content-Type": "application/json"})

    assert reply.status_code == 400 and reply.json()["error"]["code"] == -32700


def test_control__add_from_another_process__rule_armed_and_stats_read(proxy):
    added = call(proxy.url, "faultproxy_add", "RateLimit", {"calls": 1, "methods": ["eth_chainId"]}).json()

    limited = call(proxy.url, "eth_chainId")
    stats = call(proxy.url, "faultproxy_stats").json()["result"]

    assert added["result"] is True and limited.status_code == 429
    assert stats["rate_limited"] == 1 and stats["requests"] == 1  # control calls are not counted


def test_control__unknown_rule_or_method__refused_with_a_clear_error(proxy):
    kind = call(proxy.url, "faultproxy_add", "Meteor", {}).json()
    field = call(proxy.url, "faultproxy_add", "RateLimit", {"burst": 3}).json()
    method = call(proxy.url, "faultproxy_explode").json()

    assert kind["error"]["code"] == -32602 and "no fault rule 'Meteor'" in kind["error"]["message"]
    assert field["error"]["code"] == -32602 and "burst" in field["error"]["message"]
    assert method["error"]["code"] == -32601
    assert proxy.stats().requests == 0


def test_cli__rules_from_the_command_line__proxy_serves_them(anvil, tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "devkit.faultproxy", "--upstream", anvil.url, "--port", str(port),
         "--rule", 'RateLimit:{"calls": 1, "retry_after": 4}'],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(3)]  # the armed rule's log, the proxy's, its URL
        assert any(line.startswith("fault proxy on") for line in lines), lines
        first, second = (call(f"http://127.0.0.1:{port}", "eth_chainId") for _ in range(2))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)

    assert first.status_code == 429 and first.headers["Retry-After"] == "4"
    assert second.json()["result"] == "0x7a69"


def test_cli__bad_rule__exits_with_the_reason():
    done = subprocess.run(
        [sys.executable, "-m", "devkit.faultproxy", "--upstream", "http://127.0.0.1:1", "--rule", "Nope"],
        capture_output=True, text=True, timeout=30,
    )

    assert done.returncode == 2 and "no fault rule 'Nope'" in done.stderr
