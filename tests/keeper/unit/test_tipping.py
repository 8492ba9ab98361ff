"""Each request's tip from its expected profit (keepers/tipping.py,
txrules.fees_with_tip) and the transaction manager's use of it, of the
submission routes' bundle window (a lapsed bundle frees its nonce), and its
unsimulated sends (a back-run's bundle)."""

from __future__ import annotations

import pytest

from keepers.profit import TipPolicy
from keepers.submit import Routes, Route, RouteName, Sender
from keepers.tipping import RequestTip
from keepers.txmanager import TxRequest, TxStatus
from keepers.txrules import FeePolicy, Fees, fees_with_tip, initial_fees

from test_txmanager_node import BORROWERS, FLASH, LIQUIDATION_GAS, Node, RecordingTxManager

GWEI = 10**9
USD = 10**6  # base units (6 decimals)
ETH_USD = 3_000 * USD
POLICY = TipPolicy(share_bps=1_000, cap_wei=50 * GWEI, min_wei=1 * GWEI)  # 10 %, 1-50 gwei


def _tip() -> RequestTip:
    return RequestTip(POLICY, lambda: ETH_USD)


def _request(key: str, profit: int | None, data: str = "0x01") -> TxRequest:
    context = {} if profit is None else {"expected_profit": profit}
    return TxRequest(key=key, to=FLASH, data=bytes.fromhex(data[2:]), label="liquidate:redeem", context=context)


def test_fees_with_tip__tip_on_top_of_the_base_fee_multiple():
    policy = FeePolicy(priority_fee=1 * GWEI, max_fee_cap=200 * GWEI, base_fee_multiplier=2)

    assert fees_with_tip(10 * GWEI, policy, 7 * GWEI) == Fees(max_fee=27 * GWEI, priority_fee=7 * GWEI)
    assert fees_with_tip(10 * GWEI, policy, policy.priority_fee) == initial_fees(10 * GWEI, policy)


def test_fees_with_tip__above_the_fee_cap__capped():
    policy = FeePolicy(priority_fee=1 * GWEI, max_fee_cap=30 * GWEI)

    assert fees_with_tip(10 * GWEI, policy, 100 * GWEI) == Fees(max_fee=30 * GWEI, priority_fee=30 * GWEI)


def test_fees_with_tip__negative__refused():
    with pytest.raises(ValueError, match="a tip is >= 0"):
        fees_with_tip(0, FeePolicy(), -1)


def test_request_tip__share_of_the_profit_spread_over_the_gas():
    profit, gas = 10 * USD, 300_000  # $10 = 1/300 ETH
    share_wei = profit * 10**18 // ETH_USD * POLICY.share_bps // 10_000

    assert _tip()(_request("a", profit), gas) == share_wei // gas


def test_request_tip__large_profit__capped():
    assert _tip()(_request("a", 1_000 * USD), 300_000) == POLICY.cap_wei


def test_request_tip__small_or_negative_profit__the_floor():
    assert _tip()(_request("a", 1), 300_000) == POLICY.min_wei
    assert _tip()(_request("b", -5 * USD), 300_000) == POLICY.min_wei


def test_request_tip__no_expected_profit__none_the_policy_tip():
    assert _tip()(_request("a", None), 300_000) is None


def test_request_tip__profit_not_an_integer__refused():
    with pytest.raises(ValueError, match="expected_profit of a is an integer"):
        _tip()(_request("a", "10"), 300_000)  # type: ignore[arg-type]


def test_submit_many__tip_rule__each_request_its_own_tip():
    tx = RecordingTxManager(Node(), tip=_tip(), gas_margin=1.0)
    small, large = _request(BORROWERS[0], 10 * USD, "0x01"), _request(BORROWERS[1], 1_000 * USD, "0x02")

    tx.submit_many([small, large], block=100, base_fee=GWEI, head=100)

    tips = {key: fees.priority_fee for key, _, _, fees, _ in tx.signed.values()}
    assert tips[small.key] == _tip()(small, LIQUIDATION_GAS) and tips[large.key] == POLICY.cap_wei


def test_submit_many__no_tip_rule__the_policys_priority_fee():
    tx = RecordingTxManager(Node(), policy=FeePolicy(priority_fee=3 * GWEI))

    tx.submit_many([_request(BORROWERS[0], 1_000 * USD)], block=100, base_fee=GWEI, head=100)

    assert [fees.priority_fee for _, _, _, fees, _ in tx.signed.values()] == [3 * GWEI]


# ---------------------------------------------------------------- bundle lapse


def _bundled(node: Node, last_target: int | None) -> RecordingTxManager:
    sender = Sender(Routes((Route(RouteName.BUNDLE, ("http://builder.test",)),)), lambda m, p: None)
    tx = RecordingTxManager(node, sender=sender)
    tx.submit_many([_request(BORROWERS[0], None)], block=100, base_fee=0, head=100)
    if last_target is not None:
        ((_, _, _, _, tx_hash),) = tx.signed.values()
        sender.book.offered(tx_hash, last_target)
    return tx


def test_poll__bundle_past_its_last_target_unmined__dropped_nonce_handed_out_again():
    node = Node(head=100)
    tx = _bundled(node, last_target=102)

    assert tx.poll(101, 0) == [] and len(tx.pending) == 1
    outcomes = tx.poll(102, 0)

    assert [o.status for o in outcomes] == [TxStatus.DROPPED] and tx.pending == {}
    assert outcomes[0].reason == "bundle not included by its last target block"
    assert tx.nonces.next(0) == 0  # never used: the next transaction takes it


def test_poll__sent_on_a_route_that_is_not_a_bundle__never_lapses():
    node = Node(head=100)
    tx = _bundled(node, last_target=None)

    outcomes = tx.poll(140, 0)

    assert all(o.status is not TxStatus.DROPPED for o in outcomes) and len(tx.pending) == 1


# ---------------------------------------------------------------- unsimulated sends (back-run)


def test_send_unsimulated__sent_with_the_given_gas_nothing_simulated():
    node = Node()
    tx = RecordingTxManager(node)
    requests = [_request(BORROWERS[0], None, "0x01"), _request(BORROWERS[1], None, "0x02")]

    outcomes = tx.send_unsimulated(requests, [400_000, 500_000], base_fee=GWEI, head=100)

    assert [o.status for o in outcomes] == [TxStatus.SENT] * 2
    assert tx.sent == [(BORROWERS[0], 0, 400_000), (BORROWERS[1], 1, 500_000)]
    assert node.of("eth_call") == [] and node.of("eth_estimateGas") == []


def test_send_unsimulated__position_in_flight__not_sent_again():
    tx = RecordingTxManager(Node())
    tx.send_unsimulated([_request(BORROWERS[0], None)], [400_000], base_fee=GWEI, head=100)

    again = tx.send_unsimulated([_request(BORROWERS[0], None)], [400_000], base_fee=GWEI, head=101)

    assert [o.status for o in again] == [TxStatus.IN_FLIGHT] and len(tx.sent) == 1


def test_send_unsimulated__dry_run__nothing_sent():
    tx = RecordingTxManager(Node(), dry_run=True)

    outcomes = tx.send_unsimulated([_request(BORROWERS[0], None)], [400_000], base_fee=GWEI, head=100)

    assert [o.status for o in outcomes] == [TxStatus.DRY_RUN] and tx.sent == []


def test_send_unsimulated__gas_limits_missing__refused():
    with pytest.raises(ValueError, match="2 requests but 1 gas limits"):
        RecordingTxManager(Node()).send_unsimulated([_request("a", None), _request("b", None)], [1], 0, 100)
