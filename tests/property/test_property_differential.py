"""Differential tests: the contract and the reference model
(``navlend.model``), operation by operation, over drawn parameters.

Each example runs in its own ``w.env.anchor()`` over the shared world and
compares return values, revert reasons, every stored word (via
``Harness.check_invariants``) and the views (market_state, debt_of,
totalAssets, position, preview_liquidation, flashFee, the wrapper price).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from propkit import invariants as I
from propkit import profiles
from propkit.world import MAX_UINT
from propkit.harness import Harness

from navlend import model as M
from navlend.constants import WAD

U = 10**6


def _setup(w, lender_cash: int, collateral: list[tuple[str, int, int]]):
    """A harness over a fresh anchor with ``lender_cash`` deposited and
    collateral (borrower, asset, amount) posted; returns it."""
    h = Harness(w)
    now = h.now()
    lender = str(w.actors["lender0"])
    out = h.run(
        "deposit",
        lambda m: m.deposit(lender, lender_cash, lender, now),
        lambda: w.market.deposit(lender_cash, lender, sender=lender),
    )
    assert out.ok
    for who, asset, amount in collateral:
        b = str(w.actors[who])
        token = w.tokens[asset]
        h.run(
            "supply",
            lambda m: m.supply_collateral(b, str(token.address), amount, b),
            lambda: w.market.supply_collateral(token, amount, b, sender=b),
        )
    return h


def _borrow(h, who: str, amount: int):
    w = h.w
    b = str(w.actors[who])
    now = h.now()
    return h.run(
        "borrow",
        lambda m: m.borrow(b, amount, b, b, now, h.feed),
        lambda: w.market.borrow(amount, b, b, sender=b),
    )


@given(
    rates=st.tuples(st.integers(0, 20), st.integers(0, 100), st.integers(0, 500), st.integers(1_000, 9_900), st.integers(0, 5_000)),
    cash=st.integers(1_000, 10_000_000),
    use=st.integers(1, 10_000),
    steps=st.lists(st.tuples(st.integers(0, 400 * 86_400), st.sampled_from(["none", "deposit", "repay", "borrow"]), st.integers(1, 10_000)), min_size=1, max_size=5),
)
def test_interest_and_index_match_model(evm_world, rates, cash, use, steps):
    """Accrual (kinked rate, Taylor compounding, index rounding up, reserve
    factor) over drawn curves, utilisations and intervals."""
    w = evm_world
    with w.env.anchor():
        h = _setup(w, cash * U, [("borrower0", 1, 2_000_000 * 10**18)])
        base, s1, s2, kink, rf = rates
        args = (base * WAD // 100, s1 * WAD // 100, max(s1, s2) * WAD // 100, kink, rf)
        owner = str(w.owner)
        now = h.now()
        h.run("set_rates", lambda m: m.set_rates(owner, *args, now), lambda: w.admin.set_rates(*args, sender=owner))
        _borrow(h, "borrower0", max(cash * U * use // 10_000, 100 * U))
        b = str(w.actors["borrower0"])
        lender = str(w.actors["lender0"])
        for dt, op, x in steps:
            w.env.time_travel(seconds=dt)
            h.invalidate_prices()
            now = h.now()
            a = h.model.accrued(now)
            I.check(tuple(w.admin.market_state()) == (h.model.cash, M.borrows_of(h.model.total_scaled, a.index), a.reserves, a.index, h.model.total_scaled), "market_state")
            I.check(w.admin.debt_of(b) == h.model.debt(b, now), "debt_of")
            I.check(w.admin.totalAssets() == h.model.total_assets(now), "totalAssets")
            I.check(w.admin.borrow_rate() == h.model.borrow_rate(now), "borrow_rate")
            if op == "deposit":
                h.run("deposit", lambda m: m.deposit(lender, x * U, lender, now), lambda: w.market.deposit(x * U, lender, sender=lender))
            elif op == "repay":
                amt = h.model.debt(b, now) * x // 10_000
                h.run("repay", lambda m: m.repay(b, amt, b, now), lambda: w.market.repay(amt, b, sender=b))
            elif op == "borrow":
                _borrow(h, "borrower0", x * U)
            h.check_invariants()


@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["deposit", "mint", "withdraw", "redeem", "time"]), st.integers(0, 10**13), st.sampled_from(["lender0", "lender1", "attacker"])),
        min_size=1,
        max_size=12,
    )
)
def test_shares_and_assets_match_model(evm_world, ops):
    """ERC-4626 conversions with virtual shares over internal cash, with
    interest moving the price in between; every return value equals the
    model's and rounding never favours the caller."""
    w = evm_world
    with w.env.anchor():
        h = _setup(w, 1_000 * U, [("borrower0", 0, 100_000 * U)])
        _borrow(h, "borrower0", 500 * U)
        for op, x, who in ops:
            a = str(w.actors[who])
            now = h.now()
            if op == "time":
                w.env.time_travel(seconds=x % (30 * 86_400))
                h.invalidate_prices()
                continue
            price = I.share_price(h.model, now)
            # The model keeps no token balances: a deposit stays within the
            # lender's wallet, and a mint that would cost more than it holds
            # must fail in the token, with the token's reason.
            wallet = h.base_balance(a)
            if op == "deposit":
                x = x % (wallet + 1)
                out = h.run(op, lambda m: m.deposit(a, x, a, now), lambda: w.market.deposit(x, a, sender=a))
                if out.ok:
                    I.check(out.value == out.expected and out.value <= x / price, "deposit shares")
            elif op == "mint":
                short = h.model.preview_mint(x, now) > wallet
                out = h.run(
                    op,
                    lambda m: m.mint(a, x, a, now),
                    lambda: w.market.mint(x, a, sender=a),
                    external=lambda reason: short and reason == "erc20: transfer amount exceeds balance",
                )
                I.check(out.ok or not short or out.external, "mint beyond the wallet must fail in the token")
                if out.ok:
                    I.check(out.value == out.expected and out.value >= x * price, "mint assets")
            elif op == "withdraw":
                amt = x % (h.model.max_withdraw(a, now) + 1)
                out = h.run(op, lambda m: m.withdraw(a, amt, a, a, now), lambda: w.market.withdraw(amt, a, a, sender=a))
                if out.ok:
                    I.check(out.value == out.expected and out.value >= amt / price, "withdraw shares")
            else:
                sh = x % (h.model.shares.get(a, 0) + 1)
                out = h.run(op, lambda m: m.redeem(a, sh, a, a, now), lambda: w.market.redeem(sh, a, a, sender=a))
                if out.ok:
                    I.check(out.value == out.expected and out.value <= sh * price, "redeem assets")
            h.check_invariants()


