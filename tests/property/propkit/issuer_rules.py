"""What real issuers and NAV guardians do, as state-machine rules.

A mixin of :class:`propkit.machine.MarketMachine` (kept in its own file so
that the core machine stays about the market's users):

- ``issuer_restricts``: the issuer freezes, unfreezes, removes or re-admits
  a borrower on fund A, B or C (fund B is the wrapper's compliance source). The model learns who is not admitted
  (``MarketModel.blocked``), so every later borrow, withdrawal and posting
  is checked against the market's compliance rule by the differential.
- ``issuer_takes`` / ``anyone_syncs``: the issuer burns or seizes part
  of the market's own balance of fund A or C, and anyone syncs the books
  (``sync_asset``); the model learns the ratio of real to booked units,
  which then prices the asset and scales every unit that leaves.
- ``nav_parks_pending`` / ``guardian_settles``: a NAV move beyond the
  oracle's bound stays pending across steps until the guardian confirms or
  rejects it; meanwhile the model values borrowing and withdrawing at the
  lower pending answer and liquidation at the confirmed one.

Invariants, checked after every step:

- an owner holding collateral of an asset whose compliance source does not
  admit it never sees its scaled debt grow (no borrow against any of its
  collateral), and that collateral leaves only with a fall of its scaled
  debt in the same step (a liquidation, never a withdrawal);
- after a liquidation, no position is left with debt and collateral worth
  less than both the dust floor and that debt (the write-off took it);
- after a sync, the books never pay out more than the balance (checked by
  the harness after every step: ``invariants.check_books_covered``, with
  ``check_collateral_backing`` counting what the issuer took).
"""

from __future__ import annotations

from typing import Any

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from navlend import model as M

from . import invariants as I
from navlend.constants import BPS

BORROWERS = ("borrower0", "borrower1", "borrower2")
# Step names whose success is a liquidation (Harness.run's names), and the
# keeper's batch rule's.
LIQUIDATIONS = ("liquidate", "liquidate (keeper)")
BATCH = "liquidate_many (keeper)"


