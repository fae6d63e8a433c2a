"""Two runs on the same arrivals, compared metric by metric with paired intervals.

Runs of the same scenario seed and workload see the same requests at the same times
(``sim.streams``: the arrival stream does not depend on the fleet or the balancer), so
their difference is measured without the noise of different arrivals. The interval comes
from *paired* batch means: both runs' measured windows are cut into the same ``batches``
windows of arrival time; per batch, the difference ``b - a`` of the metric is computed on
the same requests in both runs; the interval is ``(whole-run b - a) +/- t_{k-1} s / sqrt(k)``
with ``s`` the spread of the batch differences (``analysis.intervals``). Because the
arrivals are common, the batch differences vary much less than either run's batches, and
the interval is correspondingly narrower than the two runs' intervals combined.

``paired_comparison`` refuses runs that do not share arrivals: different seeds, durations
or warm-ups, or different arrival times among the first ``SHARED_REQUESTS`` requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.estimates import (
    DEFAULT_BATCHES,
    MIN_BATCHES,
    PERCENTILE_KEYS,
    batch_counts,
    batched_percentiles,
    check_arguments,
    count_metric_batches,
    count_metrics,
    percentile_batches,
)
from analysis.intervals import CONFIDENCE, Interval, batch_means_interval
from analysis.sources import TraceSource, open_source

if TYPE_CHECKING:  # pandas is imported where it is used: runs never need it
    import pandas as pd

SHARED_REQUESTS = 1000
"""Requests (the first, by request id) whose arrival times must agree exactly."""


def first_arrivals_s(src: TraceSource, n: int = SHARED_REQUESTS) -> np.ndarray:
    """Arrival times (s) of requests ``0 .. n-1``, by request id (fewer if the run had fewer)."""
    ids, times = [], []
    for chunk in src.chunks(["request_id", "arrival_s"]):
        request_id = chunk["request_id"].to_numpy()
        mine = request_id < n
        ids.append(request_id[mine])
        times.append(chunk["arrival_s"].to_numpy(dtype=float)[mine])
    request_id, arrival = np.concatenate(ids), np.concatenate(times)
    return arrival[np.argsort(request_id, kind="stable")]


def check_shared_arrivals(a: TraceSource, b: TraceSource) -> None:
    """Raise ValueError naming both runs unless they share their arrivals."""
    problems = []
    if a.seed != b.seed:
        problems.append(f"seeds {a.seed} and {b.seed}")
    for key, name in (("duration_s", "durations"), ("warmup_s", "warm-ups")):
        if a.info[key] != b.info[key]:
            problems.append(f"{name} {a.info[key]:g} s and {b.info[key]:g} s")
    if not problems:
        first_a, first_b = first_arrivals_s(a), first_arrivals_s(b)
        if first_a.shape != first_b.shape or not np.array_equal(first_a, first_b):
            problems.append(f"different arrival times among the first {SHARED_REQUESTS} requests")
    if problems:
        raise ValueError(
            f"{a.label} and {b.label} do not share arrivals ({'; '.join(problems)}); a paired "
            "comparison needs two runs of the same seed and workload (change only the fleet "
            "or the policies)"
        )


def _row(metric: str, a: float, b: float, interval: Interval) -> dict[str, Any]:
    return {
        "metric": metric,
        "a": a,
        "b": b,
        "difference": b - a,
        "low": interval.low,
        "high": interval.high,
        "ratio": b / a if a else float("nan"),
        "method": interval.method,
        "reason": interval.reason,
    }


def paired_comparison(
    run_a: Any,
    run_b: Any,
    *,
    q: float = 99.0,
    batches: int = DEFAULT_BATCHES,
    confidence: float = CONFIDENCE,
    min_per_batch: int | None = None,
) -> pd.DataFrame:
    """Compare run ``b`` with run ``a`` (same arrivals), with paired batch-means intervals.

    Args:
        run_a: The reference run: a trace path, a run directory or a loaded trace.
        run_b: The other run.
        q: The latency percentile compared, in %.
        batches: Batches of arrival time (fewer for the percentile if the runs are short:
            ``analysis.estimates``).
        confidence: Confidence level, in (0, 1).
        min_per_batch: As in ``analysis.percentile_interval``.

    Returns:
        One row per metric (``latency_p<q>_s``, ``cost_per_million_usd``,
        ``cost_per_million_successful_usd``, ``cost_usd``, ``throughput_per_s``) with
        columns ``metric``, ``a``, ``b``, ``difference`` (b - a, units of the metric),
        ``low``/``high`` (its interval), ``ratio`` (b / a), ``method`` and ``reason`` (why
        an interval is missing or rests on fewer batches). ``cost_usd`` is a fixed fleet's
        price: its difference is exact.

    Raises:
        ValueError: the runs do not share arrivals; bad ``q``/``batches``/``confidence``;
            a sampled trace.

    """
    import pandas as pd

    check_arguments(q, batches, confidence)
    a, b = open_source(run_a), open_source(run_b)
    for src in (a, b):
        src.require_full("paired_comparison")
    check_shared_arrivals(a, b)
    counts = {"a": batch_counts(a, batches), "b": batch_counts(b, batches)}
    rows = []
    completed = min(int(c.completed.sum()) for c in counts.values())
    k, note = percentile_batches(completed, q, batches, min_per_batch)
    plan = {float(q): k if k >= MIN_BATCHES else 0}
    (whole_a, batch_a), (whole_b, batch_b) = (
        batched_percentiles(a, plan),
        batched_percentiles(b, plan),
    )
    name = PERCENTILE_KEYS.get(float(q), f"latency_p{q:g}_s".replace(".", ""))
    va, vb = whole_a[float(q)], whole_b[float(q)]
    if plan[float(q)]:
        interval = batch_means_interval(batch_b[float(q)] - batch_a[float(q)], vb - va,
                                        confidence, note)  # fmt: skip
    else:
        interval = Interval.missing(vb - va, f"paired batch means ({batches} batches)", 0, note,
                                    confidence)  # fmt: skip
    rows.append(_row(name, va, vb, interval))
    whole = {side: count_metrics(c) for side, c in counts.items()}
    per_batch = {side: count_metric_batches(c) for side, c in counts.items()}
    for metric in ("cost_per_million_usd", "cost_per_million_successful_usd"):
        diff = per_batch["b"][metric] - per_batch["a"][metric]
        va, vb = whole["a"][metric], whole["b"][metric]
        rows.append(_row(metric, va, vb, batch_means_interval(diff, vb - va, confidence)))
    va, vb = counts["a"].cost_usd, counts["b"].cost_usd
    rows.append(_row("cost_usd", va, vb, Interval.exact(vb - va)))
    metric = "throughput_per_s"
    diff = per_batch["b"][metric] - per_batch["a"][metric]
    va, vb = whole["a"][metric], whole["b"][metric]
    rows.append(_row(metric, va, vb, batch_means_interval(diff, vb - va, confidence)))
    out = pd.DataFrame(rows)
    out["method"] = out["method"].str.replace("batch means", "paired batch means", regex=False)
    return out
