"""Exact event logs of one instance, on each engine: deterministic arrivals and service.

Rows are (id, arrival, start, finish, batch size, replica, status), sorted by id.
"""

from __future__ import annotations

import math

from helpers import ENGINES, chunk, instance_log, one_pool_fleet, records_of

from analysis.schema import DROPPED, IN_FLIGHT, OK

pytestmark = ENGINES


def test_fifo_single_server_exact_log(engine):
    """Batch 1, one replica, service 2 s: a textbook FIFO log."""
    rows, _ = instance_log([0.0, 1.0, 1.5], engine=engine, service=lambda b, s: 2.0)
    assert rows == [
        (0, 0.0, 0.0, 2.0, 1, 0, OK),
        (1, 1.0, 2.0, 4.0, 1, 0, OK),
        (2, 1.5, 4.0, 6.0, 1, 0, OK),
    ]


def test_batch_starts_when_full(engine):
    """A batch starts the moment max_batch requests are waiting."""
    rows, _ = instance_log([0.0, 0.25, 0.5], engine=engine, max_batch=3, max_wait=10.0,
                           service=lambda b, s: 1.0 + 0.5 * b)  # fmt: skip
    assert [r[2:5] for r in rows] == [(0.5, 3.0, 3)] * 3


def test_batch_starts_when_oldest_waited_max_wait(engine):
    """A partial batch starts when the oldest request has waited max_wait."""
    rows, _ = instance_log([0.0, 0.25, 5.0], engine=engine, max_batch=4, max_wait=1.0,
                           service=lambda b, s: 0.5 * b)  # fmt: skip
    assert rows == [
        (0, 0.0, 1.0, 2.0, 2, 0, OK),
        (1, 0.25, 1.0, 2.0, 2, 0, OK),
        (2, 5.0, 6.0, 6.5, 1, 0, OK),
    ]


def test_waiting_batch_grows_while_replica_busy(engine):
    """Requests arriving while every replica is busy join the next batch (up to max_batch)."""
    rows, _ = instance_log([0.0, 0.5, 0.6, 0.7, 0.8], engine=engine, max_batch=3,
                           service=lambda b, s: 1.0)  # fmt: skip
    assert [(r[0], r[2], r[4]) for r in rows] == [
        (0, 0.0, 1),
        (1, 1.0, 3),
        (2, 1.0, 3),
        (3, 1.0, 3),
        (4, 2.0, 1),
    ]


def test_lowest_numbered_free_replica_takes_the_batch(engine):
    """With several free replicas, replica 0 is used first; the next free one after."""
    rows, _ = instance_log([0.0, 0.1, 0.2, 3.0], engine=engine, replicas=3,
                           service=lambda b, s: 1.0)  # fmt: skip
    assert [r[5] for r in rows] == [0, 1, 2, 0]


def test_simultaneous_arrival_and_completion_share_the_batch(engine):
    """At one instant, the decision comes after every arrival and completion there."""
    rows, _ = instance_log([0.0, 0.0, 1.0, 1.0], engine=engine, max_batch=2,
                           service=lambda b, s: 1.0)  # fmt: skip
    # The first batch ends at 1.0 exactly when requests 2 and 3 arrive. Acting on the first
    # arrival alone (max_wait 0) would start a batch of 1; the rule starts one batch of 2.
    assert [r[2:5] for r in rows] == [(0.0, 1.0, 2)] * 2 + [(1.0, 2.0, 2)] * 2


def test_queue_limit_drops_and_records(engine):
    """An arrival finding queue_limit requests waiting is recorded as dropped."""
    rows, state = instance_log([0.0, 0.1, 0.2, 0.3], engine=engine, queue_limit=2,
                               service=lambda b, s: 10.0, until=50.0)  # fmt: skip
    assert [r[6] for r in rows] == [OK, OK, OK, DROPPED]
    assert math.isnan(rows[3][2]) and rows[3][5] == -1
    assert (state.waiting(0), state.in_service(0), state.drops_at(0)) == (0, 0, 1)
    assert (state.arrivals_at(0), state.completions_at(0)) == (4, 3)


