"""Percentile intervals by batch means, goodput and cost per million successful inferences,
on hand-made traces whose batches and answers are worked out by hand; the same numbers
from a file streamed in small row groups; the errors users meet."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from handmade import frame, info, run_dir, write_trace
from helpers import same, scenario

import analysis
import sim
from analysis.estimates import needed_per_batch

C = [0.10, 0.12, 0.11, 0.13, 0.14]  # batch i's latencies: C[i] + 0.001 j, j = 0..19
T4 = 2.776445  # t_{4, 0.975}


def five_batches(warmup_rows: bool = False):
    """10 s, 5 batches of 2 s with 20 requests each (arriving 2i + 0.05 j)."""
    arrival = [2 * i + 0.05 * j for i in range(5) for j in range(20)]
    latency = [C[i] + 0.001 * j for i in range(5) for j in range(20)]
    return frame(info(duration_s=10.0, target_s=0.1255), arrival, latency)


def as_tuple(interval) -> tuple:
    return dataclasses.astuple(interval)


def test_median_interval_by_hand():
    """Batch medians are C[i] + 0.0095: the interval is the whole median +/- t_4 sd(C)/sqrt 5."""
    df = five_batches()
    interval = analysis.percentile_interval(df, 50, batches=5, min_per_batch=20)
    whole = float(np.percentile(df.latency_s, 50))
    half = T4 * float(np.std(C, ddof=1)) / math.sqrt(5)
    assert interval.estimate == whole
    assert interval.low == pytest.approx(whole - half, rel=1e-6)
    assert interval.high == pytest.approx(whole + half, rel=1e-6)
    assert (interval.method, interval.n, interval.reason) == ("batch means (5 batches)", 5, "")


def test_too_few_requests_per_batch_means_fewer_batches():
    """100 completed, 20 needed a batch: 5 of the 20 batches asked, with the reason."""
    df = five_batches()
    reduced = analysis.percentile_interval(df, 50, batches=20, min_per_batch=20)
    five = analysis.percentile_interval(df, 50, batches=5, min_per_batch=20)
    assert as_tuple(reduced)[:5] == as_tuple(five)[:5]
    assert "a p50 needs 20 per batch" in reduced.reason and "5 of the 20" in reduced.reason


def test_too_few_requests_for_any_interval_gives_nan_with_the_reason():
    """A p99 needs 5,000 completed requests a batch: with 100, no interval, the estimate kept."""
    df = five_batches()
    interval = analysis.percentile_interval(df, 99, batches=5)
    assert interval.estimate == float(np.percentile(df.latency_s, 99))
    assert math.isnan(interval.low) and math.isnan(interval.high)
    assert "5,000 per batch" in interval.reason and "at least 5" in interval.reason
    assert str(interval).endswith("[no interval]")


def test_a_batch_without_completed_requests_has_no_interval():
    """Batch 2 empty (its requests dropped): NaN ends, and the reason says so."""
    df = five_batches()
    status = np.where((df.arrival_s >= 4) & (df.arrival_s < 6), "dropped", "ok")
    df = frame(df.attrs["fleetsim"], df.arrival_s, df.latency_s, status=status)
    interval = analysis.percentile_interval(df, 10, batches=5, min_per_batch=10)
    assert math.isnan(interval.low) and "1 of 5 batches have no value" in interval.reason


def test_needed_per_batch():
    """50 / (1 - q/100) completed requests per batch: p50 100, p99 5,000, p99.9 50,000."""
    assert [needed_per_batch(q) for q in (50, 90, 99, 99.9)] == [100, 500, 5000, 50000]


def test_goodput_and_cost_per_million_successful_by_hand():
    """Within 0.1255 s: 20 + 6 + 16 requests of 100 in 10 s; the fleet costs 0.01 USD."""
    df = five_batches()
    assert analysis.goodput_per_s(df) == pytest.approx(4.2, rel=1e-12)
    assert analysis.cost_per_million_successful_usd(df) == pytest.approx(0.01 / 42 * 1e6)
    summary = analysis.summarize_with_intervals(df, batches=5)
    assert summary["cost_per_million_usd"] == pytest.approx(0.01 / 100 * 1e6)
    per_batch_goodput = np.array([20, 6, 16, 0, 0]) / 2.0
    half = T4 * float(np.std(per_batch_goodput, ddof=1)) / math.sqrt(5)
    assert summary["goodput_per_s_ci"].high == pytest.approx(4.2 + half, rel=1e-6)


def test_warmup_requests_are_left_out():
    """With a 2 s warm-up, batch 0's requests are not measured: 22 successful in 8 s."""
    df = five_batches()
    df = frame(info(duration_s=10.0, warmup_s=2.0, target_s=0.1255), df.arrival_s, df.latency_s)
    assert analysis.goodput_per_s(df) == pytest.approx(22 / 8.0)
    assert analysis.cost_per_million_successful_usd(df) == pytest.approx(0.008 / 22 * 1e6)
    interval = analysis.percentile_interval(df, 50, batches=4)
    assert interval.estimate == float(np.percentile(df.latency_s[20:], 50))


