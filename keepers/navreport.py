"""The NAV reporter's rules and configuration, with no chain access: when a
fund administrator strikes the next NAV and what it is.

A money-market fund strikes its NAV once per business day at 21:00 UTC
(``navlend.timeutil``). The reporter publishes the latest strike at or before
the block time that is newer than the oracle's latest round, with the NAV
accrued at the fund's yield since that round (a $1 dividend fund has a yield
of 0 in its NAV: its yield is paid as shares). Missed days (a chain that
jumped a week) are not replayed one by one: the oracle keeps one latest round
and the market reads only that.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from navlend import deployments
from navlend.constants import BPS, YEAR
from navlend.timeutil import next_business_day_strike

from keepers.config import ConfigError
from keepers.types import to_address

ENV_PREFIX = "NAVLEND_REPORTER_"
# Yields a fund administrator accrues by default, per deployments-file name.
DEFAULT_APY_BPS = {"oracle_a": 450, "oracle_b": 0, "oracle_c": 450}


def due_strike(latest_as_of: int, now: int, min_interval: int) -> int | None:
    """The strike to publish now: the last business-day strike at or before
    ``now`` that is at least ``min_interval`` after ``latest_as_of``; None
    when none is due yet."""
    due = None
    strike = next_business_day_strike(latest_as_of)
    while strike <= now:
        if strike - latest_as_of >= min_interval:
            due = strike
        strike = next_business_day_strike(strike)
    return due


def accrued_nav(nav: int, apy_bps: int, seconds: int) -> int:
    """``nav`` grown at a simple ``apy_bps`` a year over ``seconds``."""
    if seconds <= 0 or apy_bps <= 0:
        return nav
    return nav + nav * apy_bps * seconds // (BPS * YEAR)


def within_move(previous: int, new: int, max_move_bps: int) -> bool:
    """Whether the oracle applies ``new`` at once (else it waits for the
    guardian)."""
    return abs(new - previous) * BPS <= previous * max_move_bps


class NonceCounter:
    """The reporter's next nonce: the node's pending count, or one past the
    last nonce this process sent, whichever is higher. Two feeds published
    in one block handler go out back to back without waiting for a block
    (on an interval-mined chain Ape returns before the first is mined), and
    the node's *latest* count (Ape's ``account.nonce``) would hand the
    second the first's nonce ("replacement transaction underpriced").
    A transaction that never reached the node (``release``) gives its nonce
    back."""

    def __init__(self) -> None:
        self._next: int | None = None

    def take(self, chain_pending: int) -> int:
        """The nonce of the next transaction, marked as used."""
        nonce = chain_pending if self._next is None else max(self._next, chain_pending)
        self._next = nonce + 1
        return nonce

    def release(self, nonce: int) -> None:
        """``nonce`` was never broadcast: the next transaction reuses it."""
        if self._next == nonce + 1:
            self._next = nonce


class SentStrikes:
    """Strikes sent and not yet seen on chain, per feed. On an interval-mined
    chain a publication sent in one block handler is not mined before the
    next handler reads the oracle, which would publish the same strike again
    (a transaction that can only revert). A strike is re-sent only after
    ``retry_blocks`` blocks without the oracle showing it."""

    def __init__(self, retry_blocks: int = 3) -> None:
        self.retry_blocks = retry_blocks
        self._sent: dict[str, tuple[int, int]] = {}

    def should_send(self, feed: str, strike: int, block: int) -> bool:
        sent = self._sent.get(feed)
        return sent is None or strike > sent[0] or block - sent[1] >= self.retry_blocks

    def sent(self, feed: str, strike: int, block: int) -> None:
        self._sent[feed] = (strike, block)


@dataclass(frozen=True)
class FeedSpec:
    """One NAV feed the reporter keeps current."""

    name: str
    oracle: str
    apy_bps: int


@dataclass(frozen=True)
class ReporterConfig:
    """Where the feeds are and what yield each fund accrues."""

    feeds: tuple[FeedSpec, ...]
    deployments_file: Path


def load_reporter_config(env: Mapping[str, str] | None = None) -> ReporterConfig:
    """Reads ``NAVLEND_REPORTER_*`` (falling back on the keeper's
    ``NAVLEND_KEEPER_DEPLOYMENTS_FILE`` / ``NETWORK``):

    - ``DEPLOYMENTS_FILE``: the deployments file (default
      ``deployments/<network>.json``);
    - ``FEEDS``: comma-separated deployments names (default every
      ``NavOracle`` in the file);
    - ``APY_BPS``: ``name=bps`` pairs (default
      ``oracle_a=450,oracle_b=0,oracle_c=450``).

    Raises :class:`keepers.config.ConfigError` with every problem found."""
    env = os.environ if env is None else env
    problems: list[str] = []
    network = env.get(ENV_PREFIX + "NETWORK") or env.get("NAVLEND_KEEPER_NETWORK") or "local"
    path = Path(
        env.get(ENV_PREFIX + "DEPLOYMENTS_FILE")
        or env.get("NAVLEND_KEEPER_DEPLOYMENTS_FILE")
        or deployments.deployments_path(network)
    )
    try:
        deployment = deployments.Deployment.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        raise ConfigError([f"no deployments file at {path} (run `ape run deploy` or set {ENV_PREFIX}DEPLOYMENTS_FILE)"])
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError([f"deployments file {path} cannot be read: {exc}"]) from None

    apy = dict(DEFAULT_APY_BPS)
    for pair in filter(None, (p.strip() for p in env.get(ENV_PREFIX + "APY_BPS", "").split(","))):
        name, _, value = pair.partition("=")
        if not value.strip().isdigit() or int(value) > BPS:
            problems.append(f"{ENV_PREFIX}APY_BPS: {pair!r} is not name=<0..10000>")
            continue
        apy[name.strip()] = int(value)

    oracles = {n: r for n, r in deployment.contracts.items() if r.contract_type == "NavOracle"}
    wanted = [n.strip() for n in env.get(ENV_PREFIX + "FEEDS", "").split(",") if n.strip()] or sorted(oracles)
    feeds = []
    for name in wanted:
        record = oracles.get(name)
        if record is None:
            problems.append(f"{ENV_PREFIX}FEEDS: {name!r} is not a NavOracle in {path} (have {sorted(oracles)})")
            continue
        feeds.append(FeedSpec(name=name, oracle=to_address(record.address), apy_bps=apy.get(name, 0)))
    if not feeds and not problems:
        problems.append(f"no NavOracle in {path}")
    if problems:
        raise ConfigError(problems)
    return ReporterConfig(feeds=tuple(feeds), deployments_file=path)
