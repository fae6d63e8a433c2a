"""Multi-stage pipelines (``sim.engine.routes``) mean the same on both engines.

Exact small cases - a request passes each stage in order, with each stage's length, and
its client's deadline spans the stages - then random pipelines under random fleet actions
and client retries, which must give identical records on the SimPy model and the kernel,
with every request's stages chained and exactly one final row per request.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from chaos import chaos, clients_of
from helpers import (
    ENGINES,
    ROOT,
    assert_engines_agree,
    needs_kernel,
    reached,
    same,
    same_records,
    scenario,
)

from analysis import summarize_trace, time_series
from analysis.schema import OK
from sim.engine.fleet import Fleet
from sim.engine.pool import Pool
from sim.engine.records import RecordBuffer
from sim.engine.routes import Routes
from sim.engine.runner import drive, simulate
from sim.policies.balancers import BALANCERS
from sim.scenario.pipelines import PipelineConfig
from sim.streams import stream

TWO_STAGES = {
    "name": "two_stages",
    "seed": 1,
    "duration": "1s",
    "workload": {
        "arrivals": {"kind": "trace", "path": "arrivals.csv"},
        "mix": [{"model": "asr_then_nlu", "seq_len": 3000}],
    },
    "pipelines": [
        {
            "name": "asr_then_nlu",
            "stages": [
                {"model": "asr"},
                {"model": "nlu", "seq_len": {"scale": 0.004, "min": 4, "max": 64}},
            ],
        }
    ],
    "fleet": [
        {
            "name": "a",
            "instance": "inf2.xlarge",  # 2 NeuronCores: 2 replicas
            "count": 1,
            "model": "asr",
            "batching": {"max_batch": 1},
            "service": {"kind": "deterministic", "base": "10ms"},
        },
        {
            "name": "b",
            "instance": "inf1.xlarge",  # 4 replicas
            "count": 1,
            "model": "nlu",
            "batching": {"max_batch": 1},
            "service": {"kind": "deterministic", "base": "5ms"},
        },
    ],
    "slo": {"target": "20ms"},
}


def with_arrivals(directory, data: dict) -> dict:
    """``data`` with its arrivals at 0, 1 and 2 ms, from a file written in ``directory``."""
    path = directory / "arrivals.csv"
    pd.DataFrame({"arrival_s": [0.0, 0.001, 0.002]}).to_csv(path, index=False)
    workload = {**data["workload"], "arrivals": {"kind": "trace", "path": str(path)}}
    return {**data, "workload": workload}


def run_two_stages(tmp_path, engine: str, **changes) -> tuple[pd.DataFrame, pd.DataFrame]:
    """requests.parquet and stages.parquet of ``TWO_STAGES`` (with ``changes``)."""
    sc = scenario(with_arrivals(tmp_path, {**TWO_STAGES, **changes}))
    stats = simulate(sc, tmp_path / "requests.parquet", engine=engine)
    stages = pd.read_parquet(tmp_path / "stages.parquet")
    return pd.read_parquet(stats.trace_path), stages


@ENGINES
def test_a_request_passes_each_stage_in_order(tmp_path, engine):
    """Stage a (2 replicas, 10 ms) then stage b (4 replicas, 5 ms), handed on at the leave
    instant, each with its length; the third request waits at stage a."""
    requests, stages = run_two_stages(tmp_path, engine)
    r = requests.sort_values("request_id")
    assert r["model"].astype(str).tolist() == ["asr_then_nlu"] * 3
    assert r["pool"].astype(str).tolist() == ["b"] * 3  # their last stage
    assert r["status"].astype(str).tolist() == ["ok"] * 3
    assert np.allclose(r["latency_s"], [0.015, 0.015, 0.023])  # end to end
    assert np.allclose(r["queue_s"], [0.0, 0.0, 0.0])  # at the last stage
    assert r["seq_len"].tolist() == [12] * 3  # ceil(3000 ms x 0.004)
    s = stages.sort_values(["request_id", "stage"])
    assert s["status"].astype(str).tolist() == ["passed", "ok"] * 3
    assert s["model"].astype(str).tolist() == ["asr", "nlu"] * 3
    assert s["stage"].tolist() == [0, 1] * 3
    assert np.allclose(s["entered_s"], [0.0, 0.010, 0.001, 0.011, 0.002, 0.020])
    assert np.allclose(s["finish_s"], [0.010, 0.015, 0.011, 0.016, 0.020, 0.025])
    assert np.allclose(s["latency_s"], [0.010, 0.005, 0.010, 0.005, 0.018, 0.005])
    assert np.allclose(s["queue_s"], [0.0, 0.0, 0.0, 0.0, 0.008, 0.0])
    assert s["seq_len"].tolist() == [3000, 12] * 3


@ENGINES
def test_the_client_deadline_spans_the_stages(tmp_path, engine):
    """A 16 ms timeout: requests 0 and 1 end in time; request 2 leaves stage a after its
    deadline (18 ms) and never enters stage b: timed out there."""
    requests, stages = run_two_stages(tmp_path, engine, clients={"timeout": "16ms"})
    r = requests.sort_values("request_id")
    assert r["status"].astype(str).tolist() == ["ok", "ok", "timed_out"]
    assert r["pool"].astype(str).tolist() == ["b", "b", "a"]
    s = stages.sort_values(["request_id", "stage"])
    assert s["status"].astype(str).tolist() == ["passed", "ok", "passed", "ok", "timed_out"]


def test_utilisation_counts_every_stage(tmp_path):
    """Each pool's busy time comes from its own stage's batches (not only last stages), in
    the summary and in the time series."""
    sc = scenario(with_arrivals(tmp_path, {**TWO_STAGES, "duration": "100ms"}))
    stats = simulate(sc, tmp_path / "requests.parquet")
    assert stats.metrics["utilisation"]["a"] == pytest.approx(0.030 / (2 * 0.1))
    assert stats.metrics["utilisation"]["b"] == pytest.approx(0.015 / (4 * 0.1))
    stage_a, stage_b = stats.metrics["stages"]
    assert (stage_a["model"], stage_a["served"], stage_b["served"]) == ("asr", 3, 3)
    assert stage_a["latency_p50_s"] == pytest.approx(0.010)
    assert stage_b["latency_mean_s"] == pytest.approx(0.005)
    assert same(summarize_trace(tmp_path / "requests.parquet"), stats.metrics)  # from files
    series = time_series(tmp_path / "requests.parquet", window_s=0.1)  # one window
    assert series["utilisation.a"].tolist() == pytest.approx([0.15])
    assert series["utilisation.b"].tolist() == pytest.approx([0.0375])


def pipeline_fleet(seed: int) -> tuple[Fleet, list[float], np.ndarray]:
    """Three models on four pools; two pipelines (two and three stages) and plain requests."""
    rng = np.random.default_rng(seed)
    kind = list(BALANCERS)[seed % len(BALANCERS)]
    pools = [
        Pool(2, 0, 2, 4, 0.05, 6, lambda b, s: 0.03 + 0.0001 * s, name="a", capacity_per_s=90),
        Pool(1, 0, 1, 2, 0.0, 8, lambda b, s: 0.02 * b, pipeline_depth=3, name="b",
             capacity_per_s=50),
        Pool(2, 1, 1, 8, 0.02, 20, lambda b, s: 0.01 + 0.002 * b, name="c", capacity_per_s=300),
        Pool(1, 2, 2, 1, 0.0, 5, lambda b, s: 0.004 * s / 10, name="d", capacity_per_s=40),
    ]  # fmt: skip
    names = ["x", "y", "z"]
    pipelines = [
        PipelineConfig(name="xy", stages=[{"model": "x"}, {"model": "y", "seq_len": 16}]),
        PipelineConfig(name="zxy", stages=[
            {"model": "z"}, {"model": "x", "seq_len": {"scale": 0.5, "min": 2, "max": 40}},
            {"model": "y"}]),
    ]  # fmt: skip
    routes = Routes.build(names, pipelines)
    balancers = [BALANCERS[kind](n, stream(seed, "balancer", m)) for m, n in enumerate([3, 2, 1])]
    fleet = Fleet(pools, balancers, model_names=names, routes=routes)
    times = np.cumsum(rng.exponential(1 / 60.0, size=int(rng.integers(300, 700)))).tolist()
    times = [t for t in times if t < 8.0]
    route = rng.choice(5, size=len(times), p=[0.2, 0.1, 0.1, 0.35, 0.25])
    return fleet, times, route


@needs_kernel
@pytest.mark.parametrize("seed", range(12))
def test_random_pipelines_identical_on_both_engines(seed):
    """Random pipelines under random fleet actions and client rules: identical records on
    both engines; each request's stages chained in order and one final row per request."""
    results = {}
    for engine in ("compiled", "simpy"):
        fleet, times, route = pipeline_fleet(seed)
        act, log = chaos(seed, ["a", "b", "c", "d"])
        writer = RecordBuffer()
        c = (np.asarray(reached(times)), route, np.full(len(times), 30, dtype=np.int64))
        drive(fleet, writer, [c], 10.0, engine=engine, processes=[act],
              cold_start_s=[0.5, 0.25, 1.0, 0.1], clients=clients_of(seed))  # fmt: skip
        results[engine] = (writer.records(full=True), log)
    (rec_c, log_c), (rec_s, log_s) = results["compiled"], results["simpy"]
    assert same_records(rec_c, rec_s)
    assert log_c == log_s
    routes = fleet.routes
    final, passed = [], {}
    for _start, finish, _s, _size, _inst, _r, status, reqs in rec_s:
        for r in reqs:
            if status == OK and routes.next[r.hop] >= 0 and finish < r.deadline_s:
                passed.setdefault(r.request_id, []).append((r.hop, finish))
            else:
                final.append((r.request_id, r.hop, r.entered_s))
    assert sorted(f[0] for f in final) == list(range(len(times)))  # exactly once
    for request_id, hop, entered_s in final:  # the stages before the last, in order
        expected = int(route[request_id])
        for passed_hop, _finish in passed.get(request_id, []):
            assert passed_hop == expected
            expected = routes.next[passed_hop]
        assert hop == expected
        if request_id in passed:  # entered its last stage when it left the one before
            assert entered_s == passed[request_id][-1][1]
    assert sum(len(c) for c in passed.values()) > len(times) // 10  # pipelines did run


@needs_kernel
def test_pipeline_case_study_identical_on_both_engines(tmp_path):
    """scenarios/alexa_pipeline.yaml, shorter, with client retries and failures: identical
    requests, stages and lifetimes on both engines; each request exactly once."""
    data = yaml.safe_load((ROOT / "scenarios" / "alexa_pipeline.yaml").read_text())
    data.update(duration="20s", warmup="2s")
    data["workload"]["arrivals"]["rate"] = 300
    data["clients"] = {"timeout": "80ms", "retries": {"max_attempts": 2, "backoff": "5ms"}}
    data["fleet"][0]["failures"] = {"mtbf": "10s", "mttr": "2s"}
    sc = scenario(data)
    trace = assert_engines_agree(sc, tmp_path)
    ids = trace["request_id"].sort_values().to_numpy()
    assert (ids == range(len(ids))).all()
    stages = pd.read_parquet(tmp_path / "compiled" / "stages.parquet")
    assert set(stages["status"].astype(str)) >= {"passed", "ok"}
