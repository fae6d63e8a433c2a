"""EC2 billing and fleet size of instance lifetimes (``instances.parquet``; times in s, USD).

Rules (sources and departures in docs/fleet-dynamics.md):

* An instance is billed per second from ``requested_s`` to ``terminated_s``, with a minimum
  of 60 s per lifetime (EC2 per-second billing for Linux, as issue 15 specifies), at its
  ``usd_per_hour`` (the on-demand or spot price). Fractions of a second are billed pro rata.
* It is *in service* from ``ready_s`` to ``terminated_s`` (none if never ready).
* Lifetimes are half-open intervals ``[start, end)``: at one instant, terminations are counted
  before new instances, so a replacement at the same time never counts twice in the peak.

All functions take the columns of :data:`analysis.instance_schema.COLUMNS` as a DataFrame
(``pd.read_parquet("instances.parquet")``) or a mapping of arrays (what a run has).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from analysis.instance_schema import COLUMNS, LIFECYCLES

if TYPE_CHECKING:  # pandas is imported where it is used: a run's summary never needs it
    from collections.abc import Mapping
    from typing import Any

    import pandas as pd

    Lifetimes = pd.DataFrame | Mapping[str, Any]

MINIMUM_BILLED_S = 60.0
"""EC2's minimum billed time per instance lifetime (Linux on-demand and spot), in s."""

State = Literal["billed", "serving"]


def _column(lifetimes: Lifetimes, name: str) -> np.ndarray:
    """A numeric column as float64 (from a DataFrame, a dict of arrays or an Arrow table)."""
    return np.asarray(lifetimes[name], dtype=float)


def _labels(lifetimes: Lifetimes, name: str) -> np.ndarray:
    """A label column as an array of str."""
    return np.asarray(lifetimes[name], dtype=object).astype(str)


def _rows(lifetimes: Lifetimes) -> int:
    return len(np.asarray(lifetimes["requested_s"]))


def check_lifetimes(lifetimes: Lifetimes) -> None:
    """Raise ValueError naming the column and value if the lifetimes are not well formed.

    Checks: every column present; lifecycle in ``LIFECYCLES``; finite
    ``requested_s <= terminated_s``; ``requested_s <= ready_s <= terminated_s`` where ready;
    ``usd_per_hour >= 0``.
    """
    missing = [c for c in COLUMNS if c not in lifetimes]
    if missing:
        raise ValueError(f"instance lifetimes lack columns {missing}")
    bad = set(_labels(lifetimes, "lifecycle").tolist()) - set(LIFECYCLES)
    if bad:
        raise ValueError(f"lifecycle must be one of {LIFECYCLES}, got {sorted(bad)}")
    req = _column(lifetimes, "requested_s")
    ready = _column(lifetimes, "ready_s")
    end = _column(lifetimes, "terminated_s")
    price = _column(lifetimes, "usd_per_hour")
    checks = [
        ("requested_s", ~np.isfinite(req)),
        ("terminated_s", ~np.isfinite(end) | (end < req)),
        ("ready_s", ~np.isnan(ready) & ((ready < req) | (ready > end))),
        ("usd_per_hour", ~(price >= 0)),
    ]
    for column, wrong in checks:
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            pool, index = _labels(lifetimes, "pool")[i], np.asarray(lifetimes["instance_id"])[i]
            raise ValueError(
                f"instance {pool}/{index}: bad {column}, got requested {req[i]}, ready "
                f"{ready[i]}, terminated {end[i]}, usd_per_hour {price[i]}"
            )


def billed_s(lifetimes: Lifetimes, minimum_s: float = MINIMUM_BILLED_S) -> np.ndarray:
    """Billed seconds of each lifetime: max(terminated - requested, minimum_s)."""
    check_lifetimes(lifetimes)
    span = _column(lifetimes, "terminated_s") - _column(lifetimes, "requested_s")
    return np.maximum(span, minimum_s)


