"""The market's rules as pure functions of typed values: one copy, called
by the reference model (``navlend.model``), the keeper's decisions
(``keepers.decide``) and the people's pre-flight checks (``navlend.cli``).

Every function restates the contracts' arithmetic
(``contracts/market/modules/market_core.vy`` and the behaviour modules) with
the contract's rounding, always in the protocol's favour; the property
suite holds the model built on them equal to the bytecode, operation by
operation.

- :mod:`~navlend.rules.arith`: full-precision products, rounding up or
  down, and :class:`~navlend.rules.arith.Revert`;
- :mod:`~navlend.rules.interest`: the rate curve, the borrow index, debt;
- :mod:`~navlend.rules.shares`: the lenders' ERC-4626 conversions;
- :mod:`~navlend.rules.valuation`: prices, values at LTV and threshold;
- :mod:`~navlend.rules.health`: the health factor, liquidation prices;
- :mod:`~navlend.rules.liquidation`: close factor, dust trims, seizure,
  the protocol's fee, the preconditions, the write-off;
- :mod:`~navlend.rules.fees`: flash-loan fees and the facility's payout;
- :mod:`~navlend.rules.params`: the bounds on every owner-set parameter.

A rule that the contract enforces with a revert raises
:class:`~navlend.rules.arith.Revert` carrying the contract's reason.
Nothing here does I/O or imports beyond the standard library and
:mod:`navlend.constants`.
"""
