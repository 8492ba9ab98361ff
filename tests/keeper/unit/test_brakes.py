"""The spending brakes (keepers/brakes.py): budgets, the failure halt, the
kill switch (file and signals), the balance floor, dry run by network.
No chain."""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

import pytest
from conftest import CONFIG_ENV
import structlog
from prometheus_client import CollectorRegistry

from keepers.brakes import (
    ALLOWED,
    DAY,
    HOUR,
    BrakeDecision,
    BrakeLimits,
    BrakeMetrics,
    Brakes,
    Refusal,
    SendOutcome,
    Spend,
    balance_decision,
    budget_decision,
    effective_dry_run,
    install_signal_handlers,
    network_name,
    receipt_cost_wei,
    window_spent,
)
from keepers.config import ConfigError, load_config
from keepers.brakes import limits_from_config

GWEI = 10**9
ETH = 10**18
NOW = 1_800_000_000.0
LIMITS = BrakeLimits(
    max_tx_wei=ETH // 100, max_hour_wei=ETH // 10, max_day_wei=ETH // 2,
    max_consecutive_failures=3, balance_floor_wei=ETH // 20,
)
RICH = 10 * ETH


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def brakes(limits: BrakeLimits = LIMITS) -> tuple[Brakes, Clock, BrakeMetrics, CollectorRegistry]:
    clock, registry = Clock(), CollectorRegistry()
    metrics = BrakeMetrics(registry)
    return Brakes(limits, metrics, clock), clock, metrics, registry


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels or None)
    return 0.0 if value is None else value


# ------------------------------ RECEIPTS ------------------------------- #


def test_receipt_cost__gas_used_times_effective_price_plus_l1_fee():
    assert receipt_cost_wei({"gasUsed": "0x186a0", "effectiveGasPrice": hex(2 * GWEI)}) == 200_000 * GWEI
    op = {"gasUsed": 100_000, "effectiveGasPrice": 2 * GWEI, "l1Fee": "0x3e8"}
    assert receipt_cost_wei(op) == 200_000 * GWEI + 1_000


def test_receipt_cost__missing_field__clear_error():
    with pytest.raises(ValueError, match="effectiveGasPrice"):
        receipt_cost_wei({"gasUsed": 1})


# ------------------------------ BUDGETS -------------------------------- #


