"""The layer rules of docs/architecture.md, checked on the source: no import cycles (counting imports inside
functions too), and no lower layer importing a higher one."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sirenkit"


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports() -> dict[str, set[str]]:
    """{module: sirenkit modules it imports anywhere in its body}, except imports only for type checkers."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = {id(n) for node in tree.body if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for n in ast.walk(node)}
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    edges.add(target if target in modules else base)
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


GRAPH = _imports()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycles():
    assert _cycles(GRAPH) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _below(prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in GRAPH if m.startswith(prefixes)]


@pytest.mark.parametrize("lower, higher", [
    (("sirenkit.tasks", "sirenkit.export", "sirenkit.compression", "sirenkit.runs", "sirenkit.train",
      "sirenkit.models", "sirenkit.diff", "sirenkit.io", "sirenkit.geometry", "sirenkit.pde", "sirenkit.meta",
      "sirenkit.rendering", "sirenkit.bench"),
     ("sirenkit.runner", "sirenkit.cli", "sirenkit.commands")),
    # the runner and the reproduction harness (fits in memory with the runner's option handling) orchestrate
    # tasks; the command line sits above both
    (("sirenkit.runner", "sirenkit.reproduce"), ("sirenkit.cli", "sirenkit.commands")),
    (("sirenkit.runs", "sirenkit.models", "sirenkit.diff", "sirenkit.io", "sirenkit.geometry", "sirenkit.pde",
      "sirenkit.meta"), ("sirenkit.tasks",)),
    (("sirenkit.models", "sirenkit.diff", "sirenkit.io", "sirenkit.geometry"), ("sirenkit.train", "sirenkit.runs")),
])
def test_lower_layers_never_import_higher_ones(lower, higher):
    upward = sorted(f"{m} -> {t}" for m in _below(lower) for t in GRAPH[m] if t.startswith(higher))
    assert upward == []


def test_nothing_below_the_api_imports_the_package_root():
    """The package's __init__ imports the public API (the runner, every task): a module below it that imported
    `sirenkit` itself (for __version__, say) would close a cycle through everything."""
    assert sorted(m for m, targets in GRAPH.items() if "sirenkit" in targets and m != "sirenkit.__main__") == []


def test_run_options_offer_the_recipes_config_files_may_name():
    from sirenkit.runner import RunOptions
    from sirenkit.runs.files import RECIPES

    hints = typing.get_type_hints(RunOptions)
    assert typing.get_args(hints["recipe"]) == RECIPES
