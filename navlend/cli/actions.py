"""The borrowers' and lenders' operations, shared by the ``ape run``
commands and the console. Each takes a :class:`~navlend.cli.session.Session`
and human inputs, reads the chain, runs the pre-flight checks of
:mod:`navlend.cli.checks` (which refuse before anything is sent), and
executes a plan, or, for the views, returns a report.
"""

from __future__ import annotations

from rich.console import Group

from navlend.cli import checks
from navlend.cli.amounts import (
    format_bps,
    format_health,
    is_all,
    parse_amount,
    parse_fraction,
)
from navlend.cli.contracts import resolve_address
from navlend.cli.checks import LeverageQuote, fmt
from navlend.cli.errors import Refusal
from navlend.cli.preview import preview, project
from navlend.cli.records import Plan, Position, Quantity, TxStep
from navlend.cli.render import (
    lender_json,
    lender_renderable,
    market_json,
    market_renderable,
    position_json,
    position_renderable,
)
from navlend.cli.render_preview import amount_json, health_json
from navlend.cli.risk import BORROW_ROUNDING, summarize
from navlend.cli.session import Report, Session
from navlend.constants import BPS, MAX_UINT256, WAD
from navlend.rules.fees import flash_fee

# Default tolerance on leverage's collateral and unwind's proceeds.
DEFAULT_SLIPPAGE = "0.5%"
# Default room between leverage's target LTV and the maximum it accepts.
DEFAULT_LTV_ROOM_BPS = 10
# Interest headroom approved on top of the debt for a full repayment.
REPAY_BUFFER_SECONDS = 3_600


def _base_amount(s: Session, amount: str) -> int:
    base = s.nl.base
    return parse_amount(amount, base.decimals, base.symbol)


# ---- lenders ----


def lend(s: Session, amount: str) -> Report:
    """Supplies ``amount`` of the stablecoin; the account gets lender shares."""
    nl, base = s.nl, s.nl.base
    units = _base_amount(s, amount)
    checks.check_lend(nl.control(), int(nl.stablecoin.balanceOf(s.address)), units, base)
    plan = Plan(f"lend {fmt(units, base)} to the market", command="lend")
    plan.amounts["amount"] = Quantity(units, base)
    plan.notes.append(f"lender shares minted for it: about {int(nl.market.previewDeposit(units))}")
    s.approve_if_needed(plan, nl.stablecoin, nl.market, units, base, "market")
    plan.steps.append(TxStep("deposit", nl.market.deposit, (units, s.address)))
    report = s.execute(plan)
    return _lent_after(s, report)


def _lent_after(s: Session, report: Report) -> Report:
    """The lent balance after a sent lend or withdraw, for people and JSON."""
    if report.data["dry_run"]:
        return report
    m, base = s.nl.market, s.nl.base
    shares = int(m.balanceOf(s.address))
    claim = int(m.convertToAssets(shares))
    report.data["result"] = {"lent_balance": amount_json(claim, base), "shares": str(shares)}
    report.after.append(f"lent balance now {fmt(claim, base)} ({shares} shares)")
    return report


def withdraw(s: Session, amount: str | None = None) -> Report:
    """Withdraws ``amount`` of the stablecoin (``None``/"all": everything)."""
    nl, base, m = s.nl, s.nl.base, s.nl.market
    everything = amount is None or is_all(amount)
    units = None if everything else _base_amount(s, amount)
    shares = int(m.balanceOf(s.address))
    claim = int(m.convertToAssets(shares))
    wanted = checks.check_withdraw(nl.control(), claim, nl.cash(), units, base)
    if everything:
        plan = Plan(f"withdraw everything lent ({fmt(wanted, base)})", command="withdraw")
        plan.steps.append(TxStep("redeem", m.redeem, (shares, s.address, s.address)))
    else:
        plan = Plan(f"withdraw {fmt(wanted, base)} from the market", command="withdraw")
        plan.steps.append(TxStep("withdraw", m.withdraw, (wanted, s.address, s.address)))
    plan.amounts["amount"] = Quantity(wanted, base)
    return _lent_after(s, s.execute(plan))


# ---- borrowers ----


