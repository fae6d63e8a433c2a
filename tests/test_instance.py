"""Exact event logs of one instance: deterministic arrivals, constant or affine service."""

from __future__ import annotations

import math

import numpy as np
import simpy

from sim.engine.fleet import Fleet, PoolSpec
from sim.engine.loop import drive
from sim.engine.trace_writer import DROPPED, IN_FLIGHT, OK, RecordBuffer
from sim.policies.balancers import RoundRobin
from sim.streams import stream


class LogWriter(RecordBuffer):
    """Keeps the engine's records; rows as (id, arrival, start, finish, size, replica, status)."""

    def by_id(self) -> list[tuple]:
        rows = [
            (rid, arrival, start, finish, size, rep, st)
            for start, finish, _service, size, _instance, rep, st, requests in self.records()
            for rid, arrival, _seq in requests
        ]
        return sorted(rows, key=lambda r: r[0])


def simulate(
    arrivals,
    *,
    replicas=1,
    max_batch=1,
    max_wait=0.0,
    queue_limit=100,
    service=lambda b, s: 1.0,
    until=100.0,
):
    """Run one instance through the engine's loop; return its rows by id, and the fleet.

    ``arrivals`` are times (s) or (time, seq_len) pairs. A time earlier than the one before
    it arrives at that earlier request's time, and each arrives at ``now + (t - now)``, the
    clock a SimPy process that waits ``t - now`` would reach (the oracle assumes this).
    """
    items = [item if isinstance(item, tuple) else (item, 128) for item in arrivals]
    now, times = 0.0, []
    for t, _ in items:
        if t > now:
            now = now + (t - now)
        times.append(now)
    keep = [i for i, t in enumerate(times) if t < until]
    fleet = Fleet(
        simpy.Environment(),
        [PoolSpec(1, 0, replicas, max_batch, max_wait, queue_limit, service)],
        [RoundRobin(1, stream(0, "balancer"))],
    )
    writer = LogWriter()
    chunk = (
        np.array([times[i] for i in keep], dtype=np.float64),
        np.zeros(len(keep), dtype=np.int64),
        np.array([items[i][1] for i in keep], dtype=np.int64),
    )
    drive(fleet, writer, iter([chunk] if keep else []), until)
    fleet.record_in_flight(writer)
    return writer.by_id(), fleet


def test_fifo_single_server_exact_log():
    """Batch 1, one replica, service 2 s: a textbook FIFO log."""
    rows, _ = simulate([0.0, 1.0, 1.5], service=lambda b, s: 2.0)
    assert rows == [
        (0, 0.0, 0.0, 2.0, 1, 0, OK),
        (1, 1.0, 2.0, 4.0, 1, 0, OK),
        (2, 1.5, 4.0, 6.0, 1, 0, OK),
    ]


def test_batch_starts_when_full():
    """A batch starts the moment max_batch requests are waiting."""
    rows, _ = simulate(
        [0.0, 0.25, 0.5], max_batch=3, max_wait=10.0, service=lambda b, s: 1.0 + 0.5 * b
    )
    assert [r[2:5] for r in rows] == [(0.5, 3.0, 3)] * 3


def test_batch_starts_when_oldest_waited_max_wait():
    """A partial batch starts when the oldest request has waited max_wait."""
    rows, _ = simulate([0.0, 0.25, 5.0], max_batch=4, max_wait=1.0, service=lambda b, s: 0.5 * b)
    assert rows == [
        (0, 0.0, 1.0, 2.0, 2, 0, OK),
        (1, 0.25, 1.0, 2.0, 2, 0, OK),
        (2, 5.0, 6.0, 6.5, 1, 0, OK),
    ]


def test_waiting_batch_grows_while_replica_busy():
    """Requests arriving while every replica is busy join the next batch (up to max_batch)."""
    rows, _ = simulate(
        [0.0, 0.5, 0.6, 0.7, 0.8], max_batch=3, max_wait=0.0, service=lambda b, s: 1.0
    )
    assert [(r[0], r[2], r[4]) for r in rows] == [
        (0, 0.0, 1),
        (1, 1.0, 3),
        (2, 1.0, 3),
        (3, 1.0, 3),
        (4, 2.0, 1),
    ]


def test_lowest_numbered_free_replica_takes_the_batch():
    """With several free replicas, replica 0 is used first; the next free one after."""
    rows, _ = simulate([0.0, 0.1, 0.2, 3.0], replicas=3, service=lambda b, s: 1.0)
    assert [r[5] for r in rows] == [0, 1, 2, 0]


def test_simultaneous_arrival_and_completion_share_the_batch():
    """At one instant, dispatch happens after every arrival and completion there."""
    rows, _ = simulate([0.0, 0.0, 1.0, 1.0], max_batch=2, max_wait=0.0, service=lambda b, s: 1.0)
    # The first batch ends at 1.0 exactly when requests 2 and 3 arrive. Acting on the first
    # arrival alone (max_wait 0) would start a batch of 1; the rule starts one batch of 2.
    assert [r[2:5] for r in rows] == [(0.0, 1.0, 2)] * 2 + [(1.0, 2.0, 2)] * 2


def test_queue_limit_drops_and_records():
    """An arrival finding queue_limit requests waiting is recorded as dropped."""
    rows, group = simulate(
        [0.0, 0.1, 0.2, 0.3], queue_limit=2, service=lambda b, s: 10.0, until=50.0
    )
    assert [r[6] for r in rows] == [OK, OK, OK, DROPPED]
    assert math.isnan(rows[3][2]) and rows[3][5] == -1
    assert group.outstanding == [0] and group.queued() == [0]


def test_unfinished_requests_recorded_in_flight():
    """At the end, requests in service keep their start; queued ones have none."""
    rows, group = simulate([0.0, 0.1], service=lambda b, s: 10.0, until=5.0)
    assert rows[0][:3] == (0, 0.0, 0.0) and rows[0][6] == IN_FLIGHT and math.isnan(rows[0][3])
    assert rows[1][6] == IN_FLIGHT and math.isnan(rows[1][2])
    assert group.outstanding == [2] and group.queued() == [1]


def test_service_uses_longest_sequence_in_batch():
    """The batch service time is looked up with the largest seq_len of its requests."""
    seen = []

    def service(b, s):
        seen.append((b, s))
        return 1.0

    simulate([(0.0, 64), (0.0, 256), (0.0, 32), (5.0, 16)], max_batch=3, service=service)
    assert seen == [(3, 256), (1, 16)]
