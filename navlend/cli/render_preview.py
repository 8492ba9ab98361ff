"""What the tools show before sending, for people and for ``--json``: the
amounts echoed in exact units, the risk preview (before → after), an
operator's settings (old → new) and the accounts a change puts at risk.
No chain, no printing.

JSON of an amount (the one schema every command uses)::

    {"raw": "1000500000", "value": "1000.5", "symbol": "USDC", "decimals": 6}

``raw`` is the integer in the token's units, as a string (a JSON number
loses digits above 2**53 in many readers); ``value`` the exact decimal.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from navlend.cli.amounts import format_health, format_ratio, format_units
from navlend.cli.preview import Preview, RiskFigures, no_health
from navlend.cli.records import Change, Quantity, Token
from navlend.cli.risk import LiquidationPrice
from navlend.constants import WAD


def amount_json(units: int | None, token: Token) -> dict[str, Any] | None:
    """An amount in the JSON schema above; None stays None."""
    if units is None:
        return None
    return {
        "raw": str(units),
        "value": format_units(units, token.decimals, group=False),
        "symbol": token.symbol,
        "decimals": token.decimals,
    }


def quantity_json(q: Quantity) -> dict[str, Any] | None:
    return amount_json(q.units, q.token)


def health_json(health_factor: int) -> str | None:
    """A health factor as an exact decimal string (18 places); None without debt."""
    if no_health(health_factor):
        return None
    return format_units(health_factor, 18, group=False)


def echo_line(name: str, q: Quantity) -> str:
    """"amount: 1,000.5 USDC = 1000500000 units (6 decimals)": what a
    command will send, in the token's exact units."""
    human = format_units(q.units, q.token.decimals)
    return f"{name}: {human} {q.token.symbol} = {q.units} units ({q.token.decimals} decimals)"


def _liq_text(p: LiquidationPrice | None) -> str:
    if p is None:
        return "-"
    if p.liquidation_price is None:
        return "never (others cover the debt)"
    nav = p.liquidation_price
    units = nav.numerator // nav.denominator
    price = "$" + format_units(units, p.price_decimals, 6)
    return f"{price} (now)" if p.now else f"{price} ({format_ratio(p.drop, 1)} below)"


def _health_text(hf: int) -> str:
    return format_health(hf)


def _liq_by_name(figures: RiskFigures) -> dict[str, LiquidationPrice]:
    return {p.name: p for p in figures.liquidation}


def preview_rows(preview: Preview, base: Token) -> list[tuple[str, str, str]]:
    """The preview as (figure, before, after) rows."""
    b, a = preview.before, preview.after

    def money(units: int) -> str:
        return f"{format_units(units, base.decimals)} {base.symbol}"

    rows = [
        ("health factor", _health_text(b.health_factor), _health_text(a.health_factor)),
        ("debt", money(b.debt), money(a.debt)),
        ("borrow headroom", money(b.headroom), money(a.headroom)),
    ]
    before_liq, after_liq = _liq_by_name(b), _liq_by_name(a)
    for name in dict.fromkeys([*before_liq, *after_liq]):
        rows.append(
            (f"{name} liquidates at NAV", _liq_text(before_liq.get(name)), _liq_text(after_liq.get(name)))
        )
    return rows


def preview_renderable(preview: Preview, base: Token, title: str = "") -> Table:
    """The preview as a before → after table."""
    table = Table(title=title or f"position of {preview.account}", title_justify="left")
    table.add_column("figure", style="bold")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    for figure, before, after in preview_rows(preview, base):
        style = ""
        if figure == "health factor" and preview.after.liquidatable:
            style = "bold red"
        table.add_row(figure, before, Text(after, style=style))
    return table


def _figures_json(f: RiskFigures, base: Token) -> dict[str, Any]:
    return {
        "health_factor": health_json(f.health_factor),
        "liquidatable": f.liquidatable,
        "debt": amount_json(f.debt, base),
        "borrow_headroom": amount_json(f.headroom, base),
        "liquidation": [
            {
                "asset": p.name,
                "nav": None
                if p.liquidation_price is None
                else format_units(
                    p.liquidation_price.numerator // p.liquidation_price.denominator,
                    p.price_decimals,
                    group=False,
                ),
                "fall": None if p.drop is None else format_units(int(p.drop * WAD), 18, group=False),
            }
            for p in f.liquidation
        ],
    }


def preview_json(preview: Preview | None, base: Token) -> dict[str, Any] | None:
    """The preview for ``--json``: ``{"account", "before", "after"}``."""
    if preview is None:
        return None
    return {
        "account": preview.account,
        "before": _figures_json(preview.before, base),
        "after": _figures_json(preview.after, base),
    }


def changes_renderable(changes: list[Change], title: str = "settings") -> Table:
    """An operator's settings, old → new (unchanged ones dimmed)."""
    table = Table(title=title, title_justify="left")
    table.add_column("setting", style="bold")
    table.add_column("now", justify="right")
    table.add_column("after", justify="right")
    for c in changes:
        table.add_row(c.name, c.before, Text(c.after, style="bold" if c.changed else "dim"))
    return table


def changes_json(changes: list[Change]) -> list[dict[str, str]]:
    return [{"setting": c.name, "before": c.before, "after": c.after} for c in changes]


def affected_renderable(affected: list[Preview], base: Token) -> Any:
    """The accounts a change puts at risk: health factor before → after."""
    table = Table(title="accounts this change puts at risk", title_justify="left")
    table.add_column("account")
    table.add_column("debt", justify="right")
    table.add_column("health factor now", justify="right")
    table.add_column("after", justify="right")
    for p in affected:
        table.add_row(
            p.account,
            f"{format_units(p.after.debt, base.decimals)} {base.symbol}",
            _health_text(p.before.health_factor),
            Text(_health_text(p.after.health_factor), style="bold red" if p.after.liquidatable else "yellow"),
        )
    return Group(table)


def affected_json(affected: list[Preview], base: Token) -> list[dict[str, Any]]:
    return [
        {
            "account": p.account,
            "debt": amount_json(p.after.debt, base),
            "health_factor_before": health_json(p.before.health_factor),
            "health_factor_after": health_json(p.after.health_factor),
            "liquidatable_after": p.after.liquidatable,
        }
        for p in affected
    ]