@given(
    asset=st.sampled_from([0, 1, 2]),
    size=st.integers(1, 2_000),
    use=st.integers(5_000, 10_000),
    drop=st.integers(1, 9_500),
    bonus=st.integers(1, 900),
    limits=st.tuples(st.integers(0, 500), st.integers(0, 5_000), st.integers(0, 5_000)),
    fee_bps=st.sampled_from([0, 0, 1_000, 5_000]),
    max_repay=st.one_of(st.just(MAX_UINT), st.integers(1, 10**12)),
    redeem=st.booleans(),
    second=st.booleans(),
)
def test_liquidation_matches_model(evm_world, asset, size, use, drop, bonus, limits, fee_bps, max_repay, redeem, second):
    """Close factor, dust trims, seizure with bonus, protocol fee, bad-debt
    write-off: preview_liquidation and liquidate against the model, and
    the liquidation invariants."""
    w = evm_world
    with w.env.anchor():
        owner = str(w.owner)
        token = w.tokens[asset]
        amount = (w.tokens[asset].balanceOf(w.actors["borrower1"]) // 100_000) * size
        h = _setup(w, 20_000_000 * U, [("borrower1", asset, amount)])
        threshold = 9_000
        bonus = min(bonus, 10**8 // threshold - 10_000 - 1)
        h.run("risk", lambda m: m.set_asset_risk(owner, str(token.address), 8_500, threshold, bonus), lambda: w.admin.set_asset_risk(token, 8_500, threshold, bonus, sender=owner))
        mb, small, dust = limits
        dust = min(dust, small)
        h.run("limits", lambda m: m.set_borrow_limits(owner, mb, small, dust), lambda: w.admin.set_borrow_limits(mb, small, dust, sender=owner))
        h.run("fees", lambda m: m.set_fees(owner, 5, fee_bps), lambda: w.admin.set_fees(5, fee_bps, sender=owner))
        b = str(w.actors["borrower1"])
        now = h.now()
        debt, _, bv, _, _, _ = h.model.position(b, now, h.feed)
        out = _borrow(h, "borrower1", max(bv * use // 10_000, 1))
        if not out.ok:
            return
        # The NAV behind each asset: fund A, fund C, fund B (the wrapper's).
        oracle = (w.oracle_a, w.oracle_c, w.oracle_b)[asset]
        nav, _ = h.nav_round(oracle)
        w.env.time_travel(seconds=3_600)
        if not oracle.publish(max(nav * (10_000 - drop) // 10_000, 1), h.now(), sender=w.updater):
            oracle.confirm_pending(sender=w.guardian)
        h.invalidate_prices()
        liq = str(w.actors["liquidator"])
        for _ in range(2 if second else 1):
            now = h.now()
            try:
                want = h.model.preview_liquidation(b, str(token.address), max_repay, now, h.feed)
            except M.ModelRevert:
                want = "revert"
            got = tuple(w.admin.preview_liquidation(b, token, max_repay)) if want != "revert" else "revert"
            I.check(got == want, f"preview_liquidation {got} != model {want}")
            m0 = h.model.clone()
            box = []

            def model_fn(m):
                r = m.liquidate(liq, b, str(token.address), max_repay, 0, redeem, liq, now, h.feed)
                box.append(r)
                return r

            out = h.run(
                "liquidate",
                model_fn,
                lambda: w.market.liquidate(b, token, max_repay, 0, redeem, liq, sender=liq),
                external=lambda r: r.startswith("facility:"),
            )
            if out.ok:
                res = box[-1]
                I.check(tuple(out.value[:2]) == (res.repaid, res.seized), "liquidate returns")
                left = h.model.balance(b, asset)
                I.check_liquidation(m0, res, asset, h.model.debt(b, now), left, M.value(left, res.valuation.target_price, m0.assets[asset].exponent))
            h.check_invariants(socialized_this_step=box[-1].socialized if (out.ok and box) else 0)


@given(
    sizes=st.tuples(st.integers(0, 1_000), st.integers(0, 1_000), st.integers(0, 1_000)),
    caps=st.tuples(st.sampled_from([0, 10**8, 95 * 10**6]), st.sampled_from([0, 10**8, 99 * 10**6])),
    frozen=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    age=st.sampled_from([0, 3_600, 100 * 3_600 + 1, 8 * 86_400]),
    extra=st.integers(-3, 3),
)
def test_valuation_health_and_borrow_limit_match_model(evm_world, sizes, caps, frozen, age, extra):
    """Value = amount x min(price, cap) / 10^(dec) rounded down, LTV and
    threshold per asset, stale and frozen exclusions; position() equals
    the model's, and a borrow at the limit + extra succeeds exactly when the
    model says so."""
    w = evm_world
    with w.env.anchor():
        coll = [(n, i, w.tokens[i].balanceOf(w.actors["borrower0"]) * s // 100_000) for i, (n, s) in enumerate(zip(["borrower0"] * 3, sizes)) if s]
        h = _setup(w, 50_000_000 * U, [(n, i, a) for n, i, a in coll])
        owner = str(w.owner)
        for i, cap in ((0, caps[0]), (1, caps[1])):
            token = w.tokens[i]
            h.run("limits", lambda m: m.set_asset_limits(owner, str(token.address), 2**120 - 1, cap, 100 * 3_600), lambda: w.admin.set_asset_limits(token, 2**120 - 1, cap, 100 * 3_600, sender=owner))
        for i, f in enumerate(frozen):
            if f:
                token = w.tokens[i]
                h.run("freeze", lambda m: m.set_asset_frozen(owner, str(token.address), True), lambda: w.admin.set_asset_frozen(token, True, sender=owner))
        if age:
            w.env.time_travel(seconds=age)
            h.invalidate_prices()
        b = str(w.actors["borrower0"])
        now = h.now()
        I.check(tuple(w.admin.position(b)) == h.model.position(b, now, h.feed), "position view")
        debt, _, bv, _, _, _ = h.model.position(b, now, h.feed)
        amount = bv - debt + extra
        if amount > 0:
            out = _borrow(h, "borrower0", amount)
            if out.ok:
                d2, _, bv2, _, _, _ = h.model.position(b, now, h.feed)
                I.check_within_limit("borrow", bv2, d2)
        h.check_invariants()


@given(
    fee_bps=st.integers(0, 100),
    amount=st.integers(0, 10**15),
    at_held=st.sampled_from([None, None, 0, 1]),
    donated=st.sampled_from([0, 0, 1, 10**9]),
    mode=st.sampled_from([0, 1, 2]),
)
def test_flash_loan_fee_matches_model(evm_world, fee_bps, amount, at_held, donated, mode):
    """Fee rounded up (never zero with a non-zero rate), returned with the
    principal and left unbooked: the books do not move, and book_surplus
    then books the fee (and any donation) as reserves, the lenders' assets
    unchanged. A loan up to what the market holds (cash + surplus)
    succeeds, one unit more fails in the token; a receiver that returns the
    wrong value or does not approve reverts the loan. ``at_held``: the loan
    is the balance held plus 0 or 1."""
    w = evm_world
    with w.env.anchor():
        h = _setup(w, 1_000_000 * U, [])
        owner, attacker = str(w.owner), str(w.actors["attacker"])
        h.run("fees", lambda m: m.set_fees(owner, fee_bps, 0), lambda: w.admin.set_fees(fee_bps, 0, sender=owner))
        I.check(w.admin.flashFee(w.stablecoin, amount) == M.flash_fee(amount, fee_bps), "flashFee view")
        if donated:
            w.stablecoin.transfer(w.market, donated, sender=attacker)
            h.model.receive_base(donated)
            h.ghost.base_donated += donated
        if at_held is not None:
            amount = h.model.held() + at_held
        if mode:
            w.flash_borrower.set_mode(mode, "0x" + "00" * 20, b"", sender=attacker)
        before = h.base_balance(w.market)
        books = (h.model.cash, h.model.reserves)
        expect = {1: "market: callback failed", 2: "erc20: insufficient allowance"}.get(mode)
        mock = str(w.flash_borrower.address)
        out = h.run(
            "flash",
            lambda m: m.flash_loan(mock, mock, amount),
            lambda: w.flash_borrower.borrow(w.market, w.stablecoin, amount, b"", sender=attacker),
            expect_reason=expect,
        )
        I.check(out.ok or amount <= before or out.reason == M.TOKEN_EXCEEDS_BALANCE, f"a loan above the balance reverted {out.reason!r}")
        if out.ok:
            fee = out.expected
            I.check(h.base_balance(w.market) == before + fee, "flash loan came back without its fee")
            I.check(fee > 0 or fee_bps == 0 or amount == 0, "fee rounded to zero")
            I.check((h.model.cash, h.model.reserves) == books and w.admin.surplus() == donated + fee, "the fee did not stay unbooked")
        h.check_invariants()
        surplus = h.model.surplus()
        lenders = (w.admin.totalAssets(), w.market.totalSupply())
        out = h.run("book_surplus", lambda m: m.book_surplus(attacker, h.now()), lambda: w.admin.book_surplus(sender=attacker))
        I.check(out.ok and out.value == surplus, f"book_surplus booked {out.value}, surplus {surplus}")
        I.check(h.model.reserves == books[1] + surplus, "reserves did not grow by the surplus")
        I.check_booking_keeps_lenders_claim("book_surplus", lenders, (w.admin.totalAssets(), w.market.totalSupply()))
        h.check_invariants()


@given(dividend=st.integers(1, 10**6), dt=st.lists(st.integers(0, 3 * 86_400), min_size=1, max_size=4), nav_move=st.integers(-50, 0))
def test_wrapper_price_from_storage_matches_oracle(evm_world, dividend, dt, nav_move):
    """The harness prices the wrapper from storage (no EVM); it must equal
    WrapperNavOracle.latestRoundData() through dividends, harvests and the
    linear unlock."""
    w = evm_world
    with w.env.anchor():
        h = Harness(w)
        w.fund_b.distribute([str(w.wrapper.address)], [dividend * 10**16])
        w.wrapper.harvest()
        for i, s in enumerate(dt):
            w.env.time_travel(seconds=s)
            h.invalidate_prices()
            if i == 1 and nav_move:
                w.env.time_travel(seconds=3_600)
                nav, _ = h.nav_round(w.oracle_b)
                w.oracle_b.publish(nav * (10_000 + nav_move) // 10_000, h.now(), sender=w.updater)
                h.invalidate_prices()
            r = w.wrapper_oracle.latestRoundData()
            I.check(h.feed(2)[:2] == (r[1], r[3]), f"wrapper price from storage {h.feed(2)} != oracle {(r[1], r[3])}")
            for i2, oracle in ((0, w.oracle_a), (1, w.oracle_c)):
                r = oracle.latestRoundData()
                I.check(h.feed(i2)[:2] == (r[1], r[3]), "NAV from storage != oracle")


for _t in (
    test_interest_and_index_match_model,
    test_shares_and_assets_match_model,
    test_liquidation_matches_model,
    test_valuation_health_and_borrow_limit_match_model,
    test_flash_loan_fee_matches_model,
    test_wrapper_price_from_storage_matches_oracle,
):
    _t._hypothesis_internal_use_settings = profiles.given_settings(0.5 if "wrapper" in _t.__name__ else 1.0)
