"""Fleet actions (add, drain, fail, restore, terminate) mean the same on both engines.

Exact small cases of the rules (``sim.engine.actions``), then random action scripts on
hand-built fleets - every balancer, batching with deadlines, pipelines, several models - that
must give identical records and lifetimes on the SimPy model and the compiled kernel.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from chaos import chaos, clients_of
from helpers import ENGINES, chunk, needs_kernel, one_pool_fleet, reached, same_records

from analysis.schema import FAILED, OK
from sim.engine.clients import ClientRules
from sim.engine.fleet import Fleet
from sim.engine.pool import Pool
from sim.engine.records import RecordBuffer
from sim.engine.runner import drive
from sim.policies.balancers import BALANCERS
from sim.streams import stream


def run(fleet, times, until, engine, processes, cold_start_s=None):
    """Drive ``fleet`` with arrivals at ``times``; (records, lifetimes as tuples)."""
    writer = RecordBuffer()
    chunks = [chunk(reached(times))] if times else []
    driven = drive(fleet, writer, chunks, until, engine=engine, processes=processes,
                   cold_start_s=cold_start_s)  # fmt: skip
    lifetimes = [
        (r.number, r.pool, r.instance_id, r.requested_s, r.ready_s, r.terminated_s, r.reason)
        for r in driven.roster.lifetimes
    ]
    return writer.records(), lifetimes


def rows(records):
    """(request id, start, finish, instance, status) per request, by id."""
    return sorted(
        (rid, start, finish, inst, status)
        for start, finish, _s, _size, inst, _r, status, reqs in records
        for rid, _a, _q in reqs
    )


@ENGINES
def test_a_failure_loses_exactly_the_requests_it_held(engine):
    """Two instances, round robin, 1.5 s service: at t = 10 instance 0 fails; the requests
    it held then (one in service, the rest queued) are recorded failed, nothing else is."""
    times = [0.5 * k for k in range(40)]  # 1/s onto each instance serving 1/1.5 s: queues grow

    def failer(env, fleet):
        yield env.timeout(10.0)
        held = fleet.instances[0].outstanding
        assert held > 1
        fleet.fail(fleet.instances[0])
        log.append(held)

    log: list[int] = []
    fleet = one_pool_fleet(count=2, service=lambda b, s: 1.5)
    records, lifetimes = run(fleet, times, 30.0, engine, [failer])
    by_status = {}
    for rid, start, _finish, inst, status in rows(records):
        by_status.setdefault(status, []).append((rid, start, inst))
    lost = by_status[FAILED]
    assert len(lost) == log[0] and all(inst == 0 for _, _, inst in lost)
    assert sum(1 for _, start, _ in lost if not math.isnan(start)) == 1  # one was in service
    # lost: the requests routed to instance 0 (even ids) that had not finished by t = 10
    finished_before = {rid for rid, _s, f, inst, st in rows(records) if st == OK and inst == 0}
    assert {rid for rid, _, _ in lost} == {
        rid for rid in range(0, 40, 2) if rid not in finished_before and 0.5 * rid < 10.0
    }
    assert (0, "pool", 0, 0.0, 0.0, 10.0, "failure") in lifetimes
    last = [lt for lt in lifetimes if lt[0] == 0][-1]
    assert last[3] == 10.0 and math.isnan(last[4]) and last[5] == 30.0 and last[6] == "end"


@ENGINES
def test_a_drain_finishes_its_queue_before_termination(engine):
    """Draining an instance with a queue: it takes no new requests, serves every queued
    one, and its lifetime ends when the last of them leaves."""
    times = [0.0] * 6 + [5.0, 5.5, 6.0]

    def drainer(env, fleet):
        yield env.timeout(1.5)
        fleet.drain(fleet.instances[0])

    records, lifetimes = run(one_pool_fleet(count=2), times, 20.0, engine, [drainer])
    served = rows(records)
    assert all(status == OK for *_, status in served)
    on_0 = [(rid, finish) for rid, _s, finish, inst, _st in served if inst == 0]
    assert sorted(rid for rid, _ in on_0) == [0, 2, 4]  # nothing after the drain
    assert [lt[5:] for lt in lifetimes if lt[0] == 0] == [(max(f for _, f in on_0), "scale_in")]


@ENGINES
def test_a_scale_out_serves_no_earlier_than_requested_plus_cold_start(engine):
    """An instance added at t = 2 with a 3 s cold start serves its first request at or after
    t = 5; before that every request goes to the first instance."""
    times = [0.25 * k for k in range(40)]

    def scaler(env, fleet):
        yield env.timeout(2.0)
        added = fleet.add_instance("pool")
        assert added.state == "starting"
        yield env.timeout(3.0)
        assert added.state == "in_service"

    records, lifetimes = run(one_pool_fleet(count=1, service=lambda b, s: 0.1), times, 20.0,
                             engine, [scaler], cold_start_s=[3.0])  # fmt: skip
    starts = [start for _r, start, _f, inst, _st in rows(records) if inst == 1]
    assert starts and min(starts) >= 5.0
    assert (1, "pool", 1, 2.0, 5.0, 20.0, "end") in lifetimes


def test_actions_refuse_what_the_state_does_not_allow():
    """Restoring an instance in service, or acting on a terminated one, names both."""

    def bad(env, fleet):
        yield env.timeout(1.0)
        first = fleet.instances[0]
        refused = r"cannot restore instance pool\[0\]: it is in_service"
        with pytest.raises(ValueError, match=refused):
            fleet.restore(first)
        fleet.terminate(first, "scale_in")
        with pytest.raises(ValueError, match="it is terminated"):
            fleet.fail(first)
        with pytest.raises(ValueError, match="ready_in_s"):
            fleet.add_instance("pool", ready_in_s=-1)
        done.append(True)

    done: list[bool] = []
    run(one_pool_fleet(count=2), [0.1], 5.0, "simpy", [bad])
    assert done == [True]


def chaos_fleet(seed: int) -> tuple[Fleet, list[float]]:
    """Two models; model 0 on a plain and a pipelined pool, model 1 on a batching pool."""
    rng = np.random.default_rng(seed)
    kinds = list(BALANCERS)
    kind = kinds[seed % len(kinds)]
    pools = [  # capacities (requests/s at full batches) for the weighted balancers
        Pool(2, 0, 2, 4, 0.05, 6, lambda b, s: 0.05 + 0.02 * b, name="a", capacity_per_s=61.5),
        Pool(1, 0, 1, 2, 0.0, 8, lambda b, s: 0.03 * b, pipeline_depth=3, name="b",
             capacity_per_s=33.3),
        Pool(2, 1, 1, 8, 0.1, 20, lambda b, s: 0.04 + 0.01 * b, name="c", capacity_per_s=66.7),
    ]  # fmt: skip
    balancers = [BALANCERS[kind](n, stream(seed, "balancer", m)) for m, n in enumerate([3, 2])]
    fleet = Fleet(pools, balancers)
    times = np.cumsum(rng.exponential(1 / 80.0, size=int(rng.integers(300, 900)))).tolist()
    return fleet, [t for t in times if t < 8.0]


@needs_kernel
@pytest.mark.parametrize("seed", range(24))
def test_random_actions_identical_on_both_engines(seed):
    """Random add/drain/fail/restore/terminate scripts, with and without client deadlines
    and retries: identical records (attempts and deadlines too), lifetimes and readings on
    both engines (every balancer, batching deadlines, a pipeline, two models)."""
    results = {}
    for engine in ("compiled", "simpy"):
        fleet, times = chaos_fleet(seed)
        models = np.asarray([0 if (k * 7919) % 5 else 1 for k in range(len(times))])
        act, log = chaos(seed, ["a", "b", "c"])
        writer = RecordBuffer()
        c = (np.asarray(reached(times)), models, np.full(len(times), 64, dtype=np.int64))
        driven = drive(fleet, writer, [c], 10.0, engine=engine, processes=[act],
                       cold_start_s=[0.5, 0.25, 1.0], clients=clients_of(seed))  # fmt: skip
        lifetimes = [(r.number, r.requested_s, r.ready_s, r.terminated_s, r.reason)
                     for r in driven.roster.lifetimes]  # fmt: skip
        results[engine] = (writer.records(full=True), lifetimes, log)
    (rec_c, life_c, log_c), (rec_s, life_s, log_s) = results["compiled"], results["simpy"]
    assert same_records(rec_c, rec_s)
    assert str(life_c) == str(life_s)  # NaN-tolerant equality
    assert log_c == log_s
    ids = sorted(r.request_id for *_, reqs in rec_s for r in reqs)
    assert ids == list(range(len(ids)))  # every request exactly once


@ENGINES
def test_a_failure_with_retries_resends_exactly_the_requests_it_held(engine):
    """As above with retries (no jitter, 0.5 s backoff): the requests instance 0 held at
    t = 10 are exactly those sent a second time, each at 10.5 s, and they finish on
    instance 1; no other request is retried."""
    times = [0.5 * k for k in range(40)]
    held: list[int] = []

    def failer(env, fleet):
        yield env.timeout(10.0)
        held.append(fleet.instances[0].outstanding)
        fleet.fail(fleet.instances[0])

    writer = RecordBuffer()
    rules = ClientRules(max_attempts=2, backoff_caps_s=(0.5,))
    drive(one_pool_fleet(count=2, service=lambda b, s: 1.5), writer, [chunk(reached(times))],
          60.0, engine=engine, processes=[failer], clients=rules)  # fmt: skip
    records = writer.records(full=True)
    retried = [(r, q) for r in records for q in r.requests if q.attempts == 2]
    assert len(retried) == held[0] > 1
    assert all(q.queued_s == 10.5 and r.instance == 1 and r.status == OK for r, q in retried)
    ids = sorted(q.request_id for r in records for q in r.requests)
    assert ids == list(range(40))  # each request exactly once


def shared_fleet(seed: int) -> tuple[Fleet, list[float]]:
    """Two models; a pool ``s`` whose instances serve both (a core group each, two and one
    replicas), beside a one-model pool of each."""
    rng = np.random.default_rng(seed)
    kind = list(BALANCERS)[seed % len(BALANCERS)]
    pools = [
        Pool(1, 0, 1, 4, 0.05, 6, lambda b, s: 0.05 + 0.02 * b, name="a", capacity_per_s=30.8),
        Pool(2, 0, 2, 2, 0.02, 5, lambda b, s: 0.04 * b, name="s/0", instance_pool="s",
             capacity_per_s=50.0),
        Pool(2, 1, 1, 8, 0.1, 4, lambda b, s: 0.04 + 0.01 * b, name="s/1", instance_pool="s",
             capacity_per_s=66.7),
        Pool(1, 1, 1, 3, 0.0, 8, lambda b, s: 0.03 * b, name="c", capacity_per_s=33.3),
    ]  # fmt: skip
    balancers = [BALANCERS[kind](3, stream(seed, "balancer", m)) for m in range(2)]
    fleet = Fleet(pools, balancers)
    times = np.cumsum(rng.exponential(1 / 80.0, size=int(rng.integers(300, 900)))).tolist()
    return fleet, [t for t in times if t < 8.0]


def test_a_shared_pool_is_one_physical_pool():
    """Its groups share instances: one view pool, instances with both groups' numbers."""
    fleet, _ = shared_fleet(0)
    assert fleet.host_names == ["a", "s", "c"]
    assert fleet.host_groups == [[0], [1, 2], [3]]
    seen = []

    def look(env, view):
        seen.append([(p.name, p.models, p.replicas_per_instance) for p in view.pools])
        seen.append([(i.pool, i.index, i.numbers) for i in view.instances])
        yield env.timeout(0)

    run(fleet, [0.1], 1.0, "simpy", [look])
    assert seen[0] == [("a", ("model0",), 1), ("s", ("model0", "model1"), 3),
                       ("c", ("model1",), 1)]  # fmt: skip
    # numbered by model: a 0, s/0 1-2, then s/1 3-4, c 5
    assert seen[1] == [("a", 0, [0]), ("s", 0, [1, 3]), ("s", 1, [2, 4]), ("c", 0, [5])]


