"""Health from the index, block by block (keepers/localscan.py): the reads
it makes (the books only after an accruing block, an exponent per listing,
a price per read-priced asset), the table following touched positions, and
a screen equal to the reference model's figures."""

from __future__ import annotations

from dataclasses import dataclass, field

from navlend.constants import WAD

from keepers.index import PositionIndex
from keepers.localhealth import exact_healths
from keepers.localscan import LocalHealth

from conftest import BORROWER, FUND_A, FUND_C, MARKET, NOW, OTHER_BORROWER, model_market, open_position
from test_index import borrow, supply
from test_localhealth_inputs import ORACLE_A, ORACLE_C, _hash, listing, nav, rates_set

USD = 10**6


@dataclass
class ModelReads:
    """The chain's answers, from a model market; counts every read."""

    m: object
    exponents: dict[str, int]
    prices: dict[str, int]
    calls: list[tuple[str, object, int]] = field(default_factory=list)

    def market_state(self, block: int) -> tuple[int, int, int, int, int]:
        self.calls.append(("market_state", None, block))
        a = self.m.accrued(NOW)
        return (self.m.cash, self.m.total_scaled * a.index // WAD, a.reserves, a.index, self.m.total_scaled)

    def value_exponent(self, token: str, block: int) -> int:
        self.calls.append(("value_exponent", token, block))
        return self.exponents[token]

    def asset_price(self, token: str, block: int) -> int:
        self.calls.append(("asset_price", token, block))
        return self.prices[token]


def setup(read_priced=()):
    m = model_market()
    open_position(m, BORROWER, {0: 100 * USD}, 901 * USD)
    open_position(m, OTHER_BORROWER, {1: 10**21}, 500 * USD)
    reads = ModelReads(m, {FUND_A: 8, FUND_C: 20}, {FUND_C: 10**8})
    index = PositionIndex(":memory:", MARKET)
    local = LocalHealth(index, reads, read_priced=read_priced)
    local.on_block(1, _hash(1), NOW, ["AssetListed", "AssetRiskSet"], listing(FUND_A, 0, ORACLE_A, 1))
    local.on_block(2, _hash(2), NOW, ["AssetListed", "RatesSet"], [*listing(FUND_C, 1, ORACLE_C, 2), rates_set(m.rates, 2)])
    local.on_block(3, _hash(3), NOW, [], [nav(ORACLE_A, 10 * 10**8, NOW - 100, 3), nav(ORACLE_C, 10**8, NOW - 100, 3, i=1)])
    applied = index.apply(
        [
            supply(BORROWER, FUND_A, 100 * USD, 4),
            borrow(BORROWER, 901 * USD, 4, 1),
            supply(OTHER_BORROWER, FUND_C, 10**21, 4, 2),
            borrow(OTHER_BORROWER, 500 * USD, 4, 3),
        ]
    )
    local.on_block(4, _hash(4), NOW, ["SupplyCollateral", "Borrow"], touched=applied.touched)
    return m, reads, local


def test_local_health__blocks_of_events__screen_equals_the_model():
    m, _reads, local = setup()
    result = local.screen(4, NOW)
    feed = {0: (10 * 10**8, NOW - 100), 1: (10**8, NOW - 100)}
    debt, _, _, lv, hf, _ = m.position(BORROWER, NOW, lambda i: feed[i])
    assert result.candidates() == [BORROWER]
    figures = result.exact[BORROWER]
    assert (figures.debt, figures.liquidation_value, figures.health_factor) == (debt, lv, hf)
    inputs = local.inputs_at(4)
    everyone = exact_healths(local.positions(inputs), inputs, NOW)
    assert everyone[OTHER_BORROWER].health_factor == m.position(OTHER_BORROWER, NOW, lambda i: feed[i])[4]


def test_local_health__reads__books_only_after_accruing_blocks_exponents_at_listing():
    _m, reads, local = setup()
    local.on_block(5, _hash(5), NOW, ["SupplyCollateral", "FlashLoan"])
    local.screen(5, NOW)
    assert [c for c in reads.calls if c[0] == "market_state"] == [("market_state", None, 2), ("market_state", None, 4)]
    assert sorted(c[1] for c in reads.calls if c[0] == "value_exponent") == [FUND_A, FUND_C]
    assert not [c for c in reads.calls if c[0] == "asset_price"]


def test_local_health__read_priced_asset__its_price_read_each_screen():
    _m, reads, local = setup(read_priced=[FUND_C])
    reads.prices[FUND_C] = 4 * 10**7  # the read wins over the feed's round
    local.screen(4, NOW)
    local.screen(5, NOW)
    assert [c for c in reads.calls if c[0] == "asset_price"] == [("asset_price", FUND_C, 4), ("asset_price", FUND_C, 5)]
    assert local.inputs_at(6).prices_at(NOW)[1] == 4 * 10**7


def test_local_health__touched_position__followed_by_the_table():
    _m, _reads, local = setup()
    assert local.screen(4, NOW).candidates() == [BORROWER]
    applied = local.index.apply([supply(BORROWER, FUND_A, 200 * USD, 6)])
    local.on_block(6, _hash(6), NOW, ["SupplyCollateral"], touched=applied.touched)
    assert local.screen(6, NOW).candidates() == []


def test_local_health__rewind__forgets_the_inputs_and_positions_above():
    _m, _reads, local = setup()
    local.on_block(6, _hash(6), NOW, [], [nav(ORACLE_A, 20 * 10**8, NOW - 10, 6)])
    applied = local.index.apply([supply(BORROWER, FUND_A, 50 * USD, 6, 1)])
    local.on_block(6, _hash(6), NOW, ["WithdrawCollateral"], touched=applied.touched)
    assert local.screen(6, NOW).candidates() == [BORROWER]  # half the units at twice the price
    assert local.inputs_at(6).prices_at(NOW)[0] == 20 * 10**8
    local.index.rewind(5)
    local.on_rewind(5)
    assert local.inputs_at(5).prices_at(NOW)[0] == 10 * 10**8
    assert local.screen(5, NOW).exact[BORROWER].liquidation_value == 900 * USD
