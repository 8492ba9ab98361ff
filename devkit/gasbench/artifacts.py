"""Turns peer bytecode into Ape contract containers, and links libraries.

Aave v3's npm package ships Hardhat artifacts (``abi``, ``bytecode``,
``linkReferences``). Contracts that call external libraries (the Pool, the
PoolConfigurator, FlashLoanLogic) carry 20-byte placeholders at the offsets
``linkReferences`` lists; :func:`link` writes the deployed libraries'
addresses there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ape.contracts import ContractContainer
from ethpm_types import ContractType

from devkit.gasbench.solc import CompiledContract

ADDRESS_BYTES = 20


class LinkError(ValueError):
    """A library the bytecode needs has no address, or a placeholder is malformed."""


@dataclass(frozen=True)
class LinkReference:
    """One library a bytecode calls, and where its address goes."""

    source: str
    library: str
    offsets: tuple[int, ...]


@dataclass(frozen=True)
class HardhatArtifact:
    """A compiled contract from a Hardhat artifact file."""

    name: str
    abi: list
    bytecode: str
    links: tuple[LinkReference, ...] = field(default=())

    @classmethod
    def load(cls, path: Path) -> HardhatArtifact:
        if not path.exists():
            raise FileNotFoundError(f"no artifact at {path} (run `npm ci`)")
        data = json.loads(path.read_text())
        links = tuple(
            LinkReference(source, library, tuple(ref["start"] for ref in refs))
            for source, libraries in data.get("linkReferences", {}).items()
            for library, refs in libraries.items()
        )
        return cls(data["contractName"], data["abi"], data["bytecode"], links)

    def libraries(self) -> tuple[str, ...]:
        return tuple(link.library for link in self.links)

    def linked(self, addresses: dict[str, str]) -> CompiledContract:
        """The artifact with every library placeholder filled from ``addresses``
        (library name -> address)."""
        return CompiledContract(self.name, self.abi, link(self.bytecode, self.links, addresses))


def link(bytecode: str, links: tuple[LinkReference, ...], addresses: dict[str, str]) -> str:
    """Writes each library's address at its offsets (bytes) in ``bytecode``."""
    hexcode = bytecode.removeprefix("0x")
    chars = list(hexcode)
    for reference in links:
        for start in reference.offsets:
            placeholder = hexcode[2 * start : 2 * (start + ADDRESS_BYTES)]
            if not placeholder.startswith("__"):
                raise LinkError(
                    f"no placeholder for {reference.library} at byte {start}: {placeholder}"
                )
            chars[2 * start : 2 * (start + ADDRESS_BYTES)] = "0" * (2 * ADDRESS_BYTES)
    blanked = "".join(chars)
    if "__" in blanked:
        raise LinkError("the bytecode has placeholders that linkReferences does not list")
    code = bytearray.fromhex(blanked)
    for reference in links:
        if reference.library not in addresses:
            raise LinkError(f"no address for library {reference.library} ({reference.source})")
        address = bytes.fromhex(str(addresses[reference.library]).removeprefix("0x"))
        if len(address) != ADDRESS_BYTES:
            raise LinkError(
                f"library {reference.library}: {addresses[reference.library]!r} is not an address"
            )
        for start in reference.offsets:
            code[start : start + ADDRESS_BYTES] = address
    return "0x" + code.hex()


def container(compiled: CompiledContract) -> ContractContainer:
    """An Ape container that deploys ``compiled``."""
    if "__" in compiled.bytecode:
        raise LinkError(f"{compiled.name} has unlinked libraries")
    return ContractContainer(contract_type(compiled.name, compiled.abi, compiled.bytecode))


def contract_type(name: str, abi: list, bytecode: str | None = None) -> ContractType:
    """An ethpm contract type, for deploying or for reaching a proxy with the
    implementation's ABI."""
    fields: dict[str, Any] = {"contractName": name, "abi": abi}
    if bytecode is not None:
        fields["deploymentBytecode"] = {"bytecode": bytecode}
    return ContractType.model_validate(fields)
