"""The index backfill for real providers: from the deployment block (or the
index's checkpoint), one ``getLogs`` chunk at a time, each chunk applied
and checkpointed before the next is fetched, so that

- memory holds one chunk's logs, whatever the history's length;
- an error (a provider down for longer than the RPC layer waits) leaves
  the checkpoint at the last chunk applied: the next run resumes there,
  not at the start;
- the chunk size follows :class:`keepers.rpc_policy.ChunkPolicy`: halved
  on a range refusal only, grown back after successes. A 429 or a timeout
  that reaches this far is waited out (its ``Retry-After``, else a doubling
  back-off) and the same chunk asked again, ``retries`` times at most.

:func:`run_backfill` is I/O-free (its fetch, apply, checkpoint and sleep
are passed in); :func:`backfill_index` runs it on a
:class:`keepers.index.PositionIndex`.

Wiring: ``Keeper.backfill`` (at start) and ``Keeper.sync`` (every block,
after its reorg check) both call :func:`backfill_index` through
``Keeper._catch_up``, with ``reader.market_logs_once`` (one ``getLogs``
whose refusal raises, so the chunk policy sees it) and the chunk state of
the previous call (a keeper back from a long outage catches up in bounded
chunks too, at the size the provider takes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from keepers.rpc_policy import (
    ChunkPolicy,
    ChunkState,
    Failure,
    FailureKind,
    chunk_after_failure,
    chunk_after_success,
    classify_exception,
)
from keepers.types import LogRecord

log = structlog.get_logger("keepers.backfill")


class BackfillInterrupted(RuntimeError):
    """The backfill stopped on an error; ``resume_from`` is the first
    block not applied (the checkpoint is the block before it)."""

    def __init__(self, message: str, resume_from: int, failure: Failure) -> None:
        super().__init__(message)
        self.resume_from = resume_from
        self.failure = failure


@dataclass(frozen=True)
class BackfillResult:
    start: int
    end: int
    chunks: int
    logs: int
    range_errors: int
    waits: int
    final_chunk: int
    # The chunk size and its streak, for the next run (Keeper.sync keeps
    # what the provider taught the backfill).
    chunk_state: ChunkState | None = None


def backfill_start(checkpoint: int | None, deployment_block: int) -> int:
    """The first block to read: after the checkpoint, never before the
    deployment (the market has no log before its first transaction)."""
    if deployment_block < 0:
        raise ValueError(f"a deployment block is >= 0, not {deployment_block}")
    if checkpoint is None:
        return deployment_block
    return max(checkpoint + 1, deployment_block)


def run_backfill(
    *,
    start: int,
    end: int,
    fetch: Callable[[int, int], Sequence[LogRecord]],
    apply: Callable[[Sequence[LogRecord]], Any],
    checkpoint: Callable[[int], Any],
    policy: ChunkPolicy,
    retries: int = 5,
    backoff: float = 1.0,
    max_backoff: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    state: ChunkState | None = None,
) -> BackfillResult:
    """Reads blocks ``start..end`` (inclusive) chunk by chunk: ``fetch(lo,
    hi)`` then ``apply(records)`` then ``checkpoint(hi)``. Nothing to do
    when ``start > end``. A failure other than a range refusal, a rate
    limit, a timeout or an unreachable endpoint raises
    :class:`BackfillInterrupted` at once; those four are retried as the
    module docstring says."""
    if start < 0 or end < -1:
        raise ValueError(f"a backfill range is of block numbers >= 0, not {start}..{end}")
    if retries < 0 or backoff <= 0 or max_backoff < backoff:
        raise ValueError(f"need retries >= 0 and 0 < backoff ({backoff}) <= max_backoff ({max_backoff})")
    state = state or policy.start()
    lo = start
    chunks = logs = range_errors = waits = 0
    failures_here = 0
    while lo <= end:
        hi = min(lo + state.size - 1, end)
        try:
            records = fetch(lo, hi)
        except Exception as err:
            failure = classify_exception(err)
            if failure.kind is FailureKind.LOG_RANGE:
                state = chunk_after_failure(state, failure, policy)  # RangeUnsplittable at the minimum
                range_errors += 1
                log.info("getLogs range refused; chunk halved", lo=lo, hi=hi, chunk=state.size)
                continue
            transient = failure.kind in (FailureKind.RATE_LIMITED, FailureKind.TIMEOUT, FailureKind.UNREACHABLE,
                                         FailureKind.SERVER)
            if transient and failures_here < retries:
                wait = failure.retry_after
                if wait is None:
                    wait = min(backoff * 2**failures_here, max_backoff)
                failures_here += 1
                waits += 1
                state = chunk_after_failure(state, failure, policy)  # same size, streak reset
                log.warning("getLogs failed; waiting, then the same chunk again", lo=lo, hi=hi,
                            kind=failure.kind.value, wait=wait, attempt=failures_here)
                sleep(wait)
                continue
            raise BackfillInterrupted(
                f"backfill stopped at block {lo} ({failure.kind.value}: {failure.message[:200]}); "
                f"the checkpoint is {lo - 1}, a restart resumes at {lo}", lo, failure) from err
        apply(records)
        checkpoint(hi)
        chunks += 1
        logs += len(records)
        failures_here = 0
        state = chunk_after_success(state, policy)
        lo = hi + 1
    return BackfillResult(start=start, end=end, chunks=chunks, logs=logs, range_errors=range_errors,
                          waits=waits, final_chunk=state.size, chunk_state=state)


class IndexLike(Protocol):
    """What :func:`backfill_index` needs of ``keepers.index.PositionIndex``."""

    start_block: int

    def checkpoint(self) -> int | None: ...

    def apply(self, records: Sequence[LogRecord], checkpoint: tuple[int, str | None] | None = None) -> Any: ...

    def set_checkpoint(self, block: int, block_hash: str | None = None) -> bool: ...


def backfill_index(
    index: IndexLike,
    *,
    fetch: Callable[[int, int], Sequence[LogRecord]],
    head: int,
    head_hash: str | None,
    policy: ChunkPolicy,
    on_applied: Callable[[Any], None] | None = None,
    **options: Any,
) -> BackfillResult:
    """Brings ``index`` from its checkpoint (or its start block, the
    deployment's) to ``head``, checkpointing each chunk; the head's chunk
    is checkpointed with ``head_hash`` (what ``Keeper.sync`` checks for a
    reorg). ``on_applied`` gets each chunk's ``ApplyResult`` (the keeper
    collects the touched accounts). ``options`` go to :func:`run_backfill`."""
    start = backfill_start(index.checkpoint(), index.start_block)
    fetched: list[Sequence[LogRecord]] = []

    def apply(records: Sequence[LogRecord]) -> None:
        fetched.append(records)  # applied with its checkpoint, below

    def checkpoint(block: int) -> None:
        # A chunk's logs and its checkpoint in one transaction: a reader of
        # the shared index never sees the checkpoint ahead of the logs.
        result = index.apply(fetched.pop() if fetched else (), checkpoint=(block, head_hash if block == head else None))
        if on_applied is not None:
            on_applied(result)

    result = run_backfill(start=start, end=head, fetch=fetch, apply=apply, checkpoint=checkpoint,
                          policy=policy, **options)
    if result.chunks > 1 or result.range_errors or result.waits:
        log.info("index caught up", start=start, head=head, chunks=result.chunks, logs=result.logs,
                 range_errors=result.range_errors, waits=result.waits, chunk=result.final_chunk)
    return result