def deposit(s: Session, asset: str, amount: str) -> Report:
    """Posts ``amount`` of a listed fund share as collateral."""
    nl = s.nl
    a = nl.asset(asset)
    token = a.as_token()
    units = parse_amount(amount, a.decimals, a.symbol)
    checks.check_deposit(
        nl.control(),
        nl.listing(a),
        nl.compliance(a, s.address),
        int(a.token.balanceOf(s.address)),
        units,
    )
    plan = Plan(f"deposit {fmt(units, token)} of {a.name} as collateral", command="deposit")
    plan.amounts["amount"] = Quantity(units, token)
    position = nl.position(s.address, with_principal=False)
    held = position.holding(a.name)
    plan.preview = preview(
        position,
        project(
            position,
            balances={a.name: (held.balance if held else 0) + units},
            new_holdings=[nl.holding(a, units)],
        ),
    )
    s.approve_if_needed(plan, a.token, nl.market, units, token, "market")
    plan.steps.append(
        TxStep("supply_collateral", nl.market.supply_collateral, (a.address, units, s.address))
    )
    return _risk_after(s, s.execute(plan, asset=a.name))


def withdraw_collateral(s: Session, asset: str, amount: str, to: str | None = None) -> Report:
    """Withdraws ``amount`` ("max": the most the debt allows) of posted
    collateral to ``to`` (default: the account), which the fund must admit."""
    nl = s.nl
    a = nl.asset(asset)
    token = a.as_token()
    units = None if is_all(amount) else parse_amount(amount, a.decimals, a.symbol)
    receiver = resolve_address(to) if to else s.address
    position = nl.position(s.address, with_principal=False)
    wanted = checks.check_withdraw_collateral(
        nl.control(), position, a.name, units, nl.compliance(a, receiver)
    )
    holding = next((h for h in position.holdings if h.name == a.name), None)
    title = f"withdraw {fmt(wanted, token)} of {a.name} collateral to {receiver}"
    if holding is not None and holding.short:
        # The books fall by `wanted`; the receiver gets the real units.
        title += f" (the market is short of {a.name}: {fmt(holding.real(wanted), token)} real shares paid)"
    plan = Plan(title, command="withdraw_collateral")
    plan.amounts["amount"] = Quantity(wanted, token)
    if holding is not None:
        plan.preview = preview(position, project(position, balances={a.name: holding.balance - wanted}))
    plan.steps.append(
        TxStep(
            "withdraw_collateral",
            nl.market.withdraw_collateral,
            (a.address, wanted, s.address, receiver),
        )
    )
    return _risk_after(s, s.execute(plan, asset=a.name, receiver=receiver))


def borrow(s: Session, amount: str, to: str | None = None) -> Report:
    """Borrows ``amount`` of the stablecoin against the account's collateral."""
    nl, base = s.nl, s.nl.base
    units = _base_amount(s, amount)
    receiver = resolve_address(to) if to else s.address
    position = nl.position(s.address, with_principal=False)
    checks.check_borrow(nl.control(), position, units, nl.cash(), base)
    plan = Plan(
        f"borrow {fmt(units, base)}" + (f" to {receiver}" if receiver != s.address else ""),
        command="borrow",
    )
    plan.amounts["amount"] = Quantity(units, base)
    plan.preview = preview(position, project(position, debt_change=units))
    plan.steps.append(TxStep("borrow", nl.market.borrow, (units, s.address, receiver)))
    return _risk_after(s, s.execute(plan, receiver=receiver), borrowed=units, debt_before=position.debt)


def repay(s: Session, amount: str) -> Report:
    """Repays ``amount`` ("max", or anything above the debt: the whole
    debt, with the interest accrued up to the block that includes it)."""
    nl, base, m = s.nl, s.nl.base, s.nl.market
    units = None if is_all(amount) else _base_amount(s, amount)
    position = nl.position(s.address, with_principal=False)
    debt = position.debt
    balance = int(nl.stablecoin.balanceOf(s.address))
    wanted = checks.check_repay(debt, units, balance, base)
    everything = wanted == debt
    plan = Plan(f"repay {'the whole debt, ' if everything else ''}{fmt(wanted, base)}", command="repay")
    plan.amounts["amount"] = Quantity(wanted, base)
    plan.preview = preview(position, project(position, debt_change=-wanted))
    if units is not None and units > debt:
        plan.notes.append(
            f"the debt is {fmt(debt, base)}: repaying all of it, not {fmt(units, base)}"
        )
    if everything:
        # Interest accrues until the block that includes the repayment: the
        # market takes min(amount, debt), so ask for everything and approve
        # an hour's interest on top.
        buffer = debt * int(m.borrow_rate()) * REPAY_BUFFER_SECONDS // WAD + 1
        approve, arg = min(balance, debt + buffer), MAX_UINT256
    else:
        approve, arg = wanted, wanted
    s.approve_if_needed(plan, nl.stablecoin, m, approve, base, "market")
    plan.steps.append(TxStep("repay", m.repay, (arg, s.address)))
    return _risk_after(s, s.execute(plan))


