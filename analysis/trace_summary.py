"""The summary of a trace: from a loaded frame (``summarize``), or from its files.

``summarize_trace`` reads the files one row group at a time and recomputes what
``fleetsim run`` wrote to summary.json from the files a run leaves: requests.parquet, and
beside it instances.parquet (the fleet's lifetimes) and, with pipelines, stages.parquet
(every stage's batches and latencies).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq

from analysis.fleet_figures import lifetimes_beside, with_fleet
from analysis.metrics import (
    NEEDED_COLUMNS,
    STAGE_COLUMNS,
    STAGE_USAGE_COLUMNS,
    MetricsAccumulator,
)
from analysis.reader import run_info
from analysis.schema import STAGES_FILE
from analysis.stage_latency import stage_latencies_of, stage_latencies_of_frame

if TYPE_CHECKING:
    import pandas as pd  # a run imports analysis but never loads pandas


def completed_latencies(chunk: pd.DataFrame) -> np.ndarray:
    """Latencies (s) of the completed requests of a chunk that arrived after the warm-up."""
    keep = (~chunk["warmup"].to_numpy(dtype=bool)) & (chunk["status"].astype(str) == "ok")
    return chunk["latency_s"].to_numpy(dtype=float)[np.asarray(keep)]


def summarize(
    df: pd.DataFrame, info: dict[str, Any] | None = None, stages: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Summary metrics of a loaded trace (keys in ``SUMMARY_KEYS``; times in s, money in USD).

    Args:
        df: A trace from ``load_trace`` (or any frame with its columns).
        info: Run facts; by default ``df.attrs["fleetsim"]`` as set by ``load_trace``.
        stages: For a run with pipelines, its ``stages.parquet`` rows: each pool's usage
            counts its own stage's batches, which ``df`` (one row per request, at its last
            stage) does not hold.

    Raises:
        ValueError: ``df`` lacks columns the metrics need (it was loaded with ``columns=``);
            a run with pipelines and no ``stages``.

    """
    missing = [c for c in NEEDED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"summarize needs the trace columns {', '.join(missing)}, which this frame lacks; "
            "load them too (analysis.load_trace(path) loads every column)"
        )
    if info is None and "fleetsim" not in df.attrs:
        raise ValueError(
            "summarize needs the run facts: load the trace with analysis.load_trace, or pass "
            "info=analysis.run_info(path)"
        )
    info = info if info is not None else df.attrs["fleetsim"]
    if info.get("pipelines") and stages is None:
        raise ValueError(
            f"this run has pipelines ({', '.join(info['pipelines'])}): each pool's usage needs "
            "every stage's rows; pass summarize stages=pd.read_parquet(<run>/stages.parquet), "
            "or give the run directory instead of a frame (summarize_trace, "
            "summarize_with_intervals and time_series read stages.parquet beside the trace)"
        )
    acc = MetricsAccumulator(info)
    if stages is not None:
        acc.add_stage_rows(stages)
    acc.add(df, usage=stages is None)
    if acc.needs_second_pass():
        acc.keep(completed_latencies(df))
    result = acc.result()
    if stages is not None:
        result["stages"] = stage_latencies_of_frame(stages)
    return result


def summarize_trace(
    path: str | Path, progress: Callable[[float], None] | None = None
) -> dict[str, Any]:
    """Summary metrics of a trace file, read one row group at a time.

    Memory does not grow with the trace: exact percentiles take a second pass over the
    latency column only where the first pass could not pin them down
    (``analysis.quantiles``).

    Args:
        path: A trace written by ``fleetsim run``.
        progress: Called with the fraction of the work done (0..1) after each row group.

    """
    acc = MetricsAccumulator(run_info(path))
    parquet = pq.ParquetFile(path)
    present = set(parquet.schema_arrow.names)
    columns = NEEDED_COLUMNS + [c for c in STAGE_COLUMNS if c in present]
    groups = parquet.num_row_groups
    stages = Path(path).with_name(STAGES_FILE)
    if stages.exists():  # pipelines: every stage's batches count toward its pool's usage
        stage_file = pq.ParquetFile(stages)
        for i in range(stage_file.num_row_groups):
            acc.add_stage_rows(
                stage_file.read_row_group(i, columns=STAGE_USAGE_COLUMNS).to_pandas()
            )
    for i in range(groups):
        acc.add(parquet.read_row_group(i, columns=columns).to_pandas(), usage=not stages.exists())
        if progress is not None:
            progress((i + 1) / groups * 0.8)  # the latency pass, if any, is lighter
    if acc.needs_second_pass():
        for i in range(groups):
            chunk = parquet.read_row_group(i, columns=["latency_s", "status", "warmup"])
            acc.keep(completed_latencies(chunk.to_pandas()))
            if progress is not None:
                progress(0.8 + 0.2 * (i + 1) / groups)
    if progress is not None:
        progress(1.0)
    lifetimes = lifetimes_beside(path)
    result = acc.result() if lifetimes is None else with_fleet(acc.result(), lifetimes, acc.info)
    if stages.exists():
        result["stages"] = stage_latencies_of(stages)
    return result
