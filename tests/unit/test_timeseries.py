"""The time series of a run: a hand-made trace worked out window by window, the utilisation
that adds up to the summary's, a file streamed in small row groups, bounded memory."""

from __future__ import annotations

import copy
import tracemalloc

import numpy as np
import pandas as pd
import pytest
import yaml
from handmade import frame, info, regroup, write_trace
from helpers import ROOT, scenario

import analysis
import sim
from analysis.timeseries import spread_s

NAN = float("nan")


def six_requests() -> pd.DataFrame:
    """2.5 s in windows of 1 s (the last 0.5 s), warm-up 1 s, SLO target 0.6 s.

    r0 0.1 -> 0.4; r1 0.5 -> 1.5 (busy 0.5 + 0.5); r5 0.9, served 1.7 -> 2.4; r2 1.2,
    served 1.5 -> 1.7; r3 1.9 dropped; r4 2.1, started 2.4, still running at 2.5.
    """
    return frame(
        info(duration_s=2.5, warmup_s=1.0, target_s=0.6),
        arrival_s=[0.1, 0.5, 0.9, 1.2, 1.9, 2.1],
        latency_s=[0.3, 1.0, 1.5, 0.5, NAN, NAN],
        status=["ok", "ok", "ok", "ok", "dropped", "in_flight"],
        start_s=[0.1, 0.5, 1.7, 1.5, NAN, 2.4],
        service_s=[0.3, 1.0, 0.7, 0.2, NAN, 1.0],
    )


def test_every_column_by_hand():
    """Counts by arrival (drops too), completions and percentiles by finish, clipped busy time."""
    ts = analysis.time_series(six_requests(), window_s=1.0)
    expected = pd.DataFrame({
        "window_start_s": [0.0, 1.0, 2.0],
        "window_end_s": [1.0, 2.0, 2.5],
        "warmup": [True, False, False],
        "arrivals": [3, 2, 1],
        "arrival_rate_per_s": [3.0, 2.0, 2.0],
        "completed": [1, 2, 1],
        "throughput_per_s": [1.0, 2.0, 2.0],
        "goodput_per_s": [1.0, 1.0, 0.0],
        "dropped": [0, 1, 0],
        "timed_out": [0, 0, 0],
        "failed": [0, 0, 0],
        "in_flight_at_end": [2, 1, 1],
        "latency_p50_s": [0.3, 0.75, 1.5],
        "latency_p99_s": [0.3, 0.995, 1.5],
        "utilisation.a": [0.8, 1.0, 1.0],
    })  # fmt: skip
    pd.testing.assert_frame_equal(ts, expected, check_dtype=False, rtol=1e-12)


def test_a_window_without_completions_has_nan_percentiles():
    """Windows of 0.25 s: nothing finishes in [0, 0.25)."""
    ts = analysis.time_series(six_requests(), window_s=0.25)
    assert len(ts) == 10 and ts.completed.sum() == 4 and ts.arrivals.sum() == 6
    assert np.isnan(ts.latency_p99_s.iloc[0]) and ts.latency_p99_s.iloc[1] == 0.3


def test_spread_puts_each_part_of_an_interval_in_its_window():
    """[0.5, 2.7) over windows of 1 s to 3 s: 0.5, 1, 0.7 (times the weight); NaN adds nothing."""
    out = spread_s(np.array([0.5, NAN, 2.9]), np.array([2.2, 1.0, 5.0]),
                   np.array([2.0, 1.0, 1.0]), 1.0, 3.0)  # fmt: skip
    assert out == pytest.approx([1.0, 2.0, 1.4 + 0.1])


@pytest.mark.parametrize("window_s", [0, -1.0, NAN, float("inf"), "60s", True])
def test_bad_window_is_refused(window_s):
    """The error names window_s and the value."""
    with pytest.raises(ValueError, match="window_s must be a positive number of seconds"):
        analysis.time_series(six_requests(), window_s=window_s)


@pytest.fixture(scope="module")
def two_pool_run(tmp_path_factory):
    """Alexa's pool (NeuronCore-v1: host stage, staged tail) plus an Inf2 pool, 2 s."""
    data = yaml.safe_load((ROOT / "scenarios" / "alexa.yaml").read_text())
    data["duration"], data["warmup"] = "2s", "0.5s"
    second = copy.deepcopy(data["fleet"][0])
    second.update(name="nlu2", instance="inf2.xlarge", count=1)
    data["fleet"].append(second)
    return sim.run(scenario(data), tmp_path_factory.mktemp("ts") / "run")


