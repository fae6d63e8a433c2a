"""Many runs in one table: run directories, directories of runs and sweeps.

``load_runs`` gives one row per run with its ``summary.json`` flattened
(``analysis.sweeps.flatten_summary``) and, where the run kept its request trace, the
batch-means intervals of ``analysis.estimates.summarize_with_intervals`` as ``<key>_low``
and ``<key>_high`` columns. A run without a trace (``--trace summary``) or with a sampled
one still loads its summary; its interval columns are NaN and ``ci_reason`` says why.
Sweep rows carry no batch-means intervals: a sweep's replications give better ones
(``replication_summary``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.estimates import DEFAULT_BATCHES, summarize_with_intervals
from analysis.intervals import CONFIDENCE, replication_interval
from analysis.sweeps import (
    RUN_SUMMARY,
    RUN_TRACE,
    STATUS_OK,
    flatten_summary,
    is_sweep_dir,
    load_sweep,
    replication_dir,
)

if TYPE_CHECKING:  # pandas is imported where it is used: runs never need it
    import pandas as pd

CI_KEYS = ("latency_p50_s", "latency_p90_s", "latency_p99_s", "latency_p999_s",
           "throughput_per_s", "goodput_per_s", "slo_attainment",
           "cost_per_million_successful_usd")  # fmt: skip
"""The metrics that get ``_low``/``_high`` interval columns."""
REPLICATION_METRICS = ("latency_p99_s", "throughput_per_s", "cost_per_million_usd",
                       "slo_attainment")  # fmt: skip


def _is_run_dir(path: Path) -> bool:
    return (path / RUN_SUMMARY).is_file()


def _run_row(label: str, path: Path, batches: int, confidence: float) -> dict[str, Any]:
    """One run directory's row: summary, intervals (if it has a full trace)."""
    summary = json.loads((path / RUN_SUMMARY).read_text(encoding="utf-8"))
    row: dict[str, Any] = {"run": label, "path": str(path), **flatten_summary(summary)}
    for key in CI_KEYS:
        row[f"{key}_low"] = row[f"{key}_high"] = math.nan
    row["ci_method"], row["ci_reason"] = "", ""
    mode = summary.get("trace", {}).get("mode", "full")
    if not (path / RUN_TRACE).is_file():
        row["ci_reason"] = "no request trace (the run used --trace summary)"
    elif mode != "full":
        row["ci_reason"] = f"the trace keeps a sample of the requests (trace mode {mode!r})"
    else:
        result = summarize_with_intervals(path, batches=batches, confidence=confidence)
        row["goodput_per_s"] = result["goodput_per_s"]
        row["cost_per_million_successful_usd"] = result["cost_per_million_successful_usd"]
        reasons = []
        for key in CI_KEYS:
            interval = result[f"{key}_ci"]
            row[f"{key}_low"], row[f"{key}_high"] = interval.low, interval.high
            if interval.reason:
                reasons.append(f"{key}: {interval.reason}")
        row["ci_method"] = result["throughput_per_s_ci"].method
        row["ci_reason"] = "; ".join(reasons)
    return row


def _sweep_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for record in load_sweep(path).to_dict("records"):
        point, replication = record["point_id"], int(record["replication"])
        rows.append({
            "run": f"{path.name}/{point}/{replication}",
            "path": str(replication_dir(path, point, replication)),
            **record,
            "ci_reason": "a sweep row: intervals across its replications "
                         "(analysis.replication_summary)",
        })  # fmt: skip
    return rows


def load_runs(
    paths: str | Path | Iterable[str | Path],
    *,
    batches: int = DEFAULT_BATCHES,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """One row per run, from run directories, directories of runs and sweep directories.

    Args:
        paths: A path or several; each a run directory (``summary.json``, maybe
            ``requests.parquet``), a directory whose subdirectories are run directories,
            or a sweep directory (its ``summary.parquet`` rows).
        batches: Batches for the intervals (``analysis.estimates``).
        confidence: Confidence level of the intervals.

    Returns:
        Columns ``run`` (a label: the directory name, ``parent/name`` inside a directory of
        runs, ``sweep/point/replication`` for a sweep), ``path``, the flattened summary,
        ``<key>_low``/``<key>_high`` for the keys in ``CI_KEYS``, ``ci_method`` and
        ``ci_reason`` (why intervals are missing or rest on fewer batches).

    Raises:
        FileNotFoundError: a path that is none of these (naming it).

    """
    import pandas as pd

    if isinstance(paths, str | Path):
        paths = [paths]
    rows: list[dict[str, Any]] = []
    for given in paths:
        path = Path(given)
        if is_sweep_dir(path):
            rows.extend(_sweep_rows(path))
        elif _is_run_dir(path):
            rows.append(_run_row(path.name, path, batches, confidence))
        elif path.is_dir() and any(_is_run_dir(p) for p in path.iterdir()):
            for sub in sorted(p for p in path.iterdir() if _is_run_dir(p)):
                rows.append(_run_row(f"{path.name}/{sub.name}", sub, batches, confidence))
        else:
            raise FileNotFoundError(
                f"{path}: not a run directory (no {RUN_SUMMARY}), a directory of runs or a "
                "sweep directory (no sweep.json)"
            )
    return pd.DataFrame(rows)


def varied_columns(sweep_df: pd.DataFrame) -> list[str]:
    """A sweep frame's varied fields: the columns between ``replication`` and ``scenario``."""
    columns = list(sweep_df.columns)
    if "replication" not in columns or "scenario" not in columns:
        return []
    return columns[columns.index("replication") + 1 : columns.index("scenario")]


def replication_summary(
    sweep_df: pd.DataFrame,
    metrics: Sequence[str] = REPLICATION_METRICS,
    *,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """A sweep's metrics per point, with Student-t intervals across its replications.

    Args:
        sweep_df: ``analysis.load_sweep(DIR)`` (one row per point and replication).
        metrics: Summary columns to summarise.
        confidence: Confidence level.

    Returns:
        One row per point: ``point_id``, the varied columns, ``replications`` (ok ones),
        ``failed``, and ``<metric>_mean``, ``<metric>_low``, ``<metric>_high`` per metric
        (NaN ends with one replication).

    Raises:
        ValueError: a metric that is not a column (naming it and the columns there are).

    """
    import pandas as pd

    missing = [m for m in metrics if m not in sweep_df.columns]
    if missing:
        raise ValueError(
            f"replication_summary: no column {', '.join(map(repr, missing))} in the sweep "
            f"frame; metrics must be among its columns, e.g. {', '.join(REPLICATION_METRICS)}"
        )
    by = ["point_id", *varied_columns(sweep_df)]
    status = sweep_df["status"] if "status" in sweep_df else pd.Series(STATUS_OK, sweep_df.index)
    rows = []
    for key, group in sweep_df.groupby(by, sort=False, dropna=False):
        ok = group[status.loc[group.index] == STATUS_OK]
        row = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        row["replications"], row["failed"] = len(ok), len(group) - len(ok)
        for metric in metrics:
            if len(ok):
                interval = replication_interval(ok[metric].astype(float), confidence)
                row |= {f"{metric}_mean": interval.estimate, f"{metric}_low": interval.low,
                        f"{metric}_high": interval.high}  # fmt: skip
            else:
                row |= dict.fromkeys((f"{metric}_mean", f"{metric}_low", f"{metric}_high"),
                                     math.nan)  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)
