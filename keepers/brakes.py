"""Brakes on what the keeper spends: checked before every send, each
answering a typed :class:`BrakeDecision` (allowed, or refused with a
:class:`Refusal`) that the keeper logs and counts before going on.

- gas budgets per transaction, per rolling hour and per rolling day, in
  wei actually paid (:func:`receipt_cost_wei`: ``gasUsed x
  effectiveGasPrice`` plus an OP-stack receipt's ``l1Fee``);
- a halt after ``max_consecutive_failures`` failed sends in a row
  (reverted or dropped), with an alert (a structlog error and the
  ``keeper_brakes_halted`` gauge) until an operator resets it;
- a kill switch at run time: a file whose presence refuses every send,
  and an operator halt/resume (:func:`install_signal_handlers`: SIGUSR1
  halts, SIGUSR2 resumes);
- a balance floor below which nothing is sent.

The rules are pure functions (:func:`budget_decision`,
:func:`window_spent`, :func:`effective_dry_run`); :class:`Brakes` holds the
little state they need (the spends of the last day, the failure streak,
the operator's halt) and asks the file system for the kill file.
"""

from __future__ import annotations

import enum
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

if TYPE_CHECKING:
    from keepers.config import KeeperConfig

HOUR = 3_600
DAY = 86_400

log = structlog.get_logger("keepers.brakes")


class Refusal(enum.Enum):
    """Why a send is refused. The value is the metric label and log field."""

    KILL_FILE = "kill_file"
    OPERATOR_HALT = "operator_halt"
    FAILURE_HALT = "failure_halt"
    BALANCE_FLOOR = "balance_below_floor"
    TX_BUDGET = "tx_budget"
    HOURLY_BUDGET = "hourly_budget"
    DAILY_BUDGET = "daily_budget"


@dataclass(frozen=True)
class BrakeDecision:
    allowed: bool
    reason: Refusal | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        if self.allowed != (self.reason is None):
            raise ValueError("a decision is allowed exactly when it has no refusal reason")


ALLOWED = BrakeDecision(True)


def refused(reason: Refusal, detail: str = "") -> BrakeDecision:
    return BrakeDecision(False, reason, detail)


