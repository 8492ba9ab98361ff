"""Transactions of the keeper: one signer, its nonces, EIP-1559 fees,
same-nonce replacement, simulation, dry run, and one liquidation in flight
per position.

The module is split in two:

- pure rules (no RPC, unit-tested): :func:`classify_revert`,
  :class:`NonceManager`, :func:`poll_verdict`, and in ``keepers.txrules``
  (re-exported here) fees, replacement, rebroadcast, expiry and cancel,
  the profit check of a bump and the nonce audit;
- :class:`TxManager`, the I/O edge: sizes the gas of each kind of
  transaction once (``eth_estimateGas``), then simulates every transaction
  with one ``eth_call`` at the gas limit it will be sent with, at a pinned
  block (all of a block's plans at once, in parallel); signs with the Ape
  account, sends a block's transactions back to back with consecutive
  nonces (never waiting for a receipt, so a stuck transaction blocks
  nothing), and polls its transactions once per block (one
  ``eth_getBlockReceipts`` per new block). A transaction that does not
  mine is bumped, sent again, and past its expiry cancelled at the same
  nonce; nonce gaps are filled; with a :class:`keepers.txstore.TxStore`,
  every transaction in flight is stored before it is sent, and a restart
  follows it again (:meth:`TxManager.resume`).

Why not Ape's ``contract.method(..., sender=...)``: it waits for the receipt
and owns the nonce, which rules out same-nonce replacement and several
transactions in flight. pymaker's ``Transact`` does what we need but is
web3 v5 code; what is here is the small part we use.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import structlog
from eth_account._utils.legacy_transactions import encode_transaction, serializable_unsigned_transaction_from_dict
from eth_utils import keccak, to_int

from keepers.chain import CallReverted, Rpc
from keepers.rpc_policy import classify_exception
from keepers.submit import Sender
from keepers.txrules import (
    CANCEL_GAS,
    Action,
    FeePolicy,
    Fees,
    InFlight,
    NonceAudit,
    StuckPolicy,
    audit_nonces,
    bump_keeps_profit,
    bumped_fees,
    cancel_fees,
    fees_with_tip,
    gap_fees,
    initial_fees,
    next_action,
    replacement_due,
)
from keepers.txstore import StoredRequest, StoredTx, TxStore

log = structlog.get_logger("keepers.tx")

# Reverts meaning another liquidator (or the borrower) got there first.
LOST_RACE_MESSAGES = (
    "market: position healthy",
    "market: no debt",
    "market: no such collateral",
    "flash liquidator: nothing to liquidate",
)
# Reverts meaning the redemption facility cannot take the shares now.
NO_LIQUIDITY_MESSAGES = (
    "facility: insufficient liquidity",
    "facility: daily limit exceeded",
    "facility: paused",
    "facility: below minimum",
    "facility: stale nav",
)
UNPROFITABLE_MESSAGES = ("flash liquidator: profit below minimum", "flash liquidator: payout below cost")
PAUSED_MESSAGES = ("market: liquidation paused", "market: liquidation grace period")


# Blocks of receipts poll() reads at most in one go (else by hash).
RECEIPT_BLOCKS_MAX = 8
# Blocks a kind's gas size is trusted before it is estimated again.
GAS_SIZE_TTL_BLOCKS = 300
# The label of a cancel that fills a nonce gap, and of a cancel request.
GAP_LABEL = "gap_fill"
CANCEL_LABEL = "cancel"
# Node answers to a send that mean the bytes (or their nonce) are already
# settled: not errors for a rebroadcast.
BENIGN_SEND_ERRORS = ("already known", "known transaction", "nonce too low", "already imported",
                      "replacement transaction underpriced")
# JSON-RPC codes and words of a node that does not serve a method (-32601
# "method not found"; -32004 "method not supported", Hardhat's answer to
# eth_getBlockReceipts).
UNSUPPORTED_METHOD_CODES = (-32601, -32004)
UNSUPPORTED_METHOD_WORDS = ("not supported", "method not found", "unsupported method")
# Node answers meaning the fees are below what it takes now (the base fee
# rose past the max fee): expected for a transaction that is stuck, which
# the expiry's cancel settles; not an RPC fault.
UNDERPRICED_SEND_ERRORS = ("less than block base fee", "transaction underpriced", "fee cap too low",
                           "max fee per gas less than")


class RevertKind(str, Enum):
    """Why a simulation or a mined transaction reverted."""

    LOST_RACE = "lost_race"
    NO_LIQUIDITY = "no_liquidity"
    UNPROFITABLE = "unprofitable"
    PAUSED = "paused"
    OTHER = "reverted"


def classify_revert(message: str | None) -> RevertKind:
    """The kind of a revert from its message (case-insensitive substring)."""
    text = (message or "").lower()
    for kind, needles in (
        (RevertKind.LOST_RACE, LOST_RACE_MESSAGES),
        (RevertKind.NO_LIQUIDITY, NO_LIQUIDITY_MESSAGES),
        (RevertKind.UNPROFITABLE, UNPROFITABLE_MESSAGES),
        (RevertKind.PAUSED, PAUSED_MESSAGES),
    ):
        if any(needle in text for needle in needles):
            return kind
    return RevertKind.OTHER


# ---------------------------------------------------------------- nonces


class NonceManager:
    """Hands out nonces so that none in flight is reused.

    ``next(chain_pending)`` takes the node's pending transaction count: if
    something outside the keeper used nonces (another process with the same
    key, a manual transaction), the local counter jumps forward to it.
    """

    def __init__(self) -> None:
        self._next: int | None = None
        self.in_flight: set[int] = set()
        # Nonces handed out and never broadcast below ``_next`` (a send that
        # failed in the middle of a block's batch): handed out first, or the
        # transactions after them would wait behind the gap for ever.
        self.holes: set[int] = set()

    @property
    def next_nonce(self) -> int | None:
        """The next new nonce it would hand out (None before the first)."""
        return self._next

    def next(self, chain_pending: int) -> int:
        """The nonce to use for a new transaction; marks it in flight."""
        if self._next is None or chain_pending > self._next:
            if self._next is not None:
                log.warning("nonce moved outside the keeper", local=self._next, chain=chain_pending)
            self._next = chain_pending
        self.holes = {n for n in self.holes if n >= chain_pending}
        if self.holes:
            nonce = min(self.holes)
            self.holes.discard(nonce)
        else:
            while self._next in self.in_flight:
                self._next += 1
            nonce = self._next
            self._next += 1
        self.in_flight.add(nonce)
        return nonce

    def release(self, nonce: int, *, broadcast: bool) -> None:
        """Frees ``nonce``: mined or dropped (``broadcast``), or never sent,
        in which case it is handed out again: at once if it was the last
        one, else before any new one (a hole)."""
        self.in_flight.discard(nonce)
        if broadcast:
            return
        if self._next == nonce + 1:
            self._next = nonce
            while self._next - 1 in self.holes:
                self._next -= 1
                self.holes.discard(self._next)
        elif self._next is not None and nonce < self._next:
            self.holes.add(nonce)

    def reset(self) -> None:
        """Forgets the local counter (the next call re-reads the chain)."""
        self._next = None
        self.holes = set()


# ---------------------------------------------------------------- polling


class PollVerdict(str, Enum):
    """What a poll makes of a transaction whose nonce the node counts as used."""

    FINISHED = "finished"
    PENDING = "pending"
    DROPPED = "dropped"


def poll_verdict(receipt_block: int | None, head: int, unaccounted_since: int | None) -> PollVerdict:
    """The verdict on a transaction whose nonce is below the account's
    transaction count at ``head``.

    anvil answers ``eth_getTransactionCount`` at the head, like a call,
    from the live state of the block it is mining, and serves that block's
    receipts before it publishes the block: a transaction of block
    ``head + 1`` can look mined as of ``head`` (once, 82 of them a block
    early). So a receipt from a block after ``head`` leaves the
    transaction pending, and a used nonce with no receipt means *dropped*
    (used by another transaction) only when it is still so at a later
    head (``unaccounted_since`` is the head it was first seen)."""
    if receipt_block is not None:
        return PollVerdict.FINISHED if receipt_block <= head else PollVerdict.PENDING
    if unaccounted_since is not None and unaccounted_since < head:
        return PollVerdict.DROPPED
    return PollVerdict.PENDING


# ---------------------------------------------------------------- records


# ``gate(request, gas_limit, fees, reserved_wei, head)``: an answer with
# ``allowed``, ``reason`` and ``detail`` (``keepers.brakes.BrakeDecision``).
Gate = Callable[["TxRequest", int, Fees, int, int], Any]


class TxStatus(str, Enum):
    """What became of a submission."""

    SENT = "sent"
    DRY_RUN = "dry_run"
    IN_FLIGHT = "in_flight"
    SIMULATION_REVERTED = "simulation_reverted"
    SEND_FAILED = "send_failed"
    MINED = "mined"
    REVERTED = "reverted"
    DROPPED = "dropped"
    # Expired, and the same-nonce cancel mined: the positions are free.
    CANCELLED = "cancelled"
    # A brake (keepers.brakes) refused it: nothing signed, nothing sent.
    BRAKED = "braked"


@dataclass(frozen=True)
class TxRequest:
    """A transaction the keeper wants mined. ``key`` names it (the position
    it acts on, for a single liquidation); ``positions`` are the positions
    it acts on when there are several (a batch): no position is in two
    requests in flight. Requests with the same ``to`` and ``label`` are one
    *kind*: their gas is sized once."""

    key: str
    to: str
    data: bytes
    label: str = "liquidate"
    context: dict[str, Any] = field(default_factory=dict)
    positions: tuple[str, ...] = ()
    # The plan's net profit in wei, net of its gas at ``planned_gas_price``
    # (wei per gas): a fee bump that would eat it is not sent
    # (``txrules.bump_keeps_profit``). None: bumps are not checked.
    net_profit_wei: int | None = None
    planned_gas_price: int = 0

    @property
    def kind(self) -> str:
        return f"{self.to.lower()}:{self.label}"

    @property
    def covers(self) -> tuple[str, ...]:
        """The positions it acts on."""
        return self.positions or (self.key,)


@dataclass(frozen=True)
class Simulation:
    """The outcome of a simulation: ``gas`` is the gas limit to send with
    (the estimate times the margin, or the kind's size it ran within)."""

    ok: bool
    gas: int = 0
    revert_message: str = ""
    kind: RevertKind | None = None


@dataclass(frozen=True)
class GasSize:
    """A kind's gas limit and the block it was estimated at."""

    limit: int
    block: int


def sized_limit(sizes: dict[str, GasSize], kind: str, block: int, ttl: int = GAS_SIZE_TTL_BLOCKS) -> int | None:
    """The gas limit to simulate and send a transaction of ``kind`` with at
    ``block``, or None when it must be estimated first (never sized, or
    sized more than ``ttl`` blocks ago)."""
    size = sizes.get(kind)
    if size is None or block - size.block > ttl:
        return None
    return size.limit


def record_size(sizes: dict[str, GasSize], kind: str, limit: int, block: int,
                ttl: int = GAS_SIZE_TTL_BLOCKS) -> None:
    """Records an estimated ``limit`` for ``kind``: the largest of the
    sizes still trusted, so one estimate of a heavier case (a bad-debt
    write-off) is not undone by a lighter one of the same block."""
    size = sizes.get(kind)
    if size is not None and block - size.block <= ttl:
        limit = max(limit, size.limit)
    sizes[kind] = GasSize(limit=limit, block=block)


@dataclass
class PendingTx:
    """A transaction in flight and every hash sent under its nonce.

    ``sent_block`` is the block of the last newly signed transaction (the
    first send, a bump or a cancel), ``first_block`` and ``sent_at`` those
    of the first send; ``raw`` the last signed bytes, what a rebroadcast
    sends again; ``fees`` their fees. Once ``cancelling``, ``raw`` and
    ``fees`` are the cancel's, whose hashes are in ``cancel_hashes``."""

    request: TxRequest
    nonce: int
    gas_limit: int
    fees: Fees
    hashes: list[str]
    sent_block: int
    sent_at: float
    bumps: int = 0
    # The head at which its nonce was first seen used with no receipt found.
    unaccounted_since: int | None = None
    raw: bytes = b""
    first_block: int = -1
    last_broadcast_block: int = -1
    bumps_exhausted: bool = False
    cancelling: bool = False
    cancel_hashes: list[str] = field(default_factory=list)
    cancel_capped: bool = False

    def __post_init__(self) -> None:
        if self.first_block < 0:
            self.first_block = self.sent_block
        if self.last_broadcast_block < 0:
            self.last_broadcast_block = self.sent_block

    @property
    def all_hashes(self) -> list[str]:
        return self.hashes + self.cancel_hashes

    @property
    def gap_fill(self) -> bool:
        """A cancel the keeper sent to fill a nonce gap (no request behind it)."""
        return self.request.label == GAP_LABEL

    def state(self) -> InFlight:
        return InFlight(first_block=self.first_block, first_at=self.sent_at, last_signed_block=self.sent_block,
                        last_broadcast_block=self.last_broadcast_block, bumps=self.bumps,
                        cancelling=self.cancelling, bumps_exhausted=self.bumps_exhausted,
                        cancel_capped=self.cancel_capped)

    def stored(self) -> StoredTx:
        r = self.request
        return StoredTx(
            request=StoredRequest(key=r.key, to=r.to, data=bytes(r.data), label=r.label, positions=r.positions,
                                  context=dict(r.context), net_profit_wei=r.net_profit_wei,
                                  planned_gas_price=r.planned_gas_price),
            nonce=self.nonce, gas_limit=self.gas_limit, max_fee=self.fees.max_fee,
            priority_fee=self.fees.priority_fee, hashes=tuple(self.hashes), raw=self.raw,
            first_block=self.first_block, first_at=self.sent_at, last_signed_block=self.sent_block,
            last_broadcast_block=self.last_broadcast_block, bumps=self.bumps, bumps_exhausted=self.bumps_exhausted,
            cancelling=self.cancelling, cancel_hashes=tuple(self.cancel_hashes), cancel_capped=self.cancel_capped,
        )

    @classmethod
    def from_stored(cls, row: StoredTx) -> PendingTx:
        r = row.request
        request = TxRequest(key=r.key, to=r.to, data=r.data, label=r.label, context=dict(r.context),
                            positions=r.positions, net_profit_wei=r.net_profit_wei,
                            planned_gas_price=r.planned_gas_price)
        return cls(request=request, nonce=row.nonce, gas_limit=row.gas_limit,
                   fees=Fees(max_fee=row.max_fee, priority_fee=row.priority_fee), hashes=list(row.hashes),
                   sent_block=row.last_signed_block, sent_at=row.first_at, bumps=row.bumps, raw=row.raw,
                   first_block=row.first_block, last_broadcast_block=row.last_broadcast_block,
                   bumps_exhausted=row.bumps_exhausted, cancelling=row.cancelling,
                   cancel_hashes=list(row.cancel_hashes), cancel_capped=row.cancel_capped)


@dataclass(frozen=True)
class TxOutcome:
    """A submission or a poll result."""

    status: TxStatus
    request: TxRequest
    tx_hash: str = ""
    nonce: int = -1
    reason: str = ""
    kind: RevertKind | None = None
    receipt: Any = None
    gas_cost: int = 0


def method_unsupported(err: BaseException) -> bool:
    """Whether ``err`` is a node saying it does not serve the method called
    (not a fault of the call: asking again gets the same answer)."""
    failure = classify_exception(err)
    text = failure.message.lower()
    return failure.code in UNSUPPORTED_METHOD_CODES or any(word in text for word in UNSUPPORTED_METHOD_WORDS)


class TxManager:
    """Sends and follows the keeper's transactions from one signer.

    ``w3`` is a web3 instance on the node; ``signer`` an Ape account (its
    ``sign_transaction`` signs); ``ecosystem`` Ape's ecosystem, to build
    typed transactions. Not thread-safe: the keeper calls it from one place.
    """

    def __init__(
        self,
        w3: Any,
        signer: Any,
        ecosystem: Any,
        chain_id: int,
        policy: FeePolicy,
        *,
        dry_run: bool = False,
        gas_margin: float = 1.25,
        on_rpc_error: Callable[[str], None] | None = None,
        on_call: Callable[[str], None] | None = None,
        parallel: int = 4,
        stuck: StuckPolicy | None = None,
        store: TxStore | None = None,
        clock: Callable[[], float] = time.time,
        gate: Gate | None = None,
        sender: Sender | None = None,
        tip: Callable[[TxRequest, int], int | None] | None = None,
    ) -> None:
        self.w3 = w3
        # Submission routes (keepers/submit.py); None: the node's
        # eth_sendRawTransaction. ``tip``: a request's priority fee from its
        # expected profit and gas (keepers/tipping.py); None: the policy's.
        self.sender = sender
        self.tip = tip
        self.rpc = Rpc(w3, on_call)
        self._pool = ThreadPoolExecutor(max_workers=max(parallel, 1), thread_name_prefix="simulate")
        # The last block whose receipts poll() has read.
        self._receipts_read_to: int | None = None
        # False once the node said it has no eth_getBlockReceipts: receipts
        # are then looked up by hash.
        self.block_receipts_served = True
        self.signer = signer
        self.address = str(signer.address)
        self.ecosystem = ecosystem
        self.chain_id = chain_id
        self.policy = policy
        self.dry_run = dry_run
        self.gas_margin = gas_margin
        self.nonces = NonceManager()
        self.pending: dict[str, PendingTx] = {}
        # Gas limit per kind of request (see submit_many).
        self.gas_sizes: dict[str, GasSize] = {}
        self._on_rpc_error = on_rpc_error or (lambda op: None)
        self.stuck = stuck or StuckPolicy()
        self.store = store
        self.clock = clock
        # Asked before every new send and every fee bump (the brakes).
        self.gate = gate
        if store is not None:
            self.resume()

    def resume(self) -> int:
        """Takes back the transactions in flight the store holds (after a
        restart): followed from the next poll, their nonces and positions
        busy, never sent again as new. Returns how many."""
        assert self.store is not None
        rows = self.store.load()
        for row in rows:
            pending = PendingTx.from_stored(row)
            self.pending[pending.request.key] = pending
            self.nonces.in_flight.add(pending.nonce)
        if rows:
            log.info("resumed transactions in flight", count=len(rows), nonces=[r.nonce for r in rows])
        return len(rows)

    def _persist(self, pending: PendingTx) -> None:
        if self.store is not None:
            self.store.save(pending.stored())

    def _forget(self, key: str) -> None:
        if self.store is not None:
            self.store.delete(key)

    # ---- queries

    def in_flight(self, key: str) -> bool:
        return key in self.pending

    def in_flight_positions(self) -> set[str]:
        """Every position a transaction in flight acts on."""
        return {position for p in self.pending.values() for position in p.request.covers}

    def expired_count(self) -> int:
        """Transactions the keeper gave up on (past their expiry, a cancel
        sent or impossible) whose nonce is not used yet: what ``/healthz``
        should fail on while it is above zero."""
        return sum(1 for p in self.pending.values() if p.cancelling and not p.gap_fill)

    def reserved_wei(self, exclude: PendingTx | None = None) -> int:
        """What the transactions in flight may still cost: each one's gas
        limit at its current max fee (``exclude``: the one being bumped,
        whose new cost replaces it)."""
        return sum(p.gas_limit * p.fees.max_fee for p in self.pending.values() if p is not exclude)

    def _braked(self, request: TxRequest, gas_limit: int, fees: Fees, head: int,
                exclude: PendingTx | None = None) -> str | None:
        """The gate's refusal of a send as a reason, or None (allowed, or no
        gate)."""
        if self.gate is None:
            return None
        decision = self.gate(request, gas_limit, fees, self.reserved_wei(exclude), head)
        if decision.allowed:
            return None
        reason = getattr(decision.reason, "value", str(decision.reason))
        return f"{reason}: {decision.detail}" if decision.detail else reason

    def oldest_pending_age(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        return max((now - p.sent_at for p in self.pending.values()), default=0.0)

    def simulate(self, to: str, data: bytes, block: int | str = "latest") -> Simulation:
        """``eth_estimateGas`` from the signer at ``block``: it executes the
        transaction (a revert comes back with its reason) and sizes its gas
        (times the margin)."""
        try:
            gas = self.rpc.estimate_gas(self._call_fields(to, data), block)
        except CallReverted as err:
            return self._reverted(err)
        return Simulation(ok=True, gas=self._gas_limit(gas))

    def simulate_within(self, to: str, data: bytes, gas_limit: int, block: int | str = "latest") -> Simulation:
        """One ``eth_call`` from the signer at ``block`` with the gas limit
        the transaction will be sent with: if it returns, the transaction
        fits that limit on that state. A revert here may be the contract's
        answer or a limit too small (a sub-call out of gas reverts with no
        reason), so it is settled by :meth:`simulate`, which executes with
        the block's gas and estimates: its reason, or a larger limit."""
        try:
            self.rpc.call(dict(self._call_fields(to, data), gas=hex(gas_limit)), block)
        except CallReverted:
            return self.simulate(to, data, block)
        return Simulation(ok=True, gas=gas_limit)

    def _call_fields(self, to: str, data: bytes) -> dict[str, Any]:
        return {"from": self.address, "to": to, "data": "0x" + bytes(data).hex()}

    @staticmethod
    def _reverted(err: CallReverted) -> Simulation:
        message = revert_message(err) or "execution reverted"
        return Simulation(ok=False, revert_message=message, kind=classify_revert(message))

    # ---- sending

    def submit_many(self, requests: Sequence[TxRequest], block: int, base_fee: int, head: int) -> list[TxOutcome]:
        """A block's requests, pipelined: every one is simulated at
        ``block`` in parallel (the node executes them on its own threads),
        and each that passes is signed with the next nonce and sent the
        moment its simulation returns, while the others still run (signing
        is the keeper's own CPU work, the simulations the node's). So the
        nonces of one block's sends are consecutive and nothing waits for a
        receipt.

        Simulation: the gas of a kind of request (same contract, same
        label) is estimated once: ``eth_estimateGas`` runs the transaction
        several times (a search over the gas limit), ~3-4 times the node's
        work of one ``eth_call`` (measured on anvil: 8.9 ms against 2.4 ms
        for a flash liquidation). The kind's limit (estimate x margin) is
        kept; every other request of the kind is simulated by one
        ``eth_call`` at that limit (:meth:`simulate_within`), started as
        soon as the limit is known. A kind never sized sends its first
        request to ``eth_estimateGas`` alone, the rest after it.

        Not sent: a request whose key or one of whose positions is in
        flight (or repeated), whose simulation reverted, or any in dry-run
        mode. A failed send frees its nonce, which is handed out first next
        time."""
        outcomes: list[TxOutcome | None] = [None] * len(requests)
        keys: set[str] = set()
        waiting: dict[str, list[int]] = {}
        futures: dict[Future[Simulation], int] = {}

        def start(i: int) -> None:
            request = requests[i]
            limit = sized_limit(self.gas_sizes, request.kind, block)
            if limit is None:
                if request.kind in waiting:
                    waiting[request.kind].append(i)
                    return
                waiting[request.kind] = []
                futures[self._pool.submit(self.simulate, request.to, request.data, block)] = i
            else:
                futures[self._pool.submit(self.simulate_within, request.to, request.data, limit, block)] = i

        busy = self.in_flight_positions() | set(self.pending)
        for i, request in enumerate(requests):
            covers = {request.key, *request.covers}
            if covers & (busy | keys):
                outcomes[i] = TxOutcome(TxStatus.IN_FLIGHT, request, reason="already in flight")
            else:
                keys |= covers
                start(i)
        chain_pending: int | None = None
        fees = initial_fees(base_fee, self.policy)
        started, sending = time.perf_counter(), 0.0
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                i = futures.pop(future)
                request = requests[i]
                simulation = self._settle(request, future, block, outcomes, i)
                # The kind's first estimate is in (or failed): start the rest.
                for j in waiting.pop(request.kind, []):
                    start(j)
                if simulation is None:
                    continue
                request_fees = self._request_fees(request, simulation.gas, base_fee, fees)
                braked = self._braked(request, simulation.gas, request_fees, head)
                if braked is not None:
                    outcomes[i] = TxOutcome(TxStatus.BRAKED, request, reason=braked)
                    continue
                if self.dry_run:
                    log.info("dry run: not sending", label=request.label, key=request.key, gas=simulation.gas,
                             **request.context)
                    outcomes[i] = TxOutcome(TxStatus.DRY_RUN, request)
                    continue
                if chain_pending is None:
                    chain_pending = self._pending_count()
                send_started = time.perf_counter()
                outcomes[i] = self._sign_and_send(request, self.nonces.next(chain_pending), simulation.gas,
                                                  request_fees, head)
                sending += time.perf_counter() - send_started
        log.debug("submitted", block=block, requests=len(requests), seconds=round(time.perf_counter() - started, 4),
                  sign_send_seconds=round(sending, 4))
        return outcomes  # type: ignore[return-value]

    def send_unsimulated(self, requests: Sequence[TxRequest], gas_limits: Sequence[int], base_fee: int,
                         head: int) -> list[TxOutcome]:
        """Signs and sends ``requests`` with the given gas limits and no
        simulation: only inside a bundle back-run (``Sender.behind``),
        where the state they need comes from a transaction not mined yet,
        and a transaction that would revert leaves the bundle out at no
        cost (keepers/backrun.py). In-flight positions, the brakes and dry
        run as in :meth:`submit_many`."""
        if len(requests) != len(gas_limits):
            raise ValueError(f"{len(requests)} requests but {len(gas_limits)} gas limits")
        busy = self.in_flight_positions() | set(self.pending)
        fees = initial_fees(base_fee, self.policy)
        outcomes: list[TxOutcome] = []
        chain_pending: int | None = None
        for request, gas in zip(requests, gas_limits):
            covers = {request.key, *request.covers}
            if covers & busy:
                outcomes.append(TxOutcome(TxStatus.IN_FLIGHT, request, reason="already in flight"))
                continue
            busy |= covers
            request_fees = self._request_fees(request, gas, base_fee, fees)
            braked = self._braked(request, gas, request_fees, head)
            if braked is not None:
                outcomes.append(TxOutcome(TxStatus.BRAKED, request, reason=braked))
                continue
            if self.dry_run:
                log.info("dry run: not sending", label=request.label, key=request.key, gas=gas, **request.context)
                outcomes.append(TxOutcome(TxStatus.DRY_RUN, request))
                continue
            if chain_pending is None:
                chain_pending = self._pending_count()
            outcomes.append(self._sign_and_send(request, self.nonces.next(chain_pending), gas, request_fees, head))
        return outcomes

    def _settle(self, request: TxRequest, future: Future[Simulation], block: int,
                outcomes: list[TxOutcome | None], i: int) -> Simulation | None:
        """A finished simulation: the passing one (its estimate, if any,
        recorded as the kind's size), or None with the outcome filled in."""
        try:
            simulation = future.result()
        except Exception as err:  # the node failed the request (not a revert): this one waits a block
            self._on_rpc_error("simulate")
            log.warning("simulation failed", key=request.key, error=str(err)[:200])
            outcomes[i] = TxOutcome(TxStatus.SEND_FAILED, request, reason=f"simulation: {str(err)[:200]}")
            return None
        if not simulation.ok:
            outcomes[i] = TxOutcome(TxStatus.SIMULATION_REVERTED, request, reason=simulation.revert_message,
                                    kind=simulation.kind)
            return None
        if simulation.gas != sized_limit(self.gas_sizes, request.kind, block):
            record_size(self.gas_sizes, request.kind, simulation.gas, block)
        return simulation

    def _sign_and_send(self, request: TxRequest, nonce: int, gas_limit: int, fees: Fees, head: int) -> TxOutcome:
        """Signs, stores (before the bytes leave: a crash after the send
        resumes following it), then broadcasts."""
        try:
            raw = self._sign(request, nonce, gas_limit, fees)
            tx_hash = self._tx_hash(raw)
            pending = PendingTx(request=request, nonce=nonce, gas_limit=gas_limit, fees=fees, hashes=[tx_hash],
                                sent_block=head, sent_at=self.clock(), raw=raw)
            self._persist(pending)
            self._broadcast(raw)
        except Exception as err:
            self._forget(request.key)
            return self._send_failed(request, nonce, err)
        self.pending[request.key] = pending
        log.info("sent", label=request.label, key=request.key, tx=tx_hash, nonce=nonce,
                 max_fee=fees.max_fee, tip=fees.priority_fee, gas=gas_limit)
        return TxOutcome(TxStatus.SENT, request, tx_hash=tx_hash, nonce=nonce)

    def _request_fees(self, request: TxRequest, gas: int, base_fee: int, fees: Fees) -> Fees:
        """``fees``, with the tip rule's tip for ``request`` when there is one."""
        tip = self.tip(request, gas) if self.tip is not None else None
        return fees if tip is None else fees_with_tip(base_fee, self.policy, tip)

    def _gas_limit(self, estimate: int) -> int:
        return math.ceil(estimate * self.gas_margin)

    def _send_failed(self, request: TxRequest, nonce: int, err: BaseException) -> TxOutcome:
        self.nonces.release(nonce, broadcast=False)
        if "nonce too low" in str(err).lower():
            self.nonces.reset()
        self._on_rpc_error("send")
        log.warning("send failed", key=request.key, nonce=nonce, error=str(err)[:200])
        return TxOutcome(TxStatus.SEND_FAILED, request, nonce=nonce, reason=str(err)[:200])

    def _pending_count(self) -> int:
        return int(self.w3.eth.get_transaction_count(self.address, "pending"))

    def _broadcast(self, raw: bytes) -> str:
        if self.sender is not None:
            return self.sender.send(raw).tx_hash
        return str(self.rpc.request("eth_sendRawTransaction", ["0x" + raw.hex()]))

    @staticmethod
    def _tx_hash(raw: bytes) -> str:
        """The hash of a signed transaction: keccak of its bytes (the typed
        envelope included), known before the node answers."""
        return "0x" + keccak(raw).hex()

    def _sign(self, request: TxRequest, nonce: int, gas_limit: int, fees: Fees) -> bytes:
        """The raw signed transaction. Ape signs; the bytes are encoded as
        Ape's ``serialize_transaction`` does, less its check that the
        signature recovers to the sender (a second ECDSA operation: ~13 ms
        of the ~21 ms per transaction with eth-keys' pure-Python backend;
        the node recovers the sender anyway)."""
        txn = self.ecosystem.create_transaction(
            chain_id=self.chain_id,
            sender=self.address,
            receiver=request.to,
            data=bytes(request.data),
            nonce=nonce,
            gas_limit=gas_limit,
            max_fee=fees.max_fee,
            max_priority_fee=fees.priority_fee,
            value=0,
            type=2,
        )
        signed = self.signer.sign_transaction(txn)
        if signed is None or not signed.signature:
            raise RuntimeError("the signer refused to sign")
        fields = signed.model_dump(by_alias=True, exclude={"sender", "type"})
        signature = (signed.signature.v, to_int(signed.signature.r), to_int(signed.signature.s))
        return bytes(encode_transaction(serializable_unsigned_transaction_from_dict(fields), signature))

    # ---- following

    def poll(self, head: int, base_fee: int) -> list[TxOutcome]:
        """Checks every transaction in flight once, as of block ``head``:
        mined (success or revert), cancelled, replaced outside the keeper
        (dropped), or not mined yet, in which case :func:`txrules.next_action`
        says whether to bump it, send its bytes again, or cancel it
        (expired). Then the account's nonces are audited (gaps filled,
        outside use resynchronised). Only a nonce below the account's mined
        count can have a receipt; those are looked up in the receipts of
        the blocks since the last poll (one ``eth_getBlockReceipts`` each:
        anvil's ``eth_getTransactionReceipt`` is slow on full blocks), by
        hash when not found there (after a gap or a restart)."""
        outcomes: list[TxOutcome] = []
        read_from = head if self._receipts_read_to is None else self._receipts_read_to + 1
        if not self.pending:
            self._receipts_read_to = head
            # Nothing in flight: no gap can hold anything up, and a nonce
            # used outside is read from the chain at the next send. Only a
            # hole left by a failed send is worth a look.
            if self.nonces.holes and not self.dry_run:
                self.audit(head, base_fee)
            return outcomes
        mined_nonce = int(self.rpc.request("eth_getTransactionCount", [self.address, hex(head)]), 16)
        mined = [p for p in self.pending.values() if p.nonce < mined_nonce]
        # Every receipt of a block up to the head that an earlier poll did
        # not settle is in the blocks since the last poll: when those were
        # all read, a transaction not among them has no receipt up to the
        # head, and is not looked up by hash (slow on anvil, and done for
        # every transaction of a block when the count races ahead).
        receipts = self._block_receipts(read_from, head) if mined else {}
        covered = (bool(mined) and self.block_receipts_served and self._receipts_read_to is not None
                   and head - read_from < RECEIPT_BLOCKS_MAX)
        now = self.clock()
        for key, pending in list(self.pending.items()):
            if pending.nonce < mined_nonce:
                receipt = next((receipts[h] for h in reversed(pending.all_hashes) if h in receipts), None)
                if receipt is None and not covered:
                    receipt = self._find_receipt(pending)
                receipt_block = int(receipt["blockNumber"]) if receipt is not None else None
                verdict = poll_verdict(receipt_block, head, pending.unaccounted_since)
                if verdict is PollVerdict.FINISHED:
                    outcome = self._finish(key, pending, receipt)
                    if not pending.gap_fill:
                        outcomes.append(outcome)
                elif verdict is PollVerdict.DROPPED:
                    # The nonce was used by a transaction the keeper did not send.
                    self._release(key, pending)
                    if not pending.gap_fill:
                        outcomes.append(TxOutcome(TxStatus.DROPPED, pending.request, nonce=pending.nonce,
                                                  reason="nonce used by another transaction"))
                elif receipt_block is None:
                    pending.unaccounted_since = head
                else:
                    log.debug("receipt from a block after the head; still pending", key=key,
                              receipt_block=receipt_block, head=head)
            elif self.sender is not None and self.sender.lapsed(pending.all_hashes, head):
                outcomes.append(self._lapsed(key, pending))
            else:
                self._advance(pending, head, base_fee, now)
        self._receipts_read_to = head
        self.audit(head, base_fee, mined=mined_nonce)
        return outcomes

    def _advance(self, pending: PendingTx, head: int, base_fee: int, now: float) -> None:
        """Does what the rules say to a transaction not mined at ``head``."""
        action = next_action(pending.state(), head, now, self.policy, self.stuck)
        if action is Action.BUMP:
            self._replace(pending, head, base_fee)
        elif action is Action.CANCEL:
            self._cancel(pending, head, base_fee)
        elif action is Action.BUMP_CANCEL:
            self._bump_cancel(pending, head, base_fee)
        elif action is Action.REBROADCAST:
            self._rebroadcast(pending, head)

    def _block_receipts(self, first: int, last: int) -> dict[str, Any]:
        """Receipts of blocks ``first..last`` by transaction hash (none when
        the range is longer than a few blocks: looked up by hash then)."""
        if last - first >= RECEIPT_BLOCKS_MAX or not self.block_receipts_served:
            return {}
        out: dict[str, Any] = {}
        for number in range(max(first, 0), last + 1):
            try:
                receipts = self.w3.eth.get_block_receipts(number) or []
            except Exception as err:
                if not method_unsupported(err):
                    raise
                # Not every node serves it (Hardhat's does not): by hash from now on.
                log.warning("node has no eth_getBlockReceipts; receipts looked up by hash", error=str(err))
                self.block_receipts_served = False
                return {}
            for receipt in receipts:
                out["0x" + bytes(receipt["transactionHash"]).hex().removeprefix("0x")] = receipt
        return out

    def _find_receipt(self, pending: PendingTx) -> Any:
        for tx_hash in reversed(pending.all_hashes):
            try:
                receipt = self.w3.eth.get_transaction_receipt(tx_hash)
            except Exception as err:
                if "not found" in str(err).lower() or type(err).__name__ == "TransactionNotFound":
                    continue
                raise
            if receipt is not None:
                return receipt
        return None

    def _lapsed(self, key: str, pending: PendingTx) -> TxOutcome:
        """Sent only as bundles, none included by its last target block:
        its nonce was never used (handed out again), nothing was paid."""
        del self.pending[key]
        self._forget(key)
        self.nonces.release(pending.nonce, broadcast=False)
        log.info("bundle not included by its last target block; released", key=key, nonce=pending.nonce,
                 tx=pending.all_hashes[-1])
        # A lost race that cost nothing (another bundle won the block): not a
        # failed send for the brakes' streak.
        return TxOutcome(TxStatus.DROPPED, pending.request, nonce=pending.nonce,
                         reason="bundle not included by its last target block", kind=RevertKind.LOST_RACE)

    def _release(self, key: str, pending: PendingTx) -> None:
        """The nonce is used: forgets ``pending`` (memory and store)."""
        del self.pending[key]
        self._forget(key)
        self.nonces.release(pending.nonce, broadcast=True)

    def _finish(self, key: str, pending: PendingTx, receipt: Any) -> TxOutcome:
        self._release(key, pending)
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex().removeprefix("0x")
        gas_cost = int(receipt["gasUsed"]) * int(receipt.get("effectiveGasPrice", 0))
        if tx_hash in pending.cancel_hashes:
            if pending.gap_fill:
                log.info("nonce gap filled", nonce=pending.nonce, tx=tx_hash)
            else:
                log.info("cancel mined; positions released", key=key, nonce=pending.nonce, tx=tx_hash)
            return TxOutcome(TxStatus.CANCELLED, pending.request, tx_hash=tx_hash, nonce=pending.nonce,
                             reason="expired; cancelled", receipt=receipt, gas_cost=gas_cost)
        if int(receipt["status"]) == 1:
            return TxOutcome(TxStatus.MINED, pending.request, tx_hash=tx_hash, nonce=pending.nonce,
                             receipt=receipt, gas_cost=gas_cost)
        # Replay at its block to learn why (a race leaves a clear reason).
        try:
            sim = self.simulate(pending.request.to, pending.request.data, int(receipt["blockNumber"]))
            reason, kind = (sim.revert_message, sim.kind) if not sim.ok else ("reverted", RevertKind.OTHER)
        except Exception as err:
            reason, kind = str(err)[:200], RevertKind.OTHER
        return TxOutcome(TxStatus.REVERTED, pending.request, tx_hash=tx_hash, nonce=pending.nonce,
                         reason=reason, kind=kind, receipt=receipt, gas_cost=gas_cost)

    def _replace(self, pending: PendingTx, head: int, base_fee: int) -> None:
        """A same-nonce replacement at bumped fees, when the cap allows one
        and it leaves the plan a profit; else no more bumps (the
        transaction waits for its expiry, then is cancelled)."""
        fees = bumped_fees(pending.fees, base_fee, self.policy)
        request = pending.request
        if fees is None:
            log.warning("stuck at the fee cap", key=request.key, nonce=pending.nonce, max_fee=pending.fees.max_fee)
            pending.bumps_exhausted = True
            self._persist(pending)
            return
        if request.net_profit_wei is not None and not bump_keeps_profit(
                request.net_profit_wei, request.planned_gas_price, pending.gas_limit, fees, base_fee):
            log.warning("fee bump would make the plan unprofitable; not bumped", key=request.key,
                        nonce=pending.nonce, max_fee=fees.max_fee, tip=fees.priority_fee,
                        net_profit_wei=request.net_profit_wei)
            pending.bumps_exhausted = True
            self._persist(pending)
            return
        braked = self._braked(request, pending.gas_limit, fees, head, exclude=pending)
        if braked is not None:
            # Not bumped this block; asked again at the next (a budget rolls, a halt ends).
            log.warning("fee bump refused by a brake", key=request.key, nonce=pending.nonce, reason=braked)
            return
        try:
            raw = self._sign(request, pending.nonce, pending.gas_limit, fees)
        except Exception as err:
            self._on_rpc_error("replace")
            log.warning("replacement not signed", key=request.key, nonce=pending.nonce, error=str(err)[:200])
            pending.sent_block = head
            return
        tx_hash = self._tx_hash(raw)
        pending.hashes.append(tx_hash)
        pending.fees, pending.raw = fees, raw
        pending.bumps += 1
        pending.sent_block = pending.last_broadcast_block = head
        self._persist(pending)
        if self._send_raw(raw, "replace", pending):
            log.info("replaced", key=request.key, nonce=pending.nonce, tx=tx_hash,
                     max_fee=fees.max_fee, tip=fees.priority_fee, step=pending.bumps)

    def _cancel(self, pending: PendingTx, head: int, base_fee: int) -> None:
        """Expired: a 0-value transfer to the signer at the same nonce,
        priced to replace it. The positions stay busy until the nonce is
        used (by the cancel or by the original)."""
        fees = cancel_fees(pending.fees, base_fee, self.policy, self.stuck)
        pending.cancelling = True
        if fees is None:
            pending.cancel_capped = True
            self._persist(pending)
            log.error("expired but no cancel fits under the cancel fee cap; sending it again as it is",
                      key=pending.request.key, nonce=pending.nonce, max_fee=pending.fees.max_fee,
                      cancel_fee_cap=self.stuck.cancel_fee_cap)
            return
        self._sign_cancel(pending, fees, head, "cancel")
        log.warning("expired; cancel sent", key=pending.request.key, nonce=pending.nonce,
                    tx=pending.cancel_hashes[-1], max_fee=fees.max_fee, tip=fees.priority_fee,
                    first_block=pending.first_block, blocks=head - pending.first_block, bumps=pending.bumps)

    def _bump_cancel(self, pending: PendingTx, head: int, base_fee: int) -> None:
        fees = cancel_fees(pending.fees, base_fee, self.policy, self.stuck)
        if fees is None:
            pending.cancel_capped = True
            self._persist(pending)
            log.error("cancel stuck at the cancel fee cap", key=pending.request.key, nonce=pending.nonce,
                      max_fee=pending.fees.max_fee)
            return
        self._sign_cancel(pending, fees, head, "bump_cancel")
        log.info("cancel bumped", key=pending.request.key, nonce=pending.nonce, tx=pending.cancel_hashes[-1],
                 max_fee=fees.max_fee, tip=fees.priority_fee)

    def _sign_cancel(self, pending: PendingTx, fees: Fees, head: int, op: str) -> None:
        cancel = TxRequest(key=f"cancel:{pending.request.key}", to=self.address, data=b"", label=CANCEL_LABEL)
        try:
            raw = self._sign(cancel, pending.nonce, CANCEL_GAS, fees)
        except Exception as err:
            self._on_rpc_error(op)
            log.warning("cancel not signed", key=pending.request.key, nonce=pending.nonce, error=str(err)[:200])
            return
        pending.cancel_hashes.append(self._tx_hash(raw))
        pending.fees, pending.raw = fees, raw
        pending.sent_block = pending.last_broadcast_block = head
        self._persist(pending)
        self._send_raw(raw, op, pending)

    def _rebroadcast(self, pending: PendingTx, head: int) -> None:
        """The same signed bytes again: a node that lost them (evicted,
        restarted, never relayed) gets them back; one that has them says
        so, which is not an error."""
        pending.last_broadcast_block = head
        self._persist(pending)
        if self._send_raw(pending.raw, "rebroadcast", pending):
            log.info("rebroadcast", key=pending.request.key, nonce=pending.nonce, tx=pending.all_hashes[-1],
                     cancelling=pending.cancelling)

    def _send_raw(self, raw: bytes, op: str, pending: PendingTx) -> bool:
        """Broadcasts ``raw``; False (logged) when the node refused it. An
        answer saying the bytes or the nonce are already settled is not
        counted as an RPC error: the next poll finds where it went."""
        try:
            self._broadcast(raw)
        except Exception as err:
            text = str(err).lower()
            if any(benign in text for benign in BENIGN_SEND_ERRORS):
                log.debug("node already has it", op=op, key=pending.request.key, nonce=pending.nonce,
                          answer=str(err)[:200])
            elif any(low in text for low in UNDERPRICED_SEND_ERRORS):
                log.info("node refuses its fees for now; it waits for a bump or its expiry", op=op,
                         key=pending.request.key, nonce=pending.nonce, max_fee=pending.fees.max_fee,
                         answer=str(err)[:200])
            else:
                self._on_rpc_error(op)
                log.warning("send failed", op=op, key=pending.request.key, nonce=pending.nonce,
                            error=str(err)[:200])
            return False
        return True

    # ---- nonce audit

    def audit(self, head: int, base_fee: int, *, mined: int | None = None) -> NonceAudit:
        """Compares the account's mined and pending counts with the nonces
        in flight (:func:`txrules.audit_nonces`): a gap is filled with a
        cancel, a nonce used outside the keeper resets the local counter,
        a transaction the node no longer holds is sent again."""
        if mined is None:
            mined = int(self.rpc.request("eth_getTransactionCount", [self.address, hex(head)]), 16)
        result = audit_nonces(mined, self._pending_count(), frozenset(p.nonce for p in self.pending.values()),
                              self.nonces.next_nonce)
        if result.foreign:
            log.warning("nonces used outside the keeper; counter read again from the chain", mined=mined,
                        local=self.nonces.next_nonce)
            self.nonces.reset()
        by_nonce = {p.nonce: p for p in self.pending.values()}
        for nonce in result.unheld:
            pending = by_nonce[nonce]
            if pending.last_broadcast_block != head:
                log.info("node no longer holds it; sending it again", key=pending.request.key, nonce=nonce)
                self._rebroadcast(pending, head)
        for nonce in result.gaps:
            self._fill_gap(nonce, head, base_fee)
        return result

    def _fill_gap(self, nonce: int, head: int, base_fee: int) -> None:
        """A cancel at ``nonce``, which nothing occupies while later nonces
        wait behind it; followed like any transaction in flight."""
        self.nonces.holes.discard(nonce)
        self.nonces.in_flight.add(nonce)
        request = TxRequest(key=f"gap:{nonce}", to=self.address, data=b"", label=GAP_LABEL)
        fees = gap_fees(base_fee, self.policy)
        try:
            raw = self._sign(request, nonce, CANCEL_GAS, fees)
        except Exception as err:
            self.nonces.release(nonce, broadcast=False)
            self._on_rpc_error("gap_fill")
            log.warning("gap cancel not signed", nonce=nonce, error=str(err)[:200])
            return
        pending = PendingTx(request=request, nonce=nonce, gas_limit=CANCEL_GAS, fees=fees, hashes=[],
                            sent_block=head, sent_at=self.clock(), raw=raw, cancelling=True,
                            cancel_hashes=[self._tx_hash(raw)])
        self.pending[request.key] = pending
        self._persist(pending)
        self._send_raw(raw, "gap_fill", pending)
        log.warning("nonce gap: cancel sent to fill it", nonce=nonce, tx=pending.cancel_hashes[-1],
                    max_fee=fees.max_fee)


def revert_message(err: BaseException) -> str | None:
    """The revert reason carried by a web3 error, or None when ``err`` is
    not a revert (a connection error, a timeout)."""
    name = type(err).__name__
    text = str(err)
    if name in ("ContractLogicError", "ContractCustomError", "ContractPanicError") or "revert" in text.lower():
        message = getattr(err, "message", None) or text
        return message.replace("execution reverted: ", "").strip("'\" ")
    return None
