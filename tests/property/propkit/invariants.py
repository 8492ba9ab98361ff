"""Invariants of a navlend market, as pure functions over a
:class:`~propkit.adapter.Snapshot`, the reference model and a ghost ledger.

Each function raises ``InvariantViolation`` (an AssertionError) with a
precise message. They need no EVM: the same functions run after
every step of the in-process state machine and after the fixed steps of the Ape
test on anvil. AUDIT.md lists them with the tests that check them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from navlend import model as M

from .adapter import Snapshot


class InvariantViolation(AssertionError):
    pass


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise InvariantViolation(msg)


@dataclass
class Ghost:
    """What the chain cannot tell: flows the harness made on purpose."""

    # Base asset sent to the market outside its functions (donations; and
    # whatever it held unbooked when the harness started).
    base_donated: int = 0
    # Flash-loan fees paid in and surplus booked as reserves, from the
    # market's FlashLoan and SurplusBooked events.
    flash_fees: int = 0
    surplus_booked: int = 0
    # Collateral tokens sent to the market outside supply_collateral
    # (donations, dividends minted to the market), per asset id.
    token_donated: list[int] = field(default_factory=lambda: [0, 0, 0])
    # Units of each asset the issuer burned or seized from the market.
    token_taken: list[int] = field(default_factory=lambda: [0, 0, 0])
    # Bad debt written off so far, and the part lenders absorbed.
    written_off: int = 0
    socialized: int = 0
    # Exact lender share price (TA + 1) / (TS + 1e6) after the last step.
    last_price: Fraction | None = None
    # Per tracked actor: wealth entitlement (see check_wealth).
    entitled: dict[str, Fraction] = field(default_factory=dict)
    # Base minted to each tracked actor (faucet).
    minted: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------- #
#                     1. MODEL AND CONTRACT AGREE                   #
# ---------------------------------------------------------------- #


def check_model_agrees(snap: Snapshot, m: M.MarketModel) -> None:
    """Every stored word of the market equals the reference model's."""
    got = (snap.index, snap.last_accrual, snap.paused, snap.total_scaled, snap.cash, snap.reserves)
    want = (m.index, m.last_accrual, m.paused, m.total_scaled, m.cash, m.reserves)
    check(got == want, f"market/book words differ: chain (index, last, paused, scaled, cash, reserves)={got} model={want}")
    r = m.rates
    check(
        snap.rates == (r.base_rate, r.slope1, r.slope2, r.kink_bps, r.reserve_factor_bps),
        f"rates differ: chain {snap.rates} model {r}",
    )
    ctl = (m.resume_at, m.flash_fee_bps, m.liquidation_fee_bps, m.min_borrow, m.small_position, m.dust_floor)
    check(snap.control == ctl, f"control word differs: chain {snap.control} model {ctl}")
    check(snap.total_supply == m.total_supply, f"share supply: chain {snap.total_supply} model {m.total_supply}")
    for acct, pw in snap.positions.items():
        check(pw.scaled == m.scaled.get(acct, 0), f"scaled debt of {acct}: chain {pw.scaled} model {m.scaled.get(acct, 0)}")
        coll = [m.balance(acct, i) for i in range(len(m.assets))]
        check(pw.collateral == coll, f"collateral of {acct}: chain {pw.collateral} model {coll}")
        check(pw.bitmap == m.bitmap(acct), f"asset bitmap of {acct}: chain {pw.bitmap:b} model {m.bitmap(acct):b}")
        check(snap.shares.get(acct, 0) == m.shares.get(acct, 0), f"shares of {acct}: chain {snap.shares.get(acct)} model {m.shares.get(acct, 0)}")
    for i, (aw, a) in enumerate(zip(snap.assets, m.assets)):
        got_a = (aw.total_supplied, aw.supply_cap, aw.frozen_token, aw.deposit_paused_token, aw.ltv_bps, aw.threshold_bps, aw.bonus_bps, aw.max_oracle_age, aw.price_cap if aw.flags & 2 else 0, bool(aw.flags & 1))
        # The token word carries a copy of the deposit-collateral pause bit.
        want_a = (a.total_supplied, a.supply_cap, a.frozen, bool(m.paused & M.PAUSE_DEPOSIT_COLLATERAL), a.ltv_bps, a.threshold_bps, a.bonus_bps, a.max_oracle_age, a.price_cap, a.frozen)
        check(got_a == want_a, f"asset {i} differs: chain {got_a} model {want_a}")


# ---------------------------------------------------------------- #
#                       2. SOLVENCY AND BACKING                      #
# ---------------------------------------------------------------- #


