"""Metrics of one run with 95% confidence intervals by batch means (``analysis.intervals``).

The measured window ``[warmup, duration)`` is cut into ``batches`` equal windows of
arrival time; every request that arrived after the warm-up belongs to the batch of its
arrival, and each metric is computed per batch exactly as for the whole run
(``analysis.metrics``): completed requests' latency percentiles, throughput, goodput, SLO
attainment, cost per million successful inferences. The interval is centred on the whole
run's value (sectioning). Given a path, the trace is read one row group at a time (three
passes over four columns at most), so memory does not grow with the trace.

Too few requests for a percentile: the requests beyond a high percentile come in clusters
(one long queue puts many of them in a row), so a batch's p99 rests on a few clusters and
the spread of small batches understates the run's error. Measured on M/M/1 at
utilisation 0.7 (docs/analysis.md, "Coverage"): with 1,000 completed requests per batch
the batch spread is 0.62 of the true standard error (coverage 80%), with 2,000 it is 0.81,
with 5,000 and more about 1.0 (coverage 93-95%). So a percentile ``q`` needs at least
``50 / (1 - q/100)`` completed requests per batch on average (p50: 100, p90: 500, p99:
5,000, p99.9: 50,000): about fifty beyond it. With fewer, the batch count is reduced to
what the run supports (the interval's ``reason`` says so); below ``MIN_BATCHES`` batches
the interval is NaN, with the reason, and only the whole-run estimate is given. Busier
fleets have longer clusters (the M/M/1 relaxation time is ten times longer at utilisation
0.9 than at 0.7): give them longer runs, and check with ``time_series`` that the queue is
not still growing.

Goodput and successful inferences: a request is *successful* if it completed within the
SLO target (``slo.target``). ``goodput_per_s`` counts them per second of the measured
window; ``cost_per_million_successful_usd`` divides the fleet's cost over the window by
them (against ``cost_per_million_usd``, which counts every completed request).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.intervals import CONFIDENCE, Interval, batch_means_interval, check_confidence
from analysis.outcomes import masks_of, slo_masks
from analysis.pool_usage import cost_usd
from analysis.quantiles import GroupedPercentiles
from analysis.sources import TraceSource, open_source
from analysis.trace_summary import summarize, summarize_trace

DEFAULT_BATCHES = 10
"""Batches of the measured window (chosen by the M/M/1 coverage measurement: docs/analysis.md)."""
MIN_BATCHES = 5
"""Fewer batches than this give no interval (t_{k-1} explodes, the spread is unreliable)."""
PERCENTILE_KEYS = {50.0: "latency_p50_s", 90.0: "latency_p90_s", 99.0: "latency_p99_s",
                   99.9: "latency_p999_s"}  # fmt: skip
COLUMNS = ["arrival_s", "latency_s", "status", "warmup"]


TAIL_REQUESTS = 50
"""Completed requests beyond the percentile a batch needs on average (see above)."""


def needed_per_batch(q: float) -> int:
    """Completed requests a batch needs on average for a ``q``-percentile: 50 / (1 - q/100)."""
    return math.ceil(round(TAIL_REQUESTS / (1.0 - q / 100.0), 6))


def check_arguments(q: float | None, batches: int, confidence: float) -> None:
    """Raise ValueError naming a bad percentile ``q``, batch count or confidence."""
    check_confidence(confidence)
    if q is not None and not 0.0 < q < 100.0:
        raise ValueError(f"q must be a percentile between 0 and 100 (exclusive), got {q!r}")
    if isinstance(batches, bool) or not isinstance(batches, int) or batches < 2:
        raise ValueError(f"batches must be a whole number >= 2, got {batches!r}")


def batch_of(arrival_s: np.ndarray, info: dict[str, Any], batches: int) -> np.ndarray:
    """The batch (0 .. batches - 1) of each arrival time (s) in the measured window."""
    start, window = info["warmup_s"], info["duration_s"] - info["warmup_s"]
    index = np.floor((arrival_s - start) / window * batches).astype(np.int64)
    return np.clip(index, 0, batches - 1)


@dataclass(frozen=True)
class BatchCounts:
    """Counts of the measured requests per batch (arrays of length ``batches``)."""

    batches: int
    window_s: float  # the measured window (s)
    cost_usd: float  # the fleet's cost over it
    completed: np.ndarray
    met: np.ndarray  # completed within the SLO target
    known: np.ndarray  # requests whose SLO outcome is known (analysis.metrics)

    @property
    def batch_s(self) -> float:
        """The length of one batch (s)."""
        return self.window_s / self.batches


def batch_counts(src: TraceSource, batches: int) -> BatchCounts:
    """Count completed, SLO-met and SLO-known requests per batch, streaming the trace."""
    info = src.info
    target, end = info["slo_target_s"], info["duration_s"]
    completed, met, known = (np.zeros(batches, dtype=np.int64) for _ in range(3))
    for chunk in src.chunks(COLUMNS):
        measured = ~chunk["warmup"].to_numpy(dtype=bool)
        masks = {k: m & measured for k, m in masks_of(chunk["status"]).items()}
        arrival = chunk["arrival_s"].to_numpy(dtype=float)
        latency = chunk["latency_s"].to_numpy(dtype=float)
        batch = batch_of(arrival, info, batches)
        hit, outcome_known = slo_masks(masks, latency, arrival, target, end)
        completed += np.bincount(batch[masks["ok"]], minlength=batches)
        met += np.bincount(batch[hit], minlength=batches)
        known += np.bincount(batch[outcome_known], minlength=batches)
    window = info["duration_s"] - info["warmup_s"]
    return BatchCounts(batches, window, cost_usd(info["pools"], window), completed, met, known)


def batched_percentiles(
    src: TraceSource, plan: dict[float, int]
) -> tuple[dict[float, float], dict[float, np.ndarray]]:
    """Whole-run and per-batch latency percentiles of completed measured requests.

    Args:
        src: The run.
        plan: Percentile q (in %) -> its batch count (0: the whole-run value only).

    Returns:
        (q -> whole-run percentile (s), q -> per-batch percentiles (s), NaN for an empty
        batch), exact as ``numpy.percentile`` (linear interpolation), in bounded memory.

    """
    qs = tuple(plan)
    overall = GroupedPercentiles(1)
    groups = {k: GroupedPercentiles(k) for k in sorted(set(plan.values())) if k > 0}
    uses = {k: tuple(q for q in qs if plan[q] == k) for k in groups}

    def rows():
        for chunk in src.chunks(COLUMNS):
            ok = (chunk["status"] == "ok").to_numpy() & ~chunk["warmup"].to_numpy(dtype=bool)
            latency = chunk["latency_s"].to_numpy(dtype=float)[ok]
            arrival = chunk["arrival_s"].to_numpy(dtype=float)[ok]
            yield arrival, latency

    for arrival, latency in rows():
        overall.add(np.zeros(latency.size, dtype=np.int64), latency)
        for k, grouped in groups.items():
            grouped.add(batch_of(arrival, src.info, k), latency)
    again = overall.plan_second_pass(qs)
    for k, grouped in groups.items():
        again = grouped.plan_second_pass(uses[k]) or again
    if again:
        for arrival, latency in rows():
            overall.keep(np.zeros(latency.size, dtype=np.int64), latency)
            for k, grouped in groups.items():
                grouped.keep(batch_of(arrival, src.info, k), latency)
    whole = dict(zip(qs, (float(v) for v in overall.percentiles(qs)[0]), strict=True))
    per_batch = {}
    for k, grouped in groups.items():
        values = grouped.percentiles(uses[k])
        for j, q in enumerate(uses[k]):
            per_batch[q] = values[:, j]
    return whole, per_batch


def percentile_batches(
    completed: int, q: float, batches: int, min_per_batch: int | None = None
) -> tuple[int, str]:
    """The batches a ``q``-percentile interval can use with ``completed`` requests, and why.

    ``min_per_batch`` overrides ``needed_per_batch(q)``.

    Returns:
        (batches to use, a note: empty if all asked batches are used). Fewer than
        ``MIN_BATCHES`` means no interval.

    """
    need = needed_per_batch(q) if min_per_batch is None else max(1, min_per_batch)
    usable = min(batches, completed // need)
    if usable >= batches:
        return batches, ""
    note = (
        f"{completed:,} completed requests: a p{q:g} needs {need:,} per batch "
        f"on average, so {usable} of the {batches} batches asked"
    )
    if usable < MIN_BATCHES:
        note += f" (at least {MIN_BATCHES} are needed for an interval)"
    return usable, note


def _percentile_intervals(
    src: TraceSource, qs: tuple[float, ...], batches: int, confidence: float, completed: int,
    min_per_batch: int | None = None,
) -> dict[float, Interval]:  # fmt: skip
    plan = {}
    notes = {}
    for q in qs:
        k, notes[q] = percentile_batches(completed, q, batches, min_per_batch)
        plan[q] = k if k >= MIN_BATCHES else 0
    whole, per_batch = batched_percentiles(src, plan)
    out = {}
    for q in qs:
        if plan[q] == 0:
            out[q] = Interval.missing(whole[q], f"batch means ({batches} batches)", 0,
                                      notes[q], confidence)  # fmt: skip
        else:
            out[q] = batch_means_interval(per_batch[q], whole[q], confidence, notes[q])
    return out


def percentile_interval(
    source: Any, q: float = 99.0, *, batches: int = DEFAULT_BATCHES,
    confidence: float = CONFIDENCE, min_per_batch: int | None = None,
) -> Interval:  # fmt: skip
    """The ``q``-th percentile of completed requests' latency (s) with its batch-means interval.

    Args:
        source: A trace path, a run directory, or a DataFrame from ``analysis.load_trace``
            (one run). A path is streamed by row group.
        q: The percentile, in % (0 < q < 100).
        batches: Equal windows of arrival time the measured window is cut into.
        confidence: Confidence level, in (0, 1).
        min_per_batch: Completed requests a batch needs on average; by default
            ``needed_per_batch(q)`` (5,000 for a p99). Lower it only knowing the coverage
            it costs (docs/analysis.md).

    Returns:
        The whole-run percentile (s; equal to the summary's) and its interval; see the
        module docstring for runs with too few requests per batch.

    Raises:
        ValueError: a bad ``q``, ``batches`` or ``confidence``; a DataFrame without run facts.
        FileNotFoundError: no trace at ``source``.

    """
    check_arguments(q, batches, confidence)
    src = open_source(source)
    completed = int(batch_counts(src, batches).completed.sum())
    intervals = _percentile_intervals(src, (float(q),), batches, confidence, completed,
                                      min_per_batch)  # fmt: skip
    return intervals[float(q)]


def goodput_per_s(source: Any) -> float:
    """Requests completed within the SLO target, per second of the measured window (1/s).

    Args:
        source: A trace path, a run directory, or a DataFrame from ``analysis.load_trace``.

    Raises:
        ValueError: a sampled trace (its counts are not the run's).

    """
    src = open_source(source)
    src.require_full("goodput_per_s")
    counts = batch_counts(src, 1)
    return float(counts.met.sum()) / counts.window_s


def cost_per_million_successful_usd(source: Any) -> float:
    """Fleet cost (USD) over the measured window per million requests completed in the SLO.

    NaN if no request completed within the SLO target.

    Raises:
        ValueError: a sampled trace (its counts are not the run's).

    """
    src = open_source(source)
    src.require_full("cost_per_million_successful_usd")
    counts = batch_counts(src, 1)
    met = int(counts.met.sum())
    return counts.cost_usd / met * 1e6 if met else float("nan")


def _ratio(numerator: np.ndarray | float, denominator: np.ndarray) -> np.ndarray:
    """The ratio per batch, NaN where the denominator is 0."""
    denominator = np.asarray(denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(numerator, dtype=float) / denominator
    return np.where(denominator > 0, out, np.nan)


def count_metric_batches(counts: BatchCounts) -> dict[str, np.ndarray]:
    """The count-based metrics on each batch: throughput, goodput, SLO attainment, cost/M."""
    return {
        "throughput_per_s": counts.completed / counts.batch_s,
        "goodput_per_s": counts.met / counts.batch_s,
        "slo_attainment": _ratio(counts.met, counts.known),
        "cost_per_million_usd": _ratio(counts.cost_usd / counts.batches * 1e6, counts.completed),
        "cost_per_million_successful_usd": _ratio(
            counts.cost_usd / counts.batches * 1e6, counts.met
        ),
    }


def count_metrics(counts: BatchCounts) -> dict[str, float]:
    """The same metrics on the whole measured window."""
    completed, met, known = (int(a.sum()) for a in (counts.completed, counts.met, counts.known))
    return {
        "throughput_per_s": completed / counts.window_s,
        "goodput_per_s": met / counts.window_s,
        "slo_attainment": met / known if known else float("nan"),
        "cost_per_million_usd": counts.cost_usd / completed * 1e6 if completed else math.nan,
        "cost_per_million_successful_usd": counts.cost_usd / met * 1e6 if met else math.nan,
    }


def summarize_with_intervals(
    source: Any, *, batches: int = DEFAULT_BATCHES, confidence: float = CONFIDENCE,
    min_per_batch: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The summary of ``analysis.summarize`` with batch-means intervals.

    Returns:
        The keys of ``analysis.summarize`` plus ``goodput_per_s`` (1/s) and
        ``cost_per_million_successful_usd``, and an ``Interval`` under ``<key>_ci`` for
        ``latency_p50_s``, ``latency_p90_s``, ``latency_p99_s``, ``latency_p999_s``,
        ``throughput_per_s``, ``goodput_per_s``, ``slo_attainment`` and
        ``cost_per_million_successful_usd``. ``batches``, ``confidence`` and
        ``min_per_batch`` are those of ``percentile_interval``.

    Raises:
        ValueError: bad ``batches``/``confidence``; a sampled trace; a DataFrame without
            run facts.
        FileNotFoundError: no trace at ``source``.

    """
    check_arguments(None, batches, confidence)
    src = open_source(source)
    src.require_full("summarize_with_intervals")
    summary = summarize_trace(src.path) if src.frame is None else summarize(src.frame, src.info)
    counts = batch_counts(src, batches)
    whole = count_metrics(counts)
    per_batch = count_metric_batches(counts)
    summary["goodput_per_s"] = whole["goodput_per_s"]
    summary["cost_per_million_successful_usd"] = whole["cost_per_million_successful_usd"]
    for key in ("throughput_per_s", "goodput_per_s", "slo_attainment",
                "cost_per_million_successful_usd"):  # fmt: skip
        summary[f"{key}_ci"] = batch_means_interval(per_batch[key], whole[key], confidence)
    completed = int(counts.completed.sum())
    for q, interval in _percentile_intervals(
        src, tuple(PERCENTILE_KEYS), batches, confidence, completed, min_per_batch
    ).items():
        summary[f"{PERCENTILE_KEYS[q]}_ci"] = interval
    return summary
