"""The deploy scripts' printed summaries read in human units (no chain):
percentages, durations, USD and token amounts, never raw integers such
as 360000 or 1329227995784915872903807060280344575."""

import importlib.util
from pathlib import Path

from rich.console import Console

from navlend.cli.texts import UNLIMITED
from navlend.deploy.plan import Step, describe
from navlend.deployments import ContractRecord, Deployment

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _local_script():
    spec = importlib.util.spec_from_file_location("navlend_deploy_local_world_test", SCRIPTS / "deploy-local-world.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _deployment() -> Deployment:
    d = Deployment("local", 31337, "0x" + "11" * 20)
    for record in (
        ContractRecord("stablecoin", "MockStablecoin", "0x" + "01" * 20, {"symbol": "USDC", "decimals": 6}),
        ContractRecord("fund_a", "FundToken", "0x" + "02" * 20, {"symbol": "TBFA", "decimals": 6}),
        ContractRecord("oracle_a", "NavOracle", "0x" + "03" * 20, {"description": "TBFA / USD NAV", "nav": 1_050_000_000}),
        ContractRecord(
            "facility_a",
            "RedemptionFacility",
            "0x" + "04" * 20,
            {"fee_bps": 5, "daily_limit": 2_500_000, "max_oracle_age": 360_000, "oracle": "0x" + "03" * 20},
        ),
        ContractRecord(
            "market",
            "Market",
            "0x" + "05" * 20,
            {"collateral": ["0x" + "02" * 20], "flash_fee_bps": 5, "min_borrow": 100_000_000},
        ),
    ):
        d.add(record)
    return d


def test_print_deployment__parameters_in_human_units():
    console = Console(record=True, width=200)
    _local_script().print_deployment(_deployment(), console)
    text = console.export_text()
    for part in ("nav $10.50", "fee_bps 0.05%", "daily_limit 2,500,000 USDC", "max_oracle_age 100h",
                 "collateral fund_a", "min_borrow 100.00 USDC"):
        assert part in text, part
    for raw in ("360000", "1050000000", "100000000"):
        assert raw not in text, raw


def test_deploy_plan__market_calls_described_in_human_units():
    listing = Step("list_asset:ustb", "call", "Market", ("0xt", "0xf", 8_300, 8_800, 300, UNLIMITED, 0, 360_000), "list ustb", method="list_asset")
    assert describe(listing, (6, 8, "USTB")) == (
        "LTV 83.00%, threshold 88.00%, bonus 3.00%, supply cap unlimited, price cap none, max oracle age 100h"
    )
    capped = Step("list_asset:ustb", "call", "Market", ("0xt", "0xf", 8_300, 8_800, 300, 5 * 10**12, 10_50_000_000, 86_400), "list", method="list_asset")
    assert "supply cap 5,000,000.00 USTB, price cap $10.50, max oracle age 1d" in describe(capped, (6, 8, "USTB"))
    rates = Step("set_rates", "call", "Market", (0, 4 * 10**16, 6 * 10**17, 9_000, 1_000), "rates", method="set_rates")
    assert describe(rates) == "base 0%, slope 1 4%, slope 2 60% (APR), kink 90.00%, reserve factor 10.00%"
    assert describe(Step("m", "deploy", "Market", (), "deploy")) == ""
