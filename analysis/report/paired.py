"""Runs on the same arrivals, compared with paired intervals (``analysis.paired_comparison``).

Runs of the same scenario seed and workload that differ only in the fleet or the policies
(Inf1 against Inf2 against a GPU, say) see the same requests at the same times, so their
differences can be measured without the noise of different arrivals. Each run with a full
trace is compared with the first earlier run it shares arrivals with; runs that share
arrivals with none start a group of their own.
"""

from __future__ import annotations

import math
from typing import Any

from analysis.comparison import paired_comparison
from analysis.report.formatting import NO_INTERVAL, number
from analysis.report.html import Table
from analysis.report.inputs import READ_ERRORS, ReportInputError, RunSource

METRICS = (
    ("latency_p99_s", "p99 latency", 1e3, "ms"),
    ("cost_per_million_usd", "cost per million completed", 1.0, "USD"),
    ("cost_per_million_successful_usd", "cost per million within SLO", 1.0, "USD"),
    ("throughput_per_s", "throughput", 1.0, "/s"),
)


def paired_tables(runs: list[RunSource]) -> list[Table]:
    """One table per run that others share arrivals with: their differences from it."""
    groups: dict[str, list[tuple[RunSource, Any]]] = {}
    bases: list[RunSource] = []
    for run in (r for r in runs if r.trace_mode == "full"):
        for base in bases:
            try:
                frame = paired_comparison(base.trace, run.trace)
            except ValueError:  # not the same arrivals
                continue
            except READ_ERRORS as exc:
                raise ReportInputError(run.path, f"unreadable parquet trace ({exc})") from None
            groups[base.label].append((run, frame))
            break
        else:
            bases.append(run)
            groups[run.label] = []
    return [_table(base, groups[base.label]) for base in bases if groups[base.label]]


def _table(base: RunSource, compared: list[tuple[RunSource, Any]]) -> Table:
    rows = []
    for key, name, scale, unit in METRICS:
        cells = []
        for _, frame in compared:
            match = frame[frame["metric"] == key]
            cells.append(_cell(match.iloc[0], scale) if len(match) else "-")
        rows.append([f"{name} ({unit})", *cells])
    caption = (
        f"Paired differences from {base.label} (same seed and arrivals): run - {base.label} "
        "[95% interval by paired batch means] and the ratio run / "
        f"{base.label}; {NO_INTERVAL.strip()}: too few requests for an interval"
    )
    names = [run.label + (" (PROJECTED)" if run.projected else "") for run, _ in compared]
    return Table(caption, ["", *names], rows)


def _cell(row: Any, scale: float) -> str:
    difference = row["difference"] * scale
    if not math.isfinite(difference):
        return "-"
    ratio = f" (x{row['ratio']:.4g})" if math.isfinite(row["ratio"]) else ""
    low, high = row["low"] * scale, row["high"] * scale
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{number(difference)}{NO_INTERVAL}{ratio}"
    return f"{number(difference)} [{number(low)}, {number(high)}]{ratio}"
