"""Jitter, compiled shapes and the host stage: what each does to a batch, and the trace.

The engines' agreement on all three is in ``tests/oracle/test_engines_agree.py`` (random
scenarios draw them); here each rule is checked against its definition on a trace.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import scenario

import hardware
from analysis.reader import load_trace
from hardware.timing.jitter import lognormal_sigma
from sim.engine.pool import plan_pools
from sim.engine.runner import simulate
from sim.policies.host import HostCosts, coefficients
from sim.policies.jitter import BLOCK, JitterDraws
from sim.policies.shapes import default_seq_buckets, padded_sizes, resolve_shapes
from sim.scenario.errors import ScenarioError
from sim.streams import stream


def base(**pool) -> dict:
    """One inf2.xlarge pool of bert-base at a moderate load, exact by default."""
    fleet = {
        "name": "p",
        "instance": "inf2.xlarge",
        "count": 2,
        "model": "bert-base",
        "batching": {"max_batch": 8, "max_wait": "1ms"},
        "jitter": "none",
        "shapes": "none",
        "host": "none",
    }
    fleet.update(pool)
    return {
        "name": "stages",
        "seed": 11,
        "duration": "2s",
        "workload": {
            "arrivals": {"kind": "poisson", "rate": 3000.0},
            "mix": [
                {
                    "model": "bert-base",
                    "weight": 1,
                    "seq_len": {"kind": "choice", "values": [20, 70, 128]},
                }
            ],
        },  # fmt: skip
        "fleet": [fleet],
        "slo": {"target": "20ms"},
    }


def run(tmp_path, name: str, data: dict, engine: str = "auto"):
    stats = simulate(scenario(data), tmp_path / f"{name}.parquet", engine=engine)
    return load_trace(stats.trace_path), stats.metrics


def batches(df):
    """One row per completed batch: its requests' sizes, lengths and the batch columns."""
    ok = df[df.status == "ok"]
    return ok.groupby(["instance_id", "replica_id", "start_s"], observed=True).agg(
        size=("batch_size", "first"),
        n=("request_id", "size"),
        tokens=("seq_len", "sum"),
        longest=("seq_len", "max"),
        padded_batch=("padded_batch", "first"),
        padded_seq=("padded_seq_len", "first"),
        service=("service_s", "first"),
        host=("host_s", "first"),
    )


# --- jitter ---------------------------------------------------------------------------------


def test_jitter_factors_have_mean_one_and_the_cv():
    """exp(sigma Z - sigma^2/2): mean 1 and the asked cv (200,000 draws: 5 sigma bounds)."""
    draws = JitterDraws(stream(1, "jitter"), 0.2)
    x = np.concatenate([draws.block() for _ in range(50)])
    assert abs(x.mean() - 1.0) < 5 * 0.2 / math.sqrt(len(x))
    assert abs(x.std() / x.mean() - 0.2) < 0.005
    assert lognormal_sigma(0.0) == 0.0


def test_next_reads_the_blocks_in_order():
    """The SimPy model's next() and the kernel's block() give the same sequence."""
    a = JitterDraws(stream(5, "jitter", 3), 0.1)
    b = JitterDraws(stream(5, "jitter", 3), 0.1)
    blocks = np.concatenate([a.block(), a.block()])
    assert [b.next() for _ in range(2 * BLOCK)] == blocks.tolist()


