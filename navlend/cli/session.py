"""One account's session with the market: prints for people or machines,
asks before sending on a live network, simulates, then sends.

:meth:`Session.execute` runs a :class:`~navlend.cli.records.Plan`:

1. with no set-up step, the main transaction is simulated (``eth_call``
   from the account) and a revert becomes a :class:`Refusal`: nothing sent;
2. on a network other than a local one, a confirmation prompt lists what
   will be sent (``--yes`` skips it);
3. set-up steps (approvals, authorisations) are sent, said so;
4. each main step is simulated (if not yet) and sent.
"""

from __future__ import annotations

import json
from typing import Any

import click
from ape.exceptions import ApeException, ContractLogicError
from rich.console import Console

from navlend.cli.contracts import Navlend
from navlend.cli.checks import fmt, needs_approval
from navlend.cli.errors import Refusal, explain_revert
from navlend.cli.records import Plan, Token, TxStep
from navlend.cli.render import result_renderable

# Tables wider than a default 80-column pipe, so captured output stays whole.
MIN_WIDTH = 120


class Report:
    """What a command shows: ``data`` for ``--json``, ``renderable`` for
    people (by default, a sent command's outcome drawn from ``data``).
    Prints itself in the console."""

    def __init__(self, data: dict[str, Any], renderable: Any = None):
        self.data = data
        self._renderable = renderable

    @property
    def renderable(self) -> Any:
        return result_renderable(self.data) if self._renderable is None else self._renderable

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
        self._console(self.json_mode).print(text, highlight=False)

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
    ):
        self.nl = nl
        self.account = account
        self.network = network or nl.chain.provider.network
        self.out = out or Output()
        self.yes = yes

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

    # ---- sending ----

    def simulate(self, step: TxStep) -> None:
        """``eth_call`` of ``step`` from the account; a revert is a refusal."""
        try:
            step.method.call(*step.args, sender=self.account)
        except ContractLogicError as err:
            raise Refusal(f"{step.label} would revert: {explain_revert(err.message)}") from None
        except ApeException as err:
            raise Refusal(f"{step.label} cannot be simulated: {_one_line(err)}") from None

    def confirm(self, plan: Plan) -> None:
        """Asks before sending on any network but a local one."""
        if self.local or self.yes:
            return
        steps = "\n".join(f"  - {s.label}" for s in plan.steps)
        click.confirm(
            f"{plan.summary}\nsend from {self.address} on {self.network.name}:\n{steps}\nproceed?",
            abort=True,
            err=True,
        )

    def send(self, step: TxStep, sent: list[dict[str, str]]) -> Any:
        try:
            receipt = step.method(*step.args, sender=self.account)
        except ContractLogicError as err:
            raise click.ClickException(
                f"{step.label} reverted: {explain_revert(err.message)}{_after(sent)}"
            ) from None
        except ApeException as err:
            raise click.ClickException(
                f"{step.label} failed: {_one_line(err)}{_after(sent)}"
            ) from None
        if getattr(receipt, "failed", False):
            raise click.ClickException(f"{step.label} failed in {receipt.txn_hash}{_after(sent)}")
        sent.append({"step": step.label, "hash": str(receipt.txn_hash)})
        return receipt

    def execute(self, plan: Plan, **data: Any) -> Report:
        """Runs ``plan`` (see the module's docstring); returns its report."""
        for note in plan.notes:
            self.out.note(f"[yellow]note:[/] {note}")
        main = plan.main
        simulated = False
        if not plan.setup:
            try:
                self.simulate(main[0])
            except Refusal as refusal:
                raise Refusal(f"{refusal.message}: nothing sent") from None
            simulated = True
        self.confirm(plan)
        sent: list[dict[str, str]] = []
        for step in plan.setup:
            self.out.note(f"sending {step.label}")
            self.send(step, sent)
        for i, step in enumerate(main):
            if i or not simulated:
                try:
                    self.simulate(step)
                except Refusal as refusal:
                    raise Refusal(f"{refusal.message}{_after(sent)}") from None
            self.send(step, sent)
        result = {"summary": plan.summary, "account": self.address, **data, "transactions": sent}
        return Report(result)


def _after(sent: list[dict[str, str]]) -> str:
    if not sent:
        return ""
    return f" (already sent: {', '.join(s['step'] for s in sent)})"


def _one_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
