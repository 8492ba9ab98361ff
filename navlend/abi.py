"""The compiled interfaces' ABIs, as small typed objects.

The Python that calls the contracts without Ape (the keeper's RPC edge,
``keepers/chain.py``) and the Python that reads their tuples (the CLI)
take every selector, argument type, return type, event topic and struct
field from here, never from a hand-typed signature: a field renamed or
reordered in Vyper then reaches the Python through one regenerated file,
and ``tests/lib`` fails while either the files or the Python dataclasses
that mirror them lag behind.

The ABIs are JSON files shipped in ``navlend/abi/`` (package data), one
per contract or interface, generated from the Vyper sources and the
compiled contracts by ``python -m devkit.tools.abi_files`` (``make abi``)
and committed. :func:`contract` loads one by name (``"IMarketViews"``,
``"FlashLiquidator"``, ...); its functions (:class:`Function`) encode
calldata and decode return data with eth-abi, its events (:class:`Event`)
carry their topic and decode their arguments by name, and a :class:`Struct` gives a tuple's
component names, types and, for a static one, each field's byte offset.

Vyper names the fields of a struct but not the outputs of a function that
returns a bare tuple (``control()``, ``market_state()``,
``latestRoundData()``): :meth:`Function.outputs_as` binds those to a
dataclass in the ABI's order, checking the arity (and any name the ABI
does give).
"""

from __future__ import annotations

import json
import keyword
from collections import namedtuple
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, TypeVar

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError, EncodingError
from eth_abi.grammar import ABIType, TupleType
from eth_abi.grammar import parse as parse_type
from eth_utils import to_bytes
from eth_utils.abi import (
    abi_to_signature,
    collapse_if_tuple,
    event_abi_to_log_topic,
    function_abi_to_4byte_selector,
)

# The generated ABI files (package data of ``navlend``).
ABI_DIR = Path(__file__).resolve().with_name("abi")
# Bytes per ABI word: the head of a static value is a whole number of them.
WORD = 32

T = TypeVar("T")


class AbiError(LookupError):
    """A contract, function, event or field that the ABIs do not have, or
    a binding (a Python dataclass) that does not match them. The message
    names what is missing and what there is."""


# ---------------------------------------------------------------- #
#                         parameters, structs                       #
# ---------------------------------------------------------------- #


@dataclass(frozen=True)
class Param:
    """One input, output, event argument or struct component. ``type`` is
    canonical (tuples collapsed to ``(t1,t2,...)``, as selectors and
    eth-abi spell them); ``components`` are a tuple type's members,
    named as in the Vyper struct (empty otherwise)."""

    name: str
    type: str
    components: tuple[Param, ...] = ()
    indexed: bool = False

    @classmethod
    def from_abi(cls, entry: Mapping[str, Any], where: str) -> Param:
        """From one ABI JSON parameter; ValueError naming ``where`` when it
        is malformed."""
        if not isinstance(entry, Mapping) or not isinstance(entry.get("type"), str):
            raise ValueError(f"{where}: malformed ABI parameter {entry!r}")
        try:
            canonical = collapse_if_tuple(dict(entry))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{where}: malformed ABI parameter {entry!r}: {err}") from err
        return cls(
            name=str(entry.get("name") or ""),
            type=canonical,
            components=tuple(cls.from_abi(c, where) for c in entry.get("components") or ()),
            indexed=bool(entry.get("indexed", False)),
        )


