"""What the keeper spends, between its decisions and its sends: the edge
that feeds the pure rules of ``brakes``, ``profit`` and ``treasury`` with
the chain's figures, and that the keeper asks before each send.

- **Prices** (:meth:`Spending.eth_price`): ETH/USD from the configured
  AggregatorV3 (``ETH_USD_FEED``), read every ``PRICE_REFRESH_BLOCKS``
  blocks at the head; the configured ``ETH_USD`` only as the flagged
  fallback (no feed, a failed read, a stale or broken round), logged
  once per change of reason.
- **The decision policy** (:meth:`Spending.decision_policy`): ``decide``'s
  profit rule with the live ETH price, each redeem position charged its
  share of a full batch, and on an OP-stack chain the L1 data fee.
- **The gate** (:meth:`Spending.gate`, handed to ``TxManager``): every new
  send and every fee bump asks the brakes first, with the transaction's
  worst cost (gas limit x max fee + L1 fee), the signer's balance read at
  the head, and what the transactions in flight may still cost. A
  rebroadcast of the same bytes and a same-nonce cancel are not asked:
  they spend nothing more, or cap a loss.
- **Settling** (:meth:`Spending.settle`): a receipt's cost goes into the
  budgets; a revert or a drop extends the failure streak, a success ends
  it.
- **Treasury** (:meth:`Spending.approval`, :meth:`Spending.sweep`): the
  seize route's stablecoin allowance is granted up to a bound, never
  unlimited, before a seize plan is sent; the stablecoin above the float
  goes to the profit receiver, never left to pile up on the hot key.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Sequence

import structlog
from prometheus_client import CollectorRegistry, Gauge

from navlend import abi
from navlend.constants import BPS
from navlend.rules.arith import ceil_div

from keepers.brakes import ALLOWED, BrakeDecision, Brakes, SendOutcome
from keepers.decide import ProfitPolicy
from keepers.profit import (
    DECIMALS_SELECTOR,
    LATEST_ROUND_DATA_SELECTOR,
    EthPrice,
    GasModel,
    base_to_wei,
    PriceFeedPolicy,
    decision_policy,
    decode_l1_fee,
    decode_round,
    eth_usd,
    l1_fee_call,
)

from keepers.treasury import ApprovalAction, ApprovalKind, ApprovalPolicy, SweepPolicy, approval_action, sweep_amount
from keepers.txmanager import RevertKind, TxOutcome, TxRequest, TxStatus
from keepers.txrules import Fees
from keepers.types import Plan, Route

if TYPE_CHECKING:
    from keepers.chain import ChainReader

log = structlog.get_logger("keepers.spending")

# The ETH/USD feed is read again after this many blocks (Chainlink's
# mainnet ETH/USD moves on 0.5 % or hourly; a liquidation's gas is a few
# dollars, so a minute-old price costs nothing that matters).
PRICE_REFRESH_BLOCKS = 10

# The L1 fee is quoted on the transaction's bytes: the calldata plus an
# envelope of this many bytes priced as non-zero (nonce, fees, gas, to,
# value, chain id, access list, signature): the quote errs high.
ENVELOPE_BYTES = 110

_ALLOWANCE = abi.function("ERC20", "allowance")
_APPROVE = abi.function("ERC20", "approve")
_TRANSFER = abi.function("ERC20", "transfer")

APPROVAL_LABEL = "approve"
SWEEP_LABEL = "sweep"


def representative_tx(data: bytes) -> bytes:
    """Bytes the size of a signed type-2 transaction carrying ``data``,
    for the L1 fee oracle (see ``ENVELOPE_BYTES``)."""
    return b"\x02" + b"\xff" * ENVELOPE_BYTES + bytes(data)


def worst_cost(gas_limit: int, fees: Fees, l1_fee_wei: int = 0) -> int:
    """What a transaction can cost at most: its whole gas limit at its max
    fee (a base-fee spike charges it), plus the L1 fee."""
    return gas_limit * fees.max_fee + l1_fee_wei


# Interest between the scan and the block (as ``decide.batch_loan``'s
# 0.1 %): a seize plan may repay that much more than it was decided on.
REPAY_MARGIN_BPS = 10


def seize_need(plan: Plan) -> int:
    """The stablecoin a seize-route plan may pull from the keeper: what it
    repays at the scanned block plus ``REPAY_MARGIN_BPS``, rounded up
    (the allowance errs high)."""
    return ceil_div(plan.repaid * (BPS + REPAY_MARGIN_BPS), BPS)


def seize_repayments(plans: Sequence[Plan]) -> int:
    """What the seize-route ``plans`` may pull, together."""
    return sum(seize_need(p) for p in plans if p.route is Route.SEIZE)


@dataclass(frozen=True)
class AllowanceSplit:
    """The block's seize plans against the market's allowance: those that
    fit what is left of it go now (``fit``); the others wait (``rest``),
    for the ``action``'s approval or for the bound to free up."""

    fit: tuple[Plan, ...]
    rest: tuple[Plan, ...]
    action: ApprovalAction


