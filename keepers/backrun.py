"""Plans prepared on a pending NAV, sent when the guardian confirms it.

A NAV oracle (``contracts/issuer/NavOracle.vy``) parks a move larger than
its limit as a pending round (event ``NavPending``, view
``pending_answer()``); the guardian's ``confirm_pending()`` applies it
(event ``PendingConfirmed``). The keeper used to wait for the block after
the confirmation to scan every position, so bots that back-run the oracle
transaction won. Now:

1. on ``NavPending`` (:func:`on_nav_pending`): every open position is read
   once (Lens, at that block) and those the pending price would sink are
   kept as prepared candidates (:func:`pending_candidates`: the asset's
   share of the liquidation value scaled from the market's price to the
   pending one; exact for a one-asset position, an upper bound on the drop
   for a mixed one: a candidate is only re-read, never sent unchecked);
2. on ``PendingConfirmed`` (:func:`on_pending_confirmed`): only the
   candidates are read again at the confirmation's block, and the
   liquidatable ones decided and sent in that same handler (the keeper's
   ``act``: re-check, simulation, batches, routes), without waiting for
   the next block's full scan (which still runs, as before);
3. ``PendingRejected`` drops them.

Pure (unit-tested): :class:`PendingAsset`, :func:`pending_liquidation_value`,
:func:`pending_candidates`, :class:`PendingBook`. The edge is the two
handlers, which the keeper's ``on_nav_pending`` / ``on_pending_confirmed``
call (the bot subscribes them to each oracle's events).

Not done yet: the bundle back-run (``[guardian's confirm tx, our
liquidations]`` at its target block, ``Sender.behind``), which needs the
plans decided at the post-confirmation state before it is mined.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from navlend import abi
from navlend.constants import BPS
from navlend.rules.arith import at_ratio
from navlend.rules.health import liquidatable
from navlend.rules.valuation import value

from keepers.types import AccountHealth, AssetTerms, to_address

# The handlers take the keeper (keepers.keeper.Keeper, which imports this
# module) and its ScanReport as ``Any``.
Keeper = Any
ScanReport = Any
log = structlog.get_logger("keepers.backrun")

_PENDING_ANSWER = abi.function("IPendingNav", "pending_answer")
_ASSET_CONFIG = abi.function("IMarketViews", "asset_config")


# ---------------------------------------------------------------- pure rules


@dataclass(frozen=True)
class PendingAsset:
    """A collateral whose oracle announced a pending NAV: the market's
    price now and the price per booked unit once the NAV applies."""

    token: str
    price: int
    pending_price: int
    value_exponent: int
    threshold_bps: int

    def __post_init__(self) -> None:
        if min(self.price, self.pending_price, self.value_exponent, self.threshold_bps) < 0:
            raise ValueError(f"negative figure in {self}")

    @classmethod
    def of(cls, asset: AssetTerms, answer: int, price_cap: int = 0) -> PendingAsset:
        """``asset`` at the pending ``answer`` (oracle decimals), capped and
        taken per booked unit as the market prices it."""
        if answer < 0:
            raise ValueError(f"a pending answer is >= 0, got {answer}")
        capped = min(answer, price_cap) if price_cap else answer
        return cls(asset.token, asset.price, at_ratio(capped, asset.ratio), asset.value_exponent,
                   asset.threshold_bps)


def pending_liquidation_value(health: AccountHealth, balances: Mapping[str, int],
                              assets: Sequence[PendingAsset]) -> int:
    """The position's liquidation value with each of ``assets`` at its
    pending price (``balances``: booked collateral by token)."""
    total = health.liquidation_value
    for asset in assets:
        held = balances.get(asset.token, 0)
        if not held:
            continue
        now = value(held, asset.price, asset.value_exponent) * asset.threshold_bps // BPS
        then = value(held, asset.pending_price, asset.value_exponent) * asset.threshold_bps // BPS
        total += then - now
    return max(total, 0)


def pending_candidates(healths: Sequence[AccountHealth], balances: Mapping[str, Mapping[str, int]],
                       assets: Sequence[PendingAsset]) -> tuple[str, ...]:
    """The accounts liquidatable once the pending prices apply (those
    liquidatable already included), riskiest first."""
    scored = []
    for health in healths:
        if health.failed or health.debt == 0:
            continue
        after = pending_liquidation_value(health, balances.get(health.account, {}), assets)
        if liquidatable(after, health.debt):
            scored.append((after * 10**18 // health.debt, health.account))
    return tuple(account for _, account in sorted(scored))


@dataclass(frozen=True)
class Prepared:
    """The candidates of one oracle's pending answer, found at ``block``."""

    oracle: str
    answer: int
    block: int
    accounts: tuple[str, ...]


