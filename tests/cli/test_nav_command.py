"""``ape run nav`` on anvil: strike, refresh and the chain's time."""

from decimal import Decimal

import pytest
from conftest import fake_network
from ops_fixtures import changes_of, doc_of, fails, in_debt  # noqa: F401 - fixtures

from navlend.cli import localnav
from navlend.cli.errors import Refusal
from navlend.cli.session import Session

USD = 10**6
SHARE_A = 10**6
NAV = 10**8
HOUR = 3_600


def test_nav__stale__refreshed_by_the_updater(ape_run, advance, market, fund_a, oracle_a, updater):
    advance(101 * HOUR)
    assert market.asset_price(fund_a)[1]  # stale
    nonce = updater.nonce
    doc = doc_of(ape_run("nav", "fund_a", "--json"))
    assert updater.nonce == nonce + 1 and doc["account"] == updater.address
    price, stale = market.asset_price(fund_a)
    assert not stale and price == 1050 * NAV // 100
    age = changes_of(doc)["fund_a NAV age (max 100h)"]
    assert age[0].endswith("(stale)") and age[1] == "0s"
    assert doc["result"]["nav_after"]["value"] == "10.50" and not doc["result"]["stale_after"]


def test_nav__move_beyond_the_bound__confirmed_by_the_guardian(ape_run, market, fund_a, oracle_a, in_debt):
    doc = doc_of(ape_run("nav", "fund_a", "--move", "-3%", "--advance", "1d", "--json"))
    assert [t["step"] for t in doc["transactions"]] == [
        "advance the chain's time by 1d (a block mined, no transaction)",
        "publish NAV",
        "confirm_pending (as the guardian TEST::2)",
    ]
    assert oracle_a.latestRoundData()[1] == 1050 * NAV * 97 // 10_000
    assert changes_of(doc)["fund_a NAV"] == ("$10.50", "$10.185")
    # 9,450 × 0.97 / 8,900: under the warning level, not liquidatable.
    [near] = doc["affected"]
    assert near["account"] == in_debt.address and not near["liquidatable_after"]
    # The preview is the market's figure, up to the interest of the day advanced.
    after = Decimal(market.position(in_debt).health_factor) / 10**18
    assert abs(Decimal(near["health_factor_after"]) - after) < Decimal("0.00001")


def test_nav__makes_borrower_liquidatable__refused_without_yes(fails, ape_run, market, oracle_a, updater, in_debt):
    message = fails(3, updater, "nav", "fund_a", "--move", "-10%", "--advance", "1d")
    assert "1 account(s) would become liquidatable" in message
    assert oracle_a.latestRoundData()[1] == 1050 * NAV // 100
    doc = doc_of(ape_run("nav", "fund_a", "--move", "-10%", "--advance", "1d", "--yes", "--json"))
    assert doc["affected"][0]["liquidatable_after"] and market.position(in_debt).health_factor < 10**18


def test_nav__dry_run__sends_nothing_and_moves_no_time(ape_run, nonce_kept, chain, oracle_a, updater):
    head = chain.blocks.head.number
    with nonce_kept(updater):
        doc = doc_of(ape_run("nav", "fund_a", "--set", "10.40", "--advance", "1d", "--dry-run", "--json"))
    assert doc["dry_run"] and doc["transactions"] == [] and chain.blocks.head.number == head
    assert changes_of(doc)["fund_a NAV"] == ("$10.50", "$10.40")


def test_nav__wrapper__struck_on_its_fund(ape_run, market, wrapper, oracle_b):
    doc = doc_of(ape_run("nav", "wrapper", "--set", "1.005", "--advance", "1d", "--json"))
    assert oracle_b.latestRoundData()[1] == 1_005 * NAV // 1_000
    assert doc["result"]["price_after"]["raw"] == str(market.asset_price(wrapper)[0])


def test_nav__advance_alone__ages_the_nav(ape_run, chain, market, fund_a):
    head = chain.blocks.head.timestamp
    doc = doc_of(ape_run("nav", "fund_a", "--advance", "101h", "--json"))
    assert chain.blocks.head.timestamp >= head + 101 * HOUR
    assert doc["result"]["stale_after"] and market.asset_price(fund_a)[1]


def test_nav__refusals(fails, ape_run, deployer, updater, advance):
    assert "updater is 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 (TEST::1)" in fails(3, deployer, "nav", "fund_a", "--account", "TEST::0")
    assert "add --advance" in fails(3, updater, "nav", "fund_a", "--move", "-0.5%")
    assert "--move '-100%'" in fails(2, updater, "nav", "fund_a", "--move", "-100%", "--advance", "1d")
    assert "not both" in fails(2, updater, "nav", "fund_a", "--set", "10", "--move", "1%", "--advance", "1d")
    with pytest.raises(Refusal, match="local networks only, not 'sepolia'"):
        localnav.nav(Session(None, deployer, fake_network("sepolia")), "fund_a")


def test_nav__mock_feed__refreshed_with_set_answer(ape_run, stale_price, market, fund_a):
    mock = stale_price(fund_a)
    assert market.asset_price(fund_a)[1]
    doc = doc_of(ape_run("nav", "fund_a", "--set", "10.30", "--json"))
    assert [t["step"] for t in doc["transactions"]] == ["set_answer"]
    assert mock.latestRoundData()[1] == 1030 * NAV // 100
    assert market.asset_price(fund_a) == (1030 * NAV // 100, False)
