"""Tables and JSON documents (no chain)."""

import json
import os

from rich.console import Console

from navlend.cli.records import AssetView, Control, Holding, MarketView, Position, Token
from navlend.cli.render import market_json, market_renderable, position_json, position_renderable
from navlend.cli.risk import borrow_value, liquidation_value, summarize
from navlend.cli.session import Report

USD = 10**6
BASE = Token("stablecoin", "USDC", 6, "0xc")
FUND_A = Holding(
    "fund_a", "TBFA", "0xa", 1_000 * 10**6, 6, 10_50_000_000, 8, 6, 8_500, 9_000, price_age=1_800
)


def text(renderable) -> str:
    with open(os.devnull, "w") as null:
        console = Console(width=160, record=True, file=null)
        console.print(renderable)
    return console.export_text()


def summary(debt=5_000 * USD):
    holdings = (FUND_A,)
    p = Position(
        "0xb",
        debt,
        debt,
        borrow_value(holdings),
        liquidation_value(holdings),
        liquidation_value(holdings) * 10**18 // debt,
        holdings,
        principal=debt - 7 * USD,
    )
    return summarize(p)


def test_position_views():
    s = summary()
    shown = text(position_renderable("0xb", s, (FUND_A,), BASE))
    for part in (
        "position of 0xb",
        "1.89 ",
        "5,000.00 USDC",
        "interest accrued",
        "7.00 USDC",
        "3,925.00 USDC",
        "47.61%",
        "$5.555555",
        "47.08%",
    ):
        assert part in shown, part
    doc = position_json("0xb", s, (FUND_A,), BASE)
    json.dumps(doc)
    assert doc["debt"]["value"] == "5000.00" and doc["interest_accrued"]["value"] == "7.00"
    assert doc["debt"]["raw"] == str(5_000 * USD) and doc["debt"]["symbol"] == "USDC"
    assert doc["health_factor"] == "1.890000000000000000"
    assert doc["collateral"][0]["liquidation_price"] == "5.55555555"
    assert doc["ltv_used"] == "0.476190"


def test_liquidatable_position_is_flagged():
    s = summary(9_500 * USD)
    assert "LIQUIDATABLE" in text(position_renderable("0xb", s, (FUND_A,), BASE))
    assert position_json("0xb", s, (FUND_A,), BASE)["liquidatable"] is True


def test_market_views():
    asset = AssetView(
        "fund_c",
        "TRFC",
        "0xf",
        18,
        1_00_000_000,
        8,
        400_000,
        True,
        8_500,
        9_000,
        300,
        2**120 - 1,
        5 * 10**18,
        1_00_000_000,
        False,
        360_000,
    )
    view = MarketView(
        BASE,
        900 * USD,
        100 * USD,
        USD,
        10**17,
        4 * 10**16,
        36 * 10**14,
        999 * USD,
        0,
        Control(paused=4 | 64, min_borrow=100 * USD),
        (asset,),
    )
    shown = text(market_renderable(view))
    for part in (
        "900.00 USDC",
        "10.00%",
        "4.00%",
        "borrow, liquidation",
        "STALE",
        "4d 15h",
        "unlimited",
        "$1.00",
    ):
        assert part in shown, part
    doc = market_json(view)
    json.dumps(doc)
    assert doc["paused"] == ["borrow", "liquidation"]
    assert doc["assets"][0]["stale"] is True and doc["assets"][0]["supply_cap"] is None
    assert doc["utilization"] == "0.100000"


def test_report_prints_itself():
    report = Report({"summary": "x"}, "hello")
    assert repr(report) == "hello" and report["summary"] == "x"


def test_ratio_json__zero_at_many_places__fixed_point_not_exponent():
    """Seen failing: a zero APY read "0E-12" in --json (the schema caught it)."""
    from navlend.cli.render import ratio_json
    from navlend.constants import WAD

    assert ratio_json(0, 1, 12) == "0.000000000000"
    assert ratio_json(0, WAD, 18) == "0.000000000000000000"