@dataclass(frozen=True)
class Struct:
    """The components of a tuple type, in order: a Vyper struct (an
    output's, or each element's of an array output) or an event's
    arguments. ``label`` names it in errors (``"Lens.healths"``)."""

    label: str
    components: tuple[Param, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.components)

    @property
    def types(self) -> tuple[str, ...]:
        return _types(self.components)

    def index(self, name: str) -> int:
        """The position of the component ``name``; AbiError when there is none."""
        try:
            return self.names.index(name)
        except ValueError:
            fields_ = ", ".join(self.names)
            raise AbiError(f"{self.label} has no field {name!r} (fields: {fields_})") from None

    def component(self, name: str) -> Param:
        """The component ``name``; AbiError when there is none."""
        return self.components[self.index(name)]

    @cached_property
    def _sizes(self) -> tuple[int, ...]:
        dynamic = [p.name for p in self.components if parse_type(p.type).is_dynamic]
        if dynamic:
            raise AbiError(
                f"{self.label} is dynamic ({', '.join(dynamic)}): its fields have no fixed offsets"
            )
        return tuple(_static_size(parse_type(p.type)) for p in self.components)

    @property
    def size(self) -> int:
        """Bytes of one value in the ABI encoding, when every component is
        static (an array of such values is laid out inline, one after the
        other). AbiError for a dynamic struct, whose fields have no fixed
        place."""
        return sum(self._sizes)

    def offset(self, name: str) -> int:
        """The byte offset of field ``name`` within one encoded value of a
        static struct (see :attr:`size`)."""
        return sum(self._sizes[: self.index(name)])

    @cached_property
    def _record_type(self) -> type[tuple]:
        bad = [n for n in self.names if not _attribute_name(n)]
        if bad:
            raise AbiError(f"{self.label}: {', '.join(map(repr, bad))} cannot be attribute names")
        return namedtuple(self.label.rsplit(".", 1)[-1], self.names)  # type: ignore[misc]

    def record(self, values: Sequence[Any]) -> tuple:
        """``values`` (in the components' order, as eth-abi decodes them) as
        a named tuple, so callers read fields by name: ``cfg.oracle``. It
        still compares equal to the plain tuple."""
        self._check_count(values)
        return self._record_type(*values)

    def build(self, cls: type[T], values: Sequence[Any]) -> T:
        """An instance of the dataclass ``cls`` from a value of this struct
        (in the components' order): each of ``cls``'s fields is the
        component of the same name, so ``cls`` may keep only the fields
        its caller reads. AbiError when ``cls`` has a field the struct does
        not (renamed in Vyper)."""
        names = _field_names(cls)
        missing = [n for n in names if n not in self.names]
        if missing:
            raise AbiError(
                f"{cls.__name__} reads {', '.join(missing)} from {self.label}, which has no such "
                f"field (fields: {', '.join(self.names)})"
            )
        self._check_count(values)
        return cls(**{n: values[self.index(n)] for n in names})

    def _check_count(self, values: Sequence[Any]) -> None:
        if len(values) != len(self.components):
            count = len(self.components)
            raise ValueError(f"{self.label} has {count} fields, got {len(values)} values")


def _params(contract: str, entry: Mapping[str, Any], key: str) -> tuple[Param, ...]:
    """The ``key`` parameters (``"inputs"``, ``"outputs"``) of a function or
    event entry; ValueError for an entry without a name."""
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{contract}: a {entry.get('type')} entry without a name: {dict(entry)!r}")
    return tuple(Param.from_abi(p, f"{contract}.{name}") for p in entry.get(key) or ())


def _types(params: Sequence[Param]) -> tuple[str, ...]:
    """The canonical types of ``params``, as eth-abi takes them."""
    return tuple(p.type for p in params)


def _static_size(abi_type: ABIType) -> int:
    """Bytes of a static type's encoding: a word per elementary value, the
    sum of the components for a tuple, the item's times the length for a
    fixed-size array."""
    if abi_type.arrlist:
        return abi_type.arrlist[-1][0] * _static_size(abi_type.item_type)
    if isinstance(abi_type, TupleType):
        return sum(_static_size(c) for c in abi_type.components)
    return WORD


def _attribute_name(name: str) -> bool:
    """Whether ``name`` can be a named tuple's field (an identifier, no
    keyword, no leading underscore)."""
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")


def _field_names(cls: type) -> tuple[str, ...]:
    if not (isinstance(cls, type) and is_dataclass(cls)):
        raise TypeError(f"{cls!r} is not a dataclass")
    return tuple(f.name for f in fields(cls))


