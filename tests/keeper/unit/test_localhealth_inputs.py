"""The inputs of health from the index (keepers/healthinputs.py and the
``health_inputs`` table of keepers/index.py): what each event sets, the
latest fact wins in any order, reorgs undo, and the stored facts assemble
into the inputs whose screen equals the reference model."""

from __future__ import annotations

import random

import pytest

from navlend import model
from navlend.constants import WAD
from navlend.rules.interest import Rates

from keepers.healthinputs import (
    READ_LOG_INDEX,
    InputFact,
    InputKind,
    InputRecord,
    MissingInput,
    assemble,
    book_fact,
    facts_of_event,
    input_record,
    needs_book_read,
    read_record,
)
from keepers.index import PositionIndex
from keepers.localhealth import PositionArrays, screen
from keepers.types import to_address

from conftest import BORROWER, FUND_A, FUND_C, MARKET, NOW, OTHER_BORROWER, model_market, open_position
from test_index import borrow, supply

ORACLE_A = to_address("0x" + "0a" * 20)
ORACLE_C = to_address("0x" + "0c" * 20)
RATES = Rates()


def _hash(block: int, fork: str = "a") -> str:
    return f"0x{fork}{block:063x}"


def event(name, args, block, i=0, emitter=MARKET, fork="a", removed=False):
    record = input_record(name, args, emitter, block_number=block, block_hash=_hash(block, fork), log_index=i, removed=removed)
    assert record is not None
    return record


def listing(token, asset_id, oracle, block, threshold=9_000, price_cap=0, ltv=8_500):
    """The four events ``list_asset`` emits, in its order."""
    return [
        event("AssetListed", {"token": token, "asset_id": asset_id, "oracle": oracle}, block, 0),
        event("AssetRiskSet", {"token": token, "ltv_bps": ltv, "threshold_bps": threshold, "bonus_bps": 300}, block, 1),
        event("AssetLimitsSet", {"token": token, "supply_cap": 10**30, "price_cap": price_cap, "max_oracle_age": 360_000}, block, 2),
        event("AssetOracleSet", {"token": token, "oracle": oracle}, block, 3),
    ]


def nav(oracle, answer, as_of, block, i=0, name="NavPublished", fork="a", removed=False):
    args = {"round_id": 1, "answer": answer, "as_of": as_of, "published_at": as_of}
    return event(name, args, block, i, emitter=oracle, fork=fork, removed=removed)


def rates_set(rates: Rates, block):
    args = dict(
        base_rate=rates.base_rate,
        slope1=rates.slope1,
        slope2=rates.slope2,
        kink_bps=rates.kink_bps,
        reserve_factor_bps=rates.reserve_factor_bps,
    )
    return event("RatesSet", args, block, 5)


def reads(block, book=(0, 0, 0, WAD, 0), timestamp=NOW, exponents=((FUND_A, 8), (FUND_C, 20))):
    facts = [book_fact(book, timestamp)] + [InputFact(InputKind.EXPONENT, t, (e,)) for t, e in exponents]
    return read_record(block, _hash(block), facts)


def full_history():
    return [
        *listing(FUND_A, 0, ORACLE_A, 1),
        *listing(FUND_C, 1, ORACLE_C, 2),
        rates_set(RATES, 2),
        nav(ORACLE_A, 10 * 10**8, NOW - 100, 3),
        nav(ORACLE_C, 10**8, NOW - 100, 3, i=1),
        reads(4),
    ]


@pytest.fixture
def index():
    idx = PositionIndex(":memory:", MARKET)
    yield idx
    idx.close()


# ---------------------------------------------------------------- #
#                           events to facts                         #
# ---------------------------------------------------------------- #


