"""Each deployable's runtime size against EIP-170's 24,576 bytes.

The gas report prints it beside the gas (``make gas``, ``make bench``),
since every check added to the market costs bytes as well as gas. Sizes
come from the compiled artifacts; for a contract deployed in the run, the
code on chain is measured instead, because Vyper appends immutables to the
runtime code and the compiled figure alone understates what EIP-170 counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.table import Table

EIP170_LIMIT = 24_576
# navlend's adapters over the issuers' own contracts (contracts/adapters/).
ISSUER_ADAPTERS = (
    "SuperstateNavFeed",
    "SuperstateRedemption",
    "SuperstateCompliance",
    "OndoNavFeed",
    "OndoRedemption",
    "OndoCompliance",
)
# The contracts a deployment puts on a live network, the issuer adapters
# included (the simulated issuer's contracts, the issuers' doubles and the
# mocks are never deployed there).
DEPLOYABLES = (
    "Market",
    "MarketViews",
    "MarketAdmin",
    "Lens",
    "FlashLiquidator",
    "Leverage",
    "AccumulatingWrapper",
    "WrapperNavOracle",
    "WrappedFacility",
    *ISSUER_ADAPTERS,
)


@dataclass(frozen=True)
class ContractSize:
    """One deployable's size: compiled runtime, and on chain when deployed."""

    name: str
    runtime: int
    deployed: int | None = None

    @property
    def counted(self) -> int:
        """What EIP-170 counts: the deployed code when measured."""
        return self.deployed if self.deployed is not None else self.runtime

    @property
    def headroom(self) -> int:
        return EIP170_LIMIT - self.counted


def contract_sizes(project: Any, provider: Any = None, deployed: dict[str, str] | None = None) -> list[ContractSize]:
    """Sizes of :data:`DEPLOYABLES`; ``deployed`` maps a name to an address
    whose code ``provider.get_code`` measures."""
    deployed = deployed or {}
    sizes = []
    for name in DEPLOYABLES:
        runtime = getattr(project, name).contract_type.runtime_bytecode.bytecode
        on_chain = None
        if name in deployed and provider is not None:
            on_chain = len(provider.get_code(deployed[name]))
        sizes.append(ContractSize(name, (len(runtime) - 2) // 2, on_chain))
    return sizes


def size_table(sizes: list[ContractSize]) -> Table:
    table = Table(title=f"runtime size against EIP-170 ({EIP170_LIMIT:,} bytes)")
    table.add_column("contract", no_wrap=True)
    table.add_column("compiled runtime", justify="right")
    table.add_column("deployed (immutables in)", justify="right")
    table.add_column("headroom", justify="right")
    for s in sizes:
        colour = "green" if s.headroom >= 0 else "red"
        deployed = f"{s.deployed:,}" if s.deployed is not None else "-"
        table.add_row(s.name, f"{s.runtime:,}", deployed, f"[{colour}]{s.headroom:,}[/{colour}]")
    return table


def sizes_json(sizes: list[ContractSize]) -> dict[str, dict[str, int | None]]:
    return {s.name: {"runtime": s.runtime, "deployed": s.deployed, "headroom": s.headroom} for s in sizes}
