"""``keepers.runner.ResilientPollingRunner``'s listeners against a scripted
node (no chain): every listener shares one head poll, and an event
listener whose ``getLogs`` failed asks for the same blocks again, so a NAV
oracle's event is never dropped (issue 16 point 3: about 44 head polls a
second with eleven listeners; a failed oracle getLogs lost that NAV's
scan). ``keepers.rpc.follow_logs`` is tested on its own in
``test_rpc_follow.py``."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from keepers.runner import POLL_SECONDS, ResilientPollingRunner

ORACLE = "0x" + "0a" * 20
NAV_BLOCK = 101


class Eth:
    """A node's head and the oracle's logs; ``fail_logs`` getLogs calls
    that cover the NAV block fail first."""

    def __init__(self, head: int = 100, fail_logs: int = 0) -> None:
        self.head = head
        self.fail_logs = fail_logs
        self.head_polls = 0
        self.log_queries: list[tuple[int, int]] = []

    @property
    def block_number(self) -> int:
        self.head_polls += 1
        return self.head

    def get_logs(self, query):
        lo, hi = query["fromBlock"], query["toBlock"]
        self.log_queries.append((lo, hi))
        if lo <= NAV_BLOCK <= hi and self.fail_logs:
            self.fail_logs -= 1
            raise ConnectionError("429 Too Many Requests")
        return [{"blockNumber": NAV_BLOCK, "address": ORACLE}] if lo <= NAV_BLOCK <= hi else []


@pytest.fixture(autouse=True)
def no_process_client(monkeypatch):
    """The scripted node is the runner's only one (another test of the
    process may have made a keeper RPC client)."""
    monkeypatch.setattr("keepers.runner.installed_client", lambda: None)


def _runner(eth: Eth) -> ResilientPollingRunner:
    ecosystem = SimpleNamespace(decode_logs=lambda raw, event: list(raw))

    class Probe(ResilientPollingRunner):
        provider = SimpleNamespace(web3=SimpleNamespace(eth=eth), network=SimpleNamespace(ecosystem=ecosystem))

        async def _guarded(self, task_data, *args):
            self.handled.append(args[0])

    runner = Probe(None)
    runner.handled = []
    runner.shutdown_event = asyncio.Event()
    return runner


async def _for(seconds: float, runner: ResilientPollingRunner, *coros) -> None:
    async with asyncio.TaskGroup() as group:
        runner._runtime_task_group = group
        for coro in coros:
            group.create_task(coro)
        await asyncio.sleep(seconds)
        runner.shutdown_event.set()


def test_runner__eleven_listeners__one_head_poll_per_period():
    eth = Eth()
    runner = _runner(eth)
    seen: list[list[int]] = [[] for _ in range(11)]

    async def listen(out):
        async for number in runner._heads("listener"):
            out.append(number)
            eth.head += 1  # a block a poll or so

    asyncio.run(_for(1.0, runner, *(listen(out) for out in seen)))

    # One poll per period between them all (a first one at the start),
    # where each polling on its own made eleven.
    assert eth.head_polls <= 1.0 / POLL_SECONDS + 2, eth.head_polls
    assert all(out and out[0] == 100 for out in seen)
    assert all(out == sorted(set(out)) for out in seen)  # each block once, in order


def test_runner__one_listener__polls_each_period():
    eth = Eth()
    runner = _runner(eth)
    seen: list[int] = []

    async def listen():
        async for number in runner._heads("listener"):
            seen.append(number)

    asyncio.run(_for(1.0, runner, listen()))

    assert eth.head_polls >= 1.0 / POLL_SECONDS - 1
    assert seen == [100]  # the head did not move: handed on once


def _nav_task() -> SimpleNamespace:
    return SimpleNamespace(name="nav_NavPublished_0", labels={
        "address": ORACLE, "event": "event NavPublished(uint256 answer, uint256 as_of)", "topics": ""})


def _nav_listener(eth: Eth, new_head: int, seconds: float) -> tuple[list[int], list[tuple[int, int]]]:
    """The NAV listener run for ``seconds`` while the chain moves to
    ``new_head`` past the NAV block: the blocks of the events it handed
    on, and the getLogs ranges that covered the NAV block."""
    runner = _runner(eth)

    async def chain_moves():
        await asyncio.sleep(3 * POLL_SECONDS)
        eth.head = new_head

    asyncio.run(_for(seconds, runner, runner._event_task(_nav_task()), chain_moves()))
    return [entry["blockNumber"] for entry in runner.handled], [q for q in eth.log_queries if q[0] <= NAV_BLOCK <= q[1]]


def test_runner_event_task__oracle_getlogs_fails__nav_event_still_handled():
    handled, asked = _nav_listener(Eth(fail_logs=2), NAV_BLOCK + 1, 4.0)

    assert handled == [NAV_BLOCK]
    assert len(asked) == 3  # two failures, then read
    assert asked[0][0] == asked[-1][0]  # asked again from the same first block


def test_runner_event_task__no_failure__nav_event_handled_once():
    handled, asked = _nav_listener(Eth(), NAV_BLOCK + 2, 1.5)

    assert handled == [NAV_BLOCK]
    assert len(asked) == 1
