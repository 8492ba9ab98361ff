"""Exact boundaries that random sequences almost never hit, each checked
against the reference model: HF exactly 1 and exactly 0.95, debt exactly
the small-position threshold, the oracle age limit to the second, the
parameter bounds, share-route slippage, maxWithdraw bounded by cash, a
non-positive price, the liquidation grace period in the preview.

(Found by the mutation runner: each test kills a boundary mutant that the
state machine alone let survive; see AUDIT.md.)
"""

from __future__ import annotations

import pytest
from propkit import invariants as I
from propkit.world import MAX_UINT
from propkit.harness import Harness

from navlend import model as M

U = 10**6
# Fund C posted in the two-asset position: 60,000 USD at its $1.05 NAV.
FUND_C_POSTED = 57_143 * 10**18


def _position(w, h, threshold: int, ltv: int = 8_000, debt_units: int = 178_500, small: int | None = None):
    """borrower0 posts 20,000 fund A (NAV 10.50: worth 210,000), borrows
    ``debt_units`` at the same timestamp (index 1.0: debt exact), then the
    owner sets (ltv, threshold) so that the liquidation value is exact."""
    owner, b, lender = str(w.owner), str(w.actors["borrower0"]), str(w.actors["lender0"])
    now = h.now()
    h.run("deposit", lambda m: m.deposit(lender, 1_000_000 * U, lender, now), lambda: w.market.deposit(1_000_000 * U, lender, sender=lender))
    h.run("supply", lambda m: m.supply_collateral(b, str(w.fund_a.address), 20_000 * U, b), lambda: w.market.supply_collateral(w.fund_a, 20_000 * U, b, sender=b))
    out = h.run("borrow", lambda m: m.borrow(b, debt_units * U, b, b, now, h.feed), lambda: w.market.borrow(debt_units * U, b, b, sender=b))
    assert out.ok
    h.run("risk", lambda m: m.set_asset_risk(owner, str(w.fund_a.address), ltv, threshold, 300), lambda: w.admin.set_asset_risk(w.fund_a, ltv, threshold, 300, sender=owner))
    if small is not None:
        h.run("limits", lambda m: m.set_borrow_limits(owner, 100, small, min(small, 1_000)), lambda: w.admin.set_borrow_limits(100, small, min(small, 1_000), sender=owner))
    return b


def _liquidate(w, h, b, max_repay=MAX_UINT, min_out=0):
    liq = str(w.actors["liquidator"])
    now = h.now()
    return h.run(
        "liquidate",
        lambda m: m.liquidate(liq, b, str(w.fund_a.address), max_repay, min_out, False, liq, now, h.feed),
        lambda: w.market.liquidate(b, w.fund_a, max_repay, min_out, False, liq, sender=liq),
    )


def test_health_factor_exactly_one_is_not_liquidatable(evm_world):
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        b = _position(w, h, threshold=8_500)  # 210,000 x 85 % = 178,500 = debt
        _, _, _, lv, hf, _ = h.model.position(b, h.now(), h.feed)
        assert hf == M.WAD and tuple(w.admin.position(b))[4] == M.WAD
        out = _liquidate(w, h, b)
        assert not out.ok and out.reason == "market: position healthy"
        h.check_invariants()


def test_health_factor_exactly_095_keeps_the_close_factor(evm_world):
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        b = _position(w, h, threshold=8_075)  # 210,000 x 80.75 % = 169,575 = 0.95 x 178,500
        assert h.model.position(b, h.now(), h.feed)[4] == 95 * 10**16
        out = _liquidate(w, h, b)
        assert out.ok
        repaid = out.value[0]
        assert repaid <= 178_500 * U // 2, f"full close at HF exactly 0.95: repaid {repaid}"
        h.check_invariants()


def test_debt_exactly_the_small_position_keeps_the_close_factor(evm_world):
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        # HF 0.96 (threshold 8,160): only the size rules could allow a full close
        b = _position(w, h, threshold=8_160, small=178_500)
        out = _liquidate(w, h, b)
        assert out.ok and out.value[0] <= 178_500 * U // 2
        h.check_invariants()


