"""Architecture and hygiene rules that are cheap to check."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    p
    for d in ("sim", "hardware", "analysis")
    for pattern in ("*.py", "*.pyx")
    for p in (ROOT / d).rglob(pattern)
]


def test_pure_packages_do_not_import_simpy():
    """Importing every module of hardware/ and analysis/ loads no simpy."""
    import sys

    modules = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in SOURCES
        if p.relative_to(ROOT).parts[0] in ("hardware", "analysis") and p.stem != "__main__"
    ]
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


def test_nothing_reads_shared():
    """The project stands alone: no code refers to ../shared."""
    for path in SOURCES:
        assert "../shared" not in path.read_text() and "/shared/" not in path.read_text(), path


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed")
def test_ruff_clean():
    """ruff check passes on the whole repository."""
    result = subprocess.run(["ruff", "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
