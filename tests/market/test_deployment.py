"""The market as deployed: wiring, defaults, layout and size."""

import json
import subprocess
from pathlib import Path

import ape
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_deploy__defaults__are_the_documented_ones(market, stablecoin, owner, guardian, treasury):
    assert market.asset() == stablecoin.address
    assert market.owner() == owner.address
    assert market.guardian() == guardian.address
    assert market.treasury() == treasury.address
    assert market.decimals() == 12
    rates = market.rate_config()
    assert rates.kink_bps == 9_000
    assert rates.reserve_factor_bps == 1_000
    control = market.control()
    assert control[0] == 0  # nothing paused
    assert control[2] == 5  # flash fee bps
    assert control[3] == 0  # protocol share of the bonus
    assert tuple(control[4:]) == (100 * 10**6, 2_000 * 10**6, 1_000 * 10**6)


def test_deploy__assets__listed_with_facilities(market, collaterals):
    assert market.asset_count() == 3
    for c in collaterals.values():
        cfg = market.asset_config(c.token)
        assert market.asset_at(c.asset_id) == c.token.address
        assert cfg.oracle == c.oracle.address
        assert cfg.facility == c.facility.address
        assert (cfg.ltv_bps, cfg.threshold_bps, cfg.bonus_bps) == (8_500, 9_000, 300)
        assert not cfg.frozen


def test_deploy__extension_for_another_base__reverts(owner, spare, project, stablecoin, fund_a, guardian, treasury):
    other_admin = owner.deploy(project.MarketAdmin, fund_a)
    other_views = owner.deploy(project.MarketViews, fund_a, other_admin)
    with ape.reverts("market: extension for another base"):
        spare.deploy(project.Market, stablecoin, other_views, "n", "n", guardian, treasury)


def test_deploy__views_over_admin_for_another_base__reverts(owner, spare, project, stablecoin, fund_a):
    other_admin = owner.deploy(project.MarketAdmin, fund_a)
    with ape.reverts("market: admin for another base"):
        spare.deploy(project.MarketViews, stablecoin, other_admin)


def test_deploy__views_over_no_contract__reverts(spare, project, stablecoin, owner):
    with ape.reverts("market: admin not a contract"):
        spare.deploy(project.MarketViews, stablecoin, owner)


def test_deploy__market_over_no_contract__reverts(spare, project, stablecoin, owner, guardian, treasury):
    with ape.reverts("market: extension not a contract"):
        spare.deploy(project.Market, stablecoin, owner, "n", "n", guardian, treasury)


def test_deploy__zero_guardian__reverts(owner, spare, project, stablecoin, treasury):
    admin = owner.deploy(project.MarketAdmin, stablecoin)
    views = owner.deploy(project.MarketViews, stablecoin, admin)
    with ape.reverts("market: zero guardian"):
        spare.deploy(project.Market, stablecoin, views, "n", "n", ape.utils.ZERO_ADDRESS, treasury)


def test_deploy__extensions__chained_market_views_admin(market, project):
    views = project.MarketViews.at(market.EXTENSION())
    assert views.ADMIN() == market.ADMIN()
    assert market.ADMIN() != market.EXTENSION()


def test_extensions__called_directly__have_no_owner(market, project, owner):
    views = project.MarketViews.at(market.EXTENSION())
    assert views.owner() == ape.utils.ZERO_ADDRESS
    admin = project.MarketAdmin.at(market.ADMIN())
    with ape.reverts("ownable: caller is not the owner"):
        admin.set_fees(1, 0, sender=owner)


@pytest.mark.parametrize("contract", ["Market", "MarketViews", "MarketAdmin"])
def test_layout__market_and_extensions__share_one_storage_layout(contract):
    """The extensions run by delegatecall on the market's storage: all three
    must lay out storage identically, or one would write to the wrong
    slots."""

    def layout(name: str) -> dict:
        out = subprocess.run(
            [str(ROOT / ".venv/bin/vyper"), "-f", "layout", f"contracts/market/{name}.vy"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout
        return json.loads(out)

    assert layout(contract)["storage_layout"] == layout("Market")["storage_layout"]
    assert layout(contract)["transient_storage_layout"] == layout("Market")["transient_storage_layout"]


def test_size__market__under_eip170(project, chain, market):
    """The deployed code, immutables included (Vyper appends them to the
    runtime code: the compiled runtime alone understates it), is within
    EIP-170; so are the extensions'."""
    for address in (market.address, market.EXTENSION(), market.ADMIN()):
        deployed = len(chain.provider.get_code(address))
        assert 0 < deployed <= 24_576
    runtime = project.Market.contract_type.runtime_bytecode.bytecode
    assert (len(runtime) - 2) // 2 < len(chain.provider.get_code(market.address))


# The functions EIP-4626 and ERC-3156 (lender side) require.
ERC4626_FUNCTIONS = {
    "asset", "totalAssets", "convertToShares", "convertToAssets", "maxDeposit", "previewDeposit", "deposit",
    "maxMint", "previewMint", "mint", "maxWithdraw", "previewWithdraw", "withdraw", "maxRedeem", "previewRedeem",
    "redeem",
}
ERC3156_FUNCTIONS = {"maxFlashLoan", "flashFee", "flashLoan"}


def test_interfaces__market_with_its_views__implements_erc4626_and_erc3156(project, market, stablecoin, lender):
    """The views live in MarketViews (reached through the fallback), so the
    compiler's `implements` cannot check the pair: this does, on the ABIs
    and by calling each view at the market's address."""
    names = {
        abi.name
        for contract in (project.Market, project.MarketViews)
        for abi in contract.contract_type.abi
        if abi.type == "function"
    }
    assert ERC4626_FUNCTIONS | ERC3156_FUNCTIONS <= names
    assert market.asset() == stablecoin.address
    assert market.maxDeposit(lender) > 0
    assert market.convertToShares(10**6) == market.previewDeposit(10**6)
    assert market.flashFee(stablecoin, 10**6) == 500  # 5 bps
    assert market.maxFlashLoan(stablecoin) == market.market_state()[0]
