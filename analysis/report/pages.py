"""What goes on the report: a section comparing the runs, and a section per sweep.

Runs are shown side by side: one table with a column per run (intervals where the run kept a
trace) and the plots overlaid where that reads well (latency CDF, batch sizes, queue waits,
utilisation, cost); the latency-over-time plot is one per run. A run without a trace
(``trace: summary``) gets its summary rows and a note instead of the trace plots. Projected
hardware (Inf3) is marked PROJECTED in every table, legend and tick label that shows it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from analysis.estimates import (
    DEFAULT_BATCHES,
    MIN_BATCHES,
    needed_per_batch,
    summarize_with_intervals,
)
from analysis.report import figures
from analysis.report.aggregates import TraceAggregates
from analysis.report.fleet_page import fleet_over_time, lifetimes_of, pool_costs_usd
from analysis.report.formatting import NO_INTERVAL, duration, interval, number, percent, scaled
from analysis.report.html import Heading, Note, Plot, Section, Table
from analysis.report.inputs import READ_ERRORS, ReportInputError, RunSource
from analysis.report.paired import paired_tables
from analysis.timeseries import time_series

PROJECTED_NOTE = (
    "PROJECTED hardware (Inferentia3 / inf3) in {runs}: its performance and price are "
    "projections from public Trainium2/3 figures, not published for an Inf3 chip."
)
WINDOWS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
"""Window lengths (s) the latency-over-time plot chooses from: about 25-60 windows a run."""


def plot(fig: Any, name: str, caption: str, alt: str) -> Plot:
    """A rendered figure as a page block (and a PNG named ``name``)."""
    return Plot(name, caption, alt, figures.png_bytes(fig))


def window_s(duration_s: float) -> float:
    """The shortest listed window giving at most 60 windows over the run (s)."""
    return next((w for w in WINDOWS_S if duration_s / w <= 60), WINDOWS_S[-1])


def _read(source: RunSource) -> TraceAggregates:
    try:
        return TraceAggregates.from_trace(source.trace)  # type: ignore[arg-type]
    except READ_ERRORS as exc:
        raise ReportInputError(source.path, f"unreadable parquet trace ({exc})") from None


def runs_section(runs: list[RunSource]) -> Section:
    """The runs side by side: notes, the summary table, and the plots."""
    title = (
        "Runs: " + ", ".join(r.label for r in runs) if len(runs) > 1 else f"Run: {runs[0].label}"
    )
    section = Section(title)
    projected = [r.label for r in runs if r.projected]
    if projected:
        section.blocks.append(Note(PROJECTED_NOTE.format(runs=", ".join(projected)), True))
    for run in runs:
        if run.trace is None:
            section.blocks.append(
                Note(
                    f"{run.label} ran with trace: summary (no requests.parquet): its summary rows "
                    "are exact, but it has no intervals and no trace plots (latency CDF, latency "
                    "over time, batch sizes, queue waits)."
                )
            )
        elif run.trace_mode == "sample":
            fraction = run.summary.get("trace", {}).get("fraction", float("nan"))
            section.blocks.append(
                Note(
                    f"{run.label} kept a {fraction:g} sample of its requests: its summary rows are "
                    "exact and its distributions come from the sample; it has no intervals and no "
                    "latency-over-time plot (they count requests)."
                )
            )
    intervals = {r.label: run_intervals(r) for r in runs}
    section.blocks.append(summary_table(runs, intervals))
    section.blocks += paired_tables(runs)
    traced = [r for r in runs if r.trace is not None]
    aggregates = {r.label: _read(r) for r in traced}
    if traced:
        section.blocks += trace_plots(traced, aggregates)
        section.blocks += time_plots([r for r in traced if r.trace_mode == "full"])
    section.blocks += fleet_plots(runs)
    return section


def summary_table(runs: list[RunSource], intervals: dict[str, dict[str, Any]]) -> Table:
    """One row per fact or metric, one column per run.

    Args:
        runs: The runs, in column order.
        intervals: Run label -> ``run_intervals`` of the run (``<metric>_ci`` entries).

    """
    rows: list[list[str]] = []

    def row(name: str, values: list[str]) -> None:
        rows.append([name, *values])

    sums = [r.summary for r in runs]
    cis = [intervals.get(r.label, {}) for r in runs]
    row("scenario (seed)", [f"{s.get('scenario', '-')} ({s.get('seed', '-')})" for s in sums])
    row(
        "simulated / warm-up",
        [f"{duration(s['duration_s'])} / {duration(s['warmup_s'])}" for s in sums],
    )
    row("fleet", [fleet_text(s) for s in sums])
    row(
        "engine / trace",
        [f"{s.get('engine', '-')} / {r.trace_mode}" for s, r in zip(sums, runs, strict=True)],
    )
    row("requests after warm-up", [number(s["requests"]) for s in sums])
    row(
        "completed / dropped / in flight",
        [
            f"{number(s['completed'])} / {number(s['dropped'])} / {number(s['in_flight'])}"
            for s in sums
        ],
    )
    if any(s.get("timed_out") or s.get("failed") for s in sums):  # older runs lack the keys
        row(
            "timed out / failed",
            [f"{number(s.get('timed_out', 0))} / {number(s.get('failed', 0))}" for s in sums],
        )
    metrics = [
        ("throughput_per_s", "throughput", 1.0, "/s"),
        ("goodput_per_s", "goodput (within SLO)", 1.0, "/s"),
        ("latency_mean_s", "latency mean", 1e3, "ms"),
        ("latency_p50_s", "latency p50", 1e3, "ms"),
        ("latency_p90_s", "latency p90", 1e3, "ms"),
        ("latency_p99_s", "latency p99", 1e3, "ms"),
        ("latency_p999_s", "latency p99.9", 1e3, "ms"),
    ]
    for key, name, scale, unit in metrics:
        if any(key in s or key in c for s, c in zip(sums, cis, strict=True)):
            row(name, [_metric(s, c, key, scale, unit) for s, c in zip(sums, cis, strict=True)])
    row("SLO", [f"p{s['slo_percentile']:g} <= {s['slo_target_s'] * 1e3:g} ms" for s in sums])
    row(
        "SLO attainment (drops are misses)",
        [
            _metric(s, c, "slo_attainment", 100.0, "%")
            + f" ({'met' if s['slo_met'] else 'MISSED'})"
            for s, c in zip(sums, cis, strict=True)
        ],
    )
    for s in sums:
        for pool in s["pools"]:
            name = pool["pool"]
            label = f"utilisation {name}: accelerator / host"
            if not any(label == r[0] for r in rows):
                row(
                    label,
                    [
                        f"{percent(t.get('utilisation', {}).get(name))} / "
                        f"{percent(t.get('host_utilisation', {}).get(name))}"
                        if name in t.get("utilisation", {})
                        else "-"
                        for t in sums
                    ],
                )
    row("cost over the measured window", [scaled(s["cost_usd"], 1.0, "USD") for s in sums])
    row(
        "cost per million completed",
        [_metric(s, c, "cost_per_million_usd", 1.0, "USD") for s, c in zip(sums, cis, strict=True)],
    )
    if any("cost_per_million_successful_usd_ci" in c for c in cis):
        row(
            "cost per million within SLO",
            [
                _metric(s, c, "cost_per_million_successful_usd", 1.0, "USD")
                for s, c in zip(sums, cis, strict=True)
            ],
        )
    methods = {c[k].method for c in cis for k in c if k.endswith("_ci")}
    caption = "Summary (after the warm-up)"
    if methods:
        shown = sorted(m for m in methods if not m.startswith("batch means"))
        if len(shown) < len(methods):
            shown.insert(
                0,
                f"batch means over {DEFAULT_BATCHES} windows of arrival time "
                "(fewer for a percentile the run is short for)",
            )
        caption += "; 95% intervals in brackets, by " + "; ".join(shown)
    if any(NO_INTERVAL in cell for r in rows for cell in r):
        caption += (
            f";{NO_INTERVAL}: no interval, too few completed requests for this percentile "
            f"(at least {MIN_BATCHES} batches of {needed_per_batch(99.0):,} for a p99, "
            f"{needed_per_batch(99.9):,} for a p99.9)"
        )
    return Table(
        caption, ["", *[r.label + (" (PROJECTED)" if r.projected else "") for r in runs]], rows
    )


def run_intervals(run: RunSource) -> dict[str, Any]:
    """The run's summary with batch-means intervals (``analysis.summarize_with_intervals``).

    Empty for a run without a full trace (none, or a sample: intervals count requests).
    """
    if run.trace_mode != "full":
        return {}
    try:
        return summarize_with_intervals(run.trace)
    except READ_ERRORS as exc:
        raise ReportInputError(run.path, f"unreadable parquet trace ({exc})") from None


def _metric(summary: dict[str, Any], cis: dict[str, Any], key: str, scale: float, unit: str) -> str:
    ci = cis.get(f"{key}_ci")
    if ci is None:
        return scaled(summary.get(key), scale, unit)
    shown = interval(ci, scale, unit)
    return shown + NO_INTERVAL if "[" not in shown and not shown.startswith("-") else shown


def fleet_text(summary: dict[str, Any]) -> str:
    """``nlu: 5 x inf1.xlarge bert-base bf16`` per pool, PROJECTED where it is."""
    return "; ".join(
        f"{p['pool']}: {p['count']} x {p['instance_type']} {p.get('model', '')} "
        f"{p.get('dtype', '')}".rstrip()
        + (f" ({p['stack']})" if p.get("stack") else "")
        + (" PROJECTED" if p.get("projected") else "")
        for p in summary["pools"]
    )


def trace_plots(runs: list[RunSource], aggregates: dict[str, TraceAggregates]) -> list[Any]:
    """Latency CDF, latency over time per run, batch sizes and queue waits."""
    labels = [r.label for r in runs]
    shown = {r.label: r.label + (" (PROJECTED)" if r.projected else "") for r in runs}
    slo = {shown[r.label]: (r.summary["slo_target_s"], r.summary["slo_percentile"]) for r in runs}
    blocks: list[Any] = [Heading("Latency")]
    cdf = figures.latency_cdf({shown[k]: aggregates[k].latency_cdf() for k in labels}, slo)
    blocks.append(
        plot(
            cdf,
            "latency-cdf",
            "Latency CDF: the share of completed requests at "
            "or below each latency; a curve further left is faster, the SLO target "
            "and percentile are dotted.",
            "Latency CDF of " + ", ".join(labels),
        )
    )
    blocks += [Heading("Batching and queueing")]
    sizes = figures.batch_sizes({shown[k]: aggregates[k].batch_shares() for k in labels})
    blocks.append(
        plot(
            sizes,
            "batch-sizes",
            "Share of batches of each size (batches with completed measured requests).",
            "Batch-size distribution",
        )
    )
    waits = figures.queue_waits({shown[k]: aggregates[k].queue_wait_cdf() for k in labels})
    blocks.append(
        plot(
            waits,
            "queue-waits",
            "Time from arrival to service start (trace column "
            "queue_s): the batching wait plus any queueing.",
            "Queue-wait CDF",
        )
    )
    return blocks


def time_plots(runs: list[RunSource]) -> list[Any]:
    """p50/p99 latency and the arrival rate per window (``analysis.time_series``), per run."""
    blocks: list[Any] = [Heading("Latency over time")] if runs else []
    for run in runs:
        duration_s = run.summary["duration_s"]
        try:
            series = time_series(run.trace, window_s=window_s(duration_s))
        except READ_ERRORS as exc:
            raise ReportInputError(run.path, f"unreadable parquet trace ({exc})") from None
        title = run.label + (" (PROJECTED)" if run.projected else "")
        fig = figures.latency_over_time(
            series, run.summary["warmup_s"], title, run.summary.get("slo_target_s")
        )
        blocks.append(
            plot(
                fig,
                f"{run.label}-latency-over-time",
                f"{run.label}: p50 and p99 "
                "latency of the requests finishing in each window (left axis) and "
                "the arrival rate (right axis, dashed); the warm-up is shaded.",
                f"Latency and arrival rate over time, {run.label}",
            )
        )
    return blocks


def fleet_plots(runs: list[RunSource]) -> list[Any]:
    """Utilisation and cost per pool, and the instances over time.

    Utilisation and cost come from the summaries (every run, trace or not); instances over
    time from ``instances.parquet``, for each run whose fleet changed.
    """
    rows = []
    changing = []
    for run in runs:
        s = run.summary
        window_s = s["duration_s"] - s["warmup_s"]
        lifetimes = lifetimes_of(run) if s.get("fleet_changed") else None
        costs = None
        if lifetimes is not None:
            changing.append((run, lifetimes))
            costs = pool_costs_usd(lifetimes, s["warmup_s"], s["duration_s"])
        for pool in s["pools"]:
            name = pool["pool"]
            rows.append(
                {
                    "run": run.label,
                    "pool": name,
                    "instance_type": pool["instance_type"],
                    "count": pool["count"],
                    "projected": bool(pool.get("projected")),
                    "utilisation": s["utilisation"].get(name, float("nan")),
                    "host_utilisation": s.get("host_utilisation", {}).get(name, 0.0),
                    "cost_usd": pool["count"] * pool["usd_per_hour"] * window_s / 3600.0
                    if costs is None
                    else costs.get(name, 0.0),
                }
            )
    pools = pd.DataFrame(rows)
    per_million = {r.label: r.summary["cost_per_million_usd"] for r in runs}
    over_time: list[Any] = [Heading("Instances over time")] if changing else []
    for run, lifetimes in changing:
        title = run.label + (" (PROJECTED)" if run.projected else "")
        over_time.append(
            plot(
                fleet_over_time(lifetimes, title, run.summary["duration_s"]),
                f"{run.label}-instances-over-time",
                f"{run.label}: instances in service per pool (solid; autoscaling, failures, "
                "Spot interruptions and zone outages move it) and instances billed in all "
                "pools (dashed; a cold start is billed before it serves).",
                f"Instances over time, {run.label}",
            )
        )
    return over_time + [
        Heading("Utilisation and cost"),
        plot(
            figures.utilisation(pools),
            "utilisation",
            "Busy share of each pool's "
            "accelerators (replicas) and of its instances' host vCPUs over the measured "
            "window.",
            "Utilisation per pool",
        ),
        plot(
            figures.cost(pools, per_million),
            "cost",
            "Left: on-demand cost of each pool "
            "over the measured window (runs of different lengths differ by length too). "
            "Right: the fleet's cost per million completed requests.",
            "Cost breakdown",
        ),
    ]