def test_share_route_slippage(evm_world):
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        b = _position(w, h, threshold=8_000 + 1, ltv=8_000)
        _, seize = w.admin.preview_liquidation(b, w.fund_a, MAX_UINT)
        out = _liquidate(w, h, b, min_out=seize + 1)
        assert not out.ok and out.reason == "market: slippage"
        out = _liquidate(w, h, b, min_out=seize)
        assert out.ok
        h.check_invariants()


@pytest.mark.parametrize("offset", [0, 1])
def test_oracle_age_limit_to_the_second(evm_world, offset):
    """At exactly max_oracle_age the price is fresh; one second later it is
    stale (borrowing stops)."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        b, lender = str(w.actors["borrower0"]), str(w.actors["lender0"])
        now = h.now()
        h.run("deposit", lambda m: m.deposit(lender, 100_000 * U, lender, now), lambda: w.market.deposit(100_000 * U, lender, sender=lender))
        h.run("supply", lambda m: m.supply_collateral(b, str(w.fund_a.address), 1_000 * U, b), lambda: w.market.supply_collateral(w.fund_a, 1_000 * U, b, sender=b))
        _, as_of = h.nav_round(w.oracle_a)
        age = h.model.assets[0].max_oracle_age
        w.env.time_travel(seconds=as_of + age + offset - h.now())
        h.invalidate_prices()
        now = h.now()
        out = h.run("borrow", lambda m: m.borrow(b, 1_000 * U, b, b, now, h.feed), lambda: w.market.borrow(1_000 * U, b, b, sender=b))
        assert out.ok == (offset == 0)
        h.check_invariants()


def test_parameter_bounds_are_inclusive(evm_world):
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        owner = str(w.owner)
        for name, mf, cf in [
            ("fees", lambda m: m.set_fees(owner, 100, 5_000), lambda: w.admin.set_fees(100, 5_000, sender=owner)),
            ("limits", lambda m: m.set_borrow_limits(owner, 10, 1_500, 1_500), lambda: w.admin.set_borrow_limits(10, 1_500, 1_500, sender=owner)),
            ("rates", lambda m: m.set_rates(owner, 0, 10**17, 10**17, 1_000, 5_000, h.now()), lambda: w.admin.set_rates(0, 10**17, 10**17, 1_000, 5_000, sender=owner)),
            ("age", lambda m: m.set_asset_limits(owner, str(w.fund_a.address), 10**30, 0, 3_600), lambda: w.admin.set_asset_limits(w.fund_a, 10**30, 0, 3_600, sender=owner)),
        ]:
            out = h.run(name, mf, cf)
            assert out.ok, name
        out = h.run("unpause", lambda m: m.unpause(owner, 64, 4 * 3_600, h.now()), lambda: w.admin.unpause(64, 4 * 3_600, sender=owner))
        assert out.ok
        h.check_invariants()


def test_max_withdraw_is_bounded_by_cash(evm_world):
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        b = _position(w, h, threshold=9_000, ltv=8_500, debt_units=170_000)
        lender = str(w.actors["lender0"])
        now = h.now()
        h.run("redeem", lambda m: m.withdraw(lender, 820_000 * U, lender, lender, now), lambda: w.market.withdraw(820_000 * U, lender, lender, sender=lender))
        got = w.admin.maxWithdraw(lender)
        assert got == h.model.max_withdraw(lender, h.now()) == h.model.cash
        del b


def test_non_positive_price__refused_as_a_feed_and_worth_nothing_later(evm_world):
    """A feed with no positive answer cannot be set (the market would price
    the asset at nothing); a feed that breaks later values the asset at zero,
    as the model does, and the position view still answers."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        owner, b = str(w.owner), str(w.actors["borrower0"])
        feed = w.d.deploy("mocks/MockAggregator.vy", 8, 0)
        from propkit.world import Reverted

        with pytest.raises(Reverted, match="market: bad oracle round"):
            w.admin.set_asset_oracle(w.fund_a, feed, sender=owner)
        feed.set_answer(10 * 10**8, 0, sender=owner)
        w.admin.set_asset_oracle(w.fund_a, feed, sender=owner)
        w.market.supply_collateral(w.fund_a, 1_000 * U, b, sender=b)
        assert w.admin.position(b)[2] > 0
        feed.set_answer(0, 0, sender=owner)
        debt, _scaled, borrow_value, liquidation_value, _hf, _bitmap = w.admin.position(b)
        assert (debt, borrow_value, liquidation_value) == (0, 0, 0)
        assert tuple(w.admin.asset_price(w.fund_a)) == (0, True)
        h.invalidate_prices()


