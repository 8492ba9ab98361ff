"""Each transaction's tip from its own expected profit: the rule of
:func:`keepers.profit.tip_per_gas` (a configured share of the profit,
spread over the gas, capped, at least the configured priority fee),
applied by the transaction manager to every request that carries an
``expected_profit`` (stablecoin base units) in its context.

Wiring: ``TxManager(..., tip=RequestTip(tip_policy_from_config(config),
lambda: price.base_per_eth))`` where ``price`` is the live ETH price; a
share of 0 (the default) gives the fixed priority fee, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keepers.profit import TipPolicy, tip_per_gas

if TYPE_CHECKING:
    from keepers.txmanager import TxRequest

PROFIT_KEY = "expected_profit"


@dataclass(frozen=True)
class RequestTip:
    """``policy`` applied at the ETH price ``base_per_eth()`` (stablecoin
    base units per ETH, read at each call: it moves)."""

    policy: TipPolicy
    base_per_eth: Callable[[], int]

    def __call__(self, request: TxRequest, gas: int) -> int | None:
        """The tip per gas of ``request`` sent with a gas limit of ``gas``;
        None when it carries no expected profit (the policy's own tip)."""
        profit = request.context.get(PROFIT_KEY)
        if profit is None:
            return None
        if isinstance(profit, bool) or not isinstance(profit, int):
            raise ValueError(f"{PROFIT_KEY} of {request.key} is an integer of base units, got {profit!r}")
        return tip_per_gas(max(profit, 0), gas, self.base_per_eth(), self.policy).per_gas_wei
