"""Health from the index through a random sequence of market events, NAV
moves, risk and curve changes and time: the reference model runs the
operations, the logs the contract would emit feed the index and
``LocalHealth`` block by block, and every position's local figures equal
the model's at any later time."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import event as statistic
from hypothesis import strategies as st

from navlend import model
from navlend.constants import MAX_UINT256, WAD

from keepers.index import PositionIndex
from keepers.localhealth import ExactHealth, exact_healths
from keepers.localscan import LocalHealth
from keepers.types import LogRecord, to_address

from conftest import FUND_A, FUND_C, LIQUIDATOR, MARKET, NOW, model_market
from test_localhealth_inputs import ORACLE_A, ORACLE_C, _hash, event, listing, nav, rates_set

USD = 10**6
BORROWERS = [to_address(f"0x{0xB00 + i:040x}") for i in range(3)]
LENDER = to_address("0x" + "1e" * 20)
TOKENS = (FUND_A, FUND_C)
ORACLES = (ORACLE_A, ORACLE_C)
UNIT = (10**6, 10**18)  # one whole token of fund A, of fund C


@dataclass
class StoredBooks:
    """``market_state`` at a block that accrued: the model's stored books."""

    m: model.MarketModel
    calls: list[int] = field(default_factory=list)

    def market_state(self, block: int) -> tuple[int, int, int, int, int]:
        self.calls.append(block)
        m = self.m
        return (m.cash, m.total_scaled * m.index // WAD, m.reserves, m.index, m.total_scaled)

    def value_exponent(self, token: str, block: int) -> int:
        return self.m.assets[self.m.asset_id(token)].exponent

    def asset_price(self, token: str, block: int) -> int:
        raise AssertionError("no asset is read-priced here")


def position_log(name: str, args: dict, block: int, i: int) -> LogRecord:
    return LogRecord.from_event(
        name, args, block_number=block, block_hash=_hash(block), tx_hash=_hash(block), log_index=i
    )


step = st.one_of(
    st.tuples(st.just("supply"), st.integers(0, 2), st.integers(0, 1), st.integers(1, 100_000)),
    st.tuples(st.just("withdraw"), st.integers(0, 2), st.integers(0, 1), st.integers(1, 100_000)),
    st.tuples(st.just("borrow"), st.integers(0, 2), st.integers(1, 10_000)),  # bps of the room left
    st.tuples(st.just("repay"), st.integers(0, 2), st.integers(1, 900_000)),
    st.tuples(st.just("nav"), st.integers(0, 1), st.integers(-3_000, 1_000)),
    st.tuples(st.just("time"), st.integers(1, 5 * 86_400)),
    st.tuples(st.just("lend"), st.integers(1, 10_000_000)),
    st.tuples(st.just("ratio"), st.integers(0, 1), st.integers(WAD // 2, WAD)),
    st.tuples(st.just("risk"), st.integers(0, 1), st.integers(5_000, 9_000)),
    st.tuples(st.just("rates"), st.integers(0, 2 * WAD), st.integers(0, 2 * WAD)),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=20), st.lists(st.integers(0, 30 * 86_400), min_size=1, max_size=3))
def test_local_health__random_events_navs_and_time__equals_the_model_at_every_block(steps, later):
    m = model_market()
    m.rates = model.Rates.from_annual(0, 4 * WAD // 100, 60 * WAD // 100, 9_000, 1_000)
    answers = {0: (10 * 10**8, NOW), 1: (10**8, NOW)}
    index = PositionIndex(":memory:", MARKET)
    books = StoredBooks(m)
    local = LocalHealth(index, books)
    now, block = NOW, 1
    m.deposit(LENDER, 5_000_000 * USD, LENDER, now)
    local.on_block(
        block,
        _hash(block),
        now,
        ["AssetListed", "RatesSet", "Deposit"],
        [
            *listing(FUND_A, 0, ORACLE_A, block),
            rates_set(m.rates, block),
        ],
    )
    block += 1
    local.on_block(block, _hash(block), now, ["AssetListed"], listing(FUND_C, 1, ORACLE_C, block))
    local.on_block(block, _hash(block), now, [], [nav(ORACLE_A, *answers[0], block, i=10), nav(ORACLE_C, *answers[1], block, i=11)])

    def feed(i):
        return answers[i]

    applied_steps = candidates = 0
    # Every borrower starts with both funds, borrowed to most of its limit.
    opening = [("supply", i, 0, 50_000) for i in range(3)] + [("supply", i, 1, 100_000) for i in range(3)]
    opening += [("borrow", i, 9_000) for i in range(3)]
    for action, *args in opening + steps:
        block += 1
        now += 12
        names, positions, inputs = [], [], []
        try:
            if action == "supply":
                who, asset, whole = BORROWERS[args[0]], args[1], args[2]
                m.supply_collateral(who, TOKENS[asset], whole * UNIT[asset], who)
                collateral = m.balance(who, asset)
                positions.append(("SupplyCollateral", {"on_behalf": who, "token": TOKENS[asset], "collateral": collateral}))
            elif action == "withdraw":
                who, asset = BORROWERS[args[0]], args[1]
                amount = min(args[2] * UNIT[asset], m.balance(who, asset))
                m.withdraw_collateral(who, TOKENS[asset], amount, who, who, now, feed)
                collateral = m.balance(who, asset)
                positions.append(("WithdrawCollateral", {"on_behalf": who, "token": TOKENS[asset], "collateral": collateral}))
            elif action in ("borrow", "repay"):
                who = BORROWERS[args[0]]
                if action == "borrow":
                    limit = m.valuation(who, MAX_UINT256, model.VALUE_BORROW, now, feed).borrow_value
                    room = limit - m.debt(who, now)
                    m.borrow(who, max(room * args[1] // 10_000, 100 * USD), who, who, now, feed)
                else:
                    m.repay(who, args[1] * USD, who, now)
                name = "Borrow" if action == "borrow" else "Repay"
                positions.append((name, {"on_behalf": who, "scaled_debt": m.scaled.get(who, 0), "borrow_index": m.index}))
            elif action == "nav":
                asset = args[0]
                answers[asset] = (answers[asset][0] * (10_000 + args[1]) // 10_000, now)
                inputs.append(nav(ORACLES[asset], *answers[asset], block))
            elif action == "time":
                now += args[0]
            elif action == "lend":
                m.deposit(LENDER, args[0] * USD, LENDER, now)
                names.append("Deposit")
            elif action == "ratio":
                asset, ratio = args
                m.assets[asset].ratio = ratio
                inputs.append(event("AssetSynced", {"token": TOKENS[asset], "booked": 1, "balance": 1, "ratio": ratio}, block))
            elif action == "risk":
                asset, threshold = args
                m.set_asset_risk(LIQUIDATOR, TOKENS[asset], threshold - 1_000, threshold, 300)
                args_ = {"token": TOKENS[asset], "ltv_bps": threshold - 1_000, "threshold_bps": threshold, "bonus_bps": 300}
                inputs.append(event("AssetRiskSet", args_, block))
            elif action == "rates":
                m.set_rates(LIQUIDATOR, args[0], args[0], max(args[0], args[1]), 9_000, 1_000, now)
                inputs.append(rates_set(m.rates, block))
                names.append("RatesSet")
        except model.ModelRevert:
            continue  # reverted: no logs
        applied_steps += 1
        records = [position_log(name, args_, block, i) for i, (name, args_) in enumerate(positions)]
        applied = index.apply(records)
        local.on_block(block, _hash(block), now, names + [name for name, _ in positions], inputs, applied.touched)
        for extra in later:
            at = now + extra
            inputs_now = local.inputs_at(block)
            got = exact_healths(local.positions(inputs_now), inputs_now, at)
            want = {}
            for account in sorted(a for a, s in m.scaled.items() if s):
                debt, _, _, lv, hf, _ = m.position(account, at, feed)
                want[account] = ExactHealth(account, debt, lv, hf)
            assert {a: h for a, h in got.items() if h.debt or a in want} == want
            screened = local.screen(block, at)
            assert screened.candidates() == [a for a in screened.accounts if a in want and want[a].liquidatable]
            candidates += len(screened.candidates())
    statistic(f"steps applied: {min(applied_steps, 10)}{'+' if applied_steps >= 10 else ''}")
    statistic(f"liquidatable seen: {candidates > 0}")