def test_preview_liquidation_respects_the_grace_period(evm_world):
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        owner = str(w.owner)
        b = _position(w, h, threshold=8_075)
        assert w.admin.preview_liquidation(b, w.fund_a, MAX_UINT)[0] > 0
        w.admin.pause(64, sender=owner)
        w.admin.unpause(64, 3_600, sender=owner)
        h.model.pause(owner, 64)
        h.model.unpause(owner, 64, 3_600, h.now())
        assert tuple(w.admin.preview_liquidation(b, w.fund_a, MAX_UINT)) == (0, 0)
        out = _liquidate(w, h, b)
        assert not out.ok and out.reason == "market: liquidation grace period"
        w.env.time_travel(seconds=3_600)
        h.invalidate_prices()
        assert tuple(w.admin.preview_liquidation(b, w.fund_a, MAX_UINT)) == h.model.preview_liquidation(b, str(w.fund_a.address), MAX_UINT, h.now(), h.feed)
        I.check(_liquidate(w, h, b).ok, "liquidation after the grace period")


# ---- two-asset positions ----


def _two_asset_position(w, h, thr: int | None):
    """borrower0: 5,800 fund A (60,900 USD) + 57,143 fund C (60,000 USD at
    $1.05), debt 100,000."""
    owner, b, lender = str(w.owner), str(w.actors["borrower0"]), str(w.actors["lender0"])
    now = h.now()
    h.run("deposit", lambda m: m.deposit(lender, 1_000_000 * U, lender, now), lambda: w.market.deposit(1_000_000 * U, lender, sender=lender))
    h.run("supply A", lambda m: m.supply_collateral(b, str(w.fund_a.address), 5_800 * U, b), lambda: w.market.supply_collateral(w.fund_a, 5_800 * U, b, sender=b))
    h.run("supply C", lambda m: m.supply_collateral(b, str(w.fund_c.address), FUND_C_POSTED, b), lambda: w.market.supply_collateral(w.fund_c, FUND_C_POSTED, b, sender=b))
    out = h.run("borrow", lambda m: m.borrow(b, 100_000 * U, b, b, now, h.feed), lambda: w.market.borrow(100_000 * U, b, b, sender=b))
    assert out.ok
    if thr is not None:
        for token in (w.fund_a, w.fund_c):
            h.run("risk", lambda m: m.set_asset_risk(owner, str(token.address), 8_000, thr, 300), lambda: w.admin.set_asset_risk(token, 8_000, thr, 300, sender=owner))
    return b


def _liq(w, h, b, max_repay):
    liq = str(w.actors["liquidator"])
    now = h.now()
    box = []

    def mf(m):
        r = m.liquidate(liq, b, str(w.fund_a.address), max_repay, 0, False, liq, now, h.feed)
        box.append(r)
        return r

    out = h.run("liquidate", mf, lambda: w.market.liquidate(b, w.fund_a, max_repay, 0, False, liq, sender=liq))
    return out, box


