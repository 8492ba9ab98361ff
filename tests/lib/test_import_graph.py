"""The shape of the repository's Python imports, read from the sources with
``ast`` (nothing is imported, no chain).

- Imports go one way: ``navlend`` (the library and the people's CLI)
  imports neither ``keepers`` nor ``devkit``; ``keepers`` (the keeper engine
  and its bots) does not import ``devkit``; ``devkit``, ``scripts/`` and
  ``ape_console_extras.py`` may import anything.
- No import cycle among the repository's modules.
- No import inside a function body, except an optional dependency, marked
  ``# optional dependency: <why>`` on its line or the line above. A lazy
  import that only dodges a cycle hides the cycle from the check above.

Every import counts, function-level ones included. ``from pkg import name``
is an import of the module ``pkg.name`` when there is one, else of ``pkg``
(its ``__init__``); importing a package is importing its ``__init__``.

Runs with or without Ape::

    ape test tests/lib -p no:cacheprovider
    python -m pytest tests/lib -p no:ape_test -p no:cacheprovider
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What the checks read: packages, and loose modules of the root.
SOURCES = ("navlend", "keepers", "devkit", "scripts", "ape_console_extras.py")
# A top-level package -> the top-level packages it must not import.
FORBIDDEN = {"navlend": ("keepers", "devkit"), "keepers": ("devkit",)}
OPTIONAL_MARK = "# optional dependency"


@dataclass(frozen=True)
class Import:
    """One import statement's target, where it stands and how."""

    source: str
    # The repository module it reaches, or None for anything outside.
    target: str | None
    # What the statement names, for the failure messages.
    named: str
    path: Path
    line: int
    in_function: bool
    marked_optional: bool

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}"


@dataclass
class ImportGraph:
    """The modules of a tree and every import statement in them."""

    root: Path
    modules: dict[str, Path]
    imports: list[Import] = field(default_factory=list)

    def edges(self) -> dict[str, set[str]]:
        """Module -> the repository modules it imports."""
        graph: dict[str, set[str]] = {name: set() for name in self.modules}
        for imp in self.imports:
            if imp.target is not None:
                graph[imp.source].add(imp.target)
        return graph


def module_name(root: Path, path: Path) -> str:
    """``a/b/c.py`` -> ``a.b.c``; ``a/b/__init__.py`` -> ``a.b``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules(root: Path, sources: Iterable[str]) -> dict[str, Path]:
    """Every ``.py`` file under ``sources`` (folders or files of ``root``)."""
    modules: dict[str, Path] = {}
    for source in sources:
        where = root / source
        files = [where] if where.is_file() else sorted(where.rglob("*.py"))
        for path in files:
            modules[module_name(root, path)] = path
    return modules


def _known(name: str, modules: Mapping[str, Path]) -> str | None:
    """``name`` or its longest prefix that is a repository module."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _absolute_base(source: str, path: Path, node: ast.ImportFrom) -> str:
    """The module a ``from`` import starts from, relative levels resolved."""
    if not node.level:
        return node.module or ""
    package = source.split(".") if path.name == "__init__.py" else source.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, *([node.module] if node.module else [])])


