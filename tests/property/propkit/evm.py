"""The in-process chain of the property suite: revm (through ``pyrevm``).

Why not titanoboa's py-evm here: the market's operations run 750 opcodes
on average (a three-asset borrow or a leverage open several thousand) and
py-evm interprets each in Python, which capped the state machine at ~110
steps a second on this machine (AUDIT.md, section 8). revm runs the same
bytecode natively, so the EVM drops from ~70 % of a step to a few percent
and the suite's own Python (the model, the invariants) sets the pace.
titanoboa remains the project's tool for Vyper-aware work; this module only
needs what the suite uses: deploy bytecode, send a call, read storage and
logs, move time, and anchor a state to roll back to.

``pyrevm`` offers those primitives bare; what is written here is the thin
ABI layer over them (:class:`Contract`: encode, send, decode, revert
strings), the snapshot context manager, and the block clock.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any, Iterator

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from pyrevm import EVM, BlockEnv, CfgEnv, Env

CHAIN_ID = 31_337
# The EVM revision the contracts are compiled for (ape-config.yaml, vyper's
# evm_version): transient storage and MCOPY need Cancun.
SPEC = "CANCUN"
# Every generated account starts with this much ether (gas is free here:
# the gas price is zero, but `value` transfers need a balance).
START_ETHER = 10**24
_ERROR_SELECTOR = bytes.fromhex("08c379a0")
_PANIC_SELECTOR = bytes.fromhex("4e487b71")


class Reverted(Exception):
    """A call reverted; ``reason`` is the decoded revert string ("" if the
    revert carried no data)."""

    def __init__(self, reason: str, contract: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.contract = contract


def decode_revert(output: bytes) -> str:
    """The revert string of an ``Error(string)`` payload, a panic code, or
    the raw hex of anything else."""
    if output[:4] == _ERROR_SELECTOR:
        try:
            return abi_decode(["string"], output[4:])[0]
        except Exception:  # malformed payload: report it raw
            return "0x" + output.hex()
    if output[:4] == _PANIC_SELECTOR and len(output) == 36:
        return f"panic 0x{int.from_bytes(output[4:], 'big'):02x}"
    return "" if not output else "0x" + output.hex()


def _revert_output(err: RuntimeError) -> bytes | None:
    """pyrevm raises ``RuntimeError("Revert { gas_used: N, output: 0x.. }")``
    for a revert and other texts for halts (out of gas, invalid opcode)."""
    text = str(err)
    if not text.startswith("Revert"):
        return None
    hexpart = text.rsplit("output: 0x", 1)[-1].rstrip(" }")
    return bytes.fromhex(hexpart) if hexpart else b""


@dataclass(frozen=True)
class RawLog:
    """One log of the last call: emitter, topics as ints, data."""

    address: str
    topics: tuple[int, ...]
    data: bytes


class RevmEnv:
    """One in-process chain: accounts, a block clock, snapshots."""

    def __init__(self, timestamp: int, chain_id: int = CHAIN_ID, block_number: int = 1):
        self._timestamp = timestamp
        self._number = block_number
        # EIP-170's limit unless NAVLEND_CODE_SIZE_LIMIT raises it: the
        # mutation runner does, so that a mutant judged on behaviour is not
        # "killed" by a market a few bytes over the limit.
        limit = int(os.environ.get("NAVLEND_CODE_SIZE_LIMIT", "0")) or None
        cfg = CfgEnv(chain_id=chain_id, limit_contract_code_size=limit)
        self.evm = EVM(env=Env(cfg=cfg, block=self._block()), spec_id=SPEC)
        self._last: Any = None
        self.eoa = self.generate_address("eoa")

    # ------------------------------------------------------------ #
    # clock

    def _block(self) -> BlockEnv:
        return BlockEnv(number=self._number, timestamp=self._timestamp, basefee=0)

    @property
    def timestamp(self) -> int:
        return self._timestamp

    @property
    def block_number(self) -> int:
        return self._number

    def time_travel(self, seconds: int = 0, blocks: int | None = None) -> None:
        """Moves the clock forward (one block per 12 seconds, at least one)."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._timestamp += seconds
        self._number += blocks if blocks is not None else max(1, seconds // 12)
        self.evm.set_block_env(self._block())

    @contextlib.contextmanager
    def anchor(self) -> Iterator[None]:
        """Everything done inside (state and clock) is undone on exit."""
        checkpoint = self.evm.snapshot()
        clock = (self._timestamp, self._number)
        try:
            yield
        finally:
            self.evm.revert(checkpoint)
            self._timestamp, self._number = clock
            self.evm.set_block_env(self._block())

    # ------------------------------------------------------------ #
    # accounts and state

    def generate_address(self, alias: str) -> str:
        """A deterministic funded account named ``alias``."""
        address = to_checksum_address(keccak(b"navlend-property:" + alias.encode())[12:])
        self.evm.set_balance(address, START_ETHER)
        return address

    def get_storage(self, address: str, slot: int) -> int:
        return self.evm.storage(address, slot)

    def deploy_code(self, bytecode: bytes, sender: str | None = None) -> str:
        try:
            address = self.evm.deploy(sender or self.eoa, bytecode)
        except RuntimeError as err:
            out = _revert_output(err)
            raise Reverted(decode_revert(out) if out is not None else str(err), "deployment") from None
        self.evm.reset_transient_storage()
        return to_checksum_address(address)

    # ------------------------------------------------------------ #
    # calls

    def execute(self, to: str, data: bytes, sender: str | None = None, value: int = 0, static: bool = False, name: str = "") -> bytes:
        """One transaction (or a static call): its return data, or
        :class:`Reverted`. Transient storage ends with the transaction."""
        try:
            out = self.evm.message_call(sender or self.eoa, to, data, value or None, None, None, static)
        except RuntimeError as err:
            self.evm.reset_transient_storage()
            self._last = None
            raw = _revert_output(err)
            raise Reverted(decode_revert(raw) if raw is not None else str(err), name) from None
        self.evm.reset_transient_storage()
        if not static:
            self._last = self.evm.result
        return bytes(out)

    def last_logs(self) -> list[RawLog]:
        """The logs of the last successful transaction, in order."""
        if self._last is None:
            return []
        out = []
        for log in self._last.logs:
            topics, data = log.data
            out.append(RawLog(to_checksum_address(log.address), tuple(int.from_bytes(bytes(t), "big") for t in topics), bytes(data)))
        return out


# ---------------------------------------------------------------- #
#                               ABI                                 #
# ---------------------------------------------------------------- #


def abi_type(item: dict) -> str:
    """The canonical ABI type of an input or output (tuples expanded)."""
    t = item["type"]
    if t.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in item["components"])
        return f"({inner})" + t[5:]
    return t


