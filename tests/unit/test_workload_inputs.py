"""Synthetic service models, trace replay, gamma and MMPP arrivals: each against its theory."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import batching_oracle as oracle

import analysis
from sim.engine.runner import simulate as run
from sim.policies.service import (
    DeterministicService,
    EmpiricalService,
    ExponentialService,
    LognormalService,
)
from sim.scenario.errors import ScenarioError
from sim.scenario.loading import load_scenario, parse_scenario
from sim.streams import stream
from sim.workload.arrivals import GammaProcess, MMPPProcess


def collect(process, until):
    return np.concatenate(list(process.chunks(until)))


@pytest.mark.parametrize(
    "config",
    [
        ExponentialService(kind="exponential", mean="5ms"),
        LognormalService(kind="lognormal", mean="2ms", cv=0.7),
        DeterministicService(kind="deterministic", base="1ms", per_request="200us"),
    ],
    ids=["exponential", "lognormal", "deterministic"],
)
def test_service_samples_match_stated_mean_and_variance(config):
    """200k draws: mean within 4 standard errors of mean_s(); variance within 5%."""
    draw = config.build(stream(1, "pool", 0))
    for b in (1, 4):
        x = np.array([draw(b, 128) for _ in range(200_000)])
        mean, var = config.mean_s(b), config.variance_s2(b)
        assert abs(x.mean() - mean) <= 4 * math.sqrt(var / x.size) + 1e-15, (b, x.mean(), mean)
        assert x.var() == pytest.approx(var, rel=0.05, abs=1e-18)


def test_empirical_service_resamples_the_file(tmp_path):
    """Empirical service draws only file values, uniformly; mean and variance are the file's."""
    values = np.array([0.001, 0.002, 0.004, 0.010])
    pd.DataFrame({"service_s": values}).to_csv(tmp_path / "s.csv", index=False)
    config = EmpiricalService.model_validate(
        {"kind": "empirical", "path": "s.csv"}, context={"base_dir": str(tmp_path)}
    )
    assert config.mean_s() == pytest.approx(values.mean())
    assert config.variance_s2() == pytest.approx(values.var())
    draw = config.build(stream(2, "pool", 0))
    x = np.array([draw(1, 1) for _ in range(40_000)])
    assert set(np.unique(x)) == set(values)
    counts = np.array([(x == v).sum() for v in values])
    assert ((counts - 10_000) ** 2 / 10_000).sum() < 16.3  # chi-square 3 dof, 99.9%


def test_gamma_arrivals_rate_and_cv():
    """Gamma renewal: rate within 4 sd; gap CV within 2% of the configured cv."""
    for cv in (0.5, 2.0):
        proc = GammaProcess(1000.0, cv, stream(3, "arrivals"))
        times = collect(proc, 200.0)
        expected = 1000.0 * 200.0
        assert abs(times.size - expected) < 4 * cv * math.sqrt(expected), (cv, times.size)
        gaps = np.diff(times)
        assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.02)


def test_mmpp_rate_and_cv_match_phase_type_theory():
    """MMPP(2): long-run rate and gap CV match the analytic (phase-type) values."""
    proc = MMPPProcess((200.0, 2000.0), (0.5, 0.1), stream(4, "arrivals"))
    assert proc.mean_rate_per_s == pytest.approx((200 * 0.5 + 2000 * 0.1) / 0.6)
    times = collect(proc, 2000.0)
    rate = times.size / 2000.0
    assert rate == pytest.approx(proc.mean_rate_per_s, rel=0.02)
    gaps = np.diff(times)
    assert gaps.std() / gaps.mean() == pytest.approx(proc.interarrival_cv, rel=0.03)
    assert proc.interarrival_cv > 1.2  # bursty
    # a degenerate MMPP with equal rates is Poisson: CV exactly 1
    assert MMPPProcess(
        (5.0, 5.0), (1.0, 2.0), stream(0, "arrivals")
    ).interarrival_cv == pytest.approx(1.0)


