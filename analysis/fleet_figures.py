"""The summary's fleet figures, from a run's instance lifetimes (``instances.parquet``).

Added to every summary (window [warmup, duration), times in s, money in USD):

* ``instance_hours`` - billed instance-time in the window / 3600;
* ``fleet_size_mean`` / ``fleet_size_peak`` - billed instances, time-averaged and at most;
* ``billed_cost_usd`` (+ ``_on_demand_`` / ``_spot_``) - EC2 billing of whole lifetimes:
  per second, 60 s minimum (``analysis.billing``);
* ``availability`` - share of instance-time in service (``analysis.billing``);
* ``fleet_changed`` - whether any instance was added, drained, failed, restored or
  terminated during the run.

When the fleet changed during the run (an instance was added, drained, failed, restored
or terminated), the figures that assumed a fixed fleet are taken from the lifetimes instead:
``cost_usd`` is the window's billed instance-time at each instance's price (as for a fixed
fleet: its count x window x price), ``cost_per_million_usd`` follows, and ``utilisation`` /
``host_utilisation`` divide the busy time by the replicas of the instances *in service* in
the window rather than by the pool's count x window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from analysis.billing import fleet_summary

INSTANCES_FILE = "instances.parquet"

FLEET_KEYS = (
    "instance_hours",
    "fleet_size_mean",
    "fleet_size_peak",
    "billed_cost_usd",
    "billed_cost_on_demand_usd",
    "billed_cost_spot_usd",
    "availability",
    "fleet_changed",
)


def overlap_s(start: np.ndarray, end: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Seconds of each interval [start, end) inside [lo, hi) (NaN start: none)."""
    clipped = np.minimum(end, hi) - np.maximum(start, lo)
    return np.where(np.isnan(start), 0.0, np.clip(clipped, 0.0, None))


def fleet_changed(lifetimes: dict[str, np.ndarray], info: dict[str, Any]) -> bool:
    """Whether any instance did anything but serve from 0 to the end of the run."""
    # a pool serving several models has one entry per model group, sharing its instances
    counts = sum(
        {p.get("instance_pool", p["pool"]): int(p["count"]) for p in info["pools"]}.values()
    )
    whole = (
        (lifetimes["requested_s"] == 0.0)
        & (lifetimes["ready_s"] == 0.0)
        & (lifetimes["terminated_s"] == info["duration_s"])
    )
    return len(whole) != counts or not bool(whole.all())


def fleet_figures(lifetimes: dict[str, np.ndarray], info: dict[str, Any]) -> dict[str, Any]:
    """The ``FLEET_KEYS`` figures of a run's lifetimes (columns as arrays).

    All but ``fleet_changed``, which ``with_fleet`` adds.
    """
    figures = fleet_summary(lifetimes, info["warmup_s"], info["duration_s"])
    return {
        "instance_hours": figures["instance_hours"],
        "fleet_size_mean": figures["fleet_size_mean"],
        "fleet_size_peak": int(figures["fleet_size_peak"]),
        "billed_cost_usd": figures["cost_usd"],
        "billed_cost_on_demand_usd": figures["cost_on_demand_usd"],
        "billed_cost_spot_usd": figures["cost_spot_usd"],
        "availability": figures["availability"],
    }


def with_fleet(
    metrics: dict[str, Any], lifetimes: dict[str, np.ndarray], info: dict[str, Any]
) -> dict[str, Any]:
    """``metrics`` with the fleet figures added, and corrected if the fleet changed."""
    out = dict(metrics)
    out.update(fleet_figures(lifetimes, info))
    out["fleet_changed"] = fleet_changed(lifetimes, info)
    if not out["fleet_changed"]:
        return out
    lo, hi = info["warmup_s"], info["duration_s"]
    window = hi - lo
    start, ready, end = (lifetimes[k] for k in ("requested_s", "ready_s", "terminated_s"))
    pools = np.asarray(lifetimes["pool"], dtype=object).astype(str)
    cost = float((overlap_s(start, end, lo, hi) * lifetimes["usd_per_hour"]).sum()) / 3600.0
    out["cost_usd"] = cost
    completed = out.get("completed", 0)
    out["cost_per_million_usd"] = cost / completed * 1e6 if completed else float("nan")
    serving = overlap_s(ready, end, lo, hi)
    for key in ("utilisation", "host_utilisation"):
        rescaled = {}
        for p in info["pools"]:
            name = p["pool"]
            instance_s = float(serving[pools == p.get("instance_pool", name)].sum())
            share = out[key].get(name, float("nan"))
            fixed_s = p["count"] * window  # what the fixed-fleet figure divided by
            rescaled[name] = share * fixed_s / instance_s if instance_s > 0 else float("nan")
        out[key] = rescaled
    return out


def read_lifetimes(path: str | Path) -> dict[str, np.ndarray]:
    """An ``instances.parquet`` as arrays (labels as str), without pandas."""
    table = pq.read_table(path)
    out: dict[str, np.ndarray] = {}
    for name in table.column_names:
        column = table.column(name)
        if str(column.type).startswith("dictionary"):
            out[name] = np.asarray(column.cast("string").to_pylist(), dtype=object)
        else:
            out[name] = column.to_numpy()
    return out


def lifetimes_beside(trace: str | Path) -> dict[str, np.ndarray] | None:
    """The lifetimes written beside a trace (``instances.parquet``), or None."""
    path = Path(trace).with_name(INSTANCES_FILE)
    return read_lifetimes(path) if path.exists() else None
