"""A synthetic demo run (no chain) for the report and chart tests
(:func:`synthetic_results`; the ``results`` fixture in conftest.py).

Six borrowers, a shock in block 1,000 (one hour after day 1's strike),
three liquidations in the seconds after it (two routes), one bad-debt
write-off, daily market, facility and debt-at-risk samples, and NAV
updates on two feeds. One block a second from the shock on.
"""

from __future__ import annotations

from devkit.demo.results import (
    BadDebtRecord,
    DemoResults,
    FacilitySample,
    LiquidationRecord,
    MarketSample,
    NavUpdate,
    PositionState,
    RedemptionRecord,
    risk_samples,
)

USD = 10**6
DAY = 86_400
T0 = 1_800_000_000
SHOCK_BLOCK = 1_000
SHOCK_TIME = T0 + DAY + 3_600
MAX_AGE = 360_000
DAILY_LIMIT = 100_000 * USD


def state(i: int, hf: float | None, debt: int = 50_000 * USD) -> PositionState:
    """Borrower ``i`` with health factor ``hf`` (None: no debt)."""
    return PositionState(
        account=f"0x{i:040x}",
        kind="carry" if i % 2 else "plain",
        asset="wrapper" if i % 3 == 0 else "fund_a",
        debt=debt if hf is not None else 0,
        health_factor=hf,
        liquidatable=hf is not None and hf < 1,
        liquidation_value=None if hf is None else int(debt * hf),
    )


def liquidation(i: int, block: int, route: str, repaid: int, protocol_fee: int = 0) -> LiquidationRecord:
    return LiquidationRecord(
        block=block,
        timestamp=SHOCK_TIME + (block - SHOCK_BLOCK),
        tx_hash=f"0x{block:064x}",
        borrower=f"0x{i:040x}",
        asset="fund_a",
        route=route,
        liquidator="0x" + "ab" * 20,
        repaid=repaid,
        seized=repaid * 103 // 100,
        payout=repaid * 103 // 100,
        protocol_fee=protocol_fee,
    )


def sample(day: int, block: int, timestamp: int, price: float, utilization: float) -> MarketSample:
    return MarketSample(
        label=f"day {day}",
        day=day,
        block=block,
        timestamp=timestamp,
        utilization=utilization,
        borrow_apr=0.04 * utilization / 0.9,
        supply_apr=0.036 * utilization * utilization / 0.9,
        share_price=price,
        nav_a=10_50_000_000,
        nav_b=10**8,
        total_borrows=int(utilization * 1e12),
        cash=int((1 - utilization) * 1e12),
        reserves=1_200 * USD + day * 300 * USD,
        collateral_value=int(utilization * 1.15e12),
    )


def nav(
    oracle: str, block: int, timestamp: int, value: int, *, confirmed: bool = False, as_of: int | None = None
) -> NavUpdate:
    return NavUpdate(
        day=(timestamp - T0) // DAY,
        block=block,
        timestamp=timestamp,
        oracle=oracle,
        nav=value,
        confirmed=confirmed,
        as_of=timestamp - 300 if as_of is None else as_of,
    )


def facility(name: str, block: int, timestamp: int, liquidity: int, remaining: int) -> FacilitySample:
    return FacilitySample(name, block, timestamp, liquidity, remaining, DAILY_LIMIT)


def synthetic_results() -> DemoResults:
    """The synthetic run (a new object on each call)."""
    before = [state(i, hf) for i, hf in enumerate([0.97, 0.98, 1.3, 1.6, None, 2.5])]
    after = [state(0, None), state(1, 0.99, 20_000 * USD), state(2, 1.3), state(3, 1.6), state(4, None), state(5, 2.5)]
    liquidations = [
        liquidation(0, SHOCK_BLOCK + 1, "redeem", 20_000 * USD, protocol_fee=103 * USD),
        liquidation(1, SHOCK_BLOCK + 1, "seize", 10_000 * USD),
        liquidation(1, SHOCK_BLOCK + 4, "redeem", 5_000 * USD),
    ]
    samples = [
        sample(0, 10, T0, 1.0, 0.8),
        sample(1, SHOCK_BLOCK - 1, SHOCK_TIME - 1, 1.0002, 0.8),
        sample(2, SHOCK_BLOCK + 10, T0 + 2 * DAY, 1.0003, 0.7),
    ]
    return DemoResults(
        scenario="break-the-buck",
        title="The fund breaks the buck",
        story="A story.",
        borrowers=len(before),
        risk={"ltv_bps": 9_000, "threshold_bps": 9_100, "bonus_bps": 300, "liquidation_fee_bps": 1_000},
        shock_factor=0.97,
        keeper={"mode": "live"},
        timings={"seed": 3.5},
        expected_liquidatable=[before[0].account, before[1].account, before[2].account],
        before=before,
        after=after,
        liquidations=liquidations,
        bad_debt=[
            BadDebtRecord(
                block=SHOCK_BLOCK + 2, borrower=before[1].account, amount=7 * USD, from_reserves=7 * USD,
                socialized=0, timestamp=SHOCK_TIME + 2,
            )
        ],
        samples=samples,
        nav_updates=[
            nav("fund_a", 5, T0 - 100, 10_50_000_000),
            nav("fund_b", 5, T0 - 100, 10**8),
            nav("fund_a", SHOCK_BLOCK, SHOCK_TIME, 10_18_500_000, confirmed=True),
            nav("fund_b", SHOCK_BLOCK, SHOCK_TIME, 97_000_000, confirmed=True),
        ],
        shock_block=SHOCK_BLOCK,
        shock_timestamp=SHOCK_TIME,
        risk_samples=[
            *risk_samples(before, label="day 1", block=SHOCK_BLOCK - 1, timestamp=SHOCK_TIME - 1),
            *risk_samples(after, label="day 2", block=SHOCK_BLOCK + 10, timestamp=T0 + 2 * DAY),
        ],
        facility_samples=[
            facility("fund_a", 10, T0, 60_000 * USD, DAILY_LIMIT),
            facility("fund_b", 10, T0, 30_000 * USD, DAILY_LIMIT),
            facility("fund_a", SHOCK_BLOCK + 5, SHOCK_TIME + 5, 34_750 * USD, DAILY_LIMIT - 25_750 * USD),
            facility("fund_b", SHOCK_BLOCK + 5, SHOCK_TIME + 5, 30_000 * USD, DAILY_LIMIT),
        ],
        redemptions=[
            RedemptionRecord("fund_a", SHOCK_BLOCK + 1, SHOCK_TIME + 1, 19_600 * USD, 20_600 * USD),
            RedemptionRecord("fund_a", SHOCK_BLOCK + 4, SHOCK_TIME + 4, 4_900 * USD, 5_150 * USD),
        ],
        max_oracle_age={"fund_a": MAX_AGE, "fund_b": MAX_AGE},
    )
