"""Batched liquidations, without a chain: how a block's plans are bundled
into ``FlashLiquidator.liquidate_many`` transactions (keepers/decide.py),
the calldata (keepers/chain.py), what a mined batch's logs say
(``keeper.mined_result``) and the batch size setting (keepers/config.py)."""

from __future__ import annotations

import json

import pytest
from eth_abi import decode, encode
from eth_utils import event_abi_to_log_topic, function_signature_to_4byte_selector
from hypothesis import given, settings
from hypothesis import strategies as st

from keepers import decide as d
from keepers.chain import (
    BATCH_LIQUIDATED_TOPIC,
    LIQUIDATED_TOPIC,
    LIQUIDATION_SKIPPED_TOPIC,
    decode_skipped_reason,
    encode_flash_liquidate_many,
)
from keepers.config import ConfigError, load_config
from keepers.keeper import MinedResult, mined_result, realised_profit
from navlend.constants import MAX_UINT256
from keepers.types import Plan, Route, to_address
from navlend.abi import ABI_DIR

from conftest import FUND_A, FUND_C, USD

BORROWERS = [to_address("0x" + f"{i + 1:040x}") for i in range(64)]


def _plan(i: int, token: str = FUND_A, route: Route = Route.REDEEM, repaid: int = 1_000 * USD,
          min_profit: int = 2 * USD) -> Plan:
    return Plan(borrower=BORROWERS[i], token=token, route=route, max_repay=MAX_UINT256, repaid=repaid,
                seized=0, taken=0, sent=0, proceeds=repaid * 103 // 100, flash_fee=0, redemption_fee=0, gas_cost=0,
                safety_buffer=0, net_profit=repaid * 3 // 100, min_profit=min_profit, min_out=0,
                health_factor=10**18 - 1)


# ---------------------------------------------------------------- #
#                         bundling rules                            #
# ---------------------------------------------------------------- #


