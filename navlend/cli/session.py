"""One account's session with the market: prints for people or machines,
shows what a change does, asks when it should, simulates, then sends.

:meth:`Session.execute` runs a :class:`~navlend.cli.records.Plan`:

1. it shows the plan: notes, every amount in the token's exact units, an
   operator's settings old → new, and the risk preview (health factor,
   debt, headroom, liquidation NAV before → after) of the signer's position
   and of the accounts an operator's change puts at risk;
2. with no set-up step, the main transaction is simulated (``eth_call``
   from the account): a revert is refused with nothing sent;
3. ``--dry-run`` stops here;
4. it asks for confirmation on a network other than a local one, and on
   every network when the change takes a health factor under the warning
   level (``--warn-below``, default 1.10) or makes another account
   liquidatable; ``--yes`` skips the question, a "no" (or no answer)
   refuses with nothing sent;
5. set-up steps (approvals, authorisations) are sent, then each main step
   is simulated (if not yet) and sent, with one line per transaction (its
   hash, block and fee) and a spinner while it waits.
"""

from __future__ import annotations

import json
from decimal import Decimal
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import click
from ape.exceptions import ApeException, ContractLogicError
from ape.logging import logger
from rich.console import Console

from navlend.cli.amounts import format_health, format_units
from navlend.cli.checks import fmt, needs_approval
from navlend.cli.contracts import Navlend
from navlend.cli.errors import Refusal, Reverted, explain_revert
from navlend.cli.preview import DEFAULT_WARN_HEALTH
from navlend.cli.records import Plan, Token, TxStep
from navlend.cli.render import result_renderable
from navlend.cli.render_preview import (
    affected_json,
    affected_renderable,
    changes_json,
    changes_renderable,
    echo_line,
    preview_json,
    preview_renderable,
    quantity_json,
)

# Tables wider than a default 80-column pipe, so captured output stays whole.
MIN_WIDTH = 120


class Report:
    """What a command shows: ``data`` for ``--json``, ``renderable`` for
    people (by default, a sent command's outcome drawn from ``data``).
    Prints itself in the console."""

    def __init__(self, data: dict[str, Any], renderable: Any = None):
        self.data = data
        self._renderable = renderable
        # What people read after a sent command (JSON has it in "result").
        self.after: list[str] = []

    @property
    def renderable(self) -> Any:
        if self._renderable is None:
            return result_renderable(self.data, self.after)
        return self._renderable

    def __rich__(self) -> Any:
        return self.renderable

    def __repr__(self) -> str:
        console = Console(width=MIN_WIDTH, record=True, file=_Null())
        console.print(self.renderable)
        return console.export_text().rstrip()

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


class _Null:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        return None


class Output:
    """Where a command writes: notes to stdout (stderr under ``--json``, so
    stdout stays one JSON document), and the result."""

    def __init__(self, json_mode: bool = False):
        self.json_mode = json_mode

    def _console(self, stderr: bool) -> Console:
        console = Console(stderr=stderr)
        console.width = max(console.width, MIN_WIDTH)
        return console

    def note(self, text: str) -> None:
        self._console(self.json_mode).print(text, highlight=False, soft_wrap=True)

    def show(self, renderable: Any) -> None:
        """A table for people (skipped under ``--json``: the document has it)."""
        if not self.json_mode:
            self._console(False).print(renderable)

    @contextmanager
    def status(self, text: str) -> Iterator[None]:
        """A spinner on stderr while ``text`` waits (only on a terminal)."""
        console = Console(stderr=True)
        with console.status(text) if console.is_terminal else nullcontext():
            yield

    def emit(self, report: Report) -> None:
        if self.json_mode:
            click.echo(json.dumps(report.data, indent=2))
        else:
            self._console(False).print(report.renderable)


