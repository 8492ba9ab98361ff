"""Regression: ERC-3156 lenders that do not check the callback.

The exploit class (ERC-3156, Security Considerations; flash-loan abuse,
class 13 of docs/exploit-classes.md): a lender that ignores ``onFlashLoan``'s return
value, or that collects repayment from whoever approved it rather than from
the receiver, lets anyone name a victim as the "receiver". The victim is
any account holding an approval to the lender (an EOA that approved it to
deposit later, or a contract whose fallback accepts any call): the
attacker borrows in the victim's name and the lender takes the fee, or the
whole repayment, out of the victim's approval.

Why navlend resists: ``flashLoan`` requires the exact magic value
``keccak256("ERC3156FlashBorrower.onFlashLoan")`` back from the receiver
("market: callback failed"), and then pulls ``amount + fee`` from the
RECEIVER with ``transferFrom``, never from the initiator or anyone else.
Checking who initiated a loan is the receiver's job (the spec's
``initiator`` argument, which the market passes faithfully).
"""

import ape
import pytest

USD = 10**6
LOAN = 1_000 * USD
ZERO = ape.utils.ZERO_ADDRESS
MODE_WRONG_RETURN, MODE_NO_APPROVE = 1, 2


@pytest.fixture
def receiver(project, owner, market, lend, mint_stable):
    """A FlashBorrowerMock holding 10 USD for fees, in a market with cash."""
    lend(10_000 * USD)
    mock = owner.deploy(project.FlashBorrowerMock)
    mint_stable(mock, 10 * USD)
    return mock


def approve_everything(market, stablecoin, mint_stable, victim):
    """The victim: an EOA holding 1,000 USD that approved the market without limit."""
    mint_stable(victim, LOAN)
    stablecoin.approve(market, 2**256 - 1, sender=victim)


def test_flash_loan__receiver_returns_the_wrong_value__cannot_borrow(
    market, stablecoin, receiver, attacker
):
    """Even a receiver that approves the repayment is refused a loan when
    it does not return the magic value."""
    receiver.set_mode(MODE_WRONG_RETURN, ZERO, b"", sender=attacker)
    books = market.market_state()
    with ape.reverts("market: callback failed"):
        market.flashLoan(receiver, stablecoin, LOAN, b"", sender=attacker)
    assert market.market_state() == books
    assert stablecoin.balanceOf(receiver) == 10 * USD


def test_flash_loan__an_approving_eoa_as_receiver__cannot_be_drained(
    market, stablecoin, receiver, mint_stable, lender2, attacker
):
    victim = lender2
    approve_everything(market, stablecoin, mint_stable, victim)
    reserves = market.market_state()[2]
    with ape.reverts():  # an EOA returns no magic value
        market.flashLoan(victim, stablecoin, LOAN, b"", sender=attacker)
    assert stablecoin.balanceOf(victim) == LOAN
    assert stablecoin.allowance(victim, market) == 2**256 - 1
    assert market.market_state()[2] == reserves


def test_flash_loan__initiator_approved_but_receiver_not__pulls_only_from_the_receiver(
    market, stablecoin, receiver, mint_stable, attacker
):
    """If the market pulled from the initiator, the initiator's approval
    would repay this loan; it pulls from the receiver, which approved
    nothing, so the loan reverts."""
    mint_stable(attacker, 2 * LOAN)
    stablecoin.approve(market, 2**256 - 1, sender=attacker)
    receiver.set_mode(MODE_NO_APPROVE, ZERO, b"", sender=attacker)
    with ape.reverts("erc20: insufficient allowance"):
        market.flashLoan(receiver, stablecoin, LOAN, b"", sender=attacker)
    assert stablecoin.balanceOf(attacker) == 2 * LOAN


def test_flash_loan__someone_elses_loan__charges_neither_bystanders_nor_the_initiator(
    market, stablecoin, receiver, mint_stable, lender2, attacker
):
    """A third party's loan to a receiver that accepts it costs the victim
    and the initiator nothing; the receiver pays the fee and is told who
    initiated (so a careful receiver could refuse)."""
    victim = lender2
    approve_everything(market, stablecoin, mint_stable, victim)
    fee = market.flashFee(stablecoin, LOAN)
    market.flashLoan(receiver, stablecoin, LOAN, b"", sender=attacker)
    assert receiver.last_initiator() == attacker.address
    assert stablecoin.balanceOf(receiver) == 10 * USD - fee
    assert stablecoin.balanceOf(victim) == LOAN
    assert stablecoin.allowance(victim, market) == 2**256 - 1
    assert stablecoin.balanceOf(attacker) == 0