def to_abi_value(value: Any) -> Any:
    """Contracts and accounts become addresses; sequences convert deeply."""
    address = getattr(value, "address", None)
    if address is not None:
        return str(address)
    if isinstance(value, (list, tuple)):
        return type(value)(to_abi_value(v) for v in value)
    return value


@dataclass(frozen=True)
class _Overload:
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    static: bool


class _Method:
    """A contract function; ``sender=`` and ``value=`` as keywords.
    Returns ``None``, the single output, or a tuple of outputs."""

    __slots__ = ("_contract", "_name", "_by_arity")

    def __init__(self, contract: "Contract", name: str, overloads: list[_Overload]):
        self._contract = contract
        self._name = name
        self._by_arity = {len(o.inputs): o for o in overloads}

    def _overload(self, args: tuple) -> _Overload:
        o = self._by_arity.get(len(args))
        if o is None:
            raise TypeError(f"{self._contract.contract_name}.{self._name}: no overload takes {len(args)} arguments")
        return o

    def prepare_calldata(self, *args: Any) -> bytes:
        """The calldata of a call with ``args`` (for a callback to replay)."""
        o = self._overload(args)
        return o.selector + (abi_encode(o.inputs, [to_abi_value(a) for a in args]) if o.inputs else b"")

    def __call__(self, *args: Any, sender: Any = None, value: int = 0) -> Any:
        o = self._overload(args)
        data = self.prepare_calldata(*args)
        c = self._contract
        sender = str(getattr(sender, "address", sender)) if sender is not None else None
        out = c._env.execute(c.address, data, sender, value, o.static, c.contract_name)
        if not o.outputs:
            return None
        result = abi_decode(o.outputs, out)
        return result[0] if len(result) == 1 else result


class Contract:
    """A deployed contract seen through its ABI."""

    def __init__(self, env: RevmEnv, address: str, abi: list[dict], name: str):
        # No attribute may shadow a contract function (tokens have `name`).
        self._env = env
        self.address = to_checksum_address(address)
        self.contract_name = name
        groups: dict[str, list[_Overload]] = {}
        for item in abi:
            if item.get("type") != "function":
                continue
            inputs = tuple(abi_type(i) for i in item["inputs"])
            selector = keccak(f"{item['name']}({','.join(inputs)})".encode())[:4]
            static = item.get("stateMutability") in ("view", "pure")
            groups.setdefault(item["name"], []).append(_Overload(selector, inputs, tuple(abi_type(o) for o in item["outputs"]), static))
        for fn, overloads in groups.items():
            setattr(self, fn, _Method(self, fn, overloads))

    def __repr__(self) -> str:
        return f"<{self.contract_name} at {self.address}>"

    def __str__(self) -> str:
        return self.address


def encode_constructor(abi: list[dict], args: tuple) -> bytes:
    ctor = next((i for i in abi if i.get("type") == "constructor"), None)
    if not ctor or not ctor["inputs"]:
        return b""
    return abi_encode([abi_type(i) for i in ctor["inputs"]], [to_abi_value(a) for a in args])
