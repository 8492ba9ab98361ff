"""AUDIT.md names the tests that check each invariant and each exploit
class (section 3), with the command that runs one alone: every file and
test it cites must exist, every invariant must have its test, and every
regression file must be mapped to its class, so the map cannot rot when a
test is renamed, moved or added. docs/exploit-classes.md is held to the
same: the files it cites exist and it maps every regression file."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AUDIT = ROOT / "AUDIT.md"
CLASSES = ROOT / "docs" / "exploit-classes.md"

# A path inside the repository, optionally with a test: `tests/x/test_y.py::test_z`.
_CITED = re.compile(r"(?<![\w/.-])((?:tests|docs|navlend|devkit|contracts|keepers)/[\w./-]*\w)(?:::(\w+))?")
_ROW = re.compile(r"^\|\s*(\d+)\s*\|", re.MULTILINE)


def cited(text: str) -> set[tuple[str, str | None]]:
    """Every (path, test name or None) the text cites."""
    return {(path, test or None) for path, test in _CITED.findall(text)}


def section(text: str, heading: str) -> str:
    """The text of ``## <heading>...`` up to the next ``## `` heading."""
    start = text.index(f"\n## {heading}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def subsection(text: str, heading: str) -> str:
    """The text under ``### <heading>`` up to the next heading of any level."""
    start = text.index(f"\n### {heading}")
    end = re.compile(r"\n##+ ").search(text, start + 1)
    return text[start : end.start() if end else len(text)]


def defined_tests(path: Path) -> set[str]:
    """Names of the test functions a file defines (module level or in a class)."""
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def missing(citations: set[tuple[str, str | None]]) -> list[str]:
    """The citations that point at nothing in the repository."""
    gone = []
    for path, test in sorted(citations, key=lambda c: (c[0], c[1] or "")):
        target = ROOT / path
        if not target.exists():
            gone.append(path)
        elif test is not None and test not in defined_tests(target):
            gone.append(f"{path}::{test}")
    return gone


def regression_files() -> set[str]:
    return {f"tests/regression/{p.name}" for p in (ROOT / "tests" / "regression").glob("test_*.py")}


def test_audit__every_cited_file_and_test__exists():
    citations = cited(AUDIT.read_text())
    assert sum(1 for _, test in citations if test) >= 20
    assert not missing(citations), f"AUDIT.md cites what does not exist: {missing(citations)}"


def test_audit__every_invariant__has_a_test_and_a_command():
    invariants = section(AUDIT.read_text(), "3. Invariants")
    table = invariants[: invariants.index("\n### ")]
    numbers = set(_ROW.findall(table))
    assert numbers == {str(n) for n in range(1, len(numbers) + 1)} and len(numbers) >= 20
    one_test = subsection(invariants, "One invariant, one test")
    rows = {number: line for line in one_test.splitlines() for number in _ROW.findall(line)}
    assert set(rows) == numbers
    for number, row in rows.items():
        command = row.rstrip(" |").rsplit("|", 1)[1]
        assert "pytest" in command or "ape test" in command, f"invariant {number}: no command"
        assert cited(command), f"invariant {number}: its command names no test file"


def test_audit__every_regression_file__mapped_to_its_class():
    classes = subsection(section(AUDIT.read_text(), "3. Invariants"), "Exploit classes")
    mapped = {path for path, _ in cited(classes)}
    assert not regression_files() - mapped, f"unmapped: {sorted(regression_files() - mapped)}"
    assert "docs/exploit-classes.md" in mapped


def test_exploit_classes__cited_files_exist_and_every_regression_file_mapped():
    citations = cited(CLASSES.read_text())
    assert not missing(citations), f"docs/exploit-classes.md cites what does not exist: {missing(citations)}"
    mapped = {path for path, _ in citations}
    assert not regression_files() - mapped, f"unmapped: {sorted(regression_files() - mapped)}"


def test_audit__no_research_file_outside_the_repository():
    text = AUDIT.read_text()
    assert "lending-anchors" not in text and "shared/reference" not in text


def test_cited__path_test_and_trailing_punctuation__parsed():
    text = (
        "see `tests/x/test_y.py::test_z`, and tests/a/b.py. Or docs/c.md; not ~/.cache/navlend/"
        " nor https://github.com/o/r/blob/main/docs/d.md"
    )
    assert cited(text) == {("tests/x/test_y.py", "test_z"), ("tests/a/b.py", None), ("docs/c.md", None)}


def test_missing__unknown_file_and_test__reported():
    here = "tests/lib/test_audit_doc.py"
    assert missing({(here, "test_missing__unknown_file_and_test__reported")}) == []
    assert missing({(here, "test_nothing"), ("tests/none.py", None)}) == [f"{here}::test_nothing", "tests/none.py"]
