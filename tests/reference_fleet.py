"""The previous engine, kept as a reference: one object per instance, SimPy events.

This is the straightforward design the fast loop in ``sim.engine.loop`` replaced (fleetsim up to
issue 5): an ``Instance`` object per instance with a deque, SimPy ``Timeout`` events for
every batch completion and ``max_wait`` deadline, a deferred SimPy event for batching
decisions at tied instants, and a driver that applies arrivals inline between SimPy events.
It was itself checked request by request against the batching oracle. The tests run both on
the same scenarios and require identical traces (``tests/test_engine_reference.py``).

Records use the old layout: (start, finish, service, size, pool, instance_id, replica,
model, status, requests).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from heapq import heappop

import simpy
from simpy.core import NORMAL
from simpy.events import Timeout

from sim.policies.balancers import Balancer, make_balancer
from sim.scenario.schema import Scenario
from sim.streams import name_index, stream
from sim.workload.requests import Chunk

DROPPED, IN_FLIGHT, OK = 1, 2, 0
Request = tuple[int, float, int]
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
        writer: object,
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


class Fleet:
    """The simulated system for one run: groups of instances behind balancers.

    A group is every instance serving one model; requests name their model by index into
    ``model_names``.

    Args:
        env: The run's environment.
        scenario: The scenario.
        plans: One ``sim.engine.runner.PoolPlan`` per pool.
        writer: The trace.
        model_names: Model names in index order.
        replication: Independent replication number.

    """

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        plans: list,
        writer: object,
        model_names: list[str],
        replication: int,
    ) -> None:
        self.env = env
        self.horizon = Horizon()
        self.occupancy = Occupancy(scenario.warmup)
        self.groups = [Group(occupancy=self.occupancy) for _ in model_names]
        for code, (pool, plan) in enumerate(zip(scenario.fleet, plans, strict=True)):
            model = model_names.index(pool.model)
            group = self.groups[model]
            if pool.service is None:
                service = plan.service_lookup()
            else:
                service = pool.service.build(
                    stream(scenario.seed, "pool", name_index(pool.name), replication=replication)
                )
            for index in range(pool.count):
                group.instances.append(
                    Instance(
                        env,
                        writer,
                        self.horizon,
                        code,
                        index,
                        model,
                        group,
                        len(group.instances),
                        plan.replicas_per_instance,
                        pool.batching.max_batch,
                        pool.batching.max_wait,
                        pool.queue_limit,
                        service,
                        plan.pipeline_depth,
                    )  # fmt: skip
                )
                group.outstanding.append(0)
                group.queued.append(0)
        self.balancers: list[Balancer | None] = [
            make_balancer(
                scenario.balancer.kind,
                len(group.instances),
                stream(scenario.seed, "balancer", name_index(name), replication=replication),
            )
            if group.instances
            else None
            for name, group in zip(model_names, self.groups, strict=True)
        ]

    def drive(
        self,
        chunks: Iterator[Chunk],
        until_s: float,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        """Apply every request at its arrival time and run the fleet until ``until_s`` (s).

        Events at exactly ``until_s`` are not processed (SimPy's ``run(until)`` rule).
        """
        env = self.env
        heap = env._queue  # SimPy's event heap of (time, priority, id, event)
        horizon = self.horizon
        routes = [
            (b.pick, g.outstanding, g.queued, g.instances) if b is not None else None
            for b, g in zip(self.balancers, self.groups, strict=True)
        ]
        request_id = 0
        for times, models, seqs in chunks:
            t_list = times.tolist()
            m_list = models.tolist()
            s_list = seqs.tolist()
            last = len(t_list) - 1
            for i, t in enumerate(t_list):
                while heap and heap[0][0] < t:
                    # Environment.step() for our events (all succeed, none are processes):
                    when, _, _, event = heappop(heap)
                    env._now = when
                    callbacks, event.callbacks = event.callbacks, None
                    for callback in callbacks:
                        callback(event)
                if t > env._now:
                    env._now = t  # no event lies before t: advancing the clock is exact
                # the next arrival time, so a batching decision is deferred while more
                # requests arrive at this same instant (a chunk's end is treated as one)
                horizon.next_arrival_s = t_list[i + 1] if i < last else t
                pick, outstanding, queued, instances = routes[m_list[i]]  # type: ignore[misc]
                instances[pick(outstanding, queued)].arrive(request_id, t, s_list[i])
                request_id += 1
            if progress is not None and t_list:
                progress(t_list[-1] / until_s)
        horizon.next_arrival_s = math.inf
        if until_s > env._now:
            env.run(until=until_s)
        if progress is not None:
            progress(1.0)

    def record_in_flight(self) -> None:
        """At the end of the run, record every unfinished request."""
        for group in self.groups:
            for instance in group.instances:
                instance.record_in_flight()
