"""The report's fleet over time: instances billed and in service, for runs whose fleet changed.

Read from each run's ``instances.parquet`` (``analysis.instance_schema``): per pool, the
number of instances in service (ready, not yet terminated) as an exact step function of
time, and all pools' billed instances (requested, not yet terminated) as a dashed line, so
cold starts show as the gap between the two. Costs per pool over the measured window come
from the same lifetimes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.billing import fleet_size_steps
from analysis.fleet_figures import INSTANCES_FILE, overlap_s, read_lifetimes
from analysis.report.figures import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def lifetimes_of(run: Any) -> dict[str, np.ndarray] | None:
    """A report run's lifetimes (beside its trace or in its directory), or None."""
    where = run.trace.with_name(INSTANCES_FILE) if run.trace is not None else None
    if where is None or not where.exists():
        where = Path(run.path) / INSTANCES_FILE
    return read_lifetimes(where) if where.exists() else None


def _subset(lifetimes: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[keep] for name, values in lifetimes.items()}


def _steps(lifetimes: dict[str, np.ndarray], state: str, end_s: float) -> tuple:
    """(times s, counts) of a step function from 0 to ``end_s``.

    The run's end is not a drop to zero: the instances up then end with the run.
    """
    times, counts = fleet_size_steps(lifetimes, state)  # type: ignore[arg-type]
    keep = times < end_s
    times, counts = times[keep], counts[keep]
    if not len(times) or times[0] > 0:
        times, counts = np.r_[0.0, times], np.r_[0, counts]
    return np.r_[times, end_s], np.r_[counts, counts[-1]]


def fleet_over_time(lifetimes: dict[str, np.ndarray], title: str, end_s: float) -> Figure:
    """Instances in service per pool (solid) and billed in all (dashed) over the run."""
    fig, (ax,) = new_figure()
    pools = np.asarray(lifetimes["pool"], dtype=object).astype(str)
    for name in sorted(set(pools.tolist())):
        times, counts = _steps(_subset(lifetimes, pools == name), "serving", end_s)
        ax.step(times, counts, where="post", label=f"{name}: in service")
    times, counts = _steps(lifetimes, "billed", end_s)
    ax.step(times, counts, where="post", color="black", linestyle="--", linewidth=1,
            label="all pools: billed")  # fmt: skip
    ax.set_ylim(0, max(1, int(np.max(counts))) * 1.2)
    ax.set(title=f"{title}: instances over time", xlabel="time since start (s)",
           ylabel="instances")  # fmt: skip
    ax.legend(fontsize="small", loc="lower right")
    return fig


def pool_costs_usd(
    lifetimes: dict[str, np.ndarray], start_s: float, end_s: float
) -> dict[str, float]:
    """Each pool's billed instance-time in [start_s, end_s) at its prices (USD)."""
    pools = np.asarray(lifetimes["pool"], dtype=object).astype(str)
    billed_s = overlap_s(lifetimes["requested_s"], lifetimes["terminated_s"], start_s, end_s)
    usd = billed_s * lifetimes["usd_per_hour"] / 3600.0
    return {name: float(usd[pools == name].sum()) for name in sorted(set(pools.tolist()))}
