"""``keepers/runner.py`` logs through structlog, bound to the task's name
and the block (it used Ape's logger with formatted strings)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace

import structlog
from structlog.testing import capture_logs

import keepers.runner as runner_module
from keepers.runner import ResilientPollingRunner


class _Eth:
    def __init__(self, answers: list) -> None:
        self.answers = answers

    @property
    def block_number(self) -> int:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class _Runner(ResilientPollingRunner):
    provider = None  # a plain attribute here, not Ape's class property

    def __init__(self, answers: list) -> None:
        self.provider = SimpleNamespace(web3=SimpleNamespace(eth=_Eth(answers)))
        self.shutdown_event = asyncio.Event()


async def _first_heads(runner: _Runner, count: int) -> list[int]:
    out = []
    async for number in runner._heads("scan"):
        out.append(number)
        if len(out) == count:
            break
    return out


def test_runner__rpc_error_while_polling__structlog_warning_with_task(monkeypatch):
    monkeypatch.setattr(runner_module, "POLL_SECONDS", 0.001)
    monkeypatch.setattr(runner_module, "MAX_BACKOFF", 0.002)
    runner = _Runner([ConnectionError("node restarting"), 41, 42])
    with capture_logs() as logs:
        heads = asyncio.run(_first_heads(runner, 2))
    assert heads == [41, 42]
    assert [(e["log_level"], e["event"], e["task"], e["error_type"]) for e in logs] == [
        ("warning", "RPC error while polling; retrying", "scan", "ConnectionError")]


def test_runner__no_rpc_error__nothing_logged(monkeypatch):
    monkeypatch.setattr(runner_module, "POLL_SECONDS", 0.001)
    with capture_logs() as logs:
        heads = asyncio.run(_first_heads(_Runner([7, 8]), 2))
    assert heads == [7, 8] and logs == []


def test_runner__task_fails_outside_handler__logged_with_block(monkeypatch):
    runner = _Runner([])

    async def broken(task_data, *args):
        raise ConnectionError("broker away")

    runner.run_task = broken  # type: ignore[method-assign]
    with capture_logs() as logs:
        asyncio.run(runner._guarded(SimpleNamespace(name="scan"), SimpleNamespace(number=12)))
    assert [(e["event"], e["task"], e["block"]) for e in logs] == [("task not run", "scan", 12)]


# The command-line tools print what they are asked for (the effective
# configuration, the launch command): their output is the product, not a log.
COMMAND_LINE = {"configcli.py", "run.py"}


def test_keepers_modules__no_ape_logger_and_no_print():
    root = Path(runner_module.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if "ape.logging" in p.read_text()
                 or (p.name not in COMMAND_LINE and ("\nprint(" in p.read_text() or " print(" in p.read_text()))]
    assert offenders == []
