"""Writing a sweep's dataset: the manifest, each point's scenario, and ``summary.parquet``.

``summary.parquet`` is rebuilt from the points' own files every time, so it can never
disagree with them. The layout is described in ``analysis.sweeps``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.sweeps import (
    MANIFEST,
    POINT_SCENARIO,
    RUN_SUMMARY,
    STATUS_FAILED,
    STATUS_OK,
    SUMMARY_PARQUET,
    failure_file,
    flatten_summary,
    point_dir,
    replication_dir,
)
from sim.engine.output import write_json
from sim.sweep.points import Point
from sim.sweep.tasks import read_failure


def write_manifest(
    sweep_dir: Path,
    *,
    name: str,
    replications: int,
    trace: str,
    sample_fraction: float | None,
    varied: list[str],
    points: list[Point],
    source: str,
) -> None:
    """Write ``sweep.json``: what ran, and its points with their settings.

    ``source`` is the sweep file's text (or the plan command); ``summary.parquet`` and
    ``analysis.load_trace`` read the points listed here.
    """
    write_json(
        sweep_dir / MANIFEST,
        {
            "name": name,
            "replications": replications,
            "trace": trace,
            "sample_fraction": sample_fraction if trace == "sample" else None,
            "varied": varied,
            "points": [{"point_id": p.point_id, "settings": p.settings} for p in points],
            "source": source,
        },
    )


def write_point_scenarios(sweep_dir: Path, points: list[Point]) -> None:
    """Write each point's ``scenario.yaml`` (atomically; left alone when already there)."""
    for point in points:
        path = point_dir(sweep_dir, point.point_id) / POINT_SCENARIO
        if path.is_file() and path.read_text(encoding="utf-8") == point.text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(point.text, encoding="utf-8")
        os.replace(tmp, path)


def summary_rows(sweep_dir: Path, points: list[dict[str, Any]], replications: int) -> list[dict]:
    """One row per (point, replication) that is complete (``ok``) or has failed.

    Args:
        sweep_dir: The sweep directory.
        points: The manifest's points (``point_id`` and ``settings``).
        replications: Replications of each point.

    """
    rows = []
    for point in points:
        for replication in range(replications):
            row: dict[str, Any] = {"point_id": point["point_id"], "replication": replication}
            row |= point["settings"]
            summary_path = replication_dir(sweep_dir, point["point_id"], replication)
            failed = failure_file(sweep_dir, point["point_id"], replication)
            try:
                summary = json.loads((summary_path / RUN_SUMMARY).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                summary = None
            if summary is not None:
                row |= flatten_summary(summary) | {"status": STATUS_OK, "error": None}
            elif failed.is_file():
                row |= {"status": STATUS_FAILED, "error": read_failure(failed)}
            else:
                continue  # not run yet (an interrupted sweep)
            rows.append(row)
    return rows


def write_summary(sweep_dir: Path, varied: list[str], rows: list[dict[str, Any]]) -> Path:
    """Write ``summary.parquet`` atomically from the rows; return its path.

    Columns: ``point_id``, ``replication``, the varied fields in order, then the run
    summary's keys, ``status`` and ``error``. A varied field's column is integer if every
    value is, floating point if every value is a number, else text as written.
    """
    df = pd.DataFrame(rows)
    leading = ["point_id", "replication", *varied]
    for column in leading + ["status", "error"]:
        if column not in df.columns:
            df[column] = pd.Series(dtype=object)
    rest = [c for c in df.columns if c not in leading and c not in ("status", "error")]
    df = df[leading + rest + ["status", "error"]]
    for column in varied:
        df[column] = _uniform(df[column])
    for column in rest:  # failed rows have no metrics: keep integers and flags typed
        df[column] = _nullable(df[column], [row.get(column) for row in rows])
    df["replication"] = df["replication"].astype("int64")
    df["point_id"] = df["point_id"].astype(str)
    df["error"] = df["error"].astype(object).where(df["error"].notna(), None)
    table = pa.Table.from_pandas(df, preserve_index=False)
    path = sweep_dir / SUMMARY_PARQUET
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def _uniform(column: pd.Series) -> pd.Series:
    """A varied field's values as one parquet type: int64, float64 or text."""
    values = list(column)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return column.astype("int64")
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return column.astype("float64")
    if all(isinstance(v, bool) for v in values):
        return column.astype(bool)
    return column.map(lambda v: v if isinstance(v, str) else json.dumps(v)).astype(object)


def _nullable(column: pd.Series, values: list[Any]) -> pd.Series:
    """A summary column with missing values: integers as Int64, flags as boolean.

    Args:
        column: The column as pandas built it (integers with a gap became floats).
        values: Its values as the rows held them (None where a row has none).

    """
    present = [v for v in values if v is not None]
    if len(present) == len(values) or not present:
        return column
    if all(isinstance(v, bool) for v in present):
        return column.astype("boolean")
    if all(isinstance(v, int) for v in present):
        return column.astype("Int64")
    return column
