"""Reserves: the owner sends them to the treasury (``withdraw_reserves``);
anyone books the surplus (flash-loan fees, donations) into them
(``book_surplus``).

Reserves are kept as cash, so a withdrawal lowers both and booking surplus
raises both; neither moves lenders' assets. The fixtures build reserves from a year of interest and
then have the borrower repay in full, so that nothing accrues while a test
runs and every amount is exact.
"""

import ape
import pytest

USD = 10**6
DAY = 86_400


def logged(tx, event) -> list[dict]:
    return [dict(log.event_arguments) for log in tx.events.filter(event)]


@pytest.fixture
def borrowed_for(market, lend, open_position, collaterals, borrower, advance):
    """``borrowed_for(lent, borrowed, seconds)``: lends, borrows and lets
    interest run."""

    def go(lent: int, borrowed: int, seconds: int):
        lend(lent)
        open_position(collaterals["fund_a"], borrower, 2_000 * USD, borrowed)
        advance(seconds)

    return go


@pytest.fixture
def reserves(market, stablecoin, borrowed_for, mint_stable, borrower):
    """Reserves from a year of interest on 5,000 of 10,000, debt repaid in
    full; returns the reserves (about 11 USD)."""
    borrowed_for(10_000 * USD, 5_000 * USD, 365 * DAY)
    mint_stable(borrower, 1_000 * USD)
    stablecoin.approve(market, 2**256 - 1, sender=borrower)
    market.repay(2**256 - 1, borrower, sender=borrower)
    amount = market.market_state()[2]
    assert 10 * USD < amount < 12 * USD
    return amount


def test_withdraw_reserves__part__pays_the_treasury_and_logs(market, reserves, stablecoin, owner, treasury):
    cash, _, _, _, _ = market.market_state()
    total_assets = market.totalAssets()
    treasury_before = stablecoin.balanceOf(treasury)
    amount = reserves // 3
    tx = market.withdraw_reserves(amount, sender=owner)
    assert logged(tx, market.ReservesWithdrawn) == [{"treasury": treasury.address, "amount": amount}]
    assert stablecoin.balanceOf(treasury) == treasury_before + amount
    assert market.market_state()[:3] == (cash - amount, 0, reserves - amount)
    assert market.totalAssets() == total_assets  # lenders are untouched


def test_withdraw_reserves__all__empties_the_reserves(market, reserves, stablecoin, owner, treasury):
    treasury_before = stablecoin.balanceOf(treasury)
    market.withdraw_reserves(reserves, sender=owner)
    assert market.market_state()[2] == 0
    assert stablecoin.balanceOf(treasury) == treasury_before + reserves


def test_withdraw_reserves__new_treasury__pays_the_new_one(market, reserves, stablecoin, owner, spare):
    market.set_treasury(spare, sender=owner)
    before = stablecoin.balanceOf(spare)
    tx = market.withdraw_reserves(reserves, sender=owner)
    assert logged(tx, market.ReservesWithdrawn)[0]["treasury"] == spare.address
    assert stablecoin.balanceOf(spare) == before + reserves
    assert market.market_state()[2] == 0


def test_withdraw_reserves__borrows_outstanding__accrues_first(market, borrowed_for, chain, owner):
    """The reserves accrued up to the withdrawal's own second can be taken,
    which is only possible if the withdrawal accrues before it checks."""
    borrowed_for(10_000 * USD, 5_000 * USD, 30 * DAY)
    chain.pending_timestamp = chain.blocks.head.timestamp
    accrued = market.market_state()[2]
    tx = market.withdraw_reserves(accrued, sender=owner)
    assert len(logged(tx, market.AccrueInterest)) == 1
    assert market.market_state()[2] == 0


def test_withdraw_reserves__above_reserves__reverts(market, reserves, owner):
    with ape.reverts("market: exceeds reserves"):
        market.withdraw_reserves(reserves + 1, sender=owner)


def test_withdraw_reserves__zero__reverts(market, reserves, owner):
    with ape.reverts("market: zero amount"):
        market.withdraw_reserves(0, sender=owner)


