"""A stand-in private relay and block builder (Flashbots Protect, MEV
Blocker, a builder's ``eth_sendBundle``) in front of an anvil the relay
mines: a small local HTTP server the tests start.

The anvil must mine on demand and keep its pool in arrival order
(``anvil --no-mining --order fifo``): the relay is the chain's block
producer. :meth:`Relay.start` refuses an anvil that automines, and a block
whose transactions came out in another order than the relay sent them
raises :class:`RelayError`.

JSON-RPC methods::

    eth_sendRawTransaction [raw]          -> tx hash. A private transaction: held out
                                             of the public pool, sent to anvil only
                                             when the relay builds the next block.
    eth_sendBundle [{txs, blockNumber}]   -> {"bundleHash"}. Included at blockNumber,
                                             its txs in order, all or none.
    eth_callBundle [{txs, blockNumber}]   -> {"bundleHash", "results": [{txHash,
                                             gasUsed, status}]}: the bundle simulated
                                             on top of the head, nothing kept.
    anything else                         -> forwarded to anvil (reads, eth_chainId...).

Python API::

    relay = Relay(anvil.url).start()        # or Relay(anvil.url, block_time=1.0): a block a second
    relay.compete(txs, block)               # a competitor's bundle that wins at `block`
    built = relay.build_block()             # BuiltBlock: number, included, failed, expired
    relay.received()                        # every call received, in order (Received)
    relay.stop()

How a block is built (:meth:`Relay.build_block`, target = head + 1):

1. Bundles whose ``blockNumber`` is past are dropped as expired; bundles
   for a later block wait.
2. The candidates, in order: the competitors' bundles for the target (a
   competitor wins: it is placed first), then the bundles received for the
   target in arrival order, then the held private transactions in arrival
   order, then what anvil's public pool holds. A transaction already placed
   (a bundle carrying a public transaction to back-run it) is not repeated.
3. The relay snapshots anvil, sends the candidates in that order and mines
   one block. If a bundle's transaction reverted or was refused, it rolls
   back, leaves that bundle out and builds again: a bundle lands whole or
   not at all, and a losing bundle costs its sender nothing (as with
   Flashbots). Private and public transactions are included even if they
   revert (they pay their gas), unless anvil refuses them (a stale nonce).
4. Held private transactions are spent; bundles for the target are spent
   whether included or failed.

The relay is test infrastructure (devkit): nothing in navlend or keepers
imports it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import structlog
from eth_utils import keccak

from devkit.rpcwire import HttpAnswer, LocalHttpServer, RpcError, error_reply, post_json, result_reply, rpc

log = structlog.get_logger("devkit.relay")

INVALID_PARAMS = -32602
UPSTREAM_TIMEOUT = 60.0


class RelayError(RuntimeError):
    """The upstream node cannot be built on as the relay needs."""


class BundleError(ValueError):
    """A bundle or a private transaction the relay refuses."""


def tx_hash(raw: str) -> str:
    """A signed transaction's hash (keccak of its raw bytes)."""
    return "0x" + keccak(hexstr=raw).hex().removeprefix("0x")


def _raw(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) < 4:
        raise BundleError(f"a transaction is a 0x-prefixed hex string, got {value!r}")
    try:
        bytes.fromhex(value[2:])
    except ValueError as err:
        raise BundleError(f"a transaction is a 0x-prefixed hex string, got {value!r}") from err
    return value


@dataclass(frozen=True)
class Bundle:
    """Signed transactions to include in order, all or none, at ``block``."""

    txs: tuple[str, ...]
    block: int
    competitor: bool = False

    def __post_init__(self) -> None:
        if not self.txs:
            raise BundleError("a bundle holds at least one transaction")
        for raw in self.txs:
            _raw(raw)
        if not isinstance(self.block, int) or self.block < 1:
            raise BundleError(f"a bundle's block is a positive block number, got {self.block!r}")

    @property
    def hashes(self) -> tuple[str, ...]:
        return tuple(tx_hash(raw) for raw in self.txs)

    @property
    def bundle_hash(self) -> str:
        return "0x" + keccak(b"".join(bytes.fromhex(h[2:]) for h in self.hashes)).hex().removeprefix("0x")

    @classmethod
    def from_params(cls, params: Any) -> Bundle:
        """The bundle of an ``eth_sendBundle``'s params ``[{txs, blockNumber}]``."""
        if not isinstance(params, list) or len(params) != 1 or not isinstance(params[0], dict):
            raise BundleError("eth_sendBundle takes one object: {txs, blockNumber}")
        spec = params[0]
        txs, block = spec.get("txs"), spec.get("blockNumber")
        if not isinstance(txs, list):
            raise BundleError(f"txs must be a list of signed transactions, got {txs!r}")
        if not isinstance(block, str) or not block.startswith("0x"):
            raise BundleError(f"blockNumber must be a hex quantity, got {block!r}")
        return cls(tuple(_raw(t) for t in txs), int(block, 16))