@pytest.mark.parametrize("exact", [False, True])
def test_dust_trim_binds_on_the_collateral_side(evm_world, exact):
    """Two assets; liquidating the smaller one at HF ~0.98 (50 % close
    factor) with a dust floor of 20,000: the trim leaves the floor of
    collateral value, net of the bonus; asking for exactly one unit more
    than the trim still gets the trim."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        owner = str(w.owner)
        b = _two_asset_position(w, h, 8_100)  # HF ~0.979: 50 % close factor
        h.run("limits", lambda m: m.set_borrow_limits(owner, 100, 20_000, 20_000), lambda: w.admin.set_borrow_limits(100, 20_000, 20_000, sender=owner))
        want, _ = h.model.preview_liquidation(b, str(w.fund_a.address), MAX_UINT, h.now(), h.feed)
        assert want < 50_000 * U, "the trim must bind on the collateral side"
        out, box = _liq(w, h, b, want + 1 if exact else MAX_UINT)
        assert out.ok and out.value[0] == want, (out.value, want)
        h.check_invariants()


def _let_fund_c_go_stale(w, h) -> int:
    """101 hours pass (past the listing's 100-hour age); fund A's NAV is
    struck again, fund C's is not. Returns the new time."""
    w.env.time_travel(seconds=101 * 3_600)
    nav, _ = h.nav_round(w.oracle_a)
    w.oracle_a.publish(nav, h.now(), sender=w.updater)
    h.invalidate_prices()
    return h.now()


def test_withdrawal_ignores_a_stale_asset_at_ltv(evm_world):
    """Fund C's NAV is 101 hours old, fund A's fresh: withdrawing fund A
    must count fund C for nothing at LTV (VALUE_WITHDRAW)."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        b = _two_asset_position(w, h, None)
        now = _let_fund_c_go_stale(w, h)
        out = h.run(
            "withdraw A while C is stale",
            lambda m: m.withdraw_collateral(b, str(w.fund_a.address), 100 * U, b, b, now, h.feed),
            lambda: w.market.withdraw_collateral(w.fund_a, 100 * U, b, b, sender=b),
        )
        assert not out.ok and out.reason == "market: exceeds borrow limit"
        h.check_invariants()


def test_a_liquidation_that_moves_nothing_reverts(evm_world):
    """One unit of repayment buys less than one unit of fund A (NAV 10.50,
    6 decimals): nothing would be seized, so the liquidation reverts."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        b = _position(w, h, threshold=8_075)
        out = _liquidate(w, h, b, max_repay=1)
        assert not out.ok and out.reason == "market: nothing to liquidate"
        out = _liquidate(w, h, b, max_repay=100)
        assert out.ok and out.value[1] > 0
        h.check_invariants()


@pytest.mark.parametrize("max_repay", [MAX_UINT, 12_345_678, 33_333_333_333, 40_000_000_001])
def test_protocol_fee_on_the_bonus_matches_the_model(evm_world, max_repay):
    """A 50 % protocol share of the bonus: the treasury's collateral credit
    (rounded down, from a bonus part rounded down) equals the model's."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        owner = str(w.owner)
        b = _position(w, h, threshold=8_075)
        h.run("fees", lambda m: m.set_fees(owner, 5, 5_000), lambda: w.admin.set_fees(5, 5_000, sender=owner))
        out = _liquidate(w, h, b, max_repay=max_repay)
        assert out.ok
        h.check_invariants()
        assert h.model.balance(str(w.treasury), 0) > 0


def test_only_authorized_operators_act_for_a_borrower(evm_world):
    """Borrowing and withdrawing collateral on someone else's behalf needs
    their authorisation (Leverage has it from the borrowers; the attacker
    does not)."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        b = _position(w, h, threshold=8_500)
        attacker = str(w.actors["attacker"])
        now = h.now()
        for name, mf, cf in [
            ("borrow for", lambda m: m.borrow(attacker, 1_000 * U, b, attacker, now, h.feed), lambda: w.market.borrow(1_000 * U, b, attacker, sender=attacker)),
            ("withdraw for", lambda m: m.withdraw_collateral(attacker, str(w.fund_a.address), 1 * U, b, attacker, now, h.feed), lambda: w.market.withdraw_collateral(w.fund_a, 1 * U, b, attacker, sender=attacker)),
        ]:
            out = h.run(name, mf, cf)
            assert not out.ok and out.reason == "market: not authorized", (name, out)
        w.admin.set_authorization(attacker, True, sender=b)
        h.model.set_authorization(b, attacker, True)
        out = h.run("withdraw for (authorised)", lambda m: m.withdraw_collateral(attacker, str(w.fund_a.address), 1 * U, b, attacker, now, h.feed), lambda: w.market.withdraw_collateral(w.fund_a, 1 * U, b, attacker, sender=attacker))
        assert not out.ok and out.reason == "market: exceeds borrow limit"
        h.check_invariants()


def test_a_stale_asset_cannot_be_withdrawn(evm_world):
    """Fund C's NAV is stale, fund A's fresh and alone covers the debt:
    withdrawing fund C still reverts (its price cannot be trusted)."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        b = _two_asset_position(w, h, None)
        now = h.now()
        h.run("repay", lambda m: m.repay(b, 70_000 * U, b, now), lambda: w.market.repay(70_000 * U, b, sender=b))
        now = _let_fund_c_go_stale(w, h)
        out = h.run(
            "withdraw stale C",
            lambda m: m.withdraw_collateral(b, str(w.fund_c.address), 100 * 10**18, b, b, now, h.feed),
            lambda: w.market.withdraw_collateral(w.fund_c, 100 * 10**18, b, b, sender=b),
        )
        assert not out.ok and out.reason == "market: stale price"
        h.check_invariants()


@pytest.mark.parametrize(
    ("ltv", "threshold", "bonus", "reason"),
    [
        (8_000, 8_001, 300, None),  # threshold one basis point above the LTV
        (8_000, 8_000, 300, "market: threshold not above ltv"),
        (8_000, 7_999, 300, "market: threshold not above ltv"),
        # threshold x (1 + bonus) just under, at and over 1
        (9_000, 9_523, 500, None),  # 9,523 x 10,500 = 99,991,500 < 10^8
        (9_000, 9_600, 416, None),  # 9,600 x 10,416 = 99,993,600 < 10^8
        (9_000, 9_600, 417, "market: threshold x bonus >= 1"),  # 100,003,200
        (9_000, 9_524, 500, "market: threshold x bonus >= 1"),  # 100,002,000
    ],
)
def test_set_asset_risk_bounds(evm_world, ltv, threshold, bonus, reason):
    """The owner's risk parameters at their exact bounds: the threshold must
    be strictly above the LTV, and threshold x (1 + bonus) strictly below 1
    (no liquidation may create a deficit by design)."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        owner, token = str(w.owner), str(w.fund_a.address)
        out = h.run(
            "set_asset_risk",
            lambda m: m.set_asset_risk(owner, token, ltv, threshold, bonus),
            lambda: w.admin.set_asset_risk(w.fund_a, ltv, threshold, bonus, sender=owner),
        )
        if reason is None:
            assert out.ok
            assert h.model.assets[0].ltv_bps == ltv and h.model.assets[0].threshold_bps == threshold
        else:
            assert not out.ok and out.reason == reason
        h.check_invariants()


@pytest.mark.parametrize(("lent", "ok"), [("all", False), ("half", True)])
def test_redeem_inside_a_flash_loan__beyond_the_balance_left__fails_in_the_token(evm_world, lent, ok):
    """Found by the audit profile: the flash loan's principal never leaves
    `cash` in the books, so inside the callback the books promise cash the
    market does not physically hold. The attacker's receiver, sole lender,
    redeems a quarter of its shares in the callback: with all the cash lent
    out that payout fails in the token ("erc20: transfer amount exceeds
    balance") and the whole flash loan reverts, nothing moves; with half of
    it lent out, it is paid. The model predicts both (it knows what the
    market holds while the loan is out)."""
    from propkit.machine import MODE_CALL

    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        attacker, mock = str(w.actors["attacker"]), str(w.flash_borrower.address)
        now = h.now()
        h.run("deposit", lambda m: m.deposit(attacker, 100_000 * U, mock, now), lambda: w.market.deposit(100_000 * U, mock, sender=attacker))
        shares = w.market.balanceOf(mock) // 4
        w.flash_borrower.set_mode(MODE_CALL, w.market.address, w.market.redeem.prepare_calldata(shares, mock, mock), sender=attacker)
        amount = h.model.cash if lent == "all" else h.model.cash // 2
        before = (h.base_balance(w.market), h.base_balance(mock), w.market.balanceOf(mock))

        out = h.run(
            f"flash loan of {lent} the cash, redeem inside",
            lambda m: m.flash_loan(mock, mock, amount, lambda mm: mm.redeem(mock, shares, mock, mock, now)),
            lambda: w.flash_borrower.borrow(w.market, w.stablecoin, amount, b"navlend", sender=attacker),
        )

        assert out.ok == ok
        if ok:
            assert w.market.balanceOf(mock) == before[2] - shares
            assert h.chain_events() == [("FlashLoan", mock.lower(), mock.lower(), amount, out.expected)]
        else:
            assert out.reason == M.TOKEN_EXCEEDS_BALANCE and not out.external
            assert (h.base_balance(w.market), h.base_balance(mock), w.market.balanceOf(mock)) == before
        h.check_invariants()


def test_guardian_pausing_liquidation__refused_as_the_model_does(evm_world):
    """Only the owner pauses liquidation; the guardian pauses the rest.
    (Kills M65, "guardian may pause liquidation", which the state machine
    kills only on some of its paths: a path depends on what earlier tests
    left in the shared world.)"""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        guardian, owner = str(w.guardian), str(w.owner)
        out = h.run("pause", lambda m: m.pause(guardian, M.PAUSE_LIQUIDATION), lambda: w.admin.pause(M.PAUSE_LIQUIDATION, sender=guardian))
        assert not out.ok and out.reason == "ownable: caller is not the owner"
        out = h.run("pause", lambda m: m.pause(guardian, M.PAUSE_BORROW), lambda: w.admin.pause(M.PAUSE_BORROW, sender=guardian))
        assert out.ok
        out = h.run("pause", lambda m: m.pause(owner, M.PAUSE_LIQUIDATION), lambda: w.admin.pause(M.PAUSE_LIQUIDATION, sender=owner))
        assert out.ok and h.model.is_paused(M.PAUSE_LIQUIDATION)
        h.check_invariants()


def test_short_asset__unfreezing_refused_until_the_balance_is_back(evm_world):
    """After an issuer burns a tenth of the market's fund A and anyone syncs,
    the asset is frozen and short: the owner cannot unfreeze it ("market:
    asset short": new units would be booked at par); once the shares are
    given back and synced, it can. (Kills M87, "a short asset unfrozen",
    which the state machine kills only on some of its paths.)"""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        owner, b, attacker = str(w.owner), str(w.actors["borrower0"]), str(w.actors["attacker"])
        token = str(w.fund_a.address)
        h.run("supply", lambda m: m.supply_collateral(b, token, 20_000 * U, b), lambda: w.market.supply_collateral(w.fund_a, 20_000 * U, b, sender=b))
        w.fund_a.burn(w.market, 2_000 * U, sender=owner)
        out = h.run("sync", lambda m: m.sync_asset(token, 18_000 * U), lambda: w.admin.sync_asset(w.fund_a, sender=attacker))
        assert out.ok and h.model.assets[0].frozen and h.model.assets[0].ratio == 9 * M.WAD // 10
        out = h.run("unfreeze", lambda m: m.set_asset_frozen(owner, token, False), lambda: w.admin.set_asset_frozen(w.fund_a, False, sender=owner))
        assert not out.ok and out.reason == "market: asset short"
        w.fund_a.mint(w.market, 2_000 * U, sender=owner)
        out = h.run("sync", lambda m: m.sync_asset(token, 20_000 * U), lambda: w.admin.sync_asset(w.fund_a, sender=attacker))
        assert out.ok and h.model.assets[0].ratio == M.WAD
        out = h.run("unfreeze", lambda m: m.set_asset_frozen(owner, token, False), lambda: w.admin.set_asset_frozen(w.fund_a, False, sender=owner))
        assert out.ok and not h.model.assets[0].frozen
        h.check_invariants()
