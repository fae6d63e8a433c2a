"""Reading fleetsim parquet traces and the run facts in their metadata (``analysis.schema``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from analysis.schema import (
    ATTEMPTS,
    META_HARDWARE_VERSION,
    META_RUN,
    META_SCENARIO_YAML,
    META_TRACE,
    META_VERSION,
)

if TYPE_CHECKING:  # pandas is imported where it is used: runs never need it
    import pandas as pd


def run_info(path: str | Path) -> dict[str, Any]:
    """The run facts a trace carries: durations (s), SLO, pools with prices, versions.

    Returns:
        A dict with keys ``duration_s``, ``warmup_s``, ``slo_percentile``, ``slo_target_s``,
        ``pools`` (list of dicts with ``pool``, ``count``, ``replicas_per_instance``,
        ``usd_per_hour``, ...), plus ``scenario_yaml``, ``fleetsim_version`` and
        ``hardware_model_version``.

    """
    meta = pq.read_schema(path).metadata or {}
    if META_RUN.encode() not in meta:
        raise ValueError(f"{path} is not a fleetsim trace (no fleetsim.run metadata)")
    return info_from_metadata({k.decode(): v.decode() for k, v in meta.items()})


def info_from_metadata(meta: dict[str, str]) -> dict[str, Any]:
    """The run facts of ``run_info`` from a trace's metadata as strings (key -> value)."""
    info = json.loads(meta[META_RUN])
    info["scenario_yaml"] = meta.get(META_SCENARIO_YAML, "")
    info["fleetsim_version"] = meta.get(META_VERSION, "")
    info["hardware_model_version"] = meta.get(META_HARDWARE_VERSION, "")
    info["trace"] = json.loads(meta.get(META_TRACE, '{"mode": "full", "fraction": 1.0}'))
    return info


def load_trace(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Load a trace as a DataFrame, one row per request, with the run facts in ``df.attrs``.

    ``pool``, ``model`` and ``status`` are categoricals; times are float seconds (NaN where a
    request never started or never finished). A trace written before client retries has no
    ``attempts`` column: it is added, 1 for every request (``with_attempts``).

    Args:
        path: A ``requests.parquet`` written by ``fleetsim run``, or a sweep directory
            (``fleetsim sweep``): every trace it kept, with ``point_id`` and ``replication``
            columns in front (``analysis.sweeps.load_sweep_trace``).
        columns: Load only these columns (all by default).

    """
    from analysis.sweeps import is_sweep_dir, load_sweep_trace

    if is_sweep_dir(path):
        return load_sweep_trace(path, columns)
    df = read_trace_frame(path, columns)
    df.attrs["fleetsim"] = run_info(path)
    return df


def read_trace_frame(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """One trace file's rows as a DataFrame (no run facts); ``attempts`` as ``with_attempts``.

    Args:
        path: A ``requests.parquet``.
        columns: Read only these columns, in this order (all by default); ``attempts`` may
            be asked of a trace written without it.

    """
    present = set(pq.read_schema(path).names)
    wanted = None if columns is None else [c for c in columns if c != ATTEMPTS or c in present]
    df = pq.read_table(path, columns=wanted).to_pandas()
    if columns is None or ATTEMPTS in columns:
        df = with_attempts(df)
        if columns is not None:
            df = df[list(columns)]
    return df


def with_attempts(df: pd.DataFrame) -> pd.DataFrame:
    """The trace with its ``attempts`` column; a trace without one made one attempt each.

    Args:
        df: A trace DataFrame (any columns).

    Returns:
        ``df`` itself if it has the column, else a copy with ``attempts`` = 1 (int32) last.

    """
    if ATTEMPTS in df.columns:
        return df
    import numpy as np

    out = df.assign(**{ATTEMPTS: np.ones(len(df), dtype=np.int32)})
    out.attrs = dict(df.attrs)
    return out