def check_base_backing(snap: Snapshot, m: M.MarketModel, g: Ghost) -> None:
    """At rest (no flash loan out) the market's stablecoin balance covers
    cash, and equals cash + the model's unbooked surplus; that surplus is
    exactly the ghost's ledger: donations + flash fees paid in - surplus
    booked (the last two from the market's events)."""
    check(m.lent == 0, f"the model still has a flash loan of {m.lent} out at rest")
    check(snap.market_base_balance >= snap.cash, f"base balance {snap.market_base_balance} < cash {snap.cash}")
    check(
        snap.market_base_balance == snap.cash + m.unbooked,
        f"base balance {snap.market_base_balance} != cash {snap.cash} + modelled surplus {m.unbooked}",
    )
    ledger = g.base_donated + g.flash_fees - g.surplus_booked
    check(
        m.unbooked == ledger,
        f"modelled surplus {m.unbooked} != donations {g.base_donated} + flash fees {g.flash_fees} - booked {g.surplus_booked}",
    )


def check_collateral_backing(snap: Snapshot, g: Ghost, m: M.MarketModel) -> None:
    """Per asset: the market's token balance == total supplied (the sum of
    every position, the treasury's fee credits included) + donations - what
    the issuer took + what stayed behind when booked units left at less
    than one real unit each (after a sync)."""
    for i, aw in enumerate(snap.assets):
        positions = sum(pw.collateral[i] for pw in snap.positions.values())
        all_positions = sum(v for (acct, j), v in m.collateral.items() if j == i)
        check(aw.total_supplied == all_positions, f"asset {i}: total supplied {aw.total_supplied} != sum of positions {all_positions}")
        check(positions <= aw.total_supplied, f"asset {i}: tracked positions {positions} > total supplied {aw.total_supplied}")
        bal = snap.market_token_balances[i]
        kept = m.assets[i].short_paid  # booked units that left at less than one real unit each
        check(
            bal == aw.total_supplied + g.token_donated[i] - g.token_taken[i] + kept,
            f"asset {i}: market holds {bal} != total supplied {aw.total_supplied} + donated {g.token_donated[i]}"
            f" - taken by the issuer {g.token_taken[i]} + booked beyond paid {kept}",
        )


def check_books_covered(snap: Snapshot, m: M.MarketModel) -> None:
    """Per asset, after every sync: what the books would pay out (each
    booked unit at the asset's ratio) never exceeds what the market holds,
    so no withdrawal or liquidation reverts on a missing balance."""
    for i, aw in enumerate(snap.assets):
        owed = m.assets[i].real(aw.total_supplied)
        bal = snap.market_token_balances[i]
        check(bal >= owed, f"asset {i}: books pay out {owed} (ratio {m.assets[i].ratio}) > balance {bal}")


def check_debt_sum(snap: Snapshot) -> None:
    """Σ scaled debts == total scaled debt (exact); Σ debts (each rounded
    up) - total borrows (rounded down) is within [0, number of
    borrowers]."""
    total = sum(pw.scaled for pw in snap.positions.values())
    check(total == snap.total_scaled, f"Σ scaled debt {total} != total scaled {snap.total_scaled}")
    debts = sum(M.debt_of(pw.scaled, snap.index) for pw in snap.positions.values())
    borrows = M.borrows_of(snap.total_scaled, snap.index)
    n = sum(1 for pw in snap.positions.values() if pw.scaled)
    check(0 <= debts - borrows <= n, f"Σ debts {debts} vs total borrows {borrows}: off by {debts - borrows} with {n} borrowers")
    if n == 0:
        check(snap.total_scaled == 0 and borrows == 0, "no borrower but total debt != 0")


def share_price(m: M.MarketModel, now: int) -> Fraction:
    return Fraction(m.total_assets(now) + M.VIRTUAL_ASSETS, m.total_supply + M.VIRTUAL_SHARES)


def check_booking_keeps_lenders_claim(label: str, before: tuple[int, int], after: tuple[int, int]) -> None:
    """Booking the surplus (``book_surplus``, and ``withdraw_reserves``,
    which books it and then pays reserves out) moves cash and reserves by
    the same amount: the lenders' total assets accrued to now and the
    share supply, so the exact share price, are unchanged to the unit.
    ``before``/``after``: (totalAssets(), totalSupply()) read from the
    chain at the same timestamp (totalAssets accrues, like the call)."""
    check(after == before, f"{label} moved the lenders' (totalAssets, totalSupply) {before} -> {after}")


