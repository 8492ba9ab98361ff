"""Health from the index inside the keeper: what ``Keeper.sync`` and
``Keeper._scan_and_act`` do when ``local_health`` is on.

- **Logs** (:meth:`LocalScanner.fetch`): ONE ``eth_getLogs`` per range
  over the market and the NAV oracles the keeper follows, with the topics
  of the market's position events, its admin events (listing, risk, limits,
  oracle, ratio, rates), its accruing events, and the oracles' applied
  rounds (``NavPublished``, ``PendingConfirmed``). The position logs go to
  the index as before; the rest become health inputs
  (``healthinputs.input_record``), stored at once (before the range's
  checkpoint moves, so that a crash cannot lose them), with the latest
  block holding an accruing event (``InputKind.ACCRUAL``). No read there.
- **Reads**, at the screen (:meth:`LocalScanner.scan`), only what is
  stale: the books of the latest accruing block, when they were read below
  it (one ``market_state`` at the head, whose state holds that block's
  books, since no accruing event came after it; and that block's header
  for the accrual time when it is not the head), a value exponent per
  listing or oracle change (at the head).
- **Screen** (:meth:`LocalScanner.scan`): every position screened locally
  (vectorised, ``keepers.localhealth.screen``); the Lens is asked only about
  ``accounts_to_recheck()`` (candidates and the ``health_edge_bps`` band),
  and the keeper acts on what the Lens confirms liquidatable (the Lens stays
  the authority before sending). Prices: from the followed oracles' rounds;
  an asset whose oracle is not followed has that oracle's latest round read
  each block (``latestRoundData``, once per oracle and block for all the
  markets of a fleet: ``healthreads.RoundCache``) and priced by the
  market's rule; the ``read_priced_assets`` are read each block
  (``asset_price``); a followed oracle whose last round predates the index
  is read once (``latestRoundData``).
- **Sweep**: every ``health_sweep_seconds`` (and at the first screen), the
  exact local figures of every position are compared with a full Lens read
  at the same block; the accounts that differ are read again once (anvil
  can answer a call at the head from the block it is mining) and what
  still differs is logged with its fields and counted
  (``keeper_health_mismatches_total``). The sweep's Lens read is acted on
  like any scan.
- **Fallback**: a missing input (an asset listed with no price yet, books
  the node no longer has...) makes :meth:`scan` answer
  None: the keeper scans through the Lens as without local health, with a
  warning naming what is missing (once per cause) and
  ``keeper_health_fallbacks_total``. No position is skipped. An index
  built before health inputs existed has them read once at start
  (:meth:`LocalScanner.backfill_inputs`).

Sharded scanners screen every position but ask the Lens only about their
own shard's (``schedule.shard_of``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import structlog

from keepers.backfill import run_backfill
from keepers.chain import BlockRef
from keepers.healthinputs import (
    ACCRUING_EVENTS,
    READ_LOG_INDEX,
    ROUND_EVENTS,
    InputFact,
    InputKind,
    InputRecord,
    MissingInput,
    book_fact,
    input_record,
    read_record,
)
from keepers.localhealth import HealthMismatch, HealthScreen, exact_healths, mismatches, screen
from keepers.localscan import LocalHealth
from keepers.metrics import KeeperMetrics
from keepers.rpc_policy import ChunkPolicy
from keepers.schedule import shard_of
from keepers.types import INDEXED_EVENTS, AccountHealth, LogRecord, _hash_hex, to_address

log = structlog.get_logger("keepers.localkeeper")

# Market events that set a health input (besides the position and accruing ones).
INPUT_EVENTS = ("AssetListed", "AssetRiskSet", "AssetLimitsSet", "AssetOracleSet", "AssetSynced", "RatesSet")
# Every market event the keeper's getLogs asks for when local health is on.
MARKET_EVENTS = tuple(sorted(set(INDEXED_EVENTS) | set(INPUT_EVENTS) | ACCRUING_EVENTS))
# The oracle events (what moves a price liquidation uses).
ORACLE_EVENTS = tuple(sorted(ROUND_EVENTS))
# The log index of the accrual marker (after the block's logs, before its reads).
ACCRUAL_LOG_INDEX = READ_LOG_INDEX - 1


class HealthChainReads(Protocol):
    """The reads :class:`LocalScanner` makes besides ``LocalHealth``'s
    (``keepers.healthreads.ChainHealthReads``)."""

    def market_state(self, block: int) -> tuple[int, int, int, int, int]: ...

    def value_exponent(self, token: str, block: int) -> int: ...

    def asset_price(self, token: str, block: int) -> int: ...

    def latest_round(self, oracle: str, block: int) -> tuple[int, int]: ...


@dataclass(frozen=True)
class BlockInputs:
    """What one block's logs bring to local health."""

    number: int
    block_hash: str
    market_events: tuple[str, ...]
    inputs: tuple[InputRecord, ...]

    @property
    def accrues(self) -> bool:
        return any(name in ACCRUING_EVENTS for name in self.market_events)