def _as_bytes(data: Any, what: str) -> bytes:
    """Return data or log data as bytes, from bytes or a 0x-hex string."""
    if isinstance(data, str):
        try:
            return to_bytes(hexstr=data)
        except ValueError as err:
            raise ValueError(f"{what}: not hex data: {data[:20]!r}") from err
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"{what}: expected bytes or a 0x-hex string, got {type(data).__name__}")


# ---------------------------------------------------------------- #
#                          functions, events                        #
# ---------------------------------------------------------------- #


@dataclass(frozen=True)
class Function:
    """One external function of a contract's ABI: its canonical
    ``signature`` (``asset_config(address)``), 4-byte ``selector``, and
    the calldata and return data codecs."""

    contract: str
    name: str
    signature: str
    selector: bytes
    inputs: tuple[Param, ...]
    outputs: tuple[Param, ...]
    state_mutability: str

    @classmethod
    def from_abi(cls, contract: str, entry: Mapping[str, Any]) -> Function:
        inputs, outputs = _params(contract, entry, "inputs"), _params(contract, entry, "outputs")
        return cls(
            contract=contract,
            name=entry["name"],
            signature=abi_to_signature(dict(entry)),
            selector=function_abi_to_4byte_selector(dict(entry)),
            inputs=inputs,
            outputs=outputs,
            state_mutability=str(entry.get("stateMutability", "")),
        )

    @property
    def label(self) -> str:
        return f"{self.contract}.{self.signature}"

    @property
    def arity(self) -> int:
        return len(self.inputs)

    @property
    def input_types(self) -> tuple[str, ...]:
        return _types(self.inputs)

    @property
    def output_types(self) -> tuple[str, ...]:
        return _types(self.outputs)

    @cached_property
    def output_struct(self) -> Struct:
        """The struct a function returns: its sole output's components, or
        each element's for an array of structs (``Lens.healths``).
        AbiError when the output is not a struct."""
        if len(self.outputs) != 1 or not self.outputs[0].components:
            returns = ", ".join(self.output_types) or "nothing"
            raise AbiError(f"{self.label} returns {returns}, not a struct")
        return Struct(f"{self.contract}.{self.name}", self.outputs[0].components)

    def encode(self, *args: Any) -> bytes:
        """The calldata of a call with ``args``: the selector, then the
        arguments ABI-encoded. ValueError naming the function when the
        count or a value does not fit its inputs."""
        if len(args) != len(self.inputs):
            raise ValueError(f"{self.label} takes {len(self.inputs)} arguments, got {len(args)}")
        try:
            return self.selector + abi_encode(list(self.input_types), list(args))
        except EncodingError as err:
            raise ValueError(f"{self.label}: {err}") from err

    def decode(self, data: Any) -> tuple[Any, ...]:
        """The return data (bytes or 0x-hex) as eth-abi decodes it: one
        value per output, a struct as a plain tuple in its components'
        order (:meth:`Struct.record` names them)."""
        try:
            return tuple(abi_decode(list(self.output_types), _as_bytes(data, self.label)))
        except DecodingError as err:
            raise ValueError(f"{self.label} return data: {err}") from err

    def outputs_as(self, cls: type[T], values: Sequence[Any]) -> T:
        """The outputs of a function returning a bare tuple as the
        dataclass ``cls``, whose fields name them in the ABI's order
        (Vyper gives such outputs no names; where the ABI has a name, the
        field must match it). AbiError when the arity differs."""
        names = _field_names(cls)
        if len(names) != len(self.outputs):
            raise AbiError(
                f"{cls.__name__} has {len(names)} fields; {self.label} returns {len(self.outputs)}"
            )
        for param, name in zip(self.outputs, names):
            if param.name and param.name != name:
                raise AbiError(
                    f"{cls.__name__}.{name} binds {self.label}'s output named {param.name!r}"
                )
        if len(values) != len(names):
            raise ValueError(f"{self.label} returns {len(names)} values, got {len(values)}")
        return cls(**dict(zip(names, values)))


