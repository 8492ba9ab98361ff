"""Borrowing and repaying: the borrow limit at both collateral decimals,
the minimum borrow, cash, authorisation of operators, and repayment "up
to" an amount, by anyone. Pauses (repayment never stops) are in
test_pause.py.

Positions are opened on $1M of lent cash under a flat 0 % curve, so debts
are exactly what was borrowed; the interest test restores a curve."""

import ape
import pytest

from navlend.constants import WAD

USD = 10**6
MAX = 2**256 - 1
# Settable prices: $10.00 a fund A share, $1.00 a wrapper share (8 decimals).
BASE_PRICE = {"fund_a": 10 * 10**8, "wrapper": 10**8}


@pytest.fixture
def books(market, owner, lend):
    """$1M of cash to borrow and a flat 0 % curve."""
    market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
    lend(1_000_000 * USD)


@pytest.fixture
def collateralised(market, collateral, borrower, give_collateral, set_price, books):
    """``borrower`` with $10,000 of ``collateral`` posted at BASE_PRICE (a
    borrow limit of $8,500), with cash to borrow."""
    set_price(collateral, BASE_PRICE[collateral.name])
    amount = 10_000 * 10 ** (collateral.decimals + 8) // BASE_PRICE[collateral.name]
    amount = give_collateral(collateral, borrower, amount)
    market.supply_collateral(collateral.token, amount, borrower, sender=borrower)
    return amount


@pytest.fixture
def indebted(market, borrower, stablecoin, collateralised):
    """``borrower`` owing $5,000 against its collateral; it has approved
    the market to pull repayments."""
    market.borrow(5_000 * USD, borrower, borrower, sender=borrower)
    stablecoin.approve(market, MAX, sender=borrower)
    return 5_000 * USD


# ---- borrow ----


def test_borrow__within_limit__pays_receiver_books_debt_and_logs(
    market, stablecoin, borrower, borrower2, collateralised
):
    cash_before = market.market_state()[0]
    tx = market.borrow(3_000 * USD, borrower, borrower2, sender=borrower)
    assert tx.return_value == 3_000 * USD
    assert stablecoin.balanceOf(borrower2) == 3_000 * USD
    assert market.debt_of(borrower) == 3_000 * USD
    assert market.position(borrower).scaled_debt == 3_000 * USD
    assert market.market_state()[0] == cash_before - 3_000 * USD
    assert (
        market.Borrow(
            caller=borrower,
            on_behalf=borrower,
            receiver=borrower2,
            amount=3_000 * USD,
            scaled_debt=3_000 * USD,
            borrow_index=WAD,
        )
        in tx.events
    )


def test_borrow__exactly_the_limit__passes_one_unit_more_reverts(market, borrower, collateralised):
    """The limit is value x LTV rounded down: $10,000 x 85 %."""
    limit = market.position(borrower).borrow_value
    assert limit == 8_500 * USD
    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(limit + 1, borrower, borrower, sender=borrower)
    market.borrow(limit, borrower, borrower, sender=borrower)
    assert market.debt_of(borrower) == limit
    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(1, borrower, borrower, sender=borrower)


def test_borrow__no_collateral__reverts(market, borrower, books):
    with ape.reverts("market: exceeds borrow limit"):
        market.borrow(100 * USD, borrower, borrower, sender=borrower)


def test_borrow__below_min_borrow__reverts_at_min_passes(market, borrower, collateralised):
    with ape.reverts("market: below min borrow"):
        market.borrow(100 * USD - 1, borrower, borrower, sender=borrower)
    market.borrow(100 * USD, borrower, borrower, sender=borrower)
    assert market.debt_of(borrower) == 100 * USD


def test_borrow__small_top_up_of_a_large_debt__passes(market, borrower, indebted):
    """The minimum applies to the debt after the borrow, not the amount."""
    market.borrow(1, borrower, borrower, sender=borrower)
    assert market.debt_of(borrower) == indebted + 1


def test_borrow__zero_amount_or_receiver__reverts(market, borrower, collateralised):
    with ape.reverts("market: zero amount"):
        market.borrow(0, borrower, borrower, sender=borrower)
    with ape.reverts("market: zero address"):
        market.borrow(100 * USD, borrower, ape.utils.ZERO_ADDRESS, sender=borrower)


def test_borrow__more_than_cash__reverts(market, borrower, lender, collateralised):
    cash = market.market_state()[0]
    market.redeem(market.maxRedeem(lender), lender, lender, sender=lender)
    assert market.market_state()[0] < cash
    with ape.reverts("market: insufficient cash"):
        market.borrow(100 * USD, borrower, borrower, sender=borrower)


# ---- authorisation ----


def test_set_authorization__logs_and_sets(market, borrower, operator):
    tx = market.set_authorization(operator, True, sender=borrower)
    assert market.is_authorized(borrower, operator)
    assert (
        market.SetAuthorization(account=borrower, operator=operator, authorized=True) in tx.events
    )
    tx = market.set_authorization(operator, False, sender=borrower)
    assert not market.is_authorized(borrower, operator)
    assert (
        market.SetAuthorization(account=borrower, operator=operator, authorized=False) in tx.events
    )


