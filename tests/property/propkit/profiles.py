"""Hypothesis profiles of the property suite, selected by HYPOTHESIS_PROFILE.

=========  ================================================================
profile    use
=========  ================================================================
ci         default; inside ``make test``: about a minute, derandomized (the
           same examples on every run, so CI is deterministic)
dev        quick local loop (seconds)
audit      randomized, long sequences; the state machine runs round after
           round until ``NAVLEND_AUDIT_MINUTES`` (default 60) have passed,
           then every @given test runs 3,000 examples: ``make audit``
replay     re-runs the failing examples saved in the example database
           (``.hypothesis/examples``) and nothing else: ``phases=[explicit,
           reuse]``; pair with ``@reproduce_failure`` blobs (printed by
           every failure, ``print_blob=True``) pasted above the test
mutation   what devkit/tools/mutation.py runs against each mutant: small,
           derandomized, stops at the first failure
bench      what the benchmark runs: fixed example and step counts
=========  ================================================================

Every profile runs both fund decimals (6 and 18): the world lists a 6- and
two 18-decimal collateral assets and the rules draw among them.

``NAVLEND_PROPERTY_EXAMPLES`` / ``NAVLEND_PROPERTY_STEPS`` override the
stateful examples (per round) and steps of any profile.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, Verbosity, settings

_COMMON = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much, HealthCheck.differing_executors],
    print_blob=True,
)


@dataclass(frozen=True)
class Depth:
    """Per-profile sizes of the state machine and the @given tests."""

    examples: int
    steps: int
    given_examples: int


DEPTHS = {
    # Sized for the in-process revm chain (~650 steps/s on this machine
    # under load): ci is ~30,000 stateful steps, a mutant ~4,000.
    "ci": Depth(examples=300, steps=100, given_examples=300),
    "dev": Depth(examples=5, steps=30, given_examples=20),
    "audit": Depth(examples=1_000, steps=250, given_examples=3_000),
    "replay": Depth(examples=25, steps=60, given_examples=60),
    "mutation": Depth(examples=50, steps=80, given_examples=100),
    "bench": Depth(examples=10, steps=100, given_examples=10),
}

# Registered under a "navlend-" prefix and applied only to this suite's
# tests (never loaded globally), so that they cannot change the settings of
# the other suites' Hypothesis tests in the same `ape test tests` session.
_NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
_PROFILES = {
    # CI: derandomized (same examples every run) and no example database,
    # so the run is deterministic; a failure still shrinks and prints its
    # @reproduce_failure blob.
    "ci": dict(derandomize=True, database=None, **_COMMON),
    "dev": dict(derandomize=True, database=None, phases=_NO_SHRINK, **_COMMON),
    # audit: random, saves failures to the database (.hypothesis/examples).
    "audit": dict(derandomize=False, **_COMMON),
    # replay: only the saved failing examples (database) and explicit ones.
    "replay": dict(phases=[Phase.explicit, Phase.reuse, Phase.shrink], verbosity=Verbosity.verbose, **_COMMON),
    "mutation": dict(derandomize=True, database=None, phases=_NO_SHRINK, **{**_COMMON, "print_blob": False}),
    "bench": dict(derandomize=True, database=None, phases=[Phase.explicit, Phase.generate], **_COMMON),
}
for _name, _kw in _PROFILES.items():
    settings.register_profile("navlend-" + _name, **_kw)


def current() -> str:
    name = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    return name if name in DEPTHS else "ci"


def depth() -> Depth:
    d = DEPTHS[current()]
    ex = int(os.environ.get("NAVLEND_PROPERTY_EXAMPLES", d.examples))
    steps = int(os.environ.get("NAVLEND_PROPERTY_STEPS", d.steps))
    return Depth(examples=ex, steps=steps, given_examples=d.given_examples)


def time_budget() -> float | None:
    """Seconds the state machine keeps running new rounds (``audit`` only):
    ``NAVLEND_AUDIT_MINUTES``, default 60."""
    if current() != "audit":
        return None
    minutes = float(os.environ.get("NAVLEND_AUDIT_MINUTES", "60"))
    if minutes <= 0:
        raise ValueError("NAVLEND_AUDIT_MINUTES must be positive")
    return minutes * 60


def load() -> str:
    """Loads the profile named by HYPOTHESIS_PROFILE (default ``ci``)
    globally: for the benchmark and the mutation runner, never in pytest."""
    name = current()
    settings.load_profile("navlend-" + name)
    return name


def profile() -> settings:
    return settings.get_profile("navlend-" + current())


def stateful_settings() -> settings:
    d = depth()
    return settings(profile(), max_examples=d.examples, stateful_step_count=d.steps)


def given_settings(scale: float = 1.0) -> settings:
    return settings(profile(), max_examples=max(1, int(depth().given_examples * scale)))
