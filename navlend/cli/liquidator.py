"""The book's operations: ``positions`` (the borrowers by health factor,
through the Lens) and ``liquidate`` (a liquidation by hand, by either
route, with its preview and its refusals before sending)."""

from __future__ import annotations

from rich.console import Group

from navlend.cli import checks
from navlend.cli.amounts import format_health, is_all, parse_amount, to_decimal
from navlend.cli.book import Book
from navlend.cli.checks import fmt
from navlend.cli.contracts import resolve_address
from navlend.cli.errors import BadInput, Refusal
from navlend.cli.impact import lowest_first
from navlend.cli import liquidation as rules
from navlend.cli.preview import DEFAULT_WARN_HEALTH, preview, project
from navlend.cli.records import Plan, Quantity, TxStep
from navlend.cli.render_book import positions_json, positions_renderable, quote_json, quote_renderable
from navlend.cli.render_preview import amount_json, health_json
from navlend.cli.risk import total_value
from navlend.cli.session import Report, Session
from navlend.constants import BPS, MAX_UINT256, WAD

# Tolerance on what the liquidator receives (min_out), as the keeper's default.
MIN_OUT_TOLERANCE_BPS = 50
# Interest headroom approved on top of a full repayment.
REPAY_BUFFER_SECONDS = 3_600


def parse_below(text: str | None) -> int:
    """``--below 1.10`` as a WAD health factor."""
    if text is None:
        return DEFAULT_WARN_HEALTH
    value = to_decimal(text, "--below")
    if value <= 0:
        raise BadInput(f"--below '{text}' must be a health factor above 0, e.g. 1.10")
    return int(value * WAD)


def positions(
    s: Session, at_risk: bool = False, below: str | None = None, limit: int | None = None
) -> Report:
    """The market's borrowers with debt, lowest health factor first
    (``at_risk``: only those under ``below``, default 1.10)."""
    if limit is not None and limit < 1:
        raise BadInput(f"--limit {limit}: give at least 1")
    if below is not None and not at_risk:
        raise BadInput("--below goes with --at-risk")
    threshold = parse_below(below) if at_risk else None
    book = Book(s.nl)
    all_entries = book.entries()
    entries = lowest_first(all_entries, threshold, limit)
    base = s.nl.base
    what = f"under health factor {format_health(threshold)}" if at_risk else "with debt"
    title = f"borrowers {what}, lowest health factor first ({len(entries)} of {len(all_entries)} with debt)"
    note = "" if entries else f"no borrower {what}"
    return Report(
        positions_json(entries, base, len(all_entries), threshold, limit),
        positions_renderable(entries, base, title, threshold or DEFAULT_WARN_HEALTH, note),
    )