BASE = {
    "name": "replay",
    "seed": 1,
    "duration": "10s",
    "workload": {
        "arrivals": {"kind": "trace", "path": "arrivals.csv"},
        "mix": [{"model": "bert-base"}],
    },
    "fleet": [
        {
            "name": "p",
            "instance": "inf2.xlarge",
            "count": 1,
            "model": "bert-base",
            "batching": {"max_batch": 4, "max_wait": "250ms"},
            "queue_limit": 3,
            "service": {"kind": "deterministic", "base": "0.5s", "per_request": "0.25s"},
        }
    ],
    "slo": {"percentile": 99, "target": "1s"},
}


def write(tmp_path, frame, data=None):
    frame.to_csv(tmp_path / "arrivals.csv", index=False)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data or BASE))
    return path


@pytest.mark.parametrize(
    "replicas,max_batch,max_wait,limit",
    [(2, 4, 0.25, 3), (2, 1, 0.0, 2), (1, 3, 0.5, 4), (2, 8, 0.0, 100)],
)
def test_trace_replay_end_to_end_equals_oracle(tmp_path, replicas, max_batch, max_wait, limit):
    """Engine on replayed arrivals with affine service = independent oracle, request by request."""
    rng = np.random.default_rng(7)
    times = np.cumsum(rng.choice([0, 0, 0.25, 0.5, 1.0], size=60))
    seqs = rng.integers(1, 512, size=60)
    data = yaml.safe_load(yaml.safe_dump(BASE))
    pool = data["fleet"][0]
    pool["cores_per_replica"] = 2 // replicas
    pool["batching"] = {"max_batch": max_batch, "max_wait": f"{max_wait}s"}
    pool["queue_limit"] = limit
    path = write(tmp_path, pd.DataFrame({"arrival_s": times, "seq_len": seqs}), data)
    scenario = load_scenario(path)
    run(scenario, tmp_path / "t.parquet")
    df = analysis.load_trace(tmp_path / "t.parquet").sort_values("request_id")
    want = oracle(
        list(times),
        list(seqs),
        replicas=replicas,
        max_batch=max_batch,
        max_wait=max_wait,
        queue_limit=limit,
        service=lambda b, s: 0.5 + 0.25 * b,
        until=10.0,
    )
    status = {0: "ok", 1: "dropped", 2: "in_flight"}
    got = [[r.start_s, r.finish_s, r.batch_size, r.replica_id, r.status] for r in df.itertuples()]
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        w = [w[0], w[1], w[2], w[3], status[w[4]]]
        same = all(
            (a == b) or (isinstance(a, float) and math.isnan(a) and math.isnan(b))
            for a, b in zip(g, w, strict=True)
        )
        assert same, (i, g, w)
    assert np.array_equal(df.arrival_s.to_numpy(), times[times < 10.0])
    assert np.array_equal(df.seq_len.to_numpy(), seqs[times < 10.0])


def test_trace_time_scale_and_models(tmp_path):
    """time_scale multiplies timestamps; a model column routes each request to its pool."""
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["workload"]["arrivals"]["time_scale"] = 0.5
    data["fleet"].append({**data["fleet"][0], "name": "q", "model": "distilbert-base"})
    frame = pd.DataFrame(
        {
            "arrival_s": [0.0, 1.0, 2.0, 3.0],
            "model": ["bert-base", "distilbert-base", "bert-base", "bert-base"],
        }
    )
    scenario = load_scenario(write(tmp_path, frame, data))
    run(scenario, tmp_path / "t.parquet")
    df = analysis.load_trace(tmp_path / "t.parquet").sort_values("request_id")
    assert df.arrival_s.tolist() == [0.0, 0.5, 1.0, 1.5]
    assert df.model.astype(str).tolist() == frame.model.tolist()
    assert df.pool.astype(str).tolist() == ["p", "q", "p", "p"]
    assert (df.seq_len == 128).all()  # bert default when neither trace nor mix gives one


