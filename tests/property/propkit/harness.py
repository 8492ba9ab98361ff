"""Glue between a deployed world, the reference model and the
invariants: builds the model from the chain, reads snapshots, supplies
prices, and runs one operation on both sides (:meth:`Harness.run`)."""

from __future__ import annotations

import collections
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

from eth_abi import decode as abi_decode

from navlend import model as M

from . import adapter as A
from . import invariants as I
from .world import CONTRACTS, EvmWorld, Reverted

MASK64 = 2**64 - 1
MASK128 = 2**128 - 1


@dataclass
class Outcome:
    ok: bool
    value: Any = None
    expected: Any = None
    reason: str | None = None
    external: bool = False


def _topic(sig: str) -> int:
    from eth_hash.auto import keccak

    return int.from_bytes(keccak(sig.encode()), "big")


EV_SUPPLY = _topic("SupplyCollateral(address,address,address,uint256,uint256)")
EV_WITHDRAW = _topic("WithdrawCollateral(address,address,address,address,uint256,uint256)")
EV_BORROW = _topic("Borrow(address,address,address,uint256,uint256,uint256)")
EV_REPAY = _topic("Repay(address,address,uint256,uint256,uint256)")
EV_FLASH = _topic("FlashLoan(address,address,uint256,uint256)")
# FlashLiquidator.LiquidationSkipped(borrower, token, reason)
EV_SKIPPED = _topic("LiquidationSkipped(address,address,bytes)")
EV_LIQUIDATE = _topic("Liquidate(address,address,address,address,uint256,uint256,uint256,uint256,uint256,uint256)")
EV_SURPLUS = _topic("SurplusBooked(address,uint256,uint256)")


def _t_addr(t: int) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(t.to_bytes(32, "big")[12:])


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data), 32)]


def model_from_snapshot(snap: A.Snapshot, owner: Any, guardian: Any, treasury: Any, tokens: list, facilities: list, base_decimals: int = 6) -> M.MarketModel:
    """A reference model holding exactly the market state in ``snap``
    (positions of the snapshot's accounts)."""
    m = M.MarketModel(
        base_decimals=base_decimals,
        owner=A._address(owner),
        guardian=A._address(guardian),
        treasury=A._address(treasury),
        index=snap.index,
        last_accrual=snap.last_accrual,
        total_scaled=snap.total_scaled,
        paused=snap.paused,
        cash=snap.cash,
        reserves=snap.reserves,
        # At rest the market holds its cash plus what it has not booked.
        unbooked=snap.market_base_balance - snap.cash,
        rates=M.Rates(*snap.rates),
        resume_at=snap.control[0],
        flash_fee_bps=snap.control[1],
        liquidation_fee_bps=snap.control[2],
        min_borrow=snap.control[3],
        small_position=snap.control[4],
        dust_floor=snap.control[5],
        total_supply=snap.total_supply,
    )
    for i, (aw, token) in enumerate(zip(snap.assets, tokens)):
        m.assets.append(
            M.Asset(
                token=A._address(token),
                exponent=aw.exponent,
                ltv_bps=aw.ltv_bps,
                threshold_bps=aw.threshold_bps,
                bonus_bps=aw.bonus_bps,
                supply_cap=aw.supply_cap,
                price_cap=aw.price_cap if aw.flags & 2 else 0,
                max_oracle_age=aw.max_oracle_age,
                frozen=bool(aw.flags & 1),
                total_supplied=aw.total_supplied,
                facility=A._address(facilities[i]),
            )
        )
    for acct, pw in snap.positions.items():
        if pw.scaled:
            m.scaled[acct] = pw.scaled
        for i, c in enumerate(pw.collateral):
            if c:
                m.collateral[(acct, i)] = c
        if snap.shares.get(acct):
            m.shares[acct] = snap.shares[acct]
    return m


