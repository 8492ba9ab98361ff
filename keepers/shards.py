"""The scan's shards on several hosts: pure rules, no I/O.

A shard is one market's positions whose account falls in one range of the
address space (``[lo, hi)`` over the 160-bit addresses, ``parts`` equal
ranges). Ranges rather than a hash of the account: the scanner reads its
shard from the index with a range condition (``keepers/shardscan.py``), so
a worker fetches its own positions only, not the whole book to filter it;
addresses are keccak outputs, so equal ranges hold about equal counts.

Silverback dispatches one task per registered block handler on every
block; the scanner bot (``keepers/bots/scanner.py``) registers one handler
per :class:`ShardTask` of :func:`plan_tasks`, named by
:attr:`ShardTask.name` (the same names in the dispatcher and in every
worker, since they come from the same configuration). :func:`due` says
whether a block's task scans or returns at once (``scan_every_blocks`` >
1 spreads the shards over the blocks).

A worker that dies mid-task loses its message (taskiq's Redis list broker
pops it, with no acknowledgement): nothing is lost for all that, since
every due block dispatches every shard again and the scan keeps no state
between blocks: the next due block's task, on any live worker, covers the
shard (:func:`covering_block`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ADDRESS_SPACE = 1 << 160
# The most ranges per market (one Silverback handler each).
MAX_PARTS = 256


@dataclass(frozen=True)
class AccountRange:
    """Addresses ``lo <= int(address) < hi``."""

    lo: int
    hi: int

    def __post_init__(self) -> None:
        if not 0 <= self.lo < self.hi <= ADDRESS_SPACE:
            raise ValueError(f"an account range is 0 <= lo < hi <= 2**160, got [{self.lo:#x}, {self.hi:#x})")

    def holds(self, account: str) -> bool:
        return self.lo <= address_int(account) < self.hi

    @property
    def lo_hex(self) -> str:
        """``lo`` as a lower-case ``0x`` address (the SQL bound)."""
        return "0x" + f"{self.lo:040x}"

    @property
    def hi_hex(self) -> str | None:
        """``hi`` as a lower-case address; None for the top of the space."""
        return None if self.hi == ADDRESS_SPACE else "0x" + f"{self.hi:040x}"


@dataclass(frozen=True)
class ShardTask:
    """One block task: ``market``'s accounts in ``accounts`` (range
    ``part`` of ``parts``); ``slot`` is its place among all the tasks."""

    market: str
    part: int
    parts: int
    accounts: AccountRange
    slot: int

    @property
    def name(self) -> str:
        """The Silverback handler's (and taskiq task's) name."""
        return f"scan_{self.market[2:10].lower()}_{self.part}of{self.parts}"

    @property
    def label(self) -> str:
        """The metrics' ``shard`` label."""
        return f"{self.market[2:10].lower()}:{self.part}/{self.parts}"


def address_int(account: str) -> int:
    """An address as an integer; ValueError for anything else."""
    text = account.strip()
    if not (text.startswith(("0x", "0X")) and len(text) == 42):
        raise ValueError(f"not an address: {account!r}")
    try:
        return int(text[2:], 16)
    except ValueError:
        raise ValueError(f"not an address: {account!r}") from None


def split_ranges(parts: int) -> tuple[AccountRange, ...]:
    """The address space in ``parts`` contiguous ranges of equal width
    (the last takes the remainder), covering it exactly once."""
    if not 1 <= parts <= MAX_PARTS:
        raise ValueError(f"parts must be 1..{MAX_PARTS}, got {parts}")
    width = ADDRESS_SPACE // parts
    bounds = [i * width for i in range(parts)] + [ADDRESS_SPACE]
    return tuple(AccountRange(bounds[i], bounds[i + 1]) for i in range(parts))


def plan_tasks(markets: Sequence[str], parts: int) -> tuple[ShardTask, ...]:
    """Every market split in ``parts`` ranges: ``len(markets) * parts``
    tasks, in a stable order (the slots)."""
    if not markets:
        raise ValueError("no market to scan")
    keys = [address_int(m) for m in markets]
    if len(set(keys)) != len(keys):
        raise ValueError(f"a market listed twice: {list(markets)}")
    ranges = split_ranges(parts)
    tasks = []
    for market in markets:
        for part, accounts in enumerate(ranges):
            tasks.append(ShardTask(market=market, part=part, parts=parts, accounts=accounts, slot=len(tasks)))
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"two markets share their first four bytes; task names collide: {names}")
    return tuple(tasks)


def due(task: ShardTask, block: int, every: int) -> bool:
    """Whether ``block``'s task for ``task`` scans: every block when
    ``every`` is 1; else one block in ``every``, the shards staggered by
    their slot so that each block carries about 1/``every`` of them."""
    if every < 1:
        raise ValueError(f"scan every >= 1 blocks, got {every}")
    if block < 0:
        raise ValueError(f"block number >= 0, got {block}")
    return (block + task.slot) % every == 0


def covering_block(task: ShardTask, after: int, every: int) -> int:
    """The first block after ``after`` whose task scans ``task``'s shard:
    what re-covers a shard whose task died at block ``after``."""
    block = after + 1
    while not due(task, block, every):
        block += 1
    return block


def shard_of(tasks: Iterable[ShardTask], market: str, account: str) -> ShardTask:
    """The task whose shard holds ``market``'s ``account`` (exactly one)."""
    market_key = address_int(market)
    found = [t for t in tasks if address_int(t.market) == market_key and t.accounts.holds(account)]
    if len(found) != 1:
        raise ValueError(f"{len(found)} shards hold {account} of market {market}")
    return found[0]
