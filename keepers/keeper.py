"""The liquidation keeper's engine: what happens at start, on a block, on a
market log and on a NAV update. It wires the pure modules (``schedule``,
``decide``, ``index``) to the edges (``chain``, ``txmanager``, ``metrics``)
and knows nothing of Silverback, so the bot (``keepers/bots/liquidator.py``), the
sharded workers and the benchmark drive the same code.

Fault policy: every entry point catches what a node can throw (connection
refused while it restarts, timeouts, reverts), logs it with its context,
counts it in ``keeper_rpc_errors_total`` and returns, so that Silverback's
``max_exceptions`` halt means a real bug. Only the start-up checks raise
(:class:`StartupError`): a keeper without a usable signer or
FlashLiquidator must not run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from hexbytes import HexBytes

from keepers import backrun
from keepers.chain import (
    BATCH_LIQUIDATED_TOPIC,
    LIQUIDATED_TOPIC,
    LIQUIDATION_SKIPPED_TOPIC,
    BlockRef,
    CallReverted,
    ChainReader,
    decode_batch_liquidated,
    decode_liquidated_profit,
    decode_skipped_reason,
    encode_flash_liquidate,
    encode_flash_liquidate_gathered,
    encode_flash_liquidate_many,
    encode_market_liquidate,
)
from keepers.backfill import backfill_index
from keepers.config import KeeperConfig
from keepers.decide import (
    MAX_BATCH,
    ProfitPolicy,
    at_risk,
    batch_loan,
    batch_min_profit,
    batch_plans,
    decide_block,
    gather_groups,
    gather_members,
    plan_gathered,
    still_liquidatable,
    with_gathered,
)
from keepers.index import PositionIndex
from keepers.localkeeper import LocalScanner, compaction_due
from keepers.metrics import HealthState, KeeperMetrics, replacement_marks, replacements_between
from keepers.profit import price_batch
from keepers.rpc_policy import ChunkPolicy, ChunkState
from keepers.schedule import ScanPolicy, accounts_to_scan, forget_closed, record_scan
from keepers.spending import (
    APPROVAL_LABEL,
    SWEEP_LABEL,
    Spending,
    seize_need,
    seize_repayments,
    split_by_allowance,
    with_profit,
)
from keepers.treasury import ApprovalKind
from keepers.txmanager import RevertKind, TxManager, TxOutcome, TxRequest, TxStatus
from keepers.types import (
    AccountHealth,
    Decision,
    ExecutionContext,
    GatheredBatch,
    LogRecord,
    MarketTerms,
    Plan,
    Route,
    ScanRecord,
    to_address,
)
from navlend import abi

log = structlog.get_logger("keepers.keeper")

# Blocks between refreshes of the signer's allowlisting and balances.
CONTEXT_REFRESH_BLOCKS = 20


class StartupError(RuntimeError):
    """The keeper cannot run as configured (the message says why)."""


@dataclass
class ScanReport:
    """What one block's work did (returned to Silverback as metrics)."""

    block: int
    scanned: int = 0
    liquidatable: int = 0
    at_risk: int = 0
    sent: int = 0
    skipped: int = 0
    scan_seconds: float = 0.0
    skipped_block: bool = False
    error: str = ""

    def as_metrics(self) -> dict[str, float]:
        return {
            "scanned": self.scanned,
            "liquidatable": self.liquidatable,
            "sent": self.sent,
            "scan_seconds": round(self.scan_seconds, 4),
        }


@dataclass
class _SignerContext:
    refreshed_at: int = -(10**9)
    stable_balance: int = 0
    allowlisted: frozenset[str] = frozenset()
    frozen: frozenset[str] = frozenset()


