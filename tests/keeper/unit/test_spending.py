"""The keeper's spending edge (keepers/spending.py) and its place in the
send path: the brakes asked before every send and fee bump (nothing signed
past a refusal), receipts counted into the budgets, the live ETH price in
the decision policy, the bounded approval of the seize route and the
profit sweep. Against the node double of ``test_txmanager_node.py``; no
chain."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from eth_abi import decode, encode
from structlog.testing import capture_logs

from keepers.brakes import BrakeLimits, Brakes, Refusal, SendOutcome
from keepers.decide import ProfitPolicy
from keepers.profit import (
    DECIMALS_SELECTOR,
    LATEST_ROUND_DATA_SELECTOR,
    FallbackReason,
    PriceSource,
    gas_model_from_config,
    feed_policy_from_config,
)
from keepers.spending import (
    PRICE_REFRESH_BLOCKS,
    Spending,
    representative_tx,
    seize_need,
    seize_repayments,
    split_by_allowance,
    with_profit,
    worst_cost,
)
from keepers.treasury import ApprovalAction, ApprovalKind, ApprovalPolicy, SweepPolicy
from keepers.txmanager import FeePolicy, TxOutcome, TxRequest, TxStatus
from keepers.txrules import Fees, initial_fees
from keepers.types import Plan, Route
from navlend.constants import MAX_UINT256

from conftest import CONFIG_ENV, MARKET, USD, to_address
from test_keeper_batches import _keeper, _plan
from test_txmanager_node import KEEPER, LIQUIDATION_GAS, Node, RecordingTxManager, _request

GWEI = 10**9
ETH = 10**18
FEED = to_address("0x" + "fe" * 20)
STABLE = to_address("0x" + "5c" * 20)
RECEIVER = to_address("0x" + "c0" * 20)
L1_ORACLE = to_address("0x420000000000000000000000000000000000000F")
NOW = 1_800_000_000
ALLOWANCE = bytes.fromhex("dd62ed3e")
APPROVE = bytes.fromhex("095ea7b3")
TRANSFER = bytes.fromhex("a9059cbb")


@dataclass
class Reader:
    """The reads the spending edge makes (``call_data``), answered by
    selector; records each."""

    eth_usd: int = 2_500 * 10**8
    updated_at: int = NOW - 60
    allowance: int = 0
    l1_fee: int = 0
    fail_feed: bool = False
    calls: list[tuple[str, bytes, int]] = field(default_factory=list)

    def call_data(self, to: str, data: bytes, block: int | str = "latest") -> bytes:
        self.calls.append((to, bytes(data), block))
        if to == FEED:
            if self.fail_feed:
                raise ConnectionError("feed node gone")
            if data == LATEST_ROUND_DATA_SELECTOR:
                return encode(["uint80", "int256", "uint256", "uint256", "uint80"],
                              [7, self.eth_usd, self.updated_at, self.updated_at, 7])
            if data == DECIMALS_SELECTOR:
                return encode(["uint8"], [8])
        if data[:4] == ALLOWANCE:
            return encode(["uint256"], [self.allowance])
        if to == L1_ORACLE:
            return encode(["uint256"], [self.l1_fee])
        raise AssertionError(f"unexpected call to {to}: {data[:4].hex()}")


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


LIMITS = BrakeLimits(max_tx_wei=ETH // 100, max_hour_wei=ETH // 10, max_day_wei=ETH // 2,
                     max_consecutive_failures=3, balance_floor_wei=ETH // 20)


def _spending(tmp_path: Path, reader: Reader | None = None, *, feed: str | None = FEED, limits: BrakeLimits = LIMITS,
              sweep: bool = False, l1: bool = False) -> Spending:
    from keepers.config import load_config

    config = load_config(env={**CONFIG_ENV, "NAVLEND_KEEPER_ETH_USD": "3000"})
    return Spending(
        reader=reader or Reader(), signer=KEEPER, market=MARKET, base_token=STABLE,
        brakes=Brakes(limits, clock=Clock()), base_policy=ProfitPolicy.from_config(config),
        gas_model=gas_model_from_config(config), feed=feed, feed_policy=feed_policy_from_config(config),
        approval_policy=ApprovalPolicy(bound=100_000 * USD),
        sweep_policy=SweepPolicy(RECEIVER, KEEPER, float_amount=1_000 * USD, min_sweep=100 * USD) if sweep else None,
        l1_fee_oracle=L1_ORACLE if l1 else None, balance_wei=ETH,
    )


# ------------------------------ PRICES --------------------------------- #


def test_eth_price__fresh_feed__feed_price_in_base_units(tmp_path):
    spending = _spending(tmp_path)
    price = spending.eth_price(100, NOW)
    assert (price.source, price.base_per_eth) == (PriceSource.FEED, 2_500 * USD)


def test_eth_price__exported__price_and_fallback_flag(tmp_path):
    from prometheus_client import CollectorRegistry

    from keepers.spending import SpendingMetrics

    registry = CollectorRegistry()
    reader = Reader()
    spending = _spending(tmp_path, reader)
    spending.metrics = SpendingMetrics(registry)
    spending.eth_price(100, NOW)
    assert registry.get_sample_value("keeper_eth_usd_base_per_eth") == 2_500 * USD
    assert registry.get_sample_value("keeper_eth_usd_fallback") == 0
    reader.fail_feed = True
    spending.eth_price(100 + PRICE_REFRESH_BLOCKS, NOW)
    assert registry.get_sample_value("keeper_eth_usd_fallback") == 1


def test_eth_price__refreshed_every_n_blocks__not_every_block(tmp_path):
    reader = Reader()
    spending = _spending(tmp_path, reader)
    for block in range(100, 100 + PRICE_REFRESH_BLOCKS):
        spending.eth_price(block, NOW)
    assert len(reader.calls) == 2  # latestRoundData + decimals, once
    reader.eth_usd = 2_000 * 10**8
    assert spending.eth_price(100 + PRICE_REFRESH_BLOCKS, NOW).base_per_eth == 2_000 * USD


def test_eth_price__feed_unreadable__config_fallback_logged_once(tmp_path):
    spending = _spending(tmp_path, Reader(fail_feed=True))
    with capture_logs() as logs:
        first = spending.eth_price(100, NOW)
        spending.eth_price(100 + PRICE_REFRESH_BLOCKS, NOW)
    assert first.fallback and first.reason is FallbackReason.NO_ROUND and first.base_per_eth == 3_000 * USD
    assert sum(1 for e in logs if e["event"] == "eth/usd from the configuration") == 1


def test_eth_price__stale_round__fallback(tmp_path):
    spending = _spending(tmp_path, Reader(updated_at=NOW - 7_200))
    price = spending.eth_price(100, NOW)
    assert price.fallback and price.reason is FallbackReason.STALE


def test_decision_policy__live_price_and_batch_share(tmp_path):
    spending = _spending(tmp_path)
    policy = spending.decision_policy(100, NOW, batch_size=10, gas_price_wei=GWEI)
    assert policy.eth_usd_base == 2_500 * USD
    assert policy.gas_limit_redeem == spending.gas_model.per_position(Route.REDEEM, 10) < 450_000


def test_decision_policy__l1_fee__charged_as_gas(tmp_path):
    without = _spending(tmp_path).decision_policy(100, NOW, 10, GWEI)
    with_l1 = _spending(tmp_path, Reader(l1_fee=10**15), l1=True).decision_policy(100, NOW, 10, GWEI)
    # 0.001 ETH per transaction, a tenth per position of a batch of 10, at 1 gwei: 100,000 gas more.
    assert with_l1.gas_limit_redeem - without.gas_limit_redeem == 100_000
    assert with_l1.gas_limit_seize - without.gas_limit_seize == 1_000_000


def test_l1_fee__no_oracle__zero_and_no_call(tmp_path):
    reader = Reader()
    assert _spending(tmp_path, reader).l1_fee(b"\x01" * 100, 100) == 0
    assert reader.calls == []


def test_representative_tx__calldata_plus_envelope():
    assert len(representative_tx(b"\x00" * 36)) == 1 + 110 + 36


# ------------------------------ THE GATE ------------------------------- #


def test_gate__within_brakes__allowed(tmp_path):
    spending = _spending(tmp_path)
    assert spending.gate(_request("a", "0x01"), 100_000, Fees(10 * GWEI, GWEI), 0, 100).allowed


def test_gate__cost_above_tx_budget__refused_and_logged(tmp_path):
    spending = _spending(tmp_path)
    with capture_logs() as logs:
        decision = spending.gate(_request("a", "0x01"), 1_000_001, Fees(10 * GWEI, GWEI), 0, 100)
    assert decision.reason is Refusal.TX_BUDGET
    assert any(e["event"] == "brake: not sending" and e["reason"] == "tx_budget" for e in logs)


def test_gate__l1_fee_counted_in_the_cost(tmp_path):
    spending = _spending(tmp_path, Reader(l1_fee=ETH // 100), l1=True)
    assert spending.gate(_request("a", "0x01"), 21_000, Fees(GWEI, GWEI), 0, 100).reason is Refusal.TX_BUDGET


def test_worst_cost__gas_limit_at_max_fee_plus_l1():
    assert worst_cost(100_000, Fees(30 * GWEI, 2 * GWEI), 7) == 100_000 * 30 * GWEI + 7


def _gated(node: Node, spending: Spending) -> RecordingTxManager:
    return RecordingTxManager(node, policy=FeePolicy(priority_fee=GWEI, max_fee_cap=200 * GWEI), gate=spending.gate)


def test_submit__kill_file__nothing_signed_nor_sent(tmp_path):
    kill = tmp_path / "STOP"
    spending = _spending(tmp_path, limits=BrakeLimits(None, None, None, 3, 0, kill_file=kill))
    tx = _gated(Node(), spending)
    kill.touch()
    (outcome,) = tx.submit_many([_request("a", "0x01")], 100, GWEI, 100)
    assert outcome.status is TxStatus.BRAKED and outcome.reason.startswith("kill_file")
    assert tx.sent == [] and tx.signed == {}
    kill.unlink()
    (outcome,) = tx.submit_many([_request("a", "0x01")], 100, GWEI, 100)
    assert outcome.status is TxStatus.SENT and len(tx.sent) == 1


def test_submit__block_of_sends__in_flight_cost_counts_against_the_hour(tmp_path):
    # Each send may cost LIQUIDATION_GAS x 1.25 x max fee; the hourly budget takes two of them.
    policy = FeePolicy(priority_fee=GWEI, max_fee_cap=200 * GWEI)
    one = math.ceil(LIQUIDATION_GAS * 1.25) * initial_fees(GWEI, policy).max_fee
    limits = BrakeLimits(max_tx_wei=one, max_hour_wei=2 * one, max_day_wei=10 * one,
                         max_consecutive_failures=3, balance_floor_wei=0)
    spending = _spending(tmp_path, limits=limits)
    tx = _gated(Node(), spending)
    outcomes = tx.submit_many([_request(k, "0x0" + str(i)) for i, k in enumerate("abc")], 100, GWEI, 100)
    assert sorted(o.status.value for o in outcomes) == ["braked", "sent", "sent"]
    assert len(tx.sent) == 2
    assert next(o for o in outcomes if o.status is TxStatus.BRAKED).reason.startswith("hourly_budget")


def test_submit__balance_below_floor__nothing_sent(tmp_path):
    spending = _spending(tmp_path)
    spending.balance_wei = ETH // 20  # at the floor: any cost takes it below
    tx = _gated(Node(), spending)
    (outcome,) = tx.submit_many([_request("a", "0x01")], 100, GWEI, 100)
    assert outcome.status is TxStatus.BRAKED and outcome.reason.startswith("balance_below_floor")
    assert tx.sent == []


def test_bump__operator_halt__not_bumped_then_bumped_after_resume(tmp_path):
    spending = _spending(tmp_path)
    tx = _gated(Node(), spending)
    tx.submit_many([_request("a", "0x01")], 100, GWEI, 100)
    pending = tx.pending["a"]
    spending.brakes.halt()
    with capture_logs() as logs:
        tx._replace(pending, 104, GWEI)
    assert pending.bumps == 0 and len(tx.broadcasts) == 1
    assert any(e["event"] == "fee bump refused by a brake" for e in logs)
    spending.brakes.resume()
    tx._replace(pending, 105, GWEI)
    assert pending.bumps == 1 and len(tx.broadcasts) == 2


# ------------------------------ SETTLING ------------------------------- #


def _outcome(status: TxStatus, gas_used: int = 100_000, price: int = GWEI, label: str = "liquidate:redeem",
             l1: int | None = None) -> TxOutcome:
    receipt = {"gasUsed": gas_used, "effectiveGasPrice": price, "status": 1 if status is TxStatus.MINED else 0}
    if l1 is not None:
        receipt["l1Fee"] = hex(l1)
    return TxOutcome(status, TxRequest(key="a", to=MARKET, data=b"", label=label), tx_hash="0x01", nonce=0,
                     receipt=receipt, gas_cost=gas_used * price)


def test_settle__receipts__spent_with_l1_fee(tmp_path):
    spending = _spending(tmp_path)
    spending.settle(_outcome(TxStatus.MINED, l1=5))
    spending.settle(_outcome(TxStatus.REVERTED))
    assert spending.brakes.spent(3_600) == 2 * 100_000 * GWEI + 5


def test_settle__three_reverts__failure_halt_then_nothing_sent(tmp_path):
    spending = _spending(tmp_path)
    for _ in range(3):
        spending.settle(_outcome(TxStatus.REVERTED))
    assert spending.brakes.failure_halted
    tx = _gated(Node(), spending)
    (outcome,) = tx.submit_many([_request("a", "0x01")], 100, GWEI, 100)
    assert outcome.status is TxStatus.BRAKED and outcome.reason.startswith("failure_halt")


def test_settle__success_between_reverts__streak_restarts(tmp_path):
    spending = _spending(tmp_path)
    for status in (TxStatus.REVERTED, TxStatus.REVERTED, TxStatus.MINED, TxStatus.REVERTED, TxStatus.DROPPED):
        spending.settle(_outcome(status))
    assert not spending.brakes.failure_halted and spending.brakes.consecutive_failures == 2


def test_settle__approval_revert__not_a_liquidation_failure(tmp_path):
    spending = _spending(tmp_path)
    for _ in range(3):
        spending.settle(_outcome(TxStatus.REVERTED, label="approve"))
    assert not spending.brakes.failure_halted and spending.brakes.spent(3_600) == 3 * 100_000 * GWEI


# ------------------------------ TREASURY ------------------------------- #


def _seize(i: int, repaid: int) -> Plan:
    return replace(_plan(i), route=Route.SEIZE, repaid=repaid, max_repay=MAX_UINT256)


BOUND = ApprovalPolicy(bound=100_000 * USD)


def test_seize_need__repaid_plus_margin_rounded_up():
    assert seize_need(_seize(0, 10_000 * USD)) == 10_010 * USD
    assert seize_need(_seize(0, 1)) == 2


def test_split__allowance_covers__all_fit_nothing_to_approve():
    plans = [_seize(0, 10_000 * USD), _seize(1, 20_000 * USD)]
    split = split_by_allowance(plans, 50_000 * USD, 0, BOUND)
    assert split.fit == tuple(plans) and split.rest == () and split.action.kind is ApprovalKind.NONE


def test_split__short__fitting_plans_go_rest_wait_for_the_bound():
    plans = [_seize(0, 10_000 * USD), _seize(1, 20_000 * USD), _seize(2, 5_000 * USD)]
    split = split_by_allowance(plans, 16_000 * USD, 0, BOUND)
    assert [p.borrower for p in split.fit] == [plans[0].borrower, plans[2].borrower]
    assert split.rest == (plans[1],)
    assert (split.action.kind, split.action.amount) == (ApprovalKind.APPROVE, 100_000 * USD)


def test_split__in_flight_draw__counts_against_the_allowance():
    split = split_by_allowance([_seize(0, 10_000 * USD)], 15_000 * USD, 6_000 * USD, BOUND)
    assert split.fit == () and split.action.kind is ApprovalKind.APPROVE


def test_split__at_the_bound__rest_waits_no_approval():
    split = split_by_allowance([_seize(0, 150_000 * USD)], 100_000 * USD, 0, BOUND)
    assert split.rest and split.action.kind is ApprovalKind.REFUSE


def test_split__reset_first_token__reset_waits_while_plans_go():
    policy = ApprovalPolicy(bound=100_000 * USD, reset_first=True)
    plans = [_seize(0, 1_000 * USD), _seize(1, 20_000 * USD)]
    going = split_by_allowance(plans, 5_000 * USD, 0, policy)
    assert going.fit == (plans[0],) and going.action.kind is ApprovalKind.NONE
    alone = split_by_allowance(plans[1:], 5_000 * USD, 0, policy)
    assert alone.action.kind is ApprovalKind.RESET_THEN_APPROVE


def test_approval_request__approve_the_bound_to_the_market(tmp_path):
    spending = _spending(tmp_path)
    request = spending.approval_request(split_by_allowance([_seize(0, 5_000 * USD)], 0, 0, BOUND).action)
    assert request is not None and request.to == STABLE and request.data[:4] == APPROVE
    spender, amount = decode(["address", "uint256"], request.data[4:])
    assert (to_address(spender), amount) == (MARKET, 100_000 * USD)


def test_approval_request__reset__approves_zero(tmp_path):
    request = _spending(tmp_path).approval_request(ApprovalAction(ApprovalKind.RESET_THEN_APPROVE, 100_000 * USD))
    assert decode(["address", "uint256"], request.data[4:])[1] == 0


def test_approval_request__none_or_refuse__nothing(tmp_path):
    spending = _spending(tmp_path)
    assert spending.approval_request(ApprovalAction(ApprovalKind.NONE)) is None
    assert spending.approval_request(ApprovalAction(ApprovalKind.REFUSE)) is None


def test_allowance__read_from_the_token(tmp_path):
    reader = Reader(allowance=123)
    assert _spending(tmp_path, reader).allowance(100) == 123
    to, data, block = reader.calls[-1]
    assert to == STABLE and data[:4] == ALLOWANCE and block == 100


def test_sweep__above_float__transfer_to_receiver(tmp_path):
    request = _spending(tmp_path, sweep=True).sweep(stable_balance=1_500 * USD, in_flight=200 * USD)
    assert request is not None and request.data[:4] == TRANSFER
    receiver, amount = decode(["address", "uint256"], request.data[4:])
    assert (to_address(receiver), amount) == (RECEIVER, 300 * USD)


def test_sweep__under_minimum_or_no_receiver__none(tmp_path):
    assert _spending(tmp_path, sweep=True).sweep(stable_balance=1_050 * USD, in_flight=0) is None
    assert _spending(tmp_path).sweep(stable_balance=10**9 * USD, in_flight=0) is None


def test_seize_repayments__only_seize_plans():
    assert seize_repayments([_plan(0), _seize(1, 700 * USD)]) == seize_need(_seize(1, 700 * USD))


def test_with_profit__net_profit_in_wei_at_the_price(tmp_path):
    spending = _spending(tmp_path)
    spending.eth_price(100, NOW)  # 2,500 USD
    request = with_profit(TxRequest(key="a", to=MARKET, data=b"", context={"expected_profit": 25 * USD}),
                          spending, 3 * GWEI)
    assert request.net_profit_wei == ETH // 100 and request.planned_gas_price == 3 * GWEI
    assert with_profit(request, None, 1) is request


# ------------------------------ THE KEEPER ----------------------------- #


def test_keeper__seize_plans_without_allowance__approval_sent_plans_wait(tmp_path):
    from test_keeper_batches import Reader as BlockReader

    keeper, tx = _keeper(Node(), tmp_path)
    spending = _spending(tmp_path, Reader(allowance=0))
    keeper.spending = spending
    seize = [_seize(i, 1_000 * USD) for i in range(2)]
    with capture_logs() as logs:
        kept, waiting = keeper._approved(BlockReader().head(), seize + [_plan(5)], [])
    assert [p.route for p in kept] == [Route.REDEEM] and waiting == 2
    assert [key for key, _, _ in tx.sent] == [f"approve:{STABLE}"]
    assert keeper.metrics.registry.get_sample_value("keeper_liquidations_skipped_total",
                                                    {"reason": "awaiting_approval"}) == 2
    assert any(e["event"] == "seize route: approval" and e["status"] == "sent" for e in logs)


def test_keeper__seize_plans_with_allowance__all_kept(tmp_path):
    from test_keeper_batches import Reader as BlockReader

    keeper, tx = _keeper(Node(), tmp_path)
    keeper.spending = _spending(tmp_path, Reader(allowance=10_000 * USD))
    seize = [_seize(i, 1_000 * USD) for i in range(2)]
    kept, waiting = keeper._approved(BlockReader().head(), seize, [])
    assert kept == seize and waiting == 0 and tx.sent == []


def test_keeper__short_batch_that_does_not_pay__not_sent(tmp_path):
    keeper, tx = _keeper(Node(), tmp_path)
    keeper.spending = _spending(tmp_path)
    keeper.spending.eth_price(100, NOW)
    # Decided at a full batch's per-position gas with a thin margin: alone, the batch's fixed gas eats it.
    thin = replace(_plan(0), net_profit=2 * USD, gas_cost=0, min_profit=USD)
    gas_price = 50 * GWEI + keeper.tx.policy.priority_fee
    with capture_logs() as logs:
        groups = keeper._priced_batches(keeper_log(), [(thin,)], gas_price)
    assert groups == [] and any(e["event"] == "batch does not pay at its real size; not sending" for e in logs)
    rich = replace(_plan(0), net_profit=500 * USD)
    assert keeper._priced_batches(keeper_log(), [(rich,)], gas_price) == [(rich,)]


def keeper_log():
    import structlog

    return structlog.get_logger("test")


def test_outcome_labels__brake_outcomes_are_send_outcomes():
    assert {o.value for o in SendOutcome} == {"succeeded", "reverted", "dropped"}
    assert TxStatus.BRAKED.value == "braked"


@pytest.mark.parametrize("status", [TxStatus.CANCELLED])
def test_settle__cancel__spent_but_streak_unchanged(tmp_path, status):
    spending = _spending(tmp_path)
    spending.settle(_outcome(TxStatus.REVERTED))
    spending.settle(_outcome(status, gas_used=21_000))
    assert spending.brakes.consecutive_failures == 1 and spending.brakes.spent(3_600) == 121_000 * GWEI


def test_keeper__sent_requests_carry_net_profit__bump_rechecked(tmp_path):
    keeper, tx = _keeper(Node(), tmp_path)
    keeper.spending = _spending(tmp_path)
    keeper.spending.eth_price(100, NOW)
    keeper._execute([_plan(i) for i in range(3)], max_loan=10**30)
    (pending,) = tx.pending.values()
    # 3 plans x 25 USD at 2,500 USD per ETH.
    assert pending.request.net_profit_wei == 3 * 25 * ETH // 2_500


def test_settle__lapsed_bundles__not_failures(tmp_path):
    from keepers.txmanager import RevertKind

    spending = _spending(tmp_path)
    lapsed = TxOutcome(TxStatus.DROPPED, TxRequest(key="a", to=MARKET, data=b""), nonce=0,
                       reason="bundle not included by its last target block", kind=RevertKind.LOST_RACE)
    for _ in range(5):
        spending.settle(lapsed)
    assert spending.brakes.consecutive_failures == 0 and not spending.brakes.failure_halted
    spending.settle(TxOutcome(TxStatus.DROPPED, TxRequest(key="a", to=MARKET, data=b""), nonce=0,
                              reason="nonce used by another transaction"))
    assert spending.brakes.consecutive_failures == 1
