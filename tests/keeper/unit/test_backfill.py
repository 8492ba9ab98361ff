"""The chunked, checkpointed backfill (keepers/backfill.py) on a real
in-memory PositionIndex and a scripted provider: from the deployment
block, a checkpoint per chunk, resume after an error, 429s waited out
without shrinking the chunk, range refusals halved and grown back."""

from __future__ import annotations

import random

import pytest

from navlend.constants import WAD

from keepers.backfill import BackfillInterrupted, backfill_index, backfill_start, run_backfill
from keepers.index import PositionIndex
from keepers.rpc import RpcFailure, RpcUnavailable
from keepers.rpc_policy import ChunkPolicy, Failure, FailureKind, RangeUnsplittable
from keepers.types import LogRecord, to_address

from conftest import MARKET

DEPLOYED_AT = 1_000
HEAD = 9_999
HEAD_HASH = "0x" + "ee" * 32


def borrow(account: str, scaled: int, block: int) -> LogRecord:
    return LogRecord.from_event(
        "Borrow", {"on_behalf": account, "scaled_debt": scaled, "borrow_index": WAD},
        block_number=block, block_hash=f"0x{block:064x}", tx_hash=f"0x{block:064x}", log_index=0)


def history(every: int = 37) -> dict[int, list[LogRecord]]:
    """A Borrow every ``every`` blocks from the deployment to the head, by
    accounts that repeat (later logs supersede earlier ones)."""
    out = {}
    for n, block in enumerate(range(DEPLOYED_AT, HEAD + 1, every)):
        account = to_address("0x" + f"{n % 50 + 1:040x}")
        out[block] = [borrow(account, 1_000 + block, block)]
    return out


class Web3LikeError(Exception):
    """What web3 raises for a JSON-RPC error: the response rides along."""

    def __init__(self, error):
        super().__init__(str(error))
        self.rpc_response = {"jsonrpc": "2.0", "id": 1, "error": error}


class Provider:
    """eth_getLogs over ``logs``: refuses ranges wider than ``max_range``
    (Infura's words) and answers ``faults`` (range start -> exception) once each."""

    def __init__(self, logs, max_range=None, faults=None, rate_limit_share=0.0, seed=1):
        self.logs = logs
        self.max_range = max_range
        self.faults = dict(faults or {})
        self.rate_limit_share = rate_limit_share
        self.random = random.Random(seed)
        self.ranges: list[tuple[int, int]] = []
        self.biggest_answer = 0

    def __call__(self, lo, hi):
        self.ranges.append((lo, hi))
        if lo in self.faults:
            raise self.faults.pop(lo)
        if self.random.random() < self.rate_limit_share:
            raise RpcFailure("429", Failure(FailureKind.RATE_LIMITED, "Too Many Requests", retry_after=0.25))
        if self.max_range is not None and hi - lo + 1 > self.max_range:
            raise Web3LikeError({"code": -32005, "message": "query returned more than 10000 results"})
        answer = [r for b in range(lo, hi + 1) for r in self.logs.get(b, [])]
        self.biggest_answer = max(self.biggest_answer, len(answer))
        return answer


def fresh_index() -> PositionIndex:
    return PositionIndex(":memory:", MARKET, start_block=DEPLOYED_AT)


def snapshot(index: PositionIndex) -> dict[str, int]:
    return {a: index.position(a).scaled_debt for a in index.open_accounts()}


def reference(logs) -> dict[str, int]:
    index = fresh_index()
    index.apply([r for b in sorted(logs) for r in logs[b]])
    return snapshot(index)


POLICY = ChunkPolicy(initial=2_000, maximum=2_000, minimum=1, grow_after=3)


def test_backfill_start__no_checkpoint__deployment_block():
    assert backfill_start(None, DEPLOYED_AT) == DEPLOYED_AT


def test_backfill_start__checkpoint__the_block_after():
    assert backfill_start(5_000, DEPLOYED_AT) == 5_001
    assert backfill_start(10, DEPLOYED_AT) == DEPLOYED_AT  # a checkpoint from before the deployment


def test_backfill_start__negative_deployment__refused():
    with pytest.raises(ValueError, match="deployment block"):
        backfill_start(None, -1)