def split_by_allowance(plans: Sequence[Plan], allowance: int, reserved: int, policy: ApprovalPolicy) -> AllowanceSplit:
    """Pure. ``allowance``: the market's, read at the head; ``reserved``:
    what the keeper's seize transactions in flight may still pull from it.
    Plans are taken in order while they fit. When some do not and the
    allowance is under the bound, the bound is approved (the approval
    replaces the allowance, so plans sent with it must fit the bound too:
    they do, as they fit a smaller allowance); a token that must be reset
    to 0 first is reset only when no plan goes in the same block. At the
    bound already, the rest wait for the in-flight ones to settle
    (``REFUSE``: more at once than the bound allows)."""
    room = allowance - reserved
    fit, rest = [], []
    for plan in plans:
        need = seize_need(plan)
        if need <= room:
            fit.append(plan)
            room -= need
        else:
            rest.append(plan)
    if not rest:
        return AllowanceSplit(tuple(fit), (), ApprovalAction(ApprovalKind.NONE))
    if allowance >= policy.bound:
        action = ApprovalAction(ApprovalKind.REFUSE, 0,
                                f"allowance {allowance} at the approval bound {policy.bound}; the rest waits")
    else:
        action = approval_action(allowance, policy.bound, policy)
        if action.kind is ApprovalKind.RESET_THEN_APPROVE and fit:
            action = ApprovalAction(ApprovalKind.NONE, 0, "reset to 0 waits until the plans in this block are sent")
    return AllowanceSplit(tuple(fit), tuple(rest), action)


