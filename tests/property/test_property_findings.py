"""Contract findings of the property suite (AUDIT.md, "Findings").

Each finding is pinned by a plain test: a fixed one asserts the fixed
behaviour (a regression test); an accepted one would assert its exact,
bounded consequence, so any change to it fails loudly. Both findings are
fixed: F-1 (flash fee booked before an accrual) and F-2 (supply-cap carry).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from propkit.harness import Harness

from navlend import model as M

U = 10**6


def _lender_and_borrower_after_30_quiet_days(w, h: Harness) -> str:
    """lender0 lends 1,000,000; borrower0 borrows 800,000 against fund A
    (80 % utilisation); 30 days pass without an accrual. Returns the
    borrower."""
    lender, b = str(w.actors["lender0"]), str(w.actors["borrower0"])
    now = h.now()
    assert h.run("deposit", lambda m: m.deposit(lender, 1_000_000 * U, lender, now), lambda: w.market.deposit(1_000_000 * U, lender, sender=lender)).ok
    h.run("supply", lambda m: m.supply_collateral(b, str(w.fund_a.address), 100_000 * U, b), lambda: w.market.supply_collateral(w.fund_a, 100_000 * U, b, sender=b))
    assert h.run("borrow", lambda m: m.borrow(b, 800_000 * U, b, b, now, h.feed), lambda: w.market.borrow(800_000 * U, b, b, sender=b)).ok
    w.env.time_travel(seconds=30 * 86_400)
    h.invalidate_prices()
    return b


@dataclass(frozen=True)
class _Books:
    """What the lenders, the protocol and the borrower end with."""

    total_assets: int
    total_supply: int
    reserves: int
    debt: int
    booked: int


def _after_book_surplus(w, flash_amount: int) -> _Books:
    """The 30-quiet-days market, a flash loan of ``flash_amount`` (none if
    0) by the attacker's receiver, then the attacker's book_surplus; every
    step checked against the model, events included."""
    with w.env.anchor():
        h = Harness(w)
        b = _lender_and_borrower_after_30_quiet_days(w, h)
        attacker, mock = str(w.actors["attacker"]), str(w.flash_borrower.address)
        now = h.now()
        if flash_amount:
            out = h.run(
                "flash loan",
                lambda m: m.flash_loan(mock, mock, flash_amount),
                lambda: w.flash_borrower.borrow(w.market, w.stablecoin, flash_amount, b"", sender=attacker),
            )
            assert out.ok
            h.check_invariants()
        out = h.run("book_surplus", lambda m: m.book_surplus(attacker, now), lambda: w.admin.book_surplus(sender=attacker))
        assert out.ok and out.value == out.expected
        reserves = w.admin.market_state()[2]
        if out.value:
            assert h.chain_events() == [("SurplusBooked", attacker.lower(), out.value, reserves)]
        else:
            assert h.chain_events() == []
        h.check_invariants()
        return _Books(w.admin.totalAssets(), w.market.totalSupply(), reserves, w.admin.debt_of(b), out.value)


def test_flash_loan__30_days_unaccrued__book_surplus_leaves_lenders_as_without_the_loan(evm_world):
    """F-1 (fixed by the flash-loan gas change, AUDIT.md section 5): a flash
    loan used to book its fee into cash before accruing, so the 30 days of
    pending interest were computed at a lower utilisation and the lenders
    lost part of it ($0.16 on a $75 fee here). Now the loan leaves the books
    alone and book_surplus books the fee after accruing. Pinned exactly,
    against the same market without the loan: the lenders' share price
    (totalAssets and supply) and the borrower's debt are equal to the unit,
    and the reserves are higher by exactly the fee."""
    w = evm_world
    amount = 150_000 * U
    fee = M.flash_fee(amount, 5)
    assert fee == 75 * U

    with_loan = _after_book_surplus(w, amount)
    without = _after_book_surplus(w, 0)

    assert (with_loan.total_assets, with_loan.total_supply) == (without.total_assets, without.total_supply)
    assert with_loan.debt == without.debt
    assert with_loan.reserves == without.reserves + fee
    assert (with_loan.booked, without.booked) == (fee, 0)


def test_supply_cap_holds_for_amounts_past_2_120(evm_world):
    """F-2 (fixed in 1752184, found independently while this suite pinned
    it): posting more than the supply cap reverts with "market: supply cap
    exceeded" even for k x 2^120 + r units (a packed add used to carry k
    into the cap field). Now a regression test."""
    w = evm_world
    with w.env.anchor():
        b = w.actors["borrower0"]
        cap = 10**24
        w.admin.set_asset_limits(w.fund_c, cap, 10**8, 360_000)
        amount = 2**120 + 5
        w.fund_c.mint(b, amount)
        from propkit.world import Reverted

        with pytest.raises(Reverted, match="supply cap exceeded"):
            w.market.supply_collateral(w.fund_c, amount, b, sender=b)