def test_backfill__from_deployment_block__checkpoint_after_each_chunk():
    logs = history()
    provider = Provider(logs)
    index = fresh_index()
    checkpoints = []
    real_set = index.set_checkpoint
    index.set_checkpoint = lambda block, block_hash=None: checkpoints.append((block, block_hash)) or real_set(block, block_hash)
    result = backfill_index(index, fetch=provider, head=HEAD, head_hash=HEAD_HASH, policy=POLICY, sleep=lambda s: None)
    assert provider.ranges[0][0] == DEPLOYED_AT
    assert [hi for _, hi in provider.ranges] == [block for block, _ in checkpoints]
    assert checkpoints[-1] == (HEAD, HEAD_HASH)
    assert all(h is None for _, h in checkpoints[:-1])
    assert index.checkpoint() == HEAD and index.checkpoint_hash() == HEAD_HASH
    assert snapshot(index) == reference(logs)
    assert result.chunks == 5 and result.logs == len(logs)


def test_backfill__bounded_memory__one_chunk_of_logs_at_a_time():
    logs = history(every=1)
    provider = Provider(logs)
    applied_sizes = []
    run_backfill(start=DEPLOYED_AT, end=HEAD, fetch=provider, apply=lambda records: applied_sizes.append(len(records)),
                 checkpoint=lambda block: None, policy=POLICY, sleep=lambda s: None)
    assert max(applied_sizes) == POLICY.maximum
    assert sum(applied_sizes) == len(logs)


def test_backfill__error__resumes_from_last_checkpoint():
    logs = history()
    boom = RpcFailure("bad", Failure(FailureKind.OTHER, "the method eth_getLogs is not available"))
    first = Provider(logs, faults={5_000: boom})
    index = fresh_index()
    with pytest.raises(BackfillInterrupted) as info:
        backfill_index(index, fetch=first, head=HEAD, head_hash=HEAD_HASH, policy=POLICY, sleep=lambda s: None)
    assert info.value.resume_from == 5_000
    assert index.checkpoint() == 4_999
    second = Provider(logs)
    backfill_index(index, fetch=second, head=HEAD, head_hash=HEAD_HASH, policy=POLICY, sleep=lambda s: None)
    assert second.ranges[0][0] == 5_000
    assert snapshot(index) == reference(logs)


def test_backfill__429_with_retry_after__waits_then_resumes():
    logs = history()
    limited = RpcFailure("429", Failure(FailureKind.RATE_LIMITED, "Too Many Requests", retry_after=3.0))
    provider = Provider(logs, faults={3_000: limited})
    slept = []
    index = fresh_index()
    result = backfill_index(index, fetch=provider, head=HEAD, head_hash=HEAD_HASH, policy=POLICY, sleep=slept.append)
    assert slept == [3.0]
    assert provider.ranges.count((3_000, 4_999)) == 2  # the same chunk, not halved
    assert result.range_errors == 0 and result.final_chunk == 2_000
    assert snapshot(index) == reference(logs)


def test_backfill__5pct_429__completes_without_shrinking():
    # issue 16: with 5 % of calls answering 429 the old backfill gave up,
    # and three 429s shrank the chunk from 2,000 blocks to 250
    logs = history(every=3)
    provider = Provider(logs, rate_limit_share=0.05, seed=7)
    index = PositionIndex(":memory:", MARKET, start_block=0)
    head = 200_000
    result = run_backfill(start=0, end=head, fetch=provider, apply=index.apply,
                          checkpoint=index.set_checkpoint, policy=POLICY, sleep=lambda s: None)
    assert result.waits > 0
    assert result.range_errors == 0
    assert {hi - lo + 1 for lo, hi in provider.ranges[:-1]} == {2_000}
    assert index.checkpoint() == head


