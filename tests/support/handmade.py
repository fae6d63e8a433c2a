"""Hand-made traces and run directories, whose every metric can be worked out by hand.

Imported as ``handmade`` by the analysis tests (intervals, time series, comparison, runs).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.schema import META_RUN, META_SCENARIO_YAML, META_SEED, META_TRACE, STATUSES

NAN = math.nan


def info(duration_s=10.0, warmup_s=0.0, target_s=1.0, pools=None, **extra) -> dict:
    """Run facts: one pool ``a`` of one instance at 3.6 USD/hour (0.001 USD/s) by default."""
    return {
        "duration_s": duration_s,
        "warmup_s": warmup_s,
        "slo_percentile": 99.0,
        "slo_target_s": target_s,
        "pools": pools or [pool("a")],
        **extra,
    }


def pool(name: str, count: int = 1, replicas: int = 1, usd_per_hour: float = 3.6) -> dict:
    """A pool's run facts."""
    return {"pool": name, "count": count, "replicas_per_instance": replicas,
            "usd_per_hour": usd_per_hour}  # fmt: skip


def frame(facts: dict, arrival_s, latency_s, *, status=None, service_s=None, start_s=None,
          batch_size=None, pools=None, finish_s=None) -> pd.DataFrame:  # fmt: skip
    """A trace frame (with ``df.attrs["fleetsim"] = facts``) from per-request columns.

    By default every request is ``ok``, starts on arrival, is served alone for its whole
    latency in pool ``a``; a dropped or in-flight request gets NaN where the engine writes NaN.
    ``finish_s`` overrides the finish times (a timed-out request served after its deadline).
    """
    arrival = np.asarray(arrival_s, dtype=float)
    n = arrival.size
    latency = np.asarray(latency_s, dtype=float)
    status = np.asarray(status if status is not None else ["ok"] * n, dtype=object)
    start = arrival.copy() if start_s is None else np.asarray(start_s, dtype=float)
    service = latency.copy() if service_s is None else np.asarray(service_s, dtype=float)
    size = np.ones(n, dtype=np.int32) if batch_size is None else np.asarray(batch_size)
    dropped = status == "dropped"
    start[dropped], service[dropped], size[dropped] = NAN, NAN, 0
    latency = np.where(status == "ok", latency, NAN)
    df = pd.DataFrame({
        "request_id": np.arange(n, dtype=np.int64),
        "arrival_s": arrival,
        "start_s": start,
        "finish_s": arrival + latency if finish_s is None else np.asarray(finish_s, float),
        "latency_s": latency,
        "service_s": service,
        "batch_size": size.astype(np.int32),
        "pool": pd.Categorical(pools if pools is not None else ["a"] * n),
        "status": pd.Categorical(status, categories=list(STATUSES)),
        "warmup": arrival < facts["warmup_s"],
    })  # fmt: skip
    df.attrs["fleetsim"] = dict(facts, trace=facts.get("trace", {"mode": "full", "fraction": 1.0}))
    return df


def write_trace(path: Path, df: pd.DataFrame, rows_per_group: int = 1_000_000,
                seed: int = 1) -> Path:  # fmt: skip
    """Write ``df`` as a trace (its run facts in the metadata) in row groups of that size."""
    facts = {k: v for k, v in df.attrs["fleetsim"].items() if k != "trace"}
    trace = df.attrs["fleetsim"].get("trace", {"mode": "full", "fraction": 1.0})
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata({
        META_RUN: json.dumps(facts),
        META_SEED: str(seed),
        META_SCENARIO_YAML: f"seed: {seed}\n",
        META_TRACE: json.dumps(trace),
    })  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=rows_per_group)
    return path


def regroup(source: Path, target: Path, rows_per_group: int) -> Path:
    """Copy a trace with smaller row groups (the same rows and metadata)."""
    table = pq.read_table(source)
    pq.write_table(table, target, row_group_size=rows_per_group)
    return target


def run_dir(directory: Path, df: pd.DataFrame | None, summary: dict, seed: int = 1) -> Path:
    """A run directory: ``summary.json`` and, unless ``df`` is None, ``requests.parquet``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    if df is not None:
        write_trace(directory / "requests.parquet", df, seed=seed)
    return directory
