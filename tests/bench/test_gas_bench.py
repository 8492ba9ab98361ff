"""The side-by-side gas benchmark: the peers build from npm, every adapter
plays the whole scenario and measures every operation, and the result
records what the README's table needs. No ranking is asserted: the figures
are the benchmark's output, not a test's."""

from __future__ import annotations

import json

import pytest

from devkit.gasbench.scenario import OPERATIONS, deploy_tokens, run_scenario, token_profile
from devkit.gasbench.aave import AaveArtifacts
from devkit.gasbench.artifacts import LinkError
from devkit.gasbench.bench import SUBJECT, TARGETS, adapters, run_bench
from devkit.gasbench.machine import NPM_PACKAGES, UNKNOWN
from devkit.gasbench.peer_build import CONTRACTS, build_peer_contracts
from devkit.gasbench.table import README_BEGIN, README_END, markdown_table, replace_block

# A transaction's base cost: every receipt is above it.
BASE_GAS = 21_000
# No lending operation of these protocols comes near a million gas.
SANE_CEILING = 1_000_000
PROTOCOLS = (SUBJECT, *(target.key for target in TARGETS))


@pytest.fixture(scope="module")
def bench(scenario_actors, chain, project):
    """One run of the benchmark: the scenario on all three protocols."""
    return run_bench(scenario_actors, chain, project)


def _gas(bench, protocol: str) -> dict[str, int]:
    comparison = bench.comparison
    return comparison.subject.gas if protocol == SUBJECT else comparison.peers[protocol].gas


def test_bench__peer_build__compiles_every_peer_contract_from_npm():
    built = build_peer_contracts()
    assert set(built) == set(CONTRACTS)
    for contract in built.values():
        assert contract.bytecode.startswith("0x") and len(contract.bytecode) > 2
        assert "__" not in contract.bytecode
        assert any(entry.get("type") == "function" for entry in contract.abi)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bench__adapter__measures_every_operation(bench, protocol):
    gas = _gas(bench, protocol)
    assert tuple(gas) == OPERATIONS
    for op, used in gas.items():
        assert BASE_GAS < used < SANE_CEILING, f"{protocol} {op}: {used}"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bench__fund_tokens__every_adapter_admits_its_collateral_holders(
    scenario_actors, chain, project, protocol
):
    owner = scenario_actors.owner
    tokens = deploy_tokens(owner, project, profile=token_profile("fund"))
    result = run_scenario(adapters(project)[protocol], scenario_actors, chain, tokens)
    assert tuple(result.gas) == OPERATIONS
    for op, used in result.gas.items():
        assert BASE_GAS < used < SANE_CEILING, f"{protocol} {op}: {used}"


def test_bench__token_profile__refuses_an_unknown_name():
    with pytest.raises(ValueError, match="mock"):
        token_profile("usdt")


def test_bench__comparison__ratios_and_failures_follow_the_figures(bench):
    comparison = bench.comparison
    failed = {(peer, op) for peer, op, _ in comparison.failures()}
    for target in TARGETS:
        for op in OPERATIONS:
            ratio = comparison.subject.gas[op] / comparison.peers[target.key].gas[op]
            assert comparison.ratio(target.key, op) == pytest.approx(ratio)
            assert ((target.name, op) in failed) == (ratio > target.max_ratio)


def test_bench__json__records_date_machine_versions_and_every_figure(bench):
    document = json.loads(json.dumps(bench.as_json()))
    assert document["date"] == bench.date
    assert document["machine"]["cores"] > 0
    assert document["machine"]["node_client"].startswith("anvil")
    for package in NPM_PACKAGES:
        assert document["versions"]["npm_packages"][package] != UNKNOWN
    assert set(document["gas"]) == set(PROTOCOLS)
    assert set(document["setups"]) == set(PROTOCOLS)
    assert document["tokens"]["profile"] == bench.tokens.key
    for target in TARGETS:
        assert set(document["ratios"][f"{SUBJECT}/{target.key}"]) == set(OPERATIONS)


def test_bench__aave_linker__fills_every_library_placeholder():
    pool = AaveArtifacts().get("Pool")
    addresses = {library: f"0x{index + 1:040x}" for index, library in enumerate(pool.libraries())}
    linked = pool.linked(addresses)
    assert "__" not in linked.bytecode
    code = bytes.fromhex(linked.bytecode.removeprefix("0x"))
    for reference in pool.links:
        for start in reference.offsets:
            assert "0x" + code[start : start + 20].hex() == addresses[reference.library]


def test_bench__aave_linker__refuses_a_missing_library():
    pool = AaveArtifacts().get("Pool")
    partial = {library: f"0x{1:040x}" for library in pool.libraries()[1:]}
    with pytest.raises(LinkError, match=pool.libraries()[0]):
        pool.linked(partial)


def test_bench__readme_block__rewritten_between_its_markers(bench):
    """``--readme`` replaces only what lies between the markers, with the
    run's date, machine and every operation's row."""
    table = markdown_table(bench)
    for op in OPERATIONS:
        assert f"| {op} | {bench.comparison.subject.gas[op]:,} |" in table
    assert bench.date in table and bench.machine.describe() in table
    text = f"intro\n{README_BEGIN}\nold table\n{README_END}\noutro\n"
    new = replace_block(text, table)
    assert new.startswith(f"intro\n{README_BEGIN}\n") and new.endswith(f"{README_END}\noutro\n")
    assert "old table" not in new and table in new
    assert replace_block(new, table) == new  # idempotent


@pytest.mark.parametrize("text", ["no markers", f"{README_BEGIN}x{README_BEGIN}y{README_END}"])
def test_bench__readme_block__missing_or_doubled_markers__refused(text):
    with pytest.raises(ValueError, match="expected one"):
        replace_block(text, "table")
