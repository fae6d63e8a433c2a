"""The 95% interval of a figure across replications (Student t).

A thin seam over the interval the analysis package defines (``analysis.intervals``), so the
claims table and ``fleetsim report`` compute intervals one way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats


def replication_interval(
    values: Sequence[float], confidence: float = 0.95
) -> tuple[float, float, float, str, int]:
    """Mean and Student-t interval of independent replications' values.

    Args:
        values: One value per replication (NaN values are left out).
        confidence: The interval's coverage.

    Returns:
        (estimate, low, high, method, n); with one value the interval is NaN.

    """
    kept = [float(v) for v in values if not math.isnan(float(v))]
    n = len(kept)
    if n == 0:
        return math.nan, math.nan, math.nan, "replications (0)", 0
    mean = sum(kept) / n
    if n == 1:
        return mean, math.nan, math.nan, "replications (1): no interval", 1
    sd = math.sqrt(sum((v - mean) ** 2 for v in kept) / (n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half, f"replications ({n})", n
