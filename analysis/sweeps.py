"""Sweep results on disk: their layout, and reading them with pandas.

A sweep directory (``fleetsim sweep``) is a Hive-partitioned dataset::

    DIR/summary.parquet                         one row per (point, replication)
    DIR/sweep.json                              the points of the sweep as last run
    DIR/points/point_id=<id>/scenario.yaml      the resolved scenario of the point
    DIR/points/point_id=<id>/replication=<r>/summary.json
    DIR/points/point_id=<id>/replication=<r>/requests.parquet   (when traces are kept)
    DIR/points/point_id=<id>/_failed-replication=<r>.json       (a replication that failed)

Names starting with ``_`` or ``.`` are skipped by pyarrow.dataset and by the glob
``points/*/*/requests.parquet`` that DuckDB reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from analysis.reader import read_trace_frame

if TYPE_CHECKING:  # pandas is imported where it is used: runs never need it
    import pandas as pd

SUMMARY_PARQUET = "summary.parquet"
MANIFEST = "sweep.json"
POINTS = "points"
POINT_SCENARIO = "scenario.yaml"
RUN_SUMMARY = "summary.json"
RUN_TRACE = "requests.parquet"
STATUS_OK = "ok"
STATUS_FAILED = "failed"


def point_dir(sweep_dir: str | Path, point_id: str) -> Path:
    """The directory of one point: ``DIR/points/point_id=<id>``."""
    return Path(sweep_dir) / POINTS / f"point_id={point_id}"


def replication_dir(sweep_dir: str | Path, point_id: str, replication: int) -> Path:
    """The run directory of one replication of a point."""
    return point_dir(sweep_dir, point_id) / f"replication={replication}"


def failure_file(sweep_dir: str | Path, point_id: str, replication: int) -> Path:
    """Where a failed replication's error is recorded (beside, not inside, its directory)."""
    return point_dir(sweep_dir, point_id) / f"_failed-replication={replication}.json"


def is_sweep_dir(path: str | Path) -> bool:
    """True if ``path`` is a directory written by ``fleetsim sweep``."""
    return (Path(path) / MANIFEST).is_file()


def flatten_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """One flat row from a run's ``summary.json``: nested values become dotted columns.

    ``pools`` (a list, one entry per pool) becomes ``pools.<pool>.<field>``;
    ``utilisation`` becomes ``utilisation.<pool>``; ``stages`` (pipelines, one entry per
    stage) ``stages.<pipeline>.<stage>.<field>``; ``trace`` becomes ``trace.mode`` and
    ``trace.fraction``.
    """
    row: dict[str, Any] = {}
    for key, value in summary.items():
        if key == "pools":
            for pool in value:
                for field, item in pool.items():
                    if field != "pool":
                        row[f"pools.{pool['pool']}.{field}"] = item
        elif key == "stages":  # pipelines: one entry per stage of each
            for stage in value:
                for field, item in stage.items():
                    if field not in ("route", "stage"):
                        row[f"stages.{stage['route']}.{stage['stage']}.{field}"] = item
        elif isinstance(value, dict):
            for field, item in value.items():
                row[f"{key}.{field}"] = item
        else:
            row[key] = value
    return row


def load_sweep(path: str | Path) -> pd.DataFrame:
    """A sweep's ``summary.parquet``: one row per (point, replication).

    Columns: ``point_id``, ``replication``, one per varied field (named by its dotted path,
    e.g. ``fleet.0.count``), every key of the runs' ``summary.json`` (per-pool values as
    ``pools.<pool>.<field>`` and ``utilisation.<pool>``; latencies in seconds, costs in
    US dollars), ``status`` (``ok`` or ``failed``) and ``error``.

    Args:
        path: The sweep directory (or its ``summary.parquet``).

    Raises:
        FileNotFoundError: no ``summary.parquet`` there.

    """
    path = Path(path)
    if path.is_dir():
        path = path / SUMMARY_PARQUET
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no sweep summary here (run `fleetsim sweep` first)")
    return pq.read_table(path).to_pandas()


def load_sweep_trace(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Every request trace a sweep kept, with ``point_id`` and ``replication`` in front.

    One row per request. Only the points of the sweep as last run are read (the ``ok``
    rows of ``summary.parquet``), never points an earlier sweep file left behind.

    Args:
        path: The sweep directory.
        columns: Load only these trace columns (all by default).

    Raises:
        FileNotFoundError: not a sweep directory, or it kept no traces (``trace: summary``).

    """
    import pandas as pd

    summary = load_sweep(path)
    ok = summary[summary["status"] == STATUS_OK]
    frames = []
    for point_id, replication in zip(ok["point_id"], ok["replication"], strict=True):
        trace = replication_dir(path, point_id, int(replication)) / RUN_TRACE
        if not trace.is_file():
            continue
        frame = read_trace_frame(trace, columns)
        frame.insert(0, "replication", int(replication))
        frame.insert(0, "point_id", point_id)
        frames.append(frame)
    if not frames:
        raise FileNotFoundError(
            f"{path}: the sweep kept no request traces (it ran with trace: summary); "
            "its metrics are in summary.parquet (analysis.load_sweep)"
        )
    df = pd.concat(frames, ignore_index=True)
    for column in ("point_id", "pool", "model", "status"):
        if column in df.columns:
            df[column] = df[column].astype("category")
    return df


def manifest(path: str | Path) -> dict[str, Any]:
    """The sweep's ``sweep.json``: its name, replications, varied fields and points."""
    return json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
