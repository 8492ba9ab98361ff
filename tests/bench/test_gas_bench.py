"""The side-by-side gas benchmark: the peers build from npm, every adapter
plays the whole scenario and measures every operation, and the result
records what the README's table needs; a liquidation through each route
(seize, redeem) is measured on the native market and over the Superstate
and Ondo adapters. No ranking is asserted: the figures are the benchmark's
output, not a test's."""

from __future__ import annotations

import json

import pytest

from devkit.gasbench.scenario import (
    OPERATIONS,
    ScenarioError,
    deploy_tokens,
    run_scenario,
    token_profile,
)
from devkit.gasbench.aave import AaveArtifacts
from devkit.gasbench.artifacts import LinkError
from devkit.gasbench.bench import SUBJECT, TARGETS, adapters, run_bench
from devkit.gasbench.machine import NPM_PACKAGES, UNKNOWN
from devkit.gasbench.peer_build import CONTRACTS, build_peer_contracts
from devkit.gasbench.routes import (
    MARKETS,
    NATIVE,
    REPAYS,
    ROUTES,
    calls_gas,
    own_gas,
    deploy_native,
    liquidate_route,
    open_position,
    price_falls,
)
from devkit.gasbench.sizes import DEPLOYABLES, ISSUER_ADAPTERS
from devkit.gasbench.table import (
    README_BEGIN,
    README_END,
    markdown_table,
    replace_block,
    route_cells,
)

# A transaction's base cost: every receipt is above it.
BASE_GAS = 21_000
# No lending operation of these protocols comes near a million gas.
SANE_CEILING = 1_000_000
PROTOCOLS = (SUBJECT, *(target.key for target in TARGETS))
# One cold storage read: what two runs of the market's own code may differ by.
COLD_SLOAD = 2_100
# EIP-3529: the refund is at most a fifth of the gas spent.
MAX_REFUND_QUOTIENT = 5


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
    rows = document["liquidation_routes"]["rows"]
    assert {(row["market"], row["route"]) for row in rows} == {
        (market, route) for market in MARKETS for route in ROUTES
    }
    native = {row["route"]: row["gas"] for row in rows if row["market"] == NATIVE}
    for row in rows:
        assert row["ratio_to_native"] == pytest.approx(row["gas"] / native[row["route"]], abs=1e-4)
        assert row["gas"] == row["issuer_side"] + row["navlend_side"] - row["refund"]
        assert row["issuer_side"] == row["adapters"] + row["issuer_contracts"]
    for name in ISSUER_ADAPTERS:
        assert document["sizes"][name]["deployed"] > 0


# ---- liquidation by route: native market and issuer adapters ----


def test_bench__routes__every_market_liquidates_through_both_routes(bench):
    routes = bench.routes
    assert [(row.market, row.route) for row in routes.rows] == [
        (market, route) for market in MARKETS for route in ROUTES
    ]
    for row in routes.rows:
        label = f"{row.market} {row.route}"
        assert BASE_GAS < row.gas < SANE_CEILING, label
        assert abs(row.repaid - REPAYS[row.route] * 10**6) <= 10**6, label
        assert 0 < row.issuer_side < row.before_refund, label
        assert 0 < row.issuer_contracts <= row.issuer_side, label
        # Only the issuers' markets run navlend adapters.
        assert (row.adapters > 0) == (row.market != NATIVE), label
        assert BASE_GAS < row.navlend_side, label
        assert 0 <= row.refund <= row.before_refund // MAX_REFUND_QUOTIENT, label


def test_bench__routes__the_markets_own_side_the_same_over_every_issuer(bench):
    """The adapters cost only their own calls: the market's code runs the
    same path whichever issuer stands behind the collateral."""
    routes = bench.routes
    for route in ROUTES:
        native = routes.row(NATIVE, route).navlend_side
        for market in MARKETS:
            assert abs(routes.row(market, route).navlend_side - native) <= COLD_SLOAD, market


