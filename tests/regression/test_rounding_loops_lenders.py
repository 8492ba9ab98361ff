"""Regression: rounding-direction loops on the lender side.

The exploit class (sherlock 2024-08-sentiment-v2 #481, 2024-04
interest-rate-model #41, and the precision exploits after Hundred): a
vault that rounds one leg of a round trip in the user's favour can be
drained by repeating tiny round trips, each gaining a wei or a share (for
example a deposit that rounds shares up, or a withdrawal that rounds the
shares burned down).

Why navlend resists: every leg rounds in the vault's favour: deposit mints
shares rounded down, mint charges assets rounded up, withdraw burns shares
rounded up, redeem pays assets rounded down. A round trip can only lose.

The loops run at an off-round share price: interest accrued and then fully
repaid, so the price stays fixed (nothing accrues) while it has a
remainder on every conversion. Thirty round trips each (anvil speed).
"""

import ape
import pytest

USD = 10**6
DAY = 86_400
LOOPS = 30


def moved(tx, market, event, field):
    return [log[field] for log in tx.events.filter(getattr(market, event))][0]


@pytest.fixture
def off_round(market, stablecoin, lend, open_position, collaterals, borrower, mint_stable, advance, attacker):
    """90 days of interest on 5,000 of 10,000, then repaid: a share price a
    little over 10**-6 that no longer moves. The attacker holds 1,000 USD,
    approved, and no shares."""
    lend(10_000 * USD)
    open_position(collaterals["fund_a"], borrower, 2_000 * USD, 5_000 * USD)
    advance(90 * DAY)
    mint_stable(borrower, 100 * USD)
    stablecoin.approve(market, 2**256 - 1, sender=borrower)
    market.repay(2**256 - 1, borrower, sender=borrower)
    assert market.market_state()[1] == 0
    assert market.convertToShares(USD) < USD * 10**6  # a share is worth more than at the start
    mint_stable(attacker, 1_000 * USD)
    stablecoin.approve(market, 2**256 - 1, sender=attacker)
    return market


def test_deposit_withdraw__one_wei_round_trips__never_profit(off_round, stablecoin, attacker):
    market = off_round
    start = stablecoin.balanceOf(attacker)
    market.deposit(USD, attacker, sender=attacker)  # a float of shares for the rounded-up burns
    for _ in range(LOOPS):
        minted = moved(market.deposit(1, attacker, sender=attacker), market, "Deposit", "shares")
        burned = moved(market.withdraw(1, attacker, attacker, sender=attacker), market, "Withdraw", "shares")
        assert burned > minted  # minted rounds down, burned rounds up
    market.redeem(market.balanceOf(attacker), attacker, attacker, sender=attacker)
    assert stablecoin.balanceOf(attacker) < start


def test_mint_redeem__a_wei_worth_of_shares_round_trips__never_profit(off_round, stablecoin, attacker):
    market = off_round
    shares = market.previewDeposit(1) + 1  # worth a little over one wei
    start = stablecoin.balanceOf(attacker)
    for _ in range(LOOPS):
        paid = moved(market.mint(shares, attacker, sender=attacker), market, "Deposit", "assets")
        received = moved(market.redeem(shares, attacker, attacker, sender=attacker), market, "Withdraw", "assets")
        assert (paid, received) == (2, 1)  # paid rounds up, received rounds down
    assert market.balanceOf(attacker) == 0
    assert stablecoin.balanceOf(attacker) == start - LOOPS


def test_deposit_redeem__one_wei__cannot_come_back(off_round, stablecoin, attacker):
    market = off_round
    minted = moved(market.deposit(1, attacker, sender=attacker), market, "Deposit", "shares")
    assert market.previewRedeem(minted) == 0
    with ape.reverts("market: zero assets"):
        market.redeem(minted, attacker, attacker, sender=attacker)
