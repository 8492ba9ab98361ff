"""The ``ape console`` namespace (``ape_console_extras.py`` calls
:func:`namespace`): the deployment's contracts and verbs that run the
commands' operations, with the same pre-flight checks, from Python.

Verbs take the acting account first and amounts in human units (strings,
or ints; floats are refused)::

    deposit(borrower, "fund_a", "1000")
    borrow(borrower, "5000")
    position(borrower)
    repay(borrower, "max")

A refusal is printed (in red) and the verb returns None; otherwise it
returns the report, which the console displays (``report.data`` holds the
JSON document the commands print with ``--json``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from ape import accounts
from rich.console import Console

from navlend.cli import actions
from navlend.cli.contracts import Navlend, resolve_address
from navlend.cli.session import Output, Report, Session


def _account(who: Any) -> Any:
    """An Ape account from an account object, an alias or "TEST::n"."""
    if hasattr(who, "address") and hasattr(who, "call"):
        return who
    text = str(who)
    if text.upper().startswith("TEST::") and text[6:].isdigit():
        return accounts.test_accounts[int(text[6:])]
    return accounts.load(text)


class Verbs:
    """The console's verbs over one deployment (``yes`` skips the
    confirmation asked on networks other than local)."""

    def __init__(self, nl: Navlend, console: Console | None = None):
        self.nl = nl
        self.console = console or Console()

    def _run(
        self, operation: Callable[..., Report], who: Any, yes: bool = False, **kwargs: Any
    ) -> Report | None:
        try:
            session = Session(self.nl, _account(who), out=Output(False), yes=yes)
            report = operation(session, **kwargs)
        except click.ClickException as err:
            self.console.print(f"[bold red]refused:[/] {err.message}", highlight=False)
            return None
        except click.Abort:
            self.console.print("[yellow]aborted: nothing more sent[/]")
            return None
        return report

    def lend(self, who: Any, amount: Any, yes: bool = False) -> Report | None:
        """``who`` lends ``amount`` of the stablecoin."""
        return self._run(actions.lend, who, yes, amount=amount)

    def withdraw(self, who: Any, amount: Any = "all", yes: bool = False) -> Report | None:
        """``who`` withdraws ``amount`` of what it lent ("all": everything)."""
        return self._run(actions.withdraw, who, yes, amount=amount)

    def deposit(self, who: Any, asset: str, amount: Any, yes: bool = False) -> Report | None:
        """``who`` posts ``amount`` of ``asset`` as collateral."""
        return self._run(actions.deposit, who, yes, asset=asset, amount=amount)

    def withdraw_collateral(
        self, who: Any, asset: str, amount: Any, to: Any = None, yes: bool = False
    ) -> Report | None:
        """``who`` withdraws ``amount`` ("max") of ``asset`` collateral."""
        return self._run(actions.withdraw_collateral, who, yes, asset=asset, amount=amount, to=to)

    def borrow(self, who: Any, amount: Any, to: Any = None, yes: bool = False) -> Report | None:
        """``who`` borrows ``amount`` of the stablecoin."""
        return self._run(actions.borrow, who, yes, amount=amount, to=to)

    def repay(self, who: Any, amount: Any, yes: bool = False) -> Report | None:
        """``who`` repays ``amount`` ("max": all) of its debt."""
        return self._run(actions.repay, who, yes, amount=amount)

    def position(self, who: Any) -> Report:
        """``who``'s position (prints as tables; ``.data`` for the figures)."""
        session = Session(self.nl, None, out=Output(False))
        return actions.position(session, who=resolve_address(who))

    def market_state(self) -> Report:
        """The market's state (prints as tables)."""
        return actions.market(Session(self.nl, None, out=Output(False)))


def namespace(network_name: str | None = None) -> dict[str, Any]:
    """The names the console gets: ``navlend`` (the deployment), ``market``,
    ``lens``, ``leverage``, ``usdc``, ``fund_a``, ``fund_b``, ``fund_c``,
    ``wrapper``,
    ``position`` and the verbs ``lend``, ``withdraw``, ``borrow``,
    ``repay``, ``deposit``, ``withdraw_collateral``, ``market_state``."""
    nl = Navlend.load(network_name)
    verbs = Verbs(nl)
    names: dict[str, Any] = {
        "navlend": nl,
        "market": nl.market,
        "lens": nl.lens,
        "leverage": nl.leverage,
        "usdc": nl.stablecoin,
    }
    for name in ("fund_a", "fund_b", "fund_c", "wrapper"):
        if nl.deployment.get(name):
            names[name] = nl.contract(name)
    for verb in (
        "lend",
        "withdraw",
        "deposit",
        "withdraw_collateral",
        "borrow",
        "repay",
        "position",
        "market_state",
    ):
        names[verb] = getattr(verbs, verb)
    return names
