"""The position index (keepers/index.py): event-sourced positions,
idempotent apply, reorg undo, checkpoint and restart, compaction; every
test on both stores, SQLite and PostgreSQL (the ``new_location`` fixture of
conftest.py)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from navlend.constants import WAD

from keepers.index import IndexMismatch, PositionIndex, backfill_ranges
from keepers.types import LogRecord, to_address

from conftest import BORROWER, FUND_A, FUND_C, LIQUIDATOR, MARKET, OTHER_BORROWER

OTHER_MARKET = to_address("0x" + "3b" * 20)


def _log(event, args, block, log_index=0, fork="a", removed=False):
    return LogRecord.from_event(
        event,
        args,
        block_number=block,
        block_hash=f"0x{fork}{block:063x}",
        tx_hash=f"0x{block:032x}{log_index:032x}",
        log_index=log_index,
        removed=removed,
    )


def supply(account, token, collateral, block, i=0, fork="a"):
    return _log("SupplyCollateral", {"on_behalf": account, "token": token, "amount": 1, "collateral": collateral}, block, i, fork)


def withdraw(account, token, collateral, block, i=0, fork="a"):
    args = {"on_behalf": account, "token": token, "receiver": account, "amount": 1, "collateral": collateral}
    return _log("WithdrawCollateral", args, block, i, fork)


def borrow(account, scaled, block, i=0, fork="a", index=WAD):
    return _log("Borrow", {"on_behalf": account, "scaled_debt": scaled, "borrow_index": index}, block, i, fork)


def repay(account, scaled, block, i=0, fork="a", index=WAD):
    return _log("Repay", {"on_behalf": account, "scaled_debt": scaled, "borrow_index": index}, block, i, fork)


def liquidate(account, token, collateral, scaled, block, i=0, fork="a"):
    args = {"borrower": account, "token": token, "collateral": collateral, "scaled_debt": scaled, "liquidator": LIQUIDATOR}
    return _log("Liquidate", args, block, i, fork)


def bad_debt(account, block, i=0, fork="a"):
    return _log("BadDebt", {"borrower": account, "amount": 5, "from_reserves": 5, "socialized": 0}, block, i, fork)


def removed(record):
    return replace(record, removed=True)


@pytest.fixture
def index(new_location):
    ix = PositionIndex(new_location(), MARKET)
    yield ix
    ix.close()


def test_apply__supply_then_borrow__position_open_with_collateral(index):
    index.apply([supply(BORROWER, FUND_A, 1_000, 1), borrow(BORROWER, 600, 2)])
    assert index.open_accounts() == [BORROWER]
    position = index.position(BORROWER)
    assert position.scaled_debt == 600 and position.collateral == {FUND_A: 1_000}


def test_apply__collateral_without_debt__not_open(index):
    index.apply([supply(BORROWER, FUND_A, 1_000, 1)])
    assert index.open_accounts() == [] and index.balances(BORROWER) == {FUND_A: 1_000}


def test_apply__same_log_twice__applied_once(index):
    first = index.apply([borrow(BORROWER, 600, 2)])
    again = index.apply([borrow(BORROWER, 600, 2)])
    assert (first.applied, again.applied, again.duplicates) == (1, 0, 1)
    assert index.position(BORROWER).scaled_debt == 600


def test_apply__one_batch_with_repeats_and_a_removal__counted_per_log_in_order(index):
    log = borrow(BORROWER, 600, 2)
    index.apply([supply(BORROWER, FUND_A, 1_000, 1)])
    result = index.apply([log, log, supply(BORROWER, FUND_A, 1_000, 1), removed(log), log, bad_debt(BORROWER, 3)])
    # log applied, repeated, an old log again, undone, applied again; then BadDebt's debt of 0 (block 3).
    assert (result.applied, result.duplicates, result.undone) == (3, 2, 1)
    assert index.position(BORROWER).scaled_debt == 0 and index.open_accounts() == []
    again = index.apply([log, bad_debt(BORROWER, 3)])
    assert (again.applied, again.duplicates) == (0, 2)


def test_apply__full_repay__position_closed(index):
    index.apply([supply(BORROWER, FUND_A, 1_000, 1), borrow(BORROWER, 600, 2), repay(BORROWER, 0, 3)])
    assert index.open_accounts() == []


def test_apply__liquidation__sets_debt_and_collateral_after(index):
    index.apply([supply(BORROWER, FUND_A, 1_000, 1), borrow(BORROWER, 6_000, 2), liquidate(BORROWER, FUND_A, 10, 2_500, 3)])
    position = index.position(BORROWER)
    assert position.scaled_debt == 2_500 and position.collateral == {FUND_A: 10}


def test_apply__liquidation_with_bad_debt__position_closed_collateral_gone(index):
    index.apply([supply(BORROWER, FUND_A, 1_000, 1), borrow(BORROWER, 6_000, 2)])
    index.apply([bad_debt(BORROWER, 3, 0), liquidate(BORROWER, FUND_A, 0, 0, 3, 1)])
    assert index.open_accounts() == [] and index.balances(BORROWER) == {}


def test_apply__logs_out_of_order__latest_log_wins(index):
    index.apply([borrow(BORROWER, 900, 5), borrow(BORROWER, 600, 2)])
    assert index.position(BORROWER).scaled_debt == 900


def test_apply__removed_log__undone_to_the_previous_value(index):
    index.apply([supply(BORROWER, FUND_A, 1_000, 1), borrow(BORROWER, 600, 2), withdraw(BORROWER, FUND_A, 400, 3)])
    result = index.apply([removed(withdraw(BORROWER, FUND_A, 400, 3))])
    assert result.undone == 1 and result.touched == {BORROWER}
    assert index.balances(BORROWER) == {FUND_A: 1_000}


def test_apply__removed_only_log__position_gone(index):
    index.apply([borrow(BORROWER, 600, 2)])
    index.apply([removed(borrow(BORROWER, 600, 2))])
    assert index.open_accounts() == [] and index.position(BORROWER).scaled_debt == 0


def test_apply__removal_of_unknown_log__ignored(index):
    index.apply([borrow(BORROWER, 600, 2)])
    result = index.apply([removed(borrow(BORROWER, 999, 7))])
    assert result.unknown_removed == 1 and index.position(BORROWER).scaled_debt == 600


def test_apply__reorg_replaces_a_block__new_branch_wins_in_any_arrival_order(index):
    old = repay(BORROWER, 0, 3, fork="a")
    new = repay(BORROWER, 300, 3, fork="b")
    index.apply([borrow(BORROWER, 600, 2), old])
    index.apply([new, removed(old)])  # the new branch arrives before the removal
    assert index.position(BORROWER).scaled_debt == 300
    assert index.open_accounts() == [BORROWER]


def test_apply__failing_batch__nothing_applied(index):
    class Broken:
        removed = False

    with pytest.raises(AttributeError):
        index.apply([borrow(BORROWER, 600, 2), Broken()])  # type: ignore[list-item]
    assert index.position(BORROWER).scaled_debt == 0


# ---------------------------------------------------------------- #
#                     order independence (property)                 #
# ---------------------------------------------------------------- #


def _history(seed: int, n: int) -> list[LogRecord]:
    rng = random.Random(seed)
    logs = []
    for block in range(1, n + 1):
        account = rng.choice([BORROWER, OTHER_BORROWER])
        kind = rng.randrange(4)
        if kind == 0:
            logs.append(supply(account, rng.choice([FUND_A, FUND_C]), rng.randrange(0, 10**9), block))
        elif kind == 1:
            logs.append(borrow(account, rng.randrange(1, 10**9), block))
        elif kind == 2:
            logs.append(repay(account, rng.randrange(0, 10**9), block))
        else:
            logs.append(liquidate(account, rng.choice([FUND_A, FUND_C]), rng.randrange(0, 10**9), rng.randrange(0, 10**9), block))
    return logs


def _snapshot(ix: PositionIndex):
    accounts = [BORROWER, OTHER_BORROWER]
    return ix.open_accounts(), [ix.position(a) for a in accounts]


def _arrivals_then_survivors(seed, n, data):
    history = _history(seed, n)
    duplicates = data.draw(st.lists(st.sampled_from(history), max_size=5), label="duplicates")
    arrivals = data.draw(st.permutations(history + duplicates), label="order")
    reorged = data.draw(st.sets(st.integers(0, n - 1)), label="reorged")
    for i in sorted(reorged):
        log = history[i]
        first = arrivals.index(log)
        at = data.draw(st.integers(first + 1, len(arrivals)), label="removal position")
        # A node never re-sends a log of an orphaned block after removing it.
        arrivals = arrivals[:at] + [removed(log)] + [r for r in arrivals[at:] if r != log]
    return arrivals, [log for i, log in enumerate(history) if i not in reorged]


def _streamed_equals_replayed(location, arrivals, survivors):
    streamed = PositionIndex(location(), MARKET)
    for record in arrivals:
        streamed.apply([record])
    replayed = PositionIndex(location(), MARKET)
    replayed.apply(survivors)
    try:
        assert _snapshot(streamed) == _snapshot(replayed)
    finally:
        streamed.close()
        replayed.close()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 30), data=st.data())
def test_apply__any_arrival_order_with_duplicates_and_removals__equals_the_surviving_history(seed, n, data):
    _streamed_equals_replayed(lambda: ":memory:", *_arrivals_then_survivors(seed, n, data))


# Fewer examples on PostgreSQL (each is two new schemas and a round trip a
# statement): the property is the index's, the store only has to agree.
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), n=st.integers(1, 30), data=st.data())
def test_apply__any_arrival_order_on_postgres__equals_the_surviving_history(postgres_location, seed, n, data):
    _streamed_equals_replayed(postgres_location, *_arrivals_then_survivors(seed, n, data))


# ---------------------------------------------------------------- #
#                    checkpoint, restart, compaction                #
# ---------------------------------------------------------------- #


def test_checkpoint__restart__resumes_after_it_without_rescanning(new_location):
    path = new_location(persistent=True)
    first = PositionIndex(path, MARKET, start_block=10)
    assert first.resume_block() == 10
    first.apply([supply(BORROWER, FUND_A, 1_000, 11), borrow(BORROWER, 600, 12)])
    first.set_checkpoint(20, "0xabc")
    first.close()
    again = PositionIndex(path, MARKET, start_block=0)
    assert again.resume_block() == 21 and again.checkpoint_hash() == "0xabc"
    assert again.start_block == 10 and again.open_accounts() == [BORROWER]
    again.close()


def test_checkpoint__older_block__not_moved_back(index):
    assert index.set_checkpoint(20)
    assert not index.set_checkpoint(15)
    assert index.checkpoint() == 20


def test_open__file_of_another_market__refused(new_location):
    path = new_location(persistent=True)
    PositionIndex(path, MARKET).close()
    with pytest.raises(IndexMismatch, match="indexes market"):
        PositionIndex(path, OTHER_MARKET, namespace=f"index_{MARKET[2:].lower()}")


def test_open__sqlite_file_in_a_new_folder__folder_created(tmp_path):
    path = tmp_path / "keeper" / "index.sqlite"
    PositionIndex(path, MARKET).close()
    assert path.exists()


def test_rewind__unreported_reorg__forgets_blocks_above_and_moves_checkpoint(index):
    index.apply([supply(BORROWER, FUND_A, 1_000, 1), borrow(BORROWER, 600, 2), repay(BORROWER, 0, 8)])
    index.set_checkpoint(9, "0x9")
    touched = index.rewind(5)
    assert touched == {BORROWER}
    assert index.checkpoint() == 5 and index.checkpoint_hash() is None
    assert index.open_accounts() == [BORROWER] and index.position(BORROWER).scaled_debt == 600


def test_compact__finalized_history__keeps_current_values_and_undo_above(index):
    index.apply([borrow(BORROWER, v, b) for b, v in ((1, 100), (2, 200), (3, 300), (50, 500))])
    deleted = index.compact(finalized_block=10)
    assert deleted == 4  # blocks 1 and 2, debt and borrow index; block 3 is the last final value
    assert index.position(BORROWER).scaled_debt == 500
    index.apply([removed(borrow(BORROWER, 500, 50))])
    assert index.position(BORROWER).scaled_debt == 300


def test_borrow_index__after_repay__latest_index_and_debt_estimate(index):
    index.apply([borrow(BORROWER, 1_000, 1, index=WAD), repay(BORROWER, 500, 2, index=WAD * 11 // 10)])
    assert index.borrow_index() == WAD * 11 // 10
    assert index.debt_estimate(BORROWER) == 550


def test_balances_many__more_than_one_sql_batch__all_returned(index):
    accounts = [to_address(f"0x{i:040x}") for i in range(1, 1_201)]
    index.apply([supply(a, FUND_A, i + 1, i + 1) for i, a in enumerate(accounts)])
    got = index.balances_many(accounts)
    assert len(got) == 1_200 and got[accounts[-1]] == {FUND_A: 1_200}


def test_backfill_ranges__chunked__covers_every_block_once():
    assert backfill_ranges(10, 25, 5) == [(10, 14), (15, 19), (20, 24), (25, 25)]
    assert backfill_ranges(10, 9, 5) == []
    with pytest.raises(ValueError):
        backfill_ranges(0, 10, 0)


# ---------------------------------------------------------------- #
#            one transaction per chunk, snapshot reads (i17)        #
# ---------------------------------------------------------------- #


def test_apply__with_checkpoint__logs_and_checkpoint_in_one_transaction(index):
    result = index.apply([supply(BORROWER, FUND_A, 1_000, 11), borrow(BORROWER, 600, 12)], checkpoint=(20, "0x20"))
    assert result.applied == 2
    assert (index.checkpoint(), index.checkpoint_hash(), index.open_accounts()) == (20, "0x20", [BORROWER])


def test_apply__failing_batch_with_checkpoint__neither_logs_nor_checkpoint_moved(index):
    index.set_checkpoint(10, "0x10")

    class Broken:
        removed = False

    with pytest.raises(AttributeError):
        index.apply([borrow(BORROWER, 600, 12), Broken()], checkpoint=(20, "0x20"))  # type: ignore[list-item]
    assert (index.checkpoint(), index.checkpoint_hash(), index.position(BORROWER).scaled_debt) == (10, "0x10", 0)


def test_reading__inside_a_write__sees_the_write(index):
    with index.store.transaction():
        index.apply([borrow(BORROWER, 600, 2)])
        with index.reading():
            assert index.open_accounts() == [BORROWER]


def test_reading__another_connection_commits_meanwhile__snapshot_unchanged(new_location):
    where = new_location(persistent=True)
    writer, reader = PositionIndex(where, MARKET), PositionIndex(where, MARKET)
    try:
        writer.apply([borrow(BORROWER, 600, 2)], checkpoint=(2, None))
        with reader.reading():
            before = (reader.checkpoint(), reader.open_accounts())
            writer.apply([borrow(OTHER_BORROWER, 700, 3)], checkpoint=(3, None))
            assert (reader.checkpoint(), reader.open_accounts()) == before == (2, [BORROWER])
        assert (reader.checkpoint(), reader.open_accounts()) == (3, sorted([BORROWER, OTHER_BORROWER]))
    finally:
        writer.close()
        reader.close()
