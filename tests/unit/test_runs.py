"""Many runs in one table (load_runs) and a sweep's replications with intervals
(replication_summary), on hand-made run and sweep directories."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from handmade import frame, info, run_dir

import analysis

T2 = 4.302653  # t_{2, 0.975}


def summary(p99: float, mode: str = "full") -> dict:
    return {"scenario": "x", "seed": 1, "latency_p99_s": p99, "throughput_per_s": 10.0,
            "utilisation": {"a": 0.5}, "pools": [{"pool": "a", "count": 1}],
            "trace": {"mode": mode, "fraction": 1.0}}  # fmt: skip


def trace() -> pd.DataFrame:
    arrival = [0.05 * j for j in range(200)]
    return frame(
        info(duration_s=10.0, target_s=0.5), arrival, [0.1 + 0.001 * (j % 7) for j in range(200)]
    )


@pytest.fixture
def runs(tmp_path):
    """runs/full (trace and summary) and runs/lean (summary only)."""
    run_dir(tmp_path / "runs" / "full", trace(), summary(0.106))
    run_dir(tmp_path / "runs" / "lean", None, summary(0.2))
    return tmp_path / "runs"


def test_a_directory_of_runs_gives_one_row_each(runs):
    """Labels parent/name in name order; summary columns flattened; intervals where a trace is."""
    df = analysis.load_runs(runs)
    assert list(df.run) == ["runs/full", "runs/lean"]
    assert list(df["utilisation.a"]) == [0.5, 0.5]
    full, lean = df.iloc[0], df.iloc[1]
    ci = analysis.summarize_with_intervals(runs / "full")
    assert (full.throughput_per_s_low, full.throughput_per_s_high) == (
        ci["throughput_per_s_ci"].low, ci["throughput_per_s_ci"].high)  # fmt: skip
    assert full.goodput_per_s == ci["goodput_per_s"] == 20.0
    assert full.ci_method == "batch means (10 batches)"
    assert "latency_p99_s: 200 completed requests" in full.ci_reason  # too few for a p99
    assert math.isnan(lean.latency_p99_s_low) and lean.latency_p99_s == 0.2
    assert lean.ci_reason == "no request trace (the run used --trace summary)"


def test_run_directories_and_sweeps_mix(runs, tmp_path):
    """A run directory alone is labelled by its name; a sweep adds its summary rows."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "sweep.json").write_text(json.dumps({"name": "s", "points": []}))
    sweep_frame().to_parquet(sweep / "summary.parquet")
    df = analysis.load_runs([runs / "lean", sweep])
    assert list(df.run) == ["lean", "sweep/p1/0", "sweep/p1/1", "sweep/p1/2", "sweep/p2/0",
                            "sweep/p2/1"]  # fmt: skip
    assert df.path.iloc[1].endswith("points/point_id=p1/replication=0")
    assert "replication_summary" in df.ci_reason.iloc[1]


def test_something_else_is_refused_naming_it(tmp_path):
    """A path that is no run, directory of runs or sweep: FileNotFoundError with the path."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty: not a run directory"):
        analysis.load_runs(tmp_path / "empty")


def sweep_frame() -> pd.DataFrame:
    """Point p1: p99 1, 2, 3 s; point p2: 4 s and a failed replication."""
    return pd.DataFrame({
        "point_id": ["p1", "p1", "p1", "p2", "p2"],
        "replication": [0, 1, 2, 0, 1],
        "fleet.0.count": [2, 2, 2, 4, 4],
        "scenario": ["x"] * 5,
        "latency_p99_s": [1.0, 2.0, 3.0, 4.0, np.nan],
        "throughput_per_s": [10.0, 10.0, 10.0, 20.0, np.nan],
        "status": ["ok", "ok", "ok", "ok", "failed"],
    })  # fmt: skip


def test_replication_summary_by_hand():
    """p1: mean 2, +/- t_2 / sqrt(3); p2: one ok replication (no interval), one failed."""
    df = analysis.replication_summary(sweep_frame(), ["latency_p99_s", "throughput_per_s"])
    assert list(df.columns) == ["point_id", "fleet.0.count", "replications", "failed",
                                "latency_p99_s_mean", "latency_p99_s_low", "latency_p99_s_high",
                                "throughput_per_s_mean", "throughput_per_s_low",
                                "throughput_per_s_high"]  # fmt: skip
    p1, p2 = df.iloc[0], df.iloc[1]
    half = T2 / math.sqrt(3)
    assert (p1.latency_p99_s_low, p1.latency_p99_s_high) == pytest.approx((2 - half, 2 + half))
    assert (p1.throughput_per_s_low, p1.throughput_per_s_high) == (10.0, 10.0)
    assert (p2.replications, p2.failed, p2.latency_p99_s_mean) == (1, 1, 4.0)
    assert math.isnan(p2.latency_p99_s_low)


def test_replication_summary_names_a_missing_metric():
    """A metric that is not a column: ValueError naming it."""
    with pytest.raises(ValueError, match="no column 'latency_p95_s'"):
        analysis.replication_summary(sweep_frame(), ["latency_p95_s"])
