"""Where the keeper's money goes: pure rules, no I/O.

- The profit receiver (:class:`SweepPolicy`, :func:`sweep_amount`): the
  FlashLiquidator pays its owner, the hot signing key. Whatever the key
  holds above a float (stablecoin kept for the seize route, ETH kept for
  gas) is swept to a receiver that is not the signer (a cold wallet or a
  multisig), once the excess is worth a transfer.
- Approvals (:class:`ApprovalPolicy`, :func:`approval_action`): the seize
  route repays from the keeper's stablecoin through ``Market.liquidate``,
  so the market needs an allowance. The keeper approves a bounded amount,
  never ``max_uint256``, and only when a plan needs more than is left.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from keepers.types import to_address

if TYPE_CHECKING:
    from keepers.config import KeeperConfig


@dataclass(frozen=True)
class SweepPolicy:
    """``receiver``: where profit goes (never the signer). ``float_amount``:
    what stays on the key. ``min_sweep``: a smaller excess waits (a
    transfer's gas would eat it). Amounts in the asset's smallest units."""

    receiver: str
    signer: str
    float_amount: int
    min_sweep: int

    def __post_init__(self) -> None:
        receiver, signer = to_address(self.receiver), to_address(self.signer)
        if receiver == signer:
            raise ValueError(f"the profit receiver {receiver} is the signing key: set a separate address")
        if self.float_amount < 0 or self.min_sweep < 0:
            raise ValueError(f"float and min_sweep must be >= 0, got {self.float_amount}, {self.min_sweep}")
        object.__setattr__(self, "receiver", receiver)
        object.__setattr__(self, "signer", signer)


def sweep_amount(balance: int, in_flight: int, policy: SweepPolicy) -> int:
    """What to send to the receiver now: the balance above the float and
    above what the keeper's pending transactions may still draw
    (``in_flight``: seize repayments, or gas at their max fees); 0 when
    that is under ``min_sweep``."""
    if balance < 0 or in_flight < 0:
        raise ValueError(f"balance and in_flight must be >= 0, got {balance}, {in_flight}")
    excess = balance - policy.float_amount - in_flight
    return excess if excess >= max(policy.min_sweep, 1) else 0


class ApprovalKind(enum.Enum):
    NONE = "none"  # the allowance covers the need
    APPROVE = "approve"  # approve(spender, amount)
    RESET_THEN_APPROVE = "reset_then_approve"  # approve(spender, 0) first (USDT-style tokens)
    REFUSE = "refuse"  # the need is above the bound: the seize plan must shrink


@dataclass(frozen=True)
class ApprovalPolicy:
    """``bound``: the largest allowance the keeper ever grants the market.
    ``reset_first``: the token refuses to change a non-zero allowance to
    another non-zero one (USDT), so it is set to 0 first."""

    bound: int
    reset_first: bool = False

    def __post_init__(self) -> None:
        if self.bound <= 0:
            raise ValueError(f"the approval bound must be > 0, got {self.bound}")


@dataclass(frozen=True)
class ApprovalAction:
    kind: ApprovalKind
    amount: int = 0
    detail: str = ""


def approval_action(allowance: int, needed: int, policy: ApprovalPolicy) -> ApprovalAction:
    """What to do before a seize-route send repaying ``needed`` (the sum
    of the block's seize repayments, and those in flight) with the market's
    current ``allowance``: nothing when it covers it; otherwise approve the
    bound (so the next plans need no approval either), which must cover
    ``needed``."""
    if allowance < 0 or needed < 0:
        raise ValueError(f"allowance and need must be >= 0, got {allowance}, {needed}")
    if needed <= allowance:
        return ApprovalAction(ApprovalKind.NONE)
    if needed > policy.bound:
        return ApprovalAction(ApprovalKind.REFUSE, 0, f"need {needed} > approval bound {policy.bound}")
    kind = ApprovalKind.RESET_THEN_APPROVE if policy.reset_first and allowance > 0 else ApprovalKind.APPROVE
    return ApprovalAction(kind, policy.bound, f"allowance {allowance} < need {needed}")


def sweep_policy_from_config(config: KeeperConfig, signer: str) -> SweepPolicy | None:
    """The stablecoin sweep to ``profit_receiver``; None when none is set
    (profit stays on the key, as before: the keeper warns at start)."""
    if config.profit_receiver is None:
        return None
    return SweepPolicy(
        receiver=config.profit_receiver,
        signer=signer,
        float_amount=_base(config.sweep_float_usd, config.base_unit),
        min_sweep=_base(config.min_sweep_usd, config.base_unit),
    )


def approval_policy_from_config(config: KeeperConfig) -> ApprovalPolicy:
    return ApprovalPolicy(bound=_base(config.seize_approval_usd, config.base_unit),
                          reset_first=config.approval_reset_first)


def _base(amount: Decimal, unit: int) -> int:
    return int(amount * unit)
