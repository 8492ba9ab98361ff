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

4. where the bundle route is configured (:func:`backrun_confirmation`,
   called on each block while candidates are prepared): when the
   guardian's ``confirm_pending`` transaction is in the node's pending
   pool (:func:`confirm_in_pool`), the candidates are decided at the
   pending prices (:func:`health_at_pending`, :func:`terms_at_pending`:
   the state after the confirmation, which no node can simulate yet) and
   sent unsimulated as ONE bundle ``[confirm tx, our liquidations]`` for
   the next block (``Sender.behind``): they land in the confirmation's
   own block, or the bundle is left out and costs nothing (a liquidation
   that would revert fails the whole bundle) and its transactions lapse.
   Redeem-route plans only; the node must answer ``txpool_content`` and
   ``eth_getRawTransactionByHash`` (anvil, geth with the txpool API).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import structlog
from eth_utils import function_signature_to_4byte_selector

from navlend import abi
from navlend.constants import BPS, WAD
from navlend.rules.arith import at_ratio
from navlend.rules.health import liquidatable
from navlend.rules.valuation import value

from keepers.decide import batch_plans, decide_block
from keepers.profit import gas_model_from_config
from keepers.types import AccountHealth, AssetTerms, MarketTerms, Route, to_address

# The handlers take the keeper (keepers.keeper.Keeper, which imports this
# module) and its ScanReport as ``Any``.
Keeper = Any
ScanReport = Any
log = structlog.get_logger("keepers.backrun")

_PENDING_ANSWER = abi.function("IPendingNav", "pending_answer")
_ASSET_CONFIG = abi.function("IMarketViews", "asset_config")
CONFIRM_SELECTOR = "0x" + function_signature_to_4byte_selector("confirm_pending()").hex()
# Gas limit of an unsimulated back-run transaction: the profit model's
# estimate of its batch times this (only the gas used is paid).
BACKRUN_GAS_MARGIN_BPS = 15_000


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


def health_at_pending(health: AccountHealth, balances: Mapping[str, int],
                      assets: Sequence[PendingAsset]) -> AccountHealth:
    """``health`` as the market will see it once the pending prices apply
    (its liquidation value, health factor and liquidatable flag)."""
    after = pending_liquidation_value(health, balances, assets)
    factor = after * WAD // health.debt if health.debt else health.health_factor
    return replace(health, liquidation_value=after, health_factor=factor,
                   liquidatable=liquidatable(after, health.debt))


def terms_at_pending(terms: MarketTerms, assets: Sequence[PendingAsset]) -> MarketTerms:
    """``terms`` with each pending asset at its pending price; its
    facility's redemption price scaled by the same move."""
    by_token = {a.token: a for a in assets}
    moved = []
    for asset in terms.assets:
        pending = by_token.get(asset.token)
        if pending is None or asset.price == 0:
            moved.append(asset)
            continue
        moved.append(replace(asset, price=pending.pending_price,
                             redeem_price=asset.redeem_price * pending.pending_price // asset.price))
    return replace(terms, assets=tuple(moved))


def confirm_in_pool(pool: Mapping[str, Any], oracle: str) -> str | None:
    """The hash of a ``confirm_pending()`` call to ``oracle`` in a
    ``txpool_content`` answer's ``pending`` transactions, or None."""
    oracle = oracle.lower()
    for by_nonce in (pool.get("pending") or {}).values():
        for tx in by_nonce.values():
            data = str(tx.get("input") or tx.get("data") or "")
            if str(tx.get("to") or "").lower() == oracle and data.lower().startswith(CONFIRM_SELECTOR):
                return str(tx["hash"])
    return None


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

    def get(self, oracle: str) -> Prepared | None:
        with self._lock:
            return self.prepared.get(to_address(oracle))

    def take(self, oracle: str) -> Prepared | None:
        """The oracle's candidates, removed (its round is settled)."""
        with self._lock:
            return self.prepared.pop(to_address(oracle), None)


# ---------------------------------------------------------------- the edge


def _pending_assets(keeper: Keeper, terms: MarketTerms, oracle: str, answer: int, block: int) -> list[PendingAsset]:
    assets = []
    for asset in terms.assets:
        source, cap = _asset_oracle(keeper, asset.token, block)
        if source == oracle:
            assets.append(PendingAsset.of(asset, answer, cap))
    return assets


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
    assets = _pending_assets(keeper, terms, oracle, answer, block)
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


def backrun_confirmation(keeper: Keeper, book: PendingBook, oracle: str) -> int:
    """If the guardian's confirmation of ``oracle``'s pending round is in
    the node's pool and the bundle route is configured, the prepared
    candidates, decided at the pending prices, go as one bundle behind it
    for the next block. Returns how many positions were sent."""
    tx, prepared = keeper.tx, book.get(oracle)
    sender = getattr(tx, "sender", None)
    if tx is None or prepared is None or not prepared.accounts or sender is None or not sender.bundles:
        return 0
    rpc = keeper.reader.rpc
    confirm = confirm_in_pool(rpc.request("txpool_content", []), prepared.oracle)
    if confirm is None:
        return 0
    raw = rpc.request("eth_getRawTransactionByHash", [confirm])
    head = keeper.reader.head()
    blog = log.bind(block=head.number, oracle=prepared.oracle, confirm=confirm)
    terms = keeper.reader.market_terms(head.number)
    assets = _pending_assets(keeper, terms, prepared.oracle, prepared.answer, head.number)
    balances = keeper.index.balances_many(prepared.accounts)
    healths = [health_at_pending(h, balances.get(h.account, {}), assets)
               for h in keeper.reader.healths(prepared.accounts, head.number) if not h.failed]
    ready = [h for h in healths if h.liquidatable and h.debt > 0]
    if not ready:
        blog.info("back-run: no candidate liquidatable at the pending prices")
        return 0
    moved = terms_at_pending(terms, assets)
    ctx = keeper._execution_context(head, moved)
    decisions = decide_block(ready, balances, moved, ctx, keeper._policy(head, ctx),
                             in_flight=tx.in_flight_positions(), reserved=keeper._in_flight_plans())
    # The redeem route only (FlashLiquidator): one transaction that reverts
    # fails the whole bundle, and the seize route needs an allowance and
    # stablecoin the plan cannot check before the confirmation is mined.
    plans = [d.plan for d in decisions if d.plan is not None and d.plan.route is Route.REDEEM]
    if not plans:
        blog.info("back-run: no plan pays at the pending prices", candidates=len(ready))
        return 0
    groups = batch_plans(plans, keeper.batch_size, moved.max_flash_loan)
    model = gas_model_from_config(keeper.config)
    gas = [model.batch_gas(g[0].route, len(g)) * BACKRUN_GAS_MARGIN_BPS // BPS for g in groups]
    with sender.behind([raw]):
        outcomes = tx.send_unsimulated([keeper._request(g) for g in groups], gas, head.base_fee, head.number)
    sent = sum(keeper._sent(blog, plan, outcome, len(group))
               for group, outcome in zip(groups, outcomes) for plan in group)
    blog.info("back-run: liquidations bundled behind the confirmation", positions=sent,
              transactions=len(groups), target=head.number + 1)
    return sent
