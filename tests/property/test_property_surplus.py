"""The unbooked surplus at its boundaries, against the reference model.

A flash loan leaves its fee in the market unbooked, like a donation of the
base asset; ``book_surplus`` (anyone) and ``withdraw_reserves`` book the
base asset held beyond the cash into cash and reserves alike, after
accruing. Each path has a positive and a negative case; every call runs on
the model and the contract (``Harness.run``: same result or same revert
reason, same FlashLoan and SurplusBooked events), and the events are
asserted here as well.
"""

from __future__ import annotations

import pytest
from propkit.harness import Harness
from propkit.machine import MODE_CALL

from navlend import model as M

U = 10**6


def _lent(w, h: Harness, amount: int = 1_000_000 * U) -> None:
    """lender0 lends ``amount``."""
    lender, now = str(w.actors["lender0"]), h.now()
    assert h.run("deposit", lambda m: m.deposit(lender, amount, lender, now), lambda: w.market.deposit(amount, lender, sender=lender)).ok


def _donate(w, h: Harness, amount: int) -> None:
    """The attacker sends base asset straight to the market."""
    w.stablecoin.transfer(w.market, amount, sender=w.actors["attacker"])
    h.model.receive_base(amount)
    h.ghost.base_donated += amount


def _book_surplus(w, h: Harness, who: str = "attacker"):
    caller = str(w.actors[who])
    now = h.now()
    return h.run("book_surplus", lambda m: m.book_surplus(caller, now), lambda: w.admin.book_surplus(sender=caller))


def _flash(w, h: Harness, amount: int, inner=None):
    """The attacker's receiver borrows ``amount``; ``inner``: (calldata
    replayed on the market from the callback, the same call on the model)."""
    attacker, mock = str(w.actors["attacker"]), str(w.flash_borrower.address)
    callback = None
    if inner is not None:
        payload, callback = inner
        w.flash_borrower.set_mode(MODE_CALL, w.market.address, payload, sender=attacker)
    return h.run(
        "flash loan",
        lambda m: m.flash_loan(mock, mock, amount, callback),
        lambda: w.flash_borrower.borrow(w.market, w.stablecoin, amount, b"", sender=attacker),
    )


def _surplus_booked(w, who: str, amount: int, reserves: int) -> list[tuple]:
    return [("SurplusBooked", str(w.actors[who]).lower(), amount, reserves)]


# ---- book_surplus at rest ----


def test_book_surplus__donation_of_one_unit__books_it_as_reserves(evm_world):
    """The smallest surplus there is: one base unit held over the cash is
    booked into cash and reserves, the lenders' assets unchanged."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        _lent(w, h)
        _donate(w, h, 1)
        assert w.admin.surplus() == 1
        lenders = w.admin.totalAssets()

        out = _book_surplus(w, h)

        assert out.ok and out.value == 1
        assert h.chain_events() == _surplus_booked(w, "attacker", 1, 1)
        assert tuple(w.admin.market_state())[:3:2] == (1_000_000 * U + 1, 1)
        assert w.admin.totalAssets() == lenders and w.admin.surplus() == 0
        h.check_invariants()


def test_book_surplus__nothing_held_over_cash__books_nothing_and_logs_nothing(evm_world):
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        _lent(w, h)
        assert w.admin.surplus() == 0

        out = _book_surplus(w, h, "lender0")

        assert out.ok and out.value == 0
        assert h.chain_events() == []
        assert tuple(w.admin.market_state())[:3:2] == (1_000_000 * U, 0)
        h.check_invariants()


def test_book_surplus__flash_fee__books_it_after_accruing(evm_world):
    """A borrower pays interest; a day later the attacker's flash loan
    leaves its fee unbooked (the books do not move) and book_surplus
    accrues the day, then books the fee on top of the accrued reserves."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        _lent(w, h)
        b, now = str(w.actors["borrower0"]), h.now()
        h.run("supply", lambda m: m.supply_collateral(b, str(w.fund_a.address), 100_000 * U, b), lambda: w.market.supply_collateral(w.fund_a, 100_000 * U, b, sender=b))
        assert h.run("borrow", lambda m: m.borrow(b, 500_000 * U, b, b, now, h.feed), lambda: w.market.borrow(500_000 * U, b, b, sender=b)).ok
        w.env.time_travel(seconds=86_400)
        h.invalidate_prices()
        books = tuple(w.admin.market_state())

        out = _flash(w, h, 400_000 * U)

        assert out.ok and out.expected == 200 * U
        assert tuple(w.admin.market_state()) == books and w.admin.surplus() == 200 * U
        accrued = h.model.accrued(h.now()).reserves
        assert accrued > 0
        out = _book_surplus(w, h)
        assert out.ok and out.value == 200 * U
        assert h.chain_events() == _surplus_booked(w, "attacker", 200 * U, accrued + 200 * U)
        h.check_invariants()