@dataclass(frozen=True)
class Received:
    """One call the relay received."""

    method: str
    params: tuple[Any, ...]


@dataclass(frozen=True)
class BuiltBlock:
    """What :meth:`Relay.build_block` put in block ``number`` (bundle hashes,
    private transaction hashes), what it left out and what expired."""

    number: int
    block_hash: str
    included: tuple[str, ...]
    failed: tuple[str, ...]
    expired: tuple[str, ...]
    private: tuple[str, ...]
    tx_hashes: tuple[str, ...]


class Relay:
    """The relay: :meth:`start` it, send to :attr:`url`, build blocks with
    :meth:`build_block` (or every ``block_time`` seconds)."""

    def __init__(self, upstream: str, *, port: int = 0, block_time: float | None = None):
        if block_time is not None and block_time <= 0:
            raise ValueError(f"block_time is a positive number of seconds or None, got {block_time!r}")
        self.upstream = upstream
        self.block_time = block_time
        self._server = LocalHttpServer(self._handle, port)
        self._lock = threading.RLock()
        self._received: list[Received] = []
        self._private: list[str] = []
        self._bundles: list[Bundle] = []
        self._built: list[BuiltBlock] = []
        self._stopping = threading.Event()
        self._log = log.bind(upstream=upstream)

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> Relay:
        if rpc(self.upstream, "anvil_getAutomine"):
            raise RelayError(
                "the relay builds the blocks: start anvil with --no-mining --order fifo "
                "(or call evm_setAutomine false)"
            )
        self._server.start()
        self._log = self._log.bind(url=self.url)
        if self.block_time is not None:
            threading.Thread(target=self._produce, daemon=True).start()
        self._log.info("relay started", block_time=self.block_time)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.stop()

    def __enter__(self) -> Relay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what it holds and did ---------------------------------------------
    def received(self) -> tuple[Received, ...]:
        with self._lock:
            return tuple(self._received)

    def built(self) -> tuple[BuiltBlock, ...]:
        with self._lock:
            return tuple(self._built)

    def compete(self, txs: list[str] | tuple[str, ...], block: int) -> Bundle:
        """Queues a competitor's bundle that wins at ``block``: it is placed
        ahead of every bundle the relay received."""
        bundle = Bundle(tuple(txs), block, competitor=True)
        with self._lock:
            self._bundles.append(bundle)
        self._log.info("competitor bundle", bundle=bundle.bundle_hash, block=block)
        return bundle

    def send_bundle(self, bundle: Bundle) -> str:
        with self._lock:
            self._bundles.append(bundle)
        self._log.info("bundle received", bundle=bundle.bundle_hash, block=bundle.block, txs=len(bundle.txs))
        return bundle.bundle_hash

    def send_private(self, raw: str) -> str:
        with self._lock:
            self._private.append(_raw(raw))
        self._log.info("private transaction received", tx=tx_hash(raw))
        return tx_hash(raw)

    # -- building -----------------------------------------------------------
    def _produce(self) -> None:
        while not self._stopping.wait(self.block_time):
            try:
                self.build_block()
            except (RelayError, RpcError, OSError) as err:
                self._log.error("block not built", error=str(err))

    def _public_pool(self) -> list[str]:
        """The raw transactions anvil's public pool holds, by sender and nonce."""
        content = rpc(self.upstream, "txpool_content")
        hashes = [
            tx["hash"]
            for by_nonce in content.get("pending", {}).values()
            for _, tx in sorted(by_nonce.items(), key=lambda item: int(item[0]))
        ]
        return [rpc(self.upstream, "eth_getRawTransactionByHash", [h]) for h in hashes]

    def build_block(self) -> BuiltBlock:
        """Builds and mines the next block (see the module's docstring)."""
        with self._lock:
            target = int(rpc(self.upstream, "eth_blockNumber"), 16) + 1
            expired = [b for b in self._bundles if b.block < target]
            due = [b for b in self._bundles if b.block == target]
            self._bundles = [b for b in self._bundles if b.block > target]
            candidates = [b for b in due if b.competitor] + [b for b in due if not b.competitor]
            private, self._private = self._private, []
            public = self._public_pool()
            # The pool emptied: the relay sends everything again in its own order.
            rpc(self.upstream, "anvil_dropAllTransactions")
            failed: list[Bundle] = []
            while True:
                outcome = self._try_block(candidates, private, public)
                if isinstance(outcome, BuiltBlock):
                    break
                kind, bad = outcome
                if kind == "bundle":
                    candidates.remove(bad)
                    failed.append(bad)
                else:
                    private.remove(bad)
            built = BuiltBlock(
                number=outcome.number,
                block_hash=outcome.block_hash,
                included=tuple(b.bundle_hash for b in candidates),
                failed=tuple(b.bundle_hash for b in failed),
                expired=tuple(b.bundle_hash for b in expired),
                private=tuple(tx_hash(r) for r in private),
                tx_hashes=outcome.tx_hashes,
            )
            self._built.append(built)
        self._log.info(
            "block built", number=built.number, included=len(built.included), failed=len(built.failed),
            private=len(built.private), txs=len(built.tx_hashes),
        )
        return built

    def _try_block(
        self, bundles: list[Bundle], private: list[str], public: list[str]
    ) -> BuiltBlock | tuple[str, Any]:
        """One attempt: the block mined, or (what to leave out) after rolling back."""
        snapshot = rpc(self.upstream, "evm_snapshot")
        sent: list[str] = []

        def send(raw: str) -> bool:
            h = tx_hash(raw)
            if h in sent:
                return True
            try:
                rpc(self.upstream, "eth_sendRawTransaction", [raw])
            except RpcError as err:
                self._log.info("transaction refused", tx=h, error=err.error_message)
                return False
            sent.append(h)
            return True

        for bundle in bundles:
            if not all(send(raw) for raw in bundle.txs):
                return self._roll_back(snapshot, ("bundle", bundle))
        for raw in private:
            if not send(raw):
                return self._roll_back(snapshot, ("private", raw))
        for raw in public:
            send(raw)
        rpc(self.upstream, "evm_mine")
        block = rpc(self.upstream, "eth_getBlockByNumber", ["latest", False])
        mined = tuple(block["transactions"])
        if list(mined) != sent:
            raise RelayError(
                f"block {int(block['number'], 16)} holds its transactions in another order than sent "
                "(or not all of them): run anvil with --order fifo"
            )
        for bundle in bundles:
            receipts = [rpc(self.upstream, "eth_getTransactionReceipt", [h]) for h in bundle.hashes]
            if any(r is None or r["status"] != "0x1" for r in receipts):
                return self._roll_back(snapshot, ("bundle", bundle))
        return BuiltBlock(int(block["number"], 16), block["hash"], (), (), (), (), mined)

    def _roll_back(self, snapshot: str, left_out: tuple[str, Any]) -> tuple[str, Any]:
        """Back to ``snapshot`` (anvil's revert also empties its pool: the
        next attempt sends everything again, in its order)."""
        rpc(self.upstream, "evm_revert", [snapshot])
        return left_out

    def _resend(self, public: list[str]) -> None:
        """The public transactions back into anvil's pool."""
        for raw in public:
            try:
                rpc(self.upstream, "eth_sendRawTransaction", [raw])
            except RpcError as err:
                self._log.warning("public transaction lost", tx=tx_hash(raw), error=err.error_message)

    def call_bundle(self, bundle: Bundle) -> dict[str, Any]:
        """The bundle simulated in a block on top of the head; nothing kept."""
        with self._lock:
            public = self._public_pool()
            rpc(self.upstream, "anvil_dropAllTransactions")
            snapshot = rpc(self.upstream, "evm_snapshot")
            results = []
            try:
                for raw in bundle.txs:
                    rpc(self.upstream, "eth_sendRawTransaction", [raw])
                rpc(self.upstream, "evm_mine")
                for h in bundle.hashes:
                    receipt = rpc(self.upstream, "eth_getTransactionReceipt", [h])
                    results.append(
                        {"txHash": h, "gasUsed": receipt["gasUsed"], "status": receipt["status"]}
                        if receipt
                        else {"txHash": h, "error": "not included"}
                    )
            except RpcError as err:
                results.append({"error": err.error_message})
            finally:
                rpc(self.upstream, "evm_revert", [snapshot])
                self._resend(public)
        return {"bundleHash": bundle.bundle_hash, "results": results}

    # -- the wire ---------------------------------------------------------------
    def _handle(self, body: Any) -> HttpAnswer:
        if isinstance(body, list):
            return HttpAnswer(200, [self._call(c) for c in body])
        return HttpAnswer(200, self._call(body))

    def _call(self, call: Any) -> dict[str, Any]:
        if not isinstance(call, dict):
            return error_reply(None, -32600, "invalid request: a call is a JSON object")
        call_id, method, params = call.get("id"), call.get("method", ""), call.get("params") or []
        with self._lock:
            self._received.append(Received(method, tuple(params) if isinstance(params, list) else (params,)))
        try:
            if method == "eth_sendRawTransaction":
                if not isinstance(params, list) or len(params) != 1:
                    raise BundleError("eth_sendRawTransaction takes one signed transaction")
                return result_reply(call_id, self.send_private(params[0]))
            if method == "eth_sendBundle":
                return result_reply(call_id, {"bundleHash": self.send_bundle(Bundle.from_params(params))})
            if method == "eth_callBundle":
                return result_reply(call_id, self.call_bundle(Bundle.from_params(params)))
        except BundleError as err:
            return error_reply(call_id, INVALID_PARAMS, f"invalid params: {err}")
        return post_json(self.upstream, call, UPSTREAM_TIMEOUT)
