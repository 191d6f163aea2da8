"""The package's layers: core imports nothing above it, the queue and the TUI only core (the TUI also the
queue it sends to), the simulator nothing of poolimport; the CLI is the composition root. And no two
modules import each other, directly or round a longer circle, even inside a function."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import poolimport

ROOT = Path(poolimport.__file__).parent
# package -> the poolimport packages it may import
ALLOWED = {
    "core": {"core"},
    "queue": {"core", "queue"},
    "tui": {"core", "queue", "tui"},
    "sim": {"sim"},
    "cli": {"core", "queue", "tui", "sim", "cli"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> Iterator[str]:
    """Every poolimport module `path` imports, at the top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("poolimport"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("poolimport"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                exists = (ROOT.parent / candidate.replace(".", "/")).with_suffix(".py").exists()
                yield candidate if exists else node.module


def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in ROOT.rglob("*.py") if "migrations" not in path.parts}
    return {name: set(imported(path)) - {name} for name, path in modules.items()}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_the_layers_below_it(package: str) -> None:
    strays = sorted(
        f"{name} imports {target}"
        for name, targets in graph().items()
        if name.split(".")[1:2] == [package]
        for target in targets
        if target.split(".")[1] not in ALLOWED[package]
    )
    assert strays == []


def test_no_module_imports_round_a_circle() -> None:
    edges = graph()
    # A package's __init__ re-exports its modules: an edge into it is an edge into the package's API,
    # not part of a circle of modules.
    packages = {name for name in edges if (ROOT.parent / name.replace(".", "/") / "__init__.py").exists()}
    modules = {
        name: {t for t in targets if t in edges and t not in packages} for name, targets in edges.items()
    }
    assert [sorted(group) for group in strongly_connected(modules) if len(group) > 1] == []


def strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the groups of modules that can each reach the others."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for target in edges[name]:
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == name:
                    break
            groups.append(group)

    for name in sorted(edges):
        if name not in index:
            visit(name)
    return groups
