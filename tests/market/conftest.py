"""Fixtures of the market suite, on top of the world's (tests/conftest.py).

The market is deployed once per session over the world's stablecoin, owned
by ``deployer`` (``owner`` here), guarded by ``guardian``, paying reserves to
``treasury``, and allowlisted by every fund. Three collateral assets are
listed, so every path runs at both fund decimals and with more than one
asset in a position:

====  ==========  ========  =================  ===================  =====================
id    token       decimals  price feed         facility             notes
====  ==========  ========  =================  ===================  =====================
0     fund A      6         NAV oracle A       RedemptionFacility   NAV accrues (~$10.50)
1     fund C      18        NAV oracle C       RedemptionFacility   NAV accrues (~$1.05)
2     wrapper     18        WrapperNavOracle   WrappedFacility      over fund B ($1 dividends)
====  ==========  ========  =================  ===================  =====================

Defaults: LTV 85 %, threshold 90 %, bonus 3 %, oracle age 100 hours.
Fund B, the $1 dividend fund, is not listed raw: the market refuses it
(its dividends minted to the market would be credited to no one).

Prices move two ways: ``set_price`` swaps an asset's feed for a settable
MockAggregator (exact prices, staleness at will; the facility keeps its own
NAV), and ``publish_next`` / ``publish_confirmed`` publish a real NAV that
the market and the facility both see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from navlend.market import deploy_local_market

USD = 10**6


@dataclass(frozen=True)
class Collateral:
    """One listed collateral asset and what a test needs to use it."""

    name: str
    token: Any
    oracle: Any
    facility: Any
    decimals: int
    asset_id: int

    @property
    def unit(self) -> int:
        return 10**self.decimals


# ---- more actors ----


@pytest.fixture(scope="session")
def owner(deployer):
    """The market's owner (the deployer)."""
    return deployer


@pytest.fixture(scope="session")
def borrower2(accounts):
    """A second allowlisted borrower."""
    return accounts[10]


@pytest.fixture(scope="session")
def lender2(accounts):
    """A second lender (lending needs no allowlisting)."""
    return accounts[11]


@pytest.fixture(scope="session")
def operator(accounts):
    """An account a borrower may authorise to act for it."""
    return accounts[12]


# ---- the market ----


@pytest.fixture(scope="session")
def market(world, owner, guardian, treasury, borrower2, operator):
    """The market over the world, wired by ``navlend.market.deploy_local_market``
    (fund A, fund C and the wrapper listed with their facilities)."""
    market = deploy_local_market(world, owner, guardian=guardian, treasury=treasury)
    world.allowlist(borrower2, operator, treasury)
    return market


@pytest.fixture(scope="session")
def collaterals(world, market) -> dict[str, Collateral]:
    """The three listed assets by name."""
    return {
        "fund_a": Collateral("fund_a", world.fund_a, world.oracle_a, world.facility_a, 6, 0),
        "fund_c": Collateral("fund_c", world.fund_c, world.oracle_c, world.facility_c, 18, 1),
        "wrapper": Collateral("wrapper", world.wrapper, world.wrapper_oracle, world.wrapped_facility, 18, 2),
    }


@pytest.fixture(scope="session", params=["fund_a", "wrapper"])
def collateral(request, collaterals) -> Collateral:
    """The decimals matrix: fund A (6 decimals) and the wrapper (18)."""
    return collaterals[request.param]


# ---- helpers ----


@pytest.fixture(scope="session")
def lend(market, stablecoin, mint_stable, lender):
    """``lend(amount, who=lender)``: mints, approves and deposits."""

    def go(amount: int, who=None):
        who = who or lender
        mint_stable(who, amount)
        stablecoin.approve(market, amount, sender=who)
        return market.deposit(amount, who, sender=who)

    return go


@pytest.fixture(scope="session")
def give_collateral(market, mint_fund, wrapper, fund_b, deployer):
    """``give_collateral(collateral, who, amount)``: mints ``amount`` of the
    collateral to ``who`` (wrapper shares by wrapping fund B) and approves
    the market."""

    def go(collateral: Collateral, who, amount: int):
        if collateral.name == "wrapper":
            mint_fund(fund_b, who, amount)
            fund_b.approve(wrapper, amount, sender=who)
            wrapper.deposit(amount, who, sender=who)
            amount = wrapper.balanceOf(who)
        else:
            mint_fund(collateral.token, who, amount)
        collateral.token.approve(market, 2**256 - 1, sender=who)
        return amount

    return go


@pytest.fixture(scope="session")
def open_position(market, give_collateral):
    """``open_position(collateral, who, collateral_amount, borrow_amount)``:
    posts collateral and borrows; returns the borrow receipt (or the
    deposit receipt when ``borrow_amount`` is 0)."""

    def go(collateral: Collateral, who, collateral_amount: int, borrow_amount: int):
        posted = give_collateral(collateral, who, collateral_amount)
        tx = market.supply_collateral(collateral.token, posted, who, sender=who)
        if borrow_amount:
            tx = market.borrow(borrow_amount, who, who, sender=who)
        return tx

    return go


@pytest.fixture(scope="session")
def price_of(market):
    """``price_of(collateral)``: the market's current price of an asset."""

    def go(collateral: Collateral) -> int:
        return market.asset_price(collateral.token)[0]

    return go


@pytest.fixture(scope="session")
def set_price(market, owner, project, chain):
    """``set_price(collateral, price, updated_at=0)``: points the market's
    feed for the asset at a settable mock answering ``price`` (8 decimals)
    struck at ``updated_at`` (0: now). Returns the mock."""

    mocks: dict[str, Any] = {}

    def go(collateral: Collateral, price: int, updated_at: int = 0):
        mock = owner.deploy(project.MockAggregator, 8, price)
        if updated_at:
            mock.set_answer(price, updated_at, sender=owner)
        market.set_asset_oracle(collateral.token, mock, sender=owner)
        return mock

    return go


@pytest.fixture(scope="session")
def borrow_limit(market):
    """``borrow_limit(who)``: the most ``who`` may owe now (value at LTV)."""

    def go(who) -> int:
        return market.position(who).borrow_value

    return go


@pytest.fixture(scope="session")
def flat_books(market, owner, stablecoin, lend, mint_stable):
    """``flat_books(lent_usd, *payers)``: a flat 0 % curve (debts stay
    exact), ``lent_usd`` dollars lent, and each payer holding $10,000 of the
    stablecoin, approved to the market."""

    def go(lent_usd: int, *payers):
        market.set_rates(0, 0, 0, 9_000, 1_000, sender=owner)
        lend(lent_usd * 10**6)
        for who in payers:
            mint_stable(who, 10_000 * 10**6)
            stablecoin.approve(market, 2**256 - 1, sender=who)

    return go


@pytest.fixture(scope="session")
def liquidate_shares(market):
    """``liquidate_shares(borrower, token, repay, liquidator)``: a share-route
    liquidation of up to ``repay`` paid to ``liquidator``; asserts its
    ``Liquidate`` event and that the liquidator received shares. Returns
    the receipt."""

    def go(borrower, token, repay: int, liquidator):
        before = token.balanceOf(liquidator)
        tx = market.liquidate(borrower, token, repay, 0, False, liquidator, sender=liquidator)
        assert market.Liquidate(liquidator=liquidator, borrower=borrower, token=token, repaid=repay) in tx.events
        assert token.balanceOf(liquidator) - before == tx.return_value[2] > 0
        return tx

    return go

