"""The profit model (keepers/profit.py): ETH/USD from a feed, gas from the
batch, the L1 fee hook, the tip and the fee-bump re-check. No chain."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import BORROWER, CONFIG_ENV, balances_of, lens_health, model_market, open_position, terms_of
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from keepers.decide import ProfitPolicy, decide, gas_cost
from keepers.profit import (
    GAS_PRICE_ORACLE,
    GET_L1_FEE_SELECTOR,
    LATEST_ROUND_DATA_SELECTOR,
    MEASURED_REDEEM,
    EthPrice,
    FallbackReason,
    FeedRound,
    GasCoefficients,
    GasModel,
    PriceFeedPolicy,
    PriceSource,
    Tip,
    TipPolicy,
    base_to_wei,
    bump_verdict,
    cost_wei,
    decode_l1_fee,
    decode_round,
    decision_policy,
    effective_gas_price,
    eth_usd,
    gross_of,
    l1_fee_call,
    price_batch,
    tip_per_gas,
    wei_to_base,
)
from keepers.types import ExecutionContext, Plan, Route, SkipReason, to_address
from keepers.config import ConfigError, load_config
from keepers.profit import feed_policy_from_config, gas_model_from_config, tip_policy_from_config

USD = 10**6
GWEI = 10**9
ETH = 10**18
NOW = 1_800_000_000
FEED = PriceFeedPolicy(max_age_seconds=3_600, fallback_base_per_eth=3_000 * USD, base_decimals=6)


def round_at(answer: int = 2_500 * 10**8, updated_at: int = NOW - 60, **kw: int) -> FeedRound:
    fields = dict(round_id=7, answer=answer, started_at=updated_at, updated_at=updated_at, answered_in_round=7, decimals=8)
    fields.update(kw)
    return FeedRound(**fields)


# ------------------------------ ETH / USD ------------------------------ #


def test_eth_price__fresh_round__from_feed_rescaled_to_base():
    price = eth_usd(round_at(answer=2_512_34567890), NOW, FEED)
    assert price == EthPrice(2_512_345_678, PriceSource.FEED, None, 60)
    assert not price.fallback


def test_eth_price__feed_stale__falls_back_with_flag():
    price = eth_usd(round_at(updated_at=NOW - 3_601), NOW, FEED)
    assert price.fallback
    assert (price.base_per_eth, price.reason, price.age_seconds) == (3_000 * USD, FallbackReason.STALE, 3_601)


def test_eth_price__exactly_max_age__still_fresh():
    assert eth_usd(round_at(updated_at=NOW - 3_600), NOW, FEED).source is PriceSource.FEED


def test_eth_price__no_round__falls_back():
    assert eth_usd(None, NOW, FEED).reason is FallbackReason.NO_ROUND


@pytest.mark.parametrize("answer", [0, -1])
def test_eth_price__non_positive_answer__falls_back(answer):
    assert eth_usd(round_at(answer=answer), NOW, FEED).reason is FallbackReason.NON_POSITIVE


def test_eth_price__answered_in_older_round__falls_back_incomplete():
    assert eth_usd(round_at(answered_in_round=6), NOW, FEED).reason is FallbackReason.INCOMPLETE


def test_eth_price__stamped_in_the_future__falls_back():
    assert eth_usd(round_at(updated_at=NOW + 61), NOW, FEED).reason is FallbackReason.FROM_FUTURE
    assert eth_usd(round_at(updated_at=NOW + 60), NOW, FEED).source is PriceSource.FEED


def test_decode_round__raw_answers__feed_round_with_signed_answer():
    words = abi_encode(["uint80", "int256", "uint256", "uint256", "uint80"], [9, -5, NOW - 5, NOW - 4, 9])
    decoded = decode_round(words, (8).to_bytes(32, "big"))
    assert decoded == FeedRound(9, -5, NOW - 5, NOW - 4, 9, 8)
    assert eth_usd(decoded, NOW, FEED).reason is FallbackReason.NON_POSITIVE
    assert LATEST_ROUND_DATA_SELECTOR == bytes.fromhex("feaf968c")


def test_decode_round__short_answer__clear_error():
    with pytest.raises(ValueError, match="160 bytes"):
        decode_round(b"\x00" * 128, (8).to_bytes(32, "big"))


@pytest.mark.parametrize("bad", [dict(max_age_seconds=0), dict(fallback_base_per_eth=0), dict(base_decimals=37)])
def test_feed_policy__bad_value__clear_error(bad):
    with pytest.raises(ValueError):
        replace(FEED, **bad)


# -------------------------------- GAS ---------------------------------- #

MODEL = GasModel.default(gas_limit_redeem=450_000, gas_limit_seize=250_000, max_batch=24)


def test_gas__batch_of_10__per_position_from_batch():
    # The benchmark's figures: 70,309 a position in a batch of 10.
    assert MODEL.per_position(Route.REDEEM, 10) == 70_309
    assert MODEL.batch_gas(Route.REDEEM, 10) == 703_090


def test_gas__lone_position__pays_the_whole_fixed_part():
    assert MODEL.per_position(Route.REDEEM, 1) == 229_843
    assert MODEL.per_position(Route.REDEEM, 1) > 3 * MODEL.per_position(Route.REDEEM, 10)


def test_gas__seize_and_gathered__as_decide_prices_them():
    assert MODEL.batch_gas(Route.SEIZE, 1) == 250_000
    assert MODEL.batch_gas(Route.GATHERED, 3) == 450_000 + 2 * 250_000


def test_gas__margin__scales_up_rounding_up():
    model = replace(MODEL, margin_bps=12_500)
    assert model.batch_gas(Route.REDEEM, 1) == 287_304  # ceil(229,843 x 1.25)


@pytest.mark.parametrize("positions", [0, 25])
def test_gas__batch_outside_1_to_max__refused(positions):
    with pytest.raises(ValueError, match="batch holds"):
        MODEL.batch_gas(Route.REDEEM, positions)


def test_gas__bad_coefficients__clear_error():
    with pytest.raises(ValueError):
        GasCoefficients(-1, 10)
    with pytest.raises(ValueError):
        GasCoefficients(0, 0)
    with pytest.raises(ValueError, match="margin"):
        replace(MODEL, margin_bps=9_999)
    with pytest.raises(ValueError, match="below gas_limit_seize"):
        GasModel.default(gas_limit_redeem=100_000, gas_limit_seize=250_000, max_batch=24)


def test_gas__measured_coefficients__reproduce_both_benchmark_rows():
    assert MEASURED_REDEEM.fixed + MEASURED_REDEEM.per_position == 229_843
    assert (MEASURED_REDEEM.fixed + 10 * MEASURED_REDEEM.per_position) // 10 == 70_309


# ------------------------------ L1 FEE --------------------------------- #


def test_l1_fee_call__getL1Fee_selector_and_bytes_encoded():
    call = l1_fee_call(b"\x02\xf8\x01")
    assert call["to"] == GAS_PRICE_ORACLE == to_address("0x420000000000000000000000000000000000000f")
    data = bytes.fromhex(call["data"][2:])
    assert data[:4] == GET_L1_FEE_SELECTOR == bytes.fromhex("49948e0e")
    assert abi_decode(["bytes"], data[4:]) == (b"\x02\xf8\x01",)


def test_l1_fee_call__empty_tx__refused():
    with pytest.raises(ValueError):
        l1_fee_call(b"")


def test_decode_l1_fee__one_word__wei():
    assert decode_l1_fee((123_456).to_bytes(32, "big")) == 123_456
    with pytest.raises(ValueError):
        decode_l1_fee(b"\x00" * 31)


def test_cost__l1_fee_added_to_execution_gas():
    assert cost_wei(100_000, 2 * GWEI) == 200_000 * GWEI
    assert cost_wei(100_000, 2 * GWEI, l1_fee_wei=5 * GWEI) == 200_005 * GWEI
    with pytest.raises(ValueError):
        cost_wei(1, 1, -1)


def test_wei_and_base__cost_rounds_up_profit_rounds_down():
    assert wei_to_base(1, 3_000 * USD) == 1  # a wei of cost is never free
    assert wei_to_base(ETH, 3_000 * USD) == 3_000 * USD
    assert base_to_wei(1, 3_000 * USD) == ETH // (3_000 * USD)
    assert base_to_wei(-5, 3_000 * USD) == 0


def test_effective_gas_price__capped_by_max_fee():
    assert effective_gas_price(10 * GWEI, 50 * GWEI, 2 * GWEI) == 12 * GWEI
    assert effective_gas_price(49 * GWEI, 50 * GWEI, 2 * GWEI) == 50 * GWEI


# -------------------------------- TIP ---------------------------------- #

TIPS = TipPolicy(share_bps=1_000, cap_wei=5 * GWEI, min_wei=GWEI // 10)


def test_tip__share_of_profit__spread_over_gas():
    # $10 profit at $2,500 = 0.004 ETH; 10 % over 700,000 gas: ~0.57 gwei.
    tip = tip_per_gas(10 * USD, 700_000, 2_500 * USD, TIPS)
    assert tip.per_gas_wei == (4 * 10**15) // 10 // 700_000
    assert not tip.capped


def test_tip__share_of_profit__capped():
    tip = tip_per_gas(100_000 * USD, 700_000, 2_500 * USD, TIPS)
    assert (tip.per_gas_wei, tip.capped) == (5 * GWEI, True)


def test_tip__tiny_profit__floor():
    assert tip_per_gas(1, 700_000, 2_500 * USD, TIPS).per_gas_wei == GWEI // 10


def test_tip__bad_policy_or_gas__clear_error():
    with pytest.raises(ValueError):
        TipPolicy(share_bps=10_001, cap_wei=1)
    with pytest.raises(ValueError, match="floor"):
        TipPolicy(share_bps=100, cap_wei=1, min_wei=2)
    with pytest.raises(ValueError):
        tip_per_gas(1, 0, 1, TIPS)


# ----------------------------- FEE BUMPS ------------------------------- #


def test_bump__still_above_min_profit__allowed():
    # gross $50; 700,000 gas at 20 gwei, ETH $2,500 = $35 -> net $15 >= $10.
    verdict = bump_verdict(50 * USD, 700_000, 20 * GWEI, 0, 2_500 * USD, 10 * USD)
    assert verdict.allowed and verdict.net_base == 15 * USD and verdict.cost_base == 35 * USD


def test_bump__eats_the_profit__refused():
    verdict = bump_verdict(50 * USD, 700_000, 30 * GWEI, 0, 2_500 * USD, 10 * USD)
    assert not verdict.allowed and verdict.net_base == -2_500_000


def test_bump__l1_fee_tips_it_below__refused():
    ok = bump_verdict(50 * USD, 700_000, 20 * GWEI, 0, 2_500 * USD, 15 * USD)
    l1 = bump_verdict(50 * USD, 700_000, 20 * GWEI, 10**12, 2_500 * USD, 15 * USD)
    assert ok.allowed and not l1.allowed


# --------------------------- BATCHES, POLICY --------------------------- #


def plan(i: int, net: int, gas: int, route: Route = Route.REDEEM) -> Plan:
    return Plan(
        borrower=to_address(f"0x{i:040x}"), token=to_address("0x" + "fa" * 20), route=route, max_repay=0,
        repaid=1_000 * USD, seized=0, taken=0, sent=0, proceeds=0, flash_fee=0, redemption_fee=0,
        gas_cost=gas, safety_buffer=0, net_profit=net, min_profit=0, min_out=0, health_factor=0,
    )


def test_price_batch__full_batch__pays():
    per = gas_cost(70_309, 10 * GWEI, 2_500 * USD)
    price = price_batch([plan(i, 5 * USD, per) for i in range(10)], MODEL, 10 * GWEI, 2_500 * USD, 1 * USD)
    assert price.gas_units == 703_090 and price.pays
    assert price.net_base == 10 * (5 * USD + per) - price.cost_base


def test_price_batch__lone_position_decided_at_batch_gas__does_not_pay():
    per = gas_cost(70_309, 10 * GWEI, 2_500 * USD)  # ~$1.76 charged at decision
    price = price_batch([plan(0, 3 * USD, per)], MODEL, 10 * GWEI, 2_500 * USD, 1 * USD)
    assert price.gas_units == 229_843 and not price.pays  # alone it costs ~$5.75


def test_price_batch__mixed_routes_or_empty__refused():
    with pytest.raises(ValueError, match="one route"):
        price_batch([plan(0, 1, 1), plan(1, 1, 1, Route.SEIZE)], MODEL, GWEI, USD, 0)
    with pytest.raises(ValueError):
        price_batch([], MODEL, GWEI, USD, 0)


BASE_POLICY = ProfitPolicy(
    min_profit=USD, safety_buffer=USD, eth_usd_base=3_000 * USD, gas_limit_redeem=450_000,
    gas_limit_seize=250_000, max_fee_wei=200 * GWEI,
)


def test_decision_policy__live_price_and_batch_gas__replace_the_fixed_ones():
    live = EthPrice(2_400 * USD, PriceSource.FEED)
    policy = decision_policy(BASE_POLICY, live, MODEL, batch_size=10, gas_price_wei=10 * GWEI)
    assert (policy.eth_usd_base, policy.gas_limit_redeem, policy.gas_limit_seize) == (2_400 * USD, 70_309, 250_000)
    assert policy.min_profit == BASE_POLICY.min_profit


def test_decision_policy__l1_fee__folded_into_gas_per_position():
    live = EthPrice(2_400 * USD, PriceSource.FEED)
    policy = decision_policy(BASE_POLICY, live, MODEL, 10, gas_price_wei=GWEI, l1_fee_per_tx_wei=10_000 * GWEI)
    assert policy.gas_limit_redeem == 70_309 + 1_000  # a tenth of the fee, as gas at 1 gwei
    assert policy.gas_limit_seize == 250_000 + 10_000


def test_decision_policy__zero_gas_price__refused():
    with pytest.raises(ValueError):
        decision_policy(BASE_POLICY, EthPrice(USD, PriceSource.FEED), MODEL, 10, gas_price_wei=0)


# ------------------------------ CONFIG --------------------------------- #




def test_config__defaults__measured_gas_fallback_price_and_fixed_tip():
    config = load_config(env=CONFIG_ENV)
    assert gas_model_from_config(config).per_position(Route.REDEEM, 10) == 70_309
    assert feed_policy_from_config(config) == FEED
    assert config.eth_usd_feed is None and config.l1_fee_oracle is None
    tips = tip_policy_from_config(config)
    assert tips.share_bps == 0  # by default the fixed priority fee, as before
    assert tip_per_gas(10**6 * USD, 100_000, 2_500 * USD, tips).per_gas_wei == GWEI
    shared = replace(tips, share_bps=1_000)
    assert tip_per_gas(10**6 * USD, 100_000, 2_500 * USD, shared) == Tip(50 * GWEI, True)


def test_config__feed_and_oracle_addresses__checksummed():
    env = {**CONFIG_ENV, "NAVLEND_KEEPER_ETH_USD_FEED": "0x" + "ab" * 20,
           "NAVLEND_KEEPER_L1_FEE_ORACLE": "0x420000000000000000000000000000000000000f"}
    config = load_config(env=env)
    assert config.eth_usd_feed == to_address("0x" + "ab" * 20) and config.l1_fee_oracle == GAS_PRICE_ORACLE


def test_config__bad_profit_fields__named():
    env = {**CONFIG_ENV, "NAVLEND_KEEPER_ETH_USD_FEED": "0x12", "NAVLEND_KEEPER_GAS_MARGIN_BPS": "9000",
           "NAVLEND_KEEPER_TIP_SHARE_BPS": "10001"}
    with pytest.raises(ConfigError) as err:
        load_config(env=env)
    keys = {p.split(":")[0] for p in err.value.problems}
    assert keys == {"eth_usd_feed", "gas_margin_bps", "tip_share_bps"}


def test_config__tip_cap_above_max_fee__refused():
    with pytest.raises(ConfigError, match="tip_cap_gwei"):
        load_config(env={**CONFIG_ENV, "NAVLEND_KEEPER_TIP_CAP_GWEI": "500"})


# --------------------------- WIRED INTO decide -------------------------- #


def _small_position():
    """$180 of debt on 30 fund A shares after a NAV drop to $6: ~$5 of bonus."""
    m = model_market()
    open_position(m, BORROWER, {0: 30 * USD}, 170 * USD)
    prices = {0: 6 * 10**8, 1: 10**8}
    return lens_health(m, BORROWER, prices), balances_of(m, BORROWER), terms_of(m, prices)


def test_decide__fixed_450k_gas__skips_a_position_a_batch_makes_pay():
    health, balances, terms = _small_position()
    ctx = ExecutionContext(gas_price_wei=10 * GWEI)
    fixed = decide(health, balances, terms, ctx, BASE_POLICY)  # 450,000 gas at $3,000: $13.50
    assert fixed.reason is SkipReason.UNPROFITABLE
    live = decision_policy(BASE_POLICY, EthPrice(3_000 * USD, PriceSource.FEED), MODEL, 10, 10 * GWEI)
    plan = decide(health, balances, terms, ctx, live).plan  # 70,309 gas: $2.11
    assert plan is not None and plan.route is Route.REDEEM
    assert plan.gas_cost == gas_cost(70_309, 10 * GWEI, 3_000 * USD) and plan.net_profit >= USD


def test_decide__live_eth_price_doubles__the_same_plan_no_longer_pays():
    health, balances, terms = _small_position()
    ctx = ExecutionContext(gas_price_wei=10 * GWEI)
    dear = decision_policy(BASE_POLICY, EthPrice(6_000 * USD, PriceSource.FEED), MODEL, 10, 10 * GWEI)
    assert decide(health, balances, terms, ctx, dear).reason is SkipReason.UNPROFITABLE


def test_bump__batch_in_flight__rechecked_on_its_plans_gross():
    per = gas_cost(70_309, 10 * GWEI, 2_500 * USD)
    plans = [plan(i, 2 * USD, per) for i in range(10)]
    assert gross_of(plans) == 10 * (2 * USD + per)
    ok = bump_verdict(gross_of(plans), 703_090, 12 * GWEI, 0, 2_500 * USD, 10 * USD)
    too_dear = bump_verdict(gross_of(plans), 703_090, 30 * GWEI, 0, 2_500 * USD, 10 * USD)
    assert ok.allowed and not too_dear.allowed