@pytest.mark.parametrize(
    "frame,fragments",
    [
        (
            pd.DataFrame({"arrival_s": [0.0, 2.0, 1.0]}),
            ["data row 3", "earlier than the row before"],
        ),
        (pd.DataFrame({"arrival_s": [0.0, -1.0]}), ["data row 2", "= -1.0", ">= 0"]),
        (pd.DataFrame({"arrival_s": [0.0, float("nan"), 3.0]}), ["data row 2", "= nan"]),
        (pd.DataFrame({"time": [0.0, 1.0]}), ["missing column(s) arrival_s"]),
        (
            pd.DataFrame({"arrival_s": [0.0, 1.0], "model": ["bert-base", "gpt-9"]}),
            ["data row 2", "'gpt-9'", "served by no pool"],
        ),
        (pd.DataFrame({"arrival_s": [0.0, 1.0], "seq_len": [12, 0]}), ["data row 2", "seq_len"]),
        (
            pd.DataFrame({"arrival_s": [0.0, 1.0], "seq_len": [12, 9999]}),
            ["data row 2", "9999", "range"],
        ),
    ],
    ids=[
        "decreasing",
        "negative",
        "nan",
        "missing-column",
        "unknown-model",
        "zero-seq",
        "seq-too-long",
    ],
)
def test_bad_traces_are_scenario_errors_naming_the_row(tmp_path, frame, fragments):
    """A bad trace file is a ScenarioError naming the file, the row and the value."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, frame))
    message = str(info.value)
    assert "arrivals.csv" in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_trace_file_and_mix_requirement(tmp_path):
    """A missing file is named; a trace without a model column needs a mix."""
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump({**BASE, "workload": {"arrivals": BASE["workload"]["arrivals"]}})
    )
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(path)
    pd.DataFrame({"arrival_s": [0.0]}).to_csv(tmp_path / "arrivals.csv", index=False)
    with pytest.raises(ScenarioError, match="mix must list"):
        load_scenario(path)


def test_synthetic_pool_needs_no_known_model(tmp_path):
    """A model served only by synthetic pools is a label: no zoo entry needed."""
    text = yaml.safe_dump(
        {
            "name": "label",
            "seed": 3,
            "duration": "2s",
            "workload": {
                "arrivals": {"kind": "gamma", "rate": 100, "cv": 0.5},
                "mix": [{"model": "my-model"}],
            },
            "fleet": [
                {
                    "name": "p",
                    "instance": "inf2.xlarge",
                    "count": 2,
                    "model": "my-model",
                    "service": {"kind": "lognormal", "mean": "2ms", "cv": 1.0},
                }
            ],
            "slo": {"target": "10ms"},
        }
    )
    scenario = parse_scenario(text)
    run(scenario, tmp_path / "t.parquet")
    df = analysis.load_trace(tmp_path / "t.parquet")
    assert (df.status == "ok").mean() > 0.99 and (df.seq_len == 1).all()


def test_mmpp_scenario_runs(tmp_path):
    """An mmpp arrival section validates, runs, and its durations take units."""
    text = yaml.safe_dump(
        {
            "name": "bursty",
            "seed": 3,
            "duration": "5s",
            "workload": {
                "arrivals": {
                    "kind": "mmpp",
                    "rates": [100, 2000],
                    "mean_sojourn": ["500ms", "100ms"],
                },
                "mix": [{"model": "bert-base"}],
            },
            "fleet": [{"name": "p", "instance": "inf2.xlarge", "count": 2, "model": "bert-base"}],
            "slo": {"target": "10ms"},
        }
    )
    scenario = parse_scenario(text)
    assert scenario.workload.arrivals.mean_sojourn == [0.5, 0.1]
    stats = run(scenario, tmp_path / "t.parquet")
    assert stats.requests > 500