class Session:
    """``account`` acting on a deployment over ``network``."""

    def __init__(
        self,
        nl: Navlend,
        account: Any,
        network: Any = None,
        out: Output | None = None,
        yes: bool = False,
        dry_run: bool = False,
        warn_below: int = DEFAULT_WARN_HEALTH,
    ):
        self.nl = nl
        self.account = account
        self.network = network or nl.chain.provider.network
        self.out = out or Output()
        self.yes = yes
        self.dry_run = dry_run
        self.warn_below = warn_below

    @property
    def address(self) -> str:
        return str(self.account.address)

    @property
    def local(self) -> bool:
        return bool(self.network.is_local)

    # ---- planning ----

    def approve_if_needed(
        self, plan: Plan, token: Any, spender: Any, amount: int, info: Token, spender_name: str
    ) -> None:
        """Adds an approval of ``amount`` when the allowance falls short."""
        allowance = int(token.allowance(self.address, spender.address))
        if needs_approval(allowance, amount):
            plan.notes.append(
                f"approving the {spender_name} for {fmt(amount, info)} (allowance {fmt(allowance, info)})"
            )
            plan.steps.insert(
                len(plan.setup),
                TxStep(
                    f"approve {spender_name}", token.approve, (spender.address, amount), "setup"
                ),
            )

    # ---- showing ----

    def show_plan(self, plan: Plan) -> None:
        """Step 1 of the module's docstring."""
        for note in plan.notes:
            self.out.note(f"[yellow]note:[/] {note}")
        for name, quantity in plan.amounts.items():
            self.out.note(echo_line(name, quantity))
        if plan.changes:
            self.out.show(changes_renderable(plan.changes))
        if plan.preview is not None:
            self.out.show(preview_renderable(plan.preview, self.nl.base, "risk preview, before → after"))
        if plan.affected:
            self.out.show(affected_renderable(plan.affected, self.nl.base))

    def warnings(self, plan: Plan) -> list[str]:
        """Why this change needs a confirmation on any network."""
        found = []
        p = plan.preview
        if p is not None and p.warns(self.warn_below):
            found.append(
                f"the health factor would fall to {format_health(p.after.health_factor)}, "
                f"under the warning level {format_health(self.warn_below)}"
                + (" (liquidatable)" if p.after.liquidatable else "")
            )
        pushed = [a for a in plan.affected if a.after.liquidatable and not a.before.liquidatable]
        if pushed:
            found.append(f"{len(pushed)} account(s) would become liquidatable")
        return found

    # ---- sending ----

    def simulate(self, step: TxStep) -> None:
        """``eth_call`` of ``step`` from the account; a revert is refused."""
        try:
            step.method.call(*step.args, sender=self.account)
        except ContractLogicError as err:
            raise Reverted(f"{step.label} would revert: {explain_revert(err.message)}") from None
        except ApeException as err:
            raise Refusal(f"{step.label} cannot be simulated: {_one_line(err)}") from None

    def confirm(self, plan: Plan, warnings: list[str]) -> None:
        """Asks before sending on any network but a local one, and on every
        network when ``warnings`` is not empty; a "no" is a refusal."""
        if self.yes or (self.local and not warnings):
            return
        steps = "\n".join(f"  - {s.label}" for s in plan.steps)
        warned = "".join(f"warning: {w}\n" for w in warnings)
        try:
            click.confirm(
                f"{warned}{plan.summary}\nsend from {self.address} on {self.network.name}:\n{steps}\nproceed?",
                abort=True,
                err=True,
            )
        except click.Abort:
            why = f"{'; '.join(warnings)}: " if warnings else ""
            raise Refusal(f"{why}not confirmed (pass --yes to send anyway): nothing sent") from None

    def send(self, step: TxStep, sent: list[dict[str, Any]]) -> Any:
        level = logger.level
        # Ape logs each submission and confirmation (fees in wei): the
        # session prints its own line instead.
        logger.set_level("WARNING")
        try:
            with self.out.status(f"sending {step.label}…"):
                receipt = step.method(*step.args, sender=self.account)
        except ContractLogicError as err:
            raise Reverted(
                f"{step.label} reverted: {explain_revert(err.message)}{_after(sent)}"
            ) from None
        except ApeException as err:
            raise Reverted(f"{step.label} failed: {_one_line(err)}{_after(sent)}") from None
        finally:
            logger.set_level(level)
        if getattr(receipt, "failed", False):
            raise Reverted(f"{step.label} failed in {receipt.txn_hash}{_after(sent)}")
        tx = transaction_record(step.label, receipt)
        sent.append(tx)
        self.out.note(transaction_line(tx))
        return receipt

    def execute(self, plan: Plan, **result: Any) -> Report:
        """Runs ``plan`` (see the module's docstring); returns its report,
        with ``result`` (the command's own figures) under ``"result"``."""
        self.show_plan(plan)
        main = plan.main
        simulated = False
        if not plan.setup:
            try:
                self.simulate(main[0])
            except (Refusal, Reverted) as refusal:
                raise type(refusal)(f"{refusal.message}: nothing sent") from None
            simulated = True
        warnings = self.warnings(plan)
        sent: list[dict[str, Any]] = []
        if self.dry_run:
            if not simulated:
                self.out.note(
                    "dry run: the main step is simulated only once its set-up step is sent: not simulated"
                )
            self.out.note(f"dry run: nothing sent{' (simulated: it would go through)' if simulated else ''}")
            return Report(self.document(plan, sent, warnings, result, simulated))
        self.confirm(plan, warnings)
        for step in plan.setup:
            self.send(step, sent)
        for i, step in enumerate(main):
            if i or not simulated:
                try:
                    self.simulate(step)
                except (Refusal, Reverted) as refusal:
                    raise type(refusal)(f"{refusal.message}{_after(sent)}") from None
            self.send(step, sent)
        return Report(self.document(plan, sent, warnings, result, True))

    def document(
        self,
        plan: Plan,
        sent: list[dict[str, Any]],
        warnings: list[str],
        result: dict[str, Any],
        simulated: bool,
    ) -> dict[str, Any]:
        """A sent (or dry-run) command's JSON document: the same keys for
        every command (``result`` holds the command's own)."""
        base = self.nl.base
        return {
            "command": plan.command or (plan.main[-1].label if plan.main else ""),
            "summary": plan.summary,
            "account": self.address,
            "network": self.network.name,
            "dry_run": self.dry_run,
            "simulated": simulated,
            "amounts": {k: quantity_json(q) for k, q in plan.amounts.items()},
            "preview": preview_json(plan.preview, base),
            "changes": changes_json(plan.changes),
            "affected": affected_json(plan.affected, base),
            "warnings": warnings,
            "notes": list(plan.notes),
            "transactions": sent,
            "result": result,
        }


