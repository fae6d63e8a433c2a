"""The summary of a trace file, read back one row group at a time.

``summarize_trace`` recomputes what ``fleetsim run`` wrote to summary.json from the files a
run leaves: requests.parquet, and beside it instances.parquet (the fleet's lifetimes) and,
with pipelines, stages.parquet (every stage's batches and latencies).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from analysis.fleet_figures import lifetimes_beside, with_fleet
from analysis.metrics import (
    NEEDED_COLUMNS,
    STAGE_COLUMNS,
    MetricsAccumulator,
    completed_latencies,
)
from analysis.reader import run_info
from analysis.schema import STAGES_FILE
from analysis.stage_latency import stage_latencies_of


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
            acc.add_stage_rows(stage_file.read_row_group(i).to_pandas())
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
