"""Health from the index (keepers/localhealth.py): the local health factor
equals the reference model's (navlend.model, which the property suite
holds equal to the bytecode) for random books, curves, prices, positions
and elapsed time; the float screen flags every liquidatable position."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from navlend import model
from navlend.constants import MAX_ORACLE_AGE, MAX_UINT256, WAD, YEAR
from navlend.rules.interest import Book, Rates

from keepers.localhealth import (
    DEFAULT_EDGE_BPS,
    AssetPricing,
    ExactHealth,
    MarketHealthInputs,
    PositionArrays,
    PositionTable,
    exact_health,
    exact_healths,
    mismatches,
    screen,
)
from keepers.types import to_address

from conftest import BORROWER, FUND_A, FUND_C, NOW, OTHER_BORROWER, lens_health, model_market, open_position

ACCOUNTS = [to_address(f"0x{i + 1:040x}") for i in range(8)]


# ---------------------------------------------------------------- #
#                 the model and the local inputs alike              #
# ---------------------------------------------------------------- #


def inputs_of(m: model.MarketModel, feed: dict[int, tuple[int, int]], read_prices: dict[int, int] | None = None) -> MarketHealthInputs:
    """The local inputs of a model market: the same books, curve, assets
    and feed answers (``read_prices``: assets priced by a read instead)."""
    read_prices = read_prices or {}
    return MarketHealthInputs(
        book=m.book(),
        rates=m.rates,
        assets=tuple(
            AssetPricing(
                token=a.token,
                asset_id=i,
                exponent=a.exponent,
                ltv_bps=a.ltv_bps,
                threshold_bps=a.threshold_bps,
                answer=feed[i][0],
                updated_at=feed[i][1],
                price_cap=a.price_cap,
                ratio=a.ratio,
                max_oracle_age=a.max_oracle_age,
                read_price=read_prices.get(i),
            )
            for i, a in enumerate(m.assets)
        ),
    )


def arrays_of(m: model.MarketModel, accounts: list[str]) -> PositionArrays:
    return PositionArrays.build(
        accounts,
        [m.scaled.get(a, 0) for a in accounts],
        [[m.balance(a, i) for i in range(len(m.assets))] for a in accounts],
        len(m.assets),
    )


def reference(m: model.MarketModel, account: str, now: int, feed: dict[int, tuple[int, int]]) -> ExactHealth:
    debt, _scaled, _bv, lv, hf, _bitmap = m.position(account, now, lambda i: feed[i])
    return ExactHealth(account, debt, lv, hf)


def float_error_bound(exact: ExactHealth, n_assets: int) -> float:
    """How far the screen's float HF may be from the exact one: the floors
    (2 per asset), the ceiling (1), the exact HF's own floor, rounding."""
    hf = exact.health_factor / WAD
    absolute = (2 * n_assets + 2 + 1e-12 * (exact.liquidation_value + exact.debt)) / exact.debt
    return absolute * (1 + hf) + 1e-15 * (1 + hf) + 1 / WAD


# ---------------------------------------------------------------- #
#                            the property                           #
# ---------------------------------------------------------------- #