def test_window_utilisations_add_up_to_the_summary(two_pool_run):
    """Weighted by window length over the measured window, each pool's window utilisations
    give the summary's utilisation (warm-up 0.5 s: a window boundary)."""
    ts = analysis.time_series(two_pool_run.out_dir, window_s=0.25)
    measured = ts[~ts.warmup]
    length = measured.window_end_s - measured.window_start_s
    for name, value in two_pool_run.summary["utilisation"].items():
        weighted = float((measured[f"utilisation.{name}"] * length).sum() / length.sum())
        assert weighted == pytest.approx(value, rel=1e-9), name
    assert ts.arrivals.sum() == two_pool_run.trace_rows
    last = ts.iloc[-1]
    assert last.in_flight_at_end == two_pool_run.summary["in_flight"]


def test_streaming_small_row_groups_equals_in_memory(two_pool_run, tmp_path):
    """The trace rewritten in row groups of 500 rows gives the same frame, bit for bit."""
    small = regroup(two_pool_run.trace_path, tmp_path / "small.parquet", 500)
    streamed = analysis.time_series(small, window_s=0.25)
    loaded = analysis.time_series(analysis.load_trace(two_pool_run.trace_path), window_s=0.25)
    # counts and percentiles exact; busy times summed chunk by chunk: equal to rounding
    pd.testing.assert_frame_equal(streamed, loaded, check_exact=False, rtol=1e-12)
    counts = ["arrivals", "completed", "dropped", "in_flight_at_end", "latency_p50_s",
              "latency_p99_s"]  # fmt: skip
    pd.testing.assert_frame_equal(streamed[counts], loaded[counts], check_exact=True)


def peak_bytes(function) -> int:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_bounded_by_a_row_group_not_the_trace(tmp_path):
    """300,000 requests in row groups of 10,000, windows of 5 s: streaming peaks well below
    the loaded frame (< 20% of it), while loading the frame first peaks above it (so the
    measure sees whole-trace allocations). Streaming memory grows with windows x latency
    bins (``analysis.quantiles.GroupedPercentiles``), not with requests."""
    rng = np.random.default_rng(7)
    n = 300_000
    arrival = np.sort(rng.uniform(0, 100.0, n))
    latency = rng.exponential(0.01, n)
    df = frame(info(duration_s=100.0, warmup_s=10.0, target_s=0.02), arrival, latency)
    path = write_trace(tmp_path / "big.parquet", df, rows_per_group=10_000)
    frame_bytes = int(analysis.load_trace(path).memory_usage(deep=True).sum())
    streamed = peak_bytes(lambda: analysis.time_series(path, window_s=5.0))
    loaded = peak_bytes(lambda: analysis.time_series(analysis.load_trace(path), window_s=5.0))
    print(f"frame {frame_bytes:,} B, streamed peak {streamed:,} B, loaded peak {loaded:,} B")
    assert streamed < 0.2 * frame_bytes
    assert loaded > frame_bytes


def test_timeouts_and_failures_leave_the_fleet_when_they_end():
    """Windows of 1 s over 3 s: r1 times out served late (finish 1.6: window 1), r2 times out
    unserved (no finish: its arrival window 0), r3 fails (window 1), r4 still in flight."""
    df = frame(
        info(duration_s=3.0, target_s=1.0),
        arrival_s=[0.2, 0.4, 0.6, 1.2, 2.5],
        latency_s=[0.3, NAN, NAN, NAN, NAN],
        status=["ok", "timed_out", "timed_out", "failed", "in_flight"],
        start_s=[0.2, 0.9, NAN, NAN, NAN],
        finish_s=[0.5, 1.6, NAN, NAN, NAN],
    )
    ts = analysis.time_series(df, window_s=1.0)
    assert ts.arrivals.tolist() == [3, 1, 1]
    assert ts.completed.tolist() == [1, 0, 0]
    assert ts.timed_out.tolist() == [1, 1, 0]
    assert ts.failed.tolist() == [0, 1, 0]
    assert ts.dropped.tolist() == [0, 0, 0]
    assert ts.in_flight_at_end.tolist() == [1, 0, 1]
