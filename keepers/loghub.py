"""One ``eth_getLogs`` per range for all of a runner's event listeners
(``keepers/runner.py``). Silverback gives each listener a task of its own,
and each asked the node for its own logs every block: a keeper following
three NAV oracles' pending-NAV events made nine ``getLogs`` a block. The
listeners follow the same head (``keepers.rpc.SharedHead``), so they ask
for the same ranges: the first to ask fetches the logs of every listener's
address and event together, and the others, asking for that range or one
inside it soon after, are served from it, each only its own.

Written here rather than taken from Silverback: its runners have no shared
log query (each event task polls on its own)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# How long a fetched range serves the other listeners: the listeners of one
# poll ask within a fraction of a second; a later ask (a reorg may have
# replaced the blocks since) goes to the node.
SERVE_SECONDS = 2.0


@dataclass(frozen=True)
class LogFilter:
    """One listener's logs: ``topic0`` (its event), from ``address`` (None:
    any emitter)."""

    topic0: str
    address: str | None = None

    def matches(self, entry: Any) -> bool:
        topics = entry.get("topics") or ()
        if not topics or _hex(topics[0]) != self.topic0.lower():
            return False
        return self.address is None or str(entry.get("address", "")).lower() == self.address.lower()


def _hex(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    text = str(value).lower()
    return text if text.startswith("0x") else "0x" + text


class LogHub:
    """The runner's shared ``getLogs`` (module docstring). ``get_logs``
    takes a web3 filter dict and returns the raw logs; ``clock``: seconds,
    monotonic."""

    def __init__(self, get_logs: Callable[[dict[str, Any]], Sequence[Any]],
                 clock: Callable[[], float] = time.monotonic, serve_seconds: float = SERVE_SECONDS) -> None:
        self._get_logs = get_logs
        self._clock = clock
        self._serve_seconds = serve_seconds
        self._filters: list[LogFilter] = []
        self._lock = threading.Lock()
        self._range: tuple[int, int] | None = None
        self._fetched_at = 0.0
        self._raw: list[Any] = []
        self.queries = 0

    def register(self, wanted: LogFilter) -> Callable[[int, int], list[Any]]:
        """A listener's ``fetch(start, end)``: its raw logs of the range."""
        with self._lock:
            if wanted not in self._filters:
                self._filters.append(wanted)
                self._range = None  # a new listener: the next ask fetches its logs too

        def fetch(start: int, end: int) -> list[Any]:
            return [entry for entry in self._logs(start, end)
                    if wanted.matches(entry) and start <= int(entry["blockNumber"]) <= end]

        return fetch

    def query(self, start: int, end: int) -> dict[str, Any]:
        """The one filter covering every listener: their events' topics,
        their addresses (none when a listener takes any emitter)."""
        topics = sorted({f.topic0.lower() for f in self._filters})
        query: dict[str, Any] = {"fromBlock": start, "toBlock": end, "topics": [topics]}
        if all(f.address is not None for f in self._filters):
            query["address"] = sorted({str(f.address) for f in self._filters})
        return query

    def _logs(self, start: int, end: int) -> list[Any]:
        with self._lock:
            served = (self._range is not None and self._range[0] <= start and end <= self._range[1]
                      and self._clock() - self._fetched_at <= self._serve_seconds)
            if not served:
                self._raw = [dict(entry) for entry in self._get_logs(self.query(start, end))]
                self._range = (start, end)
                self._fetched_at = self._clock()
                self.queries += 1
            return self._raw