def _field(entry: Any, key: str, default: Any = None) -> Any:
    return entry.get(key, default) if isinstance(entry, dict) else getattr(entry, key, default)


def split_logs(entries: Iterable[Any], market: str) -> tuple[list[LogRecord], list[BlockInputs]]:
    """Decoded logs (Ape ``ContractLog``s, or dicts with their fields) as
    the index's position records (the market's position events, in order)
    and each block's health inputs (blocks in order). A log of another
    contract named like a position event is not a position (an oracle has
    none). ValueError for a log whose arguments do not fit its event."""
    market = to_address(market)
    positions: list[LogRecord] = []
    blocks: dict[int, tuple[str, list[str], list[InputRecord]]] = {}
    ordered = sorted(entries, key=lambda e: (int(_field(e, "block_number")), int(_field(e, "log_index"))))
    for entry in ordered:
        name = str(_field(entry, "event_name"))
        emitter = to_address(str(_field(entry, "contract_address")))
        number = int(_field(entry, "block_number"))
        args = dict(_field(entry, "event_arguments") or {})
        removed = bool(_field(entry, "removed", False) or False)
        record = LogRecord.from_event(
            name, args, block_number=number, block_hash=_field(entry, "block_hash"),
            tx_hash=_field(entry, "transaction_hash"), log_index=int(_field(entry, "log_index")), removed=removed,
        ) if emitter == market and name in INDEXED_EVENTS else None
        if record is not None:
            positions.append(record)
        inputs = input_record(name, args, emitter, block_number=number, block_hash=_field(entry, "block_hash"),
                              log_index=int(_field(entry, "log_index")), removed=removed)
        block_hash = _hash_hex(_field(entry, "block_hash"))
        _, names, records = blocks.setdefault(number, (block_hash, [], []))
        if emitter == market:
            names.append(name)
        if inputs is not None:
            records.append(inputs)
    return positions, [
        BlockInputs(number, block_hash, tuple(names), tuple(records))
        for number, (block_hash, names, records) in sorted(blocks.items())
    ]


def compaction_due(block: int, last: int | None, every: int) -> bool:
    """Whether the index is compacted at ``block``: never with ``every``
    0, else at the first block seen and every ``every`` blocks after."""
    if every < 0:
        raise ValueError(f"compaction period must be >= 0 blocks, not {every}")
    return every > 0 and (last is None or block - last >= every or block < last)


def oracle_of(values: Sequence[int]) -> str:
    """The oracle address an ``InputKind.ORACLE`` fact holds."""
    return to_address(f"0x{values[0]:040x}")


def unfollowed_assets(current: Mapping[tuple[InputKind, str], tuple[int, ...]], followed: Iterable[str]) -> set[str]:
    """The listed assets whose oracle the keeper does not follow (its
    rounds are not in the keeper's logs): their oracle's round is read each block."""
    followed = {to_address(o) for o in followed}
    return {key for (kind, key), values in current.items() if kind is InputKind.ORACLE and oracle_of(values) not in followed}


def stale_exponents(current: Mapping[tuple[InputKind, str], tuple[int, ...]]) -> list[str]:
    """The listed assets whose value exponent was never read, or was read
    for another oracle than the one now set."""
    out = []
    for (kind, token), values in current.items():
        if kind is not InputKind.ORACLE:
            continue
        exponent = current.get((InputKind.EXPONENT, token))
        if exponent is None or (len(exponent) > 1 and exponent[1] != values[0]):
            out.append(token)
    return sorted(out)


def unanswered_oracles(current: Mapping[tuple[InputKind, str], tuple[int, ...]], read_priced: Iterable[str]) -> set[str]:
    """The oracles of listed, event-priced assets with no round in the
    index yet (the round predates the index): read once."""
    read = set(read_priced)
    listed = {key for (kind, key) in current if kind is InputKind.ASSET_ID}
    oracles = {oracle_of(values) for (kind, key), values in current.items()
               if kind is InputKind.ORACLE and key in listed and key not in read}
    return {o for o in oracles if (InputKind.ANSWER, o) not in current}


@dataclass(frozen=True)
class LocalScan:
    """What one block's local scan did."""

    positions: int
    rechecked: int
    at_risk: int
    swept: bool
    mismatches: tuple[HealthMismatch, ...] = ()
    screen_seconds: float = 0.0


