"""What the tools print: rich renderables for people and JSON documents
for machines, built from the plain dataclasses (no chain, no printing:
:class:`navlend.cli.session.Output` prints).

JSON conventions: token amounts are exact decimal strings in human units
("1000.5"), ratios are decimal strings ("0.8500"), a missing or infinite
figure is ``null``; addresses are checksummed strings.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from navlend.cli.amounts import (
    format_bps,
    format_duration,
    format_health,
    format_ratio,
    format_units,
)
from navlend.cli.lending import LenderView
from navlend.cli.records import Holding, MarketView, Token
from navlend.cli.render_preview import amount_json
from navlend.cli.risk import PositionSummary
from navlend.constants import BPS, MAX_UINT256, WAD


def units_json(units: int | None, decimals: int) -> str | None:
    """Exact human amount for JSON ("1000.5"); None stays None."""
    if units is None:
        return None
    return format_units(units, decimals, group=False)


def ratio_json(value: int | Fraction | None, scale: int = WAD, places: int = 6) -> str | None:
    """A ratio for JSON ("0.850000"), truncated to ``places``."""
    if value is None:
        return None
    frac = Fraction(value) / scale
    number = Decimal(frac.numerator) / Decimal(frac.denominator)
    # Fixed-point always: str() of a zero quantized to 12 places is "0E-12".
    return f"{number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN):f}"


def price_text(price: int | Fraction | None, decimals: int) -> str:
    """A price in USD ("$10.50"); "-" for None."""
    if price is None:
        return "-"
    units = int(price) if isinstance(price, int) else price.numerator // price.denominator
    return "$" + format_units(units, decimals, 6)


def _money(units: int, token: Token) -> str:
    return f"{format_units(units, token.decimals)} {token.symbol}"


def _health_style(hf: int) -> str:
    if hf >= MAX_UINT256 or hf >= WAD * 12 // 10:
        return "green"
    return "yellow" if hf >= WAD else "bold red"


# ---- position ----


def position_renderable(
    account: str, summary: PositionSummary, holdings: tuple[Holding, ...], base: Token
) -> Any:
    """The ``position`` view: a summary table and a table per asset."""
    top = Table(show_header=False)
    top.add_column("figure", style="bold")
    top.add_column("value", justify="right")
    hf = summary.health_factor
    top.add_row("health factor", Text(format_health(hf), style=_health_style(hf)))
    top.add_row("debt", _money(summary.debt, base))
    if summary.principal is not None:
        top.add_row("  principal", _money(summary.principal, base))
        top.add_row("  interest accrued", _money(summary.interest or 0, base))
    top.add_row("collateral value", _money(summary.collateral_value, base))
    top.add_row("borrow limit (value at LTV)", _money(summary.borrow_value, base))
    top.add_row("borrow headroom", _money(summary.headroom, base))
    top.add_row("LTV used (debt / collateral)", format_ratio(summary.ltv_used, 1))
    top.add_row("borrow limit used", format_ratio(summary.limit_used, 1))
    top.add_row("value at liquidation threshold", _money(summary.liquidation_value, base))
    if summary.liquidatable:
        top.add_row("status", Text("LIQUIDATABLE", style="bold red"))
    parts: list[Any] = [Text(f"position of {account}", style="bold"), top]
    if holdings:
        parts.append(_holdings_table(summary, holdings))
    return Group(*parts)


def _holdings_table(summary: PositionSummary, holdings: tuple[Holding, ...]) -> Table:
    liq = {p.name: p for p in summary.liquidation}
    table = Table(title="collateral", title_justify="left")
    for name, justify in (
        ("asset", "left"),
        ("balance", "right"),
        ("price", "right"),
        ("NAV age", "right"),
        ("value", "right"),
        ("LTV / threshold", "right"),
        ("liquidation NAV", "right"),
        ("fall", "right"),
    ):
        table.add_column(name, justify=justify)
    base_decimals = holdings[0].base_decimals
    for h in holdings:
        p = liq.get(h.name)
        age = "-" if h.price_age is None else format_duration(h.price_age)
        if h.stale:
            age = f"[bold red]{age} stale[/]"
        if p is None or p.liquidation_price is None:
            nav, fall = ("-" if summary.debt == 0 else "never alone"), "-"
        else:
            nav = price_text(p.liquidation_price, h.price_decimals)
            fall = "now" if p.now else format_ratio(p.drop, 1)
        table.add_row(
            f"{h.name} ({h.symbol})",
            format_units(h.balance, h.decimals, 6),
            price_text(h.price, h.price_decimals),
            age,
            format_units(h.value(), base_decimals, 2),
            f"{format_bps(h.ltv_bps)} / {format_bps(h.threshold_bps)}",
            nav,
            fall,
        )
    if len(holdings) > 1 and summary.debt:
        table.caption = (
            "liquidation NAV: each asset's price alone, the others held at today's price"
        )
    return table


def position_json(
    account: str, summary: PositionSummary, holdings: tuple[Holding, ...], base: Token
) -> dict[str, Any]:
    """The borrowed side of ``position`` as JSON (amounts in the schema of
    :func:`navlend.cli.render_preview.amount_json`)."""
    liq = {p.name: p for p in summary.liquidation}
    hf = summary.health_factor
    return {
        "account": account,
        "health_factor": None if hf >= MAX_UINT256 else ratio_json(hf, WAD, 18),
        "liquidatable": summary.liquidatable,
        "debt": amount_json(summary.debt, base),
        "principal": amount_json(summary.principal, base),
        "interest_accrued": amount_json(summary.interest, base),
        "collateral_value": amount_json(summary.collateral_value, base),
        "borrow_limit": amount_json(summary.borrow_value, base),
        "borrow_headroom": amount_json(summary.headroom, base),
        "liquidation_value": amount_json(summary.liquidation_value, base),
        "ltv_used": ratio_json(summary.ltv_used, 1),
        "borrow_limit_used": ratio_json(summary.limit_used, 1),
        "collateral": [
            {
                "asset": h.name,
                "symbol": h.symbol,
                "token": h.token,
                "balance": amount_json(h.balance, Token(h.name, h.symbol, h.decimals)),
                "price": amount_json(h.price, usd(h.price_decimals)),
                "price_age": h.price_age,
                "stale": h.stale,
                "value": amount_json(h.value(), base),
                "ltv": ratio_json(h.ltv_bps, BPS, 4),
                "liquidation_threshold": ratio_json(h.threshold_bps, BPS, 4),
                "liquidation_price": _liq_price_json(liq.get(h.name), h.price_decimals),
            }
            for h in holdings
        ],
    }


def usd(decimals: int) -> Token:
    """A price's unit: US dollars in an oracle's ``decimals``."""
    return Token("usd", "USD", decimals)


# ---- the lent side ----


def lender_renderable(account: str, lent: LenderView, base: Token) -> Table:
    """The lent side of ``position``."""
    table = Table(title=f"lent by {account}", title_justify="left", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    table.add_row("lent balance", _money(lent.balance, base))
    table.add_row("lender shares", f"{lent.shares:,}")
    earned = lent.interest_earned
    table.add_row(
        "interest earned",
        "unknown (shares came in by transfer)" if earned is None else _money(earned, base),
    )
    table.add_row("supply APR", format_ratio(lent.supply_apr, places=4))
    table.add_row("supply APY (compounded each second)", format_ratio(lent.supply_apy, 1, 4))
    return table


def lender_json(lent: LenderView, base: Token) -> dict[str, Any]:
    """The lent side of ``position`` as JSON."""
    return {
        "balance": amount_json(lent.balance, base),
        "shares": str(lent.shares),
        "cost_basis": amount_json(lent.basis, base),
        "interest_earned": amount_json(lent.interest_earned, base),
        "supply_apr": ratio_json(lent.supply_apr, WAD, 18),
        "supply_apy": ratio_json(lent.supply_apy, 1, 12),
    }


def _liq_price_json(p, decimals: int) -> str | None:
    if p is None or p.liquidation_price is None:
        return None
    return ratio_json(p.liquidation_price, 10**decimals, decimals)


# ---- market ----


def market_renderable(view: MarketView, title: str = "navlend market") -> Any:
    """The ``market`` view: books and rates, then one row per asset."""
    base = view.base
    books = Table(show_header=False)
    books.add_column("figure", style="bold")
    books.add_column("value", justify="right")
    books.add_row("cash", _money(view.cash, base))
    books.add_row("borrows", _money(view.total_borrows, base))
    books.add_row("reserves", _money(view.reserves, base))
    books.add_row("lenders' assets", _money(view.total_assets, base))
    books.add_row("utilization", format_ratio(view.utilization))
    books.add_row("borrow APR", format_ratio(view.borrow_rate_apr))
    books.add_row("supply APR", format_ratio(view.supply_rate_apr))
    c = view.control
    books.add_row("minimum borrow", _money(c.min_borrow, base))
    books.add_row("flash fee", format_bps(c.flash_fee_bps))
    paused = ", ".join(c.paused_actions()) or "none"
    books.add_row("paused", Text(paused, style="bold red" if c.paused else "green"))
    assets = Table(title="collateral assets", title_justify="left")
    for name in (
        "asset",
        "price",
        "NAV age",
        "stale",
        "LTV",
        "threshold",
        "bonus",
        "supplied",
        "cap",
        "price cap",
        "frozen",
    ):
        assets.add_column(name, justify="left" if name == "asset" else "right")
    for a in view.assets:
        assets.add_row(
            f"{a.name} ({a.symbol})",
            price_text(a.price, a.price_decimals),
            format_duration(a.price_age),
            Text("STALE", style="bold red") if a.stale else "no",
            format_bps(a.ltv_bps),
            format_bps(a.threshold_bps),
            format_bps(a.bonus_bps),
            format_units(a.total_supplied, a.decimals, 2),
            _cap_text(a.supply_cap, a.decimals),
            price_text(a.price_cap, a.price_decimals) if a.price_cap else "none",
            "yes" if a.frozen else "no",
        )
    return Group(Text(title, style="bold"), books, assets)


def _cap_text(cap: int, decimals: int) -> str:
    return "unlimited" if cap >= 2**120 - 1 else format_units(cap, decimals, 2)


def market_json(view: MarketView) -> dict[str, Any]:
    """The ``market`` view as JSON."""
    base, d = view.base, view.base.decimals
    c = view.control
    return {
        "base": {"symbol": view.base.symbol, "decimals": d, "address": view.base.address},
        "cash": amount_json(view.cash, base),
        "total_borrows": amount_json(view.total_borrows, base),
        "reserves": amount_json(view.reserves, base),
        "total_assets": amount_json(view.total_assets, base),
        "utilization": ratio_json(view.utilization),
        "borrow_apr": ratio_json(view.borrow_rate_apr),
        "supply_apr": ratio_json(view.supply_rate_apr),
        "paused": c.paused_actions(),
        "liquidations_resume_at": c.liquidations_resume_at,
        "min_borrow": amount_json(c.min_borrow, base),
        "flash_fee_bps": c.flash_fee_bps,
        "assets": [
            {
                "asset": a.name,
                "symbol": a.symbol,
                "token": a.token,
                "price": amount_json(a.price, usd(a.price_decimals)),
                "price_age": a.price_age,
                "stale": a.stale,
                "max_oracle_age": a.max_oracle_age,
                "ltv": ratio_json(a.ltv_bps, BPS, 4),
                "liquidation_threshold": ratio_json(a.threshold_bps, BPS, 4),
                "liquidation_bonus": ratio_json(a.bonus_bps, BPS, 4),
                "total_supplied": amount_json(a.total_supplied, _asset_token(a)),
                "supply_cap": None
                if a.supply_cap >= 2**120 - 1
                else amount_json(a.supply_cap, _asset_token(a)),
                "price_cap": amount_json(a.price_cap, usd(a.price_decimals)) if a.price_cap else None,
                "frozen": a.frozen,
            }
            for a in view.assets
        ],
    }


def _asset_token(a: Any) -> Token:
    return Token(a.name, a.symbol, a.decimals, a.token)


# ---- transactions ----


def result_renderable(result: dict[str, Any], after: list[str] = ()) -> Any:
    """A sent (or dry-run) command's outcome: what it did and the figures
    after it (its transactions were printed one line each as they went)."""
    if result.get("dry_run"):
        lines = [Text(f"dry run, nothing sent: {result['summary']}", style="bold yellow")]
    else:
        lines = [Text(f"✓ {result['summary']}", style="bold green")]
    for warning in result.get("warnings", []):
        lines.append(Text(f"  warning: {warning}", style="yellow"))
    for note in after:
        lines.append(Text(f"  {note}"))
    return Group(*lines)
