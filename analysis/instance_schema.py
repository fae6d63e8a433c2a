"""The schema of ``instances.parquet``, in one place: one row per instance lifetime (times in s).

Written beside ``requests.parquet`` when the fleet changes during a run (issue 15); read by
``analysis.billing``. An instance is *requested* (billed from then), *ready* once its cold
start is over (serving from then), and *terminated* for one of ``REASONS``. ``ready_s`` is NaN
for an instance terminated before it was ever ready. ``usd_per_hour`` is the price the
instance is billed at (on-demand or spot), so that a file prices itself.
"""

from __future__ import annotations

import pyarrow as pa

LIFECYCLES = ("on_demand", "spot")
"""Purchase options: billed at the pool's on-demand price or at its spot price."""

REASONS = ("scale_out", "scale_in", "failure", "spot_interruption", "zone_outage", "end")
"""Why a lifetime ended; ``end`` is the end of the run (the instance was still up)."""

COLUMNS = (
    "pool",
    "instance_id",
    "zone",
    "lifecycle",
    "requested_s",
    "ready_s",
    "terminated_s",
    "reason",
    "usd_per_hour",
)

CATEGORIES = ("pool", "zone", "lifecycle", "reason")
"""Dictionary-encoded columns (categoricals in pandas)."""

_CATEGORY = pa.dictionary(pa.int32(), pa.string())
SCHEMA = pa.schema(
    [
        ("pool", _CATEGORY),
        ("instance_id", pa.int32()),
        ("zone", _CATEGORY),  # null when the pool names no zone
        ("lifecycle", _CATEGORY),
        ("requested_s", pa.float64()),
        ("ready_s", pa.float64()),  # NaN: never ready
        ("terminated_s", pa.float64()),
        ("reason", _CATEGORY),
        ("usd_per_hour", pa.float64()),
    ]
)