@dataclass
class Keeper:
    """One market's keeper. ``tx`` is None for a scan-only process (a
    sharded worker that forwards candidates with ``forward``)."""

    config: KeeperConfig
    reader: ChainReader
    index: PositionIndex
    tx: TxManager | None
    metrics: KeeperMetrics
    health: HealthState
    signer: str
    base_token: str = ""
    forward: Callable[[int, list[AccountHealth]], None] | None = None
    flash_ready: bool = False
    # The FlashLiquidator has liquidate_gathered (check_setup probes it).
    flash_gathers: bool = False
    last: dict[str, ScanRecord] = field(default_factory=dict)
    _nav_trigger: bool = True
    _touched: set[str] = field(default_factory=set)
    _recent_hashes: dict[int, str] = field(default_factory=dict)
    _busy: threading.Lock = field(default_factory=threading.Lock)
    _signer_ctx: _SignerContext = field(default_factory=_SignerContext)
    _sent_plans: dict[str, Plan] = field(default_factory=dict)
    # Positions per FlashLiquidator.liquidate_many (1: one per transaction).
    batch_size: int = 1
    # Brakes, the live profit model and the treasury (None: the config's
    # fixed figures and no brake, as a scan-only worker needs).
    spending: Spending | None = None
    # Candidates prepared on a pending NAV (keepers/backrun.py).
    pending_book: backrun.PendingBook = field(default_factory=backrun.PendingBook)
    # The getLogs chunk size the provider takes, kept from call to call.
    _chunk: ChunkState | None = None
    # Health from the index (keepers/localkeeper.py; wiring attaches it
    # when local_health is on): None scans every position through the Lens.
    local: LocalScanner | None = None
    _compacted_at: int | None = None
    _balance_at: int | None = None
    # The plans in flight of the other markets sharing this signer, its
    # stablecoin and the funds' facilities (keepers/fleet.py); None: one market.
    elsewhere: Callable[[], list[Plan]] | None = None

    def __post_init__(self) -> None:
        self.scan_policy = ScanPolicy.from_config(self.config)
        self.profit_policy = ProfitPolicy.from_config(self.config)
        self.signer = to_address(self.signer)
        self.batch_size = self.config.liquidation_batch_size

    # ---------------------------------------------------------------- start

    def check_setup(self, *, require_flash: bool = True) -> None:
        """Fails fast when the FlashLiquidator is missing, not owned by the
        signer, or bound to another market."""
        flash = self.config.flash_liquidator
        problems = []
        if not flash:
            problems.append("no flash_liquidator configured")
        elif self.reader.code_size(flash) == 0:
            problems.append(f"no contract at flash_liquidator {flash}")
        else:
            owner = self.reader.owner_of(flash)
            if owner != self.signer:
                problems.append(f"flash_liquidator {flash} is owned by {owner}, not the signer {self.signer}")
            market = self.reader.read_address(flash, abi.function("FlashLiquidator", "MARKET"))
            if market != self.reader.market:
                problems.append(f"flash_liquidator {flash} serves market {market}, not {self.reader.market}")
        if problems and require_flash:
            raise StartupError("; ".join(problems))
        self.flash_ready = not problems
        if self.flash_ready:
            self.flash_gathers = self.reader.has_liquidate_gathered(flash)
            if not self.flash_gathers:
                log.warning("the FlashLiquidator has no liquidate_gathered: no gathered batches",
                            flash_liquidator=flash)
        if self.flash_ready and self.batch_size > 1:
            self.batch_size = self._flash_batch_limit(flash, self.batch_size)
        self.base_token = self.reader.read_address(self.reader.market, abi.function("IMarketViews", "asset"))
        if self.spending is not None:
            self.spending.base_token = self.base_token

    def _flash_batch_limit(self, flash: str, wanted: int) -> int:
        """The batch size the FlashLiquidator takes: ``wanted``, capped at
        its ``MAX_BATCH``; 1 (a transaction per position) for one deployed
        before ``liquidate_many`` existed, with a warning."""
        limit = self.reader.optional_uint(flash, abi.function("FlashLiquidator", "MAX_BATCH"))
        if limit == 0:
            log.warning("the FlashLiquidator has no liquidate_many: one transaction per position",
                        flash_liquidator=flash, liquidation_batch_size=wanted)
            return 1
        if wanted > limit:
            log.warning("liquidation_batch_size above the FlashLiquidator's MAX_BATCH; capped",
                        wanted=wanted, max_batch=limit)
        return min(wanted, limit, MAX_BATCH)

    def backfill(self) -> int:
        """Brings the index to the head from its checkpoint (a restart
        resumes, it does not rescan). Returns the logs applied."""
        head = self.reader.head()
        start = self.index.resume_block()
        if self.local is not None:
            # An index built before health inputs existed: its inputs read once.
            self.local.backfill_inputs(self.index.start_block, start - 1, self.config.backfill_chunk_blocks)
        logs, applied = self._catch_up(head)
        self._recent_hashes[head.number] = head.hash
        self.metrics.index_checkpoint.set(head.number)
        self.metrics.positions_tracked.set(len(self.index.open_accounts()))
        log.info("backfilled", start=start, head=head.number, logs=logs, applied=applied,
                 open=len(self.index.open_accounts()))
        return applied

    def _catch_up(self, head: BlockRef) -> tuple[int, int]:
        """The index brought from its checkpoint to ``head`` in ``getLogs``
        chunks (``keepers.backfill``): each chunk applied and checkpointed
        before the next is fetched, the chunk halved on a range refusal
        only and grown back, a 429 waited out. An error leaves the
        checkpoint at the last chunk applied (the next call resumes
        there). Returns (logs read, logs applied)."""
        size = self.config.backfill_chunk_blocks
        applied = [0]

        def on_applied(result: Any) -> None:
            self._touched |= result.touched
            applied[0] += result.applied

        def on_chunk(result: Any) -> None:
            on_applied(result)
            if self.local is not None and self.local.applied(head):
                self._nav_trigger = True  # a price moved (the Lens path's full scan, if it falls back)

        result = backfill_index(
            self.index, fetch=self.local.fetch if self.local is not None else self.reader.market_logs_once,
            head=head.number, head_hash=head.hash, policy=ChunkPolicy(initial=size, maximum=size),
            on_applied=on_chunk, state=self._chunk,
        )
        self._chunk = result.chunk_state
        return result.logs, applied[0]

    # ---------------------------------------------------------------- events

    def on_log(self, record: LogRecord) -> None:
        """A live market log (``removed`` ones undo their effect)."""
        try:
            result = self.index.apply([record])
            self._touched |= result.touched
            if record.removed:
                self.metrics.reorgs.inc()
                log.warning("log removed by a reorg; undone", block=record.block_number,
                            borrower=record.account, event=record.event.value, undone=result.undone)
        except Exception as err:
            self.fault("apply_log", err, block=record.block_number)

    def on_nav_update(self, block_number: int | None = None) -> None:
        """A NAV oracle moved: the next scan reads every open position."""
        self._nav_trigger = True
        log.info("nav update: full scan on the next block", block=block_number)

    # ---------------------------------------------------------------- pending NAV (keepers/backrun.py)

    def on_nav_pending(self, oracle: str, block_number: int | None = None) -> None:
        """A NAV oracle parked a large move: the positions it would sink are
        prepared, to be sent when the guardian confirms it."""
        if self.tx is None or not self.config.pending_nav_plans:
            return
        try:
            block = block_number if block_number is not None else self.reader.head().number
            backrun.on_nav_pending(self, self.pending_book, oracle, block)
        except Exception as err:
            self.fault("nav_pending", err, block=block_number, oracle=oracle)

    def on_pending_confirmed(self, oracle: str, block_number: int | None = None) -> ScanReport:
        """The pending NAV applied: a full scan on the next block, as for any
        NAV update, and the prepared candidates re-read and sent now."""
        self.on_nav_update(block_number)
        report = ScanReport(block=block_number if block_number is not None else -1)
        if self.tx is None or not self.config.pending_nav_plans:
            return report
        with self._busy:
            try:
                backrun.on_pending_confirmed(self, self.pending_book, oracle, block_number, report)
            except Exception as err:
                report.error = str(err)[:300]
                self.fault("pending_confirmed", err, block=block_number, oracle=oracle)
            self._update_pending_metrics()
        return report

    def on_pending_rejected(self, oracle: str) -> None:
        backrun.rejected(self.pending_book, oracle)

    def backrun_pending(self) -> int:
        """While candidates are prepared and the bundle route is set: a
        guardian's confirmation seen in the pool gets the candidates bundled
        right behind it (``backrun.backrun_confirmation``). Returns how many
        positions were sent."""
        if self.tx is None or not self.pending_book.prepared:
            return 0
        sent = 0
        with self._busy:
            for oracle in list(self.pending_book.prepared):
                try:
                    sent += backrun.backrun_confirmation(self, self.pending_book, oracle)
                except Exception as err:
                    self.fault("backrun", err, oracle=oracle)
            self._update_pending_metrics()
        return sent

    # ---------------------------------------------------------------- blocks

    def on_block(self, number: int | None = None, head: BlockRef | None = None,
                 balance: int | None = None) -> ScanReport:
        """Index sync, pending-transaction follow-up, scan and execution
        for the chain head. A block that arrives while the previous one is
        still being worked is skipped (the next one covers it). ``head``
        and ``balance`` (the signer's, at it): read once by a
        several-market keeper (``keepers/fleet.py``) for all its markets;
        read here when not given."""
        report = ScanReport(block=number if number is not None else -1)
        if not self._busy.acquire(blocking=False):
            self.metrics.skipped_blocks.inc()
            report.skipped_block = True
            return report
        try:
            head = head if head is not None else self.reader.head()
            report.block = head.number
            if self.health.last_block is not None:
                # Blocks that came while the previous one was worked (no second head read).
                self.metrics.block_lag.set(max(head.number - self.health.last_block - 1, 0))
            self.health.head = head.number
            self.health.last_rpc_ok_at = time.time()
            self.sync(head)
            if self.tx is not None:
                self._follow_guarded(head, balance)
            self._scan_and_act(head, report)
            self._compact(head)
            self.health.last_block = head.number
            self.health.last_block_at = time.time()
            self.metrics.last_block.set(head.number)
        except Exception as err:
            report.error = str(err)[:300]
            self.fault("block", err, block=report.block)
        finally:
            self._busy.release()
        return report

    def sync(self, head: BlockRef) -> None:
        """Reorg check on the checkpoint, then the logs up to ``head``."""
        checkpoint = self.index.checkpoint()
        if checkpoint is not None and checkpoint > head.number:
            self._rewind_to(head.number - 1, "the chain is shorter than the checkpoint")
        elif checkpoint is not None:
            stored = self.index.checkpoint_hash() or self._recent_hashes.get(checkpoint)
            if stored is not None and self._hash_at(checkpoint, head) != stored:
                self._rewind_to(self._common_ancestor(checkpoint), "checkpoint block replaced")
        self._catch_up(head)
        self._recent_hashes[head.number] = head.hash
        for old in [n for n in self._recent_hashes if n < head.number - self.config.finality_depth]:
            del self._recent_hashes[old]
        self.metrics.index_checkpoint.set(head.number)

    def _hash_at(self, number: int, head: BlockRef) -> str | None:
        """Block ``number``'s hash: the head's own or its parent's without
        a call (a steady block's checkpoint is the head's parent)."""
        if number == head.number:
            return head.hash
        if number == head.number - 1 and head.parent_hash:
            return head.parent_hash
        return self.reader.block_hash(number)

    def _common_ancestor(self, checkpoint: int) -> int:
        """The highest remembered block still canonical (else the
        checkpoint less the finality depth)."""
        for number in sorted(self._recent_hashes, reverse=True):
            if number < checkpoint and self.reader.block_hash(number) == self._recent_hashes[number]:
                return number
        return max(checkpoint - self.config.finality_depth, self.index.start_block - 1)

    def _rewind_to(self, block: int, why: str) -> None:
        touched = self.index.rewind(block)
        self._touched |= touched
        if self.local is not None:
            self.local.on_rewind(block)
        for number in [n for n in self._recent_hashes if n > block]:
            del self._recent_hashes[number]
        self.metrics.reorgs.inc()
        self._nav_trigger = True
        log.warning("reorg: index rewound", to_block=block, why=why, accounts=len(touched))

    def _scan_and_act(self, head: BlockRef, report: ScanReport) -> None:
        if self.local is not None and self._scan_local(head, report):
            return
        open_accounts = self.index.open_accounts()
        self.last = forget_closed(self.last, open_accounts)
        plan = accounts_to_scan(
            head.number, open_accounts, self.last, self.scan_policy,
            nav_update=self._nav_trigger, touched=self._touched,
        )
        self._nav_trigger = False
        self._touched = set()
        for stage, accounts in enumerate(plan.stages()):
            self._scan_stage(head, accounts, plan.full, stage, report)
        self.metrics.scan_seconds.observe(report.scan_seconds)
        self.metrics.positions_tracked.set(len(open_accounts))
        self.metrics.positions_at_risk.set(sum(1 for a in open_accounts
                                               if self.last.get(a) and self.last[a].health_factor
                                               < self.scan_policy.near_edge_hf_wad))
        self.metrics.positions_liquidatable.set(report.liquidatable)

    def _scan_local(self, head: BlockRef, report: ScanReport) -> bool:
        """Health from the index (keepers/localkeeper.py): every position
        screened locally, the Lens asked about the candidates and the
        near-edge band (every position in a sweep), the liquidatable ones
        it confirms acted on. False when an input is missing (the caller
        scans through the Lens)."""
        assert self.local is not None
        scan = self.local.scan(head, self._touched,
                               lambda accounts, full: self._scan_stage(head, accounts, full, 0, report))
        if scan is None:
            return False
        self._nav_trigger = False
        self._touched = set()
        report.scan_seconds += scan.screen_seconds
        self.metrics.scan_seconds.observe(report.scan_seconds)
        self.metrics.positions_tracked.set(scan.positions)
        self.metrics.positions_at_risk.set(scan.at_risk)
        self.metrics.positions_liquidatable.set(report.liquidatable)
        return True

    def _compact(self, head: BlockRef) -> None:
        """The index compacted below the finalized block every
        ``compact_every_blocks`` (a handled fault if it fails)."""
        if not compaction_due(head.number, self._compacted_at, self.config.compact_every_blocks):
            return
        self._compacted_at = head.number
        finalized = head.number - self.config.finality_depth
        if finalized < self.index.start_block:
            return
        try:
            facts, inputs = self.index.compact(finalized), self.index.compact_health_inputs(finalized)
        except Exception as err:
            self.fault("compact", err, block=head.number)
            return
        self.metrics.index_compactions.inc()
        log.info("index compacted", block=head.number, finalized=finalized, facts=facts, health_inputs=inputs)

    def _scan_stage(self, head: BlockRef, accounts: tuple[str, ...], full: bool, stage: int,
                    report: ScanReport) -> list[AccountHealth]:
        """Scans ``accounts`` at the head and acts on the liquidatable ones
        before the plan's next stage is read (see ``ScanPlan.stages``).
        Returns the healths read (those the Lens failed on left out)."""
        started = time.perf_counter()
        healths = self.reader.healths(accounts, head.number)
        seconds = time.perf_counter() - started
        report.scan_seconds += seconds
        failed = [h.account for h in healths if h.failed]
        if failed:
            # The Lens isolates an account whose position view reverts; the
            # rest of the batch is sound. Nothing to act on for those.
            log.warning("position view reverted", block=head.number, accounts=failed[:10], count=len(failed))
            healths = [h for h in healths if not h.failed]
        self.last = record_scan(self.last, healths, head.number)
        risky = at_risk(healths, self.scan_policy.near_edge_hf_wad)
        liquidatable = [h for h in healths if h.liquidatable and h.debt > 0]
        report.scanned += len(healths)
        report.at_risk += len(risky)
        report.liquidatable += len(liquidatable)
        self.metrics.accounts_scanned.inc(len(healths))
        log.debug("scanned", block=head.number, accounts=len(healths), full=full, stage=stage,
                  at_risk=len(risky), liquidatable=len(liquidatable), seconds=round(seconds, 4))
        if not liquidatable:
            return healths
        if self.tx is None:
            if self.forward is not None:
                self.forward(head.number, liquidatable)
            return healths
        self.act(head, liquidatable, report)
        return healths

    # ---------------------------------------------------------------- acting

    def act(self, head: BlockRef, liquidatable: list[AccountHealth], report: ScanReport) -> None:
        """Decides on the liquidatable positions together, then re-checks,
        simulates and sends the block's plans as one batch."""
        assert self.tx is not None
        started = time.perf_counter()
        terms = self.reader.market_terms(head.number)
        ctx = self._execution_context(head, terms)
        policy = self._policy(head, ctx)
        balances = self.index.balances_many([h.account for h in liquidatable])
        reserved = self._in_flight_plans()
        # What the other markets' transactions in flight draw on the same
        # facilities and stablecoin counts too (not on this market's allowance).
        drawn = reserved + (self.elsewhere() if self.elsewhere is not None else [])
        decisions = decide_block(liquidatable, balances, terms, ctx, policy,
                                 in_flight=self.tx.in_flight_positions(), reserved=drawn)
        decisions, gathered = self._gather(head, decisions, liquidatable, balances, terms, ctx, drawn, policy)
        plans = []
        for decision in decisions:
            if decision.plan is None:
                self._skip(head, decision)
                report.skipped += 1
            elif decision.plan.route is not Route.GATHERED:
                plans.append(decision.plan)
        plans, waiting = self._approved(head, plans, reserved)
        report.skipped += waiting
        log.debug("decided", block=head.number, plans=len(plans), gathered=len(gathered), skipped=report.skipped,
                  seconds=round(time.perf_counter() - started, 4))
        if plans or gathered:
            report.sent += self._execute(plans, terms.max_flash_loan, gathered)

    def _policy(self, head: BlockRef, ctx: ExecutionContext) -> ProfitPolicy:
        """The profit rule of this block: the live ETH price and the gas a
        position pays in a full batch (``Spending.decision_policy``), or
        the configuration's fixed figures without a spending model."""
        if self.spending is None:
            return self.profit_policy
        return self.spending.decision_policy(head.number, head.timestamp, self.batch_size, ctx.gas_price_wei)

    def _approved(self, head: BlockRef, plans: list[Plan], reserved: list[Plan]) -> tuple[list[Plan], int]:
        """The plans that can go this block: a seize-route plan pulls the
        keeper's stablecoin through the market's allowance, which the
        keeper grants itself up to a bound (``spending.split_by_allowance``):
        the seize plans that fit the allowance go; the others wait, while
        the bounded approval is sent, or until those in flight settle.
        Returns the plans kept and the count held back."""
        seize = [p for p in plans if p.route is Route.SEIZE]
        if self.spending is None or not seize or self.tx is None:
            return plans, 0
        try:
            allowance = self.spending.allowance(head.number)
        except Exception as err:
            self.fault("allowance", err, block=head.number)
            allowance = 0
        split = split_by_allowance(seize, allowance, seize_repayments(reserved), self.spending.approval_policy)
        request = self.spending.approval_request(split.action)
        if request is not None and not self.tx.in_flight(request.key):
            (outcome,) = self.tx.submit_many([request], head.number, head.base_fee, head.number)
            log.info("seize route: approval", block=head.number, status=outcome.status.value, tx=outcome.tx_hash,
                     reason=outcome.reason, allowance=allowance, **request.context)
        reason = "approval_bound" if split.action.kind is ApprovalKind.REFUSE else "awaiting_approval"
        for plan in split.rest:
            self.metrics.skipped.labels(reason=reason).inc()
            log.info("skip", block=head.number, borrower=plan.borrower, reason=reason, allowance=allowance,
                     need=seize_need(plan), detail=split.action.detail)
        held = {p.borrower for p in split.rest}
        return [p for p in plans if p.borrower not in held], len(split.rest)

    def _gather(self, head: BlockRef, decisions: list[Decision], healths: list[AccountHealth],
                balances: dict[str, dict[str, int]], terms: MarketTerms, ctx: ExecutionContext,
                reserved: list[Plan], policy: ProfitPolicy | None = None) -> tuple[list[Decision], list[GatheredBatch]]:
        """The skipped positions under a facility's minimum, grouped into
        gathered batches (``decide.gather_groups``), each priced by the
        facility's quote for its total shares (one ``preview_redeem`` per
        group) and kept when it pays (``decide.plan_gathered``)."""
        members = gather_members(decisions, healths, balances, terms, ctx)
        if not members:
            return decisions, []
        drawn = [*reserved, *(d.plan for d in decisions if d.plan is not None)]
        groups, left = gather_groups(members, terms, drawn)
        batches, refused = [], []
        for group in groups:
            asset = terms.asset(group.token)
            assert asset is not None
            try:
                payout = self.reader.preview_redeem(asset.facility, group.shares, head.number)
            except CallReverted as err:
                # The facility's quote never reverts by its interface; one
                # that does costs its group only (the others still go).
                self.fault("gather", err, block=head.number, token=group.token)
                continue
            priced = plan_gathered(group, payout, terms, ctx, policy or self.profit_policy)
            if isinstance(priced, GatheredBatch):
                batches.append(priced)
            else:
                refused.append((group, priced))
        log.debug("gathered", block=head.number, candidates=len(members), batches=len(batches),
                  refused=len(refused), under_minimum=len(left))
        return with_gathered(decisions, batches, refused), batches

    def _in_flight_plans(self) -> list[Plan]:
        """The plans of the keeper's own transactions not mined yet: their
        draw on the facilities and the stablecoin is not in the terms read
        at the head."""
        assert self.tx is not None
        in_flight = self.tx.in_flight_positions()
        self._sent_plans = {k: p for k, p in self._sent_plans.items() if k in in_flight}
        return list(self._sent_plans.values())

    def _execution_context(self, head: BlockRef, terms: Any) -> ExecutionContext:
        sc = self._signer_ctx
        if head.number - sc.refreshed_at >= CONTEXT_REFRESH_BLOCKS:
            # Asked of the market's compliance source for each asset (an
            # issuer's adapter for USTB or OUSG, whose tokens have no such
            # views), the token itself when the market has none.
            sc.allowlisted = frozenset(
                a.token for a in terms.assets if self.reader.is_allowlisted(a.token, self.signer, head.number)
            )
            sc.refreshed_at = head.number
        # Every block with work: an issuer freezes the keeper exactly when
        # it matters (a shock), and one call per allowlisted fund is cheap.
        sc.frozen = frozenset(t for t in sc.allowlisted if self.reader.is_frozen(t, self.signer, head.number))
        sc.stable_balance = (self.reader.erc20_balance(self.base_token, self.signer, head.number)
                             if sc.allowlisted else 0)
        return ExecutionContext(
            gas_price_wei=head.base_fee + self.tx.policy.priority_fee if self.tx else head.base_fee,
            stable_balance=sc.stable_balance,
            allowlisted_tokens=sc.allowlisted,
            frozen_tokens=sc.frozen,
            flash_liquidator_ready=self.flash_ready,
            flash_gathers=self.flash_gathers,
        )

    def _skip(self, head: BlockRef, decision: Decision) -> None:
        reason = decision.reason.value if decision.reason else "unknown"
        self.metrics.skipped.labels(reason=reason).inc()
        log.info("skip", block=head.number, borrower=decision.borrower, reason=reason, detail=decision.detail[:400])

    def _execute(self, plans: list[Plan], max_loan: int, gathered: list[GatheredBatch] | None = None) -> int:
        """One block's plans, pipelined: one Lens call re-checks them all at
        the latest block; the redeem-route plans are bundled into
        ``liquidate_many`` batches (``decide.batch_plans``); every
        transaction is simulated at that block in parallel, and each that
        passes is signed and sent as its simulation returns, with
        consecutive nonces (``TxManager.submit_many``). A batch whose
        simulation reverts is retried at once as one transaction per
        position, so that one position's trouble costs only its own
        liquidation. A gathered batch (``liquidate_gathered``) goes as one
        transaction, or not at all this block when one of its positions is
        no longer liquidatable or its simulation reverts (the others alone
        may be under the facility's minimum: the next block regroups).
        Returns how many positions were sent."""
        assert self.tx is not None
        clock = [time.perf_counter()]

        def lap() -> float:
            clock.append(time.perf_counter())
            return round(clock[-1] - clock[-2], 4)

        latest = self.reader.head()
        blog = log.bind(block=latest.number)
        gathered = gathered or []
        members = [p for batch in gathered for p in batch.plans]
        healths = self._recheck(plans + members, latest.number)
        kept, gone = still_liquidatable(plans + members, healths)
        gone_borrowers = {plan.borrower for plan in gone}
        for plan in gone:
            self.metrics.skipped.labels(reason="recheck_healthy").inc()
            blog.info("no longer liquidatable at the latest block; not sending", borrower=plan.borrower,
                      route=plan.route.value, token=plan.token)
        kept = [plan for plan in kept if plan.route is not Route.GATHERED]
        whole = [b for b in gathered if not gone_borrowers & set(b.borrowers)]
        recheck_seconds = lap()
        groups: list[tuple[Plan, ...]] = batch_plans(kept, self.batch_size, max_loan)
        gas_price = latest.base_fee + self.tx.policy.priority_fee
        groups = self._priced_batches(blog, groups, gas_price)
        requests = [with_profit(r, self.spending, gas_price)
                    for r in [self._request(g) for g in groups] + [self._gathered_request(b) for b in whole]]
        groups += [b.plans for b in whole]
        outcomes = self.tx.submit_many(requests, latest.number, latest.base_fee, latest.number)
        results: list[tuple[tuple[Plan, ...], TxOutcome]] = []
        singles: list[tuple[Plan, ...]] = []
        for group, outcome in zip(groups, outcomes):
            if len(group) > 1 and outcome.status is TxStatus.SIMULATION_REVERTED and group[0].route is Route.REDEEM:
                blog.info("batch simulation reverted; one transaction per position", positions=len(group),
                          reason=outcome.reason, token=group[0].token)
                singles += [(plan,) for plan in group]
            else:
                results.append((group, outcome))
        if singles:
            retried = self.tx.submit_many([with_profit(self._request(g), self.spending, gas_price) for g in singles],
                                          latest.number, latest.base_fee, latest.number)
            results += list(zip(singles, retried))
        blog.debug("executed", plans=len(plans), transactions=len(results), recheck_seconds=recheck_seconds,
                   simulate_sign_send_seconds=lap())
        sent = 0
        for group, outcome in results:
            for plan in group:
                sent += self._sent(blog, plan, outcome, len(group))
        self._update_pending_metrics()
        return sent

    def _priced_batches(self, blog: Any, groups: list[tuple[Plan, ...]], gas_price: int) -> list[tuple[Plan, ...]]:
        """Each redeem-route batch priced at its real size
        (``profit.price_batch``): a position was decided at its share of a
        full batch's gas, so a short batch may not pay; it is not sent."""
        if self.spending is None or self.spending.price is None:
            return groups
        kept = []
        for group in groups:
            if group[0].route is not Route.REDEEM:
                kept.append(group)
                continue
            price = price_batch(group, self.spending.gas_model, max(gas_price, 1), self.spending.price.base_per_eth,
                                self.config.min_profit_base)
            if price.pays or self.config.cleanup_mode:
                kept.append(group)
                continue
            for plan in group:
                self.metrics.skipped.labels(reason="unprofitable").inc()
            blog.info("batch does not pay at its real size; not sending", positions=len(group), token=group[0].token,
                      gas=price.gas_units, cost=price.cost_base, net=price.net_base)
        return kept

    def _sent(self, blog: Any, plan: Plan, outcome: TxOutcome, batch: int) -> int:
        """Records what became of ``plan``'s transaction; 1 if it was sent."""
        plog = blog.bind(borrower=plan.borrower, route=plan.route.value, token=plan.token)
        if outcome.status is TxStatus.SENT:
            self._sent_plans[plan.borrower] = plan
            self.metrics.attempted.labels(route=plan.route.value).inc()
            plog.info("liquidation sent", tx=outcome.tx_hash, nonce=outcome.nonce, batch=batch, **plan.log_fields())
            return 1
        if outcome.status is TxStatus.DRY_RUN:
            self.metrics.skipped.labels(reason="dry_run").inc()
            plog.info("dry run: would liquidate", batch=batch, **plan.log_fields())
        elif outcome.status is TxStatus.SIMULATION_REVERTED:
            kind = outcome.kind or RevertKind.OTHER
            self.metrics.skipped.labels(reason=f"simulation_{kind.value}").inc()
            quiet = plog.info if kind is RevertKind.LOST_RACE else plog.warning
            quiet("simulation reverted; not sending", reason=outcome.reason)
        else:
            self.metrics.skipped.labels(reason=outcome.status.value).inc()
            plog.warning("not sent", status=outcome.status.value, reason=outcome.reason)
        return 0

    def _recheck(self, plans: list[Plan], block: int) -> list[AccountHealth]:
        """The plans' positions at ``block`` in one Lens call; if that call
        reverts, one call each, so one position's revert (a handled fault)
        costs only its own plan."""
        accounts = [plan.borrower for plan in plans]
        try:
            return self.reader.healths(accounts, block)
        except CallReverted as err:
            if len(accounts) == 1:
                self.fault("execute", err, block=block, borrower=accounts[0])
                return []
        out = []
        for account in accounts:
            try:
                out.append(self.reader.health(account, block))
            except CallReverted as err:
                self.fault("execute", err, block=block, borrower=account)
        return out

    def _gathered_request(self, batch: GatheredBatch) -> TxRequest:
        """The ``liquidate_gathered`` transaction of ``batch``."""
        return TxRequest(
            key="gathered:" + ",".join(batch.borrowers), to=self.config.flash_liquidator,
            data=encode_flash_liquidate_gathered(batch),
            label=f"liquidate:gathered:{batch.token}:batch{len(batch.plans)}", positions=batch.borrowers,
            context={**batch.log_fields(), "loan": batch.loan, "expected_profit": batch.net_profit},
        )

    def _request(self, group: tuple[Plan, ...]) -> TxRequest:
        """The transaction of one plan, or of a batch of redeem-route plans
        on one collateral (``liquidate_many``)."""
        plan = group[0]
        if len(group) > 1:
            loan, floor = batch_loan(group), batch_min_profit(group)
            borrowers = tuple(p.borrower for p in group)
            return TxRequest(
                key="batch:" + ",".join(borrowers), to=self.config.flash_liquidator,
                data=encode_flash_liquidate_many(group, loan, floor),
                label=f"liquidate:redeem:{plan.token}:batch{len(group)}", positions=borrowers,
                context={"route": Route.REDEEM.value, "token": plan.token, "loan": loan, "min_profit": floor,
                         "expected_profit": sum(p.net_profit for p in group)},
            )
        if plan.route is Route.REDEEM:
            to, data = self.config.flash_liquidator, encode_flash_liquidate(plan)
        else:
            to, data = self.reader.market, encode_market_liquidate(plan, receiver=self.signer)
        # The label names the transaction's kind, whose gas is sized once
        # (TxManager.submit_many): the route and the collateral (a wrapper's
        # redemption goes through two facilities), and the batch size.
        return TxRequest(key=plan.borrower, to=to, data=data, label=f"liquidate:{plan.route.value}:{plan.token}",
                         context={"route": plan.route.value, "token": plan.token,
                                  "expected_profit": plan.net_profit})

    def _follow_guarded(self, head: BlockRef, balance: int | None = None) -> None:
        """Follows the transactions in flight in a step of its own: a
        receipt or send error there is a handled fault, and the block's
        scan and liquidations still run."""
        try:
            self.follow(head, balance)
        except Exception as err:
            self.fault("follow", err, block=head.number)

    def follow(self, head: BlockRef, balance: int | None = None) -> None:
        """The transactions in flight as of ``head`` (``tx.poll``), each
        outcome recorded and settled; the signer's balance (``balance``
        when the caller read it) into the health, metrics and brakes."""
        assert self.tx is not None
        marks = replacement_marks(self.tx.pending)
        try:
            outcomes = self.tx.poll(head.number, head.base_fee)
        finally:
            # poll signs the fee bumps and cancels: counted from the pending set.
            self.metrics.count_replacements(replacements_between(marks, replacement_marks(self.tx.pending)))
        for outcome in outcomes:
            self._record(head, outcome)
            if self.spending is not None:
                self.spending.settle(outcome)
        self._update_pending_metrics()
        if balance is None:
            if not (outcomes or self.tx.pending or self._balance_at is None
                    or head.number - self._balance_at >= CONTEXT_REFRESH_BLOCKS):
                return  # nothing of the keeper's moved it: read every CONTEXT_REFRESH_BLOCKS
            self._balance_at = head.number
            balance = self.reader.native_balance(self.signer)
        self.health.set_balance(balance)
        if self.spending is not None:
            self.spending.balance_wei = balance
            if any(o.status is TxStatus.MINED for o in outcomes):
                self._sweep(head)
        self.metrics.signer_balance.set(balance)
        low = balance < self.config.low_balance_wei
        self.metrics.signer_balance_low.set(1 if low else 0)
        if low:
            log.warning("signer balance low", block=head.number, balance_wei=balance,
                        threshold_wei=self.config.low_balance_wei)

    def _sweep(self, head: BlockRef) -> None:
        """Profit above the float goes to the profit receiver (after a
        mined liquidation, when one is configured)."""
        assert self.spending is not None and self.tx is not None
        if self.spending.sweep_policy is None or not self.base_token:
            return
        stable = self.reader.erc20_balance(self.base_token, self.signer, head.number)
        request = self.spending.sweep(stable, seize_repayments(self._in_flight_plans()))
        if request is None or self.tx.in_flight(request.key):
            return
        (outcome,) = self.tx.submit_many([request], head.number, head.base_fee, head.number)
        log.info("profit sweep", block=head.number, status=outcome.status.value, tx=outcome.tx_hash,
                 reason=outcome.reason, **request.context)

    def _record(self, head: BlockRef, outcome: TxOutcome) -> None:
        route = str(outcome.request.context.get("route", "?"))
        if outcome.request.label in (APPROVAL_LABEL, SWEEP_LABEL):
            if outcome.gas_cost:
                self.metrics.gas_spent.inc(outcome.gas_cost)
            (log.info if outcome.status is TxStatus.MINED else log.warning)(
                f"{outcome.request.label} {outcome.status.value}", block=head.number, tx=outcome.tx_hash,
                reason=outcome.reason, **outcome.request.context)
            return
        positions = outcome.request.covers
        blog = log.bind(block=head.number, tx=outcome.tx_hash, nonce=outcome.nonce)
        if len(positions) == 1:
            blog = blog.bind(borrower=positions[0])
        else:
            blog = blog.bind(borrowers=list(positions))
        if outcome.gas_cost:
            self.metrics.gas_spent.inc(outcome.gas_cost)
        if outcome.status is TxStatus.MINED:
            result = mined_result(outcome.receipt, len(positions))
            self.metrics.succeeded.labels(route=route).inc(result.liquidated)
            profit = result.profit or int(outcome.request.context.get("expected_profit", 0))
            if profit > 0:
                self.metrics.profit.inc(profit)
            blog.info("liquidation mined", route=route, profit=profit, liquidated=result.liquidated,
                      gas_cost_wei=outcome.gas_cost)
            for borrower, reason in result.skipped:
                self.metrics.failed.labels(outcome="lost_race").inc()
                log.info("someone else liquidated first", block=head.number, tx=outcome.tx_hash,
                         borrower=borrower, reason=reason, in_batch=True)
        elif outcome.kind is RevertKind.LOST_RACE:
            self.metrics.failed.labels(outcome="lost_race").inc(len(positions))
            blog.info("someone else liquidated first", reason=outcome.reason)
        else:
            label = outcome.kind.value if outcome.kind else outcome.status.value
            self.metrics.failed.labels(outcome=label).inc(len(positions))
            blog.warning("liquidation failed", status=outcome.status.value, reason=outcome.reason)

    def _update_pending_metrics(self) -> None:
        if self.tx is None:
            return
        expired, age = self.tx.expired_count(), self.tx.oldest_pending_age(self.tx.clock())
        self.metrics.pending_txs.set(len(self.tx.pending))
        self.metrics.oldest_pending_age.set(age)
        self.metrics.stuck_txs.set(expired)
        self.health.set_pending(len(self.tx.pending), expired, age)

    def fault(self, op: str, err: BaseException, **context: Any) -> None:
        self.metrics.rpc_errors.labels(op=op).inc()
        self.health.last_error = f"{op}: {str(err)[:200]}"
        log.warning("handled fault", op=op, error=str(err)[:300], error_type=type(err).__name__,
                    at=_raised_at(err), **context)


