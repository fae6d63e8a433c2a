import ast
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hardware"
MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_never_imports_simpy(path):
    """No hardware module imports simpy (pure at the edges)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(not a.name.startswith("simpy") for a in node.names)
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("simpy")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_is_small_and_standalone(path):
    """Modules stay under ~400 lines and never reach into ../shared at run time."""
    text = path.read_text()
    assert len(text.splitlines()) <= 400
    assert "/shared" not in text and "..\\shared" not in text


def test_importing_hardware_does_not_load_simpy():
    """Importing the package and computing a table leaves simpy unloaded."""
    code = (
        "import sys, hardware; "
        "hardware.service_time_table(['bert-base'], ['inf2.xlarge'], [1]); "
        "assert 'simpy' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)


@pytest.mark.parametrize(
    "name",
    [
        "chips.csv",
        "instances.csv",
        "model_parameters.csv",
        "calibrated_parameters.csv",
        "anchors.csv",
        "neuron_published_calibration.csv",
    ],
)
def test_data_files_carry_sources(name):
    """Every row of every data file names its source."""
    table = pd.read_csv(PACKAGE / "data" / name)
    assert "source" in table.columns
    assert table.source.notna().all()
    assert (table.source.str.strip() != "").all()
