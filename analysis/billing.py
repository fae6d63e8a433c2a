"""EC2 billing and fleet size of instance lifetimes (``instances.parquet``; times in s, USD).

Rules (sources and departures in docs/fleet-dynamics.md):

* An instance is billed per second from ``requested_s`` to ``terminated_s``, with a minimum
  of 60 s per lifetime (EC2 per-second billing for Linux, as issue 15 specifies), at its
  ``usd_per_hour`` (the on-demand or spot price). Fractions of a second are billed pro rata.
* It is *in service* from ``ready_s`` to ``terminated_s`` (none if never ready).
* Lifetimes are half-open intervals ``[start, end)``: at one instant, terminations are counted
  before new instances, so a replacement at the same time never counts twice in the peak.

All functions take a DataFrame with the columns of :data:`analysis.instance_schema.COLUMNS`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from analysis.instance_schema import COLUMNS, LIFECYCLES

MINIMUM_BILLED_S = 60.0
"""EC2's minimum billed time per instance lifetime (Linux on-demand and spot), in s."""

State = Literal["billed", "serving"]


def check_lifetimes(lifetimes: pd.DataFrame) -> None:
    """Raise ValueError naming the column and value if the lifetimes are not well formed.

    Checks: every column present; lifecycle in ``LIFECYCLES``; finite
    ``requested_s <= terminated_s``; ``requested_s <= ready_s <= terminated_s`` where ready;
    ``usd_per_hour >= 0``.
    """
    missing = [c for c in COLUMNS if c not in lifetimes.columns]
    if missing:
        raise ValueError(f"instance lifetimes lack columns {missing}")
    bad = set(lifetimes["lifecycle"].astype(str)) - set(LIFECYCLES)
    if bad:
        raise ValueError(f"lifecycle must be one of {LIFECYCLES}, got {sorted(bad)}")
    req = lifetimes["requested_s"].to_numpy(float)
    ready = lifetimes["ready_s"].to_numpy(float)
    end = lifetimes["terminated_s"].to_numpy(float)
    price = lifetimes["usd_per_hour"].to_numpy(float)
    checks = [
        ("requested_s", ~np.isfinite(req)),
        ("terminated_s", ~np.isfinite(end) | (end < req)),
        ("ready_s", ~np.isnan(ready) & ((ready < req) | (ready > end))),
        ("usd_per_hour", ~(price >= 0)),
    ]
    for column, wrong in checks:
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            row = lifetimes.iloc[i]
            raise ValueError(
                f"instance {row['pool']}/{row['instance_id']}: bad {column}, got "
                f"requested {row['requested_s']}, ready {row['ready_s']}, "
                f"terminated {row['terminated_s']}, usd_per_hour {row['usd_per_hour']}"
            )


def billed_s(lifetimes: pd.DataFrame, minimum_s: float = MINIMUM_BILLED_S) -> np.ndarray:
    """Billed seconds of each lifetime: max(terminated - requested, minimum_s)."""
    check_lifetimes(lifetimes)
    span = lifetimes["terminated_s"].to_numpy(float) - lifetimes["requested_s"].to_numpy(float)
    return np.maximum(span, minimum_s)


def cost_usd(lifetimes: pd.DataFrame, minimum_s: float = MINIMUM_BILLED_S) -> float:
    """Total bill (USD): sum of billed seconds / 3600 * usd_per_hour over lifetimes."""
    price = lifetimes["usd_per_hour"].to_numpy(float) if len(lifetimes) else np.zeros(0)
    return float(np.sum(billed_s(lifetimes, minimum_s) * price) / 3600.0)


def cost_by_lifecycle_usd(
    lifetimes: pd.DataFrame, minimum_s: float = MINIMUM_BILLED_S
) -> dict[str, float]:
    """Bill (USD) per lifecycle, every name of ``LIFECYCLES`` present (0.0 if none)."""
    cost = billed_s(lifetimes, minimum_s) * lifetimes["usd_per_hour"].to_numpy(float) / 3600.0
    kind = lifetimes["lifecycle"].astype(str).to_numpy()
    return {name: float(np.sum(cost[kind == name])) for name in LIFECYCLES}


