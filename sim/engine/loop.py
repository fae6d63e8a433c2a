"""The event loop of a run: arrivals, routing, dynamic batching and batch completions.

The batching rule (checked against an independent implementation in the tests):

* When a replica is free and the queue is not empty, a batch starts at once if
  ``max_batch`` requests are waiting or the oldest has waited ``max_wait``; otherwise it
  starts at the earlier of those two moments.
* A batch takes up to ``max_batch`` requests in arrival order; when several replicas are
  free the lowest-numbered takes it.
* Its service time is the pool's time for (batch size, longest sequence in the batch).
* Decisions at an instant are taken after every arrival and completion at that instant, so
  simultaneous events never depend on the order they were scheduled in. When nothing else
  can happen at the instant (nothing else in the calendar for it and the next arrival is
  later) the decision is taken at once; otherwise it waits in the calendar's list of
  deferred decisions, which runs after everything else at that instant.
* An arrival that finds ``queue_limit`` requests waiting is dropped.

A replica spanning several cores may be a pipeline (``pipeline_depth`` > 1): it takes a new
batch every service interval, and each batch leaves ``pipeline_depth`` intervals after it
started.

How the loop runs. Future happenings are entries in the fleet's calendar
(``sim.engine.calendar``): one per batch completion and per ``max_wait`` deadline, none per
request. Entries are small reusable objects (``sim.engine.fleet.Done``, ``Timer``, ...) that the
loop tells apart by class. Requests come from vectorised chunks with their balancer
candidates already drawn (``sim.policies.routing``); each is applied inline at its arrival time,
after every calendar entry strictly before it. SimPy processes started in the run's
environment are stepped from the calendar too (``sim.engine.simpy_bridge``), so
they see the fleet's state at their own times, in the order one SimPy queue would give
(tested against the reference engine). They may read the fleet's lists; changing them
(taking an instance down, say) would need the loop to re-run that instance's batching
decision, which it does not yet offer. The cyclic garbage collector is paused while the
loop runs - for the whole process, SimPy processes and the trace thread included: the loop
creates no reference cycles, and the collector's scans of the many small objects it does
create cost about 40% of the run; cycles made elsewhere are collected when the run ends.

Two implementations run these rules. ``sim.engine._kernel`` (``sim/_core.pyx``, compiled with Cython
when fleetsim is installed) keeps the state in C arrays and is five to seven times faster;
``drive`` uses it unless SimPy processes run in the environment or it was not built. ``_loop``
here is the definition and the fallback. It is written for CPython's interpreter: the state
is bound to locals, the common cases of ``Calendar.schedule``/``pop`` and of a batching
decision are inlined, and each inlined copy says what it stands for.
``tests/test_engine_reference.py`` holds both to the previous, straightforward engine request
by request.
"""

from __future__ import annotations

import gc
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from heapq import heappop, heappush
from itertools import chain

from sim.engine.fleet import Done, Fleet, Freed, Leave, Timer, WindowStart, at_or_after
from sim.engine.simpy_bridge import SimPyBridge
from sim.engine.trace_writer import DROPPED, NAN, OK, RecordBuffer
from sim.policies.balancers import (
    JoinShortestQueue,
    LeastOutstanding,
    PowerOfTwo,
    Random,
    RoundRobin,
)
from sim.policies.routing import Candidates, candidates
from sim.workload.requests import Chunk

try:
    from sim.engine import _kernel as _core
except ImportError:  # built without a C compiler: the Python loop runs everything
    _core = None

# how the compiled loop chooses for each balancer: 0 from drawn candidates, else at arrival
_PICKS = {RoundRobin: 0, Random: 0, PowerOfTwo: 0, LeastOutstanding: 1, JoinShortestQueue: 2}
_END = -(1 << 62)  # candidate marking the end-of-run pseudo-arrival
_Routed = Iterable[tuple[float, float, int, int, int]]


