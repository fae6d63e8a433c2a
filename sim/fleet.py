"""The simulated fleet, and the loop that feeds it requests.

The main loop merges two streams in time order: the vectorised request chunks and SimPy's
event queue (batch completions, ``max_wait`` timers, deferred batching decisions). Events
before the next arrival are stepped through SimPy; the arrival itself is applied inline at
its exact time, with no SimPy event of its own. That keeps the per-request cost to a
balancer choice and a queue append, while every state change of an instance still happens
inside one ``simpy.Environment``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from heapq import heappop

import simpy

from sim.balancers import Balancer, make_balancer
from sim.instance import Group, Horizon, Instance, Occupancy
from sim.requests import Chunk
from sim.scenario import Scenario
from sim.streams import name_index, stream
from sim.trace import TraceWriter


class Fleet:
    """The simulated system for one run: groups of instances behind balancers.

    A group is every instance serving one model; requests name their model by index into
    ``model_names``.

    Args:
        env: The run's environment.
        scenario: The scenario.
        plans: One ``sim.engine.PoolPlan`` per pool.
        writer: The trace.
        model_names: Model names in index order.
        replication: Independent replication number.

    """

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        plans: list,
        writer: TraceWriter,
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
