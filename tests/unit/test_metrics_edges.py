"""Summary metrics and trace reading at their edges: several pools, several chunks, files
read without a progress callback, run facts a trace may lack, and sweep directories.

Every trace here is written by hand (pyarrow) so each number can be worked out by hand.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import same

import analysis
from analysis.metrics import PERCENTILES, MetricsAccumulator
from analysis.schema import (
    META_HARDWARE_VERSION,
    META_RUN,
    META_SCENARIO_YAML,
    META_TRACE,
    META_VERSION,
)

nan = math.nan


def pool(name: str, count: int = 1) -> dict:
    return {"pool": name, "count": count, "replicas_per_instance": 1, "usd_per_hour": 3.6}


INFO = {
    "duration_s": 10.0,
    "warmup_s": 0.0,
    "slo_percentile": 50.0,
    "slo_target_s": 1.0,
    "pools": [pool("a"), pool("b")],
}


def rows(spec: list[tuple]) -> pd.DataFrame:
    """A trace frame from (arrival, start, latency, service, batch, pool, status) rows."""
    df = pd.DataFrame(
        spec,
        columns=["arrival_s", "start_s", "latency_s", "service_s", "batch_size", "pool",
                 "status"],
    )  # fmt: skip
    df.insert(0, "request_id", np.arange(len(df)))
    df["warmup"] = df.arrival_s < INFO["warmup_s"]
    df["pool"] = pd.Categorical(df["pool"])
    df["status"] = pd.Categorical(df["status"])
    return df


def two_pools() -> pd.DataFrame:
    return rows([
        (1.0, 1.0, 0.5, 0.5, 1, "a", "ok"),
        (2.0, 2.0, 2.0, 2.0, 1, "b", "ok"),  # pool b is busy 2 s of 10
        (3.0, 3.0, 0.25, 0.25, 1, "b", "ok"),
        (4.0, nan, nan, nan, 0, "a", "dropped"),
        (9.5, 9.5, nan, 1.0, 1, "a", "in_flight"),  # busy 0.5 s inside the window
    ])  # fmt: skip


def write_trace(path, df: pd.DataFrame, info: dict, rows_per_group: int, **meta: str) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata({META_RUN: json.dumps(info), **meta})
    pq.write_table(table, path, row_group_size=rows_per_group)


def test_every_pool_gets_its_own_utilisation():
    """Busy time is split by pool: a 0.5 s + 0.5 s (clipped) on a, 2.25 s on b, over 10 s."""
    s = analysis.summarize(two_pools(), INFO)
    assert s["utilisation"] == pytest.approx({"a": 1.0 / 10, "b": 2.25 / 10}, rel=1e-12)
    assert (s["requests"], s["completed"], s["dropped"], s["in_flight"]) == (5, 3, 1, 1)


def test_counts_add_up_over_chunks_whatever_chunk_holds_them():
    """Drops and in-flight requests in an early chunk are still counted when a later chunk
    has none: the accumulator adds, chunk by chunk."""
    df = two_pools().iloc[[3, 4, 0, 1, 2]].reset_index(drop=True)  # drop, in flight first
    acc = MetricsAccumulator(INFO)
    for start in range(0, len(df), 2):
        acc.add(df.iloc[start : start + 2])
    if acc.needs_second_pass():
        acc.keep(df.latency_s[df.status == "ok"].to_numpy())
    s = acc.result()
    assert (s["requests"], s["completed"], s["dropped"], s["in_flight"]) == (5, 3, 1, 1)
    assert same(s, analysis.summarize(df, INFO))


def test_summarize_trace_needs_no_progress_callback_and_reports_each_group(tmp_path):
    """A trace file summarised without a progress callback gives the in-memory summary; with
    one, progress is 0.8 x groups done over the first pass, then 1."""
    df = two_pools()
    path = tmp_path / "requests.parquet"
    write_trace(path, df, INFO, rows_per_group=2)  # 3 row groups
    assert same(analysis.summarize_trace(path), analysis.summarize(df, INFO))
    fractions: list[float] = []
    analysis.summarize_trace(path, fractions.append)
    assert fractions == pytest.approx([0.8 / 3, 1.6 / 3, 0.8, 1.0], rel=1e-12)


def test_summarize_trace_second_pass_reports_progress(tmp_path):
    """Latencies spread inside one histogram bin need the second pass: it reports from 0.8
    to 1 per group, and the percentiles are exact."""
    n = 400
    latency = 0.010 + np.arange(n) * 1e-9  # distinct values, all in one narrow bin
    df = rows([(1.0, 1.0, lat, 0.001, 1, "a", "ok") for lat in latency])
    path = tmp_path / "requests.parquet"
    write_trace(path, df, INFO, rows_per_group=200)  # 2 row groups
    fractions: list[float] = []
    s = analysis.summarize_trace(path, fractions.append)
    assert fractions == pytest.approx([0.4, 0.8, 0.9, 1.0, 1.0], rel=1e-12)
    assert s["latency_p99_s"] == pytest.approx(np.percentile(latency, 99), rel=1e-12)
    assert MetricsAccumulator(INFO).needs_second_pass() is False  # nothing counted yet
    assert PERCENTILES == (50.0, 90.0, 99.0, 99.9)


def test_summarize_names_the_missing_columns():
    """A frame loaded with only some columns is refused, naming what is missing and how to
    load it."""
    with pytest.raises(ValueError) as error:
        analysis.summarize(two_pools().drop(columns=["service_s", "warmup"]), INFO)
    assert str(error.value) == (
        "summarize needs the trace columns service_s, warmup, which this frame lacks; load "
        "them too (analysis.load_trace(path) loads every column)"
    )
    with pytest.raises(ValueError) as error:
        analysis.summarize(two_pools())
    assert str(error.value) == (
        "summarize needs the run facts: load the trace with analysis.load_trace, or pass "
        "info=analysis.run_info(path)"
    )


def test_run_info_reads_the_facts_and_defaults_what_a_trace_lacks(tmp_path):
    """The scenario and versions a trace carries come back under their documented keys; a
    trace without them gets empty strings and the full-trace mode."""
    path = tmp_path / "requests.parquet"
    write_trace(path, two_pools(), INFO, 100, **{
        META_SCENARIO_YAML: "name: x\n", META_VERSION: "1.2.3", META_HARDWARE_VERSION: "hw-7",
        META_TRACE: '{"mode": "sample", "fraction": 0.5}',
    })  # fmt: skip
    info = analysis.run_info(path)
    assert info["scenario_yaml"] == "name: x\n"
    assert info["fleetsim_version"] == "1.2.3"
    assert info["hardware_model_version"] == "hw-7"
    assert info["trace"] == {"mode": "sample", "fraction": 0.5}
    assert info["pools"] == INFO["pools"]
    bare = analysis.info_from_metadata({META_RUN: json.dumps(INFO)})
    keys = ("scenario_yaml", "fleetsim_version", "hardware_model_version", "trace")
    assert {k: bare[k] for k in keys} == {
        "scenario_yaml": "",
        "fleetsim_version": "",
        "hardware_model_version": "",
        "trace": {"mode": "full", "fraction": 1.0},
    }
    assert analysis.load_trace(path).attrs["fleetsim"] == info


def test_run_info_refuses_a_parquet_file_that_is_not_a_trace(tmp_path):
    """Any other parquet file is refused by name, not with a KeyError."""
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), path)
    with pytest.raises(ValueError, match=r"other\.parquet is not a fleetsim trace"):
        analysis.run_info(path)


def test_load_trace_of_a_sweep_reads_its_traces_with_the_columns_asked_for(tmp_path):
    """A sweep directory loads as every kept trace, point and replication in front, with
    only the requested columns."""
    pq.write_table(
        pa.table({"point_id": ["p0", "p1"], "replication": [0, 0], "status": ["ok", "ok"]}),
        tmp_path / "summary.parquet",
    )
    (tmp_path / "sweep.json").write_text("{}")
    for point, latency in (("p0", 0.5), ("p1", 0.25)):
        run = tmp_path / "points" / f"point_id={point}" / "replication=0"
        run.mkdir(parents=True)
        df = two_pools().assign(latency_s=latency)
        write_trace(run / "requests.parquet", df, INFO, 100)
    got = analysis.load_trace(tmp_path, columns=["latency_s"])
    assert list(got.columns) == ["point_id", "replication", "latency_s"]
    assert got.latency_s.tolist() == [0.5] * 5 + [0.25] * 5
    assert list(analysis.load_trace(tmp_path).columns[:3]) == [
        "point_id", "replication", "request_id"
    ]  # fmt: skip


def test_busy_time_outside_the_window_counts_nothing():
    """A batch that ended before the window, or starts after it, adds no busy time (not a
    negative one); one straddling the start counts its part inside, shared by its size."""
    share = analysis.busy_time_s(
        start_s=np.array([0.5, 1.5, 11.0, nan]),
        service_s=np.array([1.0, 1.0, 1.0, nan]),
        batch_size=np.array([1, 2, 1, 0]),
        window_start_s=2.0,
        window_end_s=10.0,
    )
    assert share.tolist() == [0.0, 0.25, 0.0, 0.0]


def test_a_pool_that_served_nothing_is_idle():
    """A pool with no rows in the trace has utilisation 0."""
    info = {**INFO, "pools": [*INFO["pools"], pool("idle", count=3)]}
    assert analysis.summarize(two_pools(), info)["utilisation"]["idle"] == 0.0


def test_no_known_outcome_leaves_the_slo_undecided():
    """Only young in-flight requests: attainment is NaN and ``slo_met`` is None, not False."""
    s = analysis.summarize(rows([(9.9, 9.9, nan, 1.0, 1, "a", "in_flight")]), INFO)
    assert math.isnan(s["slo_attainment"]) and s["slo_met"] is None


def test_an_attainment_just_below_the_percentile_misses():
    """99 of 100 requests within target is 99%: it misses a p99.5 objective, meets p99."""
    df = rows([(1.0, 1.0, 0.5 if i else 2.0, 0.001, 1, "a", "ok") for i in range(100)])
    assert analysis.summarize(df, {**INFO, "slo_percentile": 99.5})["slo_met"] is False
    assert analysis.summarize(df, {**INFO, "slo_percentile": 99.0})["slo_met"] is True
