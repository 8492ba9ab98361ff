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

from hypothesis import reproduce_failure
from hypothesis.stateful import run_state_machine_as_test
from propkit import profiles
from propkit.machine import MarketMachine


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
