"""``ape run position`` and ``ape run market`` on anvil."""

import json
from decimal import Decimal
from fractions import Fraction

from navlend.cli.errors import EXIT_REFUSED
from navlend.constants import PAUSE_BORROW, PAUSE_LIQUIDATION, WAD

USD = 10**6
SHARE_A = 10**6
PRICE = 10**8


def test_position_of_a_single_asset_borrower(ape_run, market, fund_a, borrower, deployer, chain):
    fund_a.approve(market, 1_000 * SHARE_A, sender=borrower)
    market.supply_collateral(fund_a, 1_000 * SHARE_A, borrower, sender=borrower)
    market.borrow(5_000 * USD, borrower, borrower, sender=borrower)
    chain.mine(1, timestamp=chain.blocks.head.timestamp + 3 * 86_400)

    result = ape_run("position", borrower.address, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)["borrowed"]
    p = market.position(borrower)
    price = market.asset_price(fund_a)[0]
    assert int(doc["debt"]["raw"]) == p.debt and Decimal(doc["debt"]["value"]) * USD == p.debt
    assert doc["principal"] == {"raw": str(5_000 * USD), "value": "5000.00", "symbol": "USDC", "decimals": 6}
    assert int(doc["interest_accrued"]["raw"]) == p.debt - 5_000 * USD > 0
    assert Decimal(doc["health_factor"]) * WAD == p.health_factor
    assert int(doc["borrow_headroom"]["raw"]) == p.borrow_value - p.debt
    # Single asset: NAV_liq = price × debt / liquidation value (oracle units).
    nav = Fraction(price * p.debt, p.liquidation_value) / 10**8
    assert abs(Fraction(doc["collateral"][0]["liquidation_price"]) - nav) < Fraction(1, 10**8)

    table = ape_run("position", "--account", "TEST::4")
    assert table.exit_code == 0, table.stderr
    for part in (
        "health factor",
        "interest accrued",
        "borrow headroom",
        "liquidation NAV",
        "fund_a (TBFA)",
    ):
        assert part in table.stdout


def test_position_of_an_unknown_account(ape_run, newcomer):
    doc = json.loads(ape_run("position", "TEST::11", "--json").stdout)
    borrowed, lent = doc["borrowed"], doc["lent"]
    assert borrowed["debt"]["raw"] == "0" and borrowed["health_factor"] is None and borrowed["collateral"] == []
    assert lent["balance"]["raw"] == "0" and lent["shares"] == "0" and lent["interest_earned"]["raw"] == "0"


def test_market_view(ape_run, market, lens, deployer, seeded):
    market.pause(PAUSE_BORROW | PAUSE_LIQUIDATION, sender=deployer)
    # Fund C is listed with no cap (its NAV accrues); capped here at $1.00
    # so that the view shows a price cap.
    market.set_asset_limits(seeded.fund_c, 2**120 - 1, PRICE, 100 * 3_600, sender=deployer)
    doc = json.loads(ape_run("market", "--json").stdout)
    snap = lens.snapshot(market)
    assert int(doc["cash"]["raw"]) == snap.cash == 1_000_000 * USD
    assert doc["paused"] == ["borrow", "liquidation"]
    assert [a["asset"] for a in doc["assets"]] == ["fund_a", "fund_c", "wrapper"]
    assert doc["assets"][1]["price_cap"]["value"] == "1.00"
    assert doc["assets"][0]["price_cap"] is None
    table = ape_run("market").stdout
    for part in (
        "1,000,000.00 USDC",
        "utilization",
        "borrow APR",
        "borrow, liquidation",
        "fund_c (TRFC)",
    ):
        assert part in table


def test_views_refuse_without_a_deployment(ape_run, monkeypatch, tmp_path):
    from navlend.deployments import DEPLOYMENTS_DIR_ENV

    monkeypatch.setenv(DEPLOYMENTS_DIR_ENV, str(tmp_path))
    result = ape_run("market")
    assert result.exit_code == EXIT_REFUSED and "no deployment for network 'local'" in result.stderr


def test_position__lender__balance_shares_yield_and_interest_earned(
    ape_run, market, fund_a, borrower, lender, chain
):
    fund_a.approve(market, 1_000 * SHARE_A, sender=borrower)
    market.supply_collateral(fund_a, 1_000 * SHARE_A, borrower, sender=borrower)
    market.borrow(5_000 * USD, borrower, borrower, sender=borrower)
    market.withdraw(100_000 * USD, lender, lender, sender=lender)
    chain.mine(1, timestamp=chain.blocks.head.timestamp + 30 * 86_400)

    doc = json.loads(ape_run("position", "--account", "TEST::3", "--json").stdout)
    lent = doc["lent"]
    shares = market.balanceOf(lender)
    claim = market.convertToAssets(shares)
    assert lent["shares"] == str(shares) and int(lent["balance"]["raw"]) == claim
    # Lent 1,000,000 then took 100,000 out: the 900,000 left cost 900,000
    # less the interest the withdrawn shares carried (pro rata, rounded up).
    basis = int(lent["cost_basis"]["raw"])
    assert 899_999 * USD < basis <= 900_000 * USD
    assert int(lent["interest_earned"]["raw"]) == claim - basis > 0
    assert Decimal(lent["supply_apy"]) > Decimal(lent["supply_apr"]) > 0
    assert doc["borrowed"]["debt"]["raw"] == "0"
    table = ape_run("position", "--account", "TEST::3").stdout
    for part in ("lent by", "lent balance", "interest earned", "supply APY"):
        assert part in table, part


def test_position__shares_received_by_transfer__interest_earned_unknown(ape_run, market, lender, newcomer):
    moved = market.balanceOf(lender) // 1_000
    market.transfer(newcomer, moved, sender=lender)
    doc = json.loads(ape_run("position", "TEST::11", "--json").stdout)
    assert int(doc["lent"]["shares"]) == moved
    assert doc["lent"]["interest_earned"] is None and doc["lent"]["cost_basis"] is None
    assert "unknown (shares came in by transfer)" in ape_run("position", "TEST::11").stdout


def test_position__event_scans_in_windows__a_node_capping_getlogs_still_answers(
    ape_run, market, fund_a, borrower, chain, monkeypatch
):
    """Public nodes refuse wide eth_getLogs ranges: the principal, the lent
    side and the borrowers are read in windows of LOG_WINDOW blocks."""
    from navlend.cli import contracts

    fund_a.approve(market, 1_000 * SHARE_A, sender=borrower)
    market.supply_collateral(fund_a, 1_000 * SHARE_A, borrower, sender=borrower)
    market.borrow(5_000 * USD, borrower, borrower, sender=borrower)
    chain.mine(12)
    eth_type = type(chain.provider.web3.eth)
    real, spans = eth_type.get_logs, []

    def capped(self, params):
        spans.append(params["toBlock"] - params["fromBlock"] + 1)
        assert spans[-1] <= 4, "a node capping ranges at 4 blocks would refuse this"
        return real(self, params)

    monkeypatch.setattr(contracts, "LOG_WINDOW", 4)
    monkeypatch.setattr(eth_type, "get_logs", capped)
    doc = json.loads(ape_run("position", "--account", "TEST::4", "--json").stdout)
    assert doc["borrowed"]["principal"]["raw"] == str(5_000 * USD)
    at_risk = json.loads(ape_run("positions", "--json").stdout)
    assert [p["account"] for p in at_risk["positions"]] == [borrower.address]
    assert len(spans) > 3 and max(spans) <= 4
