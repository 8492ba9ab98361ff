"""Pure rules of keepers/txrules.py for transactions that do not mine:
rebroadcast, expiry, the cancel's fees, what to do next, whether a bump
still pays, and the nonce audit. No chain."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keepers.txrules import (
    CANCEL_GAS,
    Action,
    FeePolicy,
    Fees,
    InFlight,
    StuckPolicy,
    audit_nonces,
    bump_keeps_profit,
    cancel_fees,
    effective_gas_price,
    expired,
    gap_fees,
    is_valid_replacement,
    next_action,
    rebroadcast_due,
)

GWEI = 10**9
FEES = FeePolicy(priority_fee=1 * GWEI, max_fee_cap=100 * GWEI, bump=1.125, max_bumps=3, stuck_after_blocks=2)
STUCK = StuckPolicy(rebroadcast_blocks=3, expiry_blocks=20, expiry_seconds=600, cancel_fee_cap=500 * GWEI)
T0 = 1_800_000_000.0


def _tx(**overrides) -> InFlight:
    fields = dict(first_block=100, first_at=T0, last_signed_block=100, last_broadcast_block=100, bumps=0)
    fields.update(overrides)
    return InFlight(**fields)


# ---------------------------------------------------------------- rebroadcast and expiry


def test_rebroadcast_due__every_n_blocks__true():
    assert rebroadcast_due(last_broadcast_block=100, head=103, policy=STUCK)


def test_rebroadcast_due__sent_recently__false():
    assert not rebroadcast_due(last_broadcast_block=100, head=102, policy=STUCK)


def test_expired__past_the_block_deadline__true():
    assert expired(100, T0, head=120, now=T0 + 1, policy=STUCK)


def test_expired__past_the_time_deadline_within_the_blocks__true():
    assert expired(100, T0, head=101, now=T0 + 600, policy=STUCK)


def test_expired__within_both_deadlines__false():
    assert not expired(100, T0, head=119, now=T0 + 599, policy=STUCK)


@pytest.mark.parametrize("field, value", [("rebroadcast_blocks", 0), ("expiry_blocks", 0), ("expiry_seconds", 0),
                                          ("cancel_fee_cap", 0)])
def test_stuck_policy__non_positive_setting__refused(field, value):
    with pytest.raises(ValueError, match=field):
        StuckPolicy(**{field: value})


# ---------------------------------------------------------------- next action


def test_next_action__fresh__waits():
    assert next_action(_tx(), head=101, now=T0 + 12, fees=FEES, stuck=STUCK) is Action.WAIT


def test_next_action__stuck_with_bumps_left__bump():
    assert next_action(_tx(), head=102, now=T0 + 24, fees=FEES, stuck=STUCK) is Action.BUMP


def test_next_action__bumps_used_up__rebroadcast_the_same_bytes():
    tx = _tx(bumps=3, last_signed_block=106, last_broadcast_block=106)
    assert next_action(tx, head=109, now=T0 + 100, fees=FEES, stuck=STUCK) is Action.REBROADCAST


def test_next_action__bumps_ruled_out_by_profit__rebroadcast_not_bump():
    tx = _tx(bumps_exhausted=True)
    assert next_action(tx, head=103, now=T0 + 36, fees=FEES, stuck=STUCK) is Action.REBROADCAST


def test_expiry__past_deadline__cancel():
    tx = _tx(bumps=3, last_signed_block=110, last_broadcast_block=118)
    assert next_action(tx, head=120, now=T0 + 240, fees=FEES, stuck=STUCK) is Action.CANCEL


def test_expiry__past_deadline_in_seconds__cancel():
    assert next_action(_tx(), head=101, now=T0 + 601, fees=FEES, stuck=STUCK) is Action.CANCEL


def test_next_action__cancel_sitting__bump_the_cancel():
    tx = _tx(cancelling=True, last_signed_block=120, last_broadcast_block=120)
    assert next_action(tx, head=122, now=T0 + 300, fees=FEES, stuck=STUCK) is Action.BUMP_CANCEL


def test_next_action__cancel_at_its_cap__rebroadcast_never_cancel_again():
    tx = _tx(cancelling=True, cancel_capped=True, last_signed_block=120, last_broadcast_block=120)
    assert next_action(tx, head=123, now=T0 + 300, fees=FEES, stuck=STUCK) is Action.REBROADCAST
    assert next_action(tx, head=122, now=T0 + 300, fees=FEES, stuck=STUCK) is Action.WAIT


# ---------------------------------------------------------------- cancel fees


def test_expiry__past_deadline__cancel_at_bumped_fee():
    previous = Fees(max_fee=100 * GWEI, priority_fee=5 * GWEI)  # bumped to the liquidation's cap
    fees = cancel_fees(previous, base_fee=30 * GWEI, fees=FEES, stuck=STUCK)
    assert fees is not None and is_valid_replacement(previous, fees)
    assert fees.max_fee > FEES.max_fee_cap  # a cancel may outbid the liquidation's cap
    assert fees.max_fee >= 30 * GWEI + fees.priority_fee


def test_cancel_fees__above_the_cancel_cap__none():
    previous = Fees(max_fee=480 * GWEI, priority_fee=5 * GWEI)
    assert cancel_fees(previous, base_fee=30 * GWEI, fees=FEES, stuck=STUCK) is None


def test_cancel_fees__zero_tip__raised_to_one_wei_at_least():
    previous = Fees(max_fee=10 * GWEI, priority_fee=0)
    fees = cancel_fees(previous, base_fee=1 * GWEI, fees=FEES, stuck=STUCK)
    assert fees is not None and fees.priority_fee >= 1 and is_valid_replacement(previous, fees)


@given(st.integers(1, 400 * GWEI), st.integers(0, 50 * GWEI), st.integers(0, 200 * GWEI))
def test_cancel_fees__replaces_or_none(max_fee, tip, base_fee):
    previous = Fees(max_fee=max(max_fee, tip), priority_fee=tip)
    fees = cancel_fees(previous, base_fee, FEES, STUCK)
    if fees is not None:
        assert is_valid_replacement(previous, fees) and fees.max_fee <= STUCK.cancel_fee_cap


def test_is_valid_replacement__tip_raised_less_than_ten_percent__false():
    assert not is_valid_replacement(Fees(10 * GWEI, 1 * GWEI), Fees(20 * GWEI, 1_090_000_000))


def test_gap_fees__a_first_send():
    assert gap_fees(10 * GWEI, FEES) == Fees(max_fee=21 * GWEI, priority_fee=1 * GWEI)


def test_fees__tip_above_max_fee__refused():
    with pytest.raises(ValueError, match="tip"):
        Fees(max_fee=1, priority_fee=2)


def test_cancel_gas__a_plain_transfer():
    assert CANCEL_GAS == 21_000


# ---------------------------------------------------------------- profit of a bump


def test_bump_keeps_profit__extra_gas_within_the_profit__true():
    # 400k gas, priced at 11 gwei; the bump makes it 12.125 gwei: 0.00045 ETH more.
    new = Fees(max_fee=25 * GWEI, priority_fee=1_125_000_000)
    assert bump_keeps_profit(10**15, planned_gas_price=11 * GWEI, gas_limit=400_000, new_fees=new, base_fee=11 * GWEI)


def test_bump_keeps_profit__extra_gas_eats_the_profit__false():
    new = Fees(max_fee=25 * GWEI, priority_fee=1_125_000_000)
    assert not bump_keeps_profit(4 * 10**14, planned_gas_price=11 * GWEI, gas_limit=400_000, new_fees=new,
                                 base_fee=11 * GWEI)


def test_bump_keeps_profit__base_fee_fell__no_extra_cost():
    new = Fees(max_fee=25 * GWEI, priority_fee=2 * GWEI)
    assert bump_keeps_profit(1, planned_gas_price=11 * GWEI, gas_limit=400_000, new_fees=new, base_fee=5 * GWEI)


def test_bump_keeps_profit__plan_already_at_a_loss__false():
    assert not bump_keeps_profit(0, 11 * GWEI, 400_000, Fees(25 * GWEI, 1 * GWEI), 1 * GWEI)


def test_bump_keeps_profit__zero_gas_limit__refused():
    with pytest.raises(ValueError, match="gas limit"):
        bump_keeps_profit(10**18, 1, 0, Fees(2, 1), 1)


def test_effective_gas_price__capped_by_max_fee():
    assert effective_gas_price(Fees(max_fee=10, priority_fee=5), base_fee=8) == 10
    assert effective_gas_price(Fees(max_fee=20, priority_fee=5), base_fee=8) == 13


# ---------------------------------------------------------------- nonce audit


def test_nonce_gap__between_tracked_nonces__reported():
    audit = audit_nonces(latest=5, pending=6, tracked=frozenset({5, 7, 8}), next_local=9)
    assert audit.gaps == (6,) and not audit.foreign


def test_nonce_audit__contiguous_and_held__clean():
    assert audit_nonces(latest=5, pending=8, tracked=frozenset({5, 6, 7}), next_local=8).clean


def test_nonce_audit__nothing_in_flight__clean():
    assert audit_nonces(latest=5, pending=5, tracked=frozenset(), next_local=5).clean


def test_nonce_audit__mined_nonces_never_handed_out__foreign():
    audit = audit_nonces(latest=9, pending=9, tracked=frozenset(), next_local=5)
    assert audit.foreign and audit.gaps == ()


def test_nonce_audit__someone_elses_pending_transaction__foreign():
    assert audit_nonces(latest=5, pending=7, tracked=frozenset({5}), next_local=6).foreign


def test_nonce_audit__node_evicted_a_tracked_transaction__unheld():
    audit = audit_nonces(latest=5, pending=5, tracked=frozenset({5, 6}), next_local=7)
    assert audit.unheld == (5, 6) and audit.gaps == () and not audit.foreign


def test_nonce_audit__gap_held_by_the_node__not_a_gap():
    # pending 7: the node holds something at 5 and 6 (ours, before a restart).
    audit = audit_nonces(latest=5, pending=8, tracked=frozenset({7}), next_local=8)
    assert audit.gaps == ()


def test_nonce_audit__negative_count__refused():
    with pytest.raises(ValueError, match="negative"):
        audit_nonces(latest=-1, pending=0, tracked=frozenset(), next_local=None)