def drive(
    fleet: Fleet,
    writer: RecordBuffer,
    chunks: Iterator[Chunk],
    until_s: float,
    progress: Callable[[float], None] | None = None,
    compiled: bool | None = None,
) -> str:
    """Apply every request at its arrival time and run the fleet until ``until_s`` (s).

    Calendar entries at exactly ``until_s`` are not processed (SimPy's ``run(until)`` rule);
    the clock ends at ``until_s``.

    Args:
        fleet: The fleet, fresh.
        writer: Receives one record per finished batch and per dropped request, in its
            ``RecordBuffer`` arrays; its ``flush_if_full`` is called after each chunk.
        chunks: The requests, ascending in time, all before ``until_s``.
        until_s: End of the run (s).
        progress: Called with the simulated fraction done (0..1) after each chunk.
        compiled: Run the compiled loop (``sim.engine._kernel``): True requires it, False forbids
            it, None (the default) uses it when it is built and covers the run.

    Returns:
        Which loop ran: ``"compiled"`` or ``"python"``.

    """
    core = _compiled_core(fleet, compiled)
    collecting = gc.isenabled()
    gc.disable()
    try:
        if core is None:
            _loop(fleet, writer, _routed(candidates(fleet, chunks), until_s), until_s, progress)
        else:
            core.run(candidates(fleet, chunks), until_s, writer, progress)
            core.export(fleet)
    finally:
        if collecting:
            gc.enable()
    if until_s > fleet.env._now:
        fleet.env._now = until_s
    if progress is not None:
        progress(1.0)
    return "python" if core is None else "compiled"


def compiled_available() -> bool:
    """Whether the compiled loop (``sim.engine._kernel``) was built when fleetsim was installed."""
    return _core is not None


def _compiled_core(fleet: Fleet, compiled: bool | None):
    """A ``sim.engine._kernel.Core`` for the fleet, or None to run the Python loop."""
    if compiled is False:
        return None
    reason = None
    if _core is None:
        reason = "sim.engine._kernel is not built (fleetsim was installed without a C compiler)"
    elif fleet.env._queue:
        reason = "SimPy processes run in the environment; only the Python loop steps them"
    elif any(b is not None and type(b) not in _PICKS for b in fleet.balancers):
        reason = "a balancer the compiled loop does not know"
    if reason is None:
        return _core.Core(fleet, [0 if b is None else _PICKS[type(b)] for b in fleet.balancers])
    if compiled:
        raise RuntimeError(f"the compiled loop cannot run this: {reason}")
    return None


def _routed(chunks: Iterator[Candidates], until_s: float) -> Iterator[tuple[float, _Routed]]:
    """Per chunk, its last arrival time (s) and its routed requests; then the end marker.

    A routed request is (arrival s, next arrival s, sequence length, first candidate, second
    candidate). The last request of a chunk takes its own time as the next arrival: a
    decision then waits to the end of the instant, which is always exact.
    """
    for times, seqs, first, second in chunks:
        t_list = times.tolist()
        nexts = t_list[1:]
        nexts.append(t_list[-1])
        routed = zip(t_list, nexts, seqs.tolist(), first.tolist(), second.tolist(), strict=True)
        yield t_list[-1], routed
    yield until_s, ((until_s, math.inf, 0, _END, _END),)


