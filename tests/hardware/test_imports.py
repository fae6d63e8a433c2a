"""The hardware package's import graph: no cycles, and subpackages depend only downwards."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hardware"
LAYERS = {"catalog": 0, "models": 1, "timing": 2, "planning": 3, "calibration": 3, "calibrate": 4}
"""Subpackage -> layer: a module may import only from layers below its own (or its own
subpackage). planning and calibration sit side by side and do not import each other;
hardware.calibrate is the public alias of calibration's predict, above it."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """Hardware modules ``name`` imports anywhere in its body (also inside functions)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            targets = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: imports_of(name) for name in MODULES if name != "hardware"}


def test_no_import_cycle():
    """No hardware module imports, directly or through others, a module that imports it."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(GRAPH[node] - {"hardware"}):  # hardware/__init__ only re-exports
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for name in GRAPH:
        if name not in state:
            visit(name)


@pytest.mark.parametrize("name", sorted(n for n in GRAPH if n.count(".") >= 1))
def test_subpackages_depend_only_downwards(name):
    """catalog <- models <- timing <- planning, calibration; nothing imports upwards."""
    layer = LAYERS[name.split(".")[1]]
    for target in GRAPH[name]:
        assert target != "hardware", f"{name} imports the top-level package"
        sub = target.split(".")[1]
        assert sub == name.split(".")[1] or LAYERS[sub] < layer, f"{name} imports {target}"


def test_every_module_imports_on_its_own():
    """Each module imports in a clean hardware namespace (hardware.* purged between imports)."""
    code = (
        "import importlib, sys\n"
        f"names = {sorted(MODULES)!r}\n"
        "for name in names:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'hardware']:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(MODULES)


def test_calibration_entry_point_runs():
    """``python -m hardware.calibration --help`` names its options."""
    result = subprocess.run(
        [sys.executable, "-m", "hardware.calibration", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "--dry-run" in result.stdout and "--no-holdout" in result.stdout
