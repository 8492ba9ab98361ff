"""Scan scheduling (keepers/schedule.py): near-edge every block, healthy
ones staggered over the interval, NAV updates scan all, stable sharding."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from navlend.constants import WAD

from keepers.schedule import (
    ScanPolicy,
    accounts_to_scan,
    forget_closed,
    record_scan,
    shard_of,
    stagger_slot,
)
from keepers.types import AccountHealth, ScanRecord, to_address

NEAR = 105 * WAD // 100
POLICY = ScanPolicy(near_edge_hf_wad=NEAR, healthy_interval=10)

BORROWER = to_address("0x" + "b0" * 20)
ACCOUNTS = [to_address(f"0x{i:040x}") for i in range(1, 401)]


def _healthy(accounts, block):
    return {a: ScanRecord(block=block, health_factor=2 * WAD) for a in accounts}


def test_accounts_to_scan__never_scanned__scanned_now():
    plan = accounts_to_scan(100, [BORROWER], {}, POLICY)
    assert plan.accounts == (BORROWER,) and plan.unseen == 1


def test_accounts_to_scan__near_edge__scanned_every_block():
    last = {BORROWER: ScanRecord(block=99, health_factor=NEAR - 1)}
    for block in range(100, 130):
        assert accounts_to_scan(block, [BORROWER], last, POLICY).accounts == (BORROWER,)


def test_accounts_to_scan__healthy__scanned_once_per_interval_spread_out():
    last = _healthy(ACCOUNTS, 100)
    counts = {a: 0 for a in ACCOUNTS}
    per_block = []
    for block in range(101, 111):
        plan = accounts_to_scan(block, ACCOUNTS, last, POLICY)
        per_block.append(len(plan.accounts))
        for a in plan.accounts:
            counts[a] += 1
        last = record_scan(last, [_h(a, 2 * WAD) for a in plan.accounts], block)
    assert set(counts.values()) == {1}  # each exactly once in the interval
    assert max(per_block) < len(ACCOUNTS) // 2  # spread, not one burst


def test_accounts_to_scan__healthy_missed_its_slot__caught_up_once_interval_passed():
    last = _healthy([BORROWER], 100)
    slot = stagger_slot(BORROWER, 10)
    off_slot = [b for b in range(101, 130) if (b + slot) % 10 != 0]
    early = next(b for b in off_slot if b < 110)
    late = next(b for b in off_slot if b >= 110)
    assert accounts_to_scan(early, [BORROWER], last, POLICY).accounts == ()
    assert accounts_to_scan(late, [BORROWER], last, POLICY).accounts == (BORROWER,)


def test_accounts_to_scan__healthy_just_scanned__not_rescanned_same_block():
    last = _healthy(ACCOUNTS, 100)
    assert accounts_to_scan(100, ACCOUNTS, last, POLICY).accounts == ()


def test_accounts_to_scan__nav_update__scans_everything_riskiest_first():
    last = _healthy(ACCOUNTS, 100)
    last[ACCOUNTS[7]] = ScanRecord(block=100, health_factor=WAD + 1)
    last[ACCOUNTS[3]] = ScanRecord(block=100, health_factor=WAD + 2)
    plan = accounts_to_scan(101, ACCOUNTS, last, POLICY, nav_update=True)
    assert plan.full and set(plan.accounts) == set(ACCOUNTS) and len(plan.accounts) == len(ACCOUNTS)
    assert plan.accounts[:2] == (ACCOUNTS[7], ACCOUNTS[3])


def test_scan_plan_stages__nav_update__riskiest_part_first_then_the_rest():
    last = _healthy(ACCOUNTS, 100)
    for i in (7, 3, 11):
        last[ACCOUNTS[i]] = ScanRecord(block=100, health_factor=WAD + i)
    plan = accounts_to_scan(100, ACCOUNTS, last, POLICY, nav_update=True)
    urgent, rest = plan.stages()
    assert urgent == (ACCOUNTS[3], ACCOUNTS[7], ACCOUNTS[11])
    assert set(rest) == set(ACCOUNTS) - set(urgent) and len(urgent) + len(rest) == len(ACCOUNTS)


def test_scan_plan_stages__nav_update__positions_a_drop_can_sink_join_the_first_stage():
    """Above the near edge but below ``nav_first_hf`` (1.25): scanned in the
    first stage, riskiest first; at 1.30 the position waits for the rest."""
    last = _healthy(ACCOUNTS, 100)
    last[ACCOUNTS[5]] = ScanRecord(block=100, health_factor=120 * WAD // 100)
    last[ACCOUNTS[9]] = ScanRecord(block=100, health_factor=110 * WAD // 100)
    last[ACCOUNTS[2]] = ScanRecord(block=100, health_factor=130 * WAD // 100)
    last[ACCOUNTS[4]] = ScanRecord(block=100, health_factor=WAD + 1)
    plan = accounts_to_scan(100, ACCOUNTS, last, POLICY, nav_update=True)
    urgent, rest = plan.stages()
    assert urgent == (ACCOUNTS[4], ACCOUNTS[9], ACCOUNTS[5])
    assert ACCOUNTS[2] in rest and len(urgent) + len(rest) == len(ACCOUNTS)
    quiet = accounts_to_scan(100, ACCOUNTS, last, POLICY)
    assert quiet.accounts == (ACCOUNTS[4],)


def test_scan_plan_stages__quiet_block__one_stage():
    last = _healthy(ACCOUNTS, 100)
    last[ACCOUNTS[7]] = ScanRecord(block=100, health_factor=WAD + 1)
    plan = accounts_to_scan(101, ACCOUNTS, last, POLICY)
    assert plan.stages() == (plan.accounts,)


def test_scan_plan_stages__nav_update_with_nothing_urgent__one_full_stage():
    plan = accounts_to_scan(100, ACCOUNTS, _healthy(ACCOUNTS, 100), POLICY, nav_update=True)
    assert plan.stages() == (plan.accounts,) and len(plan.accounts) == len(ACCOUNTS)


def test_scan_plan_stages__nothing_to_scan__no_stage():
    assert accounts_to_scan(100, [], {}, POLICY, nav_update=True).stages() == ()


def test_accounts_to_scan__touched_by_an_event__scanned_now():
    last = _healthy(ACCOUNTS, 100)
    quiet = accounts_to_scan(101, ACCOUNTS, last, POLICY)
    outside = next(a for a in ACCOUNTS if a not in quiet.accounts)
    plan = accounts_to_scan(101, ACCOUNTS, last, POLICY, touched=[outside])
    assert outside in plan.accounts and plan.touched == 1


def test_scan_plan_batches__many_accounts__lens_sized_calls():
    plan = accounts_to_scan(1, ACCOUNTS + [to_address(f"0x{i:040x}") for i in range(1000, 1700)], {}, POLICY)
    batches = plan.batches(500)
    assert [len(b) for b in batches] == [500, 500, 100]
    assert [a for b in batches for a in b] == list(plan.accounts)


@settings(max_examples=50, deadline=None)
@given(count=st.integers(1, 8))
def test_shards__any_count__partition_the_accounts(count):
    shards = [
        set(accounts_to_scan(1, ACCOUNTS, {}, ScanPolicy(NEAR, 10, shard_count=count, shard_id=i)).accounts)
        for i in range(count)
    ]
    assert set().union(*shards) == set(ACCOUNTS)
    assert sum(len(s) for s in shards) == len(ACCOUNTS)


def test_shard_of__another_process__same_shard():
    code = f"from keepers.schedule import shard_of; print(shard_of('{BORROWER}', 7))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=_repo())
    assert int(out.stdout) == shard_of(BORROWER, 7)


def test_scan_policy__shard_id_out_of_range__refused():
    with pytest.raises(ValueError, match="shard_id"):
        ScanPolicy(NEAR, 10, shard_count=2, shard_id=2)
    with pytest.raises(ValueError, match="batch_size"):
        ScanPolicy(NEAR, 10, batch_size=501)


def test_forget_closed__repaid_account__dropped():
    last = _healthy([BORROWER, ACCOUNTS[0]], 5)
    assert set(forget_closed(last, [ACCOUNTS[0]])) == {ACCOUNTS[0]}


def _h(account, hf):
    return AccountHealth(account, 1, 0, 0, hf, False, "0x" + "00" * 20, 0, 0, 1)


def _repo():
    from pathlib import Path

    return str(Path(__file__).resolve().parents[3])
