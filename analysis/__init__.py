"""Analysis of fleetsim traces with pandas: loading, metrics, summaries.

Typical use::

    import analysis
    df = analysis.load_trace("runs/alexa/requests.parquet")
    summary = analysis.summarize(df)
"""

from analysis.metrics import (
    SUMMARY_KEYS,
    MetricsAccumulator,
    busy_time_s,
    cost_usd,
    latency_percentiles_s,
    slo_attainment,
    summarize,
    summarize_trace,
)
from analysis.reader import info_from_metadata, load_trace, run_info
from analysis.sweeps import load_sweep

__all__ = [
    "SUMMARY_KEYS",
    "MetricsAccumulator",
    "info_from_metadata",
    "busy_time_s",
    "cost_usd",
    "latency_percentiles_s",
    "load_sweep",
    "load_trace",
    "run_info",
    "slo_attainment",
    "summarize",
    "summarize_trace",
]