@needs_kernel
@pytest.mark.parametrize("seed", range(12))
def test_random_actions_on_shared_instances_identical_on_both_engines(seed):
    """Random action scripts on a fleet with a multi-model pool: identical records,
    lifetimes (one per physical instance) and readings on both engines; every request once."""
    results = {}
    for engine in ("compiled", "simpy"):
        fleet, times = shared_fleet(seed)
        models = np.asarray([0 if (k * 7919) % 3 else 1 for k in range(len(times))])
        act, log = chaos(seed, ["a", "s", "c"])
        writer = RecordBuffer()
        c = (np.asarray(reached(times)), models, np.full(len(times), 64, dtype=np.int64))
        driven = drive(fleet, writer, [c], 10.0, engine=engine, processes=[act],
                       cold_start_s=[0.5, 0.25, 1.0], clients=clients_of(seed))  # fmt: skip
        lifetimes = [(r.number, r.pool, r.requested_s, r.ready_s, r.terminated_s, r.reason)
                     for r in driven.roster.lifetimes]  # fmt: skip
        results[engine] = (writer.records(full=True), lifetimes, log)
    (rec_c, life_c, log_c), (rec_s, life_s, log_s) = results["compiled"], results["simpy"]
    assert same_records(rec_c, rec_s)
    assert str(life_c) == str(life_s)  # NaN-tolerant equality
    assert log_c == log_s
    at_start = sorted(life[1] for life in life_s if life[2] == 0.0)
    assert at_start == ["a", "c", "s", "s"]  # a shared instance is one lifetime, not two
    ids = sorted(r.request_id for *_, reqs in rec_s for r in reqs)
    assert ids == list(range(len(ids)))  # every request exactly once
