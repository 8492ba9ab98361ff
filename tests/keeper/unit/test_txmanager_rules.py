"""Pure transaction rules of keepers/txmanager.py: fees, replacement,
nonces, revert classification. No chain."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keepers.txmanager import (
    FeePolicy,
    Fees,
    NonceManager,
    RevertKind,
    bumped_fees,
    classify_revert,
    initial_fees,
    replacement_due,
)

GWEI = 10**9
POLICY = FeePolicy(priority_fee=1 * GWEI, max_fee_cap=100 * GWEI, bump=1.125, max_bumps=3, stuck_after_blocks=2)


def test_initial_fees__twice_base_plus_tip():
    assert initial_fees(10 * GWEI, POLICY) == Fees(max_fee=21 * GWEI, priority_fee=1 * GWEI)


def test_initial_fees__base_fee_spike__capped():
    assert initial_fees(80 * GWEI, POLICY).max_fee == 100 * GWEI


@given(st.integers(1, 50 * GWEI), st.integers(1, 10 * GWEI))
def test_bumped_fees__each_step_at_least_the_bump_or_none(max_fee, tip):
    previous = Fees(max_fee=max(max_fee, tip), priority_fee=tip)
    bumped = bumped_fees(previous, 1 * GWEI, POLICY)
    if bumped is not None:
        assert bumped.max_fee * 10 >= previous.max_fee * 11
        assert bumped.priority_fee * 10 >= previous.priority_fee * 11
        assert bumped.max_fee <= POLICY.max_fee_cap


def test_bumped_fees__at_the_cap__no_replacement():
    assert bumped_fees(Fees(max_fee=100 * GWEI, priority_fee=1 * GWEI), 1 * GWEI, POLICY) is None


def test_fee_policy__bump_below_node_minimum__refused():
    with pytest.raises(ValueError, match="below 1.1"):
        FeePolicy(bump=1.05)


def test_replacement_due__stuck_long_enough__true():
    assert replacement_due(sent_block=10, head=12, bumps=0, policy=POLICY)


def test_replacement_due__recent_or_out_of_bumps__false():
    assert not replacement_due(sent_block=10, head=11, bumps=0, policy=POLICY)
    assert not replacement_due(sent_block=10, head=20, bumps=3, policy=POLICY)


def test_nonce_manager__in_flight_never_reused():
    nonces = NonceManager()
    first, second = nonces.next(5), nonces.next(5)
    assert (first, second) == (5, 6)


def test_nonce_manager__external_transaction__jumps_forward():
    nonces = NonceManager()
    nonces.next(5)
    assert nonces.next(9) == 9


def test_nonce_manager__unsent_nonce__handed_out_again():
    nonces = NonceManager()
    nonce = nonces.next(3)
    nonces.release(nonce, broadcast=False)
    assert nonces.next(3) == 3


def test_nonce_manager__broadcast_nonce__not_reused():
    nonces = NonceManager()
    nonce = nonces.next(3)
    nonces.release(nonce, broadcast=True)
    assert nonces.next(3) == 4


@pytest.mark.parametrize(
    "message, kind",
    [
        ("execution reverted: market: position healthy", RevertKind.LOST_RACE),
        ("flash liquidator: nothing to liquidate", RevertKind.LOST_RACE),
        ("facility: insufficient liquidity", RevertKind.NO_LIQUIDITY),
        ("flash liquidator: profit below minimum", RevertKind.UNPROFITABLE),
        ("market: liquidation paused", RevertKind.PAUSED),
        ("out of gas", RevertKind.OTHER),
        (None, RevertKind.OTHER),
    ],
)
def test_classify_revert(message, kind):
    assert classify_revert(message) is kind


def test_nonce_manager__send_failed_in_the_middle_of_a_batch__hole_handed_out_first():
    nonces = NonceManager()
    batch = [nonces.next(7) for _ in range(3)]
    assert batch == [7, 8, 9]
    nonces.release(8, broadcast=False)  # 7 and 9 reached the node, 8 did not
    assert nonces.next(7) == 8  # the gap is filled before anything new
    assert nonces.next(7) == 10


def test_nonce_manager__last_of_the_batch_failed__reused_without_a_hole():
    nonces = NonceManager()
    [nonces.next(0) for _ in range(3)]
    nonces.release(2, broadcast=False)
    assert nonces.holes == set() and nonces.next(0) == 2


def test_nonce_manager__hole_used_outside_the_keeper__forgotten():
    nonces = NonceManager()
    [nonces.next(0) for _ in range(3)]
    nonces.release(1, broadcast=False)
    assert nonces.next(3) == 3  # the chain's count passed the hole: someone used it


def test_nonce_manager__mined_nonce_released__never_handed_out_again():
    nonces = NonceManager()
    first = nonces.next(0)
    nonces.release(first, broadcast=True)
    assert nonces.next(0) == first + 1
