"""``deposit``, ``borrow``, ``repay`` and ``withdraw_collateral`` on anvil:
the happy path once, then every refusal, each sending nothing."""

import json
from decimal import Decimal

import ape
import pytest

from navlend.constants import PAUSE_BORROW, PAUSE_DEPOSIT_COLLATERAL, PAUSE_WITHDRAW_COLLATERAL

USD = 10**6
SHARE_A = 10**6
ME = ("--account", "TEST::4")


def ok(result):
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


@pytest.fixture
def in_debt(seeded, market, borrower):
    """The borrower: 1,000 fund A shares posted ($10,500), 5,000 USDC owed."""
    seeded.fund_a.approve(market, 1_000 * SHARE_A, sender=borrower)
    market.supply_collateral(seeded.fund_a, 1_000 * SHARE_A, borrower, sender=borrower)
    market.borrow(5_000 * USD, borrower, borrower, sender=borrower)
    return borrower


def test_deposit_borrow_repay_withdraw(ape_run, market, fund_a, stablecoin, borrower):
    out = ok(ape_run("deposit", "fund_a", "1000", *ME)).stdout
    assert "approving the market for 1,000.00 TBFA" in out
    assert market.collateral_of(borrower, fund_a) == 1_000 * SHARE_A

    out = ok(ape_run("borrow", "5000", *ME)).stdout
    assert "borrow 5,000.00 USDC" in out and "health factor 1.89" in out
    assert market.debt_of(borrower) == 5_000 * USD

    doc = json.loads(ok(ape_run("repay", "1000", *ME, "--json")).stdout)
    assert [t["step"] for t in doc["transactions"]] == ["approve market", "repay"]
    ok(ape_run("repay", "max", *ME))
    assert market.debt_of(borrower) == 0

    ok(ape_run("withdraw_collateral", "fund_a", "max", *ME))
    assert market.collateral_of(borrower, fund_a) == 0
    assert fund_a.balanceOf(borrower) == 10_000 * SHARE_A
    assert stablecoin.balanceOf(borrower) <= 100_000 * USD


@pytest.mark.parametrize(
    "args, message",
    [
        (["fund_z", "1"], "unknown asset 'fund_z': one of fund_a, fund_c, wrapper"),
        (["0x1234", "1"], "unknown asset '0x1234'"),
        (["facility_a", "1"], "'facility_a' is not listed on the market"),
        (["fund_a", "1.0000001"], "7 decimal places; TBFA has only 6"),
        (["fund_a", "10000.5"], "holds 10,000.00 TBFA, less than the 10,000.50 TBFA needed"),
    ],
)
def test_deposit_refusals(refused, borrower, args, message):
    assert message in refused(borrower, "deposit", *args, *ME)


def test_deposit_refused_for_an_account_the_fund_does_not_admit(refused, outsider):
    message = refused(outsider, "deposit", "fund_a", "1", "--account", "TEST::7")
    assert f"{outsider.address} is not allowlisted by fund_a" in message


def test_deposit_refused_while_paused(refused, market, deployer, borrower):
    market.pause(PAUSE_DEPOSIT_COLLATERAL, sender=deployer)
    assert "paused deposit-collateral" in refused(borrower, "deposit", "wrapper", "1", *ME)


def test_borrow_above_the_limit_says_the_maximum(in_debt, refused, market):
    most = market.position(in_debt).borrow_value - market.debt_of(in_debt) - 2
    message = refused(in_debt, "borrow", "4000", *ME)
    assert "the most this account can borrow now is 3,924.99" in message
    assert abs(most - 3_924_999_998) <= 10


def test_borrow_refused_on_a_stale_nav(in_debt, refused, stale_price, fund_a):
    stale_price(fund_a)
    message = refused(in_debt, "borrow", "100", *ME)
    assert "fund_a's NAV is stale, age 4d 05h > 4d 04h" in message


