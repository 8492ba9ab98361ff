"""The click side of the commands: the command class, shared options and
the runner.

Every command is ``@click.command(cls=NavlendCommand)`` with
:func:`common_options` (``--network``, ``--account``, ``--json``, ``--yes``,
``--dry-run``, ``--warn-below``) or :func:`view_options`, and calls
:func:`run` with an operation of :mod:`navlend.cli.actions` or
:mod:`navlend.cli.admin`. Every failure becomes one line and an exit status
of its own (:mod:`navlend.cli.errors`); under ``--json`` its error object is
also printed on stdout.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from ape import accounts
from ape.cli import ConnectedProviderCommand, account_option, network_option
from ape.exceptions import ApeException, ContractLogicError, ProviderError, RPCTimeoutError
from ape.logging import logger
from requests.exceptions import RequestException

from navlend.cli.amounts import to_decimal
from navlend.cli.contracts import Navlend
from navlend.cli.errors import BadInput, CliError, Refusal, Reverted, RpcFailure, error_json, explain_revert
from navlend.cli.preview import DEFAULT_WARN_HEALTH
from navlend.cli.session import Output, Report, Session
from navlend.constants import WAD

# Failures of the node itself (unreachable, timing out, answering errors).
RPC_ERRORS = (ProviderError, RPCTimeoutError, RequestException, ConnectionError, TimeoutError)

ACCOUNT_HELP = (
    "The signing account: an Ape account alias (`ape accounts list`), or TEST::n for the "
    "local test account n. Default on a local network: TEST::0."
)


def _json_requested(ctx: click.Context | None, args: list[str] | None = None) -> bool:
    if args is not None and "--json" in args:
        return True
    return bool(ctx is not None and ctx.params.get("json_output"))


class NavlendCommand(ConnectedProviderCommand):
    """A command connected to its network whose failures exit with their
    own status (:mod:`navlend.cli.errors`) and, under ``--json``, print
    their error object on stdout."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        requested = "--json" in args
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as err:
            if requested:
                click.echo(json.dumps(error_json(err)))
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as err:
            failure = err
        except ContractLogicError as err:
            failure = Reverted(explain_revert(err.message))
        except RPC_ERRORS as err:
            failure = RpcFailure(f"the node failed: {_one_line(err)}")
        if _json_requested(ctx):
            click.echo(json.dumps(error_json(failure)))
        raise failure


def _remember(name: str) -> Callable:
    """An option kept in ``ctx.meta`` (read by :func:`run`), so the commands'
    own signatures do not carry it."""

    def callback(ctx: click.Context, _param: Any, value: Any) -> Any:
        ctx.meta[f"navlend.{name}"] = value
        return value

    return callback


def parse_health(text: str | None) -> int:
    """A health factor ("1.10") as WAD; None: the default (1.10)."""
    if text is None or str(text).strip() == "":
        return DEFAULT_WARN_HEALTH
    value = to_decimal(text, "--warn-below")
    if value < 1:
        raise BadInput(f"--warn-below '{text}' is under 1: a health factor under 1 is liquidatable already")
    return int(value * WAD)


json_option = click.option(
    "--json", "json_output", is_flag=True, help="Print one JSON document on stdout (README: the schema)."
)
yes_option = click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Do not ask for confirmation (asked on every non-local network, and on any network "
    "when a health factor would fall under --warn-below).",
)
dry_run_option = click.option(
    "--dry-run",
    is_flag=True,
    expose_value=False,
    callback=_remember("dry_run"),
    help="Check, preview and simulate, then stop: nothing is sent.",
)
warn_option = click.option(
    "--warn-below",
    metavar="HF",
    envvar="NAVLEND_WARN_HEALTH",
    expose_value=False,
    callback=_remember("warn_below"),
    help="Ask for confirmation when the health factor would fall under HF (default 1.10; "
    "env NAVLEND_WARN_HEALTH).",
)


def _account(f: Callable) -> Callable:
    f = account_option(prompt=False)(f)
    f.__click_params__[-1].help = ACCOUNT_HELP
    return f


def common_options(f: Callable) -> Callable:
    """``--network``, ``--account``, ``--json``, ``--yes``, ``--dry-run`` and
    ``--warn-below``; the command function takes ``network, account,
    json_output, yes`` (the last two reach :func:`run` through the context)."""
    f = warn_option(f)
    f = dry_run_option(f)
    f = yes_option(f)
    f = json_option(f)
    f = _account(f)
    return network_option()(f)


def view_options(f: Callable) -> Callable:
    """``--network``, ``--account`` and ``--json`` (nothing is sent)."""
    f = json_option(f)
    f = _account(f)
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


def _context_meta() -> dict[str, Any]:
    ctx = click.get_current_context(silent=True)
    return ctx.meta if ctx is not None else {}


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
    meta = _context_meta()
    level = logger.level
    if json_output:
        # Ape logs on stdout: keep stdout one JSON document.
        logger.set_level("ERROR")
    try:
        nl = Navlend.load(network.name)
        session = Session(
            nl,
            as_account or signer(account, network),
            network,
            out,
            yes,
            dry_run=bool(meta.get("navlend.dry_run")),
            warn_below=parse_health(meta.get("navlend.warn_below")),
        )
        report = operation(session, **kwargs)
    except (click.ClickException, click.Abort):
        raise
    except ContractLogicError as err:
        raise Reverted(f"the call reverted: {explain_revert(err.message)}") from None
    except RPC_ERRORS as err:
        raise RpcFailure(f"the node failed: {_one_line(err)}") from None
    except ApeException as err:
        raise CliError(f"{type(err).__name__}: {_one_line(err)}") from None
    except Exception as err:  # noqa: BLE001 - one line, never a traceback
        raise CliError(f"{type(err).__name__}: {_one_line(err)}") from None
    finally:
        logger.set_level(level)
    out.emit(report)
    return report


def _one_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
