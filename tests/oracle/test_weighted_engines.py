"""Capacity-weighted balancers mean the same on both engines, fixed fleet or changing.

A heterogeneous fleet (two inf2.xlarge and one g5.xlarge serving one model) under each
weighted policy gives identical traces on the SimPy model and the compiled kernel; random
fleet actions (add, drain, fail, restore, terminate) with a weighted policy give identical
records and lifetimes.
"""

from __future__ import annotations

import numpy as np
import pytest
from chaos import chaos
from helpers import assert_engines_agree, needs_kernel, reached, same_records, scenario

from sim.engine.fleet import Fleet
from sim.engine.pool import Pool
from sim.engine.records import RecordBuffer
from sim.engine.runner import drive
from sim.policies.balancers import BALANCERS
from sim.streams import stream

WEIGHTED = [kind for kind, cls in BALANCERS.items() if cls.weighted]


def hetero(kind: str, rate: float = 4000.0, duration: str = "2s") -> dict:
    """Two inf2.xlarge and one g5.xlarge serving bert-base behind one balancer (capacity
    about 5,400/s at full batches of the longest length: 4,000/s is 75% of it)."""
    pool = {"model": "bert-base", "batching": {"max_batch": 8, "max_wait": "2ms"},
            "queue_limit": 64}  # fmt: skip
    return {
        "name": "hetero",
        "seed": 15,
        "duration": duration,
        "warmup": "0.25s",
        "workload": {"arrivals": {"kind": "poisson", "rate": rate},
                     "mix": [{"model": "bert-base", "weight": 1,
                              "seq_len": {"kind": "choice", "values": [32, 64, 128]}}]},
        "fleet": [{"name": "inf", "instance": "inf2.xlarge", "count": 2, **pool},
                  {"name": "gpu", "instance": "g5.xlarge", "count": 1, **pool}],
        "balancer": kind,
        "slo": {"percentile": 99, "target": "50ms"},
    }  # fmt: skip


def test_weighted_policies_are_listed():
    """The three capacity-weighted policies are in the table, each with a kernel form."""
    assert WEIGHTED == ["weighted_round_robin", "weighted_random", "weighted_least_outstanding"]
    assert all(BALANCERS[kind].compiled is not None for kind in WEIGHTED)


@needs_kernel
@pytest.mark.parametrize("kind", WEIGHTED)
def test_heterogeneous_fleet_identical_on_both_engines(kind, tmp_path):
    """inf2 + g5 behind one weighted balancer: identical traces; and the share each
    instance gets follows its capacity (round robin and random: within 3 points of w_i/W)."""
    sc = scenario(hetero(kind))
    fleet = Fleet.from_scenario(sc)
    capacity = np.array([p.capacity_per_s for p in fleet.pools for _ in range(p.count)])
    assert capacity[0] == capacity[1] != capacity[2]  # the pools differ: weights matter
    df = assert_engines_agree(sc, tmp_path)
    routed = df.groupby(["pool", "instance_id"]).size()
    share = np.array([routed["inf", 0], routed["inf", 1], routed["gpu", 0]]) / routed.sum()
    if kind != "weighted_least_outstanding":
        assert np.abs(share - capacity / capacity.sum()).max() < 0.03, (kind, share, "seed 15")


def chaos_fleet(seed: int) -> tuple[Fleet, list[float]]:
    """Model 0 on three pools of different capacities (one pipelined), model 1 on one."""
    rng = np.random.default_rng(seed)
    kind = WEIGHTED[seed % len(WEIGHTED)]
    pools = [
        Pool(2, 0, 2, 4, 0.05, 6, lambda b, s: 0.05 + 0.02 * b, name="a", capacity_per_s=61.5),
        Pool(1, 0, 1, 2, 0.0, 8, lambda b, s: 0.03 * b, pipeline_depth=3, name="b",
             capacity_per_s=33.3),
        Pool(1, 0, 1, 1, 0.0, 5, lambda b, s: 0.01, name="fast", capacity_per_s=100.0),
        Pool(2, 1, 1, 8, 0.1, 20, lambda b, s: 0.04 + 0.01 * b, name="c", capacity_per_s=66.7),
    ]  # fmt: skip
    balancers = [BALANCERS[kind](n, stream(seed, "balancer", m)) for m, n in enumerate([4, 2])]
    fleet = Fleet(pools, balancers)
    times = np.cumsum(rng.exponential(1 / 120.0, size=int(rng.integers(400, 1100)))).tolist()
    return fleet, [t for t in times if t < 8.0]


@needs_kernel
@pytest.mark.parametrize("seed", range(9))
def test_random_actions_with_weighted_balancers_identical(seed):
    """Random add/drain/fail/restore/terminate scripts under each weighted policy (three
    seeds each): identical records and lifetimes on both engines, every request once."""
    results = {}
    for engine in ("compiled", "simpy"):
        fleet, times = chaos_fleet(seed)
        models = np.asarray([0 if (k * 7919) % 5 else 1 for k in range(len(times))])
        writer = RecordBuffer()
        c = (np.asarray(reached(times)), models, np.full(len(times), 64, dtype=np.int64))
        driven = drive(fleet, writer, [c], 10.0, engine=engine,
                       processes=[chaos(seed, ["a", "b", "fast", "c"])[0]],
                       cold_start_s=[0.5, 0.25, 0.1, 1.0])  # fmt: skip
        lifetimes = [(r.number, r.requested_s, r.ready_s, r.terminated_s, r.reason)
                     for r in driven.roster.lifetimes]  # fmt: skip
        results[engine] = (writer.records(), lifetimes)
    (rec_c, life_c), (rec_s, life_s) = results["compiled"], results["simpy"]
    assert same_records(rec_c, rec_s), f"seed {seed}"
    assert str(life_c) == str(life_s)  # NaN-tolerant equality
    ids = sorted(rid for *_, reqs in rec_s for rid, _a, _q in reqs)
    assert ids == list(range(len(ids)))  # every request exactly once