def test_jitter_spreads_the_service_times_and_keeps_the_arrivals(tmp_path):
    """Exact service: one time per shape; jitter: a spread with the asked cv per shape, and
    the arrivals bit for bit those of the exact run (the jitter has its own stream)."""
    exact, _ = run(tmp_path, "exact", base())
    jit, summary = run(tmp_path, "jit", base(jitter={"cv": 0.1}))
    by_id = [df.sort_values("request_id").arrival_s.to_numpy() for df in (exact, jit)]
    np.testing.assert_array_equal(*by_id)
    b = batches(jit)
    table = hardware.service_time("bert-base", "inf2.xlarge", b["size"].to_numpy(),
                                  b["longest"].to_numpy(), "bf16")  # fmt: skip
    ratio = b["service"].to_numpy() / table
    assert abs(ratio.mean() - 1) < 0.02
    assert 0.08 < ratio.std() < 0.12
    e = batches(exact)
    exact_table = hardware.service_time("bert-base", "inf2.xlarge", e["size"].to_numpy(),
                                        e["longest"].to_numpy(), "bf16")  # fmt: skip
    np.testing.assert_allclose(e["service"].to_numpy(), exact_table, rtol=1e-12)
    assert summary["latency_p90_s"] < summary["latency_p99_s"] < summary["latency_p999_s"]


def test_jitter_on_a_synthetic_service_is_refused():
    data = base(service={"kind": "exponential", "mean": "2ms"}, jitter={"cv": 0.1})
    data["fleet"][0].pop("shapes")
    with pytest.raises(ScenarioError, match="jitter applies to hardware-model"):
        scenario(data)


# --- compiled shapes ------------------------------------------------------------------------


def test_padding_rules():
    assert default_seq_buckets(512) == [64, 128, 256, 512]
    assert default_seq_buckets(100) == [64, 100]
    assert padded_sizes(np.array([1, 4, 5, 8]), [4, 8]).tolist() == [4, 4, 8, 8]
    assert padded_sizes(np.array([3, 9]), None).tolist() == [3, 9]
    auto = dict(model_kind="encoder", max_seq_len=512, max_batch=8)
    assert resolve_shapes("auto", on_gpu=False, **auto) == ([64, 128, 256, 512], [8])
    assert resolve_shapes("auto", on_gpu=True, **auto) == (None, None)
    assert resolve_shapes("none", on_gpu=False, **auto) == (None, None)
    cnn = dict(model_kind="cnn", max_seq_len=512, max_batch=4)
    assert resolve_shapes("auto", on_gpu=False, **cnn) == (None, [4])


def test_batches_are_timed_and_recorded_at_their_padded_shape(tmp_path):
    """Default Neuron shapes: lengths to their power-of-two bucket, batches to max_batch;
    the service time is the padded shape's and the waste is the padded slots' share."""
    df, summary = run(tmp_path, "auto", base(shapes="auto"))
    b = batches(df)
    assert (b["padded_batch"] == 8).all()
    bucket = padded_sizes(b["longest"].to_numpy(), [64, 128, 256, 512])
    np.testing.assert_array_equal(b["padded_seq"].to_numpy(), bucket)
    assert set(b["padded_seq"]) == {64, 128}
    table = hardware.service_time("bert-base", "inf2.xlarge", 8, bucket, "bf16")
    np.testing.assert_allclose(b["service"].to_numpy(), table, rtol=1e-12)
    ok = df[(df.status == "ok") & ~df.warmup]
    slots = (ok.padded_batch * ok.padded_seq_len / ok.batch_size).sum()
    assert summary["padding_waste"]["p"] == pytest.approx(1 - ok.seq_len.sum() / slots)
    assert summary["padding_waste"]["p"] > 0.3


def test_no_compiled_shapes_still_pads_to_the_longest_in_the_batch(tmp_path):
    df, summary = run(tmp_path, "none", base())
    b = batches(df)
    np.testing.assert_array_equal(b["padded_seq"], b["longest"])
    np.testing.assert_array_equal(b["padded_batch"], b["size"])
    ok = df[(df.status == "ok") & ~df.warmup]
    longest = ok.groupby(["instance_id", "replica_id", "start_s"], observed=True).seq_len
    slots = longest.transform("max").sum()
    assert summary["padding_waste"]["p"] == pytest.approx(1 - ok.seq_len.sum() / slots)