@dataclass
class PendingBook:
    """Prepared candidates by oracle (one pending round per oracle)."""

    prepared: dict[str, Prepared] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, prepared: Prepared) -> None:
        with self._lock:
            self.prepared[to_address(prepared.oracle)] = prepared

    def take(self, oracle: str) -> Prepared | None:
        """The oracle's candidates, removed (its round is settled)."""
        with self._lock:
            return self.prepared.pop(to_address(oracle), None)


# ---------------------------------------------------------------- the edge


def pending_answer(keeper: Keeper, oracle: str, block: int) -> int:
    (answer, _as_of) = _PENDING_ANSWER.decode(
        keeper.reader.rpc.call({"to": oracle, "data": "0x" + _PENDING_ANSWER.encode().hex()}, block))
    return int(answer)


def _asset_oracle(keeper: Keeper, token: str, block: int) -> tuple[str, int]:
    """The oracle and price cap the market reads ``token`` with."""
    data = "0x" + _ASSET_CONFIG.encode(token).hex()
    (config,) = _ASSET_CONFIG.decode(keeper.reader.rpc.call({"to": keeper.reader.market, "data": data}, block))
    fields = dict(zip((c.name for c in _ASSET_CONFIG.output_struct.components), config))
    return to_address(fields["oracle"]), int(fields["price_cap"])


def on_nav_pending(keeper: Keeper, book: PendingBook, oracle: str, block: int) -> Prepared | None:
    """Reads the oracle's pending answer and every open position at
    ``block``; keeps the positions it would sink as prepared candidates."""
    oracle = to_address(oracle)
    answer = pending_answer(keeper, oracle, block)
    if answer <= 0:
        log.info("nav pending: nothing pending any more", oracle=oracle, block=block)
        return None
    terms = keeper.reader.market_terms(block)
    assets = []
    for asset in terms.assets:
        source, cap = _asset_oracle(keeper, asset.token, block)
        if source == oracle:
            assets.append(PendingAsset.of(asset, answer, cap))
    accounts = sorted(keeper.index.open_accounts())
    healths: list[AccountHealth] = []
    step = keeper.config.scan_batch_size
    for i in range(0, len(accounts), step):
        healths += keeper.reader.healths(accounts[i:i + step], block)
    candidates = pending_candidates(healths, keeper.index.balances_many(accounts), assets) if assets else ()
    prepared = Prepared(oracle, answer, block, candidates)
    book.put(prepared)
    log.info("nav pending: candidates prepared", oracle=oracle, block=block, answer=answer,
             tokens=[a.token for a in assets], scanned=len(healths), candidates=len(candidates))
    return prepared


def on_pending_confirmed(keeper: Keeper, book: PendingBook, oracle: str, block: int | None,
                         report: ScanReport) -> int:
    """The confirmation is mined: the prepared candidates are read again
    and the liquidatable ones decided and sent now. Returns how many
    positions were sent."""
    prepared = book.take(oracle)
    if prepared is None or not prepared.accounts:
        log.info("pending confirmed: nothing prepared", oracle=to_address(oracle), block=block)
        return 0
    head = keeper.reader.head()
    healths = [h for h in keeper.reader.healths(prepared.accounts, head.number) if not h.failed]
    ready = [h for h in healths if h.liquidatable and h.debt > 0]
    report.scanned += len(healths)
    report.liquidatable += len(ready)
    log.info("pending confirmed: acting on the prepared candidates", oracle=prepared.oracle, block=block,
             head=head.number, candidates=len(prepared.accounts), liquidatable=len(ready))
    if ready and keeper.tx is not None:
        before = report.sent
        keeper.act(head, ready, report)
        return report.sent - before
    return 0


def rejected(book: PendingBook, oracle: str) -> Any:
    """The guardian dropped the round: its candidates too."""
    dropped = book.take(oracle)
    if dropped is not None:
        log.info("pending rejected: candidates dropped", oracle=dropped.oracle, candidates=len(dropped.accounts))
    return dropped
