"""The navlend market state machine (Hypothesis RuleBasedStateMachine).

Actors: two lenders, three borrowers (borrower2 also levers through
Leverage), a liquidator (allowlisted: share route and redeem route), a
keeper running the FlashLiquidator (redeem route on a flash loan, no
capital, no allowlisting), an attacker (lender share games, donations,
malicious flash-loan receiver, booking the surplus from inside a flash
loan, liquidating healthy positions, parameter and pause calls it may not
make), the owner, the guardian and the NAV updater.

Every rule runs the operation on the reference model and on the contract
(:meth:`Harness.run`): the same result, or the same revert reason. After
every step the invariants of :mod:`propkit.invariants` run over a storage
snapshot. Rule-specific properties (limits after a borrow or a withdrawal,
liquidation rules, flash-loan fee, booking the surplus leaves the
lenders' share price unchanged, debt monotone over time, pauses) are
asserted in the rules; the FlashLoan and SurplusBooked events of every
call are compared with the model's (``Harness.run``).

Each example runs inside ``world.env.anchor()`` over one shared deployment:
nothing is redeployed between examples.
"""

from __future__ import annotations

from hypothesis import assume, note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from navlend import model as M

from . import invariants as I
from .world import MAX_UINT, EvmWorld, Reverted, shared_world
from .harness import Harness
from .issuer_rules import IssuerActions
from navlend.constants import BPS

U = 10**6  # one whole base unit

LENDERS = ("lender0", "lender1", "attacker")
BORROWERS = ("borrower0", "borrower1", "borrower2")
WEALTH_ACTORS = ("lender0", "lender1", "attacker")

# FlashBorrowerMock modes
MODE_OK, MODE_WRONG_RETURN, MODE_NO_APPROVE, MODE_CALL = 0, 1, 2, 3

frac = st.integers(min_value=0, max_value=BPS)
asset_ids = st.sampled_from([0, 1, 2])
borrower_ix = st.sampled_from(BORROWERS)


def _external(*prefixes: str):
    def accept(reason: str) -> bool:
        return any(reason.startswith(p) for p in prefixes)

    return accept


