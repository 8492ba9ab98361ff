"""deploy_world: the world is wired (allowlists, minters, liquidity, fresh
oracles) and round-trips through the deployments file."""

from navlend import deployments
from devkit.world import NAV_ACCRUING, STABLE_DIVIDEND, attach_world


def test_deploy_world__facilities__allowlisted_and_minters(world):
    for fund, facility in ((world.fund_a, world.facility_a), (world.fund_b, world.facility_b)):
        assert fund.is_allowlisted(facility)
        assert fund.is_minter(facility)
        assert facility.share_token() == fund.address
        assert facility.payout_token() == world.stablecoin.address


def test_deploy_world__wrapper_and_wrapped_facility__allowlisted_on_fund_b(world):
    assert world.fund_b.is_allowlisted(world.wrapper)
    assert world.fund_b.is_allowlisted(world.wrapped_facility)
    assert world.wrapper.asset() == world.fund_b.address
    assert world.wrapped_facility.share_token() == world.wrapper.address
    assert world.wrapped_facility.facility() == world.facility_b.address


def test_deploy_world__value_models_and_decimals(world):
    assert world.fund_a.value_model() == NAV_ACCRUING
    assert world.fund_b.value_model() == STABLE_DIVIDEND
    assert world.fund_a.decimals() == 6
    assert world.fund_b.decimals() == 18
    assert world.wrapper.decimals() == 18
    assert world.stablecoin.decimals() == 6


def test_deploy_world__oracles__fresh(world, chain):
    now = chain.blocks.head.timestamp
    for oracle, nav in ((world.oracle_a, 10_50_000_000), (world.oracle_b, 1_00_000_000)):
        round_id, answer, started_at, updated_at, answered_in = oracle.latestRoundData()
        assert (round_id, answer, answered_in) == (1, nav, 1)
        assert started_at == updated_at
        assert 0 <= now - updated_at < world.facility_a.max_oracle_age()
    assert world.wrapper_oracle.latestRoundData()[1] == 1_00_000_000
    assert world.facility_a.max_redeem() > 0
    assert world.facility_b.max_redeem() > 0


def test_deploy_world__facilities__funded(world):
    for facility in (world.facility_a, world.facility_b):
        assert facility.available_liquidity() == 5_000_000 * 10**6


def test_deploy_world__actors__allowlisted_outsider_not(
    world, lender, borrower, liquidator, attacker, outsider
):
    for fund in world.funds():
        for actor in (lender, borrower, liquidator, attacker):
            assert fund.is_allowlisted(actor)
        assert not fund.is_allowlisted(outsider)


def test_world_allowlist__adds_account_to_both_funds(world, outsider):
    world.allowlist(outsider)
    assert world.fund_a.is_allowlisted(outsider)
    assert world.fund_b.is_allowlisted(outsider)


def test_deployments__save_and_load__round_trip(world, tmp_path, chain):
    deployment = world.to_deployment("local", chain.chain_id)
    path = deployments.save(deployment, tmp_path)
    assert path == tmp_path / "local.json"
    loaded = deployments.load("local", tmp_path)
    assert loaded == deployment
    assert loaded.address("fund_a") == world.fund_a.address
    assert loaded.contracts["facility_b"].params["fee_bps"] == 5
    assert loaded.contracts["wrapper"].contract_type == "AccumulatingWrapper"


def test_attach_world__from_deployment__same_contracts(world, chain):
    attached = attach_world(world.to_deployment("local", chain.chain_id))
    assert {k: v.address for k, v in attached.contracts().items()} == {
        k: v.address for k, v in world.contracts().items()
    }
    assert attached.updater == world.updater


def test_deploy_script__deploy_with_extension__records_extra_contract(deployer, chain, world_start):
    """scripts/deploy.py: the lead's market step plugs in as an extension."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "deploy.py"
    spec = importlib.util.spec_from_file_location("navlend_deploy_script", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    def add_market(world, deployment, account):
        deployment.add(
            deployments.ContractRecord(
                "market", "Market", str(world.fund_a.address), {"ltv_bps": 8_000}
            )
        )

    world, deployment = script.deploy(deployer, "local", chain.chain_id, extend=(add_market,))
    assert deployment.address("market") == world.fund_a.address
    assert deployment.address("facility_a") == world.facility_a.address
    script.print_deployment(deployment)
