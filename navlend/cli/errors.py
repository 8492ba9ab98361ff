"""Failures: what a tool says, and the status it exits with, when it will
not (or could not) go on.

Every failure is a ``click.ClickException`` carrying one line (no
traceback), a stable ``code`` for machines and its own exit status, so a
script can tell a mistyped command from a refusal, a revert or a dead node:

====  ============  ===========================================================
exit  code          meaning
====  ============  ===========================================================
0     -             done (or, with ``--dry-run``, checked and simulated)
1     ``internal``  an unexpected error in the tool itself
2     ``usage``     the command line is wrong: an unknown option, an amount,
                    an address or an asset that does not parse; nothing sent
3     ``refused``   the input is well formed but the checks refuse it (over
                    the limit, paused, not allowlisted, a health factor under
                    the warning level without ``--yes``, declined at the
                    prompt); nothing sent
4     ``reverted``  the chain refuses: the simulation reverts (nothing sent),
                    or a sent transaction reverted (the message names what
                    was already sent)
5     ``rpc``       the node cannot be reached or answers with an error
====  ============  ===========================================================

Under ``--json`` the failure is also printed on stdout as
``{"error": {"code": ..., "message": ..., "exit_code": ...}}``.
"""

from __future__ import annotations

from typing import Any

import click

EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_REVERTED = 4
EXIT_RPC = 5

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
    "market: position healthy": "the position is not liquidatable",
    "ownable: caller is not the owner": "the account is not the market's owner",
    "fund: paused": "the fund has paused transfers",
    "leverage: slippage": "the unwind would return less than the minimum",
    "leverage: ltv above maximum": "the levered position would exceed the maximum LTV",
    "leverage: collateral below minimum": "the subscription would mint fewer shares than the minimum",
    "facility: insufficient liquidity": "the redemption facility lacks liquidity",
    "facility: daily limit exceeded": "the redemption facility's daily limit is used up",
    "facility: stale nav": "the fund's NAV is stale, so its facility is closed",
}


class CliError(click.ClickException):
    """A one-line failure with a machine ``code`` and its exit status."""

    code = "internal"
    exit_code = EXIT_INTERNAL

    def __init__(self, message: str):
        super().__init__(message)

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` failure object."""
        return {"error": {"code": self.code, "message": self.message, "exit_code": self.exit_code}}


class Refusal(CliError):
    """A clear, one-line reason not to send a transaction."""

    code = "refused"
    exit_code = EXIT_REFUSED


class BadInput(Refusal):
    """An argument that does not parse (amount, address, asset, duration):
    a usage error, though worded and raised like a refusal."""

    code = "usage"
    exit_code = EXIT_USAGE


class Reverted(CliError):
    """The chain refused: a simulation or a sent transaction reverted."""

    code = "reverted"
    exit_code = EXIT_REVERTED


class RpcFailure(CliError):
    """The node could not be reached, or answered with an error."""

    code = "rpc"
    exit_code = EXIT_RPC


def error_json(err: click.ClickException) -> dict[str, Any]:
    """The ``--json`` failure object of any click failure (a usage error
    of click's own included)."""
    if isinstance(err, CliError):
        return err.as_json()
    code = "usage" if isinstance(err, click.UsageError) else "internal"
    return {"error": {"code": code, "message": err.format_message(), "exit_code": err.exit_code}}


def explain_revert(reason: str | None) -> str:
    """A person's wording of a revert reason (the reason itself kept)."""
    if not reason:
        return "the transaction would revert (no reason given)"
    hint = REVERT_HINTS.get(reason)
    return f"{hint} ({reason})" if hint else reason