@st.composite
def markets(draw):
    """A model market with 1-3 assets of random decimals, risk, caps and
    ratios, a random book and curve, feeds (some stale, a few broken),
    positions whose debts sit around their liquidation value (at it to the
    unit, a little either side, or anywhere), and some time elapsed."""
    k = draw(st.integers(1, 3))
    m = model.MarketModel(base_decimals=6, owner=BORROWER, guardian=BORROWER, treasury=BORROWER)
    for i in range(k):
        token_decimals = draw(st.sampled_from([6, 8, 18]))
        oracle_decimals = draw(st.sampled_from([8, 18]))
        threshold = draw(st.integers(200, 9_800))
        m.assets.append(
            model.Asset(
                token=to_address(f"0x{0xF0 + i:040x}"),
                exponent=token_decimals + oracle_decimals - 6,
                ltv_bps=draw(st.integers(1, threshold - 1)),
                threshold_bps=threshold,
                bonus_bps=100,
                supply_cap=2**120 - 1,
                price_cap=draw(st.one_of(st.just(0), st.integers(1, 10**20))),
                max_oracle_age=draw(st.integers(3_600, MAX_ORACLE_AGE)),
                ratio=draw(st.one_of(st.just(WAD), st.integers(WAD // 2, WAD), st.integers(1, WAD))),
            )
        )
    m.rates = Rates.from_annual(
        draw(st.integers(0, 10 * WAD)),
        slope1 := draw(st.integers(0, 10 * WAD)),
        draw(st.integers(slope1, 10 * WAD)),
        draw(st.integers(1_000, 9_900)),
        draw(st.integers(0, 5_000)),
    )
    m.index = draw(st.integers(WAD, 3 * WAD))
    m.last_accrual = NOW
    m.cash = draw(st.integers(0, 10**30))
    m.reserves = draw(st.integers(0, 10**20))
    # All borrowers' scaled debt, drawn apart from these positions: the
    # curve's utilisation needs only the total.
    m.total_scaled = draw(st.integers(0, 2**100))
    feed = {}
    for i in range(k):
        kind = draw(st.integers(0, 9))
        answer = draw(st.integers(-5, 0)) if kind == 0 else draw(st.integers(10**6, 10**20))
        updated_at = NOW + 10**7 if kind == 1 else draw(st.integers(NOW - 30 * 86_400, NOW))  # future: broken
        feed[i] = (answer, updated_at)
    now = NOW + draw(st.one_of(st.just(0), st.integers(1, 3_600), st.integers(0, 2 * YEAR)))
    index = m.accrued(now).index
    for account in ACCOUNTS[: draw(st.integers(1, len(ACCOUNTS)))]:
        for i in range(k):
            amount = draw(st.one_of(st.just(0), st.integers(1, 10**4), st.integers(0, 2**100)))
            if amount:
                m.collateral[(account, i)] = amount
        lv = m.valuation(account, MAX_UINT256, model.VALUE_LIQUIDATION, now, lambda i: feed[i]).liquidation_value
        edge = lv * WAD // index  # the scaled debt whose debt is about the liquidation value
        m.scaled[account] = draw(
            st.one_of(
                st.just(0),
                st.integers(max(edge - 3, 0), edge + 3),
                st.integers(edge * 99 // 100, edge * 101 // 100 + 1),
                st.integers(edge // 3, edge),
                st.integers(0, 2**100),
            )
        )
    return m, feed, now


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets())
def test_local_health__random_book_prices_and_time__equals_the_reference_model(case):
    m, feed, now = case
    accounts = sorted(m.scaled)
    positions = arrays_of(m, accounts)
    inputs = inputs_of(m, feed)
    want = {a: reference(m, a, now, feed) for a in accounts}

    assert exact_healths(positions, inputs, now) == want

    result = screen(positions, inputs, now)
    assert set(result.exact) == set(result.accounts_to_recheck())
    for account, figures in result.exact.items():
        assert figures == want[account]
    assert result.candidates() == [a for a in accounts if want[a].liquidatable]
    for row, account in enumerate(accounts):
        exact = want[account]
        if exact.debt == 0:
            assert result.health[row] == np.inf and not result.recheck[row]
        elif not result.recheck[row]:
            assert not exact.liquidatable
            assert abs(result.health[row] - exact.health_factor / WAD) <= float_error_bound(exact, len(m.assets))


# ---------------------------------------------------------------- #
#                              edge cases                           #
# ---------------------------------------------------------------- #

USD = 10**6
PRICE = 10 * 10**8  # $10.00, 8 decimals (fund A: 6 decimals, exponent 8)
FEED = {0: (PRICE, NOW), 1: (10**8, NOW)}


def two_positions(debt_a: int, debt_b: int) -> model.MarketModel:
    """Fund A collateral worth $1,000 (threshold 90 %: $900) behind each."""
    m = model_market()
    open_position(m, BORROWER, {0: 100 * USD}, debt_a)
    open_position(m, OTHER_BORROWER, {0: 100 * USD}, debt_b)
    return m


def run(m, feed=FEED, now=NOW, **kwargs):
    accounts = sorted(m.scaled)
    return screen(arrays_of(m, accounts), inputs_of(m, feed), now, **kwargs), {a: reference(m, a, now, feed) for a in accounts}


def test_screen__liquidatable_and_healthy__flags_only_the_liquidatable():
    m = two_positions(901 * USD, 500 * USD)
    result, want = run(m)
    assert result.candidates() == [BORROWER]
    assert result.exact[BORROWER] == want[BORROWER]
    assert OTHER_BORROWER not in result.exact
    assert result.health[result.accounts.index(OTHER_BORROWER)] == pytest.approx(1.8)


def test_screen__zero_debt__infinite_health_and_never_flagged():
    m = two_positions(0, 899 * USD)
    result, want = run(m)
    row = result.accounts.index(BORROWER)
    assert result.health[row] == np.inf and not result.recheck[row]
    assert exact_health(BORROWER, 0, [100 * USD, 0], result.prices, inputs_of(m, FEED).assets, WAD).health_factor == MAX_UINT256
    assert want[BORROWER].health_factor == MAX_UINT256


def test_screen__near_the_edge__rechecked_but_not_a_candidate():
    m = two_positions(898 * USD, 500 * USD)  # HF 1.0022: within 50 bps
    result, want = run(m)
    assert result.accounts_to_recheck() == [BORROWER]
    assert result.candidates() == []
    assert result.exact[BORROWER] == want[BORROWER]


def test_screen__no_edge_band__healthy_position_near_the_edge_not_rechecked():
    m = two_positions(898 * USD, 500 * USD)
    result, _ = run(m, edge_bps=0)
    assert result.accounts_to_recheck() == []
    assert DEFAULT_EDGE_BPS > 0


def test_screen__dust_position_off_by_the_floors__decided_exactly():
    # 3 units of fund A at $10.00 are worth 30 micro-dollars, 27 at the
    # threshold; a debt of 27 is healthy, 28 is not: only the exact
    # integers tell.
    m = model_market()
    open_position(m, BORROWER, {0: 3}, 27)
    open_position(m, OTHER_BORROWER, {0: 3}, 28)
    result, want = run(m)
    assert result.accounts_to_recheck() == sorted([BORROWER, OTHER_BORROWER])
    assert result.candidates() == [OTHER_BORROWER]
    assert result.exact == want


def test_screen__stale_price__still_counts_at_liquidation():
    m = two_positions(800 * USD, 800 * USD)
    stale = {0: (PRICE, NOW - 30 * 86_400), 1: (10**8, NOW)}
    result, want = run(m, feed=stale, edge_bps=2_000)
    assert want[BORROWER].liquidation_value == 900 * USD
    assert result.exact[BORROWER] == want[BORROWER]
    assert result.candidates() == []


@pytest.mark.parametrize("broken", [(0, NOW), (-1, NOW), (PRICE, NOW + 1)], ids=["zero", "negative", "future"])
def test_screen__broken_feed__collateral_worth_nothing(broken):
    m = two_positions(100 * USD, 100 * USD)
    result, want = run(m, feed={0: broken, 1: (10**8, NOW)})
    assert result.prices[0] == 0
    assert result.candidates() == sorted([BORROWER, OTHER_BORROWER])
    assert result.exact == want


def test_screen__asset_ratio__prices_a_booked_unit_at_the_ratio():
    m = two_positions(500 * USD, 400 * USD)
    m.assets[0] = replace(m.assets[0], ratio=WAD // 2)  # $450 at the threshold
    result, want = run(m)
    assert result.prices[0] == PRICE // 2
    assert result.candidates() == [BORROWER]
    assert result.exact == {BORROWER: want[BORROWER]}


def test_screen__price_cap__answer_above_the_cap_counts_at_the_cap():
    m = two_positions(500 * USD, 400 * USD)
    m.assets[0] = replace(m.assets[0], price_cap=5 * 10**8)
    result, want = run(m)
    assert result.prices[0] == 5 * 10**8
    assert result.candidates() == [BORROWER]
    assert result.exact[BORROWER] == want[BORROWER]


def test_screen__read_price__takes_precedence_over_the_answer():
    m = two_positions(500 * USD, 400 * USD)
    inputs = inputs_of(m, FEED, read_prices={0: 5 * 10**8})
    result = screen(arrays_of(m, sorted(m.scaled)), inputs, NOW)
    assert result.prices[0] == 5 * 10**8
    assert result.candidates() == [BORROWER]


def test_screen__time_passes__interest_makes_a_position_liquidatable():
    m = two_positions(899 * USD, 500 * USD)
    m.rates = Rates.from_annual(WAD, WAD, WAD, 9_000, 1_000)
    m.cash = 0
    before, _ = run(m)
    after, want = run(m, now=NOW + 86_400)
    assert before.candidates() == []
    assert after.candidates() == [BORROWER]
    assert after.index > WAD
    assert after.exact[BORROWER] == want[BORROWER]


def test_index_at__before_the_last_accrual__refused():
    m = two_positions(1, 1)
    with pytest.raises(ValueError, match="before the books' last accrual"):
        inputs_of(m, FEED).index_at(NOW - 1)


def test_mismatches__lens_agrees__none_and_lens_differs__reported():
    m = two_positions(901 * USD, 500 * USD)
    accounts = sorted(m.scaled)
    local = exact_healths(arrays_of(m, accounts), inputs_of(m, FEED), NOW)
    lens = [lens_health(m, a, {0: PRICE, 1: 10**8}) for a in accounts]
    assert mismatches(local, lens) == []
    off = replace(lens[0], health_factor=lens[0].health_factor + 1)
    found = mismatches(local, [off, lens[1]])
    assert [f.account for f in found] == [off.account]
    assert found[0].log_fields()["lens_health_factor"] == off.health_factor


def test_mismatches__failed_lens_entry_or_unknown_account__skipped():
    m = two_positions(901 * USD, 500 * USD)
    local = exact_healths(arrays_of(m, [BORROWER]), inputs_of(m, FEED), NOW)
    failed = replace(lens_health(m, BORROWER, {0: PRICE, 1: 10**8}), debt=1, failed=True)
    other = replace(lens_health(m, OTHER_BORROWER, {0: PRICE, 1: 10**8}), debt=1)
    assert mismatches(local, [failed, other]) == []


# ---------------------------------------------------------------- #
#                             bad inputs                            #
# ---------------------------------------------------------------- #


def test_position_arrays__lengths_differ__refused():
    with pytest.raises(ValueError, match="differ in length"):
        PositionArrays.build([BORROWER], [1, 2], [[1]], 1)


def test_position_arrays__negative_or_float_amount__refused():
    with pytest.raises(ValueError, match="non-negative ints"):
        PositionArrays.build([BORROWER], [-1], [[1]], 1)
    with pytest.raises(ValueError, match="non-negative ints"):
        PositionArrays.build([BORROWER], [1], [[1.5]], 1)


def test_position_arrays__wrong_column_count__refused():
    with pytest.raises(ValueError, match="collateral columns"):
        PositionArrays.build([BORROWER], [1], [[1, 2]], 1)


def test_position_arrays__from_positions__unlisted_token_refused_listed_placed_by_column():
    arrays = PositionArrays.from_positions([(BORROWER, 5, {FUND_C: 7})], [FUND_A, FUND_C])
    assert list(arrays.collateral[0]) == [0, 7] and arrays.scaled[0] == 5
    with pytest.raises(ValueError, match="not among the market's listed assets"):
        PositionArrays.from_positions([(BORROWER, 5, {OTHER_BORROWER: 7})], [FUND_A])


def test_screen__columns_differ_from_the_listing__refused():
    m = two_positions(1, 1)
    arrays = PositionArrays.build([BORROWER], [1], [[1]], 1)
    with pytest.raises(ValueError, match="the market lists 2 assets"):
        screen(arrays, inputs_of(m, FEED), NOW)


def test_screen__negative_edge__refused():
    m = two_positions(1, 1)
    with pytest.raises(ValueError, match="edge_bps"):
        screen(arrays_of(m, [BORROWER]), inputs_of(m, FEED), NOW, edge_bps=-1)


def test_market_inputs__assets_out_of_order_or_twice__refused():
    a = AssetPricing(FUND_A, 0, 8, 8_500, 9_000)
    with pytest.raises(ValueError, match="asset-id order"):
        MarketHealthInputs(Book(WAD, NOW, 0, 0, 0), Rates(), (replace(a, asset_id=1),))
    with pytest.raises(ValueError, match="listed twice"):
        MarketHealthInputs(Book(WAD, NOW, 0, 0, 0), Rates(), (a, replace(a, asset_id=1)))


def test_asset_pricing__threshold_above_one_or_negative_read_price__refused():
    with pytest.raises(ValueError, match="basis points"):
        AssetPricing(FUND_A, 0, 8, 8_500, 10_001)
    with pytest.raises(ValueError, match="read price"):
        AssetPricing(FUND_A, 0, 8, 8_500, 9_000, read_price=-1)


# ---------------------------------------------------------------- #
#                    the table kept up to date by row               #
# ---------------------------------------------------------------- #


def test_position_table__upserts_in_any_order__screens_as_arrays_built_afresh():
    m = two_positions(901 * USD, 500 * USD)
    table = PositionTable([FUND_A, FUND_C], capacity=1)  # grows
    table.upsert(OTHER_BORROWER, 1, {FUND_C: 5})
    table.upsert(BORROWER, m.scaled[BORROWER], {FUND_A: 100 * USD})
    table.upsert(OTHER_BORROWER, m.scaled[OTHER_BORROWER], {FUND_A: 100 * USD})  # updated in place
    assert len(table) == 2
    got = screen(table.arrays(), inputs_of(m, FEED), NOW)
    fresh, want = run(m)
    assert got.exact == fresh.exact == {BORROWER: want[BORROWER]}
    assert list(got.accounts) == [OTHER_BORROWER, BORROWER]
    assert np.allclose(got.health, [fresh.health[fresh.accounts.index(a)] for a in got.accounts])


def test_position_table__closed_position__kept_with_no_debt_never_flagged():
    m = two_positions(901 * USD, 500 * USD)
    table = PositionTable([FUND_A, FUND_C])
    table.upsert(BORROWER, 901 * USD, {FUND_A: 100 * USD})
    table.upsert(BORROWER, 0, {})
    result = screen(table.arrays(), inputs_of(m, FEED), NOW)
    assert result.candidates() == [] and result.health[0] == np.inf


def test_position_table__unlisted_token_or_negative_amount__refused():
    table = PositionTable([FUND_A])
    with pytest.raises(ValueError, match="not among the market's listed assets"):
        table.upsert(BORROWER, 1, {FUND_C: 1})
    with pytest.raises(ValueError, match="non-negative ints"):
        table.upsert(BORROWER, -1, {})
    assert len(table) == 0