def test_withdraw_reserves__not_owner__reverts(market, reserves, guardian, treasury, attacker):
    for who in (guardian, treasury, attacker):
        with ape.reverts("ownable: caller is not the owner"):
            market.withdraw_reserves(1, sender=who)


def test_withdraw_reserves__reserves_lent_out__reverts_insufficient_cash(market, borrowed_for, owner):
    borrowed_for(1_000 * USD, 1_000 * USD, 30 * DAY)  # every unit of cash borrowed
    cash, _, reserves, _, _ = market.market_state()
    assert cash == 0 and reserves > 0
    with ape.reverts("market: insufficient cash"):
        market.withdraw_reserves(1, sender=owner)


# ---- book_surplus: flash-loan fees and donations become reserves ----


@pytest.fixture
def flash_fee(market, reserves, project, stablecoin, mint_stable, attacker):
    """A flash loan of 10,000 at the default 5 bps leaves a 5 USD fee
    unbooked; returns the fee."""
    receiver = attacker.deploy(project.FlashBorrowerMock)
    mint_stable(receiver, 10 * USD)
    receiver.borrow(market, stablecoin, market.maxFlashLoan(stablecoin) // 2, b"", sender=attacker)
    fee = market.surplus()
    assert fee > 0
    return fee


def test_book_surplus__flash_fee__moves_into_cash_and_reserves(market, reserves, flash_fee, outsider):
    cash, borrows, _, _, _ = market.market_state()
    total_assets = market.totalAssets()
    tx = market.book_surplus(sender=outsider)
    assert tx.return_value == flash_fee
    assert logged(tx, market.SurplusBooked) == [
        {"caller": outsider.address, "amount": flash_fee, "reserves": reserves + flash_fee}
    ]
    assert market.market_state()[:3] == (cash + flash_fee, borrows, reserves + flash_fee)
    assert market.totalAssets() == total_assets
    assert market.surplus() == 0


def test_book_surplus__donation__becomes_reserves(market, reserves, stablecoin, mint_stable, attacker):
    """A donation of the base asset cannot inflate the lenders' share
    price: it is booked as the protocol's reserves."""
    price = market.convertToAssets(10**12)
    mint_stable(attacker, 7 * USD)
    stablecoin.transfer(market, 7 * USD, sender=attacker)
    market.book_surplus(sender=attacker)
    assert market.market_state()[2] == reserves + 7 * USD
    assert market.convertToAssets(10**12) == price


def test_book_surplus__nothing_held_beyond_cash__books_nothing(market, reserves, outsider):
    state = market.market_state()
    tx = market.book_surplus(sender=outsider)
    assert tx.return_value == 0
    assert logged(tx, market.SurplusBooked) == []
    assert market.market_state() == state


def test_book_surplus__borrows_outstanding__accrues_first(market, borrowed_for, stablecoin, mint_stable, attacker, chain):
    """Interest is booked before the surplus, so the fee never changes what
    the lenders earn (it was finding F-1 while the fee was booked at the loan)."""
    borrowed_for(10_000 * USD, 5_000 * USD, 30 * DAY)
    mint_stable(attacker, USD)
    stablecoin.transfer(market, USD, sender=attacker)
    tx = market.book_surplus(sender=attacker)
    names = [log.event_name for log in tx.events]
    assert names.index("AccrueInterest") < names.index("SurplusBooked")


def test_withdraw_reserves__unbooked_fee__books_it_first(market, reserves, flash_fee, stablecoin, owner, treasury):
    before = stablecoin.balanceOf(treasury)
    tx = market.withdraw_reserves(reserves + flash_fee, sender=owner)
    assert [log.event_name for log in tx.events if log.event_name in ("SurplusBooked", "ReservesWithdrawn")] == [
        "SurplusBooked",
        "ReservesWithdrawn",
    ]
    assert stablecoin.balanceOf(treasury) == before + reserves + flash_fee
    assert market.market_state()[2] == 0
