"""Refusals: what a tool says, before sending anything, when it will not go on.

A :class:`Refusal` is a ``click.ClickException``: a command exits non-zero
with its one-line message and no traceback; the console prints it.
"""

from __future__ import annotations

import click

# Revert reasons of the market, the leverage helper, the funds and the
# facilities, worded for a person. Anything else is shown as it comes.
REVERT_HINTS = {
    "market: paused": "the market has paused this action",
    "market: exceeds borrow limit": "the position would exceed its borrow limit",
    "market: stale price": "the asset's NAV is stale, so it cannot back this",
    "market: insufficient cash": "the market does not hold enough cash",
    "market: below min borrow": "the debt would be below the market's minimum borrow",
    "market: supply cap exceeded": "the asset's supply cap would be exceeded",
    "market: asset frozen": "the asset is frozen: no new deposits",
    "market: not authorized": "the account has not authorised this operator",
    "market: asset not listed": "the token is not listed on the market",
    "market: no debt": "the account has no debt",
    "market: zero shares": "the amount is too small to mint a lender share",
    "market: not guardian": "the account is neither the guardian nor the owner",
    "ownable: caller is not the owner": "the account is not the market's owner",
    "fund: paused": "the fund has paused transfers",
    "leverage: slippage": "the unwind would return less than the minimum",
    "leverage: ltv above maximum": "the levered position would exceed the maximum LTV",
    "leverage: collateral below minimum": "the subscription would mint fewer shares than the minimum",
    "facility: insufficient liquidity": "the redemption facility lacks liquidity",
    "facility: daily limit exceeded": "the redemption facility's daily limit is used up",
    "facility: stale nav": "the fund's NAV is stale, so its facility is closed",
}


class Refusal(click.ClickException):
    """A clear, one-line reason not to send a transaction."""

    def __init__(self, message: str):
        super().__init__(message)


def explain_revert(reason: str | None) -> str:
    """A person's wording of a revert reason (the reason itself kept)."""
    if not reason:
        return "the transaction would revert (no reason given)"
    hint = REVERT_HINTS.get(reason)
    return f"{hint} ({reason})" if hint else reason