def test_bench__routes__unknown_row__refused(bench):
    with pytest.raises(KeyError, match="no redeem row for aave"):
        bench.routes.row("aave", "redeem")


def test_bench__routes__adapters_sized_with_the_deployables(bench):
    sizes = {size.name: size for size in bench.sizes}
    assert set(ISSUER_ADAPTERS) <= set(DEPLOYABLES)
    for name in ISSUER_ADAPTERS:
        assert name in bench.routes.adapters
        assert sizes[name].deployed is not None and sizes[name].headroom > 0


def test_bench__liquidate_route__repayment_over_the_close_factor__scenario_error(
    scenario_actors, chain, project
):
    """A route that repays less than asked (here the close factor trims
    the repayment) is refused, not measured."""
    native = deploy_native(scenario_actors, project, chain)
    open_position(native, scenario_actors)
    price_falls([native], chain)
    with pytest.raises(ScenarioError, match="native redeem: the debt fell by"):
        liquidate_route(native, scenario_actors, chain, "redeem", 100_000)


def test_bench__liquidate_route__unknown_route__refused_before_sending(scenario_actors, chain):
    with pytest.raises(ValueError, match="seize, redeem"):
        liquidate_route(None, scenario_actors, chain, "swap", 1_000)


MARKET = "0x" + "aa" * 20
TOKEN = "0x" + "bb" * 20
FACILITY = "0x" + "cc" * 20
EXTENSION = "0x" + "dd" * 20
ISSUER = "0x" + "ee" * 20


def _frame(kind: str, sender: str, to: str, gas: int, *calls: dict) -> dict:
    return {"type": kind, "from": sender, "to": to, "gasUsed": hex(gas), "calls": list(calls)}


def test_calls_gas__counts_the_markets_calls_to_the_targets_once():
    """Calls through the market's delegate-called extension count (they run
    as the market); what the facility calls in turn is inside its figure."""
    trace = _frame(
        "CALL", "0x" + "11" * 20, MARKET, 200_000,
        _frame("STATICCALL", MARKET, TOKEN, 2_000),
        _frame("DELEGATECALL", MARKET, EXTENSION, 60_000, _frame("CALL", MARKET, TOKEN, 30_000)),
        _frame("CALL", MARKET, FACILITY, 90_000, _frame("CALL", FACILITY, ISSUER, 70_000)),
    )
    # The trace's addresses are compared case-blind (a checksummed caller).
    checksummed = "0x" + MARKET[2:].upper()
    assert calls_gas(trace, checksummed, frozenset({TOKEN, FACILITY})) == 122_000


def test_calls_gas__no_call_to_a_target__zero():
    trace = _frame("CALL", ISSUER, MARKET, 50_000, _frame("CALL", MARKET, EXTENSION, 10_000))
    assert calls_gas(trace, MARKET, frozenset({TOKEN, FACILITY})) == 0


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
    for cells in route_cells(bench.routes):
        assert "| " + " | ".join(cells) + " |" in table
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


def test_own_gas__each_adapters_call_less_the_calls_it_made():
    """A feed adapter read by the market and a redemption adapter that
    calls the issuer: each counts only its own code."""
    trace = _frame(
        "CALL", "0x" + "11" * 20, MARKET, 300_000,
        _frame("STATICCALL", MARKET, TOKEN, 9_000, _frame("STATICCALL", TOKEN, ISSUER, 6_000)),
        _frame("CALL", MARKET, FACILITY, 150_000, _frame("CALL", FACILITY, ISSUER, 120_000)),
    )
    assert own_gas(trace, frozenset({TOKEN, FACILITY})) == 3_000 + 30_000


def test_own_gas__no_adapter_in_the_trace__zero():
    trace = _frame("CALL", ISSUER, MARKET, 50_000, _frame("CALL", MARKET, TOKEN, 10_000))
    assert own_gas(trace, frozenset({FACILITY})) == 0
