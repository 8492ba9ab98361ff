"""Several markets in one keeper: one decision loop over all of them, one
transaction manager (one signer, one nonce sequence, one store of the
transactions in flight, one set of brakes) shared by the markets.

- :class:`MarketTx`: one market's view of the shared
  :class:`keepers.txmanager.TxManager`, with the surface the
  :class:`keepers.keeper.Keeper` uses. Keys and positions are put under
  the market (``<market>/<borrower>``) on the way in and taken back out on
  the way out, so the same borrower in two markets is two positions, and a
  market's approval is its own; each market sees only its own
  transactions in flight. Its ``poll`` hands back what the fleet's one poll
  found for that market.
- :class:`Fleet`: one :class:`Keeper` per market (each its own reader,
  index, metrics labelled with its market and FlashLiquidator), driven
  together: per block the head is read once, the shared transaction
  manager polled once and the signer's balance read once, then each
  market's keeper works that same head (index sync, follow-up, scan,
  decisions, sends): the liquidatable positions of every market are
  decided on the same block and sent with consecutive nonces of the one
  signer. A NAV oracle event triggers every market listing that oracle
  (a fund listed in two markets moves both).

Built by ``keepers.wiring.build_fleet``; run by the liquidator bot when
``deployments`` names several markets' files (``keepers/markets.py``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from keepers.chain import BlockRef
from keepers.keeper import CONTEXT_REFRESH_BLOCKS, Keeper, ScanReport, StartupError
from keepers.metrics import HealthState, replacement_marks, replacements_between
from keepers.spending import SWEEP_LABEL, seize_repayments
from keepers.treasury import SweepPolicy
from keepers.txmanager import PendingTx, TxManager, TxOutcome, TxRequest, TxStatus
from keepers.types import LogRecord, Plan, Route, to_address

log = structlog.get_logger("keepers.fleet")

# Between a market and a key or position in the shared manager's keys.
KEY_SEP = "/"


class MarketTx:
    """One market's view of the signer's shared :class:`TxManager` (module
    docstring): what :class:`Keeper` and ``keepers.backrun`` call on
    ``keeper.tx``."""

    def __init__(self, shared: TxManager, market: str) -> None:
        self.shared = shared
        self.market = to_address(market)
        self.prefix = self.market.lower() + KEY_SEP
        self._polled: list[TxOutcome] = []

    # ---- keys

    def owns(self, key: str) -> bool:
        return key.startswith(self.prefix)

    def _in(self, name: str) -> str:
        return self.prefix + name

    def _out(self, name: str) -> str:
        return name[len(self.prefix):] if name.startswith(self.prefix) else name

    def wrap(self, request: TxRequest) -> TxRequest:
        """``request`` as the shared manager holds it (under the market)."""
        return replace(request, key=self._in(request.key), positions=tuple(self._in(p) for p in request.positions))

    def unwrap(self, request: TxRequest) -> TxRequest:
        """``request`` as the market's keeper made it."""
        return replace(request, key=self._out(request.key), positions=tuple(self._out(p) for p in request.positions))

    def _outcome(self, outcome: TxOutcome) -> TxOutcome:
        return replace(outcome, request=self.unwrap(outcome.request))

    # ---- the shared manager's settings

    @property
    def policy(self) -> Any:
        return self.shared.policy

    @property
    def dry_run(self) -> bool:
        return self.shared.dry_run

    @property
    def sender(self) -> Any:
        return self.shared.sender

    @property
    def address(self) -> str:
        return self.shared.address

    def clock(self) -> float:
        return self.shared.clock()

    # ---- this market's transactions in flight

    @property
    def pending(self) -> dict[str, PendingTx]:
        return {self._out(k): p for k, p in self.shared.pending.items() if self.owns(k)}

    def in_flight(self, key: str) -> bool:
        return self.shared.in_flight(self._in(key))

    def in_flight_positions(self) -> set[str]:
        return {self._out(p) for p in self.shared.in_flight_positions() if self.owns(p)}

    def expired_count(self) -> int:
        return sum(1 for p in self.pending.values() if p.cancelling and not p.gap_fill)

    def oldest_pending_age(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        return max((now - p.sent_at for p in self.pending.values()), default=0.0)

    # ---- sending

    def submit_many(self, requests: Sequence[TxRequest], block: int, base_fee: int, head: int) -> list[TxOutcome]:
        outcomes = self.shared.submit_many([self.wrap(r) for r in requests], block, base_fee, head)
        return [replace(o, request=r) for r, o in zip(requests, outcomes)]

    def send_unsimulated(self, requests: Sequence[TxRequest], gas_limits: Sequence[int], base_fee: int,
                         head: int) -> list[TxOutcome]:
        outcomes = self.shared.send_unsimulated([self.wrap(r) for r in requests], gas_limits, base_fee, head)
        return [replace(o, request=r) for r, o in zip(requests, outcomes)]

    # ---- following: the fleet polls once, each market takes its share

    def deliver(self, outcomes: Sequence[TxOutcome]) -> None:
        """This market's outcomes of the fleet's poll (still wrapped)."""
        self._polled.extend(self._outcome(o) for o in outcomes)

    def poll(self, head: int, base_fee: int) -> list[TxOutcome]:
        """What the fleet's poll of this block found for this market (the
        shared manager is polled once per block, by :meth:`Fleet.follow`)."""
        outcomes, self._polled = self._polled, []
        return outcomes


@dataclass
class FleetReport:
    """One block's work over every market."""

    block: int
    markets: dict[str, ScanReport] = field(default_factory=dict)
    skipped_block: bool = False
    error: str = ""

    def total(self, name: str) -> int:
        return sum(getattr(r, name) for r in self.markets.values())

    def as_metrics(self) -> dict[str, float]:
        return {
            "scanned": self.total("scanned"),
            "liquidatable": self.total("liquidatable"),
            "sent": self.total("sent"),
            "scan_seconds": round(sum(r.scan_seconds for r in self.markets.values()), 4),
        }


@dataclass
class Fleet:
    """One keeper per market over one signer's :class:`TxManager` (module
    docstring). Each keeper's ``tx`` is a :class:`MarketTx` over ``tx``."""

    keepers: tuple[Keeper, ...]
    tx: TxManager
    health: HealthState
    _busy: threading.Lock = field(default_factory=threading.Lock)
    # Stablecoin -> the market whose Spending sweeps it, and the policy
    # (taken from the markets' Spending at check_setup: the fleet sweeps).
    _sweeps: dict[str, tuple[Keeper, SweepPolicy]] = field(default_factory=dict)
    # Called at the start of each block (wiring: the shared getLogs's
    # cache is emptied, keepers/wiring_local.py SharedLogs).
    before_block: Callable[[], None] | None = None
    # The signer's balance and the block it was read at: read again only
    # when a transaction of the signer's is in flight or settled, or every
    # CONTEXT_REFRESH_BLOCKS (as a one-market keeper does).
    _balance_value: int | None = None
    _balance_at: int | None = None

    def __post_init__(self) -> None:
        self.keepers = tuple(self.keepers)
        if not self.keepers:
            raise ValueError("a fleet needs at least one market's keeper")
        markets = [k.reader.market for k in self.keepers]
        if len(set(markets)) != len(markets):
            raise ValueError(f"a market twice in one fleet: {markets}")
        signers = {k.signer for k in self.keepers}
        if signers != {to_address(self.tx.address)}:
            raise ValueError(f"the keepers' signers {sorted(signers)} are not the transaction manager's "
                             f"{self.tx.address}")
        for keeper in self.keepers:
            view = keeper.tx
            if not isinstance(view, MarketTx) or view.shared is not self.tx or view.market != keeper.reader.market:
                raise ValueError(f"market {keeper.reader.market}: its keeper's tx must be MarketTx(fleet.tx, market)")
        self.views: tuple[MarketTx, ...] = tuple(k.tx for k in self.keepers)  # type: ignore[misc]
        self._by_market = {k.reader.market: k for k in self.keepers}
        for keeper in self.keepers:
            keeper.elsewhere = partial(self.in_flight_elsewhere, keeper)

    def in_flight_elsewhere(self, keeper: Keeper) -> list[Plan]:
        """The plans in flight of the markets other than ``keeper``'s that
        draw on what it draws on: their redeem-route plans (a fund's
        facility serves every market listing it; ``decide`` counts a plan
        against the facility of its token) and their seize-route plans in
        the same stablecoin (the signer's balance)."""
        return [plan for other in self.keepers if other is not keeper for plan in other._in_flight_plans()
                if plan.route is not Route.SEIZE or other.base_token == keeper.base_token]

    @property
    def markets(self) -> tuple[str, ...]:
        return tuple(self._by_market)

    @property
    def reader(self) -> Any:
        """Where the head and the signer's balance are read (every market's
        reader is on the same node)."""
        return self.keepers[0].reader

    @property
    def signer(self) -> str:
        return self.keepers[0].signer

    def keeper_of(self, market: str) -> Keeper:
        try:
            return self._by_market[to_address(market)]
        except KeyError:
            raise KeyError(f"market {market} is not one of this keeper's {list(self._by_market)}") from None

    # ---------------------------------------------------------------- start

    def check_setup(self, *, require_flash: bool = True) -> None:
        """Every market's FlashLiquidator owned by the signer and bound to
        that market (``Keeper.check_setup``); every problem of every market
        in one StartupError. The profit sweep of a stablecoin is left to
        the fleet (:meth:`_sweep`: the signer's balance is every market's)."""
        problems = []
        for keeper in self.keepers:
            try:
                keeper.check_setup(require_flash=require_flash)
            except StartupError as err:
                problems.append(f"market {keeper.reader.market}: {err}")
        if problems:
            raise StartupError("; ".join(problems))
        for keeper in self.keepers:
            if keeper.spending is None or keeper.spending.sweep_policy is None:
                continue
            self._sweeps.setdefault(keeper.base_token, (keeper, keeper.spending.sweep_policy))
            # The fleet sweeps: a market's keeper alone would leave only its
            # own seize plans' stablecoin, not the other markets'.
            keeper.spending.sweep_policy = None
        log.info("markets checked", markets=list(self.markets), signer=self.signer)

    def backfill(self) -> int:
        """Every market's index to the head. Returns the logs applied."""
        return sum(keeper.backfill() for keeper in self.keepers)

    # ---------------------------------------------------------------- events

    def on_log(self, market: str, record: LogRecord) -> None:
        """A live log of ``market``: its keeper's index."""
        self.keeper_of(market).on_log(record)

    def listing(self, oracle: str) -> tuple[Keeper, ...]:
        """The markets whose NAV oracles include ``oracle``."""
        oracle = to_address(oracle)
        return tuple(k for k in self.keepers if oracle in k.config.nav_oracles)

    def on_nav_update(self, oracle: str, block_number: int | None = None) -> tuple[str, ...]:
        """A NAV oracle moved: a full scan on the next block in every market
        listing it. Returns those markets."""
        keepers = self.listing(oracle)
        if not keepers:
            log.warning("nav update of an oracle no market lists", oracle=oracle, block=block_number)
        for keeper in keepers:
            keeper.on_nav_update(block_number)
        return tuple(k.reader.market for k in keepers)

    def on_nav_pending(self, oracle: str, block_number: int | None = None) -> None:
        for keeper in self.listing(oracle):
            keeper.on_nav_pending(oracle, block_number)

    def on_pending_confirmed(self, oracle: str, block_number: int | None = None) -> FleetReport:
        """Every market listing ``oracle`` sends its prepared candidates,
        under the fleet's lock (one transaction manager)."""
        report = FleetReport(block=block_number if block_number is not None else -1)
        with self._busy:
            for keeper in self.listing(oracle):
                report.markets[keeper.reader.market] = keeper.on_pending_confirmed(oracle, block_number)
            self._update_health()
        return report

    def on_pending_rejected(self, oracle: str) -> None:
        for keeper in self.listing(oracle):
            keeper.on_pending_rejected(oracle)

    def backrun_pending(self) -> int:
        """Each market's pending-NAV candidates bundled behind their
        confirmation (``Keeper.backrun_pending``), under the fleet's lock:
        the markets share one transaction manager, which is not
        thread-safe. Nothing prepared: nothing waits."""
        if not any(keeper.pending_book.prepared for keeper in self.keepers):
            return 0
        with self._busy:
            sent = sum(keeper.backrun_pending() for keeper in self.keepers)
            self._update_health()
            return sent

    # ---------------------------------------------------------------- blocks

    def on_block(self, number: int | None = None, head: BlockRef | None = None,
                 work: Callable[[Keeper, BlockRef, int | None], ScanReport] | None = None) -> FleetReport:
        """One block over every market: the head read once, the shared
        transaction manager polled once and the signer's balance read once
        (``head``: the block the bot's block task was handed, not read again);
        then each market's keeper at that head (``work(keeper, head,
        balance)``; by default ``Keeper.on_block``: the keeper on several
        hosts' submitter drains the scanners' queue instead, keepers/hostsubmit.py).
        A block that arrives while the previous one is worked is skipped."""
        report = FleetReport(block=number if number is not None else -1)
        if not self._busy.acquire(blocking=False):
            for keeper in self.keepers:
                keeper.metrics.skipped_blocks.inc()
            report.skipped_block = True
            return report
        try:
            try:
                head = head if head is not None else self.reader.head()
            except Exception as err:
                report.error = str(err)[:300]
                for keeper in self.keepers:
                    keeper.fault("block", err, block=number)
                return report
            report.block = head.number
            if self.before_block is not None:
                self.before_block()
            pending_before = bool(self.tx.pending)
            mined = self.follow(head)
            balance = self._balance(head, moved=pending_before or bool(self.tx.pending))
            for keeper in self.keepers:
                if work is None:
                    report.markets[keeper.reader.market] = keeper.on_block(head.number, head=head, balance=balance)
                else:
                    report.markets[keeper.reader.market] = work(keeper, head, balance)
            if mined:
                self._sweep(head, mined)
            self._update_health()
            return report
        finally:
            self._busy.release()

    def _update_health(self) -> None:
        """``/healthz``'s transactions in flight: the signer's, every
        market's (each market's keeper writes only its own into the shared
        health state; the last one would hide a stuck transaction of
        another)."""
        tx = self.tx
        self.health.set_pending(len(tx.pending), tx.expired_count(), tx.oldest_pending_age(tx.clock()))

    def follow(self, head: BlockRef) -> set[str]:
        """The shared manager polled once as of ``head``; each outcome
        handed to its market (recorded and settled by that market's keeper
        in its ``follow``); the fee bumps and cancels counted per market.
        Returns the stablecoins of the markets with a transaction mined
        (other than a sweep): the profit to sweep is in them."""
        marks = [replacement_marks(view.pending) for view in self.views]
        mined: set[str] = set()
        try:
            outcomes = self.tx.poll(head.number, head.base_fee)
        except Exception as err:
            self.keepers[0].fault("follow", err, block=head.number)
            return mined
        finally:
            for keeper, view, before in zip(self.keepers, self.views, marks):
                keeper.metrics.count_replacements(replacements_between(before, replacement_marks(view.pending)))
        for outcome in outcomes:
            owner = next((k for k, v in zip(self.keepers, self.views) if v.owns(outcome.request.key)), None)
            if owner is not None:
                owner.tx.deliver([outcome])  # type: ignore[union-attr]
                if outcome.status is TxStatus.MINED and outcome.request.label != SWEEP_LABEL:
                    mined.add(owner.base_token)
                continue
            # A transaction of no market (a store written by a one-market
            # keeper): its cost still counts against the brakes.
            log.warning("transaction of no market settled", key=outcome.request.key, status=outcome.status.value,
                        tx=outcome.tx_hash, nonce=outcome.nonce, block=head.number)
            spending = self.keepers[0].spending
            if spending is not None:
                spending.settle(outcome)
        return mined

    def _sweep(self, head: BlockRef, tokens: set[str]) -> None:
        """The profit in each of ``tokens`` above the float goes to the
        profit receiver, leaving what every market's seize plans in flight
        may still pull from the signer (``Spending.sweep``), sent through
        the market that sweeps that stablecoin."""
        for token in sorted(tokens):
            entry = self._sweeps.get(token)
            if entry is None:
                continue
            keeper, policy = entry
            spending = keeper.spending
            assert spending is not None and keeper.tx is not None
            try:
                stable = keeper.reader.erc20_balance(token, self.signer, head.number)
                in_flight = sum(seize_repayments(k._in_flight_plans()) for k in self.keepers if k.base_token == token)
                spending.sweep_policy = policy
                try:
                    request = spending.sweep(stable, in_flight)
                finally:
                    spending.sweep_policy = None
                if request is None or keeper.tx.in_flight(request.key):
                    continue
                (outcome,) = keeper.tx.submit_many([request], head.number, head.base_fee, head.number)
                log.info("profit sweep", block=head.number, market=keeper.reader.market, status=outcome.status.value,
                         tx=outcome.tx_hash, reason=outcome.reason, in_flight=in_flight, **request.context)
            except Exception as err:
                keeper.fault("sweep", err, block=head.number, token=token)

    def _balance(self, head: BlockRef, moved: bool) -> int | None:
        """The signer's balance at the head, read once for every market,
        and only when ``moved`` (a transaction of the signer's in flight or
        just settled), never read, or older than CONTEXT_REFRESH_BLOCKS;
        else the last one read. None when the read fails: each keeper
        reads it, and faults."""
        fresh = (self._balance_at is not None and self._balance_value is not None
                 and head.number - self._balance_at < CONTEXT_REFRESH_BLOCKS)
        if fresh and not moved:
            return self._balance_value
        try:
            self._balance_value = self.reader.native_balance(self.signer)
        except Exception as err:
            self.keepers[0].fault("balance", err, block=head.number)
            self._balance_value = self._balance_at = None
            return None
        self._balance_at = head.number
        return self._balance_value


__all__ = ["KEY_SEP", "Fleet", "FleetReport", "MarketTx"]
