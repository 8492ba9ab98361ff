"""``ape run positions`` and ``ape run liquidate`` on anvil."""

import json
from decimal import Decimal

import pytest
from ops_fixtures import fails, ok  # noqa: F401 - fixtures

from navlend.constants import PAUSE_LIQUIDATION, ZERO_ADDRESS

USD = 10**6
SHARE_A = 10**6
LIQUIDATOR = ("--account", "TEST::5")
POSITIONS_KEYS = {"borrowers_with_debt", "below", "limit", "count", "positions"}
ENTRY_KEYS = {"account", "debt", "collateral_value", "health_factor", "liquidatable", "max_repay", "collateral"}
QUOTE_KEYS = {
    "route",
    "asset",
    "repaid",
    "seized",
    "seized_value",
    "bonus_value",
    "protocol_fee",
    "protocol_fee_value",
    "shares_out",
    "proceeds",
    "profit",
    "write_off",
}


def units(amount):
    """An amount of the JSON schema, in raw units."""
    return int(amount["raw"])


def open_position(market, fund_a, deployer, who, shares, debt):
    if fund_a.balanceOf(who) < shares * SHARE_A:
        fund_a.mint(who, shares * SHARE_A, sender=deployer)
    fund_a.approve(market, shares * SHARE_A, sender=who)
    market.supply_collateral(fund_a, shares * SHARE_A, who, sender=who)
    market.borrow(debt * USD, who, who, sender=who)


@pytest.fixture
def book(seeded, market, fund_a, deployer, borrower, lender, attacker, liquidator):
    """Three borrowers on 1,000 fund A shares ($10,500) each, then fund A's
    threshold cut to 80 % (LTV 70 %): the borrower owes 8,900 (health
    0.9438, liquidatable), the lender 8,000 (1.05), the attacker 5,000
    (1.68). The liquidator holds 20,000 USDC."""
    open_position(market, fund_a, deployer, borrower, 1_000, 8_900)
    open_position(market, fund_a, deployer, lender, 1_000, 8_000)
    open_position(market, fund_a, deployer, attacker, 1_000, 5_000)
    market.set_asset_risk(fund_a, 7_000, 8_000, 300, sender=deployer)
    seeded.stablecoin.mint(liquidator, 20_000 * USD, sender=deployer)
    return seeded


# ---- positions ----


def test_positions__all_and_at_risk__lowest_first(ape_run, book, borrower, lender, attacker):
    doc = json.loads(ok(ape_run("positions", "--json")).stdout)
    assert set(doc) == POSITIONS_KEYS and doc["borrowers_with_debt"] == 3
    assert [p["account"] for p in doc["positions"]] == [borrower.address, lender.address, attacker.address]
    assert all(set(p) == ENTRY_KEYS for p in doc["positions"])
    first = doc["positions"][0]
    assert first["liquidatable"] and Decimal(first["health_factor"]) < 1
    assert first["collateral_value"]["value"] == "10500.00" and first["collateral"][0]["asset"] == "fund_a"

    risky = json.loads(ok(ape_run("positions", "--at-risk", "--json")).stdout)
    assert set(risky) == POSITIONS_KEYS and risky["below"] == "1.10"
    assert [p["account"] for p in risky["positions"]] == [borrower.address, lender.address]
    one = json.loads(ok(ape_run("positions", "--at-risk", "--below", "1.0", "--limit", "5", "--json")).stdout)
    assert [p["account"] for p in one["positions"]] == [borrower.address]

    table = ok(ape_run("positions", "--at-risk")).stdout
    assert borrower.address in table and attacker.address not in table and "YES" in table


def test_positions__bad_input__usage(ape_run, book):
    assert ape_run("positions", "--below", "1.2").exit_code == 2
    assert ape_run("positions", "--at-risk", "--below", "x").exit_code == 2
    assert ape_run("positions", "--limit", "0").exit_code == 2


# ---- liquidate ----