def _raised_at(err: BaseException) -> str:
    """Where an error was raised (the innermost frame: file:line function),
    so that a handled fault's log line points at its cause."""
    tb = err.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return f"{code.co_filename.rsplit('/', 2)[-2:][-1]}:{tb.tb_lineno} {code.co_name}"


@dataclass(frozen=True)
class MinedResult:
    """What a mined liquidation transaction did, from its logs."""

    liquidated: int
    profit: int
    # (borrower, the market's reason) of each position a batch skipped.
    skipped: tuple[tuple[str, str], ...] = ()


def mined_result(receipt: Any, positions: int = 1) -> MinedResult:
    """The FlashLiquidator's logs in ``receipt``: positions liquidated,
    profit (``Liquidated.profit``, or ``BatchLiquidated.profit``) and the
    positions a batch skipped. A transaction without them (the seize
    route) liquidated its one position, profit unknown (0)."""
    liquidated, profit, skipped, seen = 0, 0, [], False
    for entry in (receipt or {}).get("logs", []) if receipt else []:
        topics = [HexBytes(t).to_0x_hex() for t in entry.get("topics") or []]
        if not topics:
            continue
        if topics[0] == LIQUIDATED_TOPIC:
            liquidated, profit, seen = liquidated + 1, profit + decode_liquidated_profit(entry.get("data")), True
        elif topics[0] == BATCH_LIQUIDATED_TOPIC:
            count, batch_profit = decode_batch_liquidated(entry.get("data"))
            liquidated, profit, seen = liquidated + count, profit + batch_profit, True
        elif topics[0] == LIQUIDATION_SKIPPED_TOPIC and len(topics) > 1:
            skipped.append((to_address("0x" + topics[1][-40:]), decode_skipped_reason(entry.get("data"))))
    return MinedResult(liquidated=liquidated if seen else positions, profit=profit, skipped=tuple(skipped))


def realised_profit(receipt: Any) -> int:
    """The FlashLiquidator's profit in a receipt (single or batch), or 0."""
    return mined_result(receipt).profit


