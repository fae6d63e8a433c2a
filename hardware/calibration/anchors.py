"""Published service-time anchors and the model's predictions for them.

``hardware/data/anchors.csv`` holds published measurements converted to the service time of one
batch on one NeuronCore (the conversion is in each row's ``derivation``). ``check`` says how a
row is compared:

* ``absolute``: predicted / published - 1 must lie within :data:`TOLERANCE`.
* ``shape``: the ratio to the same sweep's seq-128 point is compared instead (used where a
  sweep's absolute level conflicts with the Neuron benchmark at the same shape).
* ``report``: shown, not checked (conflicting data, see ``derivation``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from io import StringIO

import numpy as np
import pandas as pd

from hardware.timing.service_times import service_time

TOLERANCE = 0.30
"""Largest accepted relative error of a checked anchor."""


@lru_cache(maxsize=1)
def _anchors_csv() -> str:
    path = resources.files("hardware").joinpath("data").joinpath("anchors.csv")
    return path.read_text(encoding="utf-8")


def load_anchors() -> pd.DataFrame:
    """Read the anchor table.

    Returns:
        One row per anchor; ``published_s`` is seconds per batch on one core.

    """
    return pd.read_csv(StringIO(_anchors_csv()))


def anchor_comparison() -> pd.DataFrame:
    """Predicted vs published service time for every anchor.

    Returns:
        The anchor table plus ``predicted_s``, ``error`` (predicted/published - 1, or the
        ratio-to-seq-128 error for ``shape`` rows) and ``ok`` (within :data:`TOLERANCE`;
        always True for ``report`` rows).

    """
    table = load_anchors()
    table["predicted_s"] = [
        service_time(r.model, r.instance, r.batch_size, r.seq_len, r.dtype, r.cores)
        for r in table.itertuples()
    ]
    error = table.predicted_s / table.published_s - 1.0
    for _, rows in table[table.check == "shape"].groupby("group"):
        ref = table[(table.group == rows.group.iloc[0]) & (table.seq_len == 128)].iloc[0]
        published = rows.published_s / ref.published_s
        predicted = rows.predicted_s / ref.predicted_s
        error[rows.index] = predicted / published - 1.0
    table["error"] = error
    table["ok"] = (table.check == "report") | (np.abs(error) <= TOLERANCE)
    return table


def summary() -> pd.DataFrame:
    """Compact anchor comparison in milliseconds, for printing and docs.

    Returns:
        Columns ``anchor, check, published_ms, predicted_ms, error_pct``.

    """
    table = anchor_comparison()
    return pd.DataFrame(
        {
            "anchor": table.anchor,
            "check": table.check,
            "published_ms": table.published_s * 1e3,
            "predicted_ms": table.predicted_s * 1e3,
            "error_pct": table.error * 100.0,
        }
    )


if __name__ == "__main__":
    from hardware.timing.service_times import HARDWARE_MODEL_VERSION

    with pd.option_context("display.width", 160, "display.max_rows", 200):
        print(f"hardware model {HARDWARE_MODEL_VERSION}: predicted vs published service time")
        print(summary().to_string(index=False, float_format=lambda x: f"{x:.2f}"))