def _intervals(lifetimes: pd.DataFrame, state: State) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) arrays of the billed or in-service intervals (empty ones dropped)."""
    check_lifetimes(lifetimes)
    end = lifetimes["terminated_s"].to_numpy(float)
    if state == "billed":
        start = lifetimes["requested_s"].to_numpy(float)
    elif state == "serving":
        start = lifetimes["ready_s"].to_numpy(float)
    else:
        raise ValueError(f"state must be 'billed' or 'serving', got {state!r}")
    keep = ~np.isnan(start) & (start < end)
    return start[keep], end[keep]


def _window(
    lifetimes: pd.DataFrame, start_s: float | None, end_s: float | None
) -> tuple[float, float]:
    """The window [start, end) in s; by default first request to last termination."""
    lo = float(lifetimes["requested_s"].min()) if start_s is None else float(start_s)
    hi = float(lifetimes["terminated_s"].max()) if end_s is None else float(end_s)
    if not hi > lo:
        raise ValueError(f"window must have end > start, got [{lo}, {hi}]")
    return lo, hi


def instance_s(
    lifetimes: pd.DataFrame,
    start_s: float | None = None,
    end_s: float | None = None,
    state: State = "billed",
) -> float:
    """Instance-seconds within [start_s, end_s] (default: first request to last termination).

    Exact: the sum of each interval clipped to the window; no 60-s minimum (that is billing).
    Divide by 3600 for instance-hours.
    """
    if len(lifetimes) == 0:
        return 0.0
    lo, hi = _window(lifetimes, start_s, end_s)
    start, end = _intervals(lifetimes, state)
    return float(np.sum(np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0.0, None)))


def fleet_size_steps(
    lifetimes: pd.DataFrame, state: State = "billed"
) -> tuple[np.ndarray, np.ndarray]:
    """The fleet size as an exact right-continuous step function.

    Returns:
        (times_s, counts): ``counts[i]`` instances from ``times_s[i]`` up to ``times_s[i+1]``
        (0 before ``times_s[0]``); one entry per distinct time, terminations at a time applied
        before starts at it.

    """
    start, end = _intervals(lifetimes, state)
    times = np.concatenate([start, end])
    delta = np.concatenate([np.ones(start.size, int), -np.ones(end.size, int)])
    order = np.lexsort((delta, times))  # by time, then -1 before +1
    times, counts = times[order], np.cumsum(delta[order])
    last = np.r_[times[1:] != times[:-1], True] if times.size else np.zeros(0, bool)
    return times[last], counts[last]


def fleet_size(
    lifetimes: pd.DataFrame,
    start_s: float | None = None,
    end_s: float | None = None,
    state: State = "billed",
) -> tuple[float, int]:
    """(time-average, peak) fleet size over the window [start_s, end_s).

    The mean is instance-seconds over the window length; the peak is the largest value of the
    step function on the window (its value at ``start_s`` included, at ``end_s`` not).
    """
    if len(lifetimes) == 0:
        return 0.0, 0
    lo, hi = _window(lifetimes, start_s, end_s)
    mean = instance_s(lifetimes, lo, hi, state) / (hi - lo)
    times, counts = fleet_size_steps(lifetimes, state)
    at_lo = counts[times <= lo][-1:] if np.any(times <= lo) else np.zeros(1, int)
    inside = counts[(times > lo) & (times < hi)]
    return float(mean), int(max(at_lo.max(initial=0), inside.max(initial=0)))


def availability_share(lifetimes: pd.DataFrame) -> float:
    """Share of instance-time in service: sum(terminated - ready) / sum(terminated - requested).

    Over whole lifetimes (no window, no billing minimum); an instance never ready adds only to
    the denominator. NaN for no instance-time at all.
    """
    billed = instance_s(lifetimes, -np.inf, np.inf, "billed") if len(lifetimes) else 0.0
    serving = instance_s(lifetimes, -np.inf, np.inf, "serving") if len(lifetimes) else 0.0
    return serving / billed if billed > 0 else float("nan")


def fleet_summary(
    lifetimes: pd.DataFrame, start_s: float | None = None, end_s: float | None = None
) -> dict[str, float]:
    """The fleet figures of a run summary: instance-hours, fleet size, cost, availability.

    Instance-hours and fleet size are of billed instances within the window; cost and
    availability are over whole lifetimes.
    """
    mean, peak = fleet_size(lifetimes, start_s, end_s)
    by_kind = cost_by_lifecycle_usd(lifetimes)
    out = {
        "instance_hours": instance_s(lifetimes, start_s, end_s) / 3600.0,
        "fleet_size_mean": mean,
        "fleet_size_peak": float(peak),
        "cost_usd": sum(by_kind.values()),
    }
    out.update({f"cost_{name}_usd": value for name, value in by_kind.items()})
    out["availability"] = availability_share(lifetimes)
    return out
