"""``ape run admin ...`` and ``ape run faucet`` on anvil."""

import json
from decimal import Decimal

import pytest
from conftest import fake_network
from ops_fixtures import changes_of, fails, in_debt, ok  # noqa: F401 - fixtures
from ops_fixtures import doc_of as ops_doc_of

from navlend.cli import admin
from navlend.cli.errors import Refusal
from navlend.cli.session import Session
from navlend.constants import PAUSE_BORROW, PAUSE_WITHDRAW, WAD

USD = 10**6
SHARE_A = 10**6
OWNER = ("--account", "TEST::0")
GUARDIAN = ("--account", "TEST::2")
# The keys of every sent (or dry-run) command's JSON document.
REPORT_KEYS = {
    "command",
    "summary",
    "account",
    "network",
    "dry_run",
    "simulated",
    "amounts",
    "preview",
    "changes",
    "affected",
    "warnings",
    "notes",
    "transactions",
    "result",
}


def doc_of(result):
    doc = ops_doc_of(result)
    assert set(doc) == REPORT_KEYS
    return doc


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
    doc = doc_of(ape_run("admin", "unpause", "all", "--grace", "1h", *OWNER, "--json"))
    assert changes_of(doc)["paused"] == ("withdraw, borrow, liquidation", "none")
    assert changes_of(doc)["liquidations resume"] == ("now", "1h after this block")
    assert doc["result"]["unpaused"] == [
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


def test_admin_refusals(fails, market, deployer, guardian, outsider):
    assert "not the owner" in fails(
        3, outsider, "admin", "set-risk", "fund_a", "--ltv", "0.5", "--account", "TEST::7"
    )
    assert "threshold × (1 + bonus)" in fails(
        3, deployer, "admin", "set-risk", "fund_a", "--threshold", "0.98", *OWNER
    )
    assert "not the owner" in fails(3, guardian, "admin", "pause", "liquidation", *GUARDIAN)
    assert "not the guardian or the owner" in fails(
        3, outsider, "admin", "pause", "borrow", "--account", "TEST::7"
    )
    assert "unknown action 'lending'" in fails(3, deployer, "admin", "pause", "lending", *OWNER)
    assert "only when unpausing liquidation" in fails(
        3, deployer, "admin", "unpause", "borrow", "--grace", "60", *OWNER
    )
    assert "no reserves" in fails(3, deployer, "admin", "withdraw-reserves", "max", *OWNER)
    assert "nothing to book" in fails(3, deployer, "admin", "book-surplus", *OWNER)
    assert "kink" in fails(3, deployer, "admin", "set-rates", "--kink", "99.5%", *OWNER)
    assert "already listed" in fails(
        3, deployer, "admin", "list-collateral", "fund_a", "oracle_a", *OWNER
    )
    assert "finer than one basis point" in fails(
        2, deployer, "admin", "set-risk", "fund_a", "--ltv", "0.80001", *OWNER
    )
    assert "duration '5 days'" in fails(
        2, deployer, "admin", "set-limits", "fund_a", "--max-oracle-age", "5 days", *OWNER
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
    for shown in ("not listed", "70.00%", "1,000,000.00 OTH", "100h", "$2.00"):
        assert shown in result.stdout, shown
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


def test_faucet_refusals(fails, deployer, deployment_dir):
    assert "'nobody' is not an address" in fails(2, deployer, "faucet", "--to", "nobody")
    assert "7 decimal places" in fails(2, deployer, "faucet", "--usdc", "0.0000001")
    with pytest.raises(Refusal, match="local networks only, not 'sepolia'"):
        admin.faucet(Session(None, deployer, fake_network("sepolia")), deployer.address, {})


def test_book_surplus__donation__any_account_books_it(ape_run, market, seeded, deployer, outsider):
    """A donation (or flash-loan fees) sits as surplus until booked; any
    account may book it, and withdraw-reserves counts it."""
    seeded.stablecoin.mint(outsider, 5 * 10**6, sender=deployer)
    seeded.stablecoin.transfer(market, 5 * 10**6, sender=outsider)
    reserves = market.market_state()[2]
    doc = doc_of(ape_run("admin", "book-surplus", "--account", "TEST::7", "--yes", "--json"))
    assert changes_of(doc)["surplus"] == ("5.00 USDC", "0.00 USDC")
    assert market.market_state()[2] == reserves + 5 * 10**6
    assert market.surplus() == 0


# ---- settings old → new, in human units ----


def test_set_limits__changes_in_human_units(ape_run, market, fund_a):
    doc = doc_of(
        ape_run(
            "admin", "set-limits", "fund_a", "--supply-cap", "5,000", "--price-cap", "11",
            "--max-oracle-age", "50h", *OWNER, "--json",
        )
    )
    changes = changes_of(doc)
    assert changes["fund_a supply cap"] == ("unlimited", "5,000.00 TBFA")
    assert changes["fund_a price cap"] == ("none", "$11.00")
    assert changes["fund_a max oracle age"] == ("100h", "50h")
    assert changes["fund_a price used"] == ("$10.50", "$10.50")
    assert doc["result"]["max_oracle_age"] == 50 * 3_600
    assert doc["result"]["supply_cap"]["raw"] == str(5_000 * SHARE_A)
    assert "360000" not in json.dumps(doc["changes"]) and "1329227995784915872903807060280344575" not in json.dumps(doc)
    cfg = market.asset_config(fund_a)
    assert (cfg.supply_cap, cfg.price_cap, cfg.max_oracle_age) == (5_000 * SHARE_A, 11 * 10**8, 50 * 3_600)


def test_set_rates_fees_borrow_limits__changes_in_human_units(ape_run):
    rates = changes_of(doc_of(ape_run("admin", "set-rates", "--slope1", "5%", "--kink", "85%", *OWNER, "--json")))
    assert rates["slope 1 (APR)"][1] == "5%" and rates["kink (utilisation)"][1] == "85.00%"
    fees = changes_of(doc_of(ape_run("admin", "set-fees", "--liquidation-fee", "10%", *OWNER, "--json")))
    assert fees["protocol's share of the liquidation bonus"] == ("0.00%", "10.00%")
    limits = changes_of(doc_of(ape_run("admin", "set-borrow-limits", "--min-borrow", "250", *OWNER, "--json")))
    assert limits["minimum borrow"][1] == "250 USDC"
    table = ok(ape_run("admin", "set-borrow-limits", "--dust-floor", "20", *OWNER)).stdout
    assert "dust floor" in table and "20 USDC" in table


# ---- who a change puts at risk ----


def test_set_risk__makes_borrower_liquidatable__listed_and_refused_without_yes(fails, ape_run, market, fund_a, deployer, in_debt):
    message = fails(3, deployer, "admin", "set-risk", "fund_a", "--ltv", "0.70", "--threshold", "0.80", *OWNER)
    assert "1 account(s) would become liquidatable" in message and "--yes" in message
    assert market.asset_config(fund_a).threshold_bps == 9_000

    shown = ape_run("admin", "set-risk", "fund_a", "--ltv", "0.70", "--threshold", "0.80", *OWNER)
    assert in_debt.address in shown.stdout and "0.9438" in shown.stdout and "1.0617" in shown.stdout


def test_set_risk__dry_run__lists_affected_and_sends_nothing(ape_run, nonce_kept, market, fund_a, deployer, in_debt):
    with nonce_kept(deployer):
        doc = doc_of(
            ape_run(
                "admin", "set-risk", "fund_a", "--ltv", "0.70", "--threshold", "0.80", *OWNER, "--dry-run", "--json"
            )
        )
    assert doc["dry_run"] and doc["simulated"] and doc["transactions"] == []
    assert changes_of(doc)["fund_a liquidation threshold"] == ("90.00%", "80.00%")
    [hit] = doc["affected"]
    assert hit["account"] == in_debt.address and hit["liquidatable_after"]
    assert Decimal(hit["health_factor_after"]) < 1 < Decimal(hit["health_factor_before"])
    assert market.asset_config(fund_a).threshold_bps == 9_000


def test_set_risk__with_yes__sent_and_borrower_liquidatable(ape_run, market, fund_a, in_debt):
    doc = doc_of(ape_run("admin", "set-risk", "fund_a", "--ltv", "0.70", "--threshold", "0.80", *OWNER, "--yes", "--json"))
    [hit] = doc["affected"]
    assert len(doc["transactions"]) == 1 and doc["warnings"] == ["1 account(s) would become liquidatable"]
    position = market.position(in_debt)
    assert position.health_factor < WAD
    # The preview's figure is the market's, up to the interest of a block.
    assert abs(Decimal(hit["health_factor_after"]) * WAD - position.health_factor) < WAD // 10**6


def test_set_risk__harmless_change__no_affected_no_question(ape_run, in_debt):
    doc = doc_of(ape_run("admin", "set-risk", "fund_a", "--bonus", "0.04", *OWNER, "--json"))
    assert doc["affected"] == [] and doc["warnings"] == [] and len(doc["transactions"]) == 1


def test_set_limits__price_cap_under_nav__lists_borrower(fails, deployer, in_debt):
    message = fails(3, deployer, "admin", "set-limits", "fund_a", "--price-cap", "9.50", *OWNER)
    assert "would become liquidatable" in message


# ---- freeze, oracle, roles ----


def test_freeze_and_unfreeze(ape_run, fails, market, fund_c, guardian, deployer):
    doc = doc_of(ape_run("admin", "freeze", "fund_c", *GUARDIAN, "--json"))
    assert changes_of(doc)["fund_c frozen"] == ("no", "yes")
    assert market.asset_config(fund_c).frozen
    assert "already frozen" in fails(3, deployer, "admin", "freeze", "fund_c", *OWNER)
    assert "not the owner" in fails(3, guardian, "admin", "unfreeze", "fund_c", *GUARDIAN)
    doc = doc_of(ape_run("admin", "unfreeze", "fund_c", *OWNER, "--json"))
    assert doc["command"] == "admin unfreeze" and not market.asset_config(fund_c).frozen


def test_set_oracle__lower_price__lists_borrower_and_sends_with_yes(ape_run, fails, market, fund_a, deployer, project, in_debt):
    feed = deployer.deploy(project.MockAggregator, 8, 10 * 10**8)
    doc = doc_of(ape_run("admin", "set-oracle", "fund_a", feed.address, *OWNER, "--dry-run", "--json"))
    assert changes_of(doc)["fund_a price used"] == ("$10.50", "$10.00")
    # 9,000 / 8,900: not liquidatable, but under the warning level 1.10.
    [near] = doc["affected"]
    assert near["health_factor_after"].startswith("1.0112") and not near["liquidatable_after"]
    assert doc["warnings"] == []
    low = deployer.deploy(project.MockAggregator, 8, 9 * 10**8)
    assert "would become liquidatable" in fails(3, deployer, "admin", "set-oracle", "fund_a", low.address, *OWNER)
    doc = doc_of(ape_run("admin", "set-oracle", "fund_a", low.address, *OWNER, "--yes", "--json"))
    assert doc["affected"][0]["account"] == in_debt.address
    assert market.asset_config(fund_a).oracle == low.address


def test_set_oracle__bad_feeds__refused(fails, deployer, project, chain):
    other = deployer.deploy(project.MockAggregator, 18, 10 * 10**18)
    assert "18 decimals, the current feed with 8" in fails(3, deployer, "admin", "set-oracle", "fund_a", other.address, *OWNER)
    zero = deployer.deploy(project.MockAggregator, 8, 0)
    assert "positive price" in fails(3, deployer, "admin", "set-oracle", "fund_a", zero.address, *OWNER)
    stale = deployer.deploy(project.MockAggregator, 8, 10 * 10**8)
    stale.set_answer(10 * 10**8, chain.blocks.head.timestamp - 200 * 3_600, sender=deployer)
    assert "older than fund_a's max oracle age 100h" in fails(3, deployer, "admin", "set-oracle", "fund_a", stale.address, *OWNER)


def test_set_guardian_and_treasury(ape_run, fails, market, deployer, outsider, spare):
    doc = doc_of(ape_run("admin", "set-guardian", spare.address, *OWNER, "--json"))
    assert changes_of(doc)["guardian"][1] == spare.address and market.guardian() == spare.address
    doc = doc_of(ape_run("admin", "set-treasury", "TEST::9", *OWNER, "--json"))
    assert market.treasury() == spare.address and doc["result"]["treasury"] == spare.address
    assert "is the treasury already" in fails(3, deployer, "admin", "set-treasury", spare.address, *OWNER)
    mixed = spare.address[:2] + spare.address[2:].swapcase()
    assert "EIP-55" in fails(2, deployer, "admin", "set-guardian", mixed, *OWNER)
    assert "not the owner" in fails(3, outsider, "admin", "set-guardian", outsider.address, "--account", "TEST::7")


def test_set_oracle__no_contract__refused(fails, deployer, newcomer):
    assert "no contract at" in fails(3, deployer, "admin", "set-oracle", "fund_a", newcomer.address, *OWNER)
