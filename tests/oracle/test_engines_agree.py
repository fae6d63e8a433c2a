"""The compiled kernel against the SimPy model it twins: identical traces, always.

The SimPy model (``sim.engine.model``) is the definition; the kernel must write the same
rows (same times to the last bit, same statuses, same order), the same row groups and the
same requests-in-system integral - on the case studies, on fixed scenarios full of exact
ties, on hypothesis-generated scenarios and hand-built fleets, and with SimPy processes
observing the fleet at tied instants.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
import simpy
from helpers import (
    BALANCER_KINDS,
    SCENARIOS,
    assert_engines_agree,
    chunk,
    needs_kernel,
    one_pool_fleet,
    reached,
    records_of,
    same_records,
    scenario,
    scenario_dicts,
)
from hypothesis import HealthCheck, given, settings

from sim.engine.api import prepare
from sim.policies.balancers import BALANCERS
from sim.streams import stream

pytestmark = needs_kernel
DYNAMIC = {"alexa_day", "search_zone_outage", "spot_mix"}


STATIC = [p for p in SCENARIOS if p.stem not in DYNAMIC]  # the others: test_dynamic_scenarios


@pytest.mark.parametrize("path", STATIC, ids=[p.stem for p in STATIC])
def test_case_studies_identical(path, tmp_path):
    """Every case study, shortened: both engines write the same trace."""
    full, _ = prepare(path)
    sc, _ = prepare(full, duration=f"{full.warmup + 2.0}s")
    assert len(assert_engines_agree(sc, tmp_path)) > 1000


def random_scenario(seed: int) -> dict:
    """A small random scenario: 1-2 models, 1-3 pools, any balancer, batching and service."""
    rng = np.random.default_rng(seed)
    models = ["bert-base", "distilbert-base"][: int(rng.integers(1, 3))]
    pools = []
    for p in range(int(rng.integers(len(models), 4))):
        pool = {
            "name": f"p{p}",
            "instance": str(rng.choice(["inf2.xlarge", "inf1.xlarge", "inf1.2xlarge"])),
            "count": int(rng.integers(1, 6)),
            "model": models[p % len(models)],
            "batching": {
                "max_batch": int(rng.choice([1, 2, 4, 8])),
                "max_wait": str(rng.choice(["0", "200us", "1ms", "3ms"])),
            },
            "queue_limit": int(rng.choice([2, 5, 50])),
        }
        if rng.random() < 0.3:
            pool["cores_per_replica"] = 2  # a pipeline on the hardware model
        pool["jitter"] = [{"cv": 0.05}, {"cv": 0.4}, "none"][int(rng.integers(3))]
        pool["shapes"] = ["none", "auto", {"seq_buckets": [64, 128], "batch_sizes": [4, 8]}][
            int(rng.integers(3))
        ]
        pool["host"] = [
            "none",
            {"per_request": "40us", "per_token": "300ns", "per_batch": "150us"},
        ][int(rng.integers(2))]
        if rng.random() < 0.4:
            pool["service"] = [
                {"kind": "exponential", "mean": "2ms"},
                {"kind": "deterministic", "base": "1ms", "per_request": "500us"},
                {"kind": "lognormal", "mean": "2ms", "cv": 0.8},
            ][int(rng.integers(3))]
            pool.pop("cores_per_replica", None)
            pool.pop("jitter")
            pool.pop("shapes")
        pools.append(pool)
    mix = [
        {"model": m, "weight": int(rng.integers(1, 4)),
         "seq_len": {"kind": "choice", "values": [32, 128]}}
        for m in models
    ]  # fmt: skip
    capacity = sum(p["count"] for p in pools) * 1500.0
    return {
        "name": f"random{seed}",
        "seed": seed,
        "duration": "1s",
        "warmup": str(rng.choice(["0", "100ms"])),
        "workload": {
            "arrivals": {"kind": "poisson", "rate": float(capacity * rng.uniform(0.3, 1.3))},
            "mix": mix,
        },
        "fleet": pools,
        "balancer": str(rng.choice(BALANCER_KINDS)),
        "slo": {"target": "10ms"},
    }


@pytest.mark.parametrize("seed", range(24))
def test_random_scenarios_identical(seed, tmp_path):
    """Random fleets, balancers, batching, service kinds and loads."""
    assert len(assert_engines_agree(scenario(random_scenario(seed)), tmp_path)) > 100


def ties_scenario(directory: Path, balancer: str, max_wait: str) -> dict:
    """Arrivals on a 0.25 s grid and deterministic service on the same grid: many ties."""
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.choice([0.0, 0.0, 0.0, 0.25, 0.5], size=400))
    pd.DataFrame({"arrival_s": times}).to_csv(directory / "arrivals.csv", index=False)
    pools = [
        ("a", 3, {"kind": "deterministic", "base": "0.5s", "per_request": "0.25s"}),
        ("b", 2, {"kind": "exponential", "mean": "0.75s"}),
    ]
    return {
        "name": "ties",
        "seed": 5,
        "duration": f"{times[-1] + 0.5}s",
        "warmup": "1s",
        "workload": {
            "arrivals": {"kind": "trace", "path": str(directory / "arrivals.csv")},
            "mix": [{"model": "bert-base"}],
        },
        "fleet": [
            {
                "name": name,
                "instance": "inf2.xlarge",
                "count": count,
                "model": "bert-base",
                "batching": {"max_batch": 3, "max_wait": max_wait},
                "queue_limit": 6,
                "service": service,
            }
            for name, count, service in pools
        ],  # fmt: skip
        "balancer": balancer,
        "slo": {"target": "1s"},
    }


@pytest.mark.parametrize("balancer", BALANCER_KINDS)
@pytest.mark.parametrize("max_wait", ["0", "250ms"])
def test_replayed_ties_identical(tmp_path, balancer, max_wait):
    """Simultaneous arrivals, completions and deadlines: the phases of an instant give the
    same order in both engines."""
    sc = scenario(ties_scenario(tmp_path, balancer, max_wait))
    assert len(assert_engines_agree(sc, tmp_path)) == 400


def observers(log: list):
    """SimPy processes that read the fleet at instants tied with its events (0.25 s grid):
    periodic ones, ones started mid-run and zero delays."""

    def make():
        def watcher(env, fleet, name, first, every):
            log.append((name, "started", env.now, fleet.outstanding))
            yield env.timeout(first)
            while True:
                pools = [(p.waiting, p.in_service, p.busy_replicas, p.arrivals, p.completions,
                          p.drops) for p in fleet.pools]  # fmt: skip
                log.append((name, env.now, pools, [i.outstanding for i in fleet.instances]))
                yield env.timeout(every)

        def spawner(env, fleet):
            while True:
                yield env.timeout(0.75)
                log.append(("spawner", env.now, fleet.waiting))
                env.process(watcher(env, fleet, f"child{env.now}", 0, 1.0))
                yield env.timeout(0)
                log.append(("after zero", env.now, fleet.in_service))

        return [
            lambda env, fleet: watcher(env, fleet, "grid", 0.5, 0.25),
            lambda env, fleet: watcher(env, fleet, "slow", 1.0, 1.5),
            spawner,
        ]

    return make


@pytest.mark.parametrize("balancer", ["power_of_two", "least_outstanding"])
def test_processes_see_the_same_fleet_in_both_engines(tmp_path, balancer):
    """Processes whose times tie with fleet events read the same numbers in both engines."""
    sc = scenario(ties_scenario(tmp_path, balancer, "250ms"))
    logs: dict[str, list] = {"compiled": [], "simpy": []}
    order = iter(["compiled", "simpy"])
    assert_engines_agree(sc, tmp_path, processes=lambda: observers(logs[next(order)])())
    assert len(logs["compiled"]) > 200
    assert logs["compiled"] == logs["simpy"]


# --- hypothesis: generated scenarios ---------------------------------------------------


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(replay=True))
def test_generated_scenarios_identical(generated):
    """Hypothesis scenarios: pools, batching, balancers, queue limits, arrival kinds,
    synthetic and hardware service, warm-up."""
    data, replayed = generated
    with tempfile.TemporaryDirectory() as directory:
        directory = Path(directory)
        if replayed is not None:
            pd.DataFrame({"arrival_s": replayed}).to_csv(directory / "arrivals.csv", index=False)
            data["workload"]["arrivals"]["path"] = str(directory / "arrivals.csv")
        assert_engines_agree(scenario(data), directory)


# --- hypothesis: hand-built fleets, zero service times and pipelines -------------------


@st.composite
def hand_built(draw):
    """A one-pool fleet with service times from a grid that includes zero, arrivals on the
    same grid (ties everywhere), and an end time."""
    grid = 0.25
    times = reached((np.cumsum(draw(st.lists(st.sampled_from([0, 0, 1, 2]), min_size=1,
                                                max_size=60))) * grid).tolist())  # fmt: skip
    services = draw(st.lists(st.sampled_from([0.0, grid, 2 * grid, 3 * grid]), min_size=1,
                             max_size=8))  # fmt: skip
    params = {
        "count": draw(st.integers(1, 3)),
        "replicas": draw(st.integers(1, 3)),
        "max_batch": draw(st.integers(1, 4)),
        "max_wait": draw(st.sampled_from([0.0, grid, 2 * grid])),
        "queue_limit": draw(st.integers(1, 6)),
        "depth": draw(st.sampled_from([1, 1, 2, 3])),
        "balancer": draw(st.sampled_from(BALANCER_KINDS)),
    }
    until = times[-1] + draw(st.sampled_from([0.0, grid, 10.0]))
    if until <= times[-1]:
        times = [t for t in times if t < until] or [0.0]
        until = max(until, times[-1] + grid)
    return times, services, params, until


@settings(max_examples=300, deadline=None)
@given(hand_built())
def test_hand_built_fleets_identical(case):
    """Zero service times (events added at the current instant), pipelines, tiny queues and
    every balancer, on a grid where everything ties: the same records in both engines."""
    times, services, params, until = case
    results = []
    for engine in ("compiled", "simpy"):
        calls = iter(range(10**9))

        def service(b, s, calls=calls):
            return services[next(calls) % len(services)]

        kind = params["balancer"]
        balancer = BALANCERS[kind](params["count"], stream(1, "balancer"))
        fleet = one_pool_fleet(
            count=params["count"], replicas=params["replicas"], max_batch=params["max_batch"],
            max_wait=params["max_wait"], queue_limit=params["queue_limit"], service=service,
            depth=params["depth"], balancer=balancer,
        )  # fmt: skip
        results.append(records_of(fleet, iter([chunk(times)]), until, engine))
    assert same_records(*results), (results[0][:5], results[1][:5])


def test_a_simpy_run_steps_simpy_events(tmp_path, monkeypatch):
    """The SimPy engine really is SimPy: it steps more than one event per request; the
    compiled kernel without processes steps only the end of the run."""
    steps = {"n": 0}
    original = simpy.Environment.step

    def counting(self):
        steps["n"] += 1
        return original(self)

    monkeypatch.setattr(simpy.Environment, "step", counting)
    sc = scenario(random_scenario(3))
    from sim.engine.runner import simulate

    stats = simulate(sc, tmp_path / "simpy.parquet", engine="simpy")
    assert steps["n"] > 2 * stats.requests
    steps["n"] = 0
    simulate(sc, tmp_path / "compiled.parquet", engine="compiled")
    assert steps["n"] == 1  # the end of the run only