def test_batch_loan__repayments_plus_margin__rounded_up():
    plans = [_plan(0, repaid=1_000 * USD), _plan(1, repaid=1)]
    assert d.batch_loan(plans) == -(-(1_000 * USD + 1) * (10_000 + d.LOAN_MARGIN_BPS) // 10_000)
    assert d.batch_loan(plans) > 1_000 * USD + 1


def test_batch_min_profit__sum_of_the_plans_floors():
    assert d.batch_min_profit([_plan(0, min_profit=3), _plan(1, min_profit=4)]) == 7


def test_batch_plans__25_redeem_plans_size_10__three_batches_in_order():
    plans = [_plan(i) for i in range(25)]
    groups = d.batch_plans(plans, 10, max_loan=10**30)
    assert [len(g) for g in groups] == [10, 10, 5]
    assert [p for g in groups for p in g] == plans


def test_batch_plans__two_collaterals__never_mixed():
    plans = [_plan(i, token=FUND_A if i % 2 else FUND_C) for i in range(6)]
    groups = d.batch_plans(plans, 10, max_loan=10**30)
    assert sorted(len(g) for g in groups) == [3, 3]
    assert all(len({p.token for p in g}) == 1 for g in groups)


def test_batch_plans__seize_route__one_transaction_each():
    plans = [_plan(0, route=Route.SEIZE), _plan(1), _plan(2, route=Route.SEIZE), _plan(3)]
    groups = d.batch_plans(plans, 10, max_loan=10**30)
    assert [tuple(p.borrower for p in g) for g in groups] == [
        (BORROWERS[0],), (BORROWERS[1], BORROWERS[3]), (BORROWERS[2],)]


def test_batch_plans__batch_size_one__one_transaction_per_plan():
    plans = [_plan(i) for i in range(4)]
    assert d.batch_plans(plans, 1, max_loan=10**30) == [(p,) for p in plans]


def test_batch_plans__loan_above_the_markets_cash__split():
    plans = [_plan(i, repaid=1_000 * USD) for i in range(5)]
    groups = d.batch_plans(plans, 10, max_loan=2_500 * USD)
    assert [len(g) for g in groups] == [2, 2, 1]
    assert all(d.batch_loan(g) <= 2_500 * USD for g in groups)


def test_batch_plans__batch_size_zero__refused():
    with pytest.raises(ValueError, match="at least 1"):
        d.batch_plans([_plan(0)], 0, max_loan=10**30)


@settings(max_examples=200, deadline=None)
@given(
    shape=st.lists(st.tuples(st.sampled_from([FUND_A, FUND_C]), st.sampled_from(list(Route)),
                             st.integers(1, 10**12)), max_size=60),
    size=st.integers(1, d.MAX_BATCH),
    max_loan=st.integers(1, 10**13),
)
def test_batch_plans__any_block__every_plan_once_within_the_limits(shape, size, max_loan):
    plans = [_plan(i, token=t, route=r, repaid=a) for i, (t, r, a) in enumerate(shape)]
    groups = d.batch_plans(plans, size, max_loan)
    flat = [p for g in groups for p in g]
    assert sorted(flat, key=plans.index) == plans and len(flat) == len(plans)
    for group in groups:
        assert 1 <= len(group) <= size
        if len(group) > 1:
            assert {p.route for p in group} == {Route.REDEEM} and len({p.token for p in group}) == 1
            assert d.batch_loan(group) <= max_loan


# ---------------------------------------------------------------- #
#                    calldata and mined receipts                    #
# ---------------------------------------------------------------- #


def test_encode_flash_liquidate_many__the_contracts_arguments():
    plans = [_plan(0), _plan(1)]
    data = encode_flash_liquidate_many(plans, loan=2_002 * USD, min_profit=4 * USD)
    assert data[:4] == function_signature_to_4byte_selector(
        "liquidate_many(address,address[],uint256[],uint256,uint256)")
    token, borrowers, repays, loan, floor = decode(
        ["address", "address[]", "uint256[]", "uint256", "uint256"], data[4:])
    assert (to_address(token), [to_address(b) for b in borrowers], list(repays), loan, floor) == (
        FUND_A, BORROWERS[:2], [MAX_UINT256] * 2, 2_002 * USD, 4 * USD)


def test_encode_flash_liquidate_many__two_collaterals__refused():
    with pytest.raises(ValueError, match="one collateral"):
        encode_flash_liquidate_many([_plan(0, token=FUND_A), _plan(1, token=FUND_C)], 1, 0)


@pytest.mark.parametrize(
    ("topic", "name"),
    [(LIQUIDATED_TOPIC, "Liquidated"), (BATCH_LIQUIDATED_TOPIC, "BatchLiquidated"),
     (LIQUIDATION_SKIPPED_TOPIC, "LiquidationSkipped")],
)
def test_event_topics__the_flash_liquidators_abi_file(topic, name):
    # Computed by eth-utils from the raw entry of the committed ABI file,
    # not through navlend.abi (which keepers.chain uses).
    entries = json.loads((ABI_DIR / "FlashLiquidator.json").read_text())
    (entry,) = [e for e in entries if e["type"] == "event" and e["name"] == name]
    assert topic == "0x" + event_abi_to_log_topic(entry).hex()


def _error(text: str) -> bytes:
    return bytes.fromhex("08c379a0") + encode(["string"], [text])


def _log(topic: str, data: bytes, *indexed: str) -> dict:
    return {"topics": [topic, *("0x" + "00" * 12 + a[2:].lower() for a in indexed)], "data": "0x" + data.hex()}


def test_mined_result__batch_with_a_skip__liquidated_profit_and_the_skipped_reason():
    receipt = {"logs": [
        _log(LIQUIDATION_SKIPPED_TOPIC, encode(["bytes"], [_error("market: position healthy")]), BORROWERS[1],
             FUND_A),
        _log(BATCH_LIQUIDATED_TOPIC, encode(["uint256"] * 6, [2, 1, 2_000, 2_100, 2, 98]), FUND_A),
    ]}
    result = mined_result(receipt, positions=3)
    assert (result.liquidated, result.profit) == (2, 98)
    assert result.skipped == ((BORROWERS[1], "market: position healthy"),)
    assert realised_profit(receipt) == 98


def test_mined_result__single_flash_liquidation__its_profit():
    receipt = {"logs": [_log(LIQUIDATED_TOPIC, encode(["uint256"] * 5, [1, 2, 3, 4, 55]), BORROWERS[0], FUND_A)]}
    assert mined_result(receipt) == MinedResult(liquidated=1, profit=55)


def test_mined_result__seize_route_no_flash_logs__its_position_profit_unknown():
    assert mined_result({"logs": []}, positions=1) == MinedResult(liquidated=1, profit=0)


def test_decode_skipped_reason__not_an_error_string__raw_hex():
    assert decode_skipped_reason(encode(["bytes"], [b"\x12\x34"])) == "0x1234"


# ---------------------------------------------------------------- #
#                            setting                                #
# ---------------------------------------------------------------- #

ENV = {
    "NAVLEND_KEEPER_MARKET": "0x" + "3a" * 20,
    "NAVLEND_KEEPER_LENS": "0x" + "1e" * 20,
    "NAVLEND_KEEPER_FLASH_LIQUIDATOR": "0x" + "f1" * 20,
    "NAVLEND_KEEPER_SIGNER_ALIAS": "TEST::0",
}


def test_config__liquidation_batch_size__default_ten_and_settable():
    assert load_config(env=ENV).liquidation_batch_size == 10
    assert load_config(env={**ENV, "NAVLEND_KEEPER_LIQUIDATION_BATCH_SIZE": "1"}).liquidation_batch_size == 1


@pytest.mark.parametrize("value", ["0", "25"])
def test_config__liquidation_batch_size_out_of_range__refused_by_name(value):
    with pytest.raises(ConfigError, match="liquidation_batch_size"):
        load_config(env={**ENV, "NAVLEND_KEEPER_LIQUIDATION_BATCH_SIZE": value})
