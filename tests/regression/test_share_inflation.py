"""Regression: the first-depositor share inflation (donation) attack.

The exploit (ERC-4626 vaults, Compound-fork markets, many audits): the
attacker is the first depositor and takes a single unit of shares, then
donates a large amount of the asset straight to the vault. A vault that
prices shares from ``asset.balanceOf(this)`` now values that one share at
the whole donation, so the victim's deposit, divided by that price, rounds
down to zero shares (or to far fewer than its worth) and the attacker
redeems the victim's money.

Why navlend resists, twice over:
- cash is tracked internally, so a donation moves neither ``totalAssets``
  nor the share price: the victim is priced as if nothing was donated; a
  donation booked by ``book_surplus`` goes to the reserves, which lenders'
  assets exclude, so booking it does not move the price either;
- virtual shares (10**6) and a virtual asset (1) keep even a first
  depositor's share price near 10**-6, so the cheapest possible first
  position (one wei of deposit, or one share) can tilt the price by at most
  a factor of two, and the victim's rounding loss stays at a wei.
"""

import pytest

USD = 10**6
VICTIM_DEPOSIT = 1_000 * USD


def donate(stablecoin, mint_stable, market, attacker, amount: int):
    """The attacker transfers ``amount`` straight to the market."""
    mint_stable(attacker, amount)
    stablecoin.transfer(market, amount, sender=attacker)


@pytest.mark.parametrize("donation", [VICTIM_DEPOSIT, 1_000 * VICTIM_DEPOSIT], ids=["equal", "thousandfold"])
def test_inflation__first_depositor_donates__victim_redeems_the_deposit(
    market, stablecoin, lend, mint_stable, attacker, lender, donation
):
    lend(1, attacker)  # one wei: 10**6 shares
    donate(stablecoin, mint_stable, market, attacker, donation)
    assert market.totalAssets() == 1

    lend(VICTIM_DEPOSIT, lender)
    shares = market.balanceOf(lender)
    assert shares == VICTIM_DEPOSIT * 10**6  # not rounded to zero, not diluted

    market.redeem(shares, lender, lender, sender=lender)
    assert stablecoin.balanceOf(lender) == VICTIM_DEPOSIT
    # The attacker gets its wei back and nothing of the donation.
    market.redeem(market.balanceOf(attacker), attacker, attacker, sender=attacker)
    assert stablecoin.balanceOf(attacker) == 1
    assert market.totalAssets() == 0


def test_inflation__first_mint_of_one_share__victim_loses_at_most_a_wei(
    market, stablecoin, lend, mint_stable, attacker, lender
):
    """The steepest price a first position can set: one share for one wei
    (minting rounds the cost up), which doubles the price per share."""
    mint_stable(attacker, 1)
    stablecoin.approve(market, 1, sender=attacker)
    market.mint(1, attacker, sender=attacker)
    donate(stablecoin, mint_stable, market, attacker, 1_000 * VICTIM_DEPOSIT)

    lend(VICTIM_DEPOSIT, lender)
    assert market.balanceOf(lender) > 0
    assert market.maxWithdraw(lender) >= VICTIM_DEPOSIT - 1
    market.redeem(market.balanceOf(lender), lender, lender, sender=lender)
    assert stablecoin.balanceOf(lender) >= VICTIM_DEPOSIT - 1
    # The attacker's share is worth less than a wei: nothing to take.
    assert market.previewRedeem(market.balanceOf(attacker)) == 0


def test_donation__to_a_first_depositor__changes_neither_assets_nor_price(
    market, stablecoin, lend, mint_stable, attacker
):
    lend(1, attacker)
    before = (market.totalAssets(), market.convertToAssets(10**6), market.previewDeposit(VICTIM_DEPOSIT))
    donate(stablecoin, mint_stable, market, attacker, 1_000 * VICTIM_DEPOSIT)
    assert (market.totalAssets(), market.convertToAssets(10**6), market.previewDeposit(VICTIM_DEPOSIT)) == before
    assert market.market_state()[0] == 1


def test_inflation__donation_booked_as_surplus__victim_still_redeems_the_deposit(
    market, stablecoin, lend, mint_stable, attacker, lender
):
    """The attacker books its donation (``book_surplus``, anyone may): it
    lands in the reserves, not in the lenders' assets."""
    lend(1, attacker)
    donate(stablecoin, mint_stable, market, attacker, 1_000 * VICTIM_DEPOSIT)
    market.book_surplus(sender=attacker)
    assert market.totalAssets() == 1
    assert market.market_state()[2] == 1_000 * VICTIM_DEPOSIT

    lend(VICTIM_DEPOSIT, lender)
    assert market.balanceOf(lender) == VICTIM_DEPOSIT * 10**6
    market.redeem(market.balanceOf(lender), lender, lender, sender=lender)
    assert stablecoin.balanceOf(lender) == VICTIM_DEPOSIT