def test_compiled_batch_sizes_must_hold_max_batch():
    data = base(shapes={"batch_sizes": [2, 4]})
    with pytest.raises(ScenarioError, match=r"shapes.batch_sizes.*smaller than.*max_batch \(8\)"):
        scenario(data)
    with pytest.raises(ScenarioError, match="strictly ascending"):
        scenario(base(shapes={"seq_buckets": [128, 64]}))


def test_buckets_must_hold_the_longest_sequence():
    """A bucket list ending below the pool's longest length is refused where it is set."""
    with pytest.raises(
        ScenarioError, match=r"fleet\[0\].shapes.seq_buckets.*bucket \(64\).*\(128\)"
    ):
        scenario(base(shapes={"seq_buckets": [32, 64]}))


# --- the host stage -------------------------------------------------------------------------


def test_host_coefficients_spread_cpu_work_over_the_replicas_vcpu_share():
    h = coefficients(HostCosts(per_request="40us", per_token="100ns", per_batch="150us"), 4, 2)
    assert h == pytest.approx((75e-6, 20e-6, 5e-8), rel=1e-12)
    assert h.seconds(3, 100) == 75e-6 + 20e-6 * 3 + 5e-8 * 100
    assert coefficients(HostCosts(), 4, 2).free


def test_host_stage_precedes_the_accelerator(tmp_path):
    """host_s = the formula over the batch's real tokens; service_s = host + accelerator;
    host utilisation = host time / (replicas x count x window)."""
    costs = {"per_request": "40us", "per_token": "100ns", "per_batch": "150us"}
    df, summary = run(tmp_path, "host", base(host=costs))
    b = batches(df)
    vcpus, replicas = 4, 2  # inf2.xlarge, one core per replica
    share = vcpus / replicas
    expected = 150e-6 / share + 40e-6 / share * b["size"] + 100e-9 / share * b["tokens"]
    np.testing.assert_allclose(b["host"], expected, rtol=1e-12)
    accelerator = hardware.service_time("bert-base", "inf2.xlarge", b["size"].to_numpy(),
                                        b["longest"].to_numpy(), "bf16")  # fmt: skip
    np.testing.assert_allclose(b["service"] - b["host"], accelerator, rtol=1e-9)
    window = 2.0
    host_busy = (b["host"]).sum()  # no warm-up; batches straddling the end are few
    assert summary["host_utilisation"]["p"] == pytest.approx(
        host_busy / (replicas * 2 * window), rel=0.02
    )
    free, free_summary = run(tmp_path, "free", base())
    assert free_summary["host_utilisation"]["p"] == 0.0
    assert summary["latency_p50_s"] > free_summary["latency_p50_s"]


def test_a_host_bound_fleet_shows_it(tmp_path):
    """Tokenising at 4 ms a request (2 vCPUs per replica: 2 ms of replica time each, 16 ms a
    batch of 8) caps the fleet below 2 x 2 x 8 / 16 ms = 2,000 requests/s at 3,000 offered:
    the host is the busy stage while the accelerator mostly waits."""
    _, summary = run(tmp_path, "bound", base(host={"per_request": "4ms"}))
    assert summary["host_utilisation"]["p"] > 0.7
    assert summary["utilisation"]["p"] < 0.3
    assert summary["throughput_per_s"] < 2000
    assert summary["dropped"] > 0


def test_pools_get_their_stages_from_the_scenario():
    sc = scenario(base(jitter={"cv": 0.3}, shapes="auto",
                       host={"per_request": "10us"}))  # fmt: skip
    (pool,) = plan_pools(sc, ["bert-base"])
    assert pool.jitter is not None and pool.jitter.cv == 0.3
    assert pool.seq_buckets == (64, 128, 256, 512) and pool.batch_shapes == (8,)
    assert pool.host.request_s == pytest.approx(10e-6 / 2)
    assert pool.facts["jitter_cv"] == 0.3 and pool.facts["vcpus"] == 4
