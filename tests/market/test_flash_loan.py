"""Flash loans, ERC-3156 to the letter.

The lender lends the base asset only; ``maxFlashLoan`` is its cash. It
sends the funds before calling ``onFlashLoan(initiator=msg.sender, token,
amount, fee, data)``, checks the returned magic value, then pulls ``amount +
fee`` from the receiver with ``transferFrom``. The fee (5 bps, rounded up)
stays in the market as unbooked surplus, which ``book_surplus`` (anyone) or
``withdraw_reserves`` books as reserves after accruing interest
(``test_reserves.py``); the loan itself writes no storage and touches
neither cash nor utilisation.

The receiver is ``FlashBorrowerMock``: ``borrow(...)`` makes the mock the
initiator, and it records what its callback was passed (``last_*``).
"""

import ape
import pytest

from navlend.constants import PAUSE_FLASH_LOAN

USD = 10**6
LENT = 10_000 * USD
# FlashBorrowerMock modes.
MODE_WRONG_RETURN, MODE_NO_APPROVE, MODE_CALL = 1, 2, 3
DATA = b"navlend \x00\x01\x02 flash data" * 5
ZERO = ape.utils.ZERO_ADDRESS


def ceil_fee(amount: int, bps: int = 5) -> int:
    return -(-amount * bps // 10_000)


def logged(tx, event) -> list[dict]:
    return [dict(log.event_arguments) for log in tx.events.filter(event)]


@pytest.fixture
def receiver(project, owner):
    """A scriptable ERC-3156 borrower (well-behaved until told otherwise)."""
    return owner.deploy(project.FlashBorrowerMock)


@pytest.fixture
def funded(market, lend, receiver, mint_stable):
    """10,000 lent; the receiver holds 100 USD to pay fees with."""
    lend(LENT)
    mint_stable(receiver, 100 * USD)
    return market


# ---- maxFlashLoan and flashFee ----


def test_max_flash_loan__base__is_the_cash(market, lend, open_position, collaterals, stablecoin, borrower):
    assert market.maxFlashLoan(stablecoin) == 0
    lend(LENT)
    open_position(collaterals["fund_a"], borrower, 2_000 * USD, 3_000 * USD)
    assert market.maxFlashLoan(stablecoin) == market.market_state()[0] == LENT - 3_000 * USD


def test_max_flash_loan__after_donation__still_the_cash(funded, stablecoin, mint_stable, attacker):
    mint_stable(attacker, USD)
    stablecoin.transfer(funded, USD, sender=attacker)
    assert funded.maxFlashLoan(stablecoin) == LENT < stablecoin.balanceOf(funded)


def test_max_flash_loan__other_token__zero_without_reverting(funded, collaterals, outsider):
    for token in (collaterals["fund_a"].token, collaterals["wrapper"].token, funded.address, outsider.address, ZERO):
        assert funded.maxFlashLoan(token) == 0


def test_max_flash_loan__paused__zero(funded, stablecoin, guardian):
    funded.pause(PAUSE_FLASH_LOAN, sender=guardian)
    assert funded.maxFlashLoan(stablecoin) == 0


def test_flash_fee__base__five_bps_rounded_up(market, stablecoin):
    for amount in (0, 1, 1_999, 2_000, 2_001, USD, 123_456_789, LENT):
        assert market.flashFee(stablecoin, amount) == ceil_fee(amount)
    assert market.flashFee(stablecoin, 1) == 1  # never rounds to zero


def test_flash_fee__after_set_fees__follows_the_new_rate(market, stablecoin, owner):
    market.set_fees(100, 0, sender=owner)
    assert market.flashFee(stablecoin, 123_456_789) == ceil_fee(123_456_789, 100)
    market.set_fees(0, 0, sender=owner)
    assert market.flashFee(stablecoin, 123_456_789) == 0


def test_flash_fee__unsupported_token__reverts(market, collaterals):
    for token in (collaterals["fund_a"].token, ZERO):
        with ape.reverts("market: unsupported token"):
            market.flashFee(token, USD)


# ---- flashLoan ----


def test_flash_loan__via_a_borrower_contract__passes_everything_through(funded, stablecoin, receiver, attacker):
    amount = 4_321 * USD + 7
    fee = funded.flashFee(stablecoin, amount)
    before = stablecoin.balanceOf(receiver)
    tx = receiver.borrow(funded, stablecoin, amount, DATA, sender=attacker)
    assert receiver.last_lender() == funded.address
    assert receiver.last_initiator() == receiver.address  # msg.sender of flashLoan
    assert receiver.last_token() == stablecoin.address
    assert receiver.last_amount() == amount
    assert receiver.last_fee() == fee == ceil_fee(amount)
    assert receiver.last_data() == DATA
    assert receiver.last_balance() == before + amount  # funds arrived before the callback
    assert stablecoin.balanceOf(receiver) == before - fee
    assert logged(tx, funded.FlashLoan) == [
        {"receiver": receiver.address, "initiator": receiver.address, "amount": amount, "fee": fee}
    ]


def test_flash_loan__called_directly__initiator_is_the_caller_and_returns_true(
    funded, stablecoin, receiver, attacker
):
    tx = funded.flashLoan(receiver, stablecoin, USD, b"", sender=attacker)
    assert receiver.last_initiator() == attacker.address
    assert receiver.last_data() == b""
    assert tx.return_value is True
    assert logged(tx, funded.FlashLoan)[0]["initiator"] == attacker.address


def test_flash_loan__whole_cash__lends_it_all(funded, stablecoin, receiver, attacker):
    amount = funded.maxFlashLoan(stablecoin)
    receiver.borrow(funded, stablecoin, amount, b"", sender=attacker)
    assert receiver.last_amount() == amount == LENT


def test_flash_loan__fee__stays_unbooked_until_book_surplus(funded, stablecoin, receiver, attacker, outsider):
    amount = 2_000 * USD + 1
    fee = ceil_fee(amount)
    state = funded.market_state()
    total_assets = funded.totalAssets()
    receiver.borrow(funded, stablecoin, amount, b"", sender=attacker)
    assert funded.market_state() == state  # the loan writes nothing
    assert funded.surplus() == fee == stablecoin.balanceOf(funded) - state[0]
    tx = funded.book_surplus(sender=outsider)
    cash, borrows, reserves, index, scaled = funded.market_state()
    assert (cash, borrows, reserves) == (state[0] + fee, state[1], state[2] + fee)
    assert logged(tx, funded.SurplusBooked) == [{"caller": outsider.address, "amount": fee, "reserves": reserves}]
    assert funded.totalAssets() == total_assets  # the fee is the protocol's, not the lenders'
    assert funded.surplus() == 0


def test_flash_loan__borrows_outstanding__leaves_utilization_and_rate_alone(
    funded, stablecoin, receiver, open_position, collaterals, borrower, owner, advance, chain, attacker
):
    """Measured in the same second as the loan, so interest cannot blur it;
    the fee is set to zero, as a fee does add to cash (it is kept as cash
    for the reserves)."""
    open_position(collaterals["fund_a"], borrower, 2_000 * USD, 6_000 * USD)
    funded.set_fees(0, 0, sender=owner)
    advance(3_600)
    chain.pending_timestamp = chain.blocks.head.timestamp
    before = (funded.utilization(), funded.borrow_rate(), funded.market_state())
    receiver.borrow(funded, stablecoin, funded.maxFlashLoan(stablecoin), b"", sender=attacker)
    assert (funded.utilization(), funded.borrow_rate(), funded.market_state()) == before
    assert before[0] > 0


def test_flash_loan__receiver_does_not_approve__reverts(funded, stablecoin, receiver, attacker):
    receiver.set_mode(MODE_NO_APPROVE, ZERO, b"", sender=attacker)
    with ape.reverts("erc20: insufficient allowance"):
        receiver.borrow(funded, stablecoin, USD, b"", sender=attacker)


def test_flash_loan__wrong_return_value__reverts_callback_failed(funded, stablecoin, receiver, attacker):
    receiver.set_mode(MODE_WRONG_RETURN, ZERO, b"", sender=attacker)
    with ape.reverts("market: callback failed"):
        receiver.borrow(funded, stablecoin, USD, b"", sender=attacker)


def test_flash_loan__more_than_the_market_holds__reverts_in_the_token(funded, stablecoin, receiver, attacker):
    held = stablecoin.balanceOf(funded)
    with ape.reverts("erc20: transfer amount exceeds balance"):
        receiver.borrow(funded, stablecoin, held + 1, b"", sender=attacker)
    assert stablecoin.balanceOf(funded) == held


def test_flash_loan__donated_tokens__may_be_lent_and_come_back(funded, stablecoin, receiver, mint_stable, attacker):
    """Above the cash but within what the market holds: the donation is
    lent for one call and returns with its fee, harmlessly."""
    mint_stable(attacker, LENT)
    stablecoin.transfer(funded, LENT, sender=attacker)
    receiver.borrow(funded, stablecoin, LENT + 1, b"", sender=attacker)
    assert funded.market_state()[0] == LENT
    assert funded.surplus() == LENT + ceil_fee(LENT + 1)


def test_flash_loan__data_over_the_limit__reverts(funded, stablecoin, receiver, attacker):
    """``data`` is capped at 2,048 bytes (MAX_FLASH_DATA); one byte more is
    rejected by the ABI decoder before anything moves."""
    funded.flashLoan(receiver, stablecoin, USD, b"\x01" * 2_048, sender=attacker)
    assert len(receiver.last_data()) == 2_048
    with ape.reverts():
        funded.flashLoan(receiver, stablecoin, USD, b"\x01" * 2_049, sender=attacker)


def test_flash_loan__zero_amount__reverts(funded, stablecoin, receiver, attacker):
    with ape.reverts("market: zero amount"):
        receiver.borrow(funded, stablecoin, 0, b"", sender=attacker)


def test_flash_loan__unsupported_token__reverts(funded, collaterals, receiver, attacker):
    with ape.reverts("market: unsupported token"):
        receiver.borrow(funded, collaterals["fund_a"].token, 1, b"", sender=attacker)


def test_flash_loan__paused__reverts(funded, stablecoin, receiver, guardian, attacker):
    funded.pause(PAUSE_FLASH_LOAN, sender=guardian)
    with ape.reverts("market: flash loans paused"):
        receiver.borrow(funded, stablecoin, USD, b"", sender=attacker)
    funded.unpause(PAUSE_FLASH_LOAN, 0, sender=guardian)
    receiver.borrow(funded, stablecoin, USD, b"", sender=attacker)


def test_flash_loan__callback_deposits_into_the_market__deposit_succeeds(
    funded, stablecoin, receiver, mint_stable, attacker, lender2
):
    """flashLoan is outside the global lock on purpose (see Market's
    @custom:security): the callback may use the market, here to lend, and
    the deposit is booked; the fee is left as surplus."""
    deposit = 300 * USD
    mint_stable(receiver, deposit)  # the loan is repaid in full: the deposit is the receiver's own money
    # The mock approves the market only after its call, so give it a
    # standing approval first by invoking its (unguarded) callback directly.
    receiver.set_mode(MODE_CALL, stablecoin, stablecoin.approve.encode_input(funded, deposit), sender=attacker)
    receiver.onFlashLoan(attacker, stablecoin, 0, 0, b"", sender=attacker)
    assert stablecoin.allowance(receiver, funded) == deposit
    # Then lend from inside a real flash loan, with part of the loan.
    receiver.set_mode(MODE_CALL, funded, funded.deposit.encode_input(deposit, lender2), sender=attacker)
    mint_shares = funded.previewDeposit(deposit)
    amount = 1_000 * USD
    fee = ceil_fee(amount)
    stable_before = stablecoin.balanceOf(receiver)
    tx = receiver.borrow(funded, stablecoin, amount, b"", sender=attacker)
    assert logged(tx, funded.Deposit) == [
        {"sender": receiver.address, "owner": lender2.address, "assets": deposit, "shares": mint_shares}
    ]
    assert len(logged(tx, funded.FlashLoan)) == 1
    assert funded.balanceOf(lender2) == mint_shares
    cash, _, reserves, _, _ = funded.market_state()
    assert (cash, reserves, funded.surplus()) == (LENT + deposit, 0, fee)
    assert stablecoin.balanceOf(receiver) == stable_before - deposit - fee


def test_flash_loan__callback_books_surplus__books_nothing_while_the_loan_is_out(
    funded, stablecoin, receiver, attacker
):
    """Inside the callback the market holds less than its cash, so an
    attacker's ``book_surplus`` there finds nothing to book; the fee is
    booked only once the loan is back."""
    receiver.set_mode(MODE_CALL, funded, funded.book_surplus.encode_input(), sender=attacker)
    state = funded.market_state()
    tx = receiver.borrow(funded, stablecoin, USD, b"", sender=attacker)
    assert logged(tx, funded.SurplusBooked) == []
    assert funded.market_state() == state
    assert funded.surplus() == ceil_fee(USD)
