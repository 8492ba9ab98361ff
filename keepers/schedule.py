"""Pure scan scheduling: which accounts to read through the Lens at a block.

- Near the edge (last health factor below the threshold) or never scanned:
  every block.
- Touched by a market event since the last scan: this block.
- Healthy: once every ``healthy_scan_interval`` blocks, spread over the
  interval by a hash of the address (so a full rescan never lands on one
  block), and at once if the last scan is older than the interval (missed
  blocks).
- A NAV update: everything, this block.

Sharding for workers: an account belongs to shard
``sha256(address) mod shard_count``; a stable hash, never Python's
``hash()``, which differs between processes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping

from navlend.constants import WAD

from keepers.config import KeeperConfig
from keepers.types import LENS_MAX_ACCOUNTS, AccountHealth, ScanRecord, chunks


@dataclass(frozen=True)
class ScanPolicy:
    near_edge_hf_wad: int
    healthy_interval: int
    shard_count: int = 1
    shard_id: int = 0
    batch_size: int = LENS_MAX_ACCOUNTS
    # On a NAV update, positions below this are scanned and acted on first.
    nav_first_hf_wad: int = 125 * WAD // 100

    def __post_init__(self) -> None:
        if self.healthy_interval < 1:
            raise ValueError("healthy_interval must be at least 1")
        if not 0 <= self.shard_id < self.shard_count:
            raise ValueError(f"shard_id {self.shard_id} not in [0, {self.shard_count})")
        if not 1 <= self.batch_size <= LENS_MAX_ACCOUNTS:
            raise ValueError(f"batch_size must be in [1, {LENS_MAX_ACCOUNTS}]")

    @classmethod
    def from_config(cls, config: KeeperConfig) -> ScanPolicy:
        return cls(
            near_edge_hf_wad=config.near_edge_hf_wad,
            healthy_interval=config.healthy_scan_interval,
            shard_count=config.shard_count,
            shard_id=config.shard_id,
            batch_size=config.scan_batch_size,
            nav_first_hf_wad=config.nav_first_hf_wad,
        )


@dataclass(frozen=True)
class ScanPlan:
    """The accounts to scan at ``block``, riskiest first, and why."""

    block: int
    accounts: tuple[str, ...]
    full: bool
    near_edge: int
    unseen: int
    touched: int
    healthy_due: int
    # How many of ``accounts`` make the first stage (see ``stages``).
    urgent: int = 0

    def batches(self, size: int = LENS_MAX_ACCOUNTS) -> list[list[str]]:
        """The accounts in Lens-sized calls."""
        return chunks(self.accounts, size)

    def stages(self) -> tuple[tuple[str, ...], ...]:
        """The accounts in the order the keeper scans and acts on them.
        A NAV update's full scan comes in two stages: first what a quiet
        block would scan (near the edge, unseen, touched, due) and every
        position last seen below the policy's ``nav_first_hf_wad``, riskiest
        first; then the healthy rest. What a NAV drop of up to 20 % pushes
        under water is all in the first stage, whose liquidations are sent
        before the rest of the book is read (at 10,000 positions the rest is
        most of the scan). Otherwise one stage."""
        if not self.full or self.urgent in (0, len(self.accounts)):
            return (self.accounts,) if self.accounts else ()
        return self.accounts[: self.urgent], self.accounts[self.urgent :]


@lru_cache(maxsize=1 << 17)
def _digest(account: str) -> int:
    # Cached: every block's schedule asks it for every open account.
    return int.from_bytes(hashlib.sha256(bytes.fromhex(account[2:].lower())).digest()[:8], "big")


def shard_of(account: str, shard_count: int) -> int:
    """The shard an account belongs to (stable across processes)."""
    return _digest(account) % shard_count


def stagger_slot(account: str, interval: int) -> int:
    """The block offset (mod ``interval``) at which a healthy account is
    rescanned."""
    return (_digest(account) >> 32) % interval


def accounts_to_scan(
    block: int,
    open_accounts: Iterable[str],
    last: Mapping[str, ScanRecord],
    policy: ScanPolicy,
    nav_update: bool = False,
    touched: Iterable[str] = (),
) -> ScanPlan:
    """The accounts of this shard to scan at ``block`` (module docstring)."""
    mine = [a for a in open_accounts if policy.shard_count == 1 or shard_of(a, policy.shard_count) == policy.shard_id]
    changed = set(touched)
    near, unseen, hit, due, rest = [], [], [], [], []
    for account in mine:
        record = last.get(account)
        if record is None:
            unseen.append(account)
        elif record.health_factor < policy.near_edge_hf_wad:
            near.append(account)
        elif account in changed:
            hit.append(account)
        elif _healthy_due(account, record, block, policy.healthy_interval):
            due.append(account)
        else:
            rest.append(account)
    near.sort(key=lambda a: last[a].health_factor)
    urgent = len(near) + len(unseen) + len(hit) + len(due)
    if nav_update:
        # The healthy rest, riskiest first; those a NAV drop can sink join
        # the first stage (see ScanPlan.stages).
        hit_or_due = set(hit) | set(due)
        nav_first = sorted(
            (a for a in hit_or_due | set(rest) if last[a].health_factor < policy.nav_first_hf_wad),
            key=lambda a: last[a].health_factor,
        )
        first = set(nav_first)
        hit = [a for a in hit if a not in first]
        due = [a for a in due if a not in first]
        rest = [a for a in rest if a not in first]
        chosen = near + unseen + nav_first + hit + due + rest
        urgent = len(near) + len(unseen) + len(nav_first) + len(hit) + len(due)
    else:
        chosen = near + unseen + hit + due
    return ScanPlan(
        block=block,
        accounts=tuple(chosen),
        full=nav_update,
        near_edge=len(near),
        unseen=len(unseen),
        touched=len(hit),
        healthy_due=len(due),
        urgent=urgent,
    )


def _healthy_due(account: str, record: ScanRecord, block: int, interval: int) -> bool:
    if record.block >= block:
        return False
    if block - record.block >= interval:
        return True
    return (block + stagger_slot(account, interval)) % interval == 0


def record_scan(last: Mapping[str, ScanRecord], healths: Iterable[AccountHealth], block: int) -> dict[str, ScanRecord]:
    """``last`` updated with a scan's results (a new dict)."""
    updated = dict(last)
    for h in healths:
        updated[h.account] = ScanRecord(block=block, health_factor=h.health_factor)
    return updated


def forget_closed(last: Mapping[str, ScanRecord], open_accounts: Iterable[str]) -> dict[str, ScanRecord]:
    """``last`` without the accounts that no longer have debt."""
    keep = set(open_accounts)
    return {a: r for a, r in last.items() if a in keep}
