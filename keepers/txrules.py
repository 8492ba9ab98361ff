"""Pure rules of the keeper's transactions: fees and replacement, what to
do with a transaction that does not mine (wait, rebroadcast, bump, cancel),
whether a bump still pays, and the audit of the account's nonces. No RPC,
no clock, no storage: every input is a value, so each rule is unit-tested
without a chain (``tests/keeper/unit/test_txrules.py``).

The life of a transaction that does not mine, as :class:`keepers.txmanager.TxManager`
drives it with :func:`next_action`:

1. sent at ``first_block``; every ``stuck_after_blocks`` without a receipt
   it is replaced at the same nonce with fees x ``bump`` (:func:`bumped_fees`),
   up to ``max_bumps``, and only while the bump leaves the plan a profit
   (:func:`bump_keeps_profit`);
2. between bumps (and after the last one) the same signed bytes are sent
   again every ``rebroadcast_blocks`` blocks: a node that evicted it, or
   never relayed it, gets it back;
3. ``expiry_blocks`` blocks or ``expiry_seconds`` seconds after the first
   send, it is *cancelled*: a 0-value transfer to the signer itself at the
   same nonce, fees at least +10 % on both caps (:func:`cancel_fees`), so
   the node replaces the liquidation with it. The cancel is bumped in turn
   while it does not mine, up to ``cancel_fee_cap``;
4. once the nonce is used (the cancel or the original mined), the
   positions are released and re-planned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

GWEI = 10**9
# A plain transfer: the gas of a cancel.
CANCEL_GAS = 21_000
# Nodes (geth's txpool, anvil) accept a same-nonce replacement only when
# both the max fee and the tip rise by at least 10 %.
MIN_REPLACEMENT_BUMP_PERCENT = 10


# ---------------------------------------------------------------- fees


@dataclass(frozen=True)
class Fees:
    """EIP-1559 fee caps of one transaction, wei per gas."""

    max_fee: int
    priority_fee: int

    def __post_init__(self) -> None:
        if self.max_fee < 0 or self.priority_fee < 0:
            raise ValueError(f"negative fees: {self}")
        if self.priority_fee > self.max_fee:
            raise ValueError(f"tip {self.priority_fee} above max fee {self.max_fee}")


@dataclass(frozen=True)
class FeePolicy:
    """How the keeper prices and re-prices its transactions."""

    # Tip offered on the first send.
    priority_fee: int = 1_000_000_000
    # Hard cap on max_fee (and so on the tip): the "gas cap".
    max_fee_cap: int = 200_000_000_000
    # Multiplier per replacement step (geth and anvil need >= 1.10).
    bump: float = 1.125
    # Most replacements of one nonce.
    max_bumps: int = 10
    # max_fee = base_fee x this + tip on the first send.
    base_fee_multiplier: int = 2
    # Blocks without a receipt before the transaction counts as stuck.
    stuck_after_blocks: int = 2

    def __post_init__(self) -> None:
        if self.bump < 1.1:
            raise ValueError(f"fee bump {self.bump} is below 1.1: nodes refuse such replacements")
        if self.priority_fee > self.max_fee_cap:
            raise ValueError("priority fee above the max fee cap")


def initial_fees(base_fee: int, policy: FeePolicy) -> Fees:
    """Fees of a first send: ``base x multiplier + tip``, capped."""
    return fees_with_tip(base_fee, policy, policy.priority_fee)


def fees_with_tip(base_fee: int, policy: FeePolicy, tip: int) -> Fees:
    """Fees of a first send offering ``tip`` per gas (a request's own, from
    its expected profit): ``base x multiplier + tip``, both capped."""
    if tip < 0:
        raise ValueError(f"a tip is >= 0 wei per gas, got {tip}")
    tip = min(tip, policy.max_fee_cap)
    return Fees(max_fee=min(base_fee * policy.base_fee_multiplier + tip, policy.max_fee_cap), priority_fee=tip)


def is_valid_replacement(previous: Fees, new: Fees) -> bool:
    """Whether a node takes ``new`` in place of ``previous`` at the same
    nonce: both caps at least 10 % higher."""
    floor = 100 + MIN_REPLACEMENT_BUMP_PERCENT
    return new.max_fee * 100 >= previous.max_fee * floor and new.priority_fee * 100 >= previous.priority_fee * floor


def _bumped(previous: Fees, base_fee: int, bump: float, cap: int) -> Fees | None:
    # A tip of 0 stays 0 under any factor: a replacement needs at least 1 wei.
    tip = max(math.ceil(previous.priority_fee * bump), 1 if previous.priority_fee == 0 else 0)
    max_fee = max(math.ceil(previous.max_fee * bump), base_fee + tip)
    max_fee = min(max_fee, cap)
    tip = min(tip, max_fee)
    new = Fees(max_fee=max_fee, priority_fee=tip)
    return new if is_valid_replacement(previous, new) else None


def bumped_fees(previous: Fees, base_fee: int, policy: FeePolicy) -> Fees | None:
    """Fees of the next same-nonce replacement: both caps x ``bump``
    (rounded up), the max fee at least covering the current base fee plus
    the tip; None when the cap leaves no room for a valid replacement."""
    return _bumped(previous, base_fee, policy.bump, policy.max_fee_cap)


def replacement_due(sent_block: int, head: int, bumps: int, policy: FeePolicy) -> bool:
    """Whether a transaction sent at ``sent_block`` and still unmined at
    ``head`` should be replaced now."""
    return bumps < policy.max_bumps and head - sent_block >= policy.stuck_after_blocks


# ---------------------------------------------------------------- stuck transactions


@dataclass(frozen=True)
class StuckPolicy:
    """What the keeper does with a transaction that does not mine."""

    # Blocks between two sends of the same signed bytes.
    rebroadcast_blocks: int = 2
    # After this many blocks since the first send, it is cancelled ...
    expiry_blocks: int = 25
    # ... or after this many seconds, whichever comes first.
    expiry_seconds: float = 300.0
    # The max fee a cancel may go up to. A cancel costs 21,000 gas, so it
    # may outbid the liquidation's own cap: it has to, to replace a
    # liquidation that was bumped to that cap.
    cancel_fee_cap: int = 1_000 * GWEI

    def __post_init__(self) -> None:
        for name in ("rebroadcast_blocks", "expiry_blocks"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.expiry_seconds <= 0:
            raise ValueError(f"expiry_seconds must be positive, not {self.expiry_seconds}")
        if self.cancel_fee_cap <= 0:
            raise ValueError(f"cancel_fee_cap must be positive, not {self.cancel_fee_cap}")


class Action(str, Enum):
    """What to do now with a transaction in flight."""

    WAIT = "wait"
    REBROADCAST = "rebroadcast"
    BUMP = "bump"
    CANCEL = "cancel"
    BUMP_CANCEL = "bump_cancel"


@dataclass(frozen=True)
class InFlight:
    """What the rules need to know of one transaction in flight."""

    # Block and time of its first send (never changed by bumps).
    first_block: int
    first_at: float
    # Block of the last new signed transaction (send, bump or cancel).
    last_signed_block: int
    # Block of the last send of any kind (rebroadcasts too).
    last_broadcast_block: int
    bumps: int
    # A cancel replaced it.
    cancelling: bool = False
    # No more fee bumps: the cap, or the plan's profit, ruled them out.
    bumps_exhausted: bool = False
    # The cancel cannot be bumped any more (its cap).
    cancel_capped: bool = False


def rebroadcast_due(last_broadcast_block: int, head: int, policy: StuckPolicy) -> bool:
    """Whether the same signed bytes should be sent again at ``head``."""
    return head - last_broadcast_block >= policy.rebroadcast_blocks


def expired(first_block: int, first_at: float, head: int, now: float, policy: StuckPolicy) -> bool:
    """Whether a transaction first sent at ``first_block`` (``first_at``)
    has waited past its deadline, in blocks or in seconds."""
    return head - first_block >= policy.expiry_blocks or now - first_at >= policy.expiry_seconds


def next_action(tx: InFlight, head: int, now: float, fees: FeePolicy, stuck: StuckPolicy) -> Action:
    """The one thing to do with ``tx`` at ``head``: cancel it once expired;
    bump a cancel that sits; bump the liquidation while bumps are left;
    else send the same bytes again when due; else wait."""
    if tx.cancelling:
        if not tx.cancel_capped and head - tx.last_signed_block >= fees.stuck_after_blocks:
            return Action.BUMP_CANCEL
    elif expired(tx.first_block, tx.first_at, head, now, stuck):
        return Action.CANCEL
    elif not tx.bumps_exhausted and replacement_due(tx.last_signed_block, head, tx.bumps, fees):
        return Action.BUMP
    if rebroadcast_due(tx.last_broadcast_block, head, stuck):
        return Action.REBROADCAST
    return Action.WAIT


def cancel_fees(previous: Fees, base_fee: int, fees: FeePolicy, stuck: StuckPolicy) -> Fees | None:
    """Fees of a cancel (or of the cancel's next bump) replacing a
    transaction priced ``previous``: both caps x ``bump`` (at least the
    nodes' +10 %), the max fee covering the base fee plus the tip, at most
    ``cancel_fee_cap``; None when that cap leaves no valid replacement."""
    return _bumped(previous, base_fee, fees.bump, max(stuck.cancel_fee_cap, fees.max_fee_cap))


def gap_fees(base_fee: int, fees: FeePolicy) -> Fees:
    """Fees of a cancel filling a nonce nothing occupies: a first send."""
    return initial_fees(base_fee, fees)


# ---------------------------------------------------------------- profit


def effective_gas_price(fees: Fees, base_fee: int) -> int:
    """What a transaction priced ``fees`` pays per gas at ``base_fee``."""
    return min(fees.max_fee, base_fee + fees.priority_fee)


def bump_keeps_profit(net_profit_wei: int, planned_gas_price: int, gas_limit: int, new_fees: Fees,
                      base_fee: int) -> bool:
    """Whether a fee bump to ``new_fees`` leaves the plan a profit.

    ``net_profit_wei`` is the plan's net profit in wei, already net of its
    gas at ``planned_gas_price`` per gas (what the plan was priced with);
    the bump costs the difference to the new effective price, on the whole
    ``gas_limit`` (the worst case: the transaction may use all of it)."""
    if gas_limit <= 0:
        raise ValueError(f"gas limit must be positive, not {gas_limit}")
    if planned_gas_price < 0:
        raise ValueError(f"planned gas price must not be negative, not {planned_gas_price}")
    extra = gas_limit * max(effective_gas_price(new_fees, base_fee) - planned_gas_price, 0)
    return net_profit_wei - extra > 0


# ---------------------------------------------------------------- nonces


@dataclass(frozen=True)
class NonceAudit:
    """The account's nonces against what the keeper tracks.

    - ``gaps``: nonces below the highest one the keeper has in flight,
      neither mined nor held by the node nor tracked: every transaction
      above waits behind them for ever. Each is filled with a cancel.
    - ``foreign``: the account used nonces the keeper never handed out (a
      manual transaction, a second process on the key): the local counter
      must be read again from the chain.
    - ``unheld``: nonces the keeper tracks that the node no longer holds
      (evicted from its pool): sent again at once.
    """

    gaps: tuple[int, ...] = ()
    foreign: bool = False
    unheld: tuple[int, ...] = ()

    @property
    def clean(self) -> bool:
        return not (self.gaps or self.foreign or self.unheld)


def audit_nonces(latest: int, pending: int, tracked: frozenset[int], next_local: int | None) -> NonceAudit:
    """Compares the account's mined (``latest``) and pending transaction
    counts with the nonces the keeper tracks and its next nonce
    (``next_local``, None before the first send).

    Nodes count pending transactions only up to the first missing nonce,
    so a gap shows as ``pending`` stopping at it; a nonce at or above
    ``pending`` and below the highest tracked one, untracked, is a gap."""
    if latest < 0 or pending < 0:
        raise ValueError(f"negative transaction counts: latest {latest}, pending {pending}")
    top = max(tracked) + 1 if tracked else latest
    # The nonces the keeper has handed out end below ``ours`` (unknown
    # before its first send with nothing tracked: nothing to resynchronise).
    ours = max(top if tracked else 0, next_local) if next_local is not None else (top if tracked else None)
    foreign = ours is not None and (latest > ours or pending > ours)
    start = max(latest, pending)
    gaps = tuple(n for n in range(start, top) if n not in tracked)
    unheld = tuple(sorted(n for n in tracked if latest <= n and n >= pending))
    return NonceAudit(gaps=gaps, foreign=foreign, unheld=unheld)
