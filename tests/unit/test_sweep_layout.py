"""A sweep directory's layout and its readers (``analysis.sweeps``), on directories made by
hand: exact paths, flattened summaries, and which traces ``load_sweep_trace`` reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import analysis
from analysis import sweeps
from analysis.metrics import latency_percentiles_s


def test_layout_paths():
    """Points, replications and failure records live where the docstring says."""
    assert sweeps.point_dir("out", "a1") == Path("out/points/point_id=a1")
    assert sweeps.replication_dir("out", "a1", 2) == Path("out/points/point_id=a1/replication=2")
    assert sweeps.failure_file("out", "a1", 2) == Path(
        "out/points/point_id=a1/_failed-replication=2.json"
    )


def test_flatten_summary_makes_dotted_columns():
    """Pools become ``pools.<pool>.<field>``, pipeline stages
    ``stages.<pipeline>.<stage>.<field>``, other mappings ``<key>.<field>``."""
    summary = {
        "requests": 10,
        "utilisation": {"a": 0.5, "b": 0.25},
        "pools": [{"pool": "a", "count": 2, "usd_per_hour": 1.5}, {"pool": "b", "count": 1}],
        "stages": [{"route": "voice", "stage": 1, "model": "m", "latency_p99_s": 0.01}],
        "trace": {"mode": "full", "fraction": 1.0},
    }
    assert sweeps.flatten_summary(summary) == {
        "requests": 10,
        "utilisation.a": 0.5,
        "utilisation.b": 0.25,
        "pools.a.count": 2,
        "pools.a.usd_per_hour": 1.5,
        "pools.b.count": 1,
        "stages.voice.1.model": "m",
        "stages.voice.1.latency_p99_s": 0.01,
        "trace.mode": "full",
        "trace.fraction": 1.0,
    }


def make_sweep(root: Path, rows: list[tuple[str, int, str]], traces: dict) -> None:
    """summary.parquet with (point_id, replication, status) rows; a trace per given key."""
    point, replication, status = zip(*rows, strict=True)
    pq.write_table(
        pa.table({"point_id": list(point), "replication": list(replication),
                  "status": list(status)}),
        root / "summary.parquet",
    )  # fmt: skip
    (root / "sweep.json").write_text(json.dumps({"name": "s", "points": len(set(point))}))
    for (p, r), latency in traces.items():
        run = sweeps.replication_dir(root, p, r)
        run.mkdir(parents=True)
        frame = pd.DataFrame(
            {
                "request_id": [0, 1],
                "latency_s": latency,
                "pool": ["x", "y"],
                "model": ["m", "m"],
                "status": ["ok", "ok"],
            }
        )
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False),
                       run / "requests.parquet")  # fmt: skip


def test_load_sweep_reads_the_summary_from_the_directory_or_the_file(tmp_path):
    """The directory or its summary.parquet; anything else is a FileNotFoundError that says
    to run the sweep first."""
    make_sweep(tmp_path, [("p0", 0, "ok"), ("p0", 1, "failed")], {})
    from_dir = analysis.load_sweep(tmp_path)
    assert from_dir.status.tolist() == ["ok", "failed"]
    assert from_dir.equals(analysis.load_sweep(tmp_path / "summary.parquet"))
    assert sweeps.manifest(tmp_path) == {"name": "s", "points": 1}
    assert sweeps.is_sweep_dir(tmp_path) and not sweeps.is_sweep_dir(tmp_path / "points")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError) as error:
        analysis.load_sweep(empty)
    assert str(error.value) == (
        f"{empty / 'summary.parquet'}: no sweep summary here (run `fleetsim sweep` first)"
    )


def test_load_sweep_trace_reads_only_the_ok_runs_that_kept_a_trace(tmp_path):
    """A failed replication's stale trace is not read; an ok run without a trace is skipped;
    the labels come back as categoricals."""
    make_sweep(
        tmp_path,
        [("p0", 0, "ok"), ("p0", 1, "failed"), ("p2", 0, "ok"), ("p1", 0, "ok")],
        {("p0", 0): [0.5, 0.5], ("p0", 1): [9.0, 9.0], ("p1", 0): [0.25, 0.25]},
    )
    df = sweeps.load_sweep_trace(tmp_path)
    assert df.point_id.tolist() == ["p0", "p0", "p1", "p1"]
    assert df.replication.tolist() == [0, 0, 0, 0]
    assert df.latency_s.tolist() == [0.5, 0.5, 0.25, 0.25]
    assert df.index.tolist() == [0, 1, 2, 3]  # one row per request, numbered afresh
    for column in ("point_id", "pool", "model", "status"):
        assert isinstance(df[column].dtype, pd.CategoricalDtype), column
    only = sweeps.load_sweep_trace(tmp_path, columns=["latency_s"])
    assert list(only.columns) == ["point_id", "replication", "latency_s"]
    assert isinstance(only.point_id.dtype, pd.CategoricalDtype)


def test_a_sweep_that_kept_no_trace_says_where_its_metrics_are(tmp_path):
    """``trace: summary`` sweeps have no request traces: the error points to load_sweep."""
    make_sweep(tmp_path, [("p0", 0, "ok")], {})
    with pytest.raises(FileNotFoundError) as error:
        sweeps.load_sweep_trace(tmp_path)
    assert str(error.value) == (
        f"{tmp_path}: the sweep kept no request traces (it ran with trace: summary); its "
        "metrics are in summary.parquet (analysis.load_sweep)"
    )


def test_latency_percentiles_are_numpy_linear_and_nan_when_empty():
    """Percentiles 50, 90, 99, 99.9 by linear interpolation; NaN for each when empty."""
    values = np.array([0.1, 0.2, 0.3, 0.4, 1.0])
    assert latency_percentiles_s(values) == pytest.approx([0.3, 0.76, 0.976, 0.9976], rel=1e-12)
    assert latency_percentiles_s([0.1, 0.3], q=(50.0,)) == pytest.approx([0.2])
    empty = latency_percentiles_s(np.array([]))
    assert len(empty) == 4 and all(np.isnan(empty))