def test_budget__within_all__allowed():
    assert budget_decision([Spend(NOW - 10, ETH // 100)], NOW, ETH // 100, LIMITS) == ALLOWED


def test_budget__one_tx_above_cap__refuses_with_reason():
    decision = budget_decision([], NOW, ETH // 100 + 1, LIMITS)
    assert decision.reason is Refusal.TX_BUDGET and not decision.allowed


def test_budget__hourly_spent__refuses_with_reason():
    spends = [Spend(NOW - 60 * i, ETH // 100) for i in range(1, 10)] + [Spend(NOW, ETH // 200)]  # 0.095 ETH
    assert budget_decision(spends, NOW, ETH // 200, LIMITS) == ALLOWED  # exactly 0.1
    decision = budget_decision(spends, NOW, ETH // 200 + 1, LIMITS)
    assert decision.reason is Refusal.HOURLY_BUDGET and "last hour" in decision.detail


def test_budget__hour_old_spends__roll_out_of_the_hour():
    spends = [Spend(NOW - HOUR, ETH // 10)]  # exactly an hour ago: out of the window
    assert budget_decision(spends, NOW, ETH // 100, LIMITS) == ALLOWED


def test_budget__daily_spent__refuses_with_reason():
    spends = [Spend(NOW - HOUR * h - 1, ETH // 10) for h in range(1, 6)]  # 0.5 ETH, none in the last hour
    decision = budget_decision(spends, NOW, 1, LIMITS)
    assert decision.reason is Refusal.DAILY_BUDGET
    assert budget_decision(spends, NOW + DAY, 1, LIMITS) == ALLOWED


@given(
    st.lists(st.tuples(st.integers(0, 2 * DAY), st.integers(0, ETH // 50)), max_size=40),
    st.integers(0, ETH // 50),
)
def test_budget__allowed__never_takes_a_window_past_its_limit(spent, cost):
    spends = [Spend(NOW - age, wei) for age, wei in spent]
    decision = budget_decision(spends, NOW, cost, LIMITS)
    over = [
        cost > LIMITS.max_tx_wei,
        window_spent(spends, NOW, HOUR) + cost > LIMITS.max_hour_wei,
        window_spent(spends, NOW, DAY) + cost > LIMITS.max_day_wei,
    ]
    assert decision.allowed == (not any(over))


def test_budget__none_limits__off():
    off = replace(LIMITS, max_tx_wei=None, max_hour_wei=None, max_day_wei=None)
    assert budget_decision([Spend(NOW, 100 * ETH)], NOW, 50 * ETH, off) == ALLOWED


def test_window_spent__counts_only_the_window():
    spends = [Spend(NOW - 5, 1), Spend(NOW - HOUR - 5, 10), Spend(NOW + 1, 100)]
    assert window_spent(spends, NOW, HOUR) == 1


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(max_tx_wei=0), "max_tx_wei"),
        (dict(max_consecutive_failures=0), "max_consecutive_failures"),
        (dict(balance_floor_wei=-1), "balance_floor_wei"),
        (dict(max_tx_wei=ETH), "above max_hour_wei"),
        (dict(max_hour_wei=ETH), "above max_day_wei"),
    ],
)
def test_limits__bad_value__clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        replace(LIMITS, **bad)


def test_decision__allowed_with_reason__inconsistent():
    with pytest.raises(ValueError):
        BrakeDecision(True, Refusal.TX_BUDGET)


def test_brakes__receipts_recorded__hourly_budget_refuses_then_rolls():
    b, clock, _, registry = brakes()
    for _ in range(10):
        b.record_receipt({"gasUsed": 500_000, "effectiveGasPrice": 20 * GWEI})  # 0.01 ETH each
    assert b.check(1, RICH).reason is Refusal.HOURLY_BUDGET
    assert sample(registry, "keeper_brakes_refused_total", reason="hourly_budget") == 1
    assert sample(registry, "keeper_brakes_spent_hour_wei") == ETH // 10
    clock.now += HOUR
    assert b.check(1, RICH).allowed


# -------------------------- FAILURE HALT ------------------------------- #


def test_halt__n_consecutive_failures__alerts_and_stops():
    b, _, _, registry = brakes()
    with structlog.testing.capture_logs() as logs:
        b.record_outcome(SendOutcome.REVERTED)
        b.record_outcome(SendOutcome.DROPPED)
        assert b.check(1, RICH).allowed
        b.record_outcome(SendOutcome.REVERTED, tx="0xabc")
    decision = b.check(1, RICH)
    assert decision.reason is Refusal.FAILURE_HALT
    alerts = [e for e in logs if e["log_level"] == "error"]
    assert len(alerts) == 1 and alerts[0]["alert"] is True and alerts[0]["failures"] == 3 and alerts[0]["tx"] == "0xabc"
    assert sample(registry, "keeper_brakes_halted") == 1
    assert sample(registry, "keeper_brakes_failure_halts_total") == 1


def test_halt__success_between_failures__streak_restarts():
    b, _, _, _ = brakes()
    for outcome in (SendOutcome.REVERTED, SendOutcome.REVERTED, SendOutcome.SUCCEEDED, SendOutcome.REVERTED):
        b.record_outcome(outcome)
    assert b.consecutive_failures == 1 and b.check(1, RICH).allowed


def test_halt__manual_reset__sends_again():
    b, _, _, registry = brakes()
    for _ in range(3):
        b.record_outcome(SendOutcome.DROPPED)
    assert not b.check(1, RICH).allowed
    b.reset()
    assert b.check(1, RICH).allowed and b.consecutive_failures == 0
    assert sample(registry, "keeper_brakes_halted") == 0


def test_halt__more_failures_while_halted__one_alert():
    b, _, _, registry = brakes()
    with structlog.testing.capture_logs() as logs:
        for _ in range(6):
            b.record_outcome(SendOutcome.REVERTED)
    assert len([e for e in logs if e["log_level"] == "error"]) == 1
    assert sample(registry, "keeper_brakes_failure_halts_total") == 1


# ---------------------------- KILL SWITCH ------------------------------ #


def test_kill_switch__file_present__refuses(tmp_path):
    kill = tmp_path / "STOP"
    b, _, _, _ = brakes(replace(LIMITS, kill_file=kill))
    assert b.check(1, RICH).allowed
    kill.touch()
    decision = b.check(1, RICH)
    assert decision.reason is Refusal.KILL_FILE and str(kill) in decision.detail
    kill.unlink()
    assert b.check(1, RICH).allowed


def test_kill_switch__operator_halt_and_resume__refuses_then_allows():
    b, _, _, registry = brakes()
    b.halt()
    assert b.check(1, RICH).reason is Refusal.OPERATOR_HALT
    assert sample(registry, "keeper_brakes_halted") == 1
    b.resume()
    assert b.check(1, RICH).allowed
    assert sample(registry, "keeper_brakes_halted") == 0


def test_kill_switch__resume__does_not_clear_a_failure_halt():
    b, _, _, _ = brakes()
    for _ in range(3):
        b.record_outcome(SendOutcome.REVERTED)
    b.halt()
    b.resume()
    assert b.check(1, RICH).reason is Refusal.FAILURE_HALT


def test_kill_switch__sigusr1_halts_sigusr2_resumes():
    b, _, _, _ = brakes()
    restore = install_signal_handlers(b)
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert b.check(1, RICH).reason is Refusal.OPERATOR_HALT
        os.kill(os.getpid(), signal.SIGUSR2)
        assert b.check(1, RICH).allowed
    finally:
        restore()
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL


def test_kill_switch__same_signal_twice__refused():
    b, _, _, _ = brakes()
    with pytest.raises(ValueError):
        install_signal_handlers(b, signal.SIGUSR1, signal.SIGUSR1)


# --------------------------- BALANCE FLOOR ----------------------------- #


def test_balance_floor__below__refuses():
    decision = balance_decision(ETH // 20 + 99, 100, ETH // 20)
    assert decision.reason is Refusal.BALANCE_FLOOR


def test_balance_floor__at_floor_after_cost__allowed():
    assert balance_decision(ETH // 20 + 100, 100, ETH // 20) == ALLOWED


def test_budget__in_flight_reserved__counts_against_the_hour():
    # 0.095 ETH in flight, not mined yet: a 0.005 ETH send fills the hour, one wei more is refused.
    assert budget_decision([], NOW, ETH // 200, LIMITS, reserved_wei=ETH * 95 // 1000) == ALLOWED
    decision = budget_decision([], NOW, ETH // 200 + 1, LIMITS, reserved_wei=ETH * 95 // 1000)
    assert decision.reason is Refusal.HOURLY_BUDGET and "in flight" in decision.detail


def test_budget__negative_reserved__clear_error():
    with pytest.raises(ValueError, match="reserved_wei"):
        budget_decision([], NOW, 1, LIMITS, reserved_wei=-1)


def test_brakes__reserved_comes_off_the_balance__floor_refuses():
    b, _, _, _ = brakes()
    balance = ETH // 20 + ETH // 100  # floor + one send
    assert b.check(ETH // 100, balance).allowed
    assert b.check(ETH // 100, balance, reserved_wei=1).reason is Refusal.BALANCE_FLOOR


def test_brakes__low_balance__refuses_before_budgets():
    b, _, _, registry = brakes()
    assert b.check(ETH, ETH // 100).reason is Refusal.BALANCE_FLOOR
    assert sample(registry, "keeper_brakes_refused_total", reason="balance_below_floor") == 1


# ------------------------------ DRY RUN -------------------------------- #


@pytest.mark.parametrize("network", ["local", "ethereum:local:foundry", "ethereum:mainnet-fork:foundry"])
def test_dry_run__local_network__config_value(network):
    assert effective_dry_run(network, live_flag=False, config_dry_run=False).dry_run is False


@pytest.mark.parametrize("network", ["ethereum:mainnet:alchemy", "base:sepolia", "mainnet"])
def test_dry_run__real_network_without_live__dry(network):
    result = effective_dry_run(network, live_flag=False, config_dry_run=False)
    assert result.dry_run is True and "--live" in result.why


def test_dry_run__real_network_with_live__sends():
    assert effective_dry_run("ethereum:mainnet:alchemy", live_flag=True, config_dry_run=False).dry_run is False


def test_dry_run__configured__wins_over_live():
    assert effective_dry_run("ethereum:mainnet:alchemy", live_flag=True, config_dry_run=True).dry_run is True


def test_dry_run__empty_network__clear_error():
    with pytest.raises(ValueError):
        network_name(" ")


# ------------------------------ CONFIG --------------------------------- #




def test_config__default_brakes__on_in_wei():
    limits = limits_from_config(load_config(env=CONFIG_ENV))
    assert (limits.max_tx_wei, limits.max_hour_wei, limits.max_day_wei) == (ETH // 10, ETH, 5 * ETH)
    assert limits.max_consecutive_failures == 5 and limits.balance_floor_wei == ETH // 100
    assert str(limits.kill_file) == ".keeper/STOP"


def test_config__empty_variable__turns_a_budget_and_the_kill_file_off():
    env = {**CONFIG_ENV, "NAVLEND_KEEPER_MAX_GAS_PER_DAY_ETH": "", "NAVLEND_KEEPER_KILL_FILE": ""}
    limits = limits_from_config(load_config(env=env))
    assert limits.max_day_wei is None and limits.kill_file is None and limits.max_hour_wei == ETH


def test_config__bad_brakes__every_problem_named():
    env = {
        **CONFIG_ENV,
        "NAVLEND_KEEPER_MAX_GAS_PER_TX_ETH": "2",  # above the hour's 1
        "NAVLEND_KEEPER_BALANCE_FLOOR_ETH": "1",  # above the 0.05 alert
        "NAVLEND_KEEPER_MAX_CONSECUTIVE_FAILURES": "0",
    }
    with pytest.raises(ConfigError) as err:
        load_config(env=env)
    assert any(p.startswith("max_consecutive_failures") for p in err.value.problems)
    env.pop("NAVLEND_KEEPER_MAX_CONSECUTIVE_FAILURES")
    with pytest.raises(ConfigError) as err:
        load_config(env=env)
    problems = " | ".join(err.value.problems)
    assert "max_gas_per_tx_eth: 2 is above max_gas_per_hour_eth" in problems
    assert "balance_floor_eth: 1 is above low_balance_eth" in problems


def test_brakes__concurrent_sends__every_spend_counted():
    b, _, _, _ = brakes(replace(LIMITS, max_hour_wei=None, max_day_wei=None))

    def work() -> None:
        for _ in range(500):
            b.record_spend(3)
            b.check(1, RICH)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b.spent(HOUR) == 4 * 500 * 3