@dataclass
class LocalScanner:
    """Health from the index for one market's keeper (module docstring).

    ``fetch_logs(start, end)``: the decoded logs of the market and the
    followed oracles (one ``getLogs``); ``reads``: the chain reads;
    ``healths(accounts, block)``: the Lens (re-reads of a sweep's
    mismatches)."""

    local: LocalHealth
    reads: HealthChainReads
    market: str
    followed_oracles: tuple[str, ...]
    fetch_logs: Callable[[int, int], Sequence[Any]]
    healths: Callable[[Sequence[str], int], list[AccountHealth]]
    metrics: KeeperMetrics
    read_priced: frozenset[str] = frozenset()
    sweep_seconds: int = 3_600
    near_edge_hf_wad: int = 105 * 10**16
    shard_count: int = 1
    shard_id: int = 0
    clock: Callable[[], float] = time.monotonic
    block_of: Callable[[int], BlockRef] | None = None
    _moved: bool = False
    _last_sweep: float | None = None
    _missing: str = ""

    def __post_init__(self) -> None:
        self.market = to_address(self.market)
        self.followed_oracles = tuple(to_address(o) for o in self.followed_oracles)
        self.read_priced = frozenset(to_address(t) for t in self.read_priced)

    # ---------------------------------------------------------------- logs

    def fetch(self, start: int, end: int) -> list[LogRecord]:
        """The position records of blocks ``start..end`` for the index;
        the blocks' health inputs, and the latest accruing block, stored
        now (idempotent: a range fetched again stores nothing new)."""
        positions, blocks = split_logs(self.fetch_logs(start, end), self.market)
        records = [r for b in blocks for r in b.inputs]
        accruing = [b for b in blocks if b.accrues]
        if accruing:
            last = accruing[-1]
            records.append(InputRecord(last.number, last.block_hash, ACCRUAL_LOG_INDEX,
                                       (InputFact(InputKind.ACCRUAL, "", (last.number,)),)))
        if records:
            self.local.index.apply_health_inputs(records)
        self._moved = self._moved or any(f.kind is InputKind.ANSWER for r in records for f in r.facts)
        return positions

    def backfill_inputs(self, start: int, end: int, chunk: int) -> int:
        """The health inputs of blocks ``start..end`` when the index holds
        none (an index built before them, whose positions are already in
        it): the same getLogs, ``chunk`` blocks at a time (halved on a
        range refusal, a 429 waited out: ``keepers.backfill``), the position
        logs left alone. Returns the blocks read (0: nothing to do)."""
        if end < start or any(kind is InputKind.ASSET_ID for kind, _ in self.local.index.health_inputs()):
            return 0
        log.info("local health: reading the inputs of an index built before them", start=start, end=end)
        result = run_backfill(start=start, end=end, fetch=self.fetch, apply=lambda records: None,
                              checkpoint=lambda block: None, policy=ChunkPolicy(initial=chunk, maximum=chunk))
        log.info("local health: inputs read", start=start, end=end, chunks=result.chunks)
        return end - start + 1

    def applied(self, head: BlockRef) -> bool:
        """The fetched range is in the index. Returns whether an oracle
        round moved a price since the last call."""
        moved, self._moved = self._moved, False
        return moved

    def _block(self, number: int, head: BlockRef) -> BlockRef:
        if number == head.number:
            return head
        if self.block_of is None:
            raise ValueError(f"block {number}'s header is needed and no block reader is set")
        return self.block_of(number)

    def on_rewind(self, block: int) -> None:
        """The index was rewound to ``block``: inputs above it forgotten."""
        self.local.on_rewind(block)

    # ---------------------------------------------------------------- screen

    def mine(self, accounts: Iterable[str]) -> list[str]:
        """The accounts of this keeper's shard."""
        if self.shard_count == 1:
            return list(accounts)
        return [a for a in accounts if shard_of(a, self.shard_count) == self.shard_id]

    def sweep_due(self) -> bool:
        return self.sweep_seconds > 0 and (
            self._last_sweep is None or self.clock() - self._last_sweep >= self.sweep_seconds)

    def scan(self, head: BlockRef, touched: Iterable[str],
             lens: Callable[[tuple[str, ...], bool], list[AccountHealth]]) -> LocalScan | None:
        """Screens every position at ``head`` and hands the Lens (``lens(
        accounts, full)``: the keeper's scan stage, which acts on what it
        confirms liquidatable) the accounts to re-check, or every account
        of the shard in a sweep. None when an input is missing: the caller
        scans through the Lens instead."""
        started = time.perf_counter()
        try:
            self.local.follow(touched)
            inputs, positions = self._inputs(head)
        except MissingInput as missing:
            self.metrics.health_fallbacks.inc()
            if str(missing) != self._missing:
                self._missing = str(missing)
                log.warning("local health: an input is missing; scanning through the Lens", block=head.number,
                            missing=self._missing)
            return None
        if self._missing:
            log.info("local health: inputs complete again", block=head.number)
            self._missing = ""
        screened = screen(positions, inputs, head.timestamp, self.local.edge_bps)
        seconds = time.perf_counter() - started
        self.metrics.local_screen_seconds.observe(seconds)
        recheck = self.mine(screened.accounts_to_recheck())
        found: tuple[HealthMismatch, ...] = ()
        swept = self.sweep_due()
        if swept:
            self._last_sweep = self.clock()
            exact = exact_healths(positions, inputs, head.timestamp)
            accounts = tuple(self.mine(a for a, e in exact.items() if e.debt > 0))
            found = self._compare(head, exact, lens(accounts, True))
        elif recheck:
            lens(tuple(recheck), False)
        self.metrics.health_rechecked.inc(len(recheck))
        log.debug("local health screened", block=head.number, positions=len(positions), rechecked=len(recheck),
                  candidates=len(screened.candidates()), swept=swept, seconds=round(seconds, 4))
        return LocalScan(
            positions=int(np.count_nonzero(positions.scaled_f > 0)),
            rechecked=len(recheck),
            at_risk=_at_risk(screened, self.near_edge_hf_wad),
            swept=swept,
            mismatches=found,
            screen_seconds=seconds,
        )

    def _inputs(self, head: BlockRef) -> tuple[Any, Any]:
        """The inputs at ``head`` (the stale ones read first: the books,
        exponents, first rounds; the read prices read) and the positions
        in their columns. :class:`MissingInput` when one cannot be had."""
        current = self.local.index.health_inputs()
        unfollowed = unfollowed_assets(current, self.followed_oracles) - self.read_priced
        self.local.read_priced = self.read_priced
        self.local.read_rounds = frozenset(oracle_of(current[(InputKind.ORACLE, token)]) for token in unfollowed)
        records = [r for r in (self._books(current, head), self._head_reads(current, head)) if r is not None]
        if records:
            self.local.index.apply_health_inputs(records)
        inputs = self.local.inputs_at(head.number)
        return inputs, self.local.positions(inputs)

    def _books(self, current: Mapping[tuple[InputKind, str], tuple[int, ...]], head: BlockRef) -> InputRecord | None:
        """The books read at the latest accruing block, when the stored
        ones predate it (None: they are current)."""
        accrual = current.get((InputKind.ACCRUAL, ""))
        booked = current.get((InputKind.BOOKED, ""))
        if accrual is None or (booked is not None and booked[0] >= accrual[0]):
            return None
        block = accrual[0]
        # The stored books change only in an accruing block, and the logs
        # through the head hold none after ``block``: the state at the head
        # holds ``block``'s books. Read there, since a node keeps the state
        # of recent blocks only (and a chain loaded from a state dump has
        # none before it); the accruing block's header gives the accrual
        # time (headers are kept).
        try:
            ref = self._block(block, head)
            state = self.reads.market_state(head.number)
        except Exception as err:
            raise MissingInput(f"the books at block {block}: {type(err).__name__}: {str(err)[:200]}") from None
        facts = (book_fact(state, ref.timestamp), InputFact(InputKind.BOOKED, "", (block,)))
        return read_record(block, ref.hash, facts)

    def _head_reads(self, current: Mapping[tuple[InputKind, str], tuple[int, ...]], head: BlockRef) -> InputRecord | None:
        """Read at the head: the value exponent of each listed asset whose
        oracle changed since it was read (or never read), and the first
        round of each followed oracle with none in the index."""
        stale = stale_exponents(current)
        facts = [InputFact(InputKind.EXPONENT, token, (self.reads.value_exponent(token, head.number),
                                                       current[(InputKind.ORACLE, token)][0])) for token in stale]
        unanswered = sorted(unanswered_oracles(current, self.local.read_priced) - self.local.read_rounds)
        facts += [InputFact(InputKind.ANSWER, oracle, self.reads.latest_round(oracle, head.number)) for oracle in unanswered]
        if not facts:
            return None
        log.info("local health: inputs read", block=head.number, exponents=stale, first_rounds=unanswered)
        return read_record(head.number, head.hash, facts)

    def _compare(self, head: BlockRef, exact: Mapping[str, Any], lens: list[AccountHealth]) -> tuple[HealthMismatch, ...]:
        """The sweep's mismatches, each read again once before it counts."""
        self.metrics.health_sweeps.inc()
        first = mismatches(exact, lens)
        found: list[HealthMismatch] = []
        if first:
            found = mismatches(exact, self.healths([m.account for m in first], head.number))
        for mismatch in found:
            log.warning("local health differs from the Lens", block=head.number, **mismatch.log_fields())
        self.metrics.health_mismatches.inc(len(found))
        log.info("local health sweep", block=head.number, positions=len(lens), mismatches=len(found))
        return tuple(found)


def _at_risk(screened: HealthScreen, near_edge_hf_wad: int) -> int:
    """Positions below the near-edge health factor by the float screen."""
    return int(np.count_nonzero(screened.health < near_edge_hf_wad / 10**18))