@dataclass(frozen=True)
class Event:
    """One event of a contract's ABI: its canonical ``signature``, its
    ``topic`` (topic 0 of its logs, 0x-hex lowercase) and the decoding of
    its arguments by name."""

    contract: str
    name: str
    signature: str
    topic: str
    inputs: tuple[Param, ...]
    anonymous: bool = False

    @classmethod
    def from_abi(cls, contract: str, entry: Mapping[str, Any]) -> Event:
        inputs = _params(contract, entry, "inputs")
        return cls(
            contract=contract,
            name=entry["name"],
            signature=abi_to_signature(dict(entry)),
            topic="0x" + event_abi_to_log_topic(dict(entry)).hex(),
            inputs=inputs,
            anonymous=bool(entry.get("anonymous", False)),
        )

    @property
    def label(self) -> str:
        return f"{self.contract}.{self.signature}"

    @cached_property
    def data_struct(self) -> Struct:
        """The arguments carried in the log's data (the non-indexed ones)."""
        data = tuple(p for p in self.inputs if not p.indexed)
        return Struct(f"{self.contract}.{self.name}", data)

    @cached_property
    def args_struct(self) -> Struct:
        """Every argument, in the event's order."""
        return Struct(f"{self.contract}.{self.name}", self.inputs)

    def topic_position(self, name: str) -> int:
        """Where the indexed argument ``name`` sits in a log's topics (1 for
        the first indexed one: topic 0 is the event's own). AbiError when
        the event has no such indexed argument."""
        indexed = [p.name for p in self.inputs if p.indexed]
        if name not in indexed:
            known = ", ".join(indexed) or "none"
            raise AbiError(f"{self.label} has no indexed argument {name!r} (indexed: {known})")
        return (0 if self.anonymous else 1) + indexed.index(name)

    def encode_topic(self, name: str, value: Any) -> str:
        """The topic (0x-hex) a log carries for the indexed argument ``name``
        equal to ``value``: what an ``eth_getLogs`` filter matches. A
        dynamic argument's topic is its hash, which this does not compute:
        AbiError."""
        self.topic_position(name)
        param = self.args_struct.component(name)
        if parse_type(param.type).is_dynamic:
            raise AbiError(
                f"{self.label}: {name} is a {param.type}; its topic is a hash, not its encoding"
            )
        try:
            return "0x" + abi_encode([param.type], [value]).hex()
        except EncodingError as err:
            raise ValueError(f"{self.label} topic {name}: {err}") from err

    def decode_data(self, data: Any) -> tuple:
        """The non-indexed arguments of a log's ``data`` (bytes or 0x-hex),
        by name (:meth:`Struct.record`)."""
        struct = self.data_struct
        try:
            values = abi_decode(list(struct.types), _as_bytes(data, self.label))
        except DecodingError as err:
            raise ValueError(f"{self.label} log data: {err}") from err
        return struct.record(values)

    def decode(self, topics: Sequence[Any], data: Any) -> tuple:
        """Every argument of a log, by name: the indexed ones from
        ``topics`` (a dynamic one, which a log holds as its hash, as the
        32-byte hash), the others from ``data``. ValueError when topic 0
        is another event's or the count of topics does not fit."""
        raw = [_as_bytes(t, self.label) for t in topics]
        if not self.anonymous:
            first = "0x" + raw[0].hex() if raw else "missing"
            if first != self.topic:
                raise ValueError(f"not a {self.label} log: topic 0 is {first}")
            raw = raw[1:]
        indexed = [p for p in self.inputs if p.indexed]
        if len(raw) != len(indexed):
            raise ValueError(
                f"{self.label} has {len(indexed)} indexed arguments; the log has {len(raw)} topics"
            )
        topic_values = iter(
            word if parse_type(p.type).is_dynamic else abi_decode([p.type], word)[0]
            for p, word in zip(indexed, raw)
        )
        data_values = iter(self.decode_data(data))
        values = [next(topic_values) if p.indexed else next(data_values) for p in self.inputs]
        return self.args_struct.record(values)