def _risk_after(s: Session, report: Report, borrowed: int = 0, debt_before: int = 0) -> Report:
    """The position's debt and health factor after a sent change, for
    people and JSON (a borrow also says what the market rounded up)."""
    if report.data["dry_run"]:
        return report
    base = s.nl.base
    p = s.nl.position(s.address, with_principal=False)
    report.data["result"].update(
        {
            "debt": amount_json(p.debt, base),
            "health_factor": health_json(p.health_factor),
        }
    )
    line = f"debt now {fmt(p.debt, base)}, health factor {format_health(p.health_factor)}"
    extra = p.debt - debt_before - borrowed
    if borrowed and 0 < extra <= BORROW_ROUNDING + 1:
        line += (
            f" (the debt is {extra} unit(s) above what was borrowed: the market rounds a new "
            "debt up, in its favour, and interest accrued since)"
        )
    report.after.append(line)
    return report


# ---- leverage ----


def leverage(
    s: Session,
    asset: str,
    equity: str,
    ltv: str = "0.80",
    max_ltv: str | None = None,
    slippage: str = DEFAULT_SLIPPAGE,
) -> Report:
    """Opens a levered position in ``asset`` with ``equity`` of the
    stablecoin at a target LTV, in one transaction (flash loan, subscribe,
    post, borrow) through the Leverage helper."""
    nl, base, m = s.nl, s.nl.base, s.nl.market
    a = nl.asset(asset)
    units = _base_amount(s, equity)
    target = parse_fraction(ltv, "--ltv")
    most_ltv = (
        parse_fraction(max_ltv, "--max-ltv") if max_ltv else min(target + DEFAULT_LTV_ROOM_BPS, BPS)
    )
    if most_ltv < target:
        raise Refusal("--max-ltv is below --ltv")
    tolerance = parse_fraction(slippage, "--slippage", allow_zero=True)
    control = nl.control()
    facility = nl.subscription_facility(a)
    flash, fee = checks.leverage_flash(units, target, control.flash_fee_bps)
    checks.check_subscription(
        a.name, nl.compliance_source(a) is not None, units + flash, nl.min_subscription(facility), base
    )
    shares = int(facility.preview_subscribe(units + flash))
    collateral = int(a.token.previewDeposit(shares)) if a.is_wrapper and shares else shares
    quote = LeverageQuote(units, flash, fee, collateral)
    position = nl.position(s.address, with_principal=False)
    checks.check_leverage(
        control,
        position,
        nl.holding(a, 0),
        quote,
        nl.compliance(a, s.address),
        int(nl.stablecoin.balanceOf(s.address)),
        nl.cash(),
        target,
        base,
    )
    lev = nl.leverage
    token = a.as_token()
    plan = Plan(
        f"lever {fmt(units, base)} into {a.name} at {format_bps(target)} LTV: about {fmt(collateral, token)} "
        f"posted, {fmt(quote.debt, base)} borrowed",
        command="leverage",
    )
    plan.amounts["equity"] = Quantity(units, base)
    plan.amounts["flash loan"] = Quantity(flash, base)
    plan.amounts["collateral (about)"] = Quantity(collateral, token)
    held = position.holding(a.name)
    plan.preview = preview(
        position,
        project(
            position,
            debt_change=quote.debt,
            balances={a.name: (held.balance if held else 0) + collateral},
            new_holdings=[nl.holding(a, collateral)],
        ),
    )
    if not m.is_authorized(s.address, lev.address):
        plan.notes.append(
            "authorising the Leverage helper to borrow for this account (market.set_authorization)"
        )
        plan.steps.append(
            TxStep("authorise leverage", m.set_authorization, (lev.address, True), "setup")
        )
    s.approve_if_needed(plan, nl.stablecoin, lev, units, base, "leverage helper")
    min_collateral = collateral * (BPS - tolerance) // BPS
    plan.amounts["minimum collateral"] = Quantity(min_collateral, token)
    plan.steps.append(
        TxStep(
            "leverage open",
            lev.open,
            (a.address, facility.address, units, target, min_collateral, most_ltv),
        )
    )
    report = s.execute(plan, asset=a.name)
    if not report.data["dry_run"]:
        posted = int(m.collateral_of(s.address, a.address))
        report.data["result"]["collateral"] = amount_json(posted, token)
        report.after.append(f"{a.name} posted now {fmt(posted, token)}")
    return _risk_after(s, report)


