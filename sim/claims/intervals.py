"""The 95% interval of a figure across replications: ``analysis.replication_interval``.

The claims table and ``fleetsim report`` compute intervals one way (Student t over
replications); this adapter leaves out replications without a value (a fleet that failed a
replication is reported on those it has) and returns plain numbers for the table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from analysis import replication_interval as analysis_interval


def replication_interval(
    values: Sequence[float], confidence: float = 0.95
) -> tuple[float, float, float, str, int]:
    """Mean and Student-t interval of independent replications' values.

    Args:
        values: One value per replication (NaN values are left out).
        confidence: The interval's coverage.

    Returns:
        (estimate, low, high, method, n); with one value the interval is NaN, with none the
        estimate too.

    """
    kept = [float(v) for v in values if not math.isnan(float(v))]
    if not kept:
        return math.nan, math.nan, math.nan, "replications (0)", 0
    interval = analysis_interval(kept, confidence)
    method = interval.method if len(kept) > 1 else f"{interval.method}: no interval"
    return interval.estimate, interval.low, interval.high, method, interval.n
