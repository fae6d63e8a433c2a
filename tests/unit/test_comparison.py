"""Paired comparison of two runs on the same arrivals: worked out by hand, refused when the
arrivals differ, and on two simulated fleets (pairing narrows the interval)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from handmade import frame, info, write_trace
from helpers import ROOT, scenario

import analysis
import sim

C = [0.10, 0.12, 0.11, 0.13, 0.14]
T4 = 2.776445  # t_{4, 0.975}
ARRIVALS = [2 * i + 0.05 * j for i in range(5) for j in range(20)]


def run(scale: float = 1.0, arrivals=ARRIVALS, duration_s: float = 10.0, usd_per_hour=3.6):
    """Five batches of 20 requests; batch i's latencies (C[i] + 0.001 j) x scale."""
    latency = [scale * (C[i] + 0.001 * j) for i in range(5) for j in range(20)]
    pools = [{"pool": "a", "count": 1, "replicas_per_instance": 1, "usd_per_hour": usd_per_hour}]
    return frame(info(duration_s=duration_s, target_s=0.1255, pools=pools), arrivals, latency)


def test_doubled_latencies_by_hand():
    """b = a with every latency doubled: the p50 difference is a's p50, its batch differences
    are a's batch medians (C[i] + 0.0095); costs and throughput do not change."""
    a, b = run(), run(scale=2.0)
    table = analysis.paired_comparison(a, b, q=50, batches=5, min_per_batch=20).set_index("metric")
    assert list(table.index) == ["latency_p50_s", "cost_per_million_usd",
                                 "cost_per_million_successful_usd", "cost_usd",
                                 "throughput_per_s"]  # fmt: skip
    p50 = float(np.percentile(a.latency_s, 50))
    half = T4 * float(np.std(C, ddof=1)) / math.sqrt(5)
    row = table.loc["latency_p50_s"]
    assert (row.a, row.difference, row.ratio) == pytest.approx((p50, p50, 2.0), rel=1e-12)
    assert (row.low, row.high) == pytest.approx((p50 - half, p50 + half), rel=1e-6)
    assert row.method == "paired batch means (5 batches)"
    cost = table.loc["cost_usd"]
    assert (cost.a, cost.difference, cost.low, cost.high, cost.method) == (
        pytest.approx(0.01), 0.0, 0.0, 0.0, "exact")  # fmt: skip
    throughput = table.loc["throughput_per_s"]
    assert (throughput.difference, throughput.low, throughput.high) == (0.0, 0.0, 0.0)
    successful = table.loc["cost_per_million_successful_usd"]  # 42 within 0.1255 s, then none
    assert successful.a == pytest.approx(0.01 / 42 * 1e6) and math.isnan(successful.b)
    assert math.isnan(successful.low) and "no value" in successful.reason


def test_a_dearer_fleet_costs_exactly_its_price_difference():
    """Same requests, twice the hourly price: cost_usd difference 0.01 USD, exact."""
    table = analysis.paired_comparison(run(), run(usd_per_hour=7.2), q=50, batches=5)
    cost = table.set_index("metric").loc["cost_usd"]
    assert (cost.difference, cost.ratio) == pytest.approx((0.01, 2.0), rel=1e-12)


def test_runs_that_do_not_share_arrivals_are_refused(tmp_path):
    """Different seeds, arrival times or durations: ValueError naming both runs and why."""
    a = write_trace(tmp_path / "a.parquet", run(), seed=1)
    b = write_trace(tmp_path / "b.parquet", run(), seed=2)
    with pytest.raises(ValueError, match=r"a\.parquet and .*b\.parquet do not share arrivals "
                                         r"\(seeds 1 and 2\)"):  # fmt: skip
        analysis.paired_comparison(a, b)
    shifted = [t + 1e-9 for t in ARRIVALS]
    c = write_trace(tmp_path / "c.parquet", run(arrivals=shifted), seed=1)
    with pytest.raises(ValueError, match="different arrival times among the first 1000"):
        analysis.paired_comparison(a, c)
    d = write_trace(tmp_path / "d.parquet", run(duration_s=12.0), seed=1)
    with pytest.raises(ValueError, match="durations 10 s and 12 s"):
        analysis.paired_comparison(a, d)


def test_too_few_requests_for_the_percentile_interval_is_said():
    """A p99 needs 5,000 completed requests per batch: NaN ends and the reason, other rows kept."""
    table = analysis.paired_comparison(run(), run(scale=2.0)).set_index("metric")
    row = table.loc["latency_p99_s"]
    assert math.isnan(row.low) and "5,000 per batch" in row.reason
    assert not math.isnan(table.loc["throughput_per_s"].low)


def test_two_simulated_fleets_on_the_same_arrivals(tmp_path):
    """Alexa on inf1.xlarge against inf1.2xlarge (1.5 s): accepted as sharing arrivals; the cost
    difference is the price difference; pairing makes the p50 interval narrower than the
    two runs' own intervals together (seed 2020, 10 batches)."""
    data = yaml.safe_load((ROOT / "scenarios" / "alexa.yaml").read_text())
    data["duration"], data["warmup"] = "1.5s", "0.3s"
    a = sim.run(scenario(data), tmp_path / "a")
    data["fleet"][0]["instance"] = "inf1.2xlarge"
    b = sim.run(scenario(data), tmp_path / "b")
    table = analysis.paired_comparison(a.out_dir, b.out_dir, q=50).set_index("metric")
    price = {p["pool"]: p["usd_per_hour"] for p in a.summary["pools"]}["nlu"], {
        p["pool"]: p["usd_per_hour"] for p in b.summary["pools"]}["nlu"]  # fmt: skip
    assert table.loc["cost_usd"].difference == pytest.approx(
        5 * (price[1] - price[0]) * 1.2 / 3600, rel=1e-9)  # fmt: skip
    row = table.loc["latency_p50_s"]
    own = [analysis.percentile_interval(r.out_dir, 50).half_width for r in (a, b)]
    print(f"paired half-width {(row.high - row.low) / 2:.3g} s, own {own}")
    assert row.low <= row.difference <= row.high
    assert (row.high - row.low) / 2 < sum(own)
