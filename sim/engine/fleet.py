"""The simulated fleet: every instance's state, kept as flat lists indexed by instance.

An instance is a FIFO queue and ``replicas`` servers that take dynamic batches from it (the
rule is in ``sim.engine.loop``). Instances are numbered across the whole fleet, grouped by the
model they serve: a *group* is a contiguous range of numbers behind one balancer, and a
balancer's index i means instance ``group start + i``.

The state is struct-of-arrays (one list per attribute, indexed by instance number) rather
than one object per instance: the event loop binds each list to a local variable once, so a
state read is one list index instead of an attribute lookup on an object found in a list.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy

from sim.engine.calendar import Calendar
from sim.engine.trace_writer import IN_FLIGHT, NAN, RecordBuffer, Request
from sim.policies.balancers import Balancer, make_balancer
from sim.scenario.schema import Scenario
from sim.streams import name_index, stream

ServiceFn = Callable[[int, int], float]
"""``service_s(batch_size, max_seq_len)`` -> seconds per batch (a pipeline's interval)."""


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """What the fleet needs to know about one pool's instances.

    Attributes:
        count: Instances in the pool.
        model: Index of the model it serves.
        replicas: Replicas (NeuronCore groups) per instance.
        max_batch: Largest batch.
        max_wait_s: Longest time (s) the oldest request waits for a fuller batch.
        queue_limit: Waiting requests beyond which arrivals are dropped.
        service_s: Batch service time (s), see ``ServiceFn``.
        service_by_size_s: If the service time depends on the batch size only, the same
            times as a list indexed by batch size (entry 0 unused): a faster lookup.
        pipeline_depth: Stages of a pipelined replica (1: an ordinary replica).

    """

    count: int
    model: int
    replicas: int
    max_batch: int
    max_wait_s: float
    queue_limit: int
    service_s: ServiceFn
    service_by_size_s: list[float] | None = None
    pipeline_depth: int = 1


class Occupancy:
    """Requests in the system (waiting or in service), integrated over time.

    The engine keeps this independently of the trace so that Little's law (L = lambda W)
    compares two separate computations. To keep an arrival cheap, it only counts itself and
    adds its time to ``arrived_sum_s``; the loop folds those into the integral whenever
    requests leave (and at the window's start), using that n requests arriving at a_i and
    still present at t add ``n * t - sum(a_i)`` to the area.

    Args:
        start_s: Start of the measured window (s); time before it is not integrated.

    """

    __slots__ = ("in_system", "last_s", "area", "start_s", "arrived", "arrived_sum_s")

    def __init__(self, start_s: float = 0.0) -> None:
        self.in_system = 0  # requests present at last_s
        self.last_s = start_s  # time of the last fold, never before the window (s)
        self.area = 0.0  # requests x seconds, inside the window
        self.start_s = start_s
        self.arrived = 0  # arrivals since the last fold
        self.arrived_sum_s = 0.0  # the sum of their arrival times (s)

    def time_average(self, end_s: float) -> float:
        """Time-average number in system over [start, end_s]."""
        if end_s <= self.start_s:
            return float("nan")
        area = (
            self.area
            + self.in_system * (end_s - self.last_s)
            + (self.arrived * end_s - self.arrived_sum_s)
        )
        return area / (end_s - self.start_s)


# Calendar entries (sim.engine.calendar). Each is reused: at most one of each is in the calendar at
# a time, except ``Leave`` (one per batch inside a pipeline; they leave in order). The loop
# tells them apart by class.


class Done:
    """Calendar entry: the batch on replica ``replica`` of instance ``inst`` is finished.

    The batch in service is kept here: when it started (s), its service time (s), requests.
    """

    __slots__ = ("inst", "replica", "start_s", "service_s", "batch")

    def __init__(self, inst: int, replica: int) -> None:
        self.inst = inst
        self.replica = replica
        self.start_s = NAN
        self.service_s = NAN
        self.batch: list[Request] = []


class Leave:
    """Calendar entry: the oldest batch inside pipelined replica ``replica`` leaves it.

    ``flying`` holds the batches inside, oldest first, as (start s, time in the replica s,
    requests); ``last_exit_s`` keeps them leaving in the order they entered.
    """

    __slots__ = ("inst", "replica", "flying", "last_exit_s")

    def __init__(self, inst: int, replica: int) -> None:
        self.inst = inst
        self.replica = replica
        self.flying: deque[tuple[float, float, list[Request]]] = deque()
        self.last_exit_s = 0.0


class Freed:
    """Calendar entry: a pipelined replica can take its next batch."""

    __slots__ = ("inst", "replica")

    def __init__(self, inst: int, replica: int) -> None:
        self.inst = inst
        self.replica = replica


class Timer:
    """Calendar entry: the ``max_wait`` deadline of an instance's oldest request."""

    __slots__ = ("inst",)

    def __init__(self, inst: int) -> None:
        self.inst = inst


class WindowStart:
    """Calendar entry: the measured window starts (arrivals before it are folded in)."""

    __slots__ = ()


class SimPyDue:
    """Calendar entry: an event of a SimPy process in the run's environment is due."""

    __slots__ = ()


class Fleet:
    """Every instance of a run, behind one balancer per model.

    Args:
        env: The run's environment: the fleet keeps its clock, and SimPy processes started
            in it run in time order with the fleet.
        pools: The pools, in trace pool-code order.
        balancers: One balancer per model index (None for a model no pool serves); each
            must have been built for that model's instance count.
        warmup_s: Start of the window over which occupancy is integrated (s).

    """

    def __init__(
        self,
        env: simpy.Environment,
        pools: list[PoolSpec],
        balancers: list[Balancer | None],
        warmup_s: float = 0.0,
    ) -> None:
        self.env = env
        self.balancers = balancers
        self.occupancy = Occupancy(warmup_s)
        models = len(balancers)
        # instance numbering: by model, then pool order, then position in the pool
        order = sorted(range(len(pools)), key=lambda p: pools[p].model)
        self.group_start = [0] * (models + 1)
        self.pool_code: list[int] = []
        self.pool_index: list[int] = []
        self.model: list[int] = []
        specs: list[PoolSpec] = []
        for code in order:
            spec = pools[code]
            for index in range(spec.count):
                self.pool_code.append(code)
                self.pool_index.append(index)
                self.model.append(spec.model)
                specs.append(spec)
        for m in range(models):
            self.group_start[m + 1] = self.group_start[m] + sum(
                p.count for p in pools if p.model == m
            )
        for m, balancer in enumerate(balancers):
            size = self.group_start[m + 1] - self.group_start[m]
            if (balancer is None) != (size == 0) or (balancer and balancer.size != size):
                raise ValueError(f"model {m}: balancer does not match its {size} instances")
        for code, spec in enumerate(pools):
            _check_spec(code, spec)
        n = len(specs)
        self.size = n
        self.max_batch = [s.max_batch for s in specs]
        self.max_wait_s = [s.max_wait_s for s in specs]
        self.queue_limit = [s.queue_limit for s in specs]
        self.service_s = [s.service_s for s in specs]
        self.service_by_size_s = [s.service_by_size_s for s in specs]
        self.depth = [s.pipeline_depth for s in specs]
        self.queue: list[deque[Request]] = [deque() for _ in range(n)]
        self.free = [[True] * s.replicas for s in specs]  # per replica: idle?
        self.n_free = [s.replicas for s in specs]
        self.outstanding = [0] * n  # waiting or in service: what balancers read
        self.deciding = [False] * n  # a deferred decision is in ``calendar.late``
        self.timer_armed = [False] * n  # a Timer entry is in the calendar
        self.done: list[list[Done]] = [
            [Done(j, r) for r in range(s.replicas)] if s.pipeline_depth == 1 else []
            for j, s in enumerate(specs)
        ]
        self.leave: list[list[Leave]] = [
            [Leave(j, r) for r in range(s.replicas)] if s.pipeline_depth > 1 else []
            for j, s in enumerate(specs)
        ]
        self.freed: list[list[Freed]] = [
            [Freed(j, r) for r in range(s.replicas)] if s.pipeline_depth > 1 else []
            for j, s in enumerate(specs)
        ]
        self.timer = [Timer(j) for j in range(n)]
        self.calendar = Calendar()

    @classmethod
    def from_scenario(
        cls,
        env: simpy.Environment,
        scenario: Scenario,
        plans: list,
        model_names: list[str],
        replication: int,
    ) -> Fleet:
        """The fleet of a scenario, from its ``sim.engine.runner.PoolPlan``s (one per pool)."""
        pools = []
        for pool, plan in zip(scenario.fleet, plans, strict=True):
            if pool.service is None:
                service = plan.service_lookup()
                table = plan.service_table_s
                by_size = [NAN, *table[:, 0].tolist()] if table.shape[1] == 1 else None
            else:
                service = pool.service.build(
                    stream(scenario.seed, "pool", name_index(pool.name), replication=replication)
                )
                by_size = None
            pools.append(
                PoolSpec(
                    count=pool.count,
                    model=model_names.index(pool.model),
                    replicas=plan.replicas_per_instance,
                    max_batch=pool.batching.max_batch,
                    max_wait_s=pool.batching.max_wait,
                    queue_limit=pool.queue_limit,
                    service_s=service,
                    service_by_size_s=by_size,
                    pipeline_depth=plan.pipeline_depth,
                )
            )
        counts = [sum(p.count for p in pools if p.model == m) for m in range(len(model_names))]
        balancers: list[Balancer | None] = [
            make_balancer(
                scenario.balancer.kind,
                count,
                stream(scenario.seed, "balancer", name_index(name), replication=replication),
            )
            if count
            else None
            for name, count in zip(model_names, counts, strict=True)
        ]
        return cls(env, pools, balancers, scenario.warmup)

    def queued(self) -> list[int]:
        """Requests waiting for a replica, per instance."""
        return [len(q) for q in self.queue]

    def instance_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pool code, position in pool, model index) per instance number, for the trace."""
        return (
            np.array(self.pool_code, dtype=np.int32),
            np.array(self.pool_index, dtype=np.int32),
            np.array(self.model, dtype=np.int32),
        )

    def record_in_flight(self, writer: RecordBuffer) -> None:
        """At the end of the run, record every unfinished request."""
        add = writer.add
        for j in range(self.size):
            for replica, done in enumerate(self.done[j]):
                if not self.free[j][replica]:
                    add((done.start_s, NAN, done.service_s, len(done.batch), j, replica,
                         IN_FLIGHT, done.batch))  # fmt: skip
            for replica, leave in enumerate(self.leave[j]):
                for start, service, batch in leave.flying:
                    add((start, NAN, service, len(batch), j, replica, IN_FLIGHT, batch))
            for request in self.queue[j]:
                add((NAN, NAN, NAN, 0, j, -1, IN_FLIGHT, [request]))


def _check_spec(code: int, spec: PoolSpec) -> None:
    """Reject a pool spec neither loop can run (a scenario's pools always pass)."""
    for name in ("count", "replicas", "max_batch", "queue_limit", "pipeline_depth"):
        value = getattr(spec, name)
        if not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"pool {code}: {name} = {value!r}; must be an integer >= 1")
    if spec.max_batch >= 2**31 or spec.replicas >= 2**31 or spec.pipeline_depth >= 2**31:
        raise ValueError(f"pool {code}: max_batch, replicas and pipeline_depth must be < 2**31")
    table = spec.service_by_size_s
    if table is not None and len(table) <= spec.max_batch:
        raise ValueError(
            f"pool {code}: service_by_size_s has {len(table)} entries; max_batch "
            f"{spec.max_batch} needs {spec.max_batch + 1} (entry 0 unused)"
        )


def at_or_after(now: float, when: float) -> float:
    """Smallest ``now + d`` (d >= 0, floating point) that is not before ``when`` (s)."""
    delay = when - now
    if delay <= 0:
        return now
    while now + delay < when:
        delay = math.nextafter(delay, math.inf)
    return now + delay
