"""Every command's ``--help`` says what it does, in which units, with an
example, and describes every option (``--account`` included)."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import load_script

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
# The people's commands (the deploy, demo and benchmark scripts are the
# operators' and developers', documented in docs/ and the README).
PEOPLE = sorted(
    p.stem for p in SCRIPTS.glob("*.py") if "common_options" in p.read_text() or "view_options" in p.read_text()
)


def help_text(script: str, *sub: str) -> str:
    result = CliRunner().invoke(load_script(script), [*sub, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("script", [s for s in PEOPLE if s != "admin"])
def test_help__every_command__units_and_an_example(script):
    text = help_text(script)
    assert "Examples:" in text and f"ape run {script}" in text, text
    assert any(unit in text for unit in ("units", "shares", "fractions", "JSON", "durations")), text
    assert "The signing account" in text


@pytest.mark.parametrize("script", [s for s in PEOPLE if s != "admin"])
def test_help__every_option_described(script):
    command = load_script(script)
    for param in command.params:
        if param.param_type_name == "option" and param.name not in ("verbosity",):
            assert param.help, (script, param.name)


def test_help__sending_commands__offer_dry_run_and_warn_below():
    for script in ("lend", "withdraw", "deposit", "withdraw_collateral", "borrow", "repay", "leverage", "unwind"):
        text = help_text(script)
        assert "--dry-run" in text and "--warn-below" in text, script


def test_readme_exit_codes__match_the_tools():
    """The README's exit-code table says what navlend/cli/errors.py does."""
    import re

    from navlend.cli import errors

    readme = (SCRIPTS.parent / "README.md").read_text()
    rows = dict(re.findall(r"^\| (\d) \| `(\w+)` \|", readme, re.M))
    classes = [errors.CliError, errors.BadInput, errors.Refusal, errors.Reverted, errors.RpcFailure]
    assert rows == {str(c.exit_code): c.code for c in classes}
