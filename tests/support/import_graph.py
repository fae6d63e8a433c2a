"""A package's import graph read from its source, and the first cycle in it (for tests)."""

from __future__ import annotations

import ast
from pathlib import Path


def module_name(path: Path, root: Path) -> str:
    """``root/hardware/timing/systolic.py`` -> ``hardware.timing.systolic``."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _import_nodes(tree: ast.AST, type_checking: bool) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            if type_checking or not _type_checking_only(child):
                todo.append(child)
    return found


def import_graph(package: Path, *, type_checking: bool = True) -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere (also inside functions).

    Args:
        package: The package's directory (its parent is the import root).
        type_checking: Count imports under ``if TYPE_CHECKING:`` (type-only: they never run).

    """
    root = package.parent
    modules = {module_name(p, root): p for p in sorted(package.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        base_package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in _import_nodes(ast.parse(path.read_text()), type_checking):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = base_package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1])
                    base = f"{base}.{node.module}" if node.module else base
                targets = [f"{base}.{a.name}" for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    found.add(target)
        graph[name] = found
    return graph


def first_cycle(graph: dict[str, set[str]], skip: frozenset[str] = frozenset()) -> list[str]:
    """The first import cycle found (``[a, b, ..., a]``), or ``[]`` if there is none.

    Args:
        graph: Module -> modules it imports.
        skip: Modules not followed (a package ``__init__`` that only re-exports).

    """
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node] - skip):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for name in graph:
        if name not in state and name not in skip and (cycle := visit(name)):
            return cycle
    return []
