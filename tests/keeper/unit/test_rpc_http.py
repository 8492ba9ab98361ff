"""keepers/rpc.py over real HTTP: local JSON-RPC stubs on the standard
library's http.server (one answering 429 with Retry-After, one healthy,
one too slow, one port with nothing behind it)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from web3 import Web3

from keepers.rpc import FailoverProvider, RpcClient, RpcSettings, RpcUnavailable
from keepers.rpc_policy import FailureKind, HealthPolicy


class Node:
    """A JSON-RPC endpoint answering ``eth_blockNumber`` with ``head``;
    the first ``limited`` requests get 429 with ``Retry-After``, and each
    answer comes after ``delay`` seconds."""

    def __init__(self, head: int, *, limited: int = 0, retry_after: str = "1", delay: float = 0.0):
        self.head = head
        self.limited = limited
        self.retry_after = retry_after
        self.delay = delay
        self.requests: list[tuple[float, str]] = []
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                node.requests.append((time.monotonic(), body["method"]))
                if node.limited > 0:
                    node.limited -= 1
                    self._reply(429, b"Too Many Requests", {"Retry-After": node.retry_after})
                    return
                time.sleep(node.delay)
                answer = {"jsonrpc": "2.0", "id": body["id"], "result": hex(node.head)}
                self._reply(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

            def _reply(self, status, payload, headers):
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def nodes():
    started: list[Node] = []

    def start(*args, **kwargs) -> Node:
        node = Node(*args, **kwargs)
        started.append(node)
        return node

    yield start
    for node in started:
        node.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


SETTINGS = RpcSettings(timeout=0.5, rate=100, burst=10, max_attempts=6, max_wait=5.0,
                       health=HealthPolicy(down_after=1, cooldown=2.0, max_cooldown=10.0))


def test_http__429_with_retry_after__healthy_endpoint_answers_meanwhile(nodes):
    limited, healthy = nodes(100, limited=1, retry_after="1"), nodes(200)
    client = RpcClient([limited.url, healthy.url], settings=SETTINGS)
    assert int(client.request("eth_blockNumber", []), 16) == 200
    assert int(client.request("eth_blockNumber", []), 16) == 200  # the limited one rests 1 s
    assert len(limited.requests) == 1
    time.sleep(1.05)
    assert int(client.request("eth_blockNumber", []), 16) == 100  # back first once its Retry-After passed


def test_http__429_with_retry_after__single_endpoint_waits_it_out(nodes):
    limited = nodes(7, limited=1, retry_after="1")
    client = RpcClient([limited.url], settings=SETTINGS)
    started = time.monotonic()
    assert int(client.request("eth_blockNumber", []), 16) == 7
    (first, _), (second, _) = limited.requests
    assert second - first >= 0.95
    assert time.monotonic() - started < 3


def test_http__slow_endpoint__timeout_then_failover(nodes):
    slow, healthy = nodes(1, delay=2.0), nodes(2)
    client = RpcClient([slow.url, healthy.url], settings=SETTINGS)
    started = time.monotonic()
    assert int(client.request("eth_blockNumber", []), 16) == 2
    assert time.monotonic() - started < 1.5  # the 0.5 s timeout, not the 2 s answer
    assert client.reads.states()[0].faults == 1


def test_http__connection_refused__failover(nodes):
    healthy = nodes(3)
    client = RpcClient([closed_port_url(), healthy.url], settings=SETTINGS)
    assert int(client.request("eth_blockNumber", []), 16) == 3
    assert client.reads.states()[0].faults == 1


def test_http__nothing_answers__unavailable():
    settings = RpcSettings(timeout=0.5, max_attempts=2, max_wait=0.0, health=HealthPolicy(down_after=1))
    client = RpcClient([closed_port_url()], settings=settings)
    with pytest.raises(RpcUnavailable) as info:
        client.request("eth_blockNumber", [])
    assert info.value.failure.kind is FailureKind.UNREACHABLE


def test_http__web3_on_failover_provider__reads_through_the_healthy_one(nodes):
    limited, healthy = nodes(100, limited=5), nodes(321)
    w3 = Web3(FailoverProvider(RpcClient([limited.url, healthy.url], settings=SETTINGS)))
    assert w3.eth.block_number == 321
    assert w3.provider.is_connected()
