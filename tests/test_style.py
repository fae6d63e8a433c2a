"""Architecture and hygiene rules that are cheap to check."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for d in ("sim", "hardware", "analysis") for p in (ROOT / d).rglob("*.py")]


def test_pure_packages_do_not_import_simpy():
    """hardware/ and analysis/ never import simpy."""
    for path in SOURCES:
        if path.parts[-2] in ("hardware", "analysis") or "hardware" in path.parts:
            assert not re.search(r"^\s*(import|from)\s+simpy", path.read_text(), re.M), path


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
