"""One inference instance: a FIFO queue and replicas that take dynamic batches from it.

The batching rule (checked against an independent implementation in the tests):

* When a replica is free and the queue is not empty, a batch starts at once if
  ``max_batch`` requests are waiting or the oldest has waited ``max_wait``; otherwise it
  starts at the earlier of those two moments.
* A batch takes up to ``max_batch`` requests in arrival order; when several replicas are
  free the lowest-numbered takes it.
* Its service time is the pool's time for (batch size, longest sequence in the batch).
* Decisions at an instant are taken after every arrival and completion at that instant, so
  simultaneous events never depend on the order they were scheduled in. When nothing else
  can happen at the instant (no other event queued for it and the next arrival is later)
  the decision is taken at once; otherwise it is a SimPy event at a priority below NORMAL.
* An arrival that finds ``queue_limit`` requests waiting is dropped.

A pool serves a single model, so each instance holds exactly one queue: that model's. A
replica spanning several cores may be a pipeline (``pipeline_depth`` > 1): it takes a new
batch every service interval, and each batch leaves ``pipeline_depth`` intervals after it
started.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import simpy
from simpy.core import NORMAL
from simpy.events import Timeout

from sim.trace import DROPPED, IN_FLIGHT, OK, Request, TraceWriter

LATE = NORMAL + 1  # deferred dispatch runs after every NORMAL event at the same instant
NAN = math.nan


class Horizon:
    """What the arrival driver knows of the future: when the next arrival happens (s)."""

    __slots__ = ("next_arrival_s",)

    def __init__(self) -> None:
        self.next_arrival_s = math.inf


class Occupancy:
    """Requests in the system (waiting or in service), integrated over time.

    The engine keeps this independently of the trace so that Little's law (L = lambda W)
    compares two separate computations. Instances update it inline on their hot paths (an
    arrival adds one request, a completed batch removes its size): before the change, the
    area grows by ``in_system`` times the time since the last change inside the window.

    Args:
        start_s: Start of the measured window (s); time before it is not integrated.

    """

    __slots__ = ("in_system", "last_s", "area", "start_s")

    def __init__(self, start_s: float = 0.0) -> None:
        self.in_system = 0
        self.last_s = 0.0
        self.area = 0.0
        self.start_s = start_s

    def time_average(self, end_s: float) -> float:
        """Time-average number in system over [start, end_s]."""
        if end_s <= self.start_s:
            return float("nan")
        area = self.area + self.in_system * (end_s - max(self.last_s, self.start_s))
        return area / (end_s - self.start_s)


@dataclass(slots=True)
class Group:
    """Every instance serving one model, with the counts the balancer reads."""

    instances: list[Instance] = field(default_factory=list)
    outstanding: list[int] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)
    occupancy: Occupancy = field(default_factory=Occupancy)


class _Deferred(simpy.Event):
    """An event that fires at the current instant, after all NORMAL events there."""

    def __init__(self, env: simpy.Environment, callback: Callable[[simpy.Event], None]) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        self.callbacks.append(callback)
        env.schedule(self, LATE)


def delay_until(now: float, when: float) -> float:
    """Smallest delay d >= 0 with ``now + d >= when`` in floating point (SimPy adds delays)."""
    delay = when - now
    if delay <= 0:
        return 0.0
    while now + delay < when:
        delay = math.nextafter(delay, math.inf)
    return delay


class Instance:
    """An instance of a pool: one FIFO queue, ``replicas`` servers, dynamic batching.

    Args:
        env: The run's environment.
        writer: Where finished, dropped and in-flight requests are recorded.
        horizon: The arrival driver's view of the next arrival.
        pool_code: Index of the pool (trace ``pool``).
        index: Position in the pool (trace ``instance_id``).
        model_code: Index of the served model (trace ``model``).
        group: The balancer group this instance belongs to.
        slot: Its position in ``group``.
        replicas: Number of replicas (NeuronCore groups).
        max_batch: Largest batch.
        max_wait_s: Longest time (s) the oldest request waits for a fuller batch.
        queue_limit: Waiting requests beyond which arrivals are dropped.
        service_s: ``service_s(batch_size, max_seq_len)`` -> seconds per batch (for a
            pipeline, the interval between batches).
        pipeline_depth: Stages of a pipelined replica (1: an ordinary replica).

    """

    __slots__ = (
        "env", "writer", "horizon", "pool_code", "index", "model_code", "group", "slot",
        "max_batch", "max_wait_s", "queue_limit", "service_s", "depth", "queue", "free",
        "n_free", "in_service", "_dispatch_pending", "_timer_at", "_on_done", "_on_free",
        "_last_exit",
    )  # fmt: skip

    def __init__(
        self,
        env: simpy.Environment,
        writer: TraceWriter,
        horizon: Horizon,
        pool_code: int,
        index: int,
        model_code: int,
        group: Group,
        slot: int,
        replicas: int,
        max_batch: int,
        max_wait_s: float,
        queue_limit: int,
        service_s: Callable[[int, int], float],
        pipeline_depth: int = 1,
    ) -> None:
        self.env = env
        self.writer = writer
        self.horizon = horizon
        self.pool_code = pool_code
        self.index = index
        self.model_code = model_code
        self.group = group
        self.slot = slot
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.queue_limit = queue_limit
        self.service_s = service_s
        self.depth = pipeline_depth
        self.queue: deque[Request] = deque()
        self.free = [True] * replicas
        self.n_free = replicas
        # per replica, the batches inside it: (start_s, time in the replica s, requests)
        self.in_service: list[deque[tuple[float, float, list[Request]]]] = [
            deque() for _ in range(replicas)
        ]
        self._dispatch_pending = False
        self._timer_at: float | None = None
        self._on_done = [self._completer(r) for r in range(replicas)]
        self._on_free = [self._freer(r) for r in range(replicas)]
        self._last_exit = [0.0] * replicas  # pipelines: batches leave in the order they entered

    # --- arrivals -----------------------------------------------------------------------

    def arrive(self, request_id: int, arrival_s: float, seq_len: int) -> None:
        """Queue a request that arrives now, or record it as dropped if the queue is full."""
        queue = self.queue
        if len(queue) >= self.queue_limit:
            self.writer.add(
                (NAN, NAN, NAN, 0, self.pool_code, self.index, -1, self.model_code, DROPPED,
                 [(request_id, arrival_s, seq_len)])
            )  # fmt: skip
            return
        queue.append((request_id, arrival_s, seq_len))
        group = self.group
        occ = group.occupancy  # +1 request (see Occupancy), inlined: the hot path
        if arrival_s > occ.start_s:
            last = occ.last_s
            occ.area += occ.in_system * (arrival_s - (last if last > occ.start_s else occ.start_s))
        occ.last_s = arrival_s
        occ.in_system += 1
        group.outstanding[self.slot] += 1
        group.queued[self.slot] += 1
        if self.n_free and not self._dispatch_pending:
            if self._timer_at is not None and len(queue) < self.max_batch:
                return  # the armed timer or a full batch decides; this arrival cannot
            self._request_dispatch()

    # --- batching -----------------------------------------------------------------------

    def _request_dispatch(self) -> None:
        env = self.env
        now = env._now
        heap = env._queue
        if self.horizon.next_arrival_s > now and (not heap or heap[0][0] > now):
            self._dispatch(None)  # nothing else can happen at this instant: decide now
        else:
            self._dispatch_pending = True
            _Deferred(env, self._dispatch)

    def _dispatch(self, _event: simpy.Event | None) -> None:
        self._dispatch_pending = False
        queue = self.queue
        now = self.env._now
        while queue and self.n_free:
            if len(queue) < self.max_batch:
                deadline = queue[0][1] + self.max_wait_s
                if now < deadline:
                    self._arm_timer(now, deadline)
                    return
            self._start(now)

    def _arm_timer(self, now: float, deadline: float) -> None:
        # A pending timer fires no later than this deadline (heads only get younger),
        # and its dispatch re-arms for the new head if needed.
        if self._timer_at is not None:
            return
        self._timer_at = deadline
        Timeout(self.env, delay_until(now, deadline)).callbacks.append(self._timer_fired)

    def _timer_fired(self, _event: simpy.Event) -> None:
        self._timer_at = None
        if self.n_free and not self._dispatch_pending:
            self._request_dispatch()

    def _start(self, now: float) -> None:
        queue = self.queue
        size = len(queue)
        if size > self.max_batch:
            size = self.max_batch
        if size == 1:
            batch = [queue.popleft()]
            longest = batch[0][2]
        else:
            batch = [queue.popleft() for _ in range(size)]
            longest = max([r[2] for r in batch])
        service = self.service_s(size, longest)
        replica = self.free.index(True)
        self.free[replica] = False
        self.n_free -= 1
        self.group.queued[self.slot] -= size
        if self.depth == 1:
            self.in_service[replica].append((now, service, batch))
            Timeout(self.env, service).callbacks.append(self._on_done[replica])
        else:  # a pipeline takes the next batch after one interval; this one leaves later
            leave = max(now + service * self.depth, self._last_exit[replica])
            self._last_exit[replica] = leave
            self.in_service[replica].append((now, leave - now, batch))
            Timeout(self.env, service).callbacks.append(self._on_free[replica])
            Timeout(self.env, delay_until(now, leave)).callbacks.append(self._on_done[replica])

    def _freer(self, replica: int) -> Callable[[simpy.Event], None]:
        def free(_event: simpy.Event) -> None:
            self.free[replica] = True
            self.n_free += 1
            if not self._dispatch_pending:
                self._request_dispatch()

        return free

    def _completer(self, replica: int) -> Callable[[simpy.Event], None]:
        depth = self.depth

        def done(_event: simpy.Event) -> None:
            start, service, batch = self.in_service[replica].popleft()
            now = self.env._now
            size = len(batch)
            self.writer.add(
                (start, now, service, size, self.pool_code, self.index, replica,
                 self.model_code, OK, batch)
            )  # fmt: skip
            group = self.group
            group.outstanding[self.slot] -= size
            occ = group.occupancy  # -size requests (see Occupancy), inlined
            if now > occ.start_s:
                last = occ.last_s
                occ.area += occ.in_system * (now - (last if last > occ.start_s else occ.start_s))
            occ.last_s = now
            occ.in_system -= size
            if depth == 1:
                self.free[replica] = True
                self.n_free += 1
                if not self._dispatch_pending:
                    self._request_dispatch()

        return done

    # --- end of run ---------------------------------------------------------------------

    def record_in_flight(self) -> None:
        """Record every request still in service or waiting as ``in_flight``."""
        for replica, batches in enumerate(self.in_service):
            for start, service, batch in batches:
                self.writer.add(
                    (start, NAN, service, len(batch), self.pool_code, self.index, replica,
                     self.model_code, IN_FLIGHT, batch)
                )  # fmt: skip
        for request in self.queue:
            self.writer.add(
                (NAN, NAN, NAN, 0, self.pool_code, self.index, -1, self.model_code, IN_FLIGHT,
                 [request])
            )  # fmt: skip