def test_set_authorization__zero_operator__reverts(market, borrower):
    with ape.reverts("market: zero operator"):
        market.set_authorization(ape.utils.ZERO_ADDRESS, True, sender=borrower)


def test_borrow__operator__only_while_authorized(
    market, stablecoin, borrower, operator, collateralised
):
    """The operator borrows on the borrower's position and is paid; the
    debt is the borrower's. Revoking the authorisation stops it."""
    with ape.reverts("market: not authorized"):
        market.borrow(1_000 * USD, borrower, operator, sender=operator)
    market.set_authorization(operator, True, sender=borrower)
    tx = market.borrow(1_000 * USD, borrower, operator, sender=operator)
    assert stablecoin.balanceOf(operator) == 1_000 * USD
    assert market.debt_of(borrower) == 1_000 * USD
    assert market.debt_of(operator) == 0
    assert market.Borrow(caller=operator, on_behalf=borrower, receiver=operator) in tx.events
    market.set_authorization(operator, False, sender=borrower)
    with ape.reverts("market: not authorized"):
        market.borrow(1_000 * USD, borrower, operator, sender=operator)


def test_borrow__authorization__is_per_account(
    market, collaterals, borrower, borrower2, operator, give_collateral, books
):
    """Being authorised by one account gives nothing over another."""
    wrapper = collaterals["wrapper"]
    amount = give_collateral(wrapper, borrower2, 10_000 * 10**18)
    market.supply_collateral(wrapper.token, amount, borrower2, sender=borrower2)
    market.set_authorization(operator, True, sender=borrower)
    with ape.reverts("market: not authorized"):
        market.borrow(1_000 * USD, borrower2, operator, sender=operator)


# ---- repay ----


def test_repay__part__lowers_debt_books_cash_and_logs(market, stablecoin, borrower, indebted):
    cash_before = market.market_state()[0]
    tx = market.repay(2_000 * USD, borrower, sender=borrower)
    assert tx.return_value == 2_000 * USD
    assert market.debt_of(borrower) == indebted - 2_000 * USD
    assert market.market_state()[0] == cash_before + 2_000 * USD
    assert stablecoin.balanceOf(borrower) == indebted - 2_000 * USD
    assert (
        market.Repay(
            caller=borrower,
            on_behalf=borrower,
            amount=2_000 * USD,
            scaled_debt=indebted - 2_000 * USD,
            borrow_index=WAD,
        )
        in tx.events
    )


@pytest.mark.parametrize("offered", [5_000 * USD + 1, MAX], ids=["one_wei_over", "max_uint"])
def test_repay__more_than_debt__repays_only_the_debt(
    market, stablecoin, borrower, mint_stable, indebted, offered
):
    """Amounts are "up to": the debt is cleared and no more is pulled."""
    mint_stable(borrower, 1_000 * USD)
    held = stablecoin.balanceOf(borrower)
    tx = market.repay(offered, borrower, sender=borrower)
    assert tx.return_value == indebted
    assert stablecoin.balanceOf(borrower) == held - indebted
    assert market.debt_of(borrower) == 0
    assert market.position(borrower).scaled_debt == 0
    assert market.Repay(amount=indebted, scaled_debt=0) in tx.events


def test_repay__by_anyone__for_anyone(
    market, stablecoin, borrower, outsider, mint_stable, indebted
):
    """Repayment needs no authorisation and no allowlisting."""
    mint_stable(outsider, indebted)
    stablecoin.approve(market, indebted, sender=outsider)
    tx = market.repay(indebted, borrower, sender=outsider)
    assert market.debt_of(borrower) == 0
    assert stablecoin.balanceOf(outsider) == 0
    assert market.Repay(caller=outsider, on_behalf=borrower, amount=indebted) in tx.events


def test_repay__no_debt__reverts(market, borrower):
    with ape.reverts("market: no debt"):
        market.repay(1, borrower, sender=borrower)


def test_repay__zero_amount__reverts(market, borrower, indebted):
    with ape.reverts("market: zero amount"):
        market.repay(0, borrower, sender=borrower)


def test_repay__below_min_borrow__allowed(market, borrower, indebted):
    """The minimum gates borrows only: a repayment may leave less."""
    market.repay(indebted - 1, borrower, sender=borrower)
    assert market.debt_of(borrower) == 1


def test_repay__after_interest__max_clears_debt_above_principal(
    market, owner, stablecoin, borrower, mint_stable, advance, indebted
):
    """With a curve, the index grows; repaying max_uint clears the debt
    with its interest (rounded up) and leaves no scaled debt."""
    market.set_rates(0, WAD // 10, WAD, 9_000, 1_000, sender=owner)
    advance(30 * 86_400)
    debt = market.debt_of(borrower)
    assert debt > indebted
    mint_stable(borrower, debt)
    tx = market.repay(MAX, borrower, sender=borrower)
    assert tx.return_value >= debt
    assert market.position(borrower).scaled_debt == 0
    assert market.market_state()[4] == 0
