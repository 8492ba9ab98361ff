"""``ape run admin ...`` and ``ape run faucet`` on anvil."""

import json

import pytest
from conftest import fake_network

from navlend.cli import admin
from navlend.cli.errors import Refusal
from navlend.cli.session import Session
from navlend.constants import PAUSE_BORROW, PAUSE_WITHDRAW

USD = 10**6
OWNER = ("--account", "TEST::0")
GUARDIAN = ("--account", "TEST::2")


def ok(result):
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def test_setters_keep_what_is_left_out(ape_run, market, fund_a):
    ok(ape_run("admin", "set-risk", "fund_a", "--ltv", "0.80", *OWNER))
    cfg = market.asset_config(fund_a)
    assert (cfg.ltv_bps, cfg.threshold_bps, cfg.bonus_bps) == (8_000, 9_000, 300)
    ok(
        ape_run(
            "admin",
            "set-limits",
            "fund_a",
            "--supply-cap",
            "5000",
            "--max-oracle-age",
            "50h",
            *OWNER,
        )
    )
    cfg = market.asset_config(fund_a)
    assert (cfg.supply_cap, cfg.max_oracle_age, cfg.price_cap) == (5_000 * 10**6, 50 * 3_600, 0)
    before = market.rate_config()
    ok(ape_run("admin", "set-rates", "--slope1", "5%", *OWNER))
    after = market.rate_config()
    assert after.slope1 == 5 * 10**16 // (365 * 86_400)
    assert (after.slope2, after.kink_bps, after.reserve_factor_bps) == (
        before.slope2,
        before.kink_bps,
        before.reserve_factor_bps,
    )
    ok(ape_run("admin", "set-fees", "--flash-fee", "0.09%", *OWNER))
    ok(ape_run("admin", "set-borrow-limits", "--min-borrow", "250", *OWNER))
    control = market.control()
    assert (control[2], control[4], control[5]) == (9, 250 * USD, 2_000 * USD)


def test_pause_and_unpause(ape_run, market, deployer, chain):
    ok(ape_run("admin", "pause", "borrow", "withdraw", *GUARDIAN))
    assert market.control()[0] == PAUSE_BORROW | PAUSE_WITHDRAW
    ok(ape_run("admin", "pause", "liquidation", *OWNER))
    doc = json.loads(
        ok(ape_run("admin", "unpause", "all", "--grace", "1h", *OWNER, "--json")).stdout
    )
    assert doc["unpaused"] == [
        "supply",
        "withdraw",
        "borrow",
        "deposit-collateral",
        "withdraw-collateral",
        "flash-loan",
        "liquidation",
    ]
    control = market.control()
    assert control[0] == 0 and control[1] == chain.blocks.head.timestamp + 3_600


def test_admin_refusals(refused, market, deployer, guardian, outsider):
    assert "not the owner" in refused(
        outsider, "admin", "set-risk", "fund_a", "--ltv", "0.5", "--account", "TEST::7"
    )
    assert "threshold × (1 + bonus)" in refused(
        deployer, "admin", "set-risk", "fund_a", "--threshold", "0.98", *OWNER
    )
    assert "not the owner" in refused(guardian, "admin", "pause", "liquidation", *GUARDIAN)
    assert "not the guardian or the owner" in refused(
        outsider, "admin", "pause", "borrow", "--account", "TEST::7"
    )
    assert "unknown action 'lending'" in refused(deployer, "admin", "pause", "lending", *OWNER)
    assert "only when unpausing liquidation" in refused(
        deployer, "admin", "unpause", "borrow", "--grace", "60", *OWNER
    )
    assert "no reserves" in refused(deployer, "admin", "withdraw-reserves", "max", *OWNER)
    assert "nothing to book" in refused(deployer, "admin", "book-surplus", *OWNER)
    assert "kink" in refused(deployer, "admin", "set-rates", "--kink", "99.5%", *OWNER)
    assert "already listed" in refused(
        deployer, "admin", "list-collateral", "fund_a", "oracle_a", *OWNER
    )


def test_list_collateral(ape_run, market, deployer, project):
    token = deployer.deploy(project.MockERC20, "Other Fund", "OTH", 6)
    feed = deployer.deploy(project.MockAggregator, 8, 2 * 10**8)
    result = ok(
        ape_run(
            "admin",
            "list-collateral",
            token.address,
            feed.address,
            "--ltv",
            "0.70",
            "--threshold",
            "0.80",
            "--bonus",
            "0.05",
            "--supply-cap",
            "1000000",
            *OWNER,
        )
    )
    assert "must allowlist the market" in result.stdout
    cfg = market.asset_config(token)
    assert market.asset_count() == 4
    assert (cfg.ltv_bps, cfg.threshold_bps, cfg.bonus_bps, cfg.supply_cap) == (
        7_000,
        8_000,
        500,
        10**12,
    )


def test_faucet_funds_and_allowlists(ape_run, seeded, newcomer):
    result = ok(ape_run("faucet", "--account", "TEST::11", "--usdc", "2500.5", "--fund-b", "0"))
    assert "usdc: +2,500.50 USDC" in result.stdout
    assert all(fund.is_allowlisted(newcomer) for fund in seeded.funds())
    assert seeded.stablecoin.balanceOf(newcomer) == 2_500_500_000
    assert seeded.fund_a.balanceOf(newcomer) == 10_000 * 10**6
    assert seeded.fund_b.balanceOf(newcomer) == 0
    assert seeded.fund_c.balanceOf(newcomer) == 100_000 * 10**18
    assert seeded.wrapper.balanceOf(newcomer) == 100_000 * 10**18


def test_faucet_refusals(refused, deployer, deployment_dir):
    assert "'nobody' is not an address" in refused(deployer, "faucet", "--to", "nobody")
    assert "7 decimal places" in refused(deployer, "faucet", "--usdc", "0.0000001")
    with pytest.raises(Refusal, match="local networks only, not 'sepolia'"):
        admin.faucet(Session(None, deployer, fake_network("sepolia")), deployer.address, {})


def test_book_surplus__donation__any_account_books_it(ape_run, market, seeded, deployer, outsider):
    """A donation (or flash-loan fees) sits as surplus until booked; any
    account may book it, and withdraw-reserves counts it."""
    seeded.stablecoin.mint(outsider, 5 * 10**6, sender=deployer)
    seeded.stablecoin.transfer(market, 5 * 10**6, sender=outsider)
    reserves = market.market_state()[2]
    ok(ape_run("admin", "book-surplus", "--account", "TEST::7", "--yes"))
    assert market.market_state()[2] == reserves + 5 * 10**6
    assert market.surplus() == 0