# ---------------------------------------------------------------- #
#                             contracts                             #
# ---------------------------------------------------------------- #


@dataclass(frozen=True)
class ContractAbi:
    """The functions and events of one contract or interface."""

    name: str
    functions: tuple[Function, ...]
    events: tuple[Event, ...]

    @classmethod
    def from_entries(cls, name: str, entries: Sequence[Mapping[str, Any]]) -> ContractAbi:
        """From ABI JSON entries (constructors, fallbacks and the like are
        left out: nothing calls them by name)."""
        if isinstance(entries, (str, bytes)) or not isinstance(entries, Sequence):
            raise ValueError(f"{name}: an ABI is a list of entries, got {type(entries).__name__}")
        bad = [
            e for e in entries if not isinstance(e, Mapping) or not isinstance(e.get("type"), str)
        ]
        if bad:
            raise ValueError(f"{name}: malformed ABI entry {bad[0]!r}")
        return cls(
            name=name,
            functions=tuple(Function.from_abi(name, e) for e in entries if e["type"] == "function"),
            events=tuple(Event.from_abi(name, e) for e in entries if e["type"] == "event"),
        )

    def function(self, name: str, arity: int | None = None) -> Function:
        """The function ``name``; ``arity`` (its input count) picks among
        overloads. AbiError naming what exists when there is no such
        function, or several and no ``arity`` to choose."""
        found = [f for f in self.functions if f.name == name]
        if not found:
            known = ", ".join(sorted({f.name for f in self.functions}))
            raise AbiError(f"{self.name} has no function {name!r} (functions: {known})")
        if arity is not None:
            found = [f for f in found if f.arity == arity]
            if not found:
                have = ", ".join(f.signature for f in self.functions if f.name == name)
                raise AbiError(f"{self.name} has no {name} with {arity} inputs (there is {have})")
        if len(found) > 1:
            have = ", ".join(f.signature for f in found)
            raise AbiError(f"{self.name}.{name} is overloaded ({have}): pass arity= to pick one")
        return found[0]

    def event(self, name: str) -> Event:
        """The event ``name``; AbiError naming the events there are."""
        found = [e for e in self.events if e.name == name]
        if not found:
            known = ", ".join(sorted(e.name for e in self.events)) or "none"
            raise AbiError(f"{self.name} has no event {name!r} (events: {known})")
        if len(found) > 1:
            twice = ", ".join(e.signature for e in found)
            raise AbiError(f"{self.name} declares event {name} twice ({twice})")
        return found[0]


def contract_names() -> tuple[str, ...]:
    """The names of the shipped ABIs (the JSON files' stems)."""
    if not ABI_DIR.is_dir():
        raise AbiError(f"{ABI_DIR} is missing: navlend was installed without its ABI files")
    return tuple(sorted(p.stem for p in ABI_DIR.glob("*.json")))


@lru_cache(maxsize=None)
def contract(name: str) -> ContractAbi:
    """The ABI of the contract or interface ``name`` (``navlend/abi/<name>.json``),
    loaded once. AbiError naming the known ones when there is none."""
    known = contract_names()
    if name not in known:
        raise AbiError(f"no ABI named {name!r} in {ABI_DIR} (known: {', '.join(known)})")
    path = ABI_DIR / f"{name}.json"
    try:
        entries = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not JSON ({err})") from err
    return ContractAbi.from_entries(name, entries)


def function(contract_name: str, name: str, arity: int | None = None) -> Function:
    """``contract(contract_name).function(name, arity)``."""
    return contract(contract_name).function(name, arity)


def event(contract_name: str, name: str) -> Event:
    """``contract(contract_name).event(name)``."""
    return contract(contract_name).event(name)