def test_borrow_refused_while_paused_or_to_a_bad_address(in_debt, refused, market, deployer):
    assert "is not an address" in refused(in_debt, "borrow", "100", *ME, "--to", "0xnothing")
    market.pause(PAUSE_BORROW, sender=deployer)
    assert "paused borrow" in refused(in_debt, "borrow", "100", *ME)


def test_borrow_without_collateral(refused, lender):
    assert "no collateral" in refused(lender, "borrow", "100", "--account", "TEST::3")


def test_withdraw_collateral_refusals(in_debt, refused, outsider):
    message = refused(in_debt, "withdraw_collateral", "fund_a", "500", *ME)
    assert "above its borrow limit: the most is 439.77" in message
    message = refused(in_debt, "withdraw_collateral", "fund_a", "1", *ME, "--to", outsider.address)
    assert f"receiver {outsider.address} is not allowlisted by fund_a" in message
    assert "no wrapper posted" in refused(in_debt, "withdraw_collateral", "wrapper", "1", *ME)


def test_withdraw_collateral_refused_on_a_stale_nav_or_paused(
    in_debt, refused, stale_price, fund_a, market, deployer
):
    stale_price(fund_a)
    assert "while the account is in debt" in refused(
        in_debt, "withdraw_collateral", "fund_a", "1", *ME
    )
    market.pause(PAUSE_WITHDRAW_COLLATERAL, sender=deployer)
    assert "paused withdraw-collateral" in refused(
        in_debt, "withdraw_collateral", "fund_a", "1", *ME
    )


def test_repay_refusals(in_debt, refused, stablecoin, deployer, lender):
    assert "no debt" in refused(lender, "repay", "max", "--account", "TEST::3")
    stablecoin.transfer(deployer, stablecoin.balanceOf(in_debt) - 1_000 * USD, sender=in_debt)
    message = refused(in_debt, "repay", "max", *ME)
    assert (
        "to repay the whole debt the account needs 5,000.00" in message
        and "it holds 1,000.00 USDC" in message
    )


def test_repay_more_than_owed_repays_the_debt(in_debt, ape_run, market):
    result = ok(ape_run("repay", "6000", *ME))
    assert "the debt is 5,000.00" in result.stdout
    assert market.debt_of(in_debt) == 0


def test_borrow_refused_above_a_pending_lower_nav(in_debt, refused, market, oracle_a, publish_next):
    """A NAV drop beyond the oracle's bound waits for the guardian: the
    market lends at it at once, and so does the command's check."""
    before = market.position(in_debt).borrow_value
    nav = oracle_a.latestRoundData()[1]
    assert not publish_next(oracle_a, nav * 70 // 100).return_value  # parked
    after = market.position(in_debt).borrow_value
    assert after < before * 71 // 100
    most = after - market.debt_of(in_debt) - 2
    message = refused(in_debt, "borrow", "3000", *ME)
    assert f"the most this account can borrow now is {most // 10**4 / 100:,.2f}" in message


def test_withdraw_collateral_refused_above_a_pending_lower_nav(
    in_debt, refused, market, oracle_a, fund_a, publish_next, chain
):
    """The command's own limit (its valuation, not a market view) values
    fund A at the pending NAV too: the most it states is what the market
    lets out, to the unit."""
    nav = oracle_a.latestRoundData()[1]
    publish_next(oracle_a, nav * 70 // 100)
    message = refused(in_debt, "withdraw_collateral", "fund_a", "400", *ME)
    stated = message.split("the most is ")[1].split()[0]
    most = int(Decimal(stated.replace(",", "")) * SHARE_A)
    assert 0 < most < 200 * SHARE_A  # about 199.68 shares; 439.77 without the pending round
    with chain.isolate():
        market.withdraw_collateral(fund_a, most, in_debt, in_debt, sender=in_debt)
    with ape.reverts("market: exceeds borrow limit"):
        market.withdraw_collateral(fund_a, most + 1, in_debt, in_debt, sender=in_debt)