class IssuerActions:
    """Issuer and guardian rules; see the module docstring."""

    w: Any
    h: Any
    a: dict[str, str]

    # ------------------------------------------------------------ #
    # compliance

    def _funds(self) -> tuple[Any, Any, Any]:
        """The funds whose issuer acts (the compliance sources): A and C
        of their raw listings, B of the wrapper."""
        return self.w.fund_a, self.w.fund_b, self.w.fund_c

    def _blocked_now(self) -> frozenset[tuple[str, int]]:
        """(account, asset id) pairs whose asset's compliance source (as the
        market names it) does not admit the account now."""
        blocked = set()
        sources = {str(s).lower(): s for s in self._funds()}
        for asset_id, token in enumerate(self.w.tokens):
            source = sources.get(str(self.w.admin.asset_compliance(token)).lower())
            if source is None:
                continue
            for who in BORROWERS:
                acct = self.a[who]
                if not source.is_allowlisted(acct) or source.is_frozen(acct):
                    blocked.add((acct.lower(), asset_id))
        return frozenset(blocked)

    @rule(
        who=st.sampled_from(BORROWERS),
        fund=st.sampled_from([0, 1, 2]),
        action=st.sampled_from(["freeze", "unfreeze", "delist", "relist", "relist"]),
    )
    def issuer_restricts(self, who: str, fund: int, action: str) -> None:
        token = self._funds()[fund]
        acct, issuer = self.a[who], str(self.w.owner)
        if action == "freeze" and not token.is_frozen(acct):
            token.freeze(acct, sender=issuer)
        elif action == "unfreeze" and token.is_frozen(acct):
            token.unfreeze(acct, sender=issuer)
        elif action in ("delist", "relist"):
            token.set_allowlisted(acct, action == "relist", sender=issuer)
        self.h.model.blocked = self._blocked_now()
        self._issuer_books = self._books_of_blocked()
        note(f"issuer: {action} {who} on fund {'ABC'[fund]}; blocked {sorted(self.h.model.blocked)}")

    def _books_of_blocked(self) -> dict[str, tuple[int, dict[int, int]]]:
        """Scaled debt and the blocked assets' collateral of each blocked owner."""
        m: M.MarketModel = self.h.model
        books: dict[str, tuple[int, dict[int, int]]] = {}
        for acct, asset_id in m.blocked:
            owner = next((a for a in self.a.values() if a.lower() == acct), acct)
            balance = m.balance(owner, asset_id)
            if not balance:
                continue  # the rule is per asset: only an asset it holds binds it
            scaled, held = books.get(acct, (m.scaled.get(owner, 0), {}))
            held[asset_id] = balance
            books[acct] = (scaled, held)
        return books

    def _liquidations_done(self) -> int:
        """Successful liquidation steps so far (the step statistics that
        ``Harness.run`` and the keeper's batch rule keep): a single
        liquidation counts "ok", a ``liquidate_many`` batch "ok: N
        liquidated, ..." (a batch that liquidates nothing reverts)."""
        return sum(
            count
            for (name, outcome), count in self.h.stats.items()
            if (name in LIQUIDATIONS and outcome == "ok") or (name == BATCH and outcome.startswith("ok:"))
        )

    @invariant()
    def blocked_owner_neither_borrows_nor_withdraws(self) -> None:
        before = getattr(self, "_issuer_books", None)
        done = self._liquidations_done()
        liquidated = done != getattr(self, "_issuer_liquidations", 0)
        self._issuer_liquidations = done
        if not before:
            return
        after = self._books_of_blocked()
        for acct, (scaled_before, held_before) in before.items():
            if acct not in after:
                continue  # re-admitted since
            scaled_after, held_after = after[acct]
            I.check(scaled_after <= scaled_before, f"blocked owner {acct} borrowed: {scaled_before} -> {scaled_after}")
            for asset_id, bal in held_before.items():
                if held_after.get(asset_id, bal) < bal:
                    # (A liquidation repaying less than one index unit
                    # leaves the scaled debt as it was.)
                    I.check(
                        liquidated,
                        f"blocked owner {acct}'s asset {asset_id} left without a liquidation: "
                        f"{bal} -> {held_after.get(asset_id)}",
                    )
        self._issuer_books = after

    # ------------------------------------------------------------ #
    # the issuer takes the market's own shares

    @rule(asset=st.sampled_from([0, 1]), how=st.sampled_from(["burn", "seize"]), f=st.integers(1, 6_000))
    def issuer_takes(self, asset: int, how: str, f: int) -> None:
        """The issuer burns, or seizes to itself, ``f`` bps of the market's
        balance of fund A or C; anyone then syncs the books."""
        token, issuer = self.w.tokens[asset], str(self.w.owner)
        amount = self.h.token_balance(asset, self.w.market.address) * f // BPS
        if not amount:
            return
        if how == "burn":
            token.burn(self.w.market, amount, sender=issuer)
        else:
            token.seize(self.w.market, issuer, amount, sender=issuer)
        self.h.ghost.token_taken[asset] += amount
        note(f"issuer: {how} {amount} of asset {asset} held by the market")
        self.anyone_syncs(asset)

    @rule(asset=st.sampled_from([0, 1, 2]))
    def anyone_syncs(self, asset: int) -> None:
        """``sync_asset`` by a party the funds never admitted: the model and
        the market must agree on the ratio and on any freeze."""
        token = self.w.tokens[asset]
        balance = self.h.token_balance(asset, self.w.market.address)
        out = self.h.run(
            "sync asset",
            lambda m: m.sync_asset(str(token.address), balance),
            lambda: self.w.admin.sync_asset(token, sender=self.a["attacker"]),
        )
        if out.ok:
            ratio = self.w.admin.asset_ratio(token)
            I.check(ratio == self.h.model.assets[asset].ratio, f"asset {asset}: ratio {ratio}, model {self.h.model.assets[asset].ratio}")
            frozen = self.w.admin.asset_config(token)[9]
            I.check(frozen == self.h.model.assets[asset].frozen, f"asset {asset}: frozen {frozen}, model {self.h.model.assets[asset].frozen}")

    # ------------------------------------------------------------ #
    # pending NAV rounds

    def _oracle(self, fund: int) -> Any:
        return (self.w.oracle_a, self.w.oracle_b, self.w.oracle_c)[fund]

    @rule(fund=st.sampled_from([0, 1, 2]), drop=st.integers(150, 3_500))
    def nav_parks_pending(self, fund: int, drop: int) -> None:
        """A drop beyond the oracle's bound (1 %) parks as pending and stays
        so until ``guardian_settles``."""
        oracle = self._oracle(fund)
        if self.h.nav_pending(oracle):
            return
        nav, as_of = self.h.nav_round(oracle)
        gap = self.now() - as_of
        if gap < self.w.config.nav_min_interval:
            self._advance(self.w.config.nav_min_interval - gap)
        applied = oracle.publish(max(nav * (BPS - drop) // BPS, 1), self.now(), sender=self.w.updater)
        I.check(not applied, f"a {drop} bps drop was applied without the guardian")
        self.h.invalidate_prices()

    @rule(fund=st.sampled_from([0, 1, 2]), confirm=st.booleans())
    def guardian_settles(self, fund: int, confirm: bool) -> None:
        self._settle_pending(self._oracle(fund), confirm)

    def _settle_pending(self, oracle: Any, confirm: bool) -> None:
        """The guardian confirms or rejects a parked round, if any (the
        ``guardian_settles`` rule, and ``nav_update`` before it publishes)."""
        if self.h.nav_pending(oracle):
            if confirm:
                oracle.confirm_pending(sender=self.w.guardian)
            else:
                oracle.reject_pending(sender=self.w.guardian)
            self.h.invalidate_prices()

    # ------------------------------------------------------------ #
    # sub-dust remnants

    @invariant()
    def no_sub_dust_debt_after_a_liquidation(self) -> None:
        """A position whose scaled debt and collateral both fell in a step
        with a successful liquidation was liquidated: it must not be left
        with debt and collateral worth less than the dust floor and that
        debt (the market writes such a remnant off)."""
        m: M.MarketModel = self.h.model
        now = self.now()
        books = {acct: (m.scaled.get(acct, 0), self._collateral_units(acct)) for acct in m.borrowers()}
        done = self._liquidations_done()
        before = getattr(self, "_dust_books", {})
        if done != getattr(self, "_liquidations_seen", 0):
            dust = m.dust_floor * m.base_unit
            for acct, (scaled, units) in books.items():
                if acct not in before or not scaled:
                    continue
                scaled_before, units_before = before[acct]
                if scaled > scaled_before or units >= units_before:
                    continue
                debt = m.debt(acct, now)
                left = m.valuation(acct, M.MAX_UINT256, M.VALUE_LIQUIDATION, now, self.h.feed).total_value
                I.check(
                    not (0 < left < dust and left < debt),
                    f"{acct}: debt {debt} left with sub-dust collateral worth {left} after a liquidation",
                )
        self._liquidations_seen = done
        self._dust_books = books

    def _collateral_units(self, acct: str) -> int:
        m: M.MarketModel = self.h.model
        return sum(m.balance(acct, i) for i in range(len(m.assets)))
