"""The hardware package's import graph: no cycles, and subpackages depend only downwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from import_graph import first_cycle, import_graph

PACKAGE = Path(__file__).resolve().parents[2] / "hardware"
LAYERS = {"catalog": 0, "models": 1, "timing": 2, "planning": 3, "calibration": 3, "calibrate": 4}
"""Subpackage -> layer: a module may import only from layers below its own (or its own
subpackage). planning and calibration sit side by side and do not import each other;
hardware.calibrate is the public alias of calibration's predict, above it."""


GRAPH = {
    name: imports
    for name, imports in import_graph(PACKAGE).items()  # type-only imports count here too
    if name != "hardware"
}
MODULES = [*GRAPH, "hardware"]


def test_no_import_cycle():
    """No hardware module imports, directly or through others, a module that imports it."""
    cycle = first_cycle(GRAPH, skip=frozenset({"hardware"}))  # __init__ only re-exports
    assert not cycle, f"import cycle: {' -> '.join(cycle)}"


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