class MarketMachine(IssuerActions, RuleBasedStateMachine):
    """See the module docstring. ``world_factory`` returns the deployed
    world (the mutation runner swaps it for a mutant's)."""

    world_factory = staticmethod(shared_world)
    # Counters for the benchmark: rule executions and examples.
    step_counter = 0
    example_counter = 0

    def __init__(self) -> None:
        super().__init__()
        self.w: EvmWorld = self.world_factory()
        self._anchor = self.w.env.anchor()
        self._anchor.__enter__()
        self.h = Harness(self.w)
        self.m = lambda: self.h.model
        self.a = {k: str(v) for k, v in self.w.actors.items()}
        self.mock_mode = MODE_OK
        self.socialized_step = 0
        self.prev_shares: dict[str, int] = {}
        self.steps = 0
        MarketMachine.example_counter += 1
        self._wealth_baseline()

    def teardown(self) -> None:
        self._anchor.__exit__(None, None, None)

    # ------------------------------------------------------------ #
    # helpers

    @property
    def model(self) -> M.MarketModel:
        return self.h.model

    def now(self) -> int:
        return self.h.now()

    def _wealth_parts(self, actor: str) -> tuple[int, int]:
        accts = [self.a[actor]]
        if actor == "attacker":
            accts.append(str(self.w.flash_borrower.address))
        base = sum(self.h.base_balance(x) for x in accts)
        shares = sum(self.h.share_balance(x) for x in accts)
        return base, shares

    def _wealth_baseline(self) -> None:
        p = self.h.price()
        self.prev_price = p
        for actor in WEALTH_ACTORS:
            base, shares = self._wealth_parts(actor)
            self.h.ghost.entitled[actor] = I.wealth(base, shares, p)
            self.prev_shares[actor] = shares
        self.h.ghost.last_price = p

    def _advance(self, seconds: int) -> None:
        """Moves time; checks that no debt falls and the index never falls."""
        m = self.model
        before = {b: m.debt(b, self.now()) for b in m.borrowers()}
        index_before = m.accrued(self.now()).index
        self.w.env.time_travel(seconds=seconds)
        now = self.now()
        for b, d in before.items():
            after = m.debt(b, now)
            I.check(after >= d, f"debt of {b} fell over time without a repayment: {d} -> {after}")
        I.check(m.accrued(now).index >= index_before, "borrow index fell over time")
        self.h.invalidate_prices()

    def _headroom(self, who: str) -> int:
        debt, _, bv, _, _, _ = self.model.position(who, self.now(), self.h.feed)
        return max(bv - debt, 0)

    def _set_mock(self, mode: int, target: str = "0x" + "00" * 20, payload: bytes = b"") -> None:
        if mode != self.mock_mode or mode == MODE_CALL:
            self.w.flash_borrower.set_mode(mode, target, payload, sender=self.a["attacker"])
            self.mock_mode = mode

    # ------------------------------------------------------------ #
    # setup

    @initialize(
        amount=st.integers(min_value=50_000, max_value=5_000_000),
        who=st.sampled_from(("lender0", "lender1")),
        assets=st.lists(asset_ids, min_size=3, max_size=3),
        sizes=st.lists(st.integers(1, 400), min_size=3, max_size=3),
        use=st.lists(st.integers(4_000, 10_000), min_size=3, max_size=3),
    )
    def seed(self, amount: int, who: str, assets: list[int], sizes: list[int], use: list[int]) -> None:
        """Every example starts with lender cash and three collateralised
        borrowers, each using a drawn share of its borrow limit (so that
        NAV drops reach liquidations within a few steps)."""
        sender = self.a[who]
        now = self.now()
        out = self.h.run(
            "seed deposit",
            lambda m: m.deposit(sender, amount * U, sender, now),
            lambda: self.w.market.deposit(amount * U, sender, sender=sender),
        )
        assert out.ok and out.value == out.expected
        for who_b, asset, size, u in zip(BORROWERS, assets, sizes, use):
            b = self.a[who_b]
            token = self.w.tokens[asset]
            coll = self.h.token_balance(asset, b) * size // 10_000
            self.h.run(
                "seed collateral",
                lambda m: m.supply_collateral(b, str(token.address), coll, b),
                lambda: self.w.market.supply_collateral(token, coll, b, sender=b),
            )
            room = min(self._headroom(b), self.model.cash)
            borrow = room * u // 10_000
            self.h.run(
                "seed borrow",
                lambda m: m.borrow(b, borrow, b, b, now, self.h.feed),
                lambda: self.w.market.borrow(borrow, b, b, sender=b),
            )

    # ------------------------------------------------------------ #
    # lenders

    @rule(who=st.sampled_from(LENDERS), kind=st.sampled_from(["tiny", "unit", "big"]), x=st.integers(1, 1_000_000))
    def deposit(self, who: str, kind: str, x: int) -> None:
        amount = {"tiny": x % 1_000 + 1, "unit": x * U // 10, "big": x * U}[kind]
        sender, now = self.a[who], self.now()
        out = self.h.run(
            "deposit",
            lambda m: m.deposit(sender, amount, sender, now),
            lambda: self.w.market.deposit(amount, sender, sender=sender),
            external=self._wallet_short(sender, amount),
        )
        if out.ok:
            I.check(out.value == out.expected, f"deposit minted {out.value}, model {out.expected}")

    @rule(who=st.sampled_from(LENDERS), x=st.integers(1, 10**12))
    def mint(self, who: str, x: int) -> None:
        sender, now = self.a[who], self.now()
        shares = x * 10**6 // 7 + 1
        out = self.h.run(
            "mint",
            lambda m: m.mint(sender, shares, sender, now),
            lambda: self.w.market.mint(shares, sender, sender=sender),
            external=self._wallet_short(sender, self.model.preview_mint(shares, now)),
        )
        if out.ok:
            I.check(out.value == out.expected, f"mint pulled {out.value}, model {out.expected}")

    def _wallet_short(self, payer: str, need: int):
        """The lender's own wallet cannot cover the pull: the token refuses
        it, outside the market (an attacker's donations drain its wallet,
        and interest left to the virtual shares of an emptied market can
        raise a share's price far above par)."""
        have = self.h.base_balance(payer)
        return lambda reason: reason == "erc20: transfer amount exceeds balance" and have < need

    @rule(who=st.sampled_from(LENDERS), f=frac, tiny=st.booleans())
    def withdraw(self, who: str, f: int, tiny: bool) -> None:
        sender, now = self.a[who], self.now()
        amount = (f % 1_000) if tiny else self.model.max_withdraw(sender, now) * f // BPS
        out = self.h.run(
            "withdraw",
            lambda m: m.withdraw(sender, amount, sender, sender, now),
            lambda: self.w.market.withdraw(amount, sender, sender, sender=sender),
        )
        if out.ok:
            I.check(out.value == out.expected, f"withdraw burned {out.value}, model {out.expected}")

    @rule(who=st.sampled_from(LENDERS), f=frac, everything=st.booleans())
    def redeem(self, who: str, f: int, everything: bool) -> None:
        sender, now = self.a[who], self.now()
        held = self.model.shares.get(sender, 0)
        shares = held if everything else held * f // BPS
        out = self.h.run(
            "redeem",
            lambda m: m.redeem(sender, shares, sender, sender, now),
            lambda: self.w.market.redeem(shares, sender, sender, sender=sender),
        )
        if out.ok:
            I.check(out.value == out.expected, f"redeem paid {out.value}, model {out.expected}")

    @rule(src=st.sampled_from(LENDERS), dst=st.sampled_from(LENDERS + ("mock",)), f=frac)
    def transfer_shares(self, src: str, dst: str, f: int) -> None:
        sender = self.a[src]
        to = str(self.w.flash_borrower.address) if dst == "mock" else self.a[dst]
        if dst == "mock" and src != "attacker":
            return
        amount = self.model.shares.get(sender, 0) * f // BPS
        self.h.run(
            "share transfer",
            lambda m: m.transfer_shares(sender, to, amount),
            lambda: self.w.market.transfer(to, amount, sender=sender),
        )
        recipient = "attacker" if dst == "mock" else dst
        if recipient != src and recipient in WEALTH_ACTORS:
            self.h.ghost.entitled[recipient] += amount * self.h.price()

    # ------------------------------------------------------------ #
    # borrowers

    @rule(who=borrower_ix, asset=asset_ids, f=frac)
    def supply_collateral(self, who: str, asset: int, f: int) -> None:
        sender = self.a[who]
        token = self.w.tokens[asset]
        amount = self.h.token_balance(asset, sender) * f // BPS // 4
        out = self.h.run(
            "supply collateral",
            lambda m: m.supply_collateral(sender, str(token.address), amount, sender),
            lambda: self.w.market.supply_collateral(token, amount, sender, sender=sender),
            # A sender the issuer froze or removed: the fund refuses the pull.
            external=_external("fund: sender", "wrapper: "),
        )
        if out.ok:
            note(f"supplied {amount} of asset {asset} for {who}")

    @rule(who=borrower_ix, asset=asset_ids, f=frac)
    def withdraw_collateral(self, who: str, asset: int, f: int) -> None:
        sender, now = self.a[who], self.now()
        token = self.w.tokens[asset]
        amount = self.model.balance(sender, asset) * f // BPS
        out = self.h.run(
            "withdraw collateral",
            lambda m: m.withdraw_collateral(sender, str(token.address), amount, sender, sender, now, self.h.feed),
            lambda: self.w.market.withdraw_collateral(token, amount, sender, sender, sender=sender),
        )
        if out.ok and self.model.scaled.get(sender):
            v = self.model.valuation(sender, M.MAX_UINT256, M.VALUE_WITHDRAW, now, self.h.feed)
            I.check_within_limit("withdraw_collateral", v.borrow_value, self.model.debt(sender, now))

    @rule(who=borrower_ix, kind=st.sampled_from(["within", "within", "over", "tiny", "max"]), f=frac)
    def borrow(self, who: str, kind: str, f: int) -> None:
        sender, now = self.a[who], self.now()
        room = self._headroom(sender)
        cash = self.model.cash
        amount = {
            "within": room * f // BPS,
            "over": room + 1 + f,
            "tiny": f % 100 + 1,
            "max": min(room, cash),
        }[kind]
        out = self.h.run(
            "borrow",
            lambda m: m.borrow(sender, amount, sender, sender, now, self.h.feed),
            lambda: self.w.market.borrow(amount, sender, sender, sender=sender),
        )
        if out.ok:
            I.check(out.value == out.expected, f"borrow returned debt {out.value}, model {out.expected}")
            debt, _, bv, _, _, _ = self.model.position(sender, now, self.h.feed)
            I.check_within_limit("borrow", bv, debt)

    @rule(payer=st.sampled_from(BORROWERS + ("lender0",)), who=borrower_ix, f=frac, everything=st.booleans())
    def repay(self, payer: str, who: str, f: int, everything: bool) -> None:
        """Anyone repays for anyone; never paused (checked whatever the
        pause bits are)."""
        sender, on_behalf, now = self.a[payer], self.a[who], self.now()
        debt = self.model.debt(on_behalf, now)
        amount = MAX_UINT if everything else max(debt * f // BPS, f % 3)
        paused = self.model.paused
        out = self.h.run(
            "repay",
            lambda m: m.repay(sender, amount, on_behalf, now),
            lambda: self.w.market.repay(amount, on_behalf, sender=sender),
        )
        if debt > 0 and amount > 0:
            I.check(out.ok, f"repayment of a debt failed (paused bits {paused:b}): {out.reason}")
        if out.ok:
            I.check(out.value == out.expected, f"repay returned {out.value}, model {out.expected}")

    # ------------------------------------------------------------ #
    # liquidation

    def _held(self, who: str, pick: int) -> int:
        """One of the assets ``who`` holds as collateral (any if none)."""
        acct = self.a[who]
        held = [i for i in range(3) if self.model.balance(acct, i)]
        return held[pick % len(held)] if held else pick % 3

    def _liquidate(self, caller: str, who: str, asset: int, mode: str, f: int, redeem: bool, via_keeper: bool = False) -> None:
        m0 = self.model.clone()
        sender = self.a.get(caller, caller)
        borrower = self.a[who]
        now = self.now()
        token = self.w.tokens[asset]
        debt = m0.debt(borrower, now)
        max_repay = {"max": MAX_UINT, "half": debt // 2, "frac": debt * f // BPS, "one": 1}[mode]
        facility = self.w.facilities[asset]
        receiver = sender
        if via_keeper:
            receiver = str(self.w.flash_liquidator.address)
        base_before = self.h.base_balance(receiver)
        tok_before = self.h.token_balance(asset, receiver)
        res_box: list[M.LiquidationResult] = []

        def model_fn(m: M.MarketModel):
            if via_keeper:
                rp, _ = m.preview_liquidation(borrower, str(token.address), max_repay, now, self.h.feed)
                if rp == 0:
                    raise M.ModelRevert("flash liquidator: nothing to liquidate")
                m.flash_loan(
                    receiver,
                    receiver,
                    rp,
                    lambda mm: res_box.append(mm.liquidate(receiver, borrower, str(token.address), rp, 0, True, receiver, now, self.h.feed)),
                )
                return res_box[-1]
            r = m.liquidate(sender, borrower, str(token.address), max_repay, 0, redeem, receiver, now, self.h.feed)
            res_box.append(r)
            return r

        if via_keeper:
            chain_fn = lambda: self.w.flash_liquidator.liquidate(borrower, token, max_repay, 0, sender=self.w.keeper)  # noqa: E731
        else:
            chain_fn = lambda: self.w.market.liquidate(borrower, token, max_repay, 0, redeem, receiver, sender=sender)  # noqa: E731
        out = self.h.run(
            "liquidate" + (" (keeper)" if via_keeper else ""),
            model_fn,
            chain_fn,
            external=_external("facility:", "flash liquidator: payout below cost"),
        )
        if not out.ok:
            return
        res = res_box[-1]
        if not via_keeper:
            repaid, seized, payout = out.value
            I.check((repaid, seized) == (res.repaid, res.seized), f"liquidation returned {(repaid, seized)}, model {(res.repaid, res.seized)}")
        left = self.model.balance(borrower, asset)
        left_value = M.value(left, res.valuation.target_price, m0.assets[asset].exponent)
        I.check_liquidation(m0, res, asset, self.model.debt(borrower, now), left, left_value)
        if res.socialized:
            self.socialized_step += res.socialized
        # what the receiver got
        if redeem or via_keeper:
            got = self.h.base_balance(receiver) - base_before + (0 if via_keeper else res.repaid)
            if via_keeper:
                # the keeper contract sweeps its profit to the keeper
                got = None
            if got is not None:
                I.check(got == payout, f"redeem route paid {got}, facility reported {payout}")
                nav = self.h.feed(1 if asset == 2 else asset)[0]
                if asset != 2:
                    want = M.facility_payout(res.sent, nav, (6, 18)[asset], 8, 6, 5)
                    I.check(payout == want, f"redeem payout {payout} != facility formula {want}")
        else:
            got = self.h.token_balance(asset, receiver) - tok_before
            I.check(got == res.sent, f"share route delivered {got}, expected {res.sent} (of {res.taken} booked)")
        if res.written_off:
            self.h.ghost.written_off += res.written_off
            self.h.ghost.socialized += res.socialized

    @rule(who=borrower_ix, asset=asset_ids, mode=st.sampled_from(["max", "half", "frac", "one"]), f=frac, redeem=st.booleans())
    def liquidate(self, who: str, asset: int, mode: str, f: int, redeem: bool) -> None:
        self._liquidate("liquidator", who, self._held(who, asset), mode, f, redeem)

    @rule(who=borrower_ix, asset=asset_ids, mode=st.sampled_from(["max", "frac"]), f=frac)
    def keeper_flash_liquidate(self, who: str, asset: int, mode: str, f: int) -> None:
        self._liquidate("keeper", who, self._held(who, asset), mode, f, True, via_keeper=True)

    @rule(picks=st.lists(borrower_ix, min_size=1, max_size=3, unique=True), asset=asset_ids,
          loan=st.sampled_from(["margin", "exact", "short"]))
    def keeper_flash_liquidate_many(self, picks: list[str], asset: int, loan: str) -> None:
        """The keeper's batch: ``FlashLiquidator.liquidate_many`` over up
        to three positions on one collateral, healthy ones included, under
        a loan sized as the keeper sizes it (the previews plus 0.1 %),
        exactly, or short of the last repayment. The market operations it
        made are replayed on the model (each liquidation must agree), and
        every position it skipped must be one the model refuses with the
        same reason, unless the refusal came from outside the market (the
        facility, or the token when the loan ran short)."""
        w, now = self.w, self.now()
        token = w.tokens[self._held(picks[0], asset)]
        borrowers = [self.a[who] for who in picks]
        total = sum(self._preview_repay(b, str(token.address), now) for b in borrowers)
        amount = {"margin": total + total // 1_000 + 1, "exact": total, "short": max(total - 1, 0)}[loan]
        flash = w.flash_liquidator
        try:
            flash.liquidate_many(token, borrowers, [MAX_UINT] * len(borrowers), amount, 0, sender=w.keeper)
        except Reverted as r:
            I.check(r.reason.split(":")[0] in ("flash liquidator", "market", "facility", "erc20"),
                    f"liquidate_many: unexpected revert {r.reason!r}")
            Harness.stats[("liquidate_many (keeper)", r.reason)] += 1
            self.h.invalidate_prices()
            return
        self.h.invalidate_prices()
        skipped = self.h.skipped_liquidations(flash)
        try:
            results = self.h.replay_events(flash, now)
        except M.ModelRevert as e:
            raise I.InvariantViolation(f"liquidate_many: the market liquidated what the model refuses: {e.reason}")
        I.check(len(results) + len(skipped) == len(borrowers),
                f"liquidate_many: {len(results)} liquidated + {len(skipped)} skipped != {len(borrowers)}")
        Harness.stats[("liquidate_many (keeper)", f"ok: {len(results)} liquidated, {len(skipped)} skipped")] += 1
        for _, reason in skipped:
            Harness.stats[("liquidate_many (keeper) skipped", reason)] += 1
        for borrower, reason in skipped:
            if reason.startswith("facility:") or (loan == "short" and reason.startswith("erc20:")):
                continue
            try:
                self.model.clone().liquidate(str(flash.address), borrower, str(token.address), MAX_UINT, 0, True,
                                             str(flash.address), now, self.h.feed)
            except M.ModelRevert as e:
                I.check(e.reason == reason, f"liquidate_many skipped {borrower} for {reason!r}, model: {e.reason!r}")
            else:
                raise I.InvariantViolation(f"liquidate_many skipped {borrower} ({reason!r}); the model liquidates it")
        for res in results:
            self.socialized_step += res.socialized
            if res.written_off:
                self.h.ghost.written_off += res.written_off
                self.h.ghost.socialized += res.socialized

    def _preview_repay(self, borrower: str, token: str, now: int) -> int:
        """What the keeper's preview of a whole liquidation repays: 0 for a
        position the market would not liquidate, including one whose
        preview reverts "nothing to liquidate" (the contract's preview
        reverts there too; the keeper sizes its loan without it)."""
        try:
            return self.model.preview_liquidation(borrower, token, MAX_UINT, now, self.h.feed)[0]
        except M.ModelRevert as e:
            I.check(e.reason == "market: nothing to liquidate", f"preview_liquidation: unexpected {e.reason!r}")
            return 0

    @rule(fund=st.sampled_from([0, 1]), drop=st.integers(300, 4_000))
    def nav_shock(self, fund: int, drop: int) -> None:
        """A NAV loss large enough to make positions liquidatable (needs
        the guardian's confirmation beyond the oracle's 1 % bound)."""
        self.nav_update(fund, -drop, True)

    @rule(who=borrower_ix, asset=asset_ids)
    def attacker_liquidates_healthy(self, who: str, asset: int) -> None:
        """Liquidating a healthy position always reverts; the attacker's
        wealth check covers the rest."""
        borrower, now = self.a[who], self.now()
        m = self.model
        if not m.scaled.get(borrower):
            return
        v = m.valuation(borrower, asset, M.VALUE_LIQUIDATION, now, self.h.feed)
        if v.liquidation_value < m.debt(borrower, now) or v.target_balance == 0:
            return
        sender = self.a["attacker"]
        token = self.w.tokens[asset]
        out = self.h.run(
            "attacker liquidates a healthy position",
            lambda mm: mm.liquidate(sender, borrower, str(token.address), MAX_UINT, 0, False, sender, now, self.h.feed),
            lambda: self.w.market.liquidate(borrower, token, MAX_UINT, 0, False, sender, sender=sender),
        )
        I.check(not out.ok, "a healthy position was liquidated")

    # ------------------------------------------------------------ #
    # flash loans

    @rule(
        mode=st.sampled_from(["ok", "ok", "wrong_return", "no_approve", "call_redeem", "call_borrow", "call_reserves", "call_book_surplus"]),
        f=frac,
        size=st.sampled_from(["part", "part", "part", "part", "surplus/2", "cash+1", "held", "held+1"]),
    )
    def flash_loan(self, mode: str, f: int, size: str) -> None:
        """The attacker's receiver borrows part of the cash, half the
        unbooked surplus (so that a booking inside the callback finds the
        other half above the cash), one unit more than the cash (lent out of
        the surplus, if any), all the market holds, or one unit more (the
        token reverts). It behaves, misbehaves, or re-enters the market
        from the callback, where the market holds its balance less the
        loan: a payout beyond that fails in the token, and book_surplus
        books only what is left above the cash (the model predicts both).
        The fee stays unbooked: the books do not move."""
        w = self.w
        mock = str(w.flash_borrower.address)
        m0 = self.model
        amount = {
            "part": m0.cash * f // BPS,
            "surplus/2": m0.unbooked // 2,
            "cash+1": m0.cash + 1,
            "held": m0.held(),
            "held+1": m0.held() + 1,
        }[size]
        now = self.now()
        before_market = self.h.base_balance(w.market)
        lenders = (w.admin.totalAssets(), w.market.totalSupply())
        expect = None
        inner = None
        if mode == "ok":
            self._set_mock(MODE_OK)
        elif mode == "wrong_return":
            self._set_mock(MODE_WRONG_RETURN)
            expect = "market: callback failed"
        elif mode == "no_approve":
            self._set_mock(MODE_NO_APPROVE)
            expect = "erc20: insufficient allowance"
        elif mode == "call_redeem":
            shares = m0.shares.get(mock, 0) * f // BPS
            self._set_mock(MODE_CALL, str(w.market.address), w.market.redeem.prepare_calldata(shares, mock, mock))
            inner = lambda m: m.redeem(mock, shares, mock, mock, now)  # noqa: E731
        elif mode == "call_borrow":
            amt = (f + 1) * U
            self._set_mock(MODE_CALL, str(w.market.address), w.market.borrow.prepare_calldata(amt, mock, mock))
            inner = lambda m: m.borrow(mock, amt, mock, mock, now, self.h.feed)  # noqa: E731
        elif mode == "call_reserves":
            self._set_mock(MODE_CALL, str(w.market.address), w.admin.withdraw_reserves.prepare_calldata(1))
            inner = lambda m: m.withdraw_reserves(mock, 1, now)  # noqa: E731
        else:
            self._set_mock(MODE_CALL, str(w.market.address), w.admin.book_surplus.prepare_calldata())
            inner = lambda m: m.book_surplus(mock, now)  # noqa: E731
        # A receiver that fails its side (expect) does so after the market's
        # own checks, which the model runs: their reasons come first.
        out = self.h.run(
            f"flash loan ({mode}, {size})",
            lambda m: m.flash_loan(mock, mock, amount, inner),
            lambda: w.flash_borrower.borrow(w.market, w.stablecoin, amount, b"navlend", sender=self.a["attacker"]),
            expect_reason=expect,
        )
        if size == "held+1":
            I.check(not out.ok, f"a flash loan above the {amount - 1} the market holds succeeded")
        if out.ok:
            fee = out.expected
            bps = self.model.flash_fee_bps
            I.check(fee == M.flash_fee(amount, bps) and (fee > 0 or bps == 0), "flash fee")
            if inner is None:
                I.check(self.h.base_balance(w.market) == before_market + fee, "flash loan did not come back with its fee")
                I.check(self.model.cash == m0.cash and self.model.reserves == m0.reserves, "a flash loan moved the books")
            if inner is None or mode == "call_book_surplus":
                I.check_booking_keeps_lenders_claim(f"flash loan ({mode})", lenders, (w.admin.totalAssets(), w.market.totalSupply()))

    @rule(caller=st.sampled_from(["attacker", "attacker", "lender0", "borrower0", "owner"]))
    def book_surplus(self, caller: str) -> None:
        """Anyone books the surplus (flash fees, donations) as reserves,
        after an accrual: it never reverts, returns what it booked, leaves
        nothing unbooked, and leaves the lenders' share price unchanged to
        the unit (totalAssets accrued to now, before and after)."""
        w = self.w
        sender = str(w.owner) if caller == "owner" else self.a[caller]
        now = self.now()
        surplus = self.model.surplus()
        before = (w.admin.totalAssets(), w.market.totalSupply())
        out = self.h.run("book_surplus", lambda m: m.book_surplus(sender, now), lambda: w.admin.book_surplus(sender=sender))
        I.check(out.ok, f"book_surplus reverted: {out.reason}")
        I.check(out.value == out.expected == surplus, f"book_surplus booked {out.value}, model {out.expected}, surplus was {surplus}")
        I.check(w.admin.surplus() == 0 and self.h.base_balance(w.market) == self.model.cash, "surplus left unbooked")
        I.check_booking_keeps_lenders_claim("book_surplus", before, (w.admin.totalAssets(), w.market.totalSupply()))

    # ------------------------------------------------------------ #
    # leverage

    def _periphery(self, name: str, fn) -> None:
        """Runs a periphery call (Leverage) on the chain and replays the
        market operations it made on the model (see Harness.replay_events).
        The periphery's own arithmetic (how much to flash-borrow) is its
        business; what reaches the market must agree with the model. A
        revert must carry a known reason and changes nothing."""

        now = self.now()
        try:
            fn()
        except Reverted as r:
            I.check(
                r.reason.split(":")[0] in ("market", "leverage", "facility", "erc20", "fund", "wrapper"),
                f"{name}: unexpected revert {r.reason!r}",
            )
            self.h.invalidate_prices()
            return
        self.h.invalidate_prices()
        try:
            self.h.replay_events(self.w.leverage, now)
        except M.ModelRevert as e:
            raise I.InvariantViolation(f"{name}: the market accepted an operation the model rejects: {e.reason}")

    @rule(unwind=st.booleans(), asset=st.sampled_from([0, 1, 2]), equity=st.integers(100, 200_000), ltv=st.integers(1_000, 9_000))
    def leverage(self, unwind: bool, asset: int, equity: int, ltv: int) -> None:
        """Carry trade through Leverage: open (flash loan, subscribe, wrap,
        post, borrow) or unwind (flash loan, repay, withdraw, redeem)."""
        w = self.w
        user = self.a["borrower2"]
        token = w.tokens[asset]
        if unwind:
            self._periphery("leverage unwind", lambda: w.leverage.unwind(token, 0, sender=user))
        else:
            # The wrapper subscribes through fund B's facility, then wraps.
            facility = (w.facility_a, w.facility_c, w.facility_b)[asset]
            self._periphery("leverage open", lambda: w.leverage.open(token, facility, equity * U, ltv, 0, 9_500, sender=user))

    # ------------------------------------------------------------ #
    # time, NAV, dividends, facility

    @rule(kind=st.sampled_from(["block", "minutes", "hour", "day", "days"]), x=st.integers(1, 100))
    def time_passes(self, kind: str, x: int) -> None:
        seconds = {"block": 12, "minutes": 60 * x, "hour": 3_600, "day": 86_400, "days": 86_400 * (1 + x % 5)}[kind]
        self._advance(seconds)
        b = self.a[BORROWERS[x % 3]]
        if self.model.scaled.get(b):
            got = self.w.admin.debt_of(b)
            I.check(got == self.model.debt(b, self.now()), f"debt_of view {got} != model {self.model.debt(b, self.now())}")

    @rule(
        fund=st.sampled_from([0, 1, 2]),
        move=st.one_of(st.integers(0, 3), st.integers(-3_000, -300), st.integers(-300, -1), st.integers(-60, 60), st.just(-9_000)),
        confirm=st.booleans(),
    )
    def nav_update(self, fund: int, move: int, confirm: bool) -> None:
        """Small accruals, drops (large ones need the guardian), and for the
        $1 fund B (the wrapper's) mostly nothing; the market and the facility
        read the same NavOracle. ``fund``: 0 = A, 1 = B, 2 = C."""
        w = self.w
        oracle = (w.oracle_a, w.oracle_b, w.oracle_c)[fund]
        self._settle_pending(oracle, confirm)
        nav, as_of = self.h.nav_round(oracle)
        if fund == 1 and move > 0:
            move = 0
        new = max(nav * (BPS + move) // BPS, 1)
        gap = self.now() - as_of
        if gap < w.config.nav_min_interval:
            self._advance(w.config.nav_min_interval - gap)
        applied = oracle.publish(new, self.now(), sender=w.updater)
        if not applied:
            if confirm:
                oracle.confirm_pending(sender=w.guardian)
            else:
                oracle.reject_pending(sender=w.guardian)
        self.h.invalidate_prices()

    @rule(amount=st.integers(1, 500_000), harvest=st.booleans())
    def dividend(self, amount: int, harvest: bool) -> None:
        """Dividends of the $1 fund B, minted as shares to the wrapper (the
        wrapper's share price rises as it unlocks). The market never holds
        fund B: it refuses to list a dividend fund raw, whose dividends
        minted to it would be credited to no one."""
        w = self.w
        w.fund_b.distribute([str(w.wrapper.address)], [amount * 10**18 // 100])
        if harvest:
            w.wrapper.harvest()
        self.h.invalidate_prices()

    @rule(which=st.sampled_from([0, 1, 2]), drain=st.booleans(), f=frac)
    def facility_liquidity(self, which: int, drain: bool, f: int) -> None:
        """The issuer pulls redemption liquidity out, or tops it up
        (``which``: fund A's, fund B's (the wrapper's) or fund C's)."""
        w = self.w
        facility = (w.facility_a, w.facility_b, w.facility_c)[which]
        held = self.h.base_balance(facility)
        if drain:
            amount = held * f // BPS
            if amount:
                facility.withdraw_liquidity(amount, w.owner)
        else:
            w.stablecoin.mint(facility, (f + 1) * 100 * U)

    # ------------------------------------------------------------ #
    # owner, guardian, attacker

    @rule(
        caller=st.sampled_from(["guardian", "owner", "attacker"]),
        actions=st.integers(0, 130),
        unpause=st.booleans(),
        grace=st.sampled_from([0, 0, 60, 4 * 3_600, 4 * 3_600 + 1]),
    )
    def pause_or_unpause(self, caller: str, actions: int, unpause: bool, grace: int) -> None:
        w = self.w
        sender = {"guardian": str(w.guardian), "owner": str(w.owner), "attacker": self.a["attacker"]}[caller]
        now = self.now()
        if unpause:
            self.h.run(
                "unpause",
                lambda m: m.unpause(sender, actions, grace, now),
                lambda: w.admin.unpause(actions, grace, sender=sender),
            )
        else:
            self.h.run("pause", lambda m: m.pause(sender, actions), lambda: w.admin.pause(actions, sender=sender))

    @rule(
        caller=st.sampled_from(["owner", "owner", "attacker"]),
        base=st.integers(0, 20),
        s1=st.integers(0, 50),
        s2=st.integers(0, 300),
        kink=st.integers(500, 10_000),
        rf=st.integers(0, 6_000),
    )
    def set_rates(self, caller: str, base: int, s1: int, s2: int, kink: int, rf: int) -> None:
        w = self.w
        sender = str(w.owner) if caller == "owner" else self.a["attacker"]
        args = (base * M.WAD // 100, s1 * M.WAD // 100, s2 * M.WAD // 100, kink, rf)
        now = self.now()
        self.h.run("set_rates", lambda m: m.set_rates(sender, *args, now), lambda: w.admin.set_rates(*args, sender=sender))

    @rule(caller=st.sampled_from(["owner", "attacker"]), flash=st.one_of(st.integers(0, 120), st.sampled_from([100, 101])), liq=st.one_of(st.integers(0, 5_500), st.sampled_from([5_000, 5_001])))
    def set_fees(self, caller: str, flash: int, liq: int) -> None:
        w = self.w
        sender = str(w.owner) if caller == "owner" else self.a["attacker"]
        self.h.run("set_fees", lambda m: m.set_fees(sender, flash, liq), lambda: w.admin.set_fees(flash, liq, sender=sender))

    @rule(min_borrow=st.integers(0, 500), small=st.integers(0, 5_000), dust=st.integers(0, 3_000), equal=st.booleans())
    def set_borrow_limits(self, min_borrow: int, small: int, dust: int, equal: bool) -> None:
        w = self.w
        if equal:
            dust = small
        sender = str(w.owner)
        self.h.run(
            "set_borrow_limits",
            lambda m: m.set_borrow_limits(sender, min_borrow, small, dust),
            lambda: w.admin.set_borrow_limits(min_borrow, small, dust, sender=sender),
        )

    @rule(asset=asset_ids, ltv=st.integers(5_000, 9_600), gap=st.integers(0, 800), bonus=st.integers(0, 2_100))
    def set_asset_risk(self, asset: int, ltv: int, gap: int, bonus: int) -> None:
        w = self.w
        sender = str(w.owner)
        token = w.tokens[asset]
        threshold = ltv + gap
        self.h.run(
            "set_asset_risk",
            lambda m: m.set_asset_risk(sender, str(token.address), ltv, threshold, bonus),
            lambda: w.admin.set_asset_risk(token, ltv, threshold, bonus, sender=sender),
        )

    @rule(asset=asset_ids, cap=st.sampled_from([0, 1, 2]), price_cap=st.sampled_from([0, 10**8, 9 * 10**8, 11 * 10**8]), age=st.sampled_from([3_600, 86_400, 360_000, 604_800, 604_801, 3_599]))
    def set_asset_limits(self, asset: int, cap: int, price_cap: int, age: int) -> None:
        w = self.w
        sender = str(w.owner)
        token = w.tokens[asset]
        supply_cap = (2**120 - 1, self.model.assets[asset].total_supplied + 10**21, 2**120)[cap]
        self.h.run(
            "set_asset_limits",
            lambda m: m.set_asset_limits(sender, str(token.address), supply_cap, price_cap, age),
            lambda: w.admin.set_asset_limits(token, supply_cap, price_cap, age, sender=sender),
        )

    @rule(asset=asset_ids, caller=st.sampled_from(["guardian", "owner", "attacker"]), frozen=st.booleans())
    def set_asset_frozen(self, asset: int, caller: str, frozen: bool) -> None:
        w = self.w
        sender = {"guardian": str(w.guardian), "owner": str(w.owner), "attacker": self.a["attacker"]}[caller]
        token = w.tokens[asset]
        self.h.run(
            "set_asset_frozen",
            lambda m: m.set_asset_frozen(sender, str(token.address), frozen),
            lambda: w.admin.set_asset_frozen(token, frozen, sender=sender),
        )

    @rule(f=frac, over=st.booleans(), caller=st.sampled_from(["owner", "owner", "attacker"]))
    def withdraw_reserves(self, f: int, over: bool, caller: str) -> None:
        w = self.w
        sender = str(w.owner) if caller == "owner" else self.a["attacker"]
        now = self.now()
        # What it may withdraw: the reserves accrued to now plus the surplus
        # it books first.
        reserves = self.model.accrued(now).reserves + self.model.surplus()
        amount = reserves + 1 if over else reserves * f // BPS
        before = (w.admin.totalAssets(), w.market.totalSupply())
        out = self.h.run(
            "withdraw_reserves",
            lambda m: m.withdraw_reserves(sender, amount, now),
            lambda: w.admin.withdraw_reserves(amount, sender=sender),
        )
        if out.ok:
            I.check_booking_keeps_lenders_claim("withdraw_reserves", before, (w.admin.totalAssets(), w.market.totalSupply()))

    @rule(what=st.sampled_from(["base", "fund_a", "fund_c"]), x=st.integers(1, 10**6))
    def attacker_donates(self, what: str, x: int) -> None:
        """Donations move neither the share price nor the utilisation."""
        w, sender = self.w, self.a["attacker"]
        if what == "base":
            amount = x
            w.stablecoin.transfer(w.market, amount, sender=sender)
            self.h.model.receive_base(amount)
            self.h.ghost.base_donated += amount
        else:
            asset = 0 if what == "fund_a" else 1
            amount = min(x * 10**(6 if asset == 0 else 12), self.h.token_balance(asset, sender))
            if amount:
                w.tokens[asset].transfer(w.market, amount, sender=sender)
                self.h.ghost.token_donated[asset] += amount

    @rule(x=st.integers(1, 50), kind=st.sampled_from(["deposit_withdraw", "mint_redeem"]))
    def attacker_rounding_loop(self, x: int, kind: str) -> None:
        """1-wei style loops; the wealth invariant (exact rationals) catches
        any profit."""
        sender, now = self.a["attacker"], self.now()
        for _ in range(3):
            if kind == "deposit_withdraw":
                self.h.run("loop deposit", lambda m: m.deposit(sender, x, sender, now), lambda: self.w.market.deposit(x, sender, sender=sender))
                self.h.run("loop withdraw", lambda m: m.withdraw(sender, x, sender, sender, now), lambda: self.w.market.withdraw(x, sender, sender, sender=sender))
            else:
                self.h.run("loop mint", lambda m: m.mint(sender, x, sender, now), lambda: self.w.market.mint(x, sender, sender=sender))
                self.h.run("loop redeem", lambda m: m.redeem(sender, x, sender, sender, now), lambda: self.w.market.redeem(x, sender, sender, sender=sender))

    # ------------------------------------------------------------ #
    # views agree with the model

    @rule(view=st.sampled_from(["totalAssets", "position", "preview", "max", "market_state", "preview_liquidation", "flash", "surplus"]), who=borrower_ix, x=st.integers(0, 10**15))
    def views_agree(self, view: str, who: str, x: int) -> None:
        w, m, now = self.w, self.model, self.now()
        b = self.a[who]
        lender = self.a["lender0"]
        if view == "totalAssets":
            I.check(w.admin.totalAssets() == m.total_assets(now), "totalAssets view")
        elif view == "position":
            got = tuple(w.admin.position(b))
            I.check(got == m.position(b, now, self.h.feed), f"position view {got} != model {m.position(b, now, self.h.feed)}")
        elif view == "preview":
            got = (w.admin.previewDeposit(x), w.admin.previewMint(x), w.admin.previewWithdraw(x), w.admin.previewRedeem(x))
            want = (m.preview_deposit(x, now), m.preview_mint(x, now), m.preview_withdraw(x, now), m.preview_redeem(x, now))
            I.check(got == want, f"previews {got} != model {want}")
        elif view == "max":
            got = (w.admin.maxWithdraw(lender), w.admin.maxRedeem(lender), w.admin.maxFlashLoan(w.stablecoin))
            want = (m.max_withdraw(lender, now), m.max_redeem(lender, now), m.max_flash_loan())
            I.check(got == want, f"max views {got} != model {want}")
        elif view == "market_state":
            a = m.accrued(now)
            got = tuple(w.admin.market_state())
            want = (m.cash, M.borrows_of(m.total_scaled, a.index), a.reserves, a.index, m.total_scaled)
            I.check(got == want, f"market_state {got} != model {want}")
        elif view == "preview_liquidation":
            token = w.tokens[x % 3]
            got = tuple(w.admin.preview_liquidation(b, token, MAX_UINT))
            try:
                want = m.preview_liquidation(b, str(token.address), MAX_UINT, now, self.h.feed)
            except M.ModelRevert:
                want = "revert"
            I.check(got == want, f"preview_liquidation {got} != model {want}")
        elif view == "surplus":
            I.check(w.admin.surplus() == m.surplus(), f"surplus view {w.admin.surplus()} != model {m.surplus()}")
        else:
            I.check(w.admin.flashFee(w.stablecoin, x) == M.flash_fee(x, m.flash_fee_bps), "flashFee view")

    # ------------------------------------------------------------ #
    # invariants after every step

    @invariant()
    def invariants_hold(self) -> None:
        if self.steps:
            MarketMachine.step_counter += 1
        self.steps += 1
        self.h.check_invariants(self.socialized_step)
        p = self.h.ghost.last_price
        g = self.h.ghost
        for actor in WEALTH_ACTORS:
            prev = self.prev_shares.get(actor, 0)
            g.entitled[actor] += prev * (p - self.prev_price)
            base, shares = self._wealth_parts(actor)
            I.check_wealth(actor, I.wealth(base, shares, p), g)
            self.prev_shares[actor] = shares
        self.prev_price = p
        self.socialized_step = 0


def make_test_case(settings_obj) -> type:
    """A unittest TestCase running the machine under ``settings_obj``."""
    tc = MarketMachine.TestCase
    tc.settings = settings_obj
    return tc


__all__ = ["MarketMachine", "make_test_case"]
