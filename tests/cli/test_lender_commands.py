"""``ape run lend`` and ``ape run withdraw`` on anvil."""

import json

import pytest

from navlend.constants import PAUSE_SUPPLY, PAUSE_WITHDRAW

USD = 10**6


def test_lend_approves_then_deposits(ape_run, market, stablecoin, newcomer, deployer):
    stablecoin.mint(newcomer, 5_000 * USD, sender=deployer)
    result = ape_run("lend", "1000.5", "--account", "TEST::11")
    assert result.exit_code == 0, result.stderr
    assert "approving the market for 1,000.50 USDC" in result.stdout
    assert "lend 1,000.50 USDC" in result.stdout
    assert market.convertToAssets(market.balanceOf(newcomer)) in (1_000_500_000 - 1, 1_000_500_000)
    assert stablecoin.balanceOf(newcomer) == 3_999_500_000
    assert stablecoin.allowance(newcomer, market) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["1.0000001"], "7 decimal places; USDC has only 6"),
        (["--", "-5"], "is negative"),
        (["0"], "is zero"),
        (["lots"], "'lots' is not a number"),
        (["100000.01"], "holds 100,000.00 USDC, less than the 100,000.01 USDC needed"),
    ],
)
def test_lend_refusals(refused, borrower, args, message):
    assert message in refused(borrower, "lend", "--account", "TEST::4", *args)


def test_lend_refused_while_supply_is_paused(refused, market, deployer, borrower):
    market.pause(PAUSE_SUPPLY, sender=deployer)
    assert "the market has paused supply" in refused(borrower, "lend", "10", "--account", "TEST::4")


def test_withdraw_an_amount_then_all_as_json(ape_run, market, stablecoin, lender):
    result = ape_run("withdraw", "250000", "--account", "TEST::3")
    assert result.exit_code == 0, result.stderr
    assert stablecoin.balanceOf(lender) == 250_000 * USD
    result = ape_run("withdraw", "--all", "--account", "TEST::3", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["amounts"]["amount"]["raw"] == str(750_000 * USD)
    assert [t["step"] for t in doc["transactions"]] == ["redeem"]
    assert doc["result"]["lent_balance"]["raw"] == "0" and doc["result"]["shares"] == "0"
    assert market.balanceOf(lender) == 0 and stablecoin.balanceOf(lender) == 1_000_000 * USD


def test_withdraw_refusals(refused, ape_run, market, deployer, lender, newcomer):
    assert "claim is 1,000,000.00 USDC" in refused(
        lender, "withdraw", "1000001", "--account", "TEST::3"
    )
    assert "nothing lent" in refused(newcomer, "withdraw", "--all", "--account", "TEST::11")
    market.pause(PAUSE_WITHDRAW, sender=deployer)
    assert "paused withdraw" in refused(lender, "withdraw", "1", "--account", "TEST::3")
    usage = ape_run("withdraw", "1", "--all", "--account", "TEST::3")
    assert usage.exit_code == 2 and "AMOUNT, max or --all" in usage.stderr


def test_withdraw_max__as_repay_max__everything(ape_run, market, stablecoin, lender):
    result = ape_run("withdraw", "max", "--account", "TEST::3")
    assert result.exit_code == 0, result.stderr
    assert market.balanceOf(lender) == 0 and stablecoin.balanceOf(lender) == 1_000_000 * USD