class SpendingMetrics:
    """The price the keeper decides on, on the keeper's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.eth_usd = Gauge("keeper_eth_usd_base_per_eth", "ETH/USD the keeper decides on, stablecoin base units.",
                             registry=registry)
        self.fallback = Gauge("keeper_eth_usd_fallback", "1 while ETH/USD is the configured fallback.",
                              registry=registry)


@dataclass
class Spending:
    """The keeper's spending state for one signer (see the module doc)."""

    reader: ChainReader
    signer: str
    market: str
    base_token: str
    brakes: Brakes
    base_policy: ProfitPolicy
    gas_model: GasModel
    feed: str | None
    feed_policy: PriceFeedPolicy
    approval_policy: ApprovalPolicy
    sweep_policy: SweepPolicy | None = None
    l1_fee_oracle: str | None = None
    price: EthPrice | None = None
    balance_wei: int = 0
    metrics: SpendingMetrics | None = None
    _price_block: int = -(10**9)
    _fallback_logged: object = None
    _l1_quotes: dict[tuple[int, int], int] = field(default_factory=dict)

    # ---------------------------------------------------------------- prices

    def eth_price(self, head: int, timestamp: int) -> EthPrice:
        """ETH/USD at ``head`` (the feed's, refreshed every
        ``PRICE_REFRESH_BLOCKS``), or the configured fallback, flagged."""
        if self.price is not None and head - self._price_block < PRICE_REFRESH_BLOCKS:
            return self.price
        latest = None
        if self.feed is not None:
            try:
                latest = decode_round(self.reader.call_data(self.feed, LATEST_ROUND_DATA_SELECTOR, head),
                                      self.reader.call_data(self.feed, DECIMALS_SELECTOR, head))
            except Exception as err:  # a feed that fails is the fallback's case, not the block's
                log.warning("eth/usd feed unreadable; the configured price stands in", feed=self.feed,
                            block=head, error=str(err)[:200])
        price = eth_usd(latest, timestamp, self.feed_policy)
        if price.fallback and price.reason is not self._fallback_logged:
            log.warning("eth/usd from the configuration", reason=price.reason.value if price.reason else None,
                        feed=self.feed, base_per_eth=price.base_per_eth, age_seconds=price.age_seconds, block=head)
        if not price.fallback and self._fallback_logged is not None:
            log.info("eth/usd from the feed again", feed=self.feed, base_per_eth=price.base_per_eth, block=head)
        self._fallback_logged = price.reason if price.fallback else None
        self.price, self._price_block = price, head
        if self.metrics is not None:
            self.metrics.eth_usd.set(price.base_per_eth)
            self.metrics.fallback.set(1 if price.fallback else 0)
        return price

    def l1_fee(self, data: bytes, head: int) -> int:
        """The OP-stack L1 data fee of a transaction carrying ``data`` (0
        off such chains). Quoted once per calldata length and block."""
        if self.l1_fee_oracle is None:
            return 0
        key = (head, len(data))
        if key not in self._l1_quotes:
            self._l1_quotes = {k: v for k, v in self._l1_quotes.items() if k[0] == head}
            call = l1_fee_call(representative_tx(data), self.l1_fee_oracle)
            self._l1_quotes[key] = decode_l1_fee(self.reader.call_data(call["to"], bytes.fromhex(call["data"][2:]),
                                                                       head))
        return self._l1_quotes[key]

    def decision_policy(self, head: int, timestamp: int, batch_size: int, gas_price_wei: int,
                        sample_data: bytes = b"") -> ProfitPolicy:
        """``decide``'s policy at ``head``: the live ETH price, a redeem
        position's share of a full batch, the L1 fee of a transaction
        like ``sample_data``."""
        price = self.eth_price(head, timestamp)
        l1 = self.l1_fee(sample_data, head) if self.l1_fee_oracle else 0
        return decision_policy(self.base_policy, price, self.gas_model, batch_size, max(gas_price_wei, 1), l1)

    def net_profit_wei(self, net_profit_base: int) -> int:
        """A plan's net profit in wei at the current ETH price (the bump
        re-check compares it with the extra gas a bump would pay)."""
        price = self.price.base_per_eth if self.price else self.base_policy.eth_usd_base
        return base_to_wei(net_profit_base, price)

    # ---------------------------------------------------------------- the gate

    def gate(self, request: TxRequest, gas_limit: int, fees: Fees, reserved_wei: int, head: int) -> BrakeDecision:
        """The brakes' answer for sending ``request`` at ``fees``; refusals
        are logged with the reason (the brakes count them)."""
        cost = worst_cost(gas_limit, fees, self.l1_fee(request.data, head) if self.l1_fee_oracle else 0)
        decision = self.brakes.check(cost, self.balance_wei, reserved_wei)
        if not decision.allowed:
            log.warning("brake: not sending", reason=decision.reason.value if decision.reason else None,
                        detail=decision.detail, key=request.key, label=request.label, cost_wei=cost,
                        reserved_wei=reserved_wei, balance_wei=self.balance_wei, block=head)
        return decision if not decision.allowed else ALLOWED

    # ---------------------------------------------------------------- settling

    def settle(self, outcome: TxOutcome) -> None:
        """A transaction's end: its cost into the budgets, its outcome into
        the failure streak (a cancel is neither a success nor a failure)."""
        if outcome.receipt is not None:
            try:
                self.brakes.record_receipt(outcome.receipt)
            except (ValueError, TypeError) as err:
                self.brakes.record_spend(max(outcome.gas_cost, 0))
                log.warning("receipt cost unreadable; gas_used x price counted", error=str(err), tx=outcome.tx_hash)
        elif outcome.gas_cost:
            self.brakes.record_spend(outcome.gas_cost)
        context = {"tx": outcome.tx_hash, "key": outcome.request.key, "nonce": outcome.nonce}
        if outcome.request.label in (APPROVAL_LABEL, SWEEP_LABEL):
            return
        if outcome.status is TxStatus.MINED:
            self.brakes.record_outcome(SendOutcome.SUCCEEDED, **context)
        elif outcome.status is TxStatus.REVERTED:
            self.brakes.record_outcome(SendOutcome.REVERTED, reason=outcome.reason, **context)
        elif outcome.status is TxStatus.DROPPED and outcome.kind is not RevertKind.LOST_RACE:
            # (A bundle that lapsed, another one winning its block, paid
            # nothing and says nothing about the keeper: not a failure.)
            self.brakes.record_outcome(SendOutcome.DROPPED, reason=outcome.reason, **context)

    # ---------------------------------------------------------------- treasury

    def allowance(self, head: int) -> int:
        """The market's allowance on the keeper's stablecoin at ``head``."""
        (allowance,) = _ALLOWANCE.decode(self.reader.call_data(
            self.base_token, _ALLOWANCE.encode(self.signer, self.market), head))
        return int(allowance)

    def approval_request(self, action: ApprovalAction) -> TxRequest | None:
        """The ``approve`` transaction of ``action`` (None for none): the
        bound, or 0 first for a token that refuses to change a non-zero
        allowance (the bound then follows at the next block)."""
        if action.kind not in (ApprovalKind.APPROVE, ApprovalKind.RESET_THEN_APPROVE):
            return None
        amount = 0 if action.kind is ApprovalKind.RESET_THEN_APPROVE else action.amount
        return TxRequest(
            key=f"{APPROVAL_LABEL}:{self.base_token}", to=self.base_token,
            data=_APPROVE.encode(self.market, amount), label=APPROVAL_LABEL,
            context={"route": APPROVAL_LABEL, "amount": amount, "detail": action.detail},
        )

    def sweep(self, stable_balance: int, in_flight: int) -> TxRequest | None:
        """The transfer of the stablecoin above the float to the profit
        receiver, or None (no receiver, or too little to be worth it)."""
        if self.sweep_policy is None:
            return None
        amount = sweep_amount(stable_balance, in_flight, self.sweep_policy)
        if amount <= 0:
            return None
        return TxRequest(
            key=f"{SWEEP_LABEL}:{self.base_token}", to=self.base_token,
            data=_TRANSFER.encode(self.sweep_policy.receiver, amount), label=SWEEP_LABEL,
            context={"route": SWEEP_LABEL, "amount": amount, "receiver": self.sweep_policy.receiver},
        )


def with_profit(request: TxRequest, spending: Spending | None, gas_price_wei: int) -> TxRequest:
    """``request`` carrying its plan's net profit in wei, so that a fee
    bump that would eat it is not sent (``txrules.bump_keeps_profit``)."""
    if spending is None:
        return request
    expected = int(request.context.get("expected_profit", 0))
    return replace(request, net_profit_wei=spending.net_profit_wei(expected), planned_gas_price=gas_price_wei)


__all__ = [
    "APPROVAL_LABEL", "SWEEP_LABEL", "AllowanceSplit", "Spending", "SpendingMetrics", "representative_tx", "seize_need",
    "seize_repayments", "split_by_allowance", "with_profit", "worst_cost",
]
