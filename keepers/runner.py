"""A Silverback runner that survives its node: ``--runner
keepers.runner:ResilientPollingRunner``.

Why not Silverback's own runners: ``PollingRunner`` iterates Ape's
``poll_blocks``/``poll_logs``, and ``WebsocketRunner`` web3's subscriptions;
an RPC error (the node restarting, a dropped socket) raises out of either
iterator into the runner's task group and shuts the bot down, and on anvil
interval-mined blocks did not reach the websocket subscription at all. This
runner polls ``eth_blockNumber`` itself, hands every block number it has not
seen yet to the block tasks (no gap after an outage) and fetches each event
task's logs for exactly those blocks; an RPC error is logged and retried
after a back-off. The keeper's own index sync (``eth_getLogs`` from its
checkpoint every block) makes a missed log harmless in any case.

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

POLL_SECONDS = float(os.environ.get("NAVLEND_POLL_SECONDS", "0.25"))
MAX_BACKOFF = 10.0

log = structlog.get_logger("keepers.runner")


class ResilientPollingRunner(PollingRunner):
    """Polling runner whose listeners never die on RPC errors."""

    async def _heads(self, name: str):
        """Yields each new block number once, forever, across node outages."""
        web3 = self.provider.web3
        last = None
        backoff = POLL_SECONDS
        while not self.shutdown_event.is_set():
            try:
                head = await asyncio.to_thread(lambda: web3.eth.block_number)
                if last is None or head < last - 64:
                    last = head - 1  # first poll, or a new chain: start at the head
                for number in range(last + 1, head + 1):
                    yield number
                last = max(last, head)
                backoff = POLL_SECONDS
            except Exception as err:
                log.warning("RPC error while polling; retrying", task=name, error=str(err)[:300],
                            error_type=type(err).__name__, retry_in=min(backoff * 2, MAX_BACKOFF))
                backoff = min(backoff * 2, MAX_BACKOFF)
                await asyncio.sleep(backoff)
                continue
            await asyncio.sleep(POLL_SECONDS)

    async def _block_task(self, task_data):
        async for number in self._heads(task_data.name):
            try:
                block = await asyncio.to_thread(self.chain_manager.blocks.__getitem__, number)
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
        web3 = self.provider.web3
        async for number in self._heads(task_data.name):
            query = {"fromBlock": number, "toBlock": number, "topics": topics}
            if address:
                query["address"] = address
            try:
                raw = await asyncio.to_thread(web3.eth.get_logs, query)
                logs = list(ecosystem.decode_logs([dict(r) for r in raw], event))
            except Exception as err:
                log.warning("logs of block unavailable; skipped", task=task_data.name, block=number,
                            error=str(err)[:300], error_type=type(err).__name__)
                continue
            for entry in logs:
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
