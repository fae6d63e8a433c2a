"""Pools serving several models, each on its own NeuronCores (``models:``), on both engines.

Exact small runs with deterministic service: requests reach only their model's core group;
an action on an instance acts on all its groups; an instance is one lifetime, billed once.
Budget 2 s for the file (measured 1.3 s with the kernel, both engines compared; 0.4 s on the
SimPy engine alone).
"""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import ENGINES, ROOT, assert_engines_agree, scenario

from sim.engine.runner import simulate
from sim.policies.coldstart import cold_start_parts, pool_cold_start
from sim.scenario.errors import ScenarioError
from sim.scenario.groups import host_vcpus, pool_groups
from sim.scenario.loading import load_scenario
from sim.scenario.models import resolve_model

PRICE = 0.228  # inf1.xlarge, USD per hour (hardware catalog)


def shared(service="10ms", rate=100.0, duration="20s", mix=("a", "b"), count=2) -> dict:
    """Two labels served by one pool of inf1.xlarge: ``a`` on 3 cores, ``b`` on 1."""
    return {
        "name": "shared",
        "seed": 7,
        "duration": duration,
        "workload": {
            "arrivals": {"kind": "poisson", "rate": rate},
            "mix": [{"model": m, "weight": 1} for m in mix],
        },
        "fleet": [
            {
                "name": "nlu",
                "instance": "inf1.xlarge",
                "count": count,
                "models": [{"model": "a", "cores": 3}, {"model": "b", "cores": 1}],
                "service": {"kind": "deterministic", "base": service},
            }
        ],
        "balancer": "round_robin",
        "slo": {"target": "1s"},
    }


def run(sc, tmp_path, engine, processes=()):
    """Run ``sc`` on ``engine``; its trace and lifetimes (both engines agree where built)."""
    if engine == "compiled":
        assert_engines_agree(sc, tmp_path, processes=lambda: list(processes))
    (tmp_path / engine).mkdir(exist_ok=True)
    stats = simulate(sc, tmp_path / engine / "requests.parquet", engine=engine,
                     processes=list(processes))  # fmt: skip
    trace = pd.read_parquet(stats.trace_path)
    lifetimes = pd.read_parquet(stats.trace_path.with_name("instances.parquet"))
    return stats, trace, lifetimes


@ENGINES
def test_requests_reach_only_their_models_group_and_the_instance_is_billed_once(tmp_path, engine):
    """Each model's rows name its own group; two instances are two lifetimes, priced once."""
    stats, trace, lifetimes = run(scenario(shared()), tmp_path, engine)
    assert len(trace) > 1900  # 100/s for 20 s
    assert (trace["pool"].astype(str) == "nlu/" + trace["model"].astype(str)).all()
    assert set(trace["instance_id"]) == {0, 1}
    assert list(lifetimes["pool"].astype(str)) == ["nlu", "nlu"]
    assert list(lifetimes["usd_per_hour"]) == [PRICE, PRICE]
    assert stats.metrics["billed_cost_usd"] == pytest.approx(2 * PRICE * 60 / 3600)  # 60 s min
    assert stats.metrics["cost_usd"] == pytest.approx(2 * PRICE * 20 / 3600)
    facts = {p["pool"]: p for p in stats.info["pools"]}
    assert facts["nlu/a"]["replicas_per_instance"] == 3
    assert facts["nlu/b"]["replicas_per_instance"] == 1
    assert facts["nlu/a"]["usd_per_hour"] + facts["nlu/b"]["usd_per_hour"] == PRICE


@ENGINES
def test_failing_an_instance_loses_the_requests_of_both_groups(tmp_path, engine):
    """At t = 10 instance 0 fails: exactly what both its groups held is failed, nothing else."""
    held: list[tuple[int, int]] = []

    def failer(env, fleet):
        yield env.timeout(10.0)
        inst = fleet.instances[0]
        assert len(inst.numbers) == 2
        held.append((inst.outstanding, fleet.outstanding - inst.outstanding))
        fleet.fail(inst)

    sc = scenario(shared(service="150ms", rate=20.0, duration="30s"))
    _, trace, lifetimes = run(sc, tmp_path, engine, [failer])
    lost = trace[trace["status"].astype(str) == "failed"]
    assert len(lost) == held[-1][0] and held[-1][1] > 0
    assert set(lost["instance_id"]) == {0}
    assert set(lost["model"].astype(str)) == {"a", "b"}
    rows = lifetimes[["instance_id", "requested_s", "terminated_s", "reason"]]
    assert rows.values.tolist() == [[0, 0.0, 10.0, "failure"], [1, 0.0, 30.0, "end"],
                                    [0, 10.0, 30.0, "end"]]  # fmt: skip