def unwind(
    s: Session, asset: str, min_out: str | None = None, slippage: str = DEFAULT_SLIPPAGE
) -> Report:
    """Closes the account's position in ``asset`` through the Leverage
    helper: repays the whole debt with a flash loan, redeems all of the
    asset's collateral, returns the rest in the stablecoin."""
    nl, base, m = s.nl, s.nl.base, s.nl.market
    a = nl.asset(asset)
    control = nl.control()
    # One read of the position: its debt, this asset's collateral, and the preview's "before".
    position = nl.position(s.address, with_principal=False)
    held = position.holding(a.name)
    collateral = held.balance if held else 0
    debt = position.debt
    facility_address = str(m.asset_config(a.address).facility)
    has_facility = int(facility_address, 16) != 0
    facility = nl.facility(facility_address) if has_facility else None
    fee = flash_fee(debt, control.flash_fee_bps)
    expected = checks.check_unwind(
        control,
        debt,
        collateral,
        a.as_token(),
        facility_address,
        int(facility.max_redeem()) if facility else 0,
        int(facility.preview_redeem(collateral)) if facility and collateral else 0,
        fee,
        base,
    )
    if min_out is not None:
        floor = parse_amount(min_out, base.decimals, base.symbol, allow_zero=True)
    else:
        floor = expected * (BPS - parse_fraction(slippage, "--slippage", allow_zero=True)) // BPS
    lev = nl.leverage
    plan = Plan(
        f"unwind {a.name}: repay {fmt(debt, base)}, redeem it all, receive about {fmt(expected, base)}",
        command="unwind",
    )
    plan.amounts["debt repaid"] = Quantity(debt, base)
    plan.amounts["collateral redeemed"] = Quantity(collateral, a.as_token())
    plan.amounts["expected"] = Quantity(expected, base)
    plan.amounts["minimum received"] = Quantity(floor, base)
    plan.preview = preview(position, project(position, debt_change=-debt, balances={a.name: 0}))
    others = [h.name for h in position.holdings if h.name != a.name]
    if debt and others:
        plan.notes.append(f"this repays the whole debt; {', '.join(others)} stays posted")
    if not m.is_authorized(s.address, lev.address):
        plan.notes.append(
            "authorising the Leverage helper to withdraw for this account (market.set_authorization)"
        )
        plan.steps.append(
            TxStep("authorise leverage", m.set_authorization, (lev.address, True), "setup")
        )
    plan.steps.append(TxStep("leverage unwind", lev.unwind, (a.address, floor)))
    cash_before = int(nl.stablecoin.balanceOf(s.address))
    report = s.execute(plan, asset=a.name)
    if not report.data["dry_run"]:
        # What the account received, net of any setup fees (paid in ETH).
        received = int(nl.stablecoin.balanceOf(s.address)) - cash_before
        report.data["result"]["received"] = amount_json(received, base)
        report.after.append(f"received {fmt(received, base)} (expected about {fmt(expected, base)})")
    return _risk_after(s, report)


# ---- views ----


def position(s: Session, who: str | None = None) -> Report:
    """``who``'s position (default: the session's account), both sides: the
    lent balance, shares, yield and interest earned; the debt, health,
    headroom, liquidation NAV and interest accrued."""
    who = resolve_address(who) if who else s.address
    base = s.nl.base
    p = s.nl.position(who)
    summary = summarize(p)
    lent = s.nl.lender(who)
    return Report(
        {"account": who, "lent": lender_json(lent, base), "borrowed": position_json(who, summary, p.holdings, base)},
        Group(lender_renderable(who, lent, base), position_renderable(who, summary, p.holdings, base)),
    )


def market(s: Session) -> Report:
    """The market's state."""
    view = s.nl.market_view()
    title = f"navlend market {s.nl.market.address} on {s.network.name}"
    return Report(market_json(view), market_renderable(view, title))