@dataclass(frozen=True)
class BrakeLimits:
    """The limits, in wei. ``None`` turns a budget off (a local chain);
    ``kill_file`` None: no file switch."""

    max_tx_wei: int | None
    max_hour_wei: int | None
    max_day_wei: int | None
    max_consecutive_failures: int
    balance_floor_wei: int
    kill_file: Path | None = None

    def __post_init__(self) -> None:
        problems = []
        for name in ("max_tx_wei", "max_hour_wei", "max_day_wei"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                problems.append(f"{name} must be a positive integer or None, got {value!r}")
        if not isinstance(self.max_consecutive_failures, int) or self.max_consecutive_failures < 1:
            problems.append(f"max_consecutive_failures must be >= 1, got {self.max_consecutive_failures!r}")
        if not isinstance(self.balance_floor_wei, int) or self.balance_floor_wei < 0:
            problems.append(f"balance_floor_wei must be >= 0, got {self.balance_floor_wei!r}")
        tx, hour, day = self.max_tx_wei, self.max_hour_wei, self.max_day_wei
        if tx is not None and hour is not None and tx > hour:
            problems.append(f"max_tx_wei {tx} is above max_hour_wei {hour}")
        if hour is not None and day is not None and hour > day:
            problems.append(f"max_hour_wei {hour} is above max_day_wei {day}")
        if problems:
            raise ValueError("; ".join(problems))


def limits_from_config(config: KeeperConfig) -> BrakeLimits:
    """The brakes of ``config`` (``max_gas_per_*_eth``,
    ``max_consecutive_failures``, ``balance_floor_eth``, ``kill_file``)."""
    return BrakeLimits(
        max_tx_wei=config.budget_wei("max_gas_per_tx_eth"),
        max_hour_wei=config.budget_wei("max_gas_per_hour_eth"),
        max_day_wei=config.budget_wei("max_gas_per_day_eth"),
        max_consecutive_failures=config.max_consecutive_failures,
        balance_floor_wei=config.balance_floor_wei,
        kill_file=config.kill_file,
    )


# ---------------------------------------------------------------- #
#                            PURE RULES                             #
# ---------------------------------------------------------------- #


@dataclass(frozen=True)
class Spend:
    at: float  # unix seconds the receipt was seen
    wei: int


def receipt_cost_wei(receipt: Mapping[str, Any]) -> int:
    """What a mined transaction cost its sender: ``gasUsed x
    effectiveGasPrice``, plus ``l1Fee`` (OP-stack receipts carry it; a
    reverted transaction pays both too). Hex strings or integers."""

    def number(key: str, required: bool = True) -> int:
        value = receipt.get(key)
        if value is None:
            if required:
                raise ValueError(f"receipt has no {key}")
            return 0
        n = int(value, 16) if isinstance(value, str) else int(value)
        if n < 0:
            raise ValueError(f"receipt {key} is negative: {value!r}")
        return n

    return number("gasUsed") * number("effectiveGasPrice") + number("l1Fee", required=False)


def window_spent(spends: Iterable[Spend], now: float, window: float) -> int:
    """Wei spent in the ``window`` seconds up to ``now``."""
    return sum(s.wei for s in spends if now - window < s.at <= now)


def budget_decision(
    spends: Iterable[Spend], now: float, tx_cost_wei: int, limits: BrakeLimits, reserved_wei: int = 0
) -> BrakeDecision:
    """Whether a transaction that may cost ``tx_cost_wei`` (its gas limit
    at its max fee, plus the L1 fee) fits the budgets. ``reserved_wei`` is
    what the keeper's transactions in flight may still cost (not mined, so
    not in ``spends``): a block's sends count against the hour before
    their receipts arrive, so one block cannot overrun a budget."""
    if tx_cost_wei < 0 or reserved_wei < 0:
        raise ValueError(f"tx_cost_wei and reserved_wei must be >= 0, got {tx_cost_wei}, {reserved_wei}")
    if limits.max_tx_wei is not None and tx_cost_wei > limits.max_tx_wei:
        return refused(Refusal.TX_BUDGET, f"may cost {tx_cost_wei} wei > {limits.max_tx_wei} per transaction")
    spends = list(spends)
    for limit, window, reason, name in (
        (limits.max_hour_wei, HOUR, Refusal.HOURLY_BUDGET, "hour"),
        (limits.max_day_wei, DAY, Refusal.DAILY_BUDGET, "day"),
    ):
        if limit is None:
            continue
        spent = window_spent(spends, now, window) + reserved_wei
        if spent + tx_cost_wei > limit:
            return refused(
                reason, f"spent {spent} wei in the last {name} (in flight included) + {tx_cost_wei} > {limit}"
            )
    return ALLOWED


def balance_decision(balance_wei: int, tx_cost_wei: int, floor_wei: int) -> BrakeDecision:
    """Nothing is sent when the balance, or what this send would leave of
    it, is below the floor."""
    if balance_wei - tx_cost_wei < floor_wei:
        return refused(
            Refusal.BALANCE_FLOOR, f"balance {balance_wei} wei - cost {tx_cost_wei} < floor {floor_wei}"
        )
    return ALLOWED


# Networks where sending is harmless by default: Ape's local network and
# its forks ("mainnet-fork", "sepolia-fork").
LOCAL_NETWORKS = frozenset({"local"})


@dataclass(frozen=True)
class DryRun:
    dry_run: bool
    why: str


def network_name(network: str) -> str:
    """The network part of an Ape choice: ``ethereum:mainnet:alchemy`` ->
    ``mainnet``; a bare name is itself."""
    if not isinstance(network, str) or not network.strip():
        raise ValueError(f"network must be a non-empty string, got {network!r}")
    parts = network.strip().split(":")
    return (parts[1] if len(parts) >= 2 else parts[0]).lower()


def is_local(network: str) -> bool:
    name = network_name(network)
    return name in LOCAL_NETWORKS or name.endswith("-fork")


def effective_dry_run(network: str, live_flag: bool, config_dry_run: bool) -> DryRun:
    """Dry run is the default off local networks: a real network sends
    only with ``--live``. A configured dry run always wins (``--live``
    does not override an explicit ``dry_run = true``)."""
    if config_dry_run:
        return DryRun(True, "dry_run set in the configuration")
    if is_local(network):
        return DryRun(False, f"local network {network_name(network)}")
    if live_flag:
        return DryRun(False, f"--live on {network_name(network)}")
    return DryRun(True, f"{network_name(network)} is not local and --live was not given")


# ---------------------------------------------------------------- #
#                              STATE                                #
# ---------------------------------------------------------------- #


class SendOutcome(enum.Enum):
    SUCCEEDED = "succeeded"
    REVERTED = "reverted"
    DROPPED = "dropped"


class BrakeMetrics:
    """The brakes' metrics, on the keeper's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.refused = Counter(
            "keeper_brakes_refused_total", "Sends refused by a brake, by reason.", ["reason"], registry=registry
        )
        self.halted = Gauge(
            "keeper_brakes_halted", "1 while sending is halted (failures or the operator).", registry=registry
        )
        self.failure_halts = Counter(
            "keeper_brakes_failure_halts_total", "Halts after consecutive failed sends.", registry=registry
        )
        self.spent_hour = Gauge("keeper_brakes_spent_hour_wei", "Gas paid in the last hour, wei.", registry=registry)
        self.spent_day = Gauge("keeper_brakes_spent_day_wei", "Gas paid in the last day, wei.", registry=registry)


class Brakes:
    """The brakes' state: spends of the last day, the failure streak, the
    failure halt and the operator's halt. ``check`` before each send;
    ``record_receipt`` / ``record_outcome`` after each settles.

    Thread-safe (the keeper checks from its send pool): the spends are
    behind a lock. The operator flag is a plain attribute that :meth:`halt`
    / :meth:`resume` set and nothing else, so a signal handler may call
    them (no lock, no metric, no log there: :meth:`check` exports and
    reports the halt)."""

    def __init__(
        self,
        limits: BrakeLimits,
        metrics: BrakeMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits
        self.metrics = metrics
        self._clock = clock
        self._spends: deque[Spend] = deque()
        self._lock = threading.Lock()
        self.consecutive_failures = 0
        self.failure_halted = False
        self.operator_halted = False

    # -- before a send --

    def check(self, tx_cost_wei: int, balance_wei: int, reserved_wei: int = 0) -> BrakeDecision:
        """The first brake that refuses, or allowed. Order: the operator's
        switches, the failure halt, the balance floor, the budgets.
        ``reserved_wei``: what the transactions in flight may still cost;
        it comes off the balance and counts against the budgets."""
        now = self._clock()
        decision = self._decide(now, tx_cost_wei, balance_wei, reserved_wei)
        self._export_halted()
        if not decision.allowed and self.metrics is not None:
            self.metrics.refused.labels(reason=decision.reason.value).inc()  # type: ignore[union-attr]
        return decision

    def _decide(self, now: float, tx_cost_wei: int, balance_wei: int, reserved_wei: int) -> BrakeDecision:
        if self.limits.kill_file is not None and self.limits.kill_file.exists():
            return refused(Refusal.KILL_FILE, f"{self.limits.kill_file} exists")
        if self.operator_halted:
            return refused(Refusal.OPERATOR_HALT, "halted by the operator (SIGUSR2 or resume() to go on)")
        if self.failure_halted:
            return refused(
                Refusal.FAILURE_HALT,
                f"{self.consecutive_failures} failed sends in a row (reset() after looking into it)",
            )
        floor = balance_decision(balance_wei - reserved_wei, tx_cost_wei, self.limits.balance_floor_wei)
        if not floor.allowed:
            return floor
        with self._lock:
            self._forget(now)
            spends = list(self._spends)
        return budget_decision(spends, now, tx_cost_wei, self.limits, reserved_wei)

    # -- after a send settles --

    def record_receipt(self, receipt: Mapping[str, Any]) -> int:
        """Counts a mined transaction's cost (success or revert); returns it."""
        return self.record_spend(receipt_cost_wei(receipt))

    def record_spend(self, wei: int) -> int:
        if wei < 0:
            raise ValueError(f"a spend is >= 0 wei, got {wei}")
        now = self._clock()
        with self._lock:
            self._spends.append(Spend(now, wei))
            self._forget(now)
            spends = list(self._spends)
        if self.metrics is not None:
            self.metrics.spent_hour.set(window_spent(spends, now, HOUR))
            self.metrics.spent_day.set(window_spent(spends, now, DAY))
        return wei

    def record_outcome(self, outcome: SendOutcome, **context: Any) -> None:
        """A success ends the streak; a revert or a drop extends it, and the
        ``max_consecutive_failures``-th halts sending with an alert."""
        if outcome is SendOutcome.SUCCEEDED:
            self.consecutive_failures = 0
            return
        self.consecutive_failures += 1
        if self.consecutive_failures >= self.limits.max_consecutive_failures and not self.failure_halted:
            self.failure_halted = True
            log.error(
                "brakes: sending halted after consecutive failed sends",
                alert=True,
                failures=self.consecutive_failures,
                last_outcome=outcome.value,
                **context,
            )
            if self.metrics is not None:
                self.metrics.failure_halts.inc()
            self._export_halted()

    # -- the operator --

    def reset(self) -> None:
        """Clears the failure halt and its streak (the operator looked)."""
        was = self.failure_halted
        self.failure_halted = False
        self.consecutive_failures = 0
        if was:
            log.warning("brakes: failure halt reset by the operator")
        self._export_halted()

    def halt(self) -> None:
        """The operator's halt (safe in a signal handler: a flag only)."""
        self.operator_halted = True

    def resume(self) -> None:
        self.operator_halted = False

    @property
    def halted(self) -> bool:
        return self.operator_halted or self.failure_halted

    def spent(self, window: float) -> int:
        with self._lock:
            spends = list(self._spends)
        return window_spent(spends, self._clock(), window)

    def _forget(self, now: float) -> None:
        while self._spends and self._spends[0].at <= now - DAY:
            self._spends.popleft()

    def _export_halted(self) -> None:
        if self.metrics is not None:
            self.metrics.halted.set(1 if self.halted else 0)


def install_signal_handlers(
    brakes: Brakes, halt_signal: int = signal.SIGUSR1, resume_signal: int = signal.SIGUSR2
) -> Callable[[], None]:
    """``halt_signal`` halts sending, ``resume_signal`` resumes it (the
    operator's halt only: a failure halt needs :meth:`Brakes.reset`).
    Must run in the main thread. Returns a function restoring the previous
    handlers."""
    if halt_signal == resume_signal:
        raise ValueError("halt and resume need two different signals")

    def on_halt(signum: int, frame: Any) -> None:
        brakes.halt()

    def on_resume(signum: int, frame: Any) -> None:
        brakes.resume()

    previous = {halt_signal: signal.signal(halt_signal, on_halt), resume_signal: signal.signal(resume_signal, on_resume)}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore
