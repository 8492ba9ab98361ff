"""Market v2's rules at exact points, each checked against the reference
model: a lower pending NAV caps borrowing, an owner its fund froze can
neither borrow nor withdraw, a sub-dust remnant is swept and its debt
written off, and a broken feed's asset cannot be seized by value.

The state machine reaches these through its issuer rules
(``propkit/issuer_rules.py``), but the mutation profile's short runs
rarely line them up; each test here kills a mutant that the machine alone
let survive (M20, M77-M80; AUDIT.md section 7).
"""

from __future__ import annotations

import pytest
from propkit.harness import Harness
from propkit.world import MAX_UINT, Reverted
from test_property_boundaries import _liquidate  # fund A, share route, by the liquidator

from navlend import model as M

U = 10**6
FUND_A_POSTED = 20_000 * U  # 210,000 USD at the world's $10.50 NAV


def _lent_and_posted(w, h) -> str:
    """lender0 lends 1,000,000; borrower0 posts 20,000 fund A."""
    b, lender = str(w.actors["borrower0"]), str(w.actors["lender0"])
    now = h.now()
    assert h.run("deposit", lambda m: m.deposit(lender, 1_000_000 * U, lender, now),
                 lambda: w.market.deposit(1_000_000 * U, lender, sender=lender)).ok
    assert h.run("supply", lambda m: m.supply_collateral(b, str(w.fund_a.address), FUND_A_POSTED, b),
                 lambda: w.market.supply_collateral(w.fund_a, FUND_A_POSTED, b, sender=b)).ok
    return b


def _borrow(w, h, b: str, amount: int):
    now = h.now()
    return h.run("borrow", lambda m: m.borrow(b, amount, b, b, now, h.feed),
                 lambda: w.market.borrow(amount, b, b, sender=b))


def _withdraw(w, h, b: str, token, amount: int):
    now = h.now()
    return h.run("withdraw collateral",
                 lambda m: m.withdraw_collateral(b, str(token.address), amount, b, b, now, h.feed),
                 lambda: w.market.withdraw_collateral(token, amount, b, b, sender=b))


def _publish(w, h, oracle, bps: int) -> bool:
    """Publishes the oracle's NAV moved by ``bps`` (after its minimum
    interval); returns whether it applied (False: parked as pending)."""
    nav, as_of = h.nav_round(oracle)
    gap = h.now() - as_of
    if gap < w.config.nav_min_interval:
        w.env.time_travel(seconds=w.config.nav_min_interval - gap)
    applied = oracle.publish(nav * (10_000 + bps) // 10_000, h.now(), sender=w.updater)
    h.invalidate_prices()
    return applied


def test_pending_lower_nav__borrow_at_the_old_nav__refused_within_the_pending_one_lent(evm_world):
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        b = _lent_and_posted(w, h)
        old_limit = h.model.position(b, h.now(), h.feed)[2]
        assert not _publish(w, h, w.oracle_a, -3_000)  # parked for the guardian
        assert h.nav_pending(w.oracle_a) and h.feed(0)[2] == h.nav_pending(w.oracle_a)
        pending_limit = h.model.position(b, h.now(), h.feed)[2]
        assert pending_limit < old_limit * 71 // 100
        out = _borrow(w, h, b, old_limit)
        assert not out.ok and out.reason == "market: exceeds borrow limit"
        assert _borrow(w, h, b, pending_limit).ok
        # Liquidation keeps the confirmed NAV: the position is healthy.
        assert tuple(w.admin.position(b))[4] > M.WAD
        h.check_invariants()


def test_frozen_owner__borrow_and_withdraw_refused__unfrozen_both_work(evm_world):
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        b = _lent_and_posted(w, h)
        w.fund_a.freeze(b, sender=w.owner)
        h.model.blocked = frozenset({(b.lower(), 0)})
        out = _borrow(w, h, b, 1_000 * U)
        assert not out.ok and out.reason == "market: owner not compliant"
        out = _withdraw(w, h, b, w.fund_a, U)
        assert not out.ok and out.reason == "market: owner not compliant"
        w.fund_a.unfreeze(b, sender=w.owner)
        h.model.blocked = frozenset()
        assert _borrow(w, h, b, 1_000 * U).ok
        assert _withdraw(w, h, b, w.fund_a, U).ok
        h.check_invariants()


def test_sub_dust_remnant__liquidation_sweeps_it_and_writes_the_debt_off(evm_world):
    """170,000 borrowed against fund A (210,000) and one fund C share
    (~$1.05); fund A's NAV falls 30 % (confirmed): a full liquidation
    takes all fund A, which leaves ~27,000 owing against $1 of fund C. The
    share goes to the treasury and the rest of the debt is written off."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        b = _lent_and_posted(w, h)
        fund_c = w.tokens[1]
        assert h.run("supply", lambda m: m.supply_collateral(b, str(fund_c.address), 10**18, b),
                     lambda: w.market.supply_collateral(fund_c, 10**18, b, sender=b)).ok
        assert _borrow(w, h, b, 170_000 * U).ok
        assert not _publish(w, h, w.oracle_a, -3_000)
        w.oracle_a.confirm_pending(sender=w.guardian)
        h.invalidate_prices()
        treasury = str(w.treasury)
        before = h.model.balance(treasury, 1)
        assert _liquidate(w, h, b).ok
        assert h.model.scaled.get(b, 0) == 0 and h.model.balance(b, 1) == 0
        assert h.model.balance(treasury, 1) == before + 10**18
        assert w.admin.collateral_of(b, fund_c) == 0 and w.admin.debt_of(b) == 0
        h.check_invariants()


def test_sub_dust_remnant_worth_more_than_the_debt_left__kept(evm_world):
    """The same position with a $500 fund C remnant and a repayment that
    leaves less than $500 owing: solvent, so nothing is swept."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        b = _lent_and_posted(w, h)
        fund_c = w.tokens[1]
        remnant = 476 * 10**18  # ~$500 at $1.05
        assert h.run("supply", lambda m: m.supply_collateral(b, str(fund_c.address), remnant, b),
                     lambda: w.market.supply_collateral(fund_c, remnant, b, sender=b)).ok
        assert _borrow(w, h, b, 143_000 * U).ok
        assert not _publish(w, h, w.oracle_a, -3_000)
        w.oracle_a.confirm_pending(sender=w.guardian)
        h.invalidate_prices()
        assert _liquidate(w, h, b).ok
        debt_left = h.model.debt(b, h.now())
        assert 0 < debt_left < 500 * U and h.model.balance(b, 1) == remnant
        h.check_invariants()


def test_broken_feed__seizing_that_asset__refused_bad_price(evm_world):
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        owner = str(w.owner)
        b = _lent_and_posted(w, h)
        feed = w.d.deploy("mocks/MockAggregator.vy", 8, 10 * 10**8)
        w.admin.set_asset_oracle(w.fund_a, feed, sender=owner)
        w.market.borrow(150_000 * U, b, b, sender=b)
        feed.set_answer(0, 0, sender=owner)
        assert tuple(w.admin.asset_price(w.fund_a)) == (0, True)
        assert tuple(w.admin.preview_liquidation(b, w.fund_a, MAX_UINT)) == (0, 0)
        liq = str(w.actors["liquidator"])
        with pytest.raises(Reverted, match="market: bad price"):
            w.market.liquidate(b, w.fund_a, MAX_UINT, 0, False, liq, sender=liq)