@ENGINES
def test_an_added_instance_serves_both_models_and_a_drain_ends_with_its_last_group(
    tmp_path, engine
):
    """add_instance starts one instance with both groups; draining one whose ``b`` group is
    idle ends it when its ``a`` group's last request leaves."""
    seen: dict[str, object] = {}

    def script(env, fleet):
        yield env.timeout(1.0)
        pool = fleet.pool("nlu")
        seen["pool"] = (pool.models, pool.model, pool.replicas_per_instance)
        added = fleet.add_instance("nlu", ready_in_s=2.0)
        seen["numbers"] = added.numbers
        yield env.timeout(4.0)
        fleet.drain(fleet.instances[0])
        seen["state"] = fleet.instances[0].state

    sc = scenario(shared(service="400ms", rate=8.0, duration="20s", mix=("a",)))
    _, trace, lifetimes = run(sc, tmp_path, engine, [script])
    assert seen["pool"] == (("a", "b"), "a+b", 4)
    assert len(seen["numbers"]) == 2 and seen["state"] == "draining"
    new = trace[trace["instance_id"] == 2]
    assert len(new) > 0 and (new["start_s"] >= 3.0).all()
    first = lifetimes[lifetimes["instance_id"] == 0].iloc[0]
    last_a = trace.loc[trace["instance_id"] == 0, "finish_s"].max()
    assert first["reason"] == "scale_in" and first["terminated_s"] == last_a > 5.0
    added = lifetimes[lifetimes["instance_id"] == 2].iloc[0]
    assert (added["requested_s"], added["ready_s"]) == (1.0, 3.0)
    assert len(lifetimes) == 3


BAD = [
    ({"model": "a"}, ["exactly one of model", "models"]),
    ({"models": [{"model": "a", "cores": 3}, {"model": "b", "cores": 2}]},
     ["fleet[0].models", "add up to 5", "inf1.xlarge has 4 cores"]),
    ({"models": [{"model": "a", "cores": 2}, {"model": "a", "cores": 2}]},
     ["a listed twice"]),
    ({"cores_per_replica": 2}, ["fleet[0].cores_per_replica", "2 must divide its group's 1"]),
]  # fmt: skip


@pytest.mark.parametrize("change, fragments", BAD)
def test_bad_multi_model_pools_name_the_field_and_value(change, fragments):
    """Both model and models, too many cores, a model twice, a layout that does not divide."""
    data = shared()
    data["fleet"][0].update(change)
    with pytest.raises(ScenarioError) as info:
        scenario(data)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_memory_fit_is_checked_per_group():
    """gpt2-xl (2.9 GiB in bf16) fits two inf1 cores (2 GiB each) but not a one-core group."""
    data = shared()
    pool = data["fleet"][0]
    del pool["service"]
    pool["models"] = [{"model": "bert-base", "cores": 3}, {"model": "gpt2-xl", "cores": 1}]
    data["workload"]["mix"] = [{"model": "bert-base", "weight": 1}]
    with pytest.raises(ScenarioError) as info:
        scenario(data)
    message = str(info.value)
    assert "fleet[0].models[1].model" in message and "gpt2-xl in bf16" in message
    assert "1-core replica on inf1.xlarge" in message
    pool["cores_per_replica"] = "auto"  # tries only layouts inside the group
    with pytest.raises(ScenarioError, match=r"models\[1\]\.model: gpt2-xl .* 1-core replica"):
        scenario(data)
    pool["models"] = [{"model": "bert-base", "cores": 2}, {"model": "gpt2-xl", "cores": 2}]
    scenario(data)  # fits once its group has two cores (one two-core replica)


def test_groups_split_vcpus_and_load_both_models_on_a_cold_start():
    """vCPUs split with the cores (at least one each); a cold start loads every model."""
    assert [host_vcpus(4, c, 4) for c in (3, 1)] == [3, 1]
    assert host_vcpus(4, 1, 16) == 1
    sc = load_scenario(ROOT / "scenarios" / "multi_model.yaml")
    pool = sc.fleet[0]
    groups = pool_groups(pool)
    assert [(g.name, g.cores, g.vcpus) for g in groups] == [
        ("nlu/bert-base", 3, 3), ("nlu/distilbert-base", 1, 1)]  # fmt: skip
    assert groups[1].config.batching.max_batch == 8 and groups[0].config.batching.max_batch == 4
    whole = pool_cold_start(pool, sc)
    parts = [cold_start_parts(None, pool.instance, resolve_model(sc, g.config.model), "bf16")
             for g in groups]  # fmt: skip
    assert whole.weight_bytes == sum(p.weight_bytes for p in parts)
    assert whole.total_s == pytest.approx(parts[0].total_s + parts[1].load_s)
    assert parts[1].load_s > 0
