"""Regression: rounding-direction loops on the borrower side.

Historical pattern: repeated 1-wei borrow / repay cycles that round in the
borrower's favour each time (Sherlock 2024-08 Sentiment v2 #481, 2024-04
interest-rate-model #41), the borrower-side twin of the empty-market
rounding behind Hundred Finance (April 2023). A market that rounds a
borrow's scaled debt down, or a repayment's up, gives a wei away per call.

Here debt is scaled by a borrow index grown above 1 (so that divisions do
not come out even), the curve is then flattened so the index stays put,
and every loop is checked call by call: a borrow adds at least what it
paid out to the debt, a repayment takes off at most what it pulled in, and
the lenders' assets never fall. The minimum borrow keeps a dust position
from being opened at all."""

import ape
import pytest

from navlend.constants import WAD

USD = 10**6
MAX = 2**256 - 1
YEAR = 365 * 86_400
LOOPS = 12


@pytest.fixture
def indebted(
    market,
    owner,
    stablecoin,
    collaterals,
    borrower,
    lend,
    mint_stable,
    open_position,
    advance,
    set_price,
):
    """``borrower`` owes about $1,000 on fund A after a year at a 10 % base
    rate (index about 1.105); the curve is then flat, so the index stays,
    and fund A has a fresh $10.00 price. It holds $1,000 of spare cash,
    approved."""
    fund_a = collaterals["fund_a"]
    lend(10_000 * USD)
    market.set_rates(WAD // 10, 0, 0, 9_000, 1_000, sender=owner)
    open_position(fund_a, borrower, 1_000 * fund_a.unit, 910 * USD)
    advance(YEAR)
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
    set_price(fund_a, 10 * 10**8)
    assert market.market_state()[3] > WAD
    mint_stable(borrower, 1_000 * USD)
    stablecoin.approve(market, MAX, sender=borrower)


def test_borrow__one_wei_on_no_debt__blocked_by_min_borrow(
    market, collaterals, borrower, lend, open_position
):
    fund_a = collaterals["fund_a"]
    lend(10_000 * USD)
    open_position(fund_a, borrower, 1_000 * fund_a.unit, 0)
    for amount in (1, 100 * USD - 1):
        with ape.reverts("market: below min borrow"):
            market.borrow(amount, borrower, borrower, sender=borrower)


def test_borrow__one_wei_loop__debt_grows_by_at_least_what_is_paid_out(
    market, stablecoin, borrower, indebted
):
    for _ in range(LOOPS):
        debt, cash, assets = (
            market.debt_of(borrower),
            stablecoin.balanceOf(borrower),
            market.totalAssets(),
        )
        market.borrow(1, borrower, borrower, sender=borrower)
        assert stablecoin.balanceOf(borrower) == cash + 1
        assert market.debt_of(borrower) >= debt + 1
        assert market.totalAssets() >= assets


def test_repay__one_wei_loop__debt_falls_by_at_most_what_is_paid(
    market, stablecoin, borrower, indebted
):
    start = market.debt_of(borrower)
    for _ in range(LOOPS):
        debt, cash, assets = (
            market.debt_of(borrower),
            stablecoin.balanceOf(borrower),
            market.totalAssets(),
        )
        assert market.repay(1, borrower, sender=borrower).return_value == 1
        assert stablecoin.balanceOf(borrower) == cash - 1
        assert market.debt_of(borrower) >= debt - 1
        assert market.totalAssets() >= assets
    assert market.debt_of(borrower) >= start - LOOPS


def test_borrow_and_repay__one_wei_round_trips__never_owe_less(
    market, stablecoin, borrower, indebted
):
    start, cash, assets = (
        market.debt_of(borrower),
        stablecoin.balanceOf(borrower),
        market.totalAssets(),
    )
    for _ in range(LOOPS // 2):
        market.borrow(1, borrower, borrower, sender=borrower)
        market.repay(1, borrower, sender=borrower)
    assert stablecoin.balanceOf(borrower) == cash
    assert market.debt_of(borrower) >= start
    assert market.totalAssets() >= assets
