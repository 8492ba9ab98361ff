"""Driving a local anvil fast from Python: impersonated sends, gas money,
time and the mining mode.

Why not Ape's ``contract.method(sender=...)`` for bulk work: Ape signs,
traces and decodes every transaction, about 20 a second on this machine.
Anvil can impersonate any address (``anvil_autoImpersonateAccount``), so a
plain ``eth_sendTransaction`` needs no key and no signature: hundreds a
second, which is what seeding a few hundred borrowers needs. Ape still
builds the calldata (``method.encode_input``) from the project's ABIs; only
the sending is done here. Anvil only: the demo refuses any other node.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hexbytes import HexBytes

# Gas money handed to impersonated accounts: 100 ETH.
GAS_MONEY = 100 * 10**18
# Gas limit sent, as a percentage of the node's estimate.
GAS_HEADROOM_PCT = 130
# Gas limit of a batched transaction (the costliest, Leverage.open, uses ~600k).
BATCH_GAS_LIMIT = 2_000_000


class ChainError(RuntimeError):
    """A transaction the demo needed was refused or reverted."""


def address_of(who: Any) -> str:
    """The address of an account or contract object, or ``who`` itself."""
    return str(getattr(who, "address", who))


@dataclass
class DevChain:
    """An Ape provider connected to anvil, with the fast paths above."""

    provider: Any
    receipt_timeout: float = 30.0
    _batch: list | None = field(default=None, init=False, repr=False)

    def rpc(self, method: str, *params: Any) -> Any:
        return self.provider.make_request(method, list(params))

    # ---- accounts

    def impersonate_all(self) -> None:
        """Lets any address send without a key from now on."""
        self.rpc("anvil_autoImpersonateAccount", True)

    def give_gas(self, *accounts: Any, amount: int = GAS_MONEY) -> None:
        for who in accounts:
            self.rpc("anvil_setBalance", address_of(who), hex(amount))

    # ---- sending

    def send(self, sender: Any, method: Any, *args: Any, label: str = "") -> dict[str, Any] | None:
        """Sends ``method(*args)`` from ``sender``; ``method`` is an Ape
        contract method (``market.borrow``).

        Outside :meth:`batch` it waits for the receipt and raises
        :class:`ChainError` with the node's reason if the transaction is
        refused (anvil estimates the gas first, so a revert is reported
        before mining) or reverts. Inside a batch it only queues it (a fixed
        gas limit, no estimate: the estimate would run without the batch's
        earlier transactions) and returns None."""
        data = method.encode_input(*args)
        tx = {"from": address_of(sender), "to": str(method.contract.address), "data": HexBytes(data).to_0x_hex()}
        name = label or method.abis[0].name
        if self._batch is not None:
            tx["gas"] = hex(BATCH_GAS_LIMIT)
            self._batch.append((name, tx, self._submit(name, tx)))
            return None
        try:
            # Anvil's own estimate is exact for the outer call but too tight
            # for nested calls (the 63/64 rule bites flash-loan paths).
            tx["gas"] = hex(as_int(self.rpc("eth_estimateGas", tx)) * GAS_HEADROOM_PCT // 100)
        except Exception as err:  # the node's refusal, with its revert reason
            raise ChainError(f"{name} from {tx['from']} refused: {err}") from None
        receipt = self.wait(self._submit(name, tx))
        if as_int(receipt["status"]) != 1:
            raise ChainError(f"{name} from {tx['from']} reverted in {receipt['transactionHash']}")
        return receipt

    def _submit(self, name: str, tx: dict[str, Any]) -> str:
        try:
            return self.rpc("eth_sendTransaction", tx)
        except Exception as err:
            raise ChainError(f"{name} from {tx['from']} refused: {err}") from None

    @contextmanager
    def batch(self):
        """Queues the sends made inside, then mines them in one block and
        checks every receipt; a revert is reported with its reason (the
        call replayed on the block before). Needs automine off meanwhile."""
        self.rpc("evm_setAutomine", False)
        self._batch = []
        try:
            yield
            queued, self._batch = self._batch, None
            self.rpc("evm_mine")
        finally:
            self._batch = None
            self.rpc("evm_setAutomine", True)
        for name, tx, tx_hash in queued:
            receipt = self.wait(tx_hash)
            if as_int(receipt["status"]) != 1:
                raise ChainError(f"{name} from {tx['from']} reverted: {self._reason(tx, receipt)}")

    def _reason(self, tx: dict[str, Any], receipt: dict[str, Any]) -> str:
        try:
            self.rpc("eth_call", tx, hex(as_int(receipt["blockNumber"]) - 1))
        except Exception as err:
            return str(err)
        return f"out of gas or state changed in the batch ({receipt['transactionHash']})"

    def wait(self, tx_hash: str) -> dict[str, Any]:
        """The receipt of ``tx_hash``, once mined (polls: interval mining
        may hold it until the next block)."""
        deadline = time.monotonic() + self.receipt_timeout
        while True:
            receipt = self.rpc("eth_getTransactionReceipt", tx_hash)
            if receipt:
                return dict(receipt)
            if time.monotonic() > deadline:
                raise ChainError(f"{tx_hash} not mined after {self.receipt_timeout} s")
            time.sleep(0.05)

    # ---- time and blocks

    def head(self) -> tuple[int, int]:
        """(number, timestamp) of the latest block."""
        block = self.rpc("eth_getBlockByNumber", "latest", False)
        return as_int(block["number"]), as_int(block["timestamp"])

    def mine_at(self, timestamp: int) -> int:
        """Mines one block at ``timestamp`` (not before the head); returns
        its number."""
        _, now = self.head()
        self.rpc("evm_mine", max(timestamp, now + 1))
        return self.head()[0]

    def automine(self) -> None:
        """One block per transaction (fast seeding)."""
        self.rpc("evm_setIntervalMining", 0)
        self.rpc("evm_setAutomine", True)

    def interval_mining(self, seconds: int) -> None:
        """A block every ``seconds`` of wall time, whatever is pending, as a
        live chain does: the keeper then sees blocks with no demo
        transaction in them, and its latency is counted in real blocks."""
        self.rpc("evm_setAutomine", False)
        self.rpc("evm_setIntervalMining", seconds)

    def wait_blocks(self, count: int, timeout: float = 60.0) -> int:
        """Waits until ``count`` more blocks are mined; returns the head."""
        target = self.head()[0] + count
        deadline = time.monotonic() + timeout
        while (number := self.head()[0]) < target:
            if time.monotonic() > deadline:
                raise ChainError(f"no block {target} after {timeout} s (head {number})")
            time.sleep(0.1)
        return number


def as_int(value: Any) -> int:
    """An RPC quantity (hex string or int) as an int."""
    return int(value, 16) if isinstance(value, str) else int(value)
