"""What ``ape run positions`` and ``ape run liquidate`` show, for people
and for ``--json`` (amounts in :func:`navlend.cli.render_preview.amount_json`'s
schema, health factors as exact decimal strings). No chain, no printing.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from navlend.cli.amounts import format_health, format_units
from navlend.cli.impact import BookEntry
from navlend.cli.liquidation import Quote
from navlend.cli.records import Token
from navlend.cli.render_preview import amount_json, health_json


def _money(units: int, token: Token) -> str:
    return f"{format_units(units, token.decimals, 2)} {token.symbol}"


def _hf_style(entry: BookEntry, below: int) -> str:
    if entry.liquidatable:
        return "bold red"
    return "yellow" if entry.health_factor < below else "green"


def positions_renderable(
    entries: list[BookEntry], base: Token, title: str, warn_below: int, note: str = ""
) -> Any:
    """The borrowers, one row each, lowest health factor first (amounts
    in the stablecoin, named in the headers)."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("account", no_wrap=True, min_width=42)
    table.add_column(f"debt ({base.symbol})", justify="right", no_wrap=True)
    table.add_column(f"collateral ({base.symbol})", justify="right", no_wrap=True)
    table.add_column("health", justify="right", no_wrap=True)
    table.add_column("liquidatable", no_wrap=True)
    table.add_column("assets")
    for i, e in enumerate(entries, 1):
        table.add_row(
            str(i),
            e.account,
            format_units(e.debt, base.decimals, 2),
            format_units(e.collateral_value, base.decimals, 2),
            Text(format_health(e.health_factor), style=_hf_style(e, warn_below)),
            Text("YES", style="bold red") if e.liquidatable else "no",
            ", ".join(h.name for h in e.position.holdings),
        )
    parts: list[Any] = [table]
    if note:
        parts.append(Text(note, style="dim"))
    return Group(*parts)


def positions_json(
    entries: list[BookEntry], base: Token, borrowers: int, below: int | None, limit: int | None
) -> dict[str, Any]:
    """``positions --json``: the same keys whatever the filter."""
    return {
        "borrowers_with_debt": borrowers,
        "below": None if below is None else health_json(below),
        "limit": limit,
        "count": len(entries),
        "positions": [
            {
                "account": e.account,
                "debt": amount_json(e.debt, base),
                "collateral_value": amount_json(e.collateral_value, base),
                "health_factor": health_json(e.health_factor),
                "liquidatable": e.liquidatable,
                "max_repay": amount_json(e.max_repay, base),
                "collateral": [
                    {
                        "asset": h.name,
                        "balance": amount_json(h.balance, Token(h.name, h.symbol, h.decimals, h.token)),
                        "value": amount_json(h.value(), base),
                    }
                    for h in e.position.holdings
                ],
            }
            for e in entries
        ],
    }


def quote_rows(q: Quote, asset: Token, base: Token) -> list[tuple[str, str]]:
    """The liquidation preview as (figure, value) rows."""
    a = q.amounts
    rows = [
        ("route", "seize: receive the shares" if q.route == "seize" else "redeem: receive stablecoin through the facility"),
        ("debt repaid", _money(a.repaid, base)),
        ("collateral seized", f"{format_units(a.seized, asset.decimals)} {asset.symbol} ({_money(q.seized_value, base)})"),
        ("  bonus in it", _money(q.bonus_value, base)),
        ("  protocol's fee", f"{format_units(a.fee, asset.decimals)} {asset.symbol} ({_money(q.fee_value, base)})"),
    ]
    if q.route == "seize":
        rows.append(("shares to the liquidator", f"{format_units(a.sent, asset.decimals)} {asset.symbol}"))
        rows.append(("their value at price", _money(q.proceeds, base)))
    else:
        rows.append(("shares redeemed", f"{format_units(a.sent, asset.decimals)} {asset.symbol}"))
        rows.append(("stablecoin paid out", _money(q.proceeds, base)))
    rows.append(("profit before gas", _money(q.profit, base)))
    if q.write_off:
        rows.append(("remainder", "written off (the collateral left is worth less than the dust floor)"))
    return rows


def quote_renderable(q: Quote, asset: Token, base: Token) -> Table:
    table = Table(title=f"liquidation on {q.asset}", title_justify="left", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    for figure, text in quote_rows(q, asset, base):
        table.add_row(figure, Text(text, style="bold" if figure == "profit before gas" else ""))
    return table


def quote_json(q: Quote, asset: Token, base: Token) -> dict[str, Any]:
    a = q.amounts
    return {
        "route": q.route,
        "asset": q.asset,
        "repaid": amount_json(a.repaid, base),
        "seized": amount_json(a.seized, asset),
        "seized_value": amount_json(q.seized_value, base),
        "bonus_value": amount_json(q.bonus_value, base),
        "protocol_fee": amount_json(a.fee, asset),
        "protocol_fee_value": amount_json(q.fee_value, base),
        "shares_out": amount_json(a.sent, asset),
        "proceeds": amount_json(q.proceeds, base),
        "profit": amount_json(q.profit, base),
        "write_off": q.write_off,
    }
