"""The click side of the commands: shared options and the runner.

Every command is ``@click.command(cls=ConnectedProviderCommand)`` with
:func:`common_options` (``--network``, ``--account``, ``--json``, ``--yes``)
and calls :func:`run` with an operation of :mod:`navlend.cli.actions` or
:mod:`navlend.cli.admin`. :func:`run` turns every failure into a one-line
``click.ClickException`` (exit status 1, no traceback).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from ape import accounts
from ape.cli import account_option, network_option
from ape.logging import logger

from navlend.cli.contracts import Navlend
from navlend.cli.errors import Refusal
from navlend.cli.session import Output, Report, Session

json_option = click.option(
    "--json", "json_output", is_flag=True, help="Print one JSON document instead of tables."
)
yes_option = click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Do not ask for confirmation (asked on networks other than local).",
)


def common_options(f: Callable) -> Callable:
    """``--network``, ``--account``, ``--json`` and ``--yes``; the command
    function takes ``network, account, json_output, yes``."""
    f = yes_option(f)
    f = json_option(f)
    f = account_option(prompt=False)(f)
    return network_option()(f)


def view_options(f: Callable) -> Callable:
    """``--network``, ``--account`` and ``--json`` (nothing is sent)."""
    f = json_option(f)
    f = account_option(prompt=False)(f)
    return network_option()(f)


def amount_argument(name: str = "amount", metavar: str = "AMOUNT") -> Callable:
    """A human amount ("1000.50"), parsed against the token's decimals once
    the token is known."""
    return click.argument(name, metavar=metavar)


def asset_argument() -> Callable:
    """A listed asset by deployment name (fund_a, fund_c, wrapper) or address."""
    return click.argument("asset", metavar="ASSET")


def signer(account: Any, network: Any) -> Any:
    """``--account``, or test account 0 on a local network."""
    if account is not None:
        return account
    if network.is_local:
        return accounts.test_accounts[0]
    raise Refusal(f"pass --account to sign on '{network.name}'")


def run(
    operation: Callable[..., Report],
    network: Any,
    account: Any,
    json_output: bool = False,
    yes: bool = False,
    *,
    as_account: Any = None,
    **kwargs: Any,
) -> Report:
    """Loads the deployment, opens a session for the signer (``as_account``
    if given), runs ``operation(session, **kwargs)`` and prints its report."""
    out = Output(json_output)
    level = logger.level
    if json_output:
        # Ape logs each confirmation on stdout: keep stdout one JSON document.
        logger.set_level("ERROR")
    try:
        nl = Navlend.load(network.name)
        session = Session(nl, as_account or signer(account, network), network, out, yes)
        report = operation(session, **kwargs)
    except (click.ClickException, click.Abort):
        raise
    except Exception as err:  # noqa: BLE001 - one line, never a traceback
        lines = str(err).strip().splitlines()
        raise click.ClickException(f"{type(err).__name__}: {lines[0] if lines else ''}") from None
    finally:
        logger.set_level(level)
    out.emit(report)
    return report