def test_liquidate__seize_route__preview_equals_what_the_chain_paid(ape_run, book, market, fund_a, borrower, liquidator):
    shares_before = fund_a.balanceOf(liquidator)
    cash_before = book.stablecoin.balanceOf(liquidator)
    doc = json.loads(ok(ape_run("liquidate", borrower.address, "--repay", "1000", *LIQUIDATOR, "--json")).stdout)
    quote = doc["result"]["quote"]
    assert set(quote) == QUOTE_KEYS and quote["route"] == "seize" and quote["asset"] == "fund_a"
    assert units(quote["repaid"]) == 1_000 * USD
    assert fund_a.balanceOf(liquidator) - shares_before == units(quote["shares_out"])
    assert cash_before - book.stablecoin.balanceOf(liquidator) == 1_000 * USD
    # seized = 1,000 × 1.03 / $10.50; the profit is the bonus at price.
    assert units(quote["seized"]) == 1_000 * 103 * SHARE_A // (100 * 1050 // 100)
    price = market.asset_price(fund_a)[0]
    assert units(quote["profit"]) == units(quote["shares_out"]) * price // 10**8 - 1_000 * USD
    assert 29 * USD < units(quote["profit"]) < 31 * USD
    assert [t["step"] for t in doc["transactions"]] == ["approve market", "liquidate"]
    assert doc["preview"]["account"] == borrower.address
    assert Decimal(doc["result"]["health_factor_after"]) > Decimal(doc["result"]["health_factor"])


def test_liquidate__redeem_route__profit_is_what_the_chain_paid(ape_run, book, borrower, liquidator):
    cash_before = book.stablecoin.balanceOf(liquidator)
    doc = json.loads(
        ok(ape_run("liquidate", borrower.address, "--route", "redeem", "--repay", "2,000", *LIQUIDATOR, "--json")).stdout
    )
    quote = doc["result"]["quote"]
    got = book.stablecoin.balanceOf(liquidator) - cash_before
    assert abs(got - units(quote["profit"])) <= 1
    assert units(doc["result"]["stablecoin_change"]) == got > 0


def test_liquidate__max__dry_run_shows_and_sends_nothing(ape_run, nonce_kept, book, borrower, liquidator, market):
    debt = market.debt_of(borrower)
    with nonce_kept(liquidator):
        result = ok(ape_run("liquidate", borrower.address, "--route", "redeem", "--dry-run", *LIQUIDATOR))
    for part in ("debt repaid", "collateral seized", "bonus in it", "protocol's fee", "stablecoin paid out", "profit before gas"):
        assert part in result.stdout
    assert "dry run" in result.stdout and market.debt_of(borrower) == debt


def test_liquidate__refusals(fails, book, market, fund_a, deployer, borrower, attacker, liquidator):
    assert "healthy" in fails(3, liquidator, "liquidate", attacker.address, *LIQUIDATOR)
    assert "at most" in fails(3, liquidator, "liquidate", borrower.address, "--repay", "20000", *LIQUIDATOR)
    assert "less than the 6,000.00 USDC to repay" in fails(
        3, attacker, "liquidate", borrower.address, "--repay", "6000", "--account", "TEST::6"
    )
    assert "no wrapper posted" in fails(3, liquidator, "liquidate", borrower.address, "--asset", "wrapper", *LIQUIDATOR)
    assert "--route" in fails(2, liquidator, "liquidate", borrower.address, "--route", "swap", *LIQUIDATOR)
    market.set_asset_facility(fund_a, ZERO_ADDRESS, sender=deployer)
    assert "no redemption facility" in fails(3, liquidator, "liquidate", borrower.address, "--route", "redeem", *LIQUIDATOR)
    market.pause(PAUSE_LIQUIDATION, sender=deployer)
    assert "paused liquidation" in fails(3, liquidator, "liquidate", borrower.address, *LIQUIDATOR)


# ---- help ----


@pytest.mark.parametrize(
    "args",
    [
        ("positions", "--help"),
        ("liquidate", "--help"),
        ("nav", "--help"),
        ("admin", "freeze", "--help"),
        ("admin", "set-oracle", "--help"),
        ("admin", "set-guardian", "--help"),
        ("admin", "set-treasury", "--help"),
        ("admin", "set-limits", "--help"),
    ],
)
def test_help__units_and_an_example(ape_run, args):
    text = ok(ape_run(*args)).stdout
    assert "Example" in text and "ape run " in text