def _statements(tree: ast.AST) -> Iterable[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement, and whether a function body holds it."""
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, in_function = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, in_function
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            stack.append((child, inside))


def build_graph(root: Path, sources: Iterable[str]) -> ImportGraph:
    """Reads every module of ``sources`` under ``root`` into an :class:`ImportGraph`."""
    graph = ImportGraph(root, find_modules(root, sources))
    for source, path in graph.modules.items():
        text = path.read_text()
        lines = text.splitlines()
        for node, in_function in _statements(ast.parse(text, filename=str(path))):
            nearby = lines[max(node.lineno - 2, 0) : node.lineno]
            marked = any(OPTIONAL_MARK in line for line in nearby)
            if isinstance(node, ast.Import):
                named = [alias.name for alias in node.names]
                targets = [_known(name, graph.modules) for name in named]
            else:
                base = _absolute_base(source, path, node)
                named = [f"{base}.{alias.name}" for alias in node.names]
                targets = [
                    full if full in graph.modules else _known(base, graph.modules) for full in named
                ]
            for name, target in zip(named, targets):
                graph.imports.append(Import(source, target, name, path, node.lineno, in_function, marked))
    return graph


def strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of ``graph``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _cycle_through(graph: Mapping[str, set[str]], members: set[str]) -> list[str]:
    """One cycle inside a strongly connected component, as a path that
    ends where it starts (shortest from the component's first module)."""
    start = min(members)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & members):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{sorted(members)} is not strongly connected")


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one (a module
    importing itself included)."""
    return [
        _cycle_through(graph, set(component))
        for component in strongly_connected(graph)
        if len(component) > 1 or component[0] in graph.get(component[0], ())
    ]


def forbidden_imports(graph: ImportGraph, forbidden: Mapping[str, Iterable[str]]) -> list[str]:
    """``file:line → module`` of every import against the direction."""
    found = []
    for imp in graph.imports:
        layer = imp.source.split(".")[0]
        if imp.target is not None and imp.target.split(".")[0] in forbidden.get(layer, ()):
            found.append(f"{imp.where(graph.root)} → {imp.target}")
    return found


def unmarked_function_imports(graph: ImportGraph) -> list[str]:
    """``file:line → name`` of every function-level import not marked
    as an optional dependency."""
    return sorted(
        {f"{imp.where(graph.root)} → {imp.named}" for imp in graph.imports if imp.in_function and not imp.marked_optional}
    )


# ---- the repository


def test_imports__go_one_way__navlend_then_keepers_then_devkit():
    found = forbidden_imports(build_graph(ROOT, SOURCES), FORBIDDEN)
    assert not found, "imports against the direction navlend <- keepers <- devkit:\n" + "\n".join(found)


def test_imports__no_cycle_between_modules():
    cycles = find_cycles(build_graph(ROOT, SOURCES).edges())
    assert not cycles, "import cycles:\n" + "\n".join(" → ".join(cycle) for cycle in cycles)


def test_imports__only_optional_dependencies_inside_functions():
    found = unmarked_function_imports(build_graph(ROOT, SOURCES))
    assert not found, (
        f"function-level imports without '{OPTIONAL_MARK}: <why>' on their line or the one above:\n"
        + "\n".join(found)
    )


# ---- the checker itself, on a tiny tree


def _tree(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_checker__a_cycle_through_a_function_level_import__found_and_printed(tmp_path):
    root = _tree(
        tmp_path,
        {
            "lib/__init__.py": "",
            "lib/a.py": "from lib import b\n",
            "lib/b.py": "import json\n\n\ndef late():\n    from .c import VALUE\n    return VALUE\n",
            "lib/c.py": "from lib.a import b\nVALUE = 1\n",
        },
    )
    graph = build_graph(root, ["lib"])

    assert find_cycles(graph.edges()) == [["lib.a", "lib.b", "lib.c", "lib.a"]]
    assert unmarked_function_imports(graph) == ["lib/b.py:5 → lib.c.VALUE"]


def test_checker__an_acyclic_tree__passes_and_resolves_names(tmp_path):
    root = _tree(
        tmp_path,
        {
            "lib/__init__.py": "HELPER = 1\n",
            "lib/a.py": "from lib import HELPER, b\n",
            "lib/b.py": "def f():\n    # optional dependency: not installed everywhere\n    import numpy\n",
            "app/main.py": "import lib.a\n",
        },
    )
    graph = build_graph(root, ["lib", "app"])

    assert graph.edges() == {"lib": set(), "lib.a": {"lib", "lib.b"}, "lib.b": set(), "app.main": {"lib.a"}}
    assert find_cycles(graph.edges()) == []
    assert unmarked_function_imports(graph) == []
    assert forbidden_imports(graph, {"lib": ("app",)}) == []
    assert forbidden_imports(graph, {"app": ("lib",)}) == ["app/main.py:1 → lib.a"]
