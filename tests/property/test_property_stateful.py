"""The stateful property test: the market state machine under the selected
Hypothesis profile (HYPOTHESIS_PROFILE, default ``ci``).

See ``propkit/machine.py`` for the rules and ``propkit/invariants.py`` for
what is checked after every step; AUDIT.md maps each invariant to its check.

Replaying a failure: every failure prints a line
``@reproduce_failure('<version>', b'<blob>')``. Either paste that decorator
above ``class MarketMachine`` in propkit/machine.py, or, without editing
code::

    NAVLEND_REPRODUCE='<version>:<blob>' pytest tests/property -k state_machine

(``<blob>`` without the b'' quotes). Failures found by the ``audit``
profile are also saved in the example database (.hypothesis/examples) and
``HYPOTHESIS_PROFILE=replay`` re-runs exactly those.
"""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import pytest

from hypothesis import reproduce_failure
from hypothesis.stateful import run_state_machine_as_test
from propkit import profiles
from propkit.machine import MarketMachine

from navlend import model as M


def _machine() -> type:
    spec = os.environ.get("NAVLEND_REPRODUCE")
    if not spec:
        return MarketMachine
    version, blob = spec.split(":", 1)
    blob = blob.strip()
    if blob[:2] in ("b'", 'b"'):
        blob = blob[2:-1]
    replay = type("MarketMachineReplay", (MarketMachine,), {})
    return reproduce_failure(version, blob.encode())(replay)


def test_market_state_machine(evm_world):
    """One round of the profile's examples; under ``audit``, rounds of fresh
    random examples until the time budget is spent (each round replays the
    saved failures first)."""
    MarketMachine.world_factory = staticmethod(lambda: evm_world)
    budget = profiles.time_budget()
    start = time.monotonic()
    steps0, rounds = MarketMachine.step_counter, 0
    while True:
        run_state_machine_as_test(_machine(), settings=profiles.stateful_settings())
        rounds += 1
        if budget is None or time.monotonic() - start >= budget:
            break
    elapsed = time.monotonic() - start
    steps = MarketMachine.step_counter - steps0
    print(f"\nstate machine: {rounds} round(s), {steps} steps in {elapsed:.0f} s ({steps / max(elapsed, 1e-9):.0f} steps/s)")
    assert steps > 0



def _dust_equals_small_position() -> tuple[M.MarketModel, str, str, int, object]:
    """A position the market's preview refuses with "nothing to liquidate"
    for any repayment: dust floor = small-position limit = $1,000, a debt
    of exactly $1,000 (not above the dust floor), fund A worth $1,000 (the
    target, so the close factor halves the repayment) and $80 of fund B
    (health factor 0.972: liquidatable, above 0.95). The dust rule then
    trims the half to nothing."""
    m = M.MarketModel(base_decimals=6, owner=OWNER, guardian=OWNER, treasury=OWNER, small_position=1_000, dust_floor=1_000)
    m.assets = [M.Asset(token=t, exponent=8, ltv_bps=8_500, threshold_bps=9_000, bonus_bps=300, supply_cap=10**30,
                        price_cap=0, max_oracle_age=360_000) for t in (FUND_A, FUND_B)]
    m.collateral = {(BORROWER, 0): 1_000 * U, (BORROWER, 1): 80 * U}
    m.scaled, m.total_scaled, m.last_accrual = {BORROWER: 1_000 * U}, 1_000 * U, NOW
    return m, BORROWER, FUND_A, NOW, lambda asset_id: (10**8, NOW)


OWNER = "0x" + "0a" * 20
BORROWER = "0x" + "0b" * 20
FUND_A, FUND_B = "0x" + "aa" * 20, "0x" + "bb" * 20
NOW, U = 1_700_000_000, 10**6


def test_preview_repay__preview_reverts_nothing_to_liquidate__counts_zero():
    """A harness finding (a ``ci`` run): ``keeper_flash_liquidate_many``
    sized the keeper's loan from the model's ``preview_liquidation``, which
    reverts "nothing to liquidate" here, as the contract's preview does;
    the rule crashed instead of sizing the loan without that position."""
    m, borrower, token, now, feed = _dust_equals_small_position()
    with pytest.raises(M.ModelRevert, match="nothing to liquidate"):
        m.preview_liquidation(borrower, token, M.MAX_UINT256, now, feed)
    harness = SimpleNamespace(model=m, h=SimpleNamespace(feed=feed))
    assert MarketMachine._preview_repay(harness, borrower, token, now) == 0


def test_preview_repay__liquidatable__the_preview_repayment():
    """The same position under a $500 dust floor: the market repays the
    largest partial the dust rule allows, (1,000 - 500) / 1.03."""
    m, borrower, token, now, feed = _dust_equals_small_position()
    m.dust_floor = 500
    harness = SimpleNamespace(model=m, h=SimpleNamespace(feed=feed))
    assert MarketMachine._preview_repay(harness, borrower, token, now) == 500 * U * 10_000 // 10_300
