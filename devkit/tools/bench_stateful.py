"""Steps per second of the property suite's state machine (in-process revm).

    .venv/bin/python -m devkit.tools.bench_stateful [--runs 5] [--examples 10] [--steps 100]

Deploys the in-process world once (contracts from the artifact cache; the first
run compiles them), then runs the RuleBasedStateMachine ``--runs`` times
under the ``bench`` Hypothesis profile (derandomized: the same rule
sequences every run, no shrinking) and prints steps/second for each run
and their median. A step is one rule execution followed by the full
invariant check; the setup (deployment, compilation) is not timed.

Not a test: it prints numbers and exits 0. Run it on an idle machine; the
numbers scale with the CPU time the process gets.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from devkit.paths import ROOT

# The state machine is the property suite's (tests/property/propkit).
PROPKIT_PARENT = ROOT / "tests" / "property"


def bench(runs: int, examples: int, steps: int) -> list[float]:
    os.environ["HYPOTHESIS_PROFILE"] = "bench"
    if str(PROPKIT_PARENT) not in sys.path:
        sys.path.insert(0, str(PROPKIT_PARENT))
    # optional dependency: hypothesis is pyproject.toml's dev extra, not a dependency
    from hypothesis import settings, stateful

    # optional dependency: propkit (tests/property, on sys.path from above) needs the dev extra
    from propkit import machine, profiles, world

    profiles.load()
    t0 = time.perf_counter()
    world.shared_world()
    print(f"setup (artifacts + deployment): {time.perf_counter() - t0:.1f} s")
    MarketMachine = machine.MarketMachine
    rates = []
    for i in range(runs):
        MarketMachine.step_counter = 0
        MarketMachine.example_counter = 0
        t = time.perf_counter()
        stateful.run_state_machine_as_test(
            MarketMachine,
            settings=settings(profiles.stateful_settings(), max_examples=examples, stateful_step_count=steps),
        )
        dt = time.perf_counter() - t
        n = MarketMachine.step_counter
        rates.append(n / dt)
        print(f"run {i + 1}: {n} steps in {MarketMachine.example_counter} examples, {dt:.2f} s -> {n / dt:.0f} steps/s")
    return rates


def main_cli(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--examples", type=int, default=10)
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args(argv)
    rates = bench(args.runs, args.examples, args.steps)
    print(f"median: {statistics.median(rates):.0f} steps/s over {len(rates)} runs (cpus: {os.cpu_count()}, load: {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main_cli())