class Harness:
    """One example's view of the world: model, ghost, adapter, snapshots."""

    # (operation, outcome) counts across examples, for coverage reports
    # (``NAVLEND_PROPERTY_STATS=1`` prints them at the end of a pytest run).
    stats: "collections.Counter[tuple[str, str]]" = collections.Counter()

    def __init__(self, w: EvmWorld):
        self.w = w
        self.ad = A.EvmAdapter(w.env)
        arts = w.arts
        self.lay = A.MarketLayout.from_layout(arts[CONTRACTS["market"]].layout)
        self.base_slot = A.token_balance_slot(arts[CONTRACTS["stablecoin"]].layout)
        fund_slot = A.token_balance_slot(arts[CONTRACTS["fund"]].layout)
        wrap_layout = arts[CONTRACTS["wrapper"]].layout
        self.token_slots = [fund_slot, fund_slot, A.token_balance_slot(wrap_layout)]
        ws = wrap_layout["storage_layout"]
        self.wrap_tracked_slot = ws["_tracked_assets"]["slot"]
        self.wrap_schedule_slot = ws["_schedule"]["slot"]
        self.wrap_supply_slot = ws["erc20"]["totalSupply"]["slot"]
        self.oracle_latest_slot = arts[CONTRACTS["oracle"]].layout["storage_layout"]["_latest"]["slot"]
        # PendingRound's first member (the answer) sits at the struct's slot.
        self.oracle_pending_slot = arts[CONTRACTS["oracle"]].layout["storage_layout"]["pending_round"]["slot"]
        a = w.actors
        # Accounts whose positions and shares the snapshot reads: every
        # actor, the treasury (fee credits) and the attacker's flash
        # borrower (holds shares). Leverage, the FlashLiquidator, the keeper
        # and the owner never hold either; a bug crediting them would still
        # break the totals (Σ scaled debt, total supplied, share supply),
        # which are compared against the model.
        self.accounts = [str(x) for x in a.values()] + [str(w.treasury), str(w.flash_borrower.address)]
        self.model = self.model_from_chain()
        # What the market already held unbooked counts as donated.
        self.ghost = I.Ghost(base_donated=self.model.unbooked)
        self._price_cache: dict[int, tuple[int, tuple[int, int]]] = {}

    # ------------------------------------------------------------ #
    # reading the chain

    def now(self) -> int:
        return self.w.env.timestamp

    def base_balance(self, account: Any) -> int:
        return self.ad.storage(self.w.stablecoin, A.map_slot(self.base_slot, A._address(account)))

    def token_balance(self, asset_id: int, account: Any) -> int:
        return self.ad.storage(self.w.tokens[asset_id], A.map_slot(self.token_slots[asset_id], A._address(account)))

    def share_balance(self, account: Any) -> int:
        return self.ad.storage(self.w.market, A.map_slot(self.lay.balance_of, A._address(account)))

    def nav_round(self, oracle: Any) -> tuple[int, int]:
        """(answer, as_of) of a NavOracle, from its packed latest word."""
        word = self.ad.storage(oracle, self.oracle_latest_slot)
        return word & MASK128, (word >> 128) & MASK64

    def wrapper_assets_per_share(self) -> int:
        st = self.ad.storage
        now = self.now()
        tracked = st(self.w.wrapper, self.wrap_tracked_slot)
        sched = st(self.w.wrapper, self.wrap_schedule_slot)
        end, start, locked = sched & MASK64, (sched >> 64) & MASK64, sched >> 128
        lock_now = 0 if now >= end else M.mul_div(locked, end - now, end - start, True)
        ta = tracked - lock_now
        ts = st(self.w.wrapper, self.wrap_supply_slot)
        return M.mul_div(10**18, ta + 1, ts + 1, False)

    def feed(self, asset_id: int) -> tuple[int, int, int]:
        """The oracle answer, strike time and pending answer (0: none) the
        market reads for an asset, computed from storage (no EVM):
        NavOracle's packed word and pending round; for the wrapper,
        WrapperNavOracle's formula over the wrapper's storage. A
        differential test checks this against latestRoundData()."""
        now = self.now()
        hit = self._price_cache.get(asset_id)
        if hit is not None and hit[0] == now:
            return hit[1]
        if asset_id == 0:
            r = self.nav_round(self.w.oracle_a) + (self.nav_pending(self.w.oracle_a),)
        elif asset_id == 1:
            r = self.nav_round(self.w.oracle_c) + (self.nav_pending(self.w.oracle_c),)
        else:
            nav, as_of = self.nav_round(self.w.oracle_b)
            aps = self.wrapper_assets_per_share()
            pending = self.nav_pending(self.w.oracle_b)
            r = (
                M.mul_div(nav, aps, 10**18, False),
                as_of,
                M.mul_div(pending, aps, 10**18, False) if pending else 0,
            )
        self._price_cache[asset_id] = (now, r)
        return r

    def nav_pending(self, oracle: Any) -> int:
        """The answer a NavOracle holds pending for its guardian (0: none)."""
        return self.ad.storage(oracle, self.oracle_pending_slot)

    def invalidate_prices(self) -> None:
        self._price_cache.clear()

    def snapshot(self) -> A.Snapshot:
        return A.read_snapshot(
            self.ad,
            self.w.market,
            self.lay,
            self.accounts,
            3,
            self.w.stablecoin,
            self.base_slot,
            self.w.tokens,
            self.token_slots,
        )

    def model_from_chain(self) -> M.MarketModel:
        w = self.w
        m = model_from_snapshot(self.snapshot(), w.owner, w.guardian, w.treasury, w.tokens, w.facilities)
        for name in ("borrower0", "borrower1", "borrower2"):
            m.authorized[(str(w.actors[name]).lower(), str(w.leverage.address).lower())] = True
        return m

    # ------------------------------------------------------------ #
    # running one operation on both sides

    def run(
        self,
        name: str,
        model_fn: Callable[[M.MarketModel], Any],
        chain_fn: Callable[[], Any],
        external: Callable[[str], bool] | None = None,
        expect_reason: str | None = None,
    ) -> Outcome:
        """Applies ``model_fn`` to the model and ``chain_fn`` to the chain.

        - the model reverts: the chain must revert with the same reason;
        - the model succeeds: the chain must succeed, unless ``external``
          accepts the chain's revert reason (a failure outside the market:
          the fund's allowlist, the facility, the periphery), in which case
          the model is rolled back;
        - ``expect_reason``: a revert the model cannot see (e.g. a flash
          borrower that does not approve), required of the chain.

        When both succeed, the market's FlashLoan and SurplusBooked events
        must be the ones the model emitted, in order (and feed the ghost's
        ledger of fees and booked surplus).
        """
        self.model.events.clear()
        before = self.model
        trial = self.model.clone()
        mrev = None
        expected = None
        try:
            expected = model_fn(trial)
        except M.ModelRevert as e:
            mrev = e.reason
        else:
            self.model = trial
        crev = None
        value = None
        try:
            value = chain_fn()
        except Reverted as r:
            crev = r.reason
        self.invalidate_prices()
        Harness.stats[(name, "ok" if crev is None else crev)] += 1
        if mrev is not None:
            if crev != mrev:
                raise I.InvariantViolation(
                    f"{name}: model reverts {mrev!r} but the contract "
                    + (f"reverted {crev!r}" if crev is not None else f"succeeded ({value!r})")
                )
            return Outcome(False, reason=crev)
        if expect_reason is not None:
            if crev != expect_reason:
                raise I.InvariantViolation(f"{name}: expected revert {expect_reason!r}, got {crev!r} ({value!r})")
            self.model = before
            return Outcome(False, reason=crev, external=True)
        if crev is not None:
            if external is not None and external(crev):
                self.model = before
                return Outcome(False, reason=crev, external=True)
            raise I.InvariantViolation(f"{name}: model succeeds ({expected!r}) but the contract reverted {crev!r}")
        self._check_events(name)
        return Outcome(True, value=value, expected=expected)

    def chain_events(self) -> list[tuple]:
        """The market's FlashLoan and SurplusBooked events of the last call,
        in the model's form (see ``MarketModel.events``)."""
        out: list[tuple] = []
        for topic, idx, words in self.market_events(None):
            if topic == EV_FLASH:
                out.append(("FlashLoan", _t_addr(idx[0]).lower(), _t_addr(idx[1]).lower(), words[0], words[1]))
            elif topic == EV_SURPLUS:
                out.append(("SurplusBooked", _t_addr(idx[0]).lower(), words[0], words[1]))
        return out

    def _check_events(self, name: str) -> None:
        """The last call's events equal the model's; the ghost books the
        fees paid in and the surplus booked (``check_base_backing``)."""
        got, want = self.chain_events(), list(self.model.events)
        self.model.events.clear()
        I.check(got == want, f"{name}: market events {got} != model {want}")
        for event in got:
            if event[0] == "FlashLoan":
                self.ghost.flash_fees += event[4]
            else:
                self.ghost.surplus_booked += event[2]

    def market_events(self, contract: Any) -> list[tuple[int, list[int], list[int]]]:
        """The market's raw logs of ``contract``'s last call, in order:
        (topic0, topics[1:], data words)."""
        market = A._address(self.w.market)
        return [
            (log.topics[0], list(log.topics[1:]), _words(log.data))
            for log in self.w.env.last_logs()
            if log.address == market and log.topics
        ]

    def skipped_liquidations(self, flash: Any) -> list[tuple[str, str]]:
        """``(borrower, reason)`` of each ``LiquidationSkipped`` the
        FlashLiquidator ``flash`` logged in the last call (the market's
        ``Error(string)`` decoded, else its hex)."""
        address = A._address(flash)
        out = []
        for log in self.w.env.last_logs():
            if log.address == address and log.topics and log.topics[0] == EV_SKIPPED:
                (reason,) = abi_decode(["bytes"], log.data)
                text = ("0x" + reason.hex()) if reason[:4] != bytes.fromhex("08c379a0") else \
                    abi_decode(["string"], reason[4:])[0]
                out.append((_t_addr(log.topics[1]), text))
        return out

    def replay_events(self, contract: Any, now: int) -> list[M.LiquidationResult]:
        """Applies the market operations a periphery call made (read from
        the market's events) to the model, and checks that each one agrees:
        the model must accept it and end where the event says. A flash loan
        wraps the operations of its callback: the model lends (its checks,
        the principal out), replays them, and takes the fee back unbooked.
        A liquidation is replayed on the redeem route (the periphery's only
        one) with the repayment as its ``max_repay``: the market's rules
        give the same amounts again on the same state. Returns the
        liquidations' results, in order."""
        events = self.market_events(contract)
        flash = [e for e in events if e[0] == EV_FLASH]
        I.check(len(flash) <= 1, "more than one flash loan in a periphery call")
        liquidations: list[M.LiquidationResult] = []
        swept = self._sweep_events(events)

        def replay(m: M.MarketModel) -> None:
            for k, (topic, idx, words) in enumerate(events):
                if k in swept:
                    continue  # the model's liquidate moves the remnant itself
                if topic == EV_LIQUIDATE:
                    liquidator, borrower, token = (_t_addr(t) for t in idx)
                    receiver, repaid, seized, fee, _payout, scaled_left, left = words
                    res = m.liquidate(liquidator, borrower, token, repaid, 0, True, _t_addr(receiver), now, self.feed)
                    I.check((res.repaid, res.seized, res.fee) == (repaid, seized, fee),
                            f"liquidate event {(repaid, seized, fee)} != model {(res.repaid, res.seized, res.fee)}")
                    I.check(m.scaled.get(borrower, 0) == scaled_left and m.balance(borrower, m.asset_id(token)) == left,
                            "liquidate event position != model")
                    liquidations.append(res)
                elif topic == EV_SUPPLY:
                    caller, on_behalf, token = (_t_addr(t) for t in idx)
                    m.supply_collateral(caller, token, words[0], on_behalf)
                    I.check(m.balance(on_behalf, m.asset_id(token)) == words[1], "supply event collateral != model")
                elif topic == EV_WITHDRAW:
                    caller, on_behalf, token = (_t_addr(t) for t in idx)
                    receiver = _t_addr(words[0])
                    m.withdraw_collateral(caller, token, words[1], on_behalf, receiver, now, self.feed)
                    I.check(m.balance(on_behalf, m.asset_id(token)) == words[2], "withdraw event collateral != model")
                elif topic == EV_BORROW:
                    caller, on_behalf, receiver = (_t_addr(t) for t in idx)
                    m.borrow(caller, words[0], on_behalf, receiver, now, self.feed)
                    I.check(m.scaled.get(on_behalf, 0) == words[1] and m.index == words[2], "borrow event != model")
                elif topic == EV_REPAY:
                    caller, on_behalf = (_t_addr(t) for t in idx)
                    repaid = m.repay(caller, words[0], on_behalf, now)
                    I.check(repaid == words[0] and m.scaled.get(on_behalf, 0) == words[1], "repay event != model")

        self.model.events.clear()
        m = self.model.clone()
        if flash:
            _, idx, words = flash[0]
            fee = m.flash_loan(_t_addr(idx[0]), _t_addr(idx[1]), words[0], replay)
            I.check(fee == words[1], f"flash fee {words[1]} != model {fee}")
        else:
            replay(m)
        self.model = m
        self._check_events("periphery call")
        return liquidations

    def _sweep_events(self, events: list[tuple[int, list[int], list[int]]]) -> set[int]:
        """Indexes of the events that log a liquidation's sweep of a sub-dust
        remnant to the treasury (a WithdrawCollateral of the borrower to the
        treasury and the treasury's SupplyCollateral, per asset), which the
        market emits before that liquidation's Liquidate event."""
        treasury = A._address(self.w.treasury).lower()
        out: set[int] = set()
        for k, (topic, idx, _words) in enumerate(events):
            if topic != EV_LIQUIDATE:
                continue
            borrower = _t_addr(idx[1]).lower()
            j = k - 1
            while j >= 0 and events[j][0] not in (EV_LIQUIDATE, EV_FLASH):
                t, jdx, jwords = events[j]
                if t == EV_SUPPLY and _t_addr(jdx[1]).lower() == treasury:
                    out.add(j)
                elif t == EV_WITHDRAW and _t_addr(jdx[1]).lower() == borrower and _t_addr(jwords[0]).lower() == treasury:
                    out.add(j)
                elif t in (EV_SUPPLY, EV_WITHDRAW, EV_BORROW, EV_REPAY):
                    break
                j -= 1
        return out

    # ------------------------------------------------------------ #
    # invariants

    def check_invariants(self, socialized_this_step: int = 0) -> A.Snapshot:
        snap = self.snapshot()
        I.check_model_agrees(snap, self.model)
        I.check_base_backing(snap, self.model, self.ghost)
        I.check_collateral_backing(snap, self.ghost, self.model)
        I.check_books_covered(snap, self.model)
        I.check_debt_sum(snap)
        I.check_lender_claims(snap, self.model)
        I.check_share_price(self.model, snap.now, self.ghost, socialized_this_step)
        return snap

    def price(self) -> Fraction:
        return I.share_price(self.model, self.now())
