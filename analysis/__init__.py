"""Analysis of fleetsim traces with pandas: loading, metrics, intervals, time series.

Typical use::

    import analysis
    df = analysis.load_trace("runs/alexa/requests.parquet")
    summary = analysis.summarize(df)                      # point estimates
    ci = analysis.summarize_with_intervals("runs/alexa")  # + 95% intervals (batch means)
    print(ci["latency_p99_s_ci"])                         # 0.012 [0.0118, 0.0122]
    minutes = analysis.time_series("runs/alexa", window_s=60)
    diff = analysis.paired_comparison("runs/inf1", "runs/inf2")   # same arrivals
    runs = analysis.load_runs(["runs/alexa", "runs/sweep"])       # one row per run

Functions that take a ``source`` accept a trace path, a run directory or a DataFrame from
``load_trace``; a path is streamed one row group at a time, in bounded memory. Methods:
``analysis.intervals`` (replications, batch means), ``analysis.estimates`` (percentile
intervals, goodput, cost per million successful), ``analysis.timeseries``,
``analysis.comparison``, ``analysis.runs``; docs/analysis.md explains them with examples.
"""

from analysis.comparison import paired_comparison
from analysis.estimates import (
    cost_per_million_successful_usd,
    goodput_per_s,
    percentile_interval,
    summarize_with_intervals,
)
from analysis.intervals import Interval, batch_means_interval, replication_interval
from analysis.metrics import (
    SUMMARY_KEYS,
    MetricsAccumulator,
    busy_time_s,
    cost_usd,
    latency_percentiles_s,
    slo_attainment,
)
from analysis.reader import info_from_metadata, load_trace, run_info
from analysis.runs import load_runs, replication_summary
from analysis.sweeps import load_sweep
from analysis.timeseries import time_series
from analysis.trace_summary import summarize, summarize_trace

__all__ = [
    "SUMMARY_KEYS",
    "Interval",
    "MetricsAccumulator",
    "batch_means_interval",
    "busy_time_s",
    "cost_per_million_successful_usd",
    "cost_usd",
    "goodput_per_s",
    "info_from_metadata",
    "latency_percentiles_s",
    "load_runs",
    "load_sweep",
    "load_trace",
    "paired_comparison",
    "percentile_interval",
    "replication_interval",
    "replication_summary",
    "run_info",
    "slo_attainment",
    "summarize",
    "summarize_trace",
    "summarize_with_intervals",
    "time_series",
]
