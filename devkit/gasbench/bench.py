"""The side-by-side gas benchmark: the reference scenario
(``docs/gas-scenario.md``) on navlend, Morpho Blue and Aave v3, one after
the other on the same chain, each over fresh tokens of the same contract
types, and the ratios against the targets (navlend at most 1.0x Morpho
Blue and at most 0.5x Aave v3 on every operation).

:func:`run_bench` returns a :class:`BenchResult`; :meth:`BenchResult.as_json`
is the document ``ape run bench_gas --json PATH`` writes, for ``make bench``
to merge with the other benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from devkit.gasbench import scenario as gas_scenario
from devkit.gasbench.scenario import (
    OPERATIONS,
    Actors,
    LendingAdapter,
    ScenarioResult,
    TokenProfile,
    deploy_tokens,
    run_scenario,
)
from devkit.gasbench.aave import AaveAdapter
from devkit.gasbench.machine import MachineInfo, Versions
from devkit.gasbench.morpho import MorphoAdapter
from devkit.gasbench.navlend_adapter import NavlendAdapter
from devkit.gasbench.peer_build import SETTINGS, build_peer_contracts
from devkit.gasbench.routes import RouteComparison, run_routes
from devkit.gasbench.solc import solc_version
from devkit.gasbench.sizes import ContractSize, contract_sizes, sizes_json

SUBJECT = "navlend"


@dataclass(frozen=True)
class PeerTarget:
    """A peer and the ratio navlend must stay at or under on every operation."""

    key: str
    name: str
    short: str
    max_ratio: float


TARGETS = (
    PeerTarget("morpho_blue", "Morpho Blue", "Morpho", 1.0),
    PeerTarget("aave_v3", "Aave v3", "Aave", 0.5),
)


@dataclass(frozen=True)
class GasComparison:
    """navlend's figures against each peer's, per operation."""

    subject: ScenarioResult
    peers: dict[str, ScenarioResult]

    def ratio(self, peer: str, op: str) -> float:
        return self.subject.gas[op] / self.peers[peer].gas[op]

    def passes(self, target: PeerTarget, op: str) -> bool:
        return self.ratio(target.key, op) <= target.max_ratio

    def failures(self) -> list[tuple[str, str, float]]:
        """(peer, operation, ratio) of every operation over its target."""
        return [
            (target.name, op, self.ratio(target.key, op))
            for target in TARGETS
            for op in OPERATIONS
            if not self.passes(target, op)
        ]

    def as_json(self) -> dict:
        return {
            "gas": {SUBJECT: self.subject.gas}
            | {key: result.gas for key, result in self.peers.items()},
            "ratios": {
                f"{SUBJECT}/{target.key}": {
                    op: round(self.ratio(target.key, op), 4) for op in OPERATIONS
                }
                for target in TARGETS
            },
            "targets": {target.key: target.max_ratio for target in TARGETS},
            "failures": [
                {"peer": peer, "operation": op, "ratio": round(r, 4)}
                for peer, op, r in self.failures()
            ],
        }


@dataclass(frozen=True)
class BenchResult:
    """One run of the benchmark, with where and what it measured."""

    date: str
    machine: MachineInfo
    versions: Versions
    comparison: GasComparison
    compiler: str
    collateral_decimals: int
    setups: dict[str, str]
    tokens: TokenProfile
    # Liquidation by route on the native market and the issuers' markets.
    routes: RouteComparison
    # Each navlend deployable's size against EIP-170 (``sizes.contract_sizes``).
    sizes: tuple[ContractSize, ...] = ()

    def as_json(self) -> dict:
        return {
            "benchmark": "gas",
            "sizes": sizes_json(list(self.sizes)),
            "date": self.date,
            "scenario": "docs/gas-scenario.md",
            "measure": "receipt gasUsed (21,000 base included)",
            "tokens": {
                "profile": self.tokens.key,
                "loan": self.tokens.loan_type,
                "collateral": self.tokens.collateral_type,
                "note": "fresh tokens of these types for every protocol: " + self.tokens.note,
            },
            "collateral_decimals": self.collateral_decimals,
            "morpho_compiler": self.compiler,
            "setups": self.setups,
            "machine": self.machine.as_json(),
            "versions": self.versions.as_json(),
            "operations": list(OPERATIONS),
            "liquidation_routes": self.routes.as_json(),
        } | self.comparison.as_json()


def adapters(project: Any) -> dict[str, LendingAdapter]:
    """The three protocols' adapters, navlend first (builds the peers)."""
    peer_contracts = build_peer_contracts()
    return {
        SUBJECT: NavlendAdapter(project, receiver=peer_contracts["NavlendFlashReceiver"]),
        "morpho_blue": MorphoAdapter(peer_contracts),
        "aave_v3": AaveAdapter(peer_contracts),
    }


def run_bench(
    actors: Actors,
    chain: Any,
    project: Any,
    *,
    collateral_decimals: int = gas_scenario.DEFAULT_COLLATERAL_DECIMALS,
    tokens: TokenProfile = gas_scenario.TOKEN_PROFILES[gas_scenario.DEFAULT_TOKENS],
) -> BenchResult:
    """Runs the scenario on the three protocols in turn on ``chain``, each
    over fresh tokens of the ``tokens`` profile's types, then liquidation by
    route on the native and the issuers' markets (``routes.run_routes``)."""
    results: dict[str, ScenarioResult] = {}
    setups: dict[str, str] = {}
    built = adapters(project)
    for key, adapter in built.items():
        fresh = deploy_tokens(actors.owner, project, collateral_decimals, tokens)
        results[key] = run_scenario(adapter, actors, chain, fresh)
        setups[key] = adapter.describe()
    subject = results.pop(SUBJECT)
    routes = run_routes(actors, chain, project)
    deployed = built[SUBJECT].deployed_addresses() | routes.adapters
    sizes = contract_sizes(project, chain.provider, deployed)
    return BenchResult(
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        machine=MachineInfo.collect(chain.provider.web3.client_version),
        versions=Versions.collect(),
        comparison=GasComparison(subject, results),
        compiler=f"solc-js {solc_version()} ({SETTINGS.describe()})",
        collateral_decimals=collateral_decimals,
        setups=setups,
        tokens=tokens,
        routes=routes,
        sizes=tuple(sizes),
    )


def reference_comparison(subject: ScenarioResult) -> GasComparison:
    """navlend's figures against the reference's published peer figures
    (``make gas``: no peer build)."""
    return GasComparison(
        subject,
        {
            "morpho_blue": ScenarioResult("Morpho Blue (reference)", gas_scenario.MORPHO_BLUE),
            "aave_v3": ScenarioResult("Aave v3 (reference)", gas_scenario.AAVE_V3),
        },
    )
