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
JSON document the commands print with ``--json``). Every verb that sends
shows its risk preview first and asks when the health factor would fall
under 1.10 (``yes=True`` skips the question; ``dry_run=True`` stops after
the simulation). The console prints a banner of its verbs when it starts
(:func:`banner`); ``position()`` without an account shows the last one a
verb acted for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from ape import accounts
from rich.console import Console

from navlend.cli import actions, liquidator, localnav
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
    confirmations, ``dry_run`` sends nothing)."""

    # The verbs, in the banner's order: (name, call signature).
    LISTED = (
        ("lend", "lend(who, amount)"),
        ("withdraw", 'withdraw(who, amount="all")'),
        ("deposit", "deposit(who, asset, amount)"),
        ("withdraw_collateral", 'withdraw_collateral(who, asset, amount | "max", to=None)'),
        ("borrow", "borrow(who, amount, to=None)"),
        ("repay", 'repay(who, amount | "max")'),
        ("leverage", 'leverage(who, asset, equity, ltv="0.80")'),
        ("unwind", "unwind(who, asset)"),
        ("position", "position(who=None)"),
        ("positions", "positions(at_risk=False, below=None, limit=None)"),
        ("liquidate", 'liquidate(who, borrower, asset=None, route="seize", repay="max")'),
        ("nav", 'nav(asset, set_price=None, move=None, advance=None, refresh=False)  # local only'),
        ("market_state", "market_state()"),
    )

    def __init__(self, nl: Navlend, console: Console | None = None):
        self.nl = nl
        self.console = console or Console()
        # The last account a verb acted for: position()'s default.
        self.last: Any = None

    def _run(
        self,
        operation: Callable[..., Report],
        who: Any,
        yes: bool = False,
        dry_run: bool = False,
        **kwargs: Any,
    ) -> Report | None:
        try:
            account = _account(who)
            self.last = account
            session = Session(self.nl, account, out=Output(False), yes=yes, dry_run=dry_run)
            report = operation(session, **kwargs)
        except click.ClickException as err:
            self.console.print(f"[bold red]refused:[/] {err.message}", highlight=False)
            return None
        except click.Abort:
            self.console.print("[yellow]aborted: nothing more sent[/]")
            return None
        return report

    def lend(self, who: Any, amount: Any, yes: bool = False, dry_run: bool = False) -> Report | None:
        """``who`` lends ``amount`` of the stablecoin."""
        return self._run(actions.lend, who, yes, dry_run, amount=amount)

    def withdraw(
        self, who: Any, amount: Any = "all", yes: bool = False, dry_run: bool = False
    ) -> Report | None:
        """``who`` withdraws ``amount`` of what it lent ("all": everything)."""
        return self._run(actions.withdraw, who, yes, dry_run, amount=amount)

    def deposit(
        self, who: Any, asset: str, amount: Any, yes: bool = False, dry_run: bool = False
    ) -> Report | None:
        """``who`` posts ``amount`` of ``asset`` as collateral."""
        return self._run(actions.deposit, who, yes, dry_run, asset=asset, amount=amount)

    def withdraw_collateral(
        self,
        who: Any,
        asset: str,
        amount: Any,
        to: Any = None,
        yes: bool = False,
        dry_run: bool = False,
    ) -> Report | None:
        """``who`` withdraws ``amount`` ("max") of ``asset`` collateral."""
        return self._run(
            actions.withdraw_collateral, who, yes, dry_run, asset=asset, amount=amount, to=to
        )

    def borrow(
        self, who: Any, amount: Any, to: Any = None, yes: bool = False, dry_run: bool = False
    ) -> Report | None:
        """``who`` borrows ``amount`` of the stablecoin."""
        return self._run(actions.borrow, who, yes, dry_run, amount=amount, to=to)

    def repay(self, who: Any, amount: Any, yes: bool = False, dry_run: bool = False) -> Report | None:
        """``who`` repays ``amount`` ("max": all) of its debt."""
        return self._run(actions.repay, who, yes, dry_run, amount=amount)

    def leverage(
        self,
        who: Any,
        asset: str,
        equity: Any,
        ltv: str = "0.80",
        max_ltv: str | None = None,
        slippage: str = actions.DEFAULT_SLIPPAGE,
        yes: bool = False,
        dry_run: bool = False,
    ) -> Report | None:
        """``who`` levers ``equity`` of the stablecoin into ``asset`` at ``ltv``."""
        return self._run(
            actions.leverage,
            who,
            yes,
            dry_run,
            asset=asset,
            equity=equity,
            ltv=ltv,
            max_ltv=max_ltv,
            slippage=slippage,
        )

    def unwind(
        self,
        who: Any,
        asset: str,
        min_out: Any = None,
        slippage: str = actions.DEFAULT_SLIPPAGE,
        yes: bool = False,
        dry_run: bool = False,
    ) -> Report | None:
        """``who`` closes its levered position in ``asset``."""
        return self._run(
            actions.unwind, who, yes, dry_run, asset=asset, min_out=min_out, slippage=slippage
        )

    def position(self, who: Any = None) -> Report | None:
        """``who``'s position, both sides (default: the last account a verb
        acted for); prints as tables, ``.data`` holds the figures."""
        if who is None:
            who = self.last
        if who is None:
            self.console.print(
                "[bold red]refused:[/] position(who): name an account, e.g. "
                "position(accounts.test_accounts[4]) or position(\"TEST::4\")",
                highlight=False,
            )
            return None
        try:
            address = resolve_address(who)
        except click.ClickException as err:
            self.console.print(f"[bold red]refused:[/] {err.message}", highlight=False)
            return None
        session = Session(self.nl, None, out=Output(False))
        return actions.position(session, who=address)

    def positions(self, at_risk: bool = False, below: Any = None, limit: int | None = None) -> Report | None:
        """The market's borrowers by health factor, lowest first (``at_risk``:
        only those under ``below``, default 1.10)."""
        try:
            session = Session(self.nl, None, out=Output(False))
            return liquidator.positions(session, at_risk=at_risk, below=below, limit=limit)
        except click.ClickException as err:
            self.console.print(f"[bold red]refused:[/] {err.message}", highlight=False)
            return None

    def liquidate(
        self,
        who: Any,
        borrower: Any,
        asset: str | None = None,
        route: str = "seize",
        repay: Any = "max",
        yes: bool = False,
        dry_run: bool = False,
    ) -> Report | None:
        """``who`` liquidates ``borrower`` by hand (quote and profit shown first)."""
        return self._run(
            liquidator.liquidate,
            who,
            yes,
            dry_run,
            borrower=str(getattr(borrower, "address", borrower)),
            asset=asset,
            route=route,
            repay=repay,
        )

    def nav(
        self,
        asset: str,
        set_price: Any = None,
        move: str | None = None,
        advance: str | None = None,
        refresh: bool = False,
        who: Any = None,
        yes: bool = False,
        dry_run: bool = False,
    ) -> Report | None:
        """Local chain only: strike (``set_price``, ``move``) or refresh
        ``asset``'s NAV, after moving time by ``advance``; signed by the
        oracle's updater unless ``who`` is given."""
        return self._run(
            localnav.nav,
            who if who is not None else "TEST::0",
            yes,
            dry_run,
            asset=asset,
            set_price=set_price,
            move=move,
            advance=advance,
            refresh=refresh,
            explicit_account=who is not None,
        )

    def market_state(self) -> Report:
        """The market's state (prints as tables)."""
        return actions.market(Session(self.nl, None, out=Output(False)))


def banner(nl: Navlend, network_name: str) -> str:
    """What the console prints when it starts: the deployment and its verbs."""
    lines = [
        f"navlend on {network_name}: market {nl.market.address}",
        "contracts: market, lens, leverage, usdc, fund_a, fund_b, fund_c, wrapper",
        "verbs (amounts as strings, e.g. \"1000.50\"; who: an account, an alias or \"TEST::n\"):",
        *[f"  {signature}" for _, signature in Verbs.LISTED],
        "every verb that sends previews the risk first; yes=True skips questions, dry_run=True sends nothing",
    ]
    return "\n".join(lines)


def namespace(network_name: str | None = None, show_banner: bool = False) -> dict[str, Any]:
    """The names the console gets: ``navlend`` (the deployment), ``market``,
    ``lens``, ``leverage``, ``usdc``, ``fund_a``, ``fund_b``, ``fund_c``,
    ``wrapper``, and the verbs of :attr:`Verbs.LISTED`; with
    ``show_banner``, prints :func:`banner` first."""
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
    for verb, _ in Verbs.LISTED:
        names[verb] = getattr(verbs, verb)
    if show_banner:
        verbs.console.print(banner(nl, network_name or nl.chain.provider.network.name), highlight=False)
    return names