def liquidate(
    s: Session, borrower: str, asset: str | None = None, route: str = "seize", repay: str = "max"
) -> Report:
    """Liquidates ``borrower`` on ``asset`` (default: the Lens's best
    collateral) by ``route``, repaying up to ``repay`` ("max": the most
    the rules allow now)."""
    nl, base, m = s.nl, s.nl.base, s.nl.market
    if route not in rules.ROUTES:
        raise BadInput(f"--route '{route}': one of {', '.join(rules.ROUTES)}")
    who = resolve_address(borrower)
    max_repay = MAX_UINT256 if is_all(repay) else parse_amount(repay, base.decimals, base.symbol)
    position = nl.position(who, with_principal=False)
    if position.debt == 0:
        raise Refusal(f"{who} has no debt: nothing to liquidate")
    if asset is None:
        best = str(nl.lens.health(m.address, who).best_token)
        held = [h for h in position.holdings if h.balance]
        if int(best, 16) == 0 and not held:
            raise Refusal(f"{who} has no collateral to seize")
        name = nl.name_of(best) if int(best, 16) else held[0].name
        a = nl.asset(name or best)
    else:
        a = nl.asset(asset)
    holding = position.holding(a.name)
    if holding is None or holding.balance == 0:
        raise Refusal(f"{who} has no {a.name} posted: nothing to seize")
    cfg = m.asset_config(a.address)
    control = nl.control()
    target = rules.seizable(holding, int(cfg.bonus_bps))
    rules.check_liquidatable(
        control, int(nl.chain.blocks.head.timestamp), position.debt, position.liquidation_value, target
    )
    limits = rules.limits_of(control, base)
    amounts = rules.amounts(position.debt, position.liquidation_value, target, limits, max_repay, base)
    token = a.as_token()
    facility_address = str(cfg.facility)
    payout = 0
    if route == "redeem":
        has_facility = int(facility_address, 16) != 0
        facility = nl.facility(facility_address) if has_facility else None
        payout = int(facility.preview_redeem(amounts.sent)) if facility else 0
        rules.check_route(
            route,
            a.name,
            facility_address,
            amounts.sent,
            int(facility.max_redeem()) if facility else 0,
            payout,
            token,
            base,
        )
    else:
        checks.check_compliance(nl.compliance(a, s.address), "liquidator")
    q = rules.quote(
        route, a.name, amounts, target, limits, position.debt, total_value(position.holdings), payout
    )
    balance = int(nl.stablecoin.balanceOf(s.address))
    rules.check_funds(route, balance, q, base)

    plan = Plan(
        f"liquidate {who} on {a.name} by the {route} route: repay {fmt(q.repaid, base)}, "
        f"profit about {fmt(q.profit, base)} before gas",
        command="liquidate",
    )
    plan.amounts["debt repaid"] = Quantity(q.repaid, base)
    plan.amounts["collateral seized"] = Quantity(amounts.seized, token)
    if route == "redeem":
        plan.amounts["stablecoin paid out (about)"] = Quantity(q.proceeds, base)
    after = project(
        position, debt_change=-q.repaid, balances={a.name: holding.balance - amounts.seized}
    )
    plan.preview = preview(position, after)
    plan.notes.append(
        f"the borrower {who}: health factor {format_health(position.health_factor)}; the risk "
        "preview below is its position"
    )
    if max_repay == MAX_UINT256:
        plan.notes.append(
            "--repay max: the market repays the most the rules allow in the block that includes it "
            "(interest accrues until then, so a few units more than previewed)"
        )
    if q.write_off:
        plan.notes.append("the collateral left would be worth less than the dust floor: the market writes the rest of the debt off")
    preview_market = m.preview_liquidation(who, a.address, max_repay)
    if (int(preview_market[0]), int(preview_market[1])) != (amounts.repaid, amounts.seized):
        plan.notes.append(
            f"the market's own preview says repay {fmt(int(preview_market[0]), base)}, seize "
            f"{fmt(int(preview_market[1]), token)} (interest since the figures were read)"
        )
    s.out.show(Group(quote_renderable(q, token, base)))
    wanted = q.proceeds if route == "seize" else payout
    min_out = amounts.sent if route == "seize" else wanted * (BPS - MIN_OUT_TOLERANCE_BPS) // BPS
    if max_repay == MAX_UINT256:
        buffer = q.repaid * int(m.borrow_rate()) * REPAY_BUFFER_SECONDS // WAD + 1
        approve = q.repaid + buffer
    else:
        approve = q.repaid
    s.approve_if_needed(plan, nl.stablecoin, m, approve, base, "market")
    plan.steps.append(
        TxStep(
            "liquidate",
            m.liquidate,
            (who, a.address, max_repay, min_out, route == "redeem", s.address),
        )
    )
    stable_before = balance
    shares_before = int(a.token.balanceOf(s.address))
    report = s.execute(
        plan,
        borrower=who,
        health_factor=health_json(position.health_factor),
        quote=quote_json(q, token, base),
    )
    if report.data["dry_run"]:
        return report
    stable_delta = int(nl.stablecoin.balanceOf(s.address)) - stable_before
    shares_delta = int(a.token.balanceOf(s.address)) - shares_before
    hf_after = int(m.position(who).health_factor)
    report.data["result"].update(
        {
            "stablecoin_change": amount_json(stable_delta, base),
            "shares_received": amount_json(shares_delta, token),
            "health_factor_after": health_json(hf_after),
        }
    )
    if route == "redeem":
        report.after.append(f"received {fmt(stable_delta, base)} net of the repayment (previewed {fmt(q.profit, base)})")
    else:
        report.after.append(
            f"received {fmt(shares_delta, token)} for {fmt(-stable_delta, base)} repaid "
            f"(worth {fmt(q.proceeds, base)} at price: profit {fmt(q.profit, base)} before gas)"
        )
    report.after.append(f"the borrower's health factor now {format_health(hf_after)}")
    return report
