"""Regression: empty-market rounding (Hundred Finance, April 2023, ~$7.4M).

The exploit: Hundred's hWBTC market on Optimism was empty. The attacker
minted a couple of wei of hTokens, donated WBTC directly to the market to
inflate the exchange rate (the rate counted the market's token balance),
borrowed against that overvalued position elsewhere, then called
``redeemUnderlying`` for an amount just under its holding: the hTokens to
burn were computed with division rounding DOWN, so almost no hTokens were
burned for almost all of the underlying. Repeated across markets, the
same precision flaw hit Midas and Radiant.

Why navlend resists:
- a donation does not count (internal cash), so the exchange rate of an
  empty market cannot be inflated cheaply; the only way up is interest;
- ``withdraw`` burns shares rounded UP, ``redeem`` pays rounded DOWN: no
  exit can take more than the burned shares are worth, down to 1 wei;
- a deposit that would mint no shares reverts ("market: zero shares")
  instead of taking the assets for nothing;
- lender shares are not collateral in the market itself.
"""

import ape
import pytest
from navlend.constants import WAD

USD = 10**6
DONATION = 1_000_000 * USD


@pytest.fixture
def approved(market, stablecoin, mint_stable):
    """``approved(who, amount)``: gives ``who`` the stablecoin, approved."""

    def go(who, amount: int):
        mint_stable(who, amount)
        stablecoin.approve(market, 2**256 - 1, sender=who)

    return go


def test_redeem__empty_market_after_donation__pays_at_most_the_deposit(
    market, stablecoin, approved, attacker
):
    approved(attacker, DONATION + 2)
    market.deposit(2, attacker, sender=attacker)  # two wei, as in the exploit
    stablecoin.transfer(market, DONATION, sender=attacker)
    assert market.totalAssets() == 2
    assert market.maxWithdraw(attacker) == 2
    with ape.reverts("market: insufficient cash"):
        market.withdraw(3, attacker, attacker, sender=attacker)
    market.redeem(market.balanceOf(attacker), attacker, attacker, sender=attacker)
    assert stablecoin.balanceOf(attacker) == 2  # the donation stays behind, unclaimed
    assert market.totalSupply() == 0 and market.totalAssets() == 0


def test_withdraw__one_wei__burns_shares_worth_at_least_a_wei(market, approved, attacker):
    approved(attacker, 1_000)
    market.mint(1, attacker, sender=attacker)  # 1 share for 1 wei: an off-round price
    market.deposit(10, attacker, sender=attacker)
    for wei in range(1, 6):
        burned = market.previewWithdraw(wei)
        assert burned >= 1
        # The burned shares are worth at least what is paid, at the exact price.
        assert burned * (market.totalAssets() + 1) >= wei * (market.totalSupply() + 10**6)
    supply = market.totalSupply()
    tx = market.withdraw(1, attacker, attacker, sender=attacker)
    burned = [log.shares for log in tx.events.filter(market.Withdraw)][0]
    assert burned == supply - market.totalSupply() > market.convertToShares(1)


def test_tiny_deposits_and_mints__redeemed_together__return_at_most_what_went_in(
    market, stablecoin, approved, attacker
):
    approved(attacker, 1_000)
    start = stablecoin.balanceOf(attacker)
    for wei in (1, 2, 3):
        market.deposit(wei, attacker, sender=attacker)
    for shares in (1, 999_999, 1_000_001):
        market.mint(shares, attacker, sender=attacker)
    paid = start - stablecoin.balanceOf(attacker)
    tx = market.redeem(market.balanceOf(attacker), attacker, attacker, sender=attacker)
    received = [log.assets for log in tx.events.filter(market.Withdraw)][0]
    assert 0 < received <= paid
    assert stablecoin.balanceOf(attacker) <= start


def test_deposit__mints_no_shares__reverts(market, approved, attacker):
    approved(attacker, 1)
    with ape.reverts("market: zero shares"):
        market.deposit(0, attacker, sender=attacker)


def test_exchange_rate_inflated_by_interest__one_wei_cannot_mint_or_exit_free(
    market, stablecoin, lend, open_position, collaterals, approved, owner, borrower, lender2, advance
):
    """The only way to inflate the rate is interest: all cash borrowed at
    the steepest curve allowed (30 a year at full utilisation) for six and
    a half years, one accrual, lifts a share above a wei. At that rate
    Hundred's flaw would pay 1 wei for 0 shares; here a 1-wei deposit
    reverts and a 1-wei withdrawal burns a whole share."""
    lend(1_000 * USD)
    open_position(collaterals["fund_a"], borrower, 2_000 * USD, 1_000 * USD)
    market.set_rates(10 * WAD, 10 * WAD, 10 * WAD, 9_900, 0, sender=owner)
    rate = market.borrow_rate()
    advance(200 * WAD // rate)  # rate x elapsed = 200: the index grows ~1.35e6-fold
    lend(10 * USD, lender2)  # accrues, and brings cash to withdraw
    assert market.convertToAssets(1) == 1  # one share is now worth a wei and more
    assert market.previewDeposit(1) == 0

    approved(lender2, 1)
    with ape.reverts("market: zero shares"):
        market.deposit(1, lender2, sender=lender2)
    assert market.previewWithdraw(1) == 1
    shares, cash = market.balanceOf(lender2), stablecoin.balanceOf(lender2)
    market.withdraw(1, lender2, lender2, sender=lender2)
    assert market.balanceOf(lender2) == shares - 1
    assert stablecoin.balanceOf(lender2) == cash + 1
