"""The hardware package's data files carry their sources.

The packages-wide rules (no simpy in hardware/ and analysis/, short modules, nothing reads
../shared) are in tests/unit/test_style.py, once for every package.
"""

from pathlib import Path

import pandas as pd
import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hardware"


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