def transaction_record(label: str, receipt: Any) -> dict[str, Any]:
    """One sent transaction for the report: hash, block, gas and fee (wei,
    as a string, and in ETH)."""
    gas_used = int(getattr(receipt, "gas_used", 0) or 0)
    price = int(getattr(receipt, "gas_price", 0) or 0)
    fee = gas_used * price
    return {
        "step": label,
        "hash": str(receipt.txn_hash),
        "block": int(getattr(receipt, "block_number", 0) or 0),
        "gas_used": gas_used,
        "gas_price_gwei": format_units(price, 9, group=False),
        "fee": {"raw": str(fee), "value": format_units(fee, 18, group=False), "symbol": "ETH", "decimals": 18},
    }


def transaction_line(tx: dict[str, Any]) -> str:
    """"✓ borrow 0xab…cd in block 12, fee 0.000054 ETH (54,101 gas at 1 gwei)"."""
    fee = int(tx["fee"]["raw"])
    gwei = Decimal(tx["gas_price_gwei"]).quantize(Decimal("0.001"))
    return (
        f"[green]✓[/] {tx['step']} {tx['hash']} in block {tx['block']}, fee "
        f"{format_units(fee, 18, 9)} ETH ({tx['gas_used']:,} gas at {gwei} gwei)"
    )


def _after(sent: list[dict[str, str]]) -> str:
    if not sent:
        return ""
    return f" (already sent: {', '.join(s['step'] for s in sent)})"


def _one_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