def test_facts_of_event__each_input_event__sets_its_fact():
    assert facts_of_event("AssetSynced", {"token": FUND_A, "booked": 10, "balance": 5, "ratio": WAD // 2}, MARKET) == (
        InputFact(InputKind.RATIO, FUND_A, (WAD // 2,)),
    )
    confirmed = facts_of_event("PendingConfirmed", {"round_id": 2, "answer": 9 * 10**8, "as_of": 5}, ORACLE_A)
    assert confirmed == (InputFact(InputKind.ANSWER, ORACLE_A, (9 * 10**8, 5)),)
    listed = facts_of_event("AssetListed", {"token": FUND_A, "asset_id": 0, "oracle": ORACLE_A}, MARKET)
    assert listed[1] == InputFact(InputKind.ORACLE, FUND_A, (int(ORACLE_A, 16),))


@pytest.mark.parametrize("name", ["NavPending", "PendingRejected", "Borrow", "FeesSet"])
def test_facts_of_event__event_that_moves_no_liquidation_input__none(name):
    assert facts_of_event(name, {"answer": 1, "as_of": 1}, ORACLE_A) == ()
    assert input_record(name, {}, ORACLE_A, block_number=1, block_hash=_hash(1), log_index=0) is None


def test_facts_of_event__missing_argument__clear_error():
    with pytest.raises(ValueError, match="AssetRiskSet log without argument 'threshold_bps'"):
        facts_of_event("AssetRiskSet", {"token": FUND_A, "ltv_bps": 1}, MARKET)


def test_needs_book_read__accruing_event__yes_collateral_only__no():
    assert needs_book_read(["SupplyCollateral", "Deposit"])
    assert not needs_book_read(["SupplyCollateral", "WithdrawCollateral", "FlashLoan", "FeesSet"])


def test_book_fact__market_state_at_an_accruing_block__stored_books():
    fact = book_fact((100, 999, 7, 2 * WAD, 500), NOW)
    assert fact == InputFact(InputKind.BOOK, "", (2 * WAD, NOW, 500, 100, 7))


# ---------------------------------------------------------------- #
#                              the table                            #
# ---------------------------------------------------------------- #


def test_health_inputs__any_order_and_replayed__latest_wins(index):
    history = full_history() + [nav(ORACLE_A, 9 * 10**8, NOW - 50, 6)]
    shuffled = history[:]
    random.Random(7).shuffle(shuffled)
    index.apply_health_inputs(shuffled)
    assert index.apply_health_inputs(history) == 0
    current = index.health_inputs()
    assert current[(InputKind.ANSWER, ORACLE_A)] == (9 * 10**8, NOW - 50)
    assert current[(InputKind.RISK, FUND_C)] == (8_500, 9_000)


def test_health_inputs__removed_log__falls_back_and_drops_the_blocks_reads(index):
    index.apply_health_inputs(full_history())
    later = [nav(ORACLE_A, 9 * 10**8, NOW - 50, 6), reads(6, book=(0, 0, 0, 2 * WAD, 0))]
    index.apply_health_inputs(later)
    assert index.health_inputs()[(InputKind.BOOK, "")][0] == 2 * WAD
    index.apply_health_inputs([nav(ORACLE_A, 9 * 10**8, NOW - 50, 6, removed=True)])
    current = index.health_inputs()
    assert current[(InputKind.ANSWER, ORACLE_A)] == (10 * 10**8, NOW - 100)
    assert current[(InputKind.BOOK, "")][0] == WAD


def test_health_inputs__rewind__forgets_above_the_block(index):
    index.apply_health_inputs(full_history() + [nav(ORACLE_A, 9 * 10**8, NOW - 50, 6)])
    assert index.rewind_health_inputs(5) == 1
    assert index.health_inputs()[(InputKind.ANSWER, ORACLE_A)] == (10 * 10**8, NOW - 100)
    assert index.rewind_health_inputs(5) == 0


def test_health_inputs__compact__keeps_the_latest_final_value(index):
    index.apply_health_inputs(full_history() + [nav(ORACLE_A, 9 * 10**8, NOW - 50, 6), nav(ORACLE_A, 8 * 10**8, NOW, 9)])
    before = index.health_inputs()
    # Oracle A's block-3 answer, and each listing's first oracle fact
    # (AssetListed), which its AssetOracleSet re-set.
    assert index.compact_health_inputs(7) == 3
    assert index.health_inputs() == before
    index.apply_health_inputs([nav(ORACLE_A, 8 * 10**8, NOW, 9, removed=True)])
    assert index.health_inputs()[(InputKind.ANSWER, ORACLE_A)] == (9 * 10**8, NOW - 50)


def test_health_inputs__reopened_file__kept(tmp_path):
    path = tmp_path / "index.sqlite"
    first = PositionIndex(path, MARKET)
    first.apply_health_inputs(full_history())
    first.close()
    second = PositionIndex(path, MARKET)
    try:
        assert second.health_inputs()[(InputKind.RATES, "")] == (
            RATES.base_rate, RATES.slope1, RATES.slope2, RATES.kink_bps, RATES.reserve_factor_bps,
        )
    finally:
        second.close()


def test_open_positions__debt_and_collateral__only_open_ones(index):
    index.apply([supply(BORROWER, FUND_A, 70, 1), borrow(BORROWER, 50, 1, 1), supply(OTHER_BORROWER, FUND_C, 9, 1, 2)])
    positions = index.open_positions()
    assert [(p.account, p.scaled_debt, p.collateral) for p in positions] == [(BORROWER, 50, {FUND_A: 70})]


# ---------------------------------------------------------------- #
#                         facts to the inputs                       #
# ---------------------------------------------------------------- #


def test_assemble__full_history__screen_equals_the_model(index):
    m = model_market()
    open_position(m, BORROWER, {0: 100 * 10**6}, 901 * 10**6)
    open_position(m, OTHER_BORROWER, {1: 10**20}, 50 * 10**6)
    index.apply_health_inputs(full_history())
    index.apply([supply(BORROWER, FUND_A, 100 * 10**6, 5), borrow(BORROWER, 901 * 10**6, 5, 1)])
    index.apply([supply(OTHER_BORROWER, FUND_C, 10**20, 5, 2), borrow(OTHER_BORROWER, 50 * 10**6, 5, 3)])
    inputs = assemble(index.health_inputs())
    assert inputs.tokens == (FUND_A, FUND_C)
    positions = PositionArrays.from_positions(
        [(p.account, p.scaled_debt, p.collateral) for p in index.open_positions()], inputs.tokens
    )
    result = screen(positions, inputs, NOW)
    feed = {0: (10 * 10**8, NOW - 100), 1: (10**8, NOW - 100)}
    debt, _, _, lv, hf, _ = m.position(BORROWER, NOW, lambda i: feed[i])
    figures = result.exact[BORROWER]
    assert (figures.debt, figures.liquidation_value, figures.health_factor) == (debt, lv, hf)
    assert result.candidates() == [BORROWER]


def test_assemble__read_price__used_without_an_oracle_round(index):
    history = [r for r in full_history() if not (r.facts[0].kind is InputKind.ANSWER and r.facts[0].key == ORACLE_C)]
    index.apply_health_inputs(history)
    with pytest.raises(MissingInput, match=f"{FUND_C}: price"):
        assemble(index.health_inputs())
    inputs = assemble(index.health_inputs(), read_prices={FUND_C: 123})
    assert inputs.prices_at(NOW) == (10 * 10**8, 123)


def test_assemble__ratio_and_cap__from_their_events(index):
    index.apply_health_inputs(full_history())
    index.apply_health_inputs(
        [
            event("AssetSynced", {"token": FUND_A, "booked": 10, "balance": 5, "ratio": WAD // 2}, 7),
            event("AssetLimitsSet", {"token": FUND_C, "supply_cap": 1, "price_cap": 5 * 10**7, "max_oracle_age": 3_600}, 7, 1),
        ]
    )
    assert assemble(index.health_inputs()).prices_at(NOW) == (5 * 10**8, 5 * 10**7)


def test_assemble__nothing_read_yet__names_every_missing_fact(index):
    index.apply_health_inputs(listing(FUND_A, 0, ORACLE_A, 1)[:1])
    with pytest.raises(MissingInput) as raised:
        assemble(index.health_inputs())
    message = str(raised.value)
    for part in ("the books", "the rate curve", "risk parameters", "value exponent", "price cap", "price"):
        assert part in message


def test_read_record__orders_after_every_log_of_its_block():
    record = read_record(4, _hash(4), [book_fact((0, 0, 0, WAD, 0), NOW)])
    assert record.log_index == READ_LOG_INDEX and isinstance(record, InputRecord)


def test_health_inputs__removed_log_of_no_input__still_drops_its_blocks_reads(index):
    index.apply_health_inputs(full_history() + [reads(6, book=(0, 0, 0, 2 * WAD, 0))])
    removed = input_record("Borrow", {}, MARKET, block_number=6, block_hash=_hash(6), log_index=2, removed=True)
    assert removed is not None and removed.facts == ()
    index.apply_health_inputs([removed])
    assert index.health_inputs()[(InputKind.BOOK, "")][0] == WAD


def test_health_inputs__same_block_from_another_fork__replaces_the_old_forks_facts(index):
    index.apply_health_inputs(full_history() + [nav(ORACLE_A, 9 * 10**8, NOW - 50, 6, fork="a")])
    index.apply_health_inputs([nav(ORACLE_A, 8 * 10**8, NOW - 40, 6, i=3, fork="b")])
    assert index.health_inputs()[(InputKind.ANSWER, ORACLE_A)] == (8 * 10**8, NOW - 40)
    index.apply_health_inputs([reads(6, book=(0, 0, 0, 3 * WAD, 0))])  # fork "a" again: "b" is gone
    current = index.health_inputs()
    assert current[(InputKind.ANSWER, ORACLE_A)] == (10 * 10**8, NOW - 100)
    assert current[(InputKind.BOOK, "")][0] == 3 * WAD
