"""The wire under the kit's stand-in nodes (``devkit.faultproxy``,
``devkit.relay``): a JSON-RPC client for the upstream node, written on the
standard library, and a local HTTP server that can be stopped (its port then
refuses connections) and started again on the same port.

Why the standard library: these servers run inside the tests' process and
must not depend on the keeper's own RPC stack, which is what they test.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

JSON = "application/json"


class RpcError(RuntimeError):
    """The upstream node answered a JSON-RPC error (``code``, ``message``)."""

    def __init__(self, method: str, error: Any):
        self.method = method
        self.code = error.get("code") if isinstance(error, dict) else None
        self.error_message = error.get("message", "") if isinstance(error, dict) else str(error)
        super().__init__(f"{method}: {error}")


def post_json(url: str, body: Any, timeout: float) -> Any:
    """POSTs ``body`` as JSON to ``url``; the decoded JSON answer (also of an
    HTTP error status that carries a JSON body)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": JSON})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as err:
        payload = err.read()
        try:
            return json.loads(payload)
        except ValueError:
            raise RuntimeError(f"{url} answered HTTP {err.code}: {payload[:200]!r}") from err


def rpc(url: str, method: str, params: list[Any] | None = None, timeout: float = 30.0) -> Any:
    """One JSON-RPC call; its result, or :class:`RpcError`."""
    reply = post_json(url, {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout)
    if "error" in reply:
        raise RpcError(method, reply["error"])
    return reply.get("result")


def error_reply(call_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": call_id, "error": {"code": code, "message": message}}


def result_reply(call_id: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": call_id, "result": result}


@dataclass(frozen=True)
class HttpAnswer:
    """What a handler sends back: a status, headers and a JSON body; or, with
    ``hang_up``, nothing (the connection is closed unanswered)."""

    status: int = 200
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    hang_up: bool = False


# A stand-in node's request handler: the decoded JSON body -> the answer.
Handle = Callable[[Any], HttpAnswer]


def _handler_class(handle: Handle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                answer = HttpAnswer(400, error_reply(None, -32700, "parse error: the body is not JSON"))
            else:
                answer = handle(body)
            if answer.hang_up:
                self.close_connection = True
                return
            payload = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", JSON)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in answer.headers:
                self.send_header(name, value)
            try:
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                # The client hung up first (a keeper process stopped at a
                # bench's or a test's teardown): nobody is left to answer.
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
            pass  # the tests' output stays quiet; the servers count what they do

    return Handler


@dataclass
class LocalHttpServer:
    """A threaded HTTP server on 127.0.0.1:``port`` (0: a free one, fixed at
    the first start) running ``handle`` for each POST. :meth:`stop` closes the
    listening socket, so the port refuses connections until :meth:`start`."""

    handle: Handle
    port: int = 0
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        if self.port == 0:
            raise RuntimeError("the server has no port before its first start")
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> LocalHttpServer:
        with self._lock:
            if self._server is not None:
                return self
            server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_class(self.handle))
            server.daemon_threads = True
            self.port = server.server_address[1]
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            self._server = server
        return self

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
