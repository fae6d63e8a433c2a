"""Architecture and hygiene rules that are cheap to check."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from helpers import ROOT

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
    import sys

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


def test_nothing_reads_shared():
    """The project stands alone: no code refers to ../shared."""
    for path in SOURCES:
        assert "../shared" not in path.read_text() and "/shared/" not in path.read_text(), path


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed")
def test_ruff_clean():
    """ruff check passes on the whole repository."""
    result = subprocess.run(["ruff", "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
