"""``ape run leverage`` and ``ape run unwind`` on anvil."""

import json

USD = 10**6
ME = ("--account", "TEST::4")


def test_leverage_then_unwind_fund_a(ape_run, market, leverage, fund_a, stablecoin, borrower):
    result = ape_run("leverage", "fund_a", "10000", "--ltv", "0.80", *ME)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "authorising the Leverage helper" in result.stdout
    assert "approving the leverage helper for 10,000.00 USDC" in result.stdout
    debt = market.debt_of(borrower)
    posted = market.collateral_of(borrower, fund_a)
    # Exposure ≈ equity / (1 - 0.8) less the flash fee: about 49,900 USDC of
    # fund A at $10.50, 80 % of it owed.
    exposure = posted * 1050 // 100
    assert 49_850 * USD < exposure < 50_000 * USD
    assert abs(debt - exposure * 8 // 10) < 5 * USD
    assert market.is_authorized(borrower, leverage)

    before = stablecoin.balanceOf(borrower)
    result = ape_run("unwind", "fund_a", *ME, "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    doc = json.loads(result.stdout)
    assert [t["step"] for t in doc["transactions"]] == ["leverage unwind"]
    assert market.debt_of(borrower) == 0 and market.collateral_of(borrower, fund_a) == 0
    # Back: the equity less the flash fees and the facility's redemption fee.
    returned = stablecoin.balanceOf(borrower) - before
    assert 9_930 * USD < returned < 10_000 * USD


def test_leverage_into_the_wrapper(ape_run, market, wrapper, borrower):
    result = ape_run("leverage", "wrapper", "1000", "--ltv", "75%", *ME)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert 2_990 * USD < market.debt_of(borrower) < 3_010 * USD
    assert market.collateral_of(borrower, wrapper) > 3_990 * 10**18


def test_leverage_refusals(refused, borrower, outsider, stale_price, fund_a):
    assert "is not allowlisted by fund_a" in refused(
        outsider, "leverage", "fund_a", "100", "--account", "TEST::7"
    )
    assert "not below fund_a's LTV 85.00%" in refused(
        borrower, "leverage", "fund_a", "100", "--ltv", "0.90", *ME
    )
    assert "finer than one basis point" in refused(
        borrower, "leverage", "fund_a", "100", "--ltv", "0.80001", *ME
    )
    assert "holds 100,000.00 USDC" in refused(borrower, "leverage", "fund_a", "100001", *ME)
    stale_price(fund_a)
    assert "fund_a's NAV is stale" in refused(borrower, "leverage", "fund_a", "100", *ME)


def test_unwind_refusals(refused, borrower):
    assert "no wrapper posted" in refused(borrower, "unwind", "wrapper", *ME)
    assert "unknown asset" in refused(borrower, "unwind", "usdc", *ME)