def test_backfill__range_limit__halved_then_grows_back():
    logs = history()
    provider = Provider(logs, max_range=500)
    index = fresh_index()
    policy = ChunkPolicy(initial=2_000, maximum=2_000, grow_after=3, probe_after=6)
    result = backfill_index(index, fetch=provider, head=HEAD, head_hash=HEAD_HASH, policy=policy,
                            sleep=lambda s: None)
    sizes = [hi - lo + 1 for lo, hi in provider.ranges]
    assert sizes[:3] == [2_000, 1_000, 500]
    # 1,000 was refused: asked again only after 6 successes at 500, refused, halved back
    assert sizes[2:10] == [500] * 6 + [1_000, 500]
    # two halvings, then one refused probe per 6 + 1 chunks: 1,000 is never taken again
    assert result.range_errors == 4
    assert sizes.count(1_000) == 3
    assert snapshot(index) == reference(logs)


def test_backfill__provider_limit_lifted__grows_back_to_maximum():
    logs = history()
    provider = Provider(logs, max_range=500)
    policy = ChunkPolicy(initial=2_000, maximum=2_000, grow_after=2, probe_after=3)
    index = PositionIndex(":memory:", MARKET, start_block=0)
    calls = 0

    def fetch(lo, hi):
        nonlocal calls
        calls += 1
        if calls == 4:
            provider.max_range = None  # the provider's limit goes away
        return provider(lo, hi)

    result = run_backfill(start=0, end=40_000, fetch=fetch, apply=index.apply, checkpoint=index.set_checkpoint,
                          policy=policy, sleep=lambda s: None)
    assert result.final_chunk == 2_000
    assert index.checkpoint() == 40_000


def test_backfill__range_refused_at_one_block__unsplittable():
    provider = Provider(history(), max_range=0)
    with pytest.raises(RangeUnsplittable):
        run_backfill(start=DEPLOYED_AT, end=HEAD, fetch=provider, apply=lambda r: None, checkpoint=lambda b: None,
                     policy=POLICY, sleep=lambda s: None)


def test_backfill__timeouts_beyond_retries__interrupted_with_backoff():
    calls = []

    def flaky(lo, hi):
        calls.append(lo)
        raise TimeoutError("timed out")

    slept = []
    with pytest.raises(BackfillInterrupted, match="restart resumes at 1000") as info:
        run_backfill(start=DEPLOYED_AT, end=HEAD, fetch=flaky, apply=lambda r: None, checkpoint=lambda b: None,
                     policy=POLICY, retries=3, backoff=1.0, max_backoff=3.0, sleep=slept.append)
    assert info.value.failure.kind is FailureKind.TIMEOUT
    assert slept == [1.0, 2.0, 3.0]
    assert calls == [DEPLOYED_AT] * 4


def test_backfill__nothing_to_do__no_fetch():
    provider = Provider(history())
    result = run_backfill(start=HEAD + 1, end=HEAD, fetch=provider, apply=lambda r: None,
                          checkpoint=lambda b: None, policy=POLICY)
    assert provider.ranges == [] and result.chunks == 0


@pytest.mark.parametrize("kwargs,match", [
    ({"start": -1}, "block numbers"),
    ({"retries": -1}, "retries"),
    ({"backoff": 0}, "backoff"),
])
def test_backfill__bad_arguments__refused(kwargs, match):
    args = dict(start=0, end=10, fetch=lambda lo, hi: [], apply=lambda r: None, checkpoint=lambda b: None,
                policy=POLICY)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        run_backfill(**args)


def test_backfill__process_restart__resumes_from_persisted_checkpoint(tmp_path):
    logs = history()
    path = tmp_path / "index.sqlite"
    down = RpcUnavailable("gone", Failure(FailureKind.UNREACHABLE, "Connection refused"))
    first = Provider(logs, faults={7_000: down})
    index = PositionIndex(path, MARKET, start_block=DEPLOYED_AT)
    with pytest.raises(BackfillInterrupted):
        backfill_index(index, fetch=first, head=HEAD, head_hash=HEAD_HASH, policy=POLICY, retries=0)
    index.close()
    restarted = PositionIndex(path, MARKET, start_block=DEPLOYED_AT)
    assert restarted.checkpoint() == 6_999
    second = Provider(logs)
    backfill_index(restarted, fetch=second, head=HEAD, head_hash=HEAD_HASH, policy=POLICY)
    assert second.ranges == [(7_000, 8_999), (9_000, 9_999)]
    assert snapshot(restarted) == reference(logs)
    restarted.close()
