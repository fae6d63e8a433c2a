"""The fast event loop against the previous straightforward engine: identical traces.

``tests/reference_fleet.py`` is the engine fleetsim had before the loop was rewritten for
speed (an object per instance, SimPy events for every completion, deadline and deferred
decision). Both run the same scenarios - every balancer, several pools and models, pipelines,
synthetic and table service, drops, warm-up, and replayed arrivals with many exact ties - and
must produce the same records in the same order, and the same occupancy integral (up to
rounding: the loop folds arrivals into it in bulk).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import reference_fleet
import simpy
import yaml

from sim.engine.fleet import Fleet
from sim.engine.loop import drive
from sim.engine.runner import plan_pool
from sim.engine.trace_writer import RecordBuffer
from sim.scenario.checks import seq_lens_by_model
from sim.scenario.loading import load_scenario, parse_scenario
from sim.workload.requests import request_stream

BALANCERS = ["round_robin", "random", "least_outstanding", "power_of_two", "join_shortest_queue"]


class Records:
    """Stands in for TraceWriter in the reference engine: keeps the records as they come."""

    def __init__(self) -> None:
        self.records: list[tuple] = []

    def add(self, record) -> None:
        self.records.append(record)


def run_both(scenario, processes=None, compiled=None) -> tuple[list, list, float, float]:
    """(new records in the old layout, reference records, new L, reference L).

    ``processes(env, in_system)``, if given, starts SimPy processes in each engine's
    environment before the run; ``in_system()`` reads that engine's requests in the system.
    ``compiled`` chooses the new engine's loop (see ``sim.engine.loop.drive``).
    """
    lengths = seq_lens_by_model(scenario)
    plans = [plan_pool(scenario, pool, lengths[pool.model]) for pool in scenario.fleet]
    models = sorted(lengths)

    env = simpy.Environment()
    fleet = Fleet.from_scenario(env, scenario, plans, models, 0)
    if processes:
        processes(env, lambda: sum(fleet.outstanding))
    new = RecordBuffer()
    drive(fleet, new, request_stream(scenario, models), scenario.duration, compiled=compiled)
    fleet.record_in_flight(new)
    pool, index, model = fleet.pool_code, fleet.pool_index, fleet.model
    got = [
        (s, f, v, b, pool[j], index[j], r, model[j], st, reqs)
        for s, f, v, b, j, r, st, reqs in new.records()
    ]

    ref_env = simpy.Environment()
    ref = Records()
    ref_fleet = reference_fleet.Fleet(ref_env, scenario, plans, ref, models, 0)
    if processes:
        processes(ref_env, lambda: sum(sum(g.outstanding) for g in ref_fleet.groups))
    ref_fleet.drive(request_stream(scenario, models), scenario.duration)
    ref_fleet.record_in_flight()
    return (
        got,
        ref.records,
        fleet.occupancy.time_average(env.now),
        ref_fleet.occupancy.time_average(ref_env.now),
    )


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def assert_identical(scenario, processes=None, compiled=None) -> int:
    got, want, occ, ref_occ = run_both(scenario, processes, compiled)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert all(same(x, y) for x, y in zip(g, w, strict=True)), (i, g, w)
    assert occ == pytest.approx(ref_occ, rel=1e-9, abs=1e-12)  # folded, so rounded differently
    return sum(len(r[9]) for r in got)


def random_scenario(seed: int) -> dict:
    """A small random scenario: 1-2 models, 1-3 pools, any balancer and batching."""
    rng = np.random.default_rng(seed)
    models = ["bert-base", "distilbert-base"][: int(rng.integers(1, 3))]
    pools = []
    for p in range(int(rng.integers(len(models), 4))):
        model = models[p % len(models)]
        pool = {
            "name": f"p{p}",
            "instance": str(rng.choice(["inf2.xlarge", "inf1.xlarge", "inf1.2xlarge"])),
            "count": int(rng.integers(1, 6)),
            "model": model,
            "batching": {
                "max_batch": int(rng.choice([1, 2, 4, 8])),
                "max_wait": str(rng.choice(["0", "200us", "1ms", "3ms"])),
            },
            "queue_limit": int(rng.choice([2, 5, 50])),
        }
        if rng.random() < 0.3:
            pool["cores_per_replica"] = 2  # a pipeline on the hardware model
        if rng.random() < 0.4:
            pool["service"] = [
                {"kind": "exponential", "mean": "2ms"},
                {"kind": "deterministic", "base": "1ms", "per_request": "500us"},
                {"kind": "lognormal", "mean": "2ms", "cv": 0.8},
            ][int(rng.integers(3))]
            pool.pop("cores_per_replica", None)
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
        "balancer": str(rng.choice(BALANCERS)),
        "slo": {"target": "10ms"},
    }


# Both loops: the Python one and the compiled one (sim.engine._kernel), which is
# required here - a missing build fails these tests rather than skipping them.
LOOPS = pytest.mark.parametrize("compiled", [False, True], ids=["python", "compiled"])


@LOOPS
@pytest.mark.parametrize("seed", range(40))
def test_random_scenarios_identical_to_reference(seed, compiled):
    """Random fleets, balancers, batching, service kinds and loads: identical records."""
    scenario = parse_scenario(yaml.safe_dump(random_scenario(seed)))
    assert assert_identical(scenario, compiled=compiled) > 100


def ties_scenario(tmp_path, balancer: str, max_wait: str):
    """Arrivals on a 0.25 s grid, deterministic service on the same grid: many ties."""
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.choice([0.0, 0.0, 0.0, 0.25, 0.5], size=400))
    pd.DataFrame({"arrival_s": times}).to_csv(tmp_path / "arrivals.csv", index=False)
    data = {
        "name": "ties",
        "seed": 5,
        "duration": f"{times[-1] + 0.5}s",
        "workload": {
            "arrivals": {"kind": "trace", "path": "arrivals.csv"},
            "mix": [{"model": "bert-base"}],
        },  # fmt: skip
        "fleet": [
            {
                "name": name,
                "instance": "inf2.xlarge",
                "count": count,
                "model": "bert-base",
                "cores_per_replica": 1,
                "batching": {"max_batch": 3, "max_wait": max_wait},
                "queue_limit": 6,
                "service": service,
            }
            for name, count, service in [
                ("a", 3, {"kind": "deterministic", "base": "0.5s", "per_request": "0.25s"}),
                ("b", 2, {"kind": "exponential", "mean": "0.75s"}),
            ]
        ],
        "balancer": balancer,
        "slo": {"target": "1s"},
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_scenario(path), len(times)


@LOOPS
@pytest.mark.parametrize("balancer", BALANCERS)
@pytest.mark.parametrize("max_wait", ["0", "250ms"])
def test_replayed_ties_identical_to_reference(tmp_path, balancer, max_wait, compiled):
    """Arrivals on a coarse grid (many simultaneous) and deterministic service (simultaneous
    completions and deadlines): identical records, including the order of tied events."""
    scenario, requests = ties_scenario(tmp_path, balancer, max_wait)
    assert assert_identical(scenario, compiled=compiled) == requests


@pytest.mark.parametrize("balancer", ["power_of_two", "least_outstanding"])
def test_simpy_processes_see_what_they_see_in_the_reference(tmp_path, balancer):
    """SimPy processes whose times tie with fleet events (the 0.25 s grid): waiting
    processes, processes started mid-run (SimPy runs those first at an instant) and zero
    delays observe the same requests in system at the same instants in both engines."""
    scenario, _ = ties_scenario(tmp_path, balancer, "250ms")
    seen: dict[str, list] = {}

    def processes(env, in_system):
        log = seen.setdefault("new" if not seen else "reference", [])

        def watcher(name, first, every):
            log.append((name, "started", env.now, in_system()))
            yield env.timeout(first)
            while True:
                log.append((name, env.now, in_system()))
                yield env.timeout(every)

        def spawner():
            while True:
                yield env.timeout(0.75)
                log.append(("spawner", env.now, in_system()))
                env.process(watcher(f"child{env.now}", 0, 1.0))
                yield env.timeout(0)
                log.append(("after zero", env.now, in_system()))

        env.process(watcher("grid", 0.5, 0.25))
        env.process(watcher("slow", 1.0, 1.5))
        env.process(spawner())

    assert_identical(scenario, processes)
    assert len(seen["new"]) > 100
    assert seen["new"] == seen["reference"]


@LOOPS
def test_case_study_scenario_identical_to_reference(compiled):
    """A shortened Alexa case study (hardware-model service, diurnal arrivals)."""
    data = yaml.safe_load(open("scenarios/alexa.yaml"))
    data["duration"] = "2s"
    data["warmup"] = "200ms"
    assert assert_identical(parse_scenario(yaml.safe_dump(data)), compiled=compiled) > 1000
