"""Contract findings of the property suite (AUDIT.md, "Findings").

Each finding is pinned by a plain test: a fixed one asserts the fixed
behaviour (a regression test); an accepted one asserts its exact,
bounded consequence, so any change to it fails loudly.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from propkit.harness import Harness

from navlend import model as M

U = 10**6


def test_flash_loan__fee_before_accrual__moves_share_price_exactly_as_modelled(evm_world):
    """F-1 (accepted, AUDIT.md section 5): ``flashLoan`` books its fee into
    cash without accruing first (accruing there would cost ~7,000 gas on
    every flash loan), so the interest pending since the last accrual is
    later computed at the slightly lower post-fee utilisation. This test
    pins the exact consequence rather than tolerating it loosely:

    - the contract's share price after the loan equals the model's
      prediction exactly (fee into cash and reserves, then the pending
      period accrued at the post-fee utilisation);
    - the lenders' loss is a small fraction of the fee the flash borrower
      pays into reserves (here, 30 days unaccrued at 80 % utilisation: a
      $75 fee costs lenders $0.16, 0.21 %), so the move is no griefing tool;
      the pending interest is what borrowers stop owing."""
    w = evm_world
    with w.env.anchor():
        lender, b, attacker = str(w.actors["lender0"]), str(w.actors["borrower0"]), str(w.actors["attacker"])
        w.market.deposit(1_000_000 * U, lender, sender=lender)
        w.market.supply_collateral(w.fund_a, 100_000 * U, b, sender=b)
        w.market.borrow(800_000 * U, b, b, sender=b)
        w.env.time_travel(seconds=30 * 86_400)
        h = Harness(w)
        now = h.now()
        supply = w.market.totalSupply() + M.VIRTUAL_SHARES

        def price(total_assets: int) -> Fraction:
            return Fraction(total_assets + M.VIRTUAL_ASSETS, supply)

        before = price(w.market.totalAssets())
        assert before == price(h.model.total_assets(now))
        amount = 150_000 * U
        fee = h.model.flash_loan_checks(amount)
        assert fee > 0
        predicted = h.model.clone()
        predicted.flash_loan_settle(fee)
        debt_before = w.admin.debt_of(b)

        w.flash_borrower.borrow(w.market, w.stablecoin, amount, b"", sender=attacker)

        after = price(w.market.totalAssets())
        assert after == price(predicted.total_assets(now)), "share price differs from the model's F-1 prediction"
        lenders_loss = (before - after) * supply
        assert 0 <= lenders_loss < Fraction(fee, 100), f"lenders lost {float(lenders_loss)} base units for a {fee} fee"
        assert w.admin.debt_of(b) <= debt_before


def test_supply_cap_holds_for_amounts_past_2_120(evm_world):
    """F-2 (fixed in 1752184, found independently while this suite pinned
    it): posting more than the supply cap reverts with "market: supply cap
    exceeded" even for k x 2^120 + r units (a packed add used to carry k
    into the cap field). Now a regression test."""
    w = evm_world
    with w.env.anchor():
        b = w.actors["borrower0"]
        cap = 10**24
        w.admin.set_asset_limits(w.fund_b, cap, 10**8, 360_000)
        amount = 2**120 + 5
        w.fund_b.mint(b, amount)
        from propkit.world import Reverted

        with pytest.raises(Reverted, match="supply cap exceeded"):
            w.market.supply_collateral(w.fund_b, amount, b, sender=b)