def test_unfinished_requests_recorded_in_flight(engine):
    """At the end, requests in service keep their start; queued ones have none."""
    rows, state = instance_log([0.0, 0.1], engine=engine, service=lambda b, s: 10.0, until=5.0)
    assert rows[0][:3] == (0, 0.0, 0.0) and rows[0][6] == IN_FLIGHT and math.isnan(rows[0][3])
    assert rows[1][6] == IN_FLIGHT and math.isnan(rows[1][2])
    assert (state.waiting(0), state.in_service(0), state.busy_replicas(0)) == (1, 1, 1)


def test_service_uses_longest_sequence_in_batch(engine):
    """The batch service time is looked up with the largest seq_len of its requests."""
    seen = []

    def service(b, s):
        seen.append((b, s))
        return 1.0

    instance_log([(0.0, 64), (0.0, 256), (0.0, 32), (5.0, 16)], engine=engine, max_batch=3,
                 service=service)  # fmt: skip
    assert seen == [(3, 256), (1, 16)]


def test_a_pipeline_takes_a_batch_every_interval_and_keeps_their_order(engine):
    """A 3-stage pipelined replica: a new batch each interval (1 s), each leaving 3 s after
    it started; a batch never overtakes the one before it."""
    rows, _ = instance_log([0.0, 0.0, 0.0, 0.5], engine=engine, depth=3,
                           service=lambda b, s: 1.0)  # fmt: skip
    assert [(r[2], r[3], r[5]) for r in rows] == [
        (0.0, 3.0, 0),
        (1.0, 4.0, 0),
        (2.0, 5.0, 0),
        (3.0, 6.0, 0),
    ]


def test_zero_service_times_leave_at_the_same_instant(engine):
    """A batch served in no time leaves at its start instant, and the replica takes the next
    batch at that instant too (events added at the current time run in their phase)."""
    rows, _ = instance_log([0.0, 0.0, 0.0], engine=engine, service=lambda b, s: 0.0)
    assert [(r[2], r[3], r[4]) for r in rows] == [(0.0, 0.0, 1)] * 3


def test_an_arrival_does_not_decide_while_the_deadline_timer_is_armed(engine):
    """The rule's one asymmetry: a request arriving while the deadline timer is armed asks
    for no decision unless it fills the batch - the timer decides.

    Here the timer for the head's deadline D (armed when the replica frees at 0.714... s)
    fires a ulp after D, the first time SimPy can reach from there; a request arriving at D
    exactly does not start the batch at D: it starts when the timer fires.
    """
    a, max_wait, busy_until = 0.006913370352777413, 1.7857187817437192, 0.714515441605336
    deadline = a + max_wait
    calls = iter([busy_until, 1.0])
    rows, _ = instance_log([0.0] * 4 + [a, deadline], engine=engine, max_batch=4,
                           max_wait=max_wait, service=lambda b, s: next(calls))  # fmt: skip
    assert [r[2:5] for r in rows[:4]] == [(0.0, busy_until, 4)] * 4  # keeps the replica busy
    timer = 1.792632152096497
    assert timer == math.nextafter(deadline, math.inf)
    assert rows[4][2] == rows[5][2] == timer and rows[4][4] == 2


def test_a_pipelined_batch_waiting_behind_another_records_its_time_to_the_exit(engine):
    """A batch that would overtake the one before it in a pipeline waits to leave after it:
    its ``service_s`` is the time from its start to that exit, also while in flight at the
    end, and it leaves when SimPy can first reach that exit from its start (here a ulp
    after it)."""
    exit_s, start_s = 1.7926321520964967, 0.714515441605336
    assert start_s + (exit_s - start_s) != exit_s  # the exit is not reachable from the start
    for until, status in [(1.0, IN_FLIGHT), (5.0, OK)]:
        intervals = iter([exit_s / 4, 0.01])  # batch 1 leaves at exit_s; batch 2 would at 0.75
        fleet = one_pool_fleet(depth=4, service=lambda b, s, it=intervals: next(it))
        records = records_of(fleet, [chunk([0.0, start_s])], until, engine)
        second = next(r for r in records if r.start_s == start_s)
        assert second.status == status
        assert second.service_s == exit_s - start_s
        if status == OK:
            assert second.finish_s == math.nextafter(exit_s, math.inf)
