"""devkit.bigbook_plan: the large book's plan, its storage words and its
index records, without a chain (the anvil check is
tests/keeper/e2e/test_bigbook.py)."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import keccak

from devkit.bigbook import BigBook, SeededMarket, flatten_layout, slot_of, LayoutError
from devkit.bigbook_plan import (
    AssetTerms,
    BookError,
    BookSpec,
    MarketTerms,
    book_word,
    index_records,
    mapping_slot,
    market_word,
    plan_book,
    position_word,
    position_writes,
    token_word,
    totals,
)
from keepers.index import PositionIndex
from navlend.constants import BPS, WAD

FUND_A = "0x" + "a1" * 20
FUND_C = "0x" + "c3" * 20
WRAPPER = "0x" + "e5" * 20
MARKET = "0x" + "77" * 20


def config_word(ltv: int, threshold: int, scale: int) -> int:
    return (ltv << 160) | (threshold << 176) | (300 << 192) | (scale << 208)


def market_terms(index: int = WAD, min_debt: int = 1_000 * 10**6) -> MarketTerms:
    return MarketTerms(
        assets=(
            AssetTerms.from_config(FUND_A, 0, config_word(8_500, 9_000, 8), 10_50_000_000),
            AssetTerms.from_config(FUND_C, 1, config_word(8_500, 9_000, 20), 1_05_000_000),
            AssetTerms.from_config(WRAPPER, 2, config_word(8_000, 8_800, 20), 1_00_000_000),
        ),
        borrow_index=index,
        base_unit=10**6,
        min_debt=min_debt,
    )


def test_book_spec__valid__accepted():
    assert BookSpec(300, 3, underwater=2).underwater == 2


def test_book_spec__bad_values__every_problem_listed():
    with pytest.raises(BookError) as err:
        BookSpec(0, 0, min_usd=10, max_usd=5, risky_bps=20_000, underwater=-1)
    text = str(err.value)
    for word in ("positions", "markets", "min_usd", "risky_bps", "underwater"):
        assert word in text


def test_asset_terms__from_config__decodes_the_word_and_values_units():
    a = AssetTerms.from_config(FUND_A, 0, config_word(8_500, 9_000, 8), 10_50_000_000)
    assert (a.ltv_bps, a.threshold_bps, a.scale) == (8_500, 9_000, 8)
    units = a.units_for(10_500 * 10**6)
    assert units == 1_000 * 10**6
    assert a.value_of(units) == 10_500 * 10**6


def test_asset_terms__no_price__refused():
    with pytest.raises(BookError, match="no price"):
        AssetTerms.from_config(FUND_A, 0, config_word(8_500, 9_000, 8), 0)


def test_market_terms__index_below_one__refused():
    with pytest.raises(BookError, match="below one"):
        market_terms(index=WAD - 1)


def test_plan_book__three_markets__spread_deterministic_and_consistent():
    spec = BookSpec(300, 3, underwater=2)
    terms = [market_terms(), market_terms(index=WAD + WAD // 50), market_terms()]
    book = plan_book(spec, terms)
    assert book == plan_book(spec, terms)
    assert [sum(p.market == k for p in book) for k in range(3)] == [100, 100, 100]
    assert len({p.account for p in book}) == 300
    for p in book:
        t = terms[p.market]
        by_id = {a.asset_id: a for a in t.assets}
        lv = sum(by_id[h.asset_id].value_of(h.units) * by_id[h.asset_id].threshold_bps // BPS for h in p.holdings)
        assert p.liquidation_value == lv
        assert p.debt == -(-p.scaled_debt * t.borrow_index // WAD)
        assert p.health == lv * WAD // p.debt
    underwater = [p for p in book if p.health < WAD]
    assert len(underwater) == 6  # the first two of each market
    assert any(len(p.holdings) == 2 for p in book)


def test_plan_book__risky_share__near_the_edge_not_under():
    book = plan_book(BookSpec(2_000, 1, risky_bps=1_000), [market_terms()])
    # Risky: LTV 84.5 % against thresholds of 88-90 %: health 1.04-1.07;
    # the rest at most 80 %: health at least 1.1.
    risky = [p for p in book if p.health < 108 * WAD // 100]
    assert all(p.health > 103 * WAD // 100 for p in risky)  # RISKY_LTV_BPS, not below one
    assert 100 < len(risky) < 300
    assert all(p.health >= WAD for p in book)


def test_plan_book__debt_below_market_minimum__refused():
    with pytest.raises(BookError, match="below market 0's minimum"):
        plan_book(BookSpec(10, 1, min_usd=100, max_usd=200), [market_terms()])


def test_plan_book__wrong_market_count__refused():
    with pytest.raises(BookError, match="3 markets, 1 given"):
        plan_book(BookSpec(10, 3), [market_terms()])


def test_mapping_slot__vyper_order__slot_then_key():
    assert mapping_slot(11, MARKET) == int.from_bytes(keccak(encode(["uint256", "address"], [11, MARKET])), "big")
    assert mapping_slot(11, MARKET) != int.from_bytes(keccak(encode(["address", "uint256"], [MARKET, 11])), "big")


def test_mapping_slot__negative__refused():
    with pytest.raises(BookError):
        mapping_slot(-1, 3)


def test_position_word__packs_debt_bitmap_and_asset_zero():
    p = next(p for p in plan_book(BookSpec(50, 1), [market_terms()]) if len(p.holdings) == 2)
    word = position_word(p)
    assert word & (2**112 - 1) == p.scaled_debt
    assert (word >> 112) & 0xFFFF == p.bitmap
    assert word >> 128 == next((h.units for h in p.holdings if h.asset_id == 0), 0)


def test_position_word__overflow__refused():
    p = plan_book(BookSpec(1, 1), [market_terms()])[0]
    with pytest.raises(BookError, match="overflows"):
        position_word(type(p)(p.market, p.account, p.holdings, 2**112, p.debt, p.liquidation_value, p.health))


def test_position_writes__asset_zero_in_the_word_others_in_collateral():
    book = plan_book(BookSpec(50, 1), [market_terms()])
    writes = dict(position_writes(book, 11, 12))
    for p in book:
        assert writes[mapping_slot(11, p.account)] == position_word(p)
        for h in p.holdings:
            key = mapping_slot(mapping_slot(12, p.account), h.asset_id)
            assert (writes.get(key) == h.units) is (h.asset_id != 0)


def test_market_word__replaces_total_and_accrual__keeps_index_and_pause_bits():
    word = (3 * WAD << 160) | (1_000 << 128) | (7 << 120) | (5 << 112) | 123
    new = market_word(word, 456, 2_000)
    assert (new >> 160, (new >> 128) & (2**32 - 1), (new >> 112) & 0xFFFF, new & (2**112 - 1)) == (3 * WAD, 2_000, (7 << 8) | 5, 456)


def test_market_word__overflow__refused():
    with pytest.raises(BookError):
        market_word(0, 2**112, 1)


def test_book_word__cash_falls_reserves_kept():
    assert book_word((9 << 128) | 1_000, 400) == (9 << 128) | 600


def test_book_word__borrows_above_cash__refused():
    with pytest.raises(BookError, match="cannot cover"):
        book_word((9 << 128) | 1_000, 1_001)


def test_token_word__adds_to_total__keeps_flags_and_cap():
    word = (77 << 136) | (10 << 16) | 1024 | 1
    assert token_word(word, 5) == (77 << 136) | (15 << 16) | 1024 | 1


def test_token_word__overflow__refused():
    with pytest.raises(BookError):
        token_word((2**120 - 1) << 16, 1)


def test_totals__sums_scaled_borrowed_and_units():
    book = plan_book(BookSpec(40, 1), [market_terms(index=WAD + 10**15)])
    t = totals(book, WAD + 10**15)
    assert (t.positions, t.total_scaled) == (40, sum(p.scaled_debt for p in book))
    assert t.borrowed <= sum(p.debt for p in book)
    assert sum(t.units.values()) == sum(h.units for p in book for h in p.holdings)


def test_index_records__applied__index_holds_the_plan():
    book = plan_book(BookSpec(60, 1), [market_terms(index=WAD + 10**16)])
    index = PositionIndex(":memory:", MARKET)
    result = index.apply(index_records(book, 42, "0x" + "ab" * 32, WAD + 10**16))
    assert result.applied == sum(len(p.holdings) + 1 for p in book)
    assert len(index.open_accounts()) == 60
    for p in book:
        got = index.position(p.account)
        assert got.scaled_debt == p.scaled_debt
        assert got.collateral == {h.token: h.units for h in p.holdings}
    assert index.borrow_index() == WAD + 10**16
    again = index.apply(index_records(book, 42, "0x" + "ab" * 32, WAD + 10**16))
    assert again.applied == 0


def test_flatten_layout__bare_names_unique_only():
    tree = {"erc20": {"balanceOf": {"type": "HashMap", "slot": 2}}, "store": {"_positions": {"type": "x", "slot": 11}},
            "other": {"balanceOf": {"type": "HashMap", "slot": 30}}}
    slots = flatten_layout(tree)
    assert slots["_positions"] == 11 and slots["erc20.balanceOf"] == 2 and slots["other.balanceOf"] == 30
    with pytest.raises(LayoutError, match="balanceOf"):
        slot_of(slots, "balanceOf")


def test_big_book__json_round_trip__equal():
    book = plan_book(BookSpec(9, 3), [market_terms()] * 3)
    big = BigBook(BookSpec(9, 3), tuple(SeededMarket(k, MARKET, MARKET, "x.json", WAD, 1, 1) for k in range(3)),
                  book, 5, "0x" + "cd" * 32)
    assert BigBook.from_json(big.to_json()) == big
    assert len(big.of_market(1)) == 3
