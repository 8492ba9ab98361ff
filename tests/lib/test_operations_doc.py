"""docs/operations.md (the issuer-action runbook) backs each statement
with a named test: every test it names must exist, and every test written
for it must be named in it, so that the runbook and its tests cannot
drift apart."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "operations.md"
# The runbook's own test modules.
RUNBOOK_TESTS = ("tests/world/test_operations_superstate.py", "tests/world/test_operations_ondo.py")

_CITED = re.compile(r"`(test_[A-Za-z0-9_]+)`")
_DEFINED = re.compile(r"^def (test_[A-Za-z0-9_]+)\(", re.MULTILINE)


def cited() -> set[str]:
    """The test names the runbook cites (backquoted, ``test_`` first)."""
    return set(_CITED.findall(RUNBOOK.read_text()))


def defined(paths) -> set[str]:
    """The test functions defined in ``paths``."""
    return {name for path in paths for name in _DEFINED.findall(Path(path).read_text())}


def test_runbook__every_cited_test__exists():
    tests = defined((ROOT / "tests").rglob("test_*.py"))
    missing = sorted(cited() - tests)
    assert not missing, f"docs/operations.md cites tests that do not exist: {missing}"


def test_runbook__every_runbook_test__is_cited():
    uncited = sorted(defined(ROOT / p for p in RUNBOOK_TESTS) - cited())
    assert not uncited, f"tests of the runbook that docs/operations.md does not cite: {uncited}"


def test_runbook__cites_tests_in_every_section():
    """Each numbered section names at least one test."""
    sections = re.split(r"^## ", RUNBOOK.read_text(), flags=re.MULTILINE)[1:]
    numbered = [s for s in sections if s[:1].isdigit()]
    assert len(numbered) == 6
    assert all(_CITED.search(section) for section in numbered)


def test_cited__a_backquoted_name__found_and_a_plain_word_ignored():
    """The citation pattern: a backquoted ``test_`` name is a citation;
    prose mentioning tests is not."""
    text = "(test: `test_a__b__c`) and (tests: `test_d`, `test_e`); the test_f word; `other`"
    assert set(_CITED.findall(text)) == {"test_a__b__c", "test_d", "test_e"}
