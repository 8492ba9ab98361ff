"""README.md's quick start ("## A borrower's console session"), run as a
newcomer pastes it: its ```bash lines, in order, in one bash process
(``bash -e``: the first line that fails stops it and is named), from the
repository root, with a PATH that holds no virtualenv (the section's own
``source .venv/bin/activate`` must provide ape and anvil); then its
console lines (the ```ipython block) typed into ``ape console``.

Only two things differ from a paste: the node listens on a free port
instead of 8545 (a developer's node may hold 8545), and the deployments
file goes to a temporary directory (``NAVLEND_DEPLOYMENTS_DIR``), so a
developer's ``deployments/local.json`` is never overwritten. The node the
section starts is stopped at the end, by its process id.

Checked: every line exits 0; the market then holds the lender's 250,000
USDC; the console prints the refusal the README shows, raises nothing
(users had seen a ``TypeError``), and leaves the borrower with no debt and
no collateral (the session repays and withdraws everything)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from navlend.deployments import DEPLOYMENTS_DIR_ENV

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## A borrower's console session"
README_PORT = "8545"
# A shell as a fresh login has it: no virtualenv on PATH.
BARE_PATH = "/usr/local/bin:/usr/bin:/bin"
_PROMPT = re.compile(r"^In \[\d+\]: ?")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RAISED = re.compile(r"\b[A-Z]\w*(?:Error|Exception)\b|Traceback")


@dataclass(frozen=True)
class QuickStart:
    """The section's shell lines, console inputs and the console output it
    shows (lines of the console block without a prompt)."""

    shell: list[str]
    console: list[str]
    shown: list[str]


def fenced(text: str, language: str) -> list[str]:
    """The lines of the first ```<language> block of ``text``."""
    match = re.search(rf"^```{language}\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)
    assert match, f"no ```{language} block"
    return [line for line in match.group(1).splitlines() if line.strip()]


def quick_start(readme: str) -> QuickStart:
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + 1)
    section = readme[start : end if end != -1 else len(readme)]
    console = fenced(section, "ipython")
    return QuickStart(
        shell=fenced(section, "bash"),
        console=[_PROMPT.sub("", line) for line in console if _PROMPT.match(line)],
        shown=[line for line in console if not _PROMPT.match(line)],
    )


def script(qs: QuickStart, port: int) -> str:
    """The bash script: the section's lines on ``port``, the node's process
    id recorded, the console fed from a file, and the market's state saved
    as JSON before the console session and the borrower's after it."""
    out = ["trap 'echo \"quickstart: failed: $BASH_COMMAND\" >&2' ERR"]
    for line in qs.shell:
        line = line.replace(README_PORT, str(port))
        if line.startswith("ape console"):
            out.append('ape run market --json > "$QS_DIR/market.json"')
            line += ' < "$QS_DIR/console.in"'
        out.append(line)
        if line.startswith("anvil "):
            out.append('echo $! > "$QS_DIR/anvil.pid"')
    out.append('ape run position --account TEST::4 --json > "$QS_DIR/borrower.json"')
    return "\n".join(out) + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bare_environment(work: Path) -> dict[str, str]:
    """This process's environment without a virtualenv, a node or a
    deployments directory of its own, as a new shell would have it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("APE_", "PYTEST_", "NAVLEND_")) and key not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    return {**env, "PATH": BARE_PATH, DEPLOYMENTS_DIR_ENV: str(work), "QS_DIR": str(work)}


def stop(pid_file: Path) -> None:
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except ProcessLookupError:
            pass  # the node already exited (a failed line ends the script): nothing to stop


def flat(text: str) -> str:
    return " ".join(_ANSI.sub("", text).split())


def test_quick_start__readme_section__shell_and_console_lines_found():
    qs = quick_start(README.read_text())
    assert qs.shell[0].startswith("source .venv/bin/activate")
    assert any(line.startswith("anvil ") and line.rstrip().split("#")[0].strip().endswith("&") for line in qs.shell)
    assert qs.shell[-1].startswith("ape console")
    assert qs.console[0] == "borrower = accounts.test_accounts[4]"
    assert any(line.startswith("position(borrower)") for line in qs.console)
    assert qs.shown and all(line.startswith("refused:") for line in qs.shown)


def test_quick_start__pasted_line_by_line__every_line_succeeds_and_the_console_session_runs(tmp_path):
    qs = quick_start(README.read_text())
    (tmp_path / "quickstart.sh").write_text(script(qs, free_port()))
    (tmp_path / "console.in").write_text("\n".join([*qs.console, "exit"]) + "\n")
    # Output to files, not pipes: the node the script leaves running holds
    # them open, and a pipe would not end until it stops.
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    try:
        with out.open("w") as stdout, err.open("w") as stderr:
            result = subprocess.run(
                ["bash", "-e", str(tmp_path / "quickstart.sh")],
                cwd=ROOT,
                env=bare_environment(tmp_path),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                timeout=900,
            )
    finally:
        stop(tmp_path / "anvil.pid")
    assert result.returncode == 0, err.read_text()[-3000:]
    assert (tmp_path / "local.json").exists()  # the deployment went to the temporary directory

    market = json.loads((tmp_path / "market.json").read_text())
    figures = (market["total_assets"], market["cash"], market["total_borrows"])
    assert [f["value"] for f in figures] == ["250000.00", "250000.00", "0.00"]

    console = flat(out.read_text())
    assert not _RAISED.search(console), console[-3000:]
    for line in qs.shown:
        assert flat(line) in console
    assert "health factor 1.575" in console and "2,925.00" in console

    borrower = json.loads((tmp_path / "borrower.json").read_text())["borrowed"]
    assert (borrower["debt"]["raw"], borrower["collateral"]) == ("0", [])