def test_nobody_successful_gives_nan_cost():
    """No request within the target: the cost per successful inference is NaN, not inf."""
    df = five_batches()
    df.attrs["fleetsim"] = dict(df.attrs["fleetsim"], slo_target_s=0.01)
    assert math.isnan(analysis.cost_per_million_successful_usd(df))


def test_summary_with_intervals_has_the_summary_and_an_interval_per_metric():
    """The keys of summarize, equal to it, plus goodput, cost per successful and the _ci keys."""
    df = five_batches()
    summary = analysis.summarize_with_intervals(df, batches=5)
    plain = analysis.summarize(df)
    assert all(same(summary[k], plain[k]) for k in plain)
    cis = {k for k in summary if k.endswith("_ci")}
    assert cis == {f"{k}_ci" for k in ("latency_p50_s", "latency_p90_s", "latency_p99_s",
                   "latency_p999_s", "throughput_per_s", "goodput_per_s", "slo_attainment",
                   "cost_per_million_successful_usd")}  # fmt: skip
    for key in cis:
        assert summary[key].estimate == pytest.approx(summary[key[:-3]], rel=1e-12), key


def test_a_file_streamed_in_small_row_groups_gives_the_same_intervals(tmp_path):
    """Row groups of 7 rows: every interval identical to the in-memory one."""
    df = five_batches()
    path = write_trace(tmp_path / "requests.parquet", df, rows_per_group=7)
    for q in (10, 50, 90, 99):
        a = analysis.percentile_interval(df, q, batches=5, min_per_batch=10)
        b = analysis.percentile_interval(path, q, batches=5, min_per_batch=10)
        assert same(dataclasses.asdict(a), dataclasses.asdict(b)), q
    streamed = analysis.summarize_with_intervals(tmp_path, batches=5, min_per_batch=10)
    loaded = analysis.summarize_with_intervals(df, batches=5, min_per_batch=10)
    for key in loaded:
        a, b = loaded[key], streamed[key]
        if key.endswith("_ci"):
            assert same(dataclasses.asdict(a), dataclasses.asdict(b)), key
        else:  # summarize and summarize_trace add busy times in a different order
            assert a == pytest.approx(b, rel=1e-12, nan_ok=True), key


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"q": 100}, "q must be a percentile between 0 and 100"),
    ({"q": 0}, "q must be a percentile"),
    ({"batches": 1}, "batches must be a whole number >= 2, got 1"),
    ({"batches": 2.5}, "batches must be a whole number"),
    ({"confidence": 95}, "confidence must be between 0 and 1"),
])  # fmt: skip
def test_bad_arguments_are_named(kwargs, message):
    """Each bad argument is refused with its name and value."""
    with pytest.raises(ValueError, match=message):
        analysis.percentile_interval(five_batches(), **kwargs)


def test_sources_that_cannot_be_read_are_explained(tmp_path):
    """A frame without run facts, a run without a trace, a missing path, a sweep directory."""
    df = five_batches()
    bare = df.copy()
    bare.attrs = {}
    with pytest.raises(ValueError, match="load it with analysis.load_trace"):
        analysis.percentile_interval(bare)
    run_dir(tmp_path / "summary-only", None, {"scenario": "x"})
    with pytest.raises(FileNotFoundError, match="--trace summary"):
        analysis.percentile_interval(tmp_path / "summary-only")
    with pytest.raises(FileNotFoundError, match="no such trace or run directory"):
        analysis.goodput_per_s(tmp_path / "nowhere")
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "sweep.json").write_text("{}")
    with pytest.raises(ValueError, match="is a sweep directory, not one run"):
        analysis.time_series(tmp_path / "sweep")
    with pytest.raises(TypeError, match="got int"):
        analysis.goodput_per_s(3)


def test_counts_from_a_sampled_trace_are_refused(tmp_path):
    """A sampled trace: percentiles are fine, goodput (a count) is refused, naming the mode."""
    df = five_batches()
    df.attrs["fleetsim"] = dict(df.attrs["fleetsim"], trace={"mode": "sample", "fraction": 0.5})
    path = write_trace(tmp_path / "requests.parquet", df)
    assert analysis.percentile_interval(path, 50, batches=5, min_per_batch=20).n == 5
    with pytest.raises(ValueError, match="keeps only a sample.*'sample', fraction 0.5"):
        analysis.goodput_per_s(path)


def test_on_a_simulated_run_the_estimates_are_the_summary(tmp_path):
    """An M/M/1 run of 30,000 requests: every _ci estimate is the run's summary.json value,
    bit for bit, and the p99 interval uses the 5 batches of 5,000+ the run supports."""
    from sim.coverage import mm1_scenario

    result = sim.run(scenario(mm1_scenario(0.7, 30_000)), tmp_path / "mm1")
    summary = analysis.summarize_with_intervals(result.out_dir)
    for key in ("latency_p50_s", "latency_p99_s", "throughput_per_s", "slo_attainment"):
        assert summary[f"{key}_ci"].estimate == result.summary[key], key
        assert summary[key] == result.summary[key], key
    p99 = summary["latency_p99_s_ci"]
    assert p99.n == 5 and "5 of the 10 batches asked" in p99.reason
    assert p99.low < p99.estimate < p99.high
