"""The scan's shards on several hosts (keepers/shards.py): address ranges
covering the space once, the tasks of every market, which blocks scan a
shard, and the block that covers a shard after its task died."""

from __future__ import annotations

import random

import pytest

from keepers.shards import (
    ADDRESS_SPACE,
    MAX_PARTS,
    AccountRange,
    address_int,
    covering_block,
    due,
    plan_tasks,
    shard_of,
    split_ranges,
)
from keepers.types import to_address

MARKET_A = to_address("0x" + "3a" * 20)
MARKET_B = to_address("0x" + "3b" * 20)


@pytest.mark.parametrize("parts", [1, 2, 3, 7, MAX_PARTS])
def test_split_ranges__any_parts__contiguous_and_cover_the_space_once(parts):
    ranges = split_ranges(parts)
    assert len(ranges) == parts and ranges[0].lo == 0 and ranges[-1].hi == ADDRESS_SPACE
    assert all(a.hi == b.lo for a, b in zip(ranges, ranges[1:]))
    widths = {r.hi - r.lo for r in ranges[:-1]}
    assert len(widths) <= 1 and ranges[-1].hi - ranges[-1].lo >= max(widths | {0})


@pytest.mark.parametrize("parts", [0, -1, MAX_PARTS + 1])
def test_split_ranges__out_of_bounds__refused(parts):
    with pytest.raises(ValueError, match="parts must be"):
        split_ranges(parts)


def test_account_range__bad_bounds__refused():
    with pytest.raises(ValueError, match="lo < hi"):
        AccountRange(5, 5)
    with pytest.raises(ValueError, match="lo < hi"):
        AccountRange(0, ADDRESS_SPACE + 1)


def test_account_range__bounds_as_addresses__top_has_none():
    low, high = split_ranges(2)
    assert low.lo_hex == "0x" + "0" * 40 and low.hi_hex == "0x8" + "0" * 39
    assert high.hi_hex is None


def test_plan_tasks__two_markets__every_account_in_exactly_one_task_per_market():
    tasks = plan_tasks([MARKET_A, MARKET_B], 3)
    assert len(tasks) == 6 and [t.slot for t in tasks] == list(range(6))
    assert len({t.name for t in tasks}) == 6 and len({t.label for t in tasks}) == 6
    rng = random.Random(7)
    accounts = [to_address("0x" + f"{rng.getrandbits(160):040x}") for _ in range(500)]
    accounts += [to_address("0x" + "00" * 20), to_address("0x" + "ff" * 20)]
    for market in (MARKET_A, MARKET_B):
        for account in accounts:
            holders = [t for t in tasks if t.market == market and t.accounts.holds(account)]
            assert len(holders) == 1 and shard_of(tasks, market, account) == holders[0]


def test_plan_tasks__same_config__same_names_in_every_process():
    assert [t.name for t in plan_tasks([MARKET_A], 4)] == [t.name for t in plan_tasks([MARKET_A], 4)]


def test_plan_tasks__no_market_or_a_market_twice__refused():
    with pytest.raises(ValueError, match="no market"):
        plan_tasks([], 2)
    with pytest.raises(ValueError, match="listed twice"):
        plan_tasks([MARKET_A, MARKET_A.lower()], 2)


def test_plan_tasks__markets_sharing_their_first_bytes__refused():
    twin = to_address(MARKET_A[:10] + "00" * 16)
    with pytest.raises(ValueError, match="collide"):
        plan_tasks([MARKET_A, twin], 2)


def test_address_int__not_an_address__refused():
    assert address_int("0x" + "00" * 19 + "0f") == 15
    for bad in ("0x12", "12" * 21, "0x" + "zz" * 20):
        with pytest.raises(ValueError, match="not an address"):
            address_int(bad)


def test_shard_of__unknown_market__refused():
    with pytest.raises(ValueError, match="0 shards"):
        shard_of(plan_tasks([MARKET_A], 2), MARKET_B, MARKET_A)


def test_due__every_block__every_task_every_block():
    tasks = plan_tasks([MARKET_A], 4)
    assert all(due(t, block, 1) for t in tasks for block in range(100, 110))


def test_due__every_third_block__each_task_once_in_three_staggered():
    tasks = plan_tasks([MARKET_A, MARKET_B], 3)
    for task in tasks:
        assert sum(due(task, block, 3) for block in range(300, 330)) == 10
    per_block = [sum(due(t, block, 3) for t in tasks) for block in range(300, 306)]
    assert per_block == [2] * 6  # six tasks spread over three blocks


def test_due__bad_figures__refused():
    task = plan_tasks([MARKET_A], 2)[0]
    with pytest.raises(ValueError, match="every >= 1"):
        due(task, 10, 0)
    with pytest.raises(ValueError, match="block number"):
        due(task, -1, 1)


@pytest.mark.parametrize("every", [1, 2, 5])
def test_covering_block__task_died_at_a_block__the_next_due_block_covers_the_shard(every):
    for task in plan_tasks([MARKET_A], 3):
        for died in range(50, 60):
            block = covering_block(task, died, every)
            assert died < block <= died + every and due(task, block, every)
            assert not any(due(task, b, every) for b in range(died + 1, block))
