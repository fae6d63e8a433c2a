"""Architecture and hygiene rules that are cheap to check."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from helpers import ROOT
from import_graph import first_cycle, import_graph

SOURCES = [
    p
    for d in ("sim", "hardware", "analysis")
    for pattern in ("*.py", "*.pyx")
    for p in (ROOT / d).rglob(pattern)
]


def module_name(path) -> str:
    """``hardware/timing/systolic.py`` -> ``hardware.timing.systolic``."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_pure_packages_do_not_import_simpy():
    """Importing every module of hardware/ and analysis/ loads no simpy (the one test of
    this rule: pure at the edges, SimPy only in sim/)."""
    modules = sorted(
        module_name(p)
        for p in SOURCES
        if p.suffix == ".py"
        and p.relative_to(ROOT).parts[0] in ("hardware", "analysis")
        and p.stem != "__main__"
    )
    assert len(modules) > 10
    code = (
        f"import importlib, sys; [importlib.import_module(m) for m in {modules!r}]; "
        "print('simpy' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_no_stdlib_random_or_legacy_numpy_rng():
    """No stdlib random and no legacy global numpy RNG anywhere in the packages."""
    bad = re.compile(
        r"^\s*import random\b|^\s*from random\b|np\.random\.(seed|rand|randn|"
        r"randint|random|choice|RandomState)\(",
        re.M,
    )
    for path in SOURCES:
        assert not bad.search(path.read_text()), path


MAX_MODULE_LINES = 400


def test_every_module_is_short():
    """Every Python module of sim/, hardware/ and analysis/ stays under 400 lines: one
    concept each. (The compiled kernel, sim/engine/_kernel.pyx, is the one exception: it is
    the SimPy model's twin in one file, so that its rules read in the model's order.)"""
    long = {
        str(p.relative_to(ROOT)): n
        for p in SOURCES
        if p.suffix == ".py" and (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long


def test_sim_has_no_import_cycle():
    """No sim module imports, at its top or inside a function, a module that imports it back
    (imports under ``if TYPE_CHECKING:`` never run, so they do not count)."""
    graph = import_graph(ROOT / "sim", type_checking=False)
    assert "sim.policies.coldstart" in graph and graph["sim.scenario.schema"]
    cycle = first_cycle(graph, skip=frozenset({"sim"}))  # sim/__init__ is the public API
    assert not cycle, f"import cycle: {' -> '.join(cycle)}"


def test_cold_start_names_import_first_in_a_fresh_interpreter():
    """sim.policies.coldstart imports first and keeps its names; its config is the schema's."""
    code = (
        "from sim.policies.coldstart import ColdStartConfig, parse_bytes_per_s, BytesPerSecond\n"
        "from sim.policies.coldstart import pool_cold_start, cold_start_s, FAMILY_DEFAULTS\n"
        "import sim.scenario.schema as schema\n"
        "print(ColdStartConfig is schema.ColdStartConfig, parse_bytes_per_s('1GB/s'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "1000000000.0"]


def test_nothing_reads_shared():
    """The project stands alone: no code refers to ../shared."""
    for path in SOURCES:
        assert "../shared" not in path.read_text() and "/shared/" not in path.read_text(), path


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed")
def test_ruff_clean():
    """ruff check passes on the whole repository."""
    result = subprocess.run(["ruff", "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