def _loop(
    fleet: Fleet,
    writer: RecordBuffer,
    routed: Iterator[tuple[float, _Routed]],
    until_s: float,
    progress: Callable[[float], None] | None,
) -> None:
    env = fleet.env
    calendar = fleet.calendar
    due = calendar.due  # heap of distinct times (s); due[0] always exists
    at = calendar.at  # time -> first entry due then
    more = calendar.more  # time -> later entries due then, first scheduled first
    late = calendar.late  # instances whose decision waits for the end of instant late_s
    schedule = calendar.schedule  # what the inlined copies below stand for
    # the fleet's state, bound once to locals (see sim.engine.fleet)
    queue = fleet.queue
    max_batch = fleet.max_batch
    max_wait_s = fleet.max_wait_s
    queue_limit = fleet.queue_limit
    service_fn = fleet.service_s
    service_by_size = fleet.service_by_size_s
    depth = fleet.depth
    free = fleet.free
    n_free = fleet.n_free
    outstanding = fleet.outstanding
    deciding = fleet.deciding
    timer_armed = fleet.timer_armed
    done = fleet.done
    leave = fleet.leave
    freed = fleet.freed
    timer = fleet.timer
    pickers = [
        None
        if b is None
        else (b.pick, b.reads_queued, fleet.group_start[m], fleet.group_start[m + 1])
        for m, b in enumerate(fleet.balancers)
    ]
    # records go straight into the writer's flat buffers (see RecordBuffer)
    record = writer.numbers.extend
    record_requests = writer.requests.extend
    flatten = chain.from_iterable
    flush_if_full = writer.flush_if_full
    occupancy = fleet.occupancy  # see Occupancy for the folding of arrivals
    in_system = occupancy.in_system
    area = occupancy.area
    last = occupancy.last_s
    window = occupancy.start_s
    arrived = occupancy.arrived
    arrived_sum = occupancy.arrived_sum_s
    if window > env._now:
        schedule(window, WindowStart())
    simpy = SimPyBridge(env, schedule)

    def start(j: int, now: float, q, size: int) -> None:
        """Start a batch of the ``size`` oldest requests on the lowest free replica."""
        if size == len(q):
            batch = list(q)
            q.clear()
        else:
            batch = [q.popleft() for _ in range(size)]
        table = service_by_size[j]
        if table is not None:
            service = table[size]
        else:
            service = service_fn[j](size, max([r[2] for r in batch]))
        replicas = free[j]
        r = replicas.index(True)
        replicas[r] = False
        n_free[j] -= 1
        if depth[j] == 1:
            entry = done[j][r]
            entry.start_s = now
            entry.service_s = service
            entry.batch = batch
            when = now + service
            if when in at:  # schedule(when, entry), inlined
                more.setdefault(when, deque()).append(entry)
            else:
                at[when] = entry
                heappush(due, when)
        else:  # a pipeline takes the next batch after one interval; this one leaves later
            pipe = leave[j][r]
            out = now + service * depth[j]
            if out < pipe.last_exit_s:
                out = pipe.last_exit_s
            pipe.last_exit_s = out
            pipe.flying.append((now, out - now, batch))
            schedule(now + service, freed[j][r])
            schedule(at_or_after(now, out), pipe)

    def dispatch(j: int, now: float) -> None:
        """The batching decision for instance ``j`` at ``now`` (s)."""
        deciding[j] = False
        q = queue[j]
        largest = max_batch[j]
        while q and n_free[j]:
            size = len(q)
            if size < largest:
                deadline = q[0][1] + max_wait_s[j]
                if now < deadline:
                    # an armed timer fires no later than this deadline (heads only get
                    # younger), and its decision re-arms for the new head if needed
                    if not timer_armed[j]:
                        timer_armed[j] = True
                        schedule(at_or_after(now, deadline), timer[j])  # never a ulp early
                    return
            else:
                size = largest
            start(j, now, q, size)

    late_s = calendar.late_s
    rid = 0
    for last_arrival_s, requests in routed:
        for t, nxt, seq, first, second in requests:
            if due[0] < t or late:
                # calendar entries before t, and decisions deferred to the end of an instant
                while True:
                    if late and t > late_s < due[0]:  # nothing else left at instant late_s
                        for j in late:
                            dispatch(j, late_s)
                        late.clear()
                        continue
                    if due[0] >= t:
                        break
                    now = heappop(due)  # calendar.pop(), inlined
                    entry = at.pop(now)
                    if more and now in more:
                        waiting = more[now]
                        at[now] = waiting.popleft()
                        if not waiting:
                            del more[now]
                        heappush(due, now)
                    kind = entry.__class__
                    if kind is Done:
                        j = entry.inst
                        batch = entry.batch
                        size = len(batch)
                        record((entry.start_s, now, entry.service_s, size, j, entry.replica,
                                OK, size))  # fmt: skip
                        record_requests(flatten(batch))
                        outstanding[j] -= size
                        if now > window:  # fold arrivals and this departure (Occupancy)
                            area += in_system * (now - last) + (arrived * now - arrived_sum)
                            last = now
                        in_system += arrived - size
                        arrived = 0
                        arrived_sum = 0.0
                        free[j][entry.replica] = True
                        n_free[j] += 1
                    elif kind is Timer:
                        j = entry.inst
                        timer_armed[j] = False
                        if not n_free[j]:
                            continue
                    elif kind is Leave:
                        j = entry.inst
                        begun, service, batch = entry.flying.popleft()
                        size = len(batch)
                        record((begun, now, service, size, j, entry.replica, OK, size))
                        record_requests(flatten(batch))
                        outstanding[j] -= size
                        if now > window:
                            area += in_system * (now - last) + (arrived * now - arrived_sum)
                            last = now
                        in_system += arrived - size
                        arrived = 0
                        arrived_sum = 0.0
                        continue
                    elif kind is Freed:
                        j = entry.inst
                        free[j][entry.replica] = True
                        n_free[j] += 1
                    elif kind is WindowStart:  # earlier arrivals count from the window on
                        in_system += arrived
                        arrived = 0
                        arrived_sum = 0.0
                        continue
                    else:  # SimPyDue
                        simpy.step(now)
                        continue
                    # a replica is free or a deadline came: decide now, or at the instant's
                    # end if anything else happens at this instant (the next arrival is later)
                    if queue[j] and not deciding[j]:
                        if due[0] > now and not late:
                            dispatch(j, now)
                        else:
                            deciding[j] = True
                            late.append(j)
                            late_s = now
            # the arrival at t
            if first < 0:
                if first == _END:
                    break
                pick, reads_queued, lo, hi = pickers[-1 - first]  # type: ignore[misc]
                queued = list(map(len, queue[lo:hi])) if reads_queued else None
                j = lo + pick(outstanding[lo:hi], queued)
            else:
                j = second if outstanding[second] < outstanding[first] else first
            q = queue[j]
            if len(q) >= queue_limit[j]:
                record((NAN, NAN, NAN, 0, j, -1, DROPPED, 1))
                record_requests((rid, t, seq))
                rid += 1
                continue
            q.append((rid, t, seq))
            rid += 1
            arrived += 1
            arrived_sum += t
            outstanding[j] += 1
            if n_free[j] and not deciding[j]:
                size = len(q)
                if size < max_batch[j] and timer_armed[j]:
                    continue  # the armed timer or a full batch decides; this arrival cannot
                if nxt > t and due[0] > t and not late:  # nothing else at t: decide now
                    if size == 1 < max_batch[j]:
                        # dispatch(j, t) for a lone request, inlined: arm its deadline
                        deadline = t + max_wait_s[j]
                        if t < deadline:
                            timer_armed[j] = True
                            when = t + (deadline - t)  # at_or_after(t, deadline), inlined
                            if when < deadline:
                                when = at_or_after(t, deadline)
                            entry = timer[j]
                            if when in at:  # schedule(when, entry), inlined
                                more.setdefault(when, deque()).append(entry)
                            else:
                                at[when] = entry
                                heappush(due, when)
                            continue
                    dispatch(j, t)
                else:
                    deciding[j] = True
                    late.append(j)
                    late_s = t
        flush_if_full()
        if progress is not None and last_arrival_s < until_s:
            progress(last_arrival_s / until_s)
    calendar.late_s = late_s
    occupancy.in_system = in_system
    occupancy.area = area
    occupancy.last_s = last
    occupancy.arrived = arrived
    occupancy.arrived_sum_s = arrived_sum
