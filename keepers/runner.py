"""A Silverback runner that survives its node: ``--runner
keepers.runner:ResilientPollingRunner``.

Why not Silverback's own runners: ``PollingRunner`` iterates Ape's
``poll_blocks``/``poll_logs``, and ``WebsocketRunner`` web3's subscriptions;
an RPC error (the node restarting, a dropped socket) raises out of either
iterator into the runner's task group and shuts the bot down, and on anvil
interval-mined blocks did not reach the websocket subscription at all. This
runner polls ``eth_blockNumber`` itself, ONCE per period for all its
listeners (``keepers.rpc.SharedHead``: eleven listeners cost one poll, not
eleven), hands every block number it has not seen yet to the block tasks,
and fetches each event task's logs range by range
(``keepers.rpc.follow_logs``), all the tasks' logs of a range in ONE
``getLogs`` (``keepers.loghub``): a range whose ``getLogs`` failed is asked
again, never skipped, so a NAV oracle's event is read late but never lost.
Once the keeper has built the process's RPC client (``rpc_urls``,
failover, rate limits, timeouts: ``keepers.wiring.keeper_web3``), the
listeners read through it too; before that, through Ape's provider.

``NAVLEND_POLL_SECONDS`` sets the polling period (default 0.25 s).

It logs through structlog (``keepers/logs.py``), each line bound to the
task's name and, where there is one, the block.
"""

from __future__ import annotations

import asyncio
import os

import structlog
from ethpm_types import EventABI
from silverback.exceptions import Halt
from silverback.runner import PollingRunner
from silverback.utils import decode_topics_from_string

from keepers.loghub import LogFilter, LogHub
from keepers.rpc import SharedHead, follow_logs, installed_client, watch_heads, web3_on
from keepers.rpc_policy import new_heads

POLL_SECONDS = float(os.environ.get("NAVLEND_POLL_SECONDS", "0.25"))
MAX_BACKOFF = 10.0

log = structlog.get_logger("keepers.runner")


class ResilientPollingRunner(PollingRunner):
    """Polling runner whose listeners never die on RPC errors and share
    one head poll."""

    @property
    def heads(self) -> SharedHead:
        """The head poll all listeners share (made on first use)."""
        shared = self.__dict__.get("_shared_head")
        if shared is None:
            shared = self.__dict__["_shared_head"] = SharedHead(self._head_number, POLL_SECONDS)
        return shared

    @property
    def logs(self) -> LogHub:
        """The getLogs all event listeners share (made on first use)."""
        hub = self.__dict__.get("_log_hub")
        if hub is None:
            hub = self.__dict__["_log_hub"] = LogHub(lambda query: self._web3().eth.get_logs(query))
        return hub

    def _head_number(self) -> int:
        client = installed_client()
        if client is not None:
            return int(client.request("eth_blockNumber", []), 16)
        return int(self.provider.web3.eth.block_number)

    def _web3(self):
        client = installed_client()
        return web3_on(client) if client is not None else self.provider.web3

    def _block(self, number: int):
        return self.provider.network.ecosystem.decode_block(dict(self._web3().eth.get_block(number)))

    async def _heads(self, name: str):
        """Yields each new block number once, across node outages (the
        latest 256 after a long one: the keeper's index sync reads the
        logs of the rest)."""
        last = None
        async for head in watch_heads(self.heads, self.shutdown_event, poll_seconds=POLL_SECONDS,
                                      max_backoff=MAX_BACKOFF, task=name):
            step = new_heads(last, head)
            last = step.last
            for number in step.blocks:
                yield number

    async def _block_task(self, task_data):
        async for number in self._heads(task_data.name):
            try:
                block = await asyncio.to_thread(self._block, number)
            except Exception as err:
                log.warning("block unavailable; skipped", task=task_data.name, block=number,
                            error=str(err)[:300], error_type=type(err).__name__)
                continue
            self._runtime_task_group.create_task(self._guarded(task_data, block))

    async def _event_task(self, task_data):
        address = task_data.labels.get("address")
        event = EventABI.from_signature(task_data.labels["event"])
        topics = decode_topics_from_string(task_data.labels.get("topics", "")) or None
        ecosystem = self.provider.network.ecosystem

        if topics is not None and len(topics) == 1 and isinstance(topics[0], str):
            # An event's logs, no argument filter: through the runner's one
            # getLogs per range (keepers/loghub.py).
            raw_of = self.logs.register(LogFilter(str(topics[0]), str(address) if address else None))
        else:
            def raw_of(start: int, end: int) -> list:
                query = {"fromBlock": start, "toBlock": end, "topics": topics}
                if address:
                    query["address"] = address
                return [dict(r) for r in self._web3().eth.get_logs(query)]

        def fetch(start: int, end: int) -> list:
            raw = raw_of(start, end)
            return list(ecosystem.decode_logs(raw, event)) if raw else []

        async for read in follow_logs(self.heads, self.shutdown_event, fetch, poll_seconds=POLL_SECONDS,
                                      max_backoff=MAX_BACKOFF, task=task_data.name):
            for entry in read.logs:
                self._runtime_task_group.create_task(self._guarded(task_data, entry))

    async def _guarded(self, task_data, *args):
        """``run_task``, with errors outside the handler (sending the block
        to the broker while the node is away) logged instead of ending the
        runner; ``Halt`` (too many handler errors, a CircuitBreaker) still
        stops it."""
        try:
            await self.run_task(task_data, *args)
        except Halt:
            raise
        except Exception as err:
            log.warning("task not run", task=task_data.name, block=_block_of(args), error=str(err)[:300],
                        error_type=type(err).__name__)


def _block_of(args: tuple) -> int | None:
    """The block a task was run for: a block's number, or a log's
    ``block_number``; None when there is neither."""
    for arg in args:
        for attr in ("number", "block_number"):
            value = getattr(arg, attr, None)
            if isinstance(value, int):
                return value
    return None