# ---- book_surplus inside a flash loan's callback ----


def _book_surplus_inside_flash(w, h: Harness, donated: int, amount: int):
    """lender0 lends 1,000,000, the attacker donates ``donated``, then its
    receiver borrows ``amount`` and calls book_surplus from the callback."""
    _lent(w, h)
    _donate(w, h, donated)
    mock = str(w.flash_borrower.address)
    return _flash(w, h, amount, (w.admin.book_surplus.prepare_calldata(), lambda m: m.book_surplus(mock, h.now())))


def test_book_surplus__inside_callback__books_nothing(evm_world):
    """While the loan is out the market holds its cash plus the surplus
    less the loan: with a surplus below the loan, nothing is above the
    cash, so nothing is booked (and nothing reverts); the fee and the
    earlier surplus are booked after the loan."""
    w = evm_world
    mock = str(w.flash_borrower.address)
    with w.env.anchor():
        h = Harness(w)

        out = _book_surplus_inside_flash(w, h, 50 * U, 100_000 * U)

        assert out.ok
        assert h.chain_events() == [("FlashLoan", mock.lower(), mock.lower(), 100_000 * U, 50 * U)]
        assert w.admin.surplus() == 100 * U and h.model.reserves == 0
        h.check_invariants()


def test_book_surplus__inside_callback__books_what_the_loan_leaves_above_cash(evm_world):
    """A surplus of 500 and a loan of 100: inside the callback the market
    holds 400 above its cash, and books exactly that; after the loan it
    holds the loan's 100 plus its fee above the new cash."""
    w = evm_world
    mock, fee = str(w.flash_borrower.address), M.flash_fee(100 * U, 5)
    with w.env.anchor():
        h = Harness(w)

        out = _book_surplus_inside_flash(w, h, 500 * U, 100 * U)

        assert out.ok
        assert h.chain_events() == [
            ("SurplusBooked", mock.lower(), 400 * U, 400 * U),
            ("FlashLoan", mock.lower(), mock.lower(), 100 * U, fee),
        ]
        assert h.model.cash == 1_000_400 * U and w.admin.surplus() == 100 * U + fee
        h.check_invariants()


def test_surplus_view__inside_callback__zero_below_cash(evm_world):
    """The ``surplus`` view from inside the callback: the balance held is
    below the cash, so it reports zero (it would underflow otherwise)."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        _lent(w, h)
        inner = (w.admin.surplus.prepare_calldata(), None)

        out = _flash(w, h, 1_000 * U, inner)

        assert out.ok and w.admin.surplus() == M.flash_fee(1_000 * U, 5)
        h.check_invariants()


# ---- withdraw_reserves books first ----


@pytest.mark.parametrize(("extra", "reason"), [(0, None), (1, "market: exceeds reserves")])
def test_withdraw_reserves__flash_fee_only__books_it_first(evm_world, extra, reason):
    """No interest has accrued, so the only reserves are a flash fee still
    unbooked: withdraw_reserves books it (SurplusBooked, caller the owner)
    and may pay it all to the treasury, not one unit more."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        _lent(w, h)
        assert _flash(w, h, 200_000 * U).ok
        fee, owner, now = 100 * U, str(w.owner), h.now()
        treasury = h.base_balance(w.treasury)

        out = h.run("withdraw_reserves", lambda m: m.withdraw_reserves(owner, fee + extra, now), lambda: w.admin.withdraw_reserves(fee + extra, sender=owner))

        if reason is None:
            assert out.ok
            assert h.chain_events() == [("SurplusBooked", owner.lower(), fee, fee)]
            assert h.base_balance(w.treasury) == treasury + fee
            assert tuple(w.admin.market_state())[:3:2] == (1_000_000 * U, 0)
        else:
            assert not out.ok and out.reason == reason and w.admin.surplus() == fee
        h.check_invariants()


