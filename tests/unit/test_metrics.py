"""Summary metrics on a hand-made trace, where every number can be worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import same

import analysis

INFO = {
    "duration_s": 10.0,
    "warmup_s": 2.0,
    "slo_percentile": 50.0,
    "slo_target_s": 0.5,
    "pools": [
        {
            "pool": "p",
            "count": 2,
            "replicas_per_instance": 2,
            "usd_per_hour": 3.6,
            "projected": False,
            "instance_type": "x",
        }
    ],
}
nan = math.nan


def frame():
    # id, arrival, start, finish, service, batch, status
    rows = [
        (0, 1.0, 1.0, 2.0, 1.0, 1, "ok"),  # warm-up: excluded from counts
        (1, 3.0, 3.0, 3.4, 0.4, 2, "ok"),  # batch of 2 with id 2
        (2, 3.1, 3.0, 3.4, 0.4, 2, "ok"),  # (start before arrival impossible, but
        (3, 4.0, 4.5, 5.5, 1.0, 1, "ok"),  #  metrics do not care)
        (4, 5.0, nan, nan, nan, 0, "dropped"),
        (5, 9.8, 9.8, nan, 0.6, 1, "in_flight"),  # younger than target at end: unknown
        (6, 9.0, nan, nan, nan, 0, "in_flight"),  # waited 1.0 > 0.5: a known miss
    ]
    df = pd.DataFrame(
        rows,
        columns=[
            "request_id",
            "arrival_s",
            "start_s",
            "finish_s",
            "service_s",
            "batch_size",
            "status",
        ],
    )
    df["latency_s"] = df.finish_s - df.arrival_s
    df["queue_s"] = df.start_s - df.arrival_s
    df["pool"] = pd.Categorical(["p"] * len(df))
    df["warmup"] = df.arrival_s < 2.0
    return df


def test_counts_percentiles_and_throughput():
    """Counts exclude warm-up; percentiles over completed requests only."""
    s = analysis.summarize(frame(), INFO)
    assert (s["requests"], s["completed"], s["dropped"], s["in_flight"]) == (6, 3, 1, 2)
    assert s["throughput_per_s"] == pytest.approx(3 / 8)
    lat = np.array([0.4, 0.3, 1.5])
    assert s["latency_p50_s"] == pytest.approx(np.percentile(lat, 50))
    assert s["latency_p99_s"] == pytest.approx(np.percentile(lat, 99))
    assert s["latency_mean_s"] == pytest.approx(lat.mean())


def test_slo_attainment_counts_drops_and_late_in_flight_as_misses():
    """met = 2 (0.4, 0.3 <= 0.5); known = 3 ok + 1 dropped + 1 late in-flight = 5."""
    s = analysis.summarize(frame(), INFO)
    assert s["slo_attainment"] == pytest.approx(2 / 5)
    assert s["slo_met"] is False


def test_utilisation_counts_each_batch_once_inside_window():
    """Busy: 0.4 (batch of 2, once) + 1.0 + 0.2 (clipped at the end); warm-up batch outside."""
    s = analysis.summarize(frame(), INFO)
    assert s["utilisation"]["p"] == pytest.approx((0.4 + 1.0 + 0.2) / (2 * 2 * 8.0))


def test_cost_over_measured_window():
    """2 instances x $3.6/h x 8 s = $0.016; per million completed = 0.016 / 3 * 1e6."""
    s = analysis.summarize(frame(), INFO)
    assert s["cost_usd"] == pytest.approx(0.016)
    assert s["cost_per_million_usd"] == pytest.approx(0.016 / 3 * 1e6)


def test_busy_time_window_clipping():
    """A batch straddling the warm-up boundary counts only its part inside the window."""
    share = analysis.busy_time_s(
        np.array([1.5, nan]), np.array([1.0, nan]), np.array([2, 0]), 2.0, 10.0
    )
    assert share.tolist() == [0.25, 0.0]


def test_a_latency_equal_to_the_target_meets_the_slo():
    """``<=``, not ``<``: deterministic service makes a latency exactly at the target
    common, and it meets the objective."""
    met, known = analysis.slo_attainment(
        np.array(["ok", "ok", "ok"]), np.array([0.5, 0.25, 0.75]), np.zeros(3), 0.5, 10.0
    )
    assert (met, known) == (2, 3)


def test_exact_percentiles_leave_out_the_warm_up_in_both_passes(tmp_path):
    """The exact percentiles' second pass keeps only measured requests, as the first pass
    counts them: warm-up latencies placed in the very bins the percentiles need would shift
    every order statistic if they slipped in."""
    rng = np.random.default_rng(5)
    n = 4000
    latency = rng.uniform(0.010, 0.011, n)  # one narrow range: pass 2 is needed
    warm = np.arange(n) < n // 2
    df = pd.DataFrame({
        "request_id": np.arange(n), "arrival_s": np.where(warm, 1.0, 5.0),
        "start_s": np.where(warm, 1.0, 5.0), "service_s": 0.001, "batch_size": 1,
    })  # fmt: skip
    df["finish_s"] = df.arrival_s + np.where(warm, rng.uniform(0.010, 0.011, n), latency)
    df["latency_s"] = df.finish_s - df.arrival_s
    df["queue_s"] = 0.0
    df["status"] = pd.Categorical(["ok"] * n)
    df["pool"] = pd.Categorical(["p"] * n)
    df["warmup"] = warm
    measured = df.latency_s[~warm].to_numpy()
    want = np.percentile(measured, [50, 90, 99, 99.9])
    s = analysis.summarize(df, INFO)
    got = [s["latency_p50_s"], s["latency_p90_s"], s["latency_p99_s"], s["latency_p999_s"]]
    assert got == pytest.approx(want, rel=1e-12)


def test_summarize_needs_the_run_facts():
    """A frame without ``attrs["fleetsim"]`` (not from ``load_trace``) and no ``info`` is a
    clear error, not a KeyError."""
    with pytest.raises(ValueError, match="needs the run facts: load the trace with"):
        analysis.summarize(frame())
    df = frame()
    df.attrs["fleetsim"] = INFO
    assert analysis.summarize(df)["requests"] == 6


def test_counts_slo_and_busy_time_add_up_over_row_groups(tmp_path, monkeypatch):
    """A trace streamed in many row groups gives the summary of the whole frame: counts,
    SLO hits and busy time accumulate over the groups; progress ends at 1."""
    import sim.engine.runner as runner
    from sim.engine.api import prepare
    from sim.engine.trace_writer import TraceWriter

    def small_groups(*args, **kwargs):
        return TraceWriter(*args, **{**kwargs, "rows_per_group": 5000})

    monkeypatch.setattr(runner, "TraceWriter", small_groups)
    scenario, _ = prepare("scenarios/amazon_search.yaml", duration="8s")
    path = runner.simulate(scenario, tmp_path / "t.parquet").trace_path
    fractions = []
    streamed = analysis.summarize_trace(path, fractions.append)
    whole = analysis.summarize(analysis.load_trace(path))
    assert streamed["requests"] == whole["requests"] > 5 * 5000
    for key in ("completed", "dropped", "in_flight", "slo_attainment", "latency_p99_s"):
        assert streamed[key] == pytest.approx(whole[key], rel=1e-12), key
    assert streamed["utilisation"] == pytest.approx(whole["utilisation"], rel=1e-12)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_a_pipelined_pool_counts_its_busy_time_once_per_stage():
    """A pipelined replica holds ``pipeline_depth`` batches at once: each occupies it for
    its time inside divided by the depth."""
    info = {**INFO, "pools": [{**INFO["pools"][0], "pipeline_depth": 2}]}
    s = analysis.summarize(frame(), info)
    assert s["utilisation"]["p"] == pytest.approx((0.4 + 1.0 + 0.2) / 2 / (2 * 2 * 8.0))


def test_slo_edges():
    """A request still in flight that waited exactly the target is not yet a miss; young
    in-flight requests are unknown, drops are misses; an attainment exactly at the
    percentile meets the objective."""
    status = np.array(["ok", "ok", "dropped", "in_flight", "in_flight", "in_flight"])
    latency = np.array([0.5, 0.9, nan, nan, nan, nan])
    arrival = np.array([0.0, 0.0, 0.0, 9.5, 9.0, 9.9])  # in flight for 0.5, 1.0, 0.1 s
    met, known = analysis.slo_attainment(status, latency, arrival, 0.5, 10.0)
    assert (met, known) == (1, 4)  # ok, ok, dropped, the one in flight for 1.0 s
    half = frame().iloc[[1, 3]]  # latencies 0.4 (met) and 1.5 (missed): attainment 1/2
    s = analysis.summarize(half, INFO)
    assert s["slo_attainment"] == 0.5 and s["slo_met"] is True
    assert (s["slo_percentile"], s["slo_target_s"]) == (50.0, 0.5)
    assert set(s) == set(analysis.SUMMARY_KEYS)


def test_labels_need_not_be_categorical_and_may_be_missing():
    """Plain-string pool and status columns give the categorical result; a row with no pool
    adds busy time to no pool."""
    plain = frame()
    plain["pool"] = plain["pool"].astype(str)
    plain["status"] = plain["status"].astype(str)
    assert same(analysis.summarize(plain, INFO), analysis.summarize(frame(), INFO))
    orphan = frame()
    orphan["pool"] = pd.Categorical(["p", None, "p", "p", "p", "p", "p"])
    s = analysis.summarize(orphan, INFO)
    assert s["utilisation"]["p"] == pytest.approx((0.4 - 0.2 + 1.0 + 0.2) / (2 * 2 * 8.0))