def check_lender_claims(snap: Snapshot, m: M.MarketModel) -> None:
    """Lenders' claims + reserves == cash + borrows - (written-off debt is
    already out of borrows); claims never exceed the lenders' assets."""
    a = m.accrued(snap.now)
    borrows = M.borrows_of(snap.total_scaled, a.index)
    check(a.reserves <= snap.cash + borrows, f"reserves {a.reserves} exceed cash {snap.cash} + borrows {borrows}")
    ta = snap.cash + borrows - a.reserves
    check(ta + a.reserves == snap.cash + borrows, "totalAssets + reserves != cash + borrows")
    claims = sum(M.to_assets(s, snap.total_supply, ta, False) for s in snap.shares.values())
    check(claims <= ta, f"Σ lender claims {claims} > total assets {ta}")
    check(sum(snap.shares.values()) <= snap.total_supply, "Σ tracked shares > total supply")


def check_share_price(m: M.MarketModel, now: int, g: Ghost, socialized_this_step: int) -> Fraction:
    """Without a socialised write-off the exact share price never falls;
    with one, it falls by at most the socialised amount per share. No
    exception: a flash loan leaves the books alone and its fee is booked
    after an accrual (finding F-1, fixed)."""
    p = share_price(m, now)
    if g.last_price is not None:
        if socialized_this_step == 0:
            check(p >= g.last_price, f"share price fell without bad debt: {g.last_price} -> {p} ({float(p / g.last_price - 1):.3e})")
        else:
            floor = g.last_price - Fraction(socialized_this_step + 1, m.total_supply + M.VIRTUAL_SHARES)
            check(p >= floor, f"share price fell by more than the socialised {socialized_this_step}")
    g.last_price = p
    return p


# ---------------------------------------------------------------- #
#                             3. WEALTH                             #
# ---------------------------------------------------------------- #


def wealth(base: int, shares: int, price: Fraction) -> Fraction:
    return base + shares * price


def check_wealth(actor: str, w: Fraction, g: Ghost) -> None:
    """An actor whose wealth is stablecoin + lender shares never ends richer
    than its entitlement: faucet + share-price gains on the shares it held
    (+ share transfers it received). Exact rational arithmetic, no
    tolerance: every rounding must favour the vault."""
    e = g.entitled.get(actor)
    if e is None:
        g.entitled[actor] = w
        return
    check(w <= e, f"{actor} richer than entitled by {float(w - e)} base units (wealth {float(w)}, entitled {float(e)})")


# ---------------------------------------------------------------- #
#                     4. POSITION AND LIQUIDATION                   #
# ---------------------------------------------------------------- #


def check_within_limit(label: str, borrow_value: int, debt: int) -> None:
    check(borrow_value >= debt, f"{label} left the position over its limit: value at LTV {borrow_value} < debt {debt}")


def check_liquidation(m_before: M.MarketModel, res: M.LiquidationResult, asset_id: int, debt_after: int, left: int, left_value: int) -> None:
    """Only below HF 1; never beyond the close factor; no dust left beyond
    the documented one-base-unit value tolerance; never more collateral
    than repaid x (1 + bonus) at the liquidation price."""
    v = res.valuation
    check(v.liquidation_value < res.debt_before, f"liquidated a healthy position (HF {res.hf_before / 1e18:.6f})")
    check(res.repaid <= res.cap, f"repaid {res.repaid} beyond close factor cap {res.cap}")
    half = res.debt_before * M.CLOSE_FACTOR_BPS // M.BPS
    if res.repaid > half:
        small = m_before.small_position * m_before.base_unit
        check(
            v.liquidation_value * M.WAD < M.CLOSE_FACTOR_HF_THRESHOLD * res.debt_before or res.debt_before < small or v.target_value < small,
            f"repaid {res.repaid} > 50 % of {res.debt_before} without a full-close condition",
        )
    a = m_before.assets[asset_id]
    unit = 10**a.exponent
    # collateral worth at most repaid x (1 + bonus), or all of it
    most = M.mul_div(res.repaid * (M.BPS + a.bonus_bps), unit, M.BPS * v.target_price, False)
    check(res.seized <= max(most, 0) or res.seized == v.target_balance, f"seized {res.seized} > repaid x (1 + bonus) = {most}")
    if res.seized == v.target_balance and res.repaid:
        # paying for all the collateral never costs more than its bonus price
        check(res.repaid <= M.mul_div(res.seized * v.target_price, M.BPS, unit * (M.BPS + a.bonus_bps), True) or res.repaid <= res.cap, "overpaid")
    if debt_after > 0 and left > 0:
        dust = m_before.dust_floor * m_before.base_unit
        check(debt_after >= dust, f"partial liquidation left debt {debt_after} under the dust floor {dust}")
        check(left_value + 1 >= dust, f"partial liquidation left collateral worth {left_value} under the dust floor {dust} (- 1 tolerance)")
