"""The edges of a run, the same in both engines: its end, bad inputs, balancer subclasses.

(From the review of the two engines: each of these once differed between them.)
"""

from __future__ import annotations

import pytest
from helpers import ENGINES, chunk, needs_kernel, one_pool_fleet, records_of, same_records
from simpy.events import URGENT

from sim.engine.engines import choose_engine
from sim.engine.phases import FleetTimeout
from sim.engine.runner import drive
from sim.engine.trace_writer import RecordBuffer
from sim.policies.balancers import RoundRobin
from sim.streams import stream


@ENGINES
@pytest.mark.parametrize("with_process", [False, True])
def test_the_clock_ends_at_until(engine, with_process):
    """After a run ``env.now`` is ``until`` in either engine: with no process, and when
    ``until`` is not reachable as ``now + (until - now)`` from a process's last event."""
    last = 0.004236644311168547
    until = 20.0516046712097
    assert last + (until - last) != until

    def stops_early(env, fleet):
        yield env.timeout(last)

    driven = drive(one_pool_fleet(), RecordBuffer(), [chunk([0.0])], until, engine=engine,
                   processes=[stops_early] if with_process else [])  # fmt: skip
    assert driven.env.now == until


@ENGINES
def test_no_event_at_until_is_processed(engine):
    """An URGENT event a process schedules at exactly ``until`` is not processed (SimPy's
    run(until) rule), in either engine."""
    seen = []

    def schedules_at_until(env, fleet):
        yield env.timeout(0.5)
        event = FleetTimeout(env, 1.0 - env.now, URGENT)
        event.callbacks.append(lambda e: seen.append(env.now))

    drive(one_pool_fleet(), RecordBuffer(), [chunk([0.0])], 1.0, engine=engine,
          processes=[schedules_at_until])  # fmt: skip
    assert seen == []


@needs_kernel
def test_a_subclass_that_changes_pick_does_not_inherit_the_compiled_form():
    """A balancer written as a tweak of a compiled one runs its own ``pick``: ``auto`` must
    not pick the kernel (which would run the parent's ``draw``)."""

    class Newest(RoundRobin):
        def pick(self, outstanding, queued):
            return self.size - 1

    class Stated(RoundRobin):
        compiled = RoundRobin.compiled

        def pick(self, outstanding, queued):
            return super().pick(outstanding, queued)

    fleet = one_pool_fleet(count=3, balancer=Newest(3, stream(0, "balancer")))
    assert choose_engine("auto", fleet) == ("simpy", "the balancer Newest has no compiled form")
    fleet = one_pool_fleet(count=3, balancer=Stated(3, stream(0, "balancer")))
    assert choose_engine("auto", fleet)[0] == "compiled"


@ENGINES
@pytest.mark.parametrize(
    "times",
    [
        [0.0, 1.0],
        [0.0, 3.0],
        [0.5, 0.25],
        [-0.5, 0.5],
        [0.0004243582472120422, 0.925211726624584],
        [0.0, float("nan")],
    ],  # fmt: skip
    ids=["at until", "after until", "descending", "negative", "unreachable", "nan"],
)
def test_chunks_a_simpy_wait_cannot_replay_are_refused(engine, times):
    """Times at or after ``until``, out of order, negative, NaN or not reached exactly from
    the one before raise in both engines, before any request is applied."""
    writer = RecordBuffer()
    with pytest.raises(ValueError, match="arrival times"):
        drive(one_pool_fleet(), writer, [chunk(times)], 1.0, engine=engine)
    assert not writer.numbers


@ENGINES
@pytest.mark.parametrize("bad", [-1e-3, float("nan")])
def test_a_negative_or_undefined_service_time_is_refused(engine, bad):
    """A service function returning a negative or NaN time stops the run with the pool's
    name, in both engines (the kernel used to schedule into the past)."""
    fleet = one_pool_fleet(service=lambda b, s: bad)
    with pytest.raises(ValueError, match="service time is"):
        drive(fleet, RecordBuffer(), [chunk([0.0, 0.5])], 1.0, engine=engine)


@ENGINES
@pytest.mark.parametrize("until", [0.0, -1.0])
def test_a_run_must_end_after_zero(engine, until):
    """``until <= 0`` is refused in both engines."""
    with pytest.raises(ValueError, match="must end after 0"):
        drive(one_pool_fleet(), RecordBuffer(), [], until, engine=engine)


@needs_kernel
def test_a_tie_across_a_chunk_boundary():
    """The last arrival of a chunk and the first of the next share an instant; the decision
    there sees both (max_batch 2 starts one batch of 2), in both engines."""
    out = {}
    for engine in ("compiled", "simpy"):
        fleet = one_pool_fleet(max_batch=2, service=lambda b, s: 1.0)
        out[engine] = records_of(fleet, [chunk([0.5]), chunk([0.5, 0.75])], 5.0, engine)
    assert same_records(out["compiled"], out["simpy"])
    assert [r[3] for r in out["simpy"]] == [2, 1]


@ENGINES
def test_exact_view_counts_with_drops_and_batches(engine):
    """One instance, queue_limit 2, max_batch 2; a process reads every counter at 0.5 s
    steps: the exact numbers, not only agreement between the engines."""
    seen = []

    def look(env, fleet):
        while True:
            yield env.timeout(0.5)
            i = fleet.instances[0]
            seen.append((env.now, i.waiting, i.in_service, i.busy_replicas, i.arrivals,
                         i.completions, i.drops))  # fmt: skip

    fleet = one_pool_fleet(max_batch=2, queue_limit=2, service=lambda b, s: 1.0)
    drive(fleet, RecordBuffer(), [chunk([0.0, 0.0, 0.25, 0.25, 0.25])], 2.25, engine=engine,
          processes=[look])  # fmt: skip
    # 0.0: two arrive, a batch of 2 starts (0..1); 0.25: two wait, one is dropped;
    # 1.0: the first batch leaves, the two waiting start (1..2)
    assert seen == [
        (0.5, 2, 2, 1, 5, 0, 1),
        (1.0, 2, 2, 1, 5, 0, 1),  # processes run first at an instant
        (1.5, 0, 2, 1, 5, 2, 1),
        (2.0, 0, 2, 1, 5, 2, 1),
    ]