def test_reserves__borrowed_out__exceed_cash_and_book_surplus_still_books(evm_world):
    """Reserves are not bounded by cash (why the suite checks reserves <=
    cash + borrows, not <= cash): borrowers take the cash, interest
    accrues to reserves, so reserves > cash = 0; a flash loan of the fee's
    worth is then out of the question (nothing held), but a donation is
    booked, and the reserves still cannot be withdrawn beyond the cash."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        _lent(w, h, 100_000 * U)
        b, now = str(w.actors["borrower0"]), h.now()
        h.run("supply", lambda m: m.supply_collateral(b, str(w.fund_a.address), 100_000 * U, b), lambda: w.market.supply_collateral(w.fund_a, 100_000 * U, b, sender=b))
        assert h.run("borrow", lambda m: m.borrow(b, 100_000 * U, b, b, now, h.feed), lambda: w.market.borrow(100_000 * U, b, b, sender=b)).ok
        w.env.time_travel(seconds=30 * 86_400)
        h.invalidate_prices()
        assert not _flash(w, h, 1).ok
        _donate(w, h, 10 * U)

        assert _book_surplus(w, h).value == 10 * U

        cash, _, reserves, _, _ = w.admin.market_state()
        assert reserves > cash == 10 * U
        owner, now = str(w.owner), h.now()
        out = h.run("withdraw_reserves", lambda m: m.withdraw_reserves(owner, cash + 1, now), lambda: w.admin.withdraw_reserves(cash + 1, sender=owner))
        assert not out.ok and out.reason == "market: insufficient cash"
        h.check_invariants()


# ---- flash loans beyond the cash ----


@pytest.mark.parametrize(("over", "ok"), [(0, True), (1, False)])
def test_flash_loan__above_cash__lends_the_surplus_and_no_more(evm_world, over, ok):
    """``maxFlashLoan`` is the cash, but the market lends what it holds:
    the cash plus an unbooked surplus of 7 units succeeds, one unit more
    fails in the token."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        _lent(w, h)
        _donate(w, h, 7)
        assert w.admin.maxFlashLoan(w.stablecoin) == 1_000_000 * U

        out = _flash(w, h, 1_000_000 * U + 7 + over)

        assert out.ok == ok
        if not ok:
            assert out.reason == M.TOKEN_EXCEEDS_BALANCE
        h.check_invariants()


@pytest.mark.parametrize(("size", "ok"), [(2_048, True), (2_049, False)])
def test_flash_loan__data_up_to_2048_bytes__reaches_the_callback(evm_world, size, ok):
    """``MAX_FLASH_DATA`` is 2,048 bytes: that much is passed through to the
    callback unchanged; one byte more is rejected by the market's ABI
    decoder, a revert without a reason that the model cannot see."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        _lent(w, h)
        data = bytes(range(256)) * (size // 256) + b"\x07" * (size % 256)
        mock = str(w.flash_borrower.address)

        out = h.run(
            f"flash loan with {size} bytes of data",
            lambda m: m.flash_loan(mock, mock, 10 * U),
            lambda: w.flash_borrower.borrow(w.market, w.stablecoin, 10 * U, data, sender=w.actors["attacker"]),
            expect_reason=None if ok else "",
        )

        assert out.ok == ok
        if ok:
            assert w.flash_borrower.last_data() == data
        h.check_invariants()
