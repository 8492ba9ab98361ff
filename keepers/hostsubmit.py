"""The submitter's block on several hosts (``keepers/bots/submitter.py``,
``keepers/hosts.py``): each market's candidates, queued by the scanner
workers in that market's :class:`keepers.scale.CandidateQueue`, drained
into that market's keeper, their health re-read at the head and decided
and sent as the single-process keeper does (``Keeper.act``).

One market: one :class:`keepers.keeper.Keeper`. Several (``deployments``):
the :class:`keepers.fleet.Fleet` (one transaction manager, one nonce
sequence); the fleet reads the head once, polls the signer's transactions
once and reads its balance once, then each market's keeper works that same
head with :func:`submit_market` (``Fleet.on_block``'s ``work``). On
every market, the index writer (``index_writer``) first brings the
market's index to the head: it is the writer of every market's index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from keepers.chain import BlockRef
from keepers.fleet import Fleet
from keepers.keeper import Keeper, ScanReport
from keepers.scale import Candidate
from keepers.types import to_address

log = structlog.get_logger("keepers.hostsubmit")


class CandidateSource(Protocol):
    """What the submitter reads of a market's queue (``CandidateQueue``)."""

    def drain(self, head: int, limit: int = ...) -> list[Candidate]: ...


def act_on_candidates(keeper: Keeper, candidates: list[Candidate], head: BlockRef, report: ScanReport) -> int:
    """``candidates``' health re-read at ``head`` (one account once); the
    liquidatable ones decided and sent by ``keeper`` (``Keeper.act``).
    Returns how many are liquidatable at the head."""
    accounts = sorted({c.account for c in candidates})
    if not accounts:
        return 0
    healths = [h for h in keeper.reader.healths(accounts, head.number) if h.liquidatable]
    report.scanned += len(accounts)
    report.liquidatable += len(healths)
    if healths:
        keeper.act(head, healths, report)
    return len(healths)


def submit_market(keeper: Keeper, queue: CandidateSource, head: BlockRef, balance: int | None, *,
                  index_writer: bool) -> ScanReport:
    """One market's part of the block: its index to ``head`` (the writer
    only), its transactions followed (``balance``: the signer's, read once
    by the fleet; None: read here), its queue drained and acted on; a fault
    logged and counted on the market's keeper (the next block retries)."""
    report = ScanReport(block=head.number)
    try:
        if index_writer:
            keeper.sync(head)
        keeper.follow(head, balance)
        act_on_candidates(keeper, queue.drain(head.number), head, report)
        # Its /healthz follows the blocks it processed, as the keeper's does.
        keeper.health.mark_block(head.number, head.number)
    except Exception as err:
        report.error = str(err)[:300]
        keeper.fault("submit", err, block=head.number, market=keeper.reader.market)
    return report


@dataclass
class HostSubmitter:
    """The submitter's block over one market's ``keeper`` or a ``fleet``
    of them, each market's candidates from ``queues[market]``."""

    queues: Mapping[str, CandidateSource]
    index_writer: bool
    keeper: Keeper | None = None
    fleet: Fleet | None = None
    markets: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if (self.keeper is None) == (self.fleet is None):
            raise ValueError("a submitter drives one market's keeper or a fleet, exactly one of them")
        self.queues = {to_address(m): q for m, q in self.queues.items()}
        keepers = (self.keeper,) if self.keeper is not None else self.fleet.keepers  # type: ignore[union-attr]
        self.markets = tuple(to_address(k.reader.market) for k in keepers)  # type: ignore[union-attr]
        missing = [m for m in self.markets if m not in self.queues]
        extra = sorted(set(self.queues) - set(self.markets))
        if missing or extra:
            raise ValueError(f"one candidate queue per market: markets without one {missing}, "
                             f"queues of no market {extra}")

    def queue_of(self, keeper: Keeper) -> CandidateSource:
        return self.queues[to_address(keeper.reader.market)]

    def work(self, keeper: Keeper, head: BlockRef, balance: int | None) -> ScanReport:
        return submit_market(keeper, self.queue_of(keeper), head, balance, index_writer=self.index_writer)

    def backfill(self) -> int:
        """Every market's index to the head (the index writer, at start)."""
        target: Any = self.fleet if self.fleet is not None else self.keeper
        return target.backfill()

    def on_block(self, number: int, head: BlockRef | None = None) -> dict[str, float]:
        """One block (``head``: the block the bot's task was handed, not
        read again; None: the head is read): Silverback's metrics of it."""
        if self.fleet is not None:
            fleet_report = self.fleet.on_block(number, head=head, work=self.work)
            return {"sent": fleet_report.total("sent"), "skipped": fleet_report.total("skipped"),
                    "liquidatable": fleet_report.total("liquidatable")}
        keeper = self.keeper
        assert keeper is not None
        try:
            head = head if head is not None else keeper.reader.head()
        except Exception as err:
            keeper.fault("submit", err, block=number)
            return {"sent": 0, "skipped": 0, "liquidatable": 0}
        report = self.work(keeper, head, None)
        return {"sent": report.sent, "skipped": report.skipped, "liquidatable": report.liquidatable}


__all__ = ["CandidateSource", "HostSubmitter", "act_on_candidates", "submit_market"]
