"""The packages import only downward: ``pgm`` (what a model is) imports none of ``inference``,
``evaluation``, ``pgm_cli``; ``inference`` none of ``evaluation``, ``pgm_cli``; ``evaluation``
not ``pgm_cli``; and no module imports itself through a circle of others. Read from the source
with :mod:`ast` (every import statement, also those inside functions), nothing imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: each package, and the packages above it, which it must not import
LAYERS = {
    "pgm": ("inference", "evaluation", "pgm_cli"),
    "inference": ("evaluation", "pgm_cli"),
    "evaluation": ("pgm_cli",),
    "pgm_cli": (),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, modules: set[str]) -> set[str]:
    """The project's modules ``path`` imports: ``from a import b`` is ``a.b`` where that is a
    module, else ``a``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            stem = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                found.add(f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in modules else stem)
    return found & modules


def import_graph() -> dict[str, set[str]]:
    """module -> the project's modules it imports."""
    paths = {module_name(p): p for top in LAYERS for p in (REPO / top).rglob("*.py")}
    return {name: imported(path, set(paths)) - {name} for name, path in paths.items()}


def test_the_graph_sees_the_packages():
    graph = import_graph()
    assert {"pgm", "inference.trainer", "evaluation.compare", "pgm_cli.main"} <= graph.keys()
    assert "pgm_cli.options" in graph["pgm_cli.commands.evaluate"]


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_nothing_above_it(layer):
    above = LAYERS[layer]
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if module.split(".")[0] == layer
        for target in targets
        if target.split(".")[0] in above
    )
    assert not wrong, wrong


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_circles_are_found():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


#: circles still tolerated, each one sorted as :func:`circles` gives it (issue 21 removed the
#: report's, the registry's, the data package's and the trainer's); an entry goes when its circle
#: does, and the test fails on a listed circle that no longer occurs, so the list cannot drift
KNOWN_CIRCLES: list[list[str]] = []


def test_no_import_circles():
    found = circles(import_graph())
    new = [c for c in found if c not in KNOWN_CIRCLES]
    stale = [c for c in KNOWN_CIRCLES if c not in found]
    assert not new, f"import circles: {new}"
    assert not stale, f"KNOWN_CIRCLES lists circles that no longer occur (remove them): {stale}"