def cost_usd(lifetimes: Lifetimes, minimum_s: float = MINIMUM_BILLED_S) -> float:
    """Total bill (USD): sum of billed seconds / 3600 * usd_per_hour over lifetimes."""
    price = _column(lifetimes, "usd_per_hour") if _rows(lifetimes) else np.zeros(0)
    return float(np.sum(billed_s(lifetimes, minimum_s) * price) / 3600.0)


def cost_by_lifecycle_usd(
    lifetimes: Lifetimes, minimum_s: float = MINIMUM_BILLED_S
) -> dict[str, float]:
    """Bill (USD) per lifecycle, every name of ``LIFECYCLES`` present (0.0 if none)."""
    cost = billed_s(lifetimes, minimum_s) * _column(lifetimes, "usd_per_hour") / 3600.0
    kind = _labels(lifetimes, "lifecycle")
    return {name: float(np.sum(cost[kind == name])) for name in LIFECYCLES}


def _intervals(lifetimes: Lifetimes, state: State) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) arrays of the billed or in-service intervals (empty ones dropped)."""
    check_lifetimes(lifetimes)
    end = _column(lifetimes, "terminated_s")
    if state == "billed":
        start = _column(lifetimes, "requested_s")
    elif state == "serving":
        start = _column(lifetimes, "ready_s")
    else:
        raise ValueError(f"state must be 'billed' or 'serving', got {state!r}")
    keep = ~np.isnan(start) & (start < end)
    return start[keep], end[keep]


def _window(
    lifetimes: Lifetimes, start_s: float | None, end_s: float | None
) -> tuple[float, float]:
    """The window [start, end) in s; by default first request to last termination."""
    lo = float(_column(lifetimes, "requested_s").min()) if start_s is None else float(start_s)
    hi = float(_column(lifetimes, "terminated_s").max()) if end_s is None else float(end_s)
    if not hi > lo:
        raise ValueError(f"window must have end > start, got [{lo}, {hi}]")
    return lo, hi


def instance_s(
    lifetimes: Lifetimes,
    start_s: float | None = None,
    end_s: float | None = None,
    state: State = "billed",
) -> float:
    """Instance-seconds within [start_s, end_s] (default: first request to last termination).

    Exact: the sum of each interval clipped to the window; no 60-s minimum (that is billing).
    Divide by 3600 for instance-hours.
    """
    if _rows(lifetimes) == 0:
        return 0.0
    lo, hi = _window(lifetimes, start_s, end_s)
    start, end = _intervals(lifetimes, state)
    return float(np.sum(np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0.0, None)))


def fleet_size_steps(
    lifetimes: Lifetimes, state: State = "billed"
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
    lifetimes: Lifetimes,
    start_s: float | None = None,
    end_s: float | None = None,
    state: State = "billed",
) -> tuple[float, int]:
    """(time-average, peak) fleet size over the window [start_s, end_s).

    The mean is instance-seconds over the window length; the peak is the largest value of the
    step function on the window (its value at ``start_s`` included, at ``end_s`` not).
    """
    if _rows(lifetimes) == 0:
        return 0.0, 0
    lo, hi = _window(lifetimes, start_s, end_s)
    mean = instance_s(lifetimes, lo, hi, state) / (hi - lo)
    times, counts = fleet_size_steps(lifetimes, state)
    at_lo = counts[times <= lo][-1:] if np.any(times <= lo) else np.zeros(1, int)
    inside = counts[(times > lo) & (times < hi)]
    return float(mean), int(max(at_lo.max(initial=0), inside.max(initial=0)))


def availability_share(lifetimes: Lifetimes) -> float:
    """Share of instance-time in service: sum(terminated - ready) / sum(terminated - requested).

    Over whole lifetimes (no window, no billing minimum); an instance never ready adds only to
    the denominator. NaN for no instance-time at all.
    """
    billed = instance_s(lifetimes, -np.inf, np.inf, "billed") if _rows(lifetimes) else 0.0
    serving = instance_s(lifetimes, -np.inf, np.inf, "serving") if _rows(lifetimes) else 0.0
    return serving / billed if billed > 0 else float("nan")


def fleet_summary(
    lifetimes: Lifetimes, start_s: float | None = None, end_s: float | None = None
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
