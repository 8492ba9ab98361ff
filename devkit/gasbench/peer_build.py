"""The Solidity the benchmark compiles at bench time: Morpho Blue and its
mocks from ``@morpho-org/morpho-blue``, and this package's minimal
flash-loan receivers for Aave and navlend, in one solc-js build (solc 0.8.19, via-IR, 999,999
runs, evm paris), cached under ``.build/peers/``."""

from __future__ import annotations

from devkit.gasbench.npm import PACKAGE_DIR, npm_package_dir
from devkit.gasbench.solc import CompiledContract, SolcSettings, SourceTree, compile_sources

MORPHO_PACKAGE = "@morpho-org/morpho-blue"
SETTINGS = SolcSettings()

# Contract name -> source unit (relative to its package root).
CONTRACTS = {
    "Morpho": "src/Morpho.sol",
    "OracleMock": "src/mocks/OracleMock.sol",
    "IrmMock": "src/mocks/IrmMock.sol",
    "FlashBorrowerMock": "src/mocks/FlashBorrowerMock.sol",
    "AaveFlashReceiver": "sol/AaveFlashReceiver.sol",
    "NavlendFlashReceiver": "sol/NavlendFlashReceiver.sol",
}


def build_peer_contracts() -> dict[str, CompiledContract]:
    """Compiles (or loads from the cache) every contract of :data:`CONTRACTS`."""
    trees = [
        SourceTree.under(npm_package_dir(MORPHO_PACKAGE), "src"),
        SourceTree.under(PACKAGE_DIR, "sol"),
    ]
    return compile_sources(trees, CONTRACTS, SETTINGS)
