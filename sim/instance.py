"""One inference instance: a FIFO queue and replicas that take dynamic batches from it.

The batching rule (checked against an independent implementation in the tests):

* When a replica is free and the queue is not empty, a batch starts at once if
  ``max_batch`` requests are waiting or the oldest has waited ``max_wait``; otherwise it
  starts at the earlier of those two moments.
* A batch takes up to ``max_batch`` requests in arrival order; when several replicas are
  free the lowest-numbered takes it.
* Its service time is the pool's time for (batch size, longest sequence in the batch).
* Decisions at an instant are taken after every arrival and completion at that instant
  (dispatch is a SimPy event at a priority below NORMAL), so simultaneous events never
  depend on the order they were scheduled in.
* An arrival that finds ``queue_limit`` requests waiting is dropped.

A pool serves a single model, so each instance holds exactly one queue: the queue of that
model.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import simpy
from simpy.core import NORMAL

from sim.trace import DROPPED, IN_FLIGHT, OK, TraceWriter

LATE = NORMAL + 1  # dispatch runs after every NORMAL event at the same instant

Request = tuple[int, float, int]  # (request_id, arrival_s, seq_len)


class Occupancy:
    """Requests in the system (waiting or in service), integrated over time.

    The engine keeps this independently of the trace so that Little's law (L = lambda W)
    compares two separate computations.

    Args:
        start_s: Start of the measured window (s); time before it is not integrated.

    """

    __slots__ = ("in_system", "_last_s", "_area", "_start_s")

    def __init__(self, start_s: float = 0.0) -> None:
        self.in_system = 0
        self._last_s = 0.0
        self._area = 0.0
        self._start_s = start_s

    def change(self, now_s: float, delta: int) -> None:
        """Add ``delta`` requests at time ``now_s`` (s)."""
        if now_s > self._start_s:
            self._area += self.in_system * (now_s - max(self._last_s, self._start_s))
        self._last_s = now_s
        self.in_system += delta

    def time_average(self, end_s: float) -> float:
        """Time-average number in system over [start, end_s]."""
        if end_s <= self._start_s:
            return float("nan")
        area = self._area + self.in_system * (end_s - max(self._last_s, self._start_s))
        return area / (end_s - self._start_s)


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
        pool_code: Index of the pool (trace ``pool``).
        index: Position in the pool (trace ``instance_id``).
        model_code: Index of the served model (trace ``model``).
        group: The balancer group this instance belongs to.
        slot: Its position in ``group``.
        replicas: Number of replicas (NeuronCore groups).
        max_batch: Largest batch.
        max_wait_s: Longest time (s) the oldest request waits for a fuller batch.
        queue_limit: Waiting requests beyond which arrivals are dropped.
        service_s: ``service_s(batch_size, max_seq_len)`` -> seconds per batch.

    """

    __slots__ = (
        "env",
        "writer",
        "pool_code",
        "index",
        "model_code",
        "group",
        "slot",
        "max_batch",
        "max_wait_s",
        "queue_limit",
        "service_s",
        "queue",
        "free",
        "n_free",
        "in_service",
        "_dispatch_pending",
        "_timer_at",
        "_on_done",
    )

    def __init__(
        self,
        env: simpy.Environment,
        writer: TraceWriter,
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
    ) -> None:
        self.env = env
        self.writer = writer
        self.pool_code = pool_code
        self.index = index
        self.model_code = model_code
        self.group = group
        self.slot = slot
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.queue_limit = queue_limit
        self.service_s = service_s
        self.queue: deque[Request] = deque()
        self.free = [True] * replicas
        self.n_free = replicas
        self.in_service: list[tuple[float, float, list[Request]] | None] = [None] * replicas
        self._dispatch_pending = False
        self._timer_at: float | None = None
        self._on_done = [self._completer(r) for r in range(replicas)]

    # --- arrivals -----------------------------------------------------------------------

    def arrive(self, request_id: int, arrival_s: float, seq_len: int) -> None:
        """Queue a request that arrives now, or record it as dropped if the queue is full."""
        if len(self.queue) >= self.queue_limit:
            nan = math.nan
            self.writer.add(
                [request_id], [arrival_s], [seq_len], nan, nan, nan, 0,
                self.pool_code, self.index, -1, self.model_code, DROPPED,
            )  # fmt: skip
            return
        self.queue.append((request_id, arrival_s, seq_len))
        self.group.occupancy.change(arrival_s, 1)
        self.group.outstanding[self.slot] += 1
        self.group.queued[self.slot] += 1
        self._request_dispatch()

    # --- batching -----------------------------------------------------------------------

    def _request_dispatch(self) -> None:
        if self.n_free and not self._dispatch_pending:
            self._dispatch_pending = True
            _Deferred(self.env, self._dispatch)

    def _dispatch(self, _event: simpy.Event) -> None:
        self._dispatch_pending = False
        queue = self.queue
        now = self.env.now
        while queue and self.n_free:
            if len(queue) < self.max_batch:
                deadline = queue[0][1] + self.max_wait_s
                if now < deadline:
                    self._arm_timer(now, deadline)
                    return
            self._start(self.free.index(True), now)

    def _arm_timer(self, now: float, deadline: float) -> None:
        # A pending timer fires no later than this deadline (heads only get younger),
        # and its dispatch re-arms for the new head if needed.
        if self._timer_at is not None:
            return
        self._timer_at = deadline
        timer = self.env.timeout(delay_until(now, deadline))
        timer.callbacks.append(self._timer_fired)

    def _timer_fired(self, _event: simpy.Event) -> None:
        self._timer_at = None
        self._request_dispatch()

    def _start(self, replica: int, now: float) -> None:
        queue = self.queue
        size = min(len(queue), self.max_batch)
        batch = [queue.popleft() for _ in range(size)]
        service = self.service_s(size, max(r[2] for r in batch))
        self.free[replica] = False
        self.n_free -= 1
        self.group.queued[self.slot] -= size
        self.in_service[replica] = (now, service, batch)
        done = self.env.timeout(service)
        done.callbacks.append(self._on_done[replica])

    def _completer(self, replica: int) -> Callable[[simpy.Event], None]:
        def done(_event: simpy.Event) -> None:
            start, service, batch = self.in_service[replica]  # type: ignore[misc]
            self.in_service[replica] = None
            self.writer.add(
                [r[0] for r in batch], [r[1] for r in batch], [r[2] for r in batch],
                start, self.env.now, service, len(batch),
                self.pool_code, self.index, replica, self.model_code, OK,
            )  # fmt: skip
            self.free[replica] = True
            self.n_free += 1
            self.group.outstanding[self.slot] -= len(batch)
            self.group.occupancy.change(self.env.now, -len(batch))
            self._request_dispatch()

        return done

    # --- end of run ---------------------------------------------------------------------

    def record_in_flight(self) -> None:
        """Record every request still in service or waiting as ``in_flight``."""
        nan = math.nan
        for replica, entry in enumerate(self.in_service):
            if entry is not None:
                start, service, batch = entry
                self.writer.add(
                    [r[0] for r in batch], [r[1] for r in batch], [r[2] for r in batch],
                    start, nan, service, len(batch),
                    self.pool_code, self.index, replica, self.model_code, IN_FLIGHT,
                )  # fmt: skip
        for request_id, arrival_s, seq_len in self.queue:
            self.writer.add(
                [request_id], [arrival_s], [seq_len], nan, nan, nan, 0,
                self.pool_code, self.index, -1, self.model_code, IN_FLIGHT,
            )  # fmt: skip
