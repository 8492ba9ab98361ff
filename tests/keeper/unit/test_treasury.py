"""Profit sweeps and bounded approvals (keepers/treasury.py). No chain."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import CONFIG_ENV

from keepers.treasury import (
    ApprovalAction,
    ApprovalKind,
    ApprovalPolicy,
    SweepPolicy,
    approval_action,
    sweep_amount,
)
from keepers.types import to_address
from keepers.config import ConfigError, load_config
from keepers.treasury import approval_policy_from_config, sweep_policy_from_config

USD = 10**6
SIGNER = to_address("0x" + "1a" * 20)
COLD = to_address("0x" + "c0" * 20)
SWEEP = SweepPolicy(receiver=COLD, signer=SIGNER, float_amount=5_000 * USD, min_sweep=100 * USD)


# ------------------------------- SWEEP --------------------------------- #


def test_sweep__profit_above_float__sent_to_receiver():
    assert sweep_amount(6_000 * USD, 0, SWEEP) == 1_000 * USD


def test_sweep__in_flight_draw__kept_on_the_key():
    assert sweep_amount(6_000 * USD, 800 * USD, SWEEP) == 200 * USD


def test_sweep__excess_under_minimum__waits():
    assert sweep_amount(5_099 * USD, 0, SWEEP) == 0
    assert sweep_amount(5_100 * USD, 0, SWEEP) == 100 * USD


def test_sweep__below_float__nothing():
    assert sweep_amount(10 * USD, 0, SWEEP) == 0


def test_sweep__receiver_is_the_signer__clear_error():
    with pytest.raises(ValueError, match="signing key"):
        replace(SWEEP, receiver=SIGNER.lower())


def test_sweep__bad_inputs__clear_error():
    with pytest.raises(ValueError):
        replace(SWEEP, float_amount=-1)
    with pytest.raises(ValueError):
        replace(SWEEP, receiver="0x1234")
    with pytest.raises(ValueError):
        sweep_amount(-1, 0, SWEEP)


# ----------------------------- APPROVALS ------------------------------- #

BOUND = ApprovalPolicy(bound=50_000 * USD)


def test_approval__allowance_covers__nothing_to_do():
    assert approval_action(10_000 * USD, 10_000 * USD, BOUND) == ApprovalAction(ApprovalKind.NONE)


def test_approval__short__approves_the_bound_not_max():
    action = approval_action(1_000 * USD, 2_000 * USD, BOUND)
    assert (action.kind, action.amount) == (ApprovalKind.APPROVE, 50_000 * USD)


def test_approval__need_above_bound__refused():
    action = approval_action(0, 50_000 * USD + 1, BOUND)
    assert action.kind is ApprovalKind.REFUSE and "bound" in action.detail


def test_approval__usdt_style_token_with_leftover__reset_first():
    usdt = replace(BOUND, reset_first=True)
    assert approval_action(1, 2, usdt).kind is ApprovalKind.RESET_THEN_APPROVE
    assert approval_action(0, 2, usdt).kind is ApprovalKind.APPROVE


def test_approval__bad_values__clear_error():
    with pytest.raises(ValueError):
        ApprovalPolicy(bound=0)
    with pytest.raises(ValueError):
        approval_action(-1, 0, BOUND)


# ------------------------------ CONFIG --------------------------------- #




def test_config__receiver_set__sweep_policy_in_base_units():
    config = load_config(env={**CONFIG_ENV, "NAVLEND_KEEPER_PROFIT_RECEIVER": COLD.lower(),
                              "NAVLEND_KEEPER_SWEEP_FLOAT_USD": "5000"})
    policy = sweep_policy_from_config(config, SIGNER)
    assert policy == SweepPolicy(COLD, SIGNER, 5_000 * USD, 100 * USD)
    assert approval_policy_from_config(config) == ApprovalPolicy(bound=100_000 * USD)


def test_config__no_receiver__no_sweep():
    assert sweep_policy_from_config(load_config(env=CONFIG_ENV), SIGNER) is None


def test_config__receiver_is_signer__refused_at_start():
    config = load_config(env={**CONFIG_ENV, "NAVLEND_KEEPER_PROFIT_RECEIVER": SIGNER})
    with pytest.raises(ValueError, match="signing key"):
        sweep_policy_from_config(config, SIGNER)


def test_config__bad_receiver_or_bound__named():
    with pytest.raises(ConfigError) as err:
        load_config(env={**CONFIG_ENV, "NAVLEND_KEEPER_PROFIT_RECEIVER": "cold", "NAVLEND_KEEPER_SEIZE_APPROVAL_USD": "0"})
    assert {p.split(":")[0] for p in err.value.problems} == {"profit_receiver", "seize_approval_usd"}
