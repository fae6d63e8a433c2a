"""The fleet as SimPy processes: the definition of what fleetsim simulates.

Read this module to know what a run does; extend a run with SimPy processes of your own
(``sim.run(..., processes=[...])``). The compiled kernel (``sim/engine/_kernel.pyx``) is this
model's fast twin: the tests require both to write identical traces.

* **Arrivals.** One process walks the request stream, waits for each request's arrival time
  and hands it to the balancer of its model's group of instances.
* **Balancing.** The balancer (``sim.policies.balancers``) picks an instance from the
  requests outstanding (waiting or in service) and queued at each instance of the group.
* **Admission.** An instance with ``queue_limit`` requests waiting drops the arrival
  (recorded as ``dropped``); otherwise the request joins its FIFO queue.
* **Batching.** Each instance has a batcher process. When a replica is free and requests
  wait, it starts a batch at once if ``max_batch`` are waiting or the oldest has waited
  ``max_wait``, and otherwise at the earlier of those moments (it arms a deadline timer). A
  batch takes up to ``max_batch`` requests in arrival order; the lowest-numbered free
  replica takes it. A request arriving while the deadline timer is armed asks for no
  decision unless it fills a batch: the timer or a full batch decides.
* **Service.** Each replica is a process holding the replica for the batch's service time:
  the host stage (``sim.policies.host``: the instance's vCPUs prepare the batch) plus the
  pool's time for (batch size, longest sequence in the batch) at its padded compiled shape
  (``sim.policies.shapes``), times the pool's next jitter factor if it has jitter
  (``sim.policies.jitter``). A replica spanning
  several cores is a pipeline: it takes its next batch one service interval after the last,
  and each batch leaves ``pipeline_depth`` intervals after it started, in the order they
  entered. A one-core replica that stages its next input while a batch runs (the pool's
  ``staged_s``: NeuronCore-v1) is the same process with one stage: free after the interval,
  the batch leaving ``staged_s`` later.
* **Instants.** Everything at one simulated time happens in the phases of
  ``sim.engine.phases``: user processes, arrivals, the fleet's timed events, then batching
  decisions - so a decision always sees every arrival and completion of its instant.
* **End.** At the end of the run, requests in service or waiting are recorded ``in_flight``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator

from analysis.schema import DROPPED, IN_FLIGHT, OK
from sim.engine.fleet import Fleet
from sim.engine.occupancy import Occupancy
from sim.engine.phases import (
    ARRIVAL,
    WINDOW_START,
    FleetTimeout,
    RunEnvironment,
    deadline_key,
    decision_key,
    delay_to,
    freed_key,
    leave_key,
)
from sim.engine.pool import Pool
from sim.engine.trace_writer import Record, RecordBuffer, Request
from sim.workload.requests import Chunk

NAN = math.nan


class Group:
    """The instances serving one model, with the counts their balancer reads (by index)."""

    def __init__(self, balancer) -> None:
        self.balancer = balancer
        self.instances: list[Instance] = []
        self.outstanding: list[int] = []  # waiting or in service
        self.queued: list[int] = []  # waiting for a replica

    def route(self, request: Request) -> None:
        """Send a request to the instance the balancer picks."""
        self.instances[self.balancer.pick(self.outstanding, self.queued)].admit(request)


class Instance:
    """One instance: a FIFO queue, a batcher process and one process per replica.

    Args:
        env: The run's environment.
        number: Its number in the fleet (``sim.engine.fleet``).
        pool: The pool it belongs to.
        group: The balancer group it joins (at position ``len(group.instances)``).
        trace: Where finished, dropped and unfinished requests are recorded.
        occupancy: The fleet's requests-in-system integral.

    """

    def __init__(
        self,
        env: RunEnvironment,
        number: int,
        pool: Pool,
        group: Group,
        trace: RecordBuffer,
        occupancy: Occupancy,
    ) -> None:
        self.env = env
        self.number = number
        self.pool = pool
        self.group = group
        self.slot = len(group.instances)
        group.instances.append(self)
        group.outstanding.append(0)
        group.queued.append(0)
        self.trace = trace
        self.occupancy = occupancy
        self.queue: deque[Request] = deque()
        staged = pool.pipeline_depth > 1 or pool.staged_s is not None
        replica = PipelinedReplica if staged else Replica
        self.replicas = [replica(self, r) for r in range(pool.replicas)]
        self.free_replicas = pool.replicas
        self.deciding = False  # a decision is due at the end of this instant
        self.deadline_armed = False
        self.wake = env.event()  # succeeds when a decision is asked for
        self.arrived = self.completed = self.dropped = 0
        env.process(self.batcher())

    # --- requests in ----------------------------------------------------------------------

    def admit(self, request: Request) -> None:
        """A request arrives: queue it, or drop it if ``queue_limit`` requests wait."""
        self.arrived += 1
        if len(self.queue) >= self.pool.queue_limit:
            self.dropped += 1
            self.trace.add(Record(NAN, NAN, NAN, 0, self.number, -1, DROPPED, [request]))
            return
        self.queue.append(request)
        self.group.outstanding[self.slot] += 1
        self.group.queued[self.slot] += 1
        self.occupancy.arrive(self.env.now)
        if self.free_replicas and not self.deciding:
            if self.deadline_armed and len(self.queue) < self.pool.max_batch:
                return  # the deadline timer or a full batch decides; this arrival cannot
            self.ask_to_decide()

    # --- batching -------------------------------------------------------------------------

    def ask_to_decide(self) -> None:
        """Have the batching rule applied at the end of this instant (once)."""
        self.deciding = True
        self.wake.succeed()

    def consider(self) -> None:
        """A replica freed or a deadline passed: a batch may start if requests wait."""
        if self.queue and not self.deciding:
            self.ask_to_decide()

    def batcher(self) -> Iterator:
        """The batching process: whenever asked, decide at the end of the instant."""
        while True:
            yield self.wake
            self.wake = self.env.event()
            yield FleetTimeout(self.env, 0, decision_key(self.number))
            self.decide()

    def decide(self) -> None:
        """The batching rule: start every batch it allows now, or arm the deadline."""
        self.deciding = False
        now = self.env.now
        pool = self.pool
        while self.queue and self.free_replicas:
            size = min(len(self.queue), pool.max_batch)
            if size < pool.max_batch:
                deadline = self.queue[0].arrival_s + pool.max_wait_s
                if now < deadline:
                    if not self.deadline_armed:
                        self.deadline_armed = True
                        self.env.process(self.deadline(deadline))
                    return
            self.start([self.queue.popleft() for _ in range(size)])

    def deadline(self, deadline_s: float) -> Iterator:
        """The deadline timer: at ``deadline_s`` (s) the oldest request has waited enough.

        An armed timer fires no later than the deadline of any later head of the queue
        (heads only get younger); the decision it leads to re-arms it if needed.
        """
        yield FleetTimeout(self.env, delay_to(self.env.now, deadline_s), deadline_key(self.number))
        self.deadline_armed = False
        if self.free_replicas:
            self.consider()

    def start(self, batch: list[Request]) -> None:
        """Hand a batch to the lowest-numbered free replica."""
        self.group.queued[self.slot] -= len(batch)
        self.free_replicas -= 1
        next(r for r in self.replicas if r.free).take(batch)

    # --- requests out ---------------------------------------------------------------------

    def finish(self, batch: list[Request], start_s: float, service_s: float, replica: int):
        """A batch leaves replica ``replica``, served: record it."""
        size = len(batch)
        self.trace.add(Record(start_s, self.env.now, service_s, size, self.number, replica, OK,
                              batch))  # fmt: skip
        self.group.outstanding[self.slot] -= size
        self.completed += size
        self.occupancy.depart(self.env.now, size)

    def replica_freed(self) -> None:
        """A replica can take a batch again."""
        self.free_replicas += 1
        self.consider()

    def record_in_flight(self) -> None:
        """At the end of the run: record the batches inside replicas, then the queue."""
        for replica in self.replicas:
            for start_s, service_s, batch in replica.inside:
                self.trace.add(Record(start_s, NAN, service_s, len(batch), self.number,
                                      replica.number, IN_FLIGHT, batch))  # fmt: skip
        for request in self.queue:
            self.trace.add(Record(NAN, NAN, NAN, 0, self.number, -1, IN_FLIGHT, [request]))


class Replica:
    """A replica serving one batch at a time: a process that holds it for the service time."""

    def __init__(self, instance: Instance, number: int) -> None:
        self.instance = instance
        self.env = instance.env
        self.number = number
        self.free = True
        self.inside: deque[tuple[float, float, list[Request]]] = deque()  # (start, s, batch)
        self.given = self.env.event()  # succeeds with the next batch
        self.env.process(self.serve())

    def take(self, batch: list[Request]) -> None:
        """Start serving ``batch`` now."""
        self.free = False
        self.given.succeed(batch)

    def accelerator_s(self, batch: list[Request]) -> tuple[float, float]:
        """The batch's accelerator time holding the replica, and its staged time after (s).

        The pool's times for its size and longest sequence; one jitter factor scales both
        (``sim.policies.jitter``); staged is 0 unless the pool stages inputs (``Pool.staged_s``).
        """
        pool = self.instance.pool
        size, longest = len(batch), max(r.seq_len for r in batch)
        service_s = pool.service_s(size, longest)
        if not service_s >= 0:  # NaN too: a batch cannot take negative or no defined time
            raise ValueError(f"pool {pool.name!r}: a batch's service time is {service_s!r} s")
        staged_s = 0.0 if pool.staged_s is None else pool.staged_s(size, longest)
        if pool.jitter is not None:
            factor = pool.jitter.next()
            service_s *= factor
            staged_s *= factor
        return service_s, staged_s

    def host_s(self, batch: list[Request]) -> float:
        """Seconds of host work before the accelerator (``sim.policies.host``)."""
        host = self.instance.pool.host
        return 0.0 if host.free else host.seconds(len(batch), sum(r.seq_len for r in batch))

    def serve(self) -> Iterator:
        """Wait for a batch, serve it, hand its requests back; again."""
        number = self.instance.number
        while True:
            batch = yield self.given
            self.given = self.env.event()
            start_s = self.env.now
            host_s = self.host_s(batch)
            service_s = host_s + self.accelerator_s(batch)[0]
            self.inside.append((start_s, service_s, batch))
            yield FleetTimeout(self.env, service_s, leave_key(number, self.number))
            self.inside.popleft()
            self.instance.finish(batch, start_s, service_s, self.number)
            self.free = True
            self.instance.replica_freed()


class PipelinedReplica(Replica):
    """A replica over ``pipeline_depth`` cores: a new batch every interval, in-order exits.

    The host stage comes first: the replica is free again after host + one interval, and
    the batch leaves after host + ``pipeline_depth`` intervals (or after the batch before it).
    A one-core replica staging its next input (``Pool.staged_s``) runs here too, its batch
    leaving host + interval + staged after it started.
    """

    def __init__(self, instance: Instance, number: int) -> None:
        super().__init__(instance, number)
        self.last_leave_s = 0.0  # when the latest batch leaves (s)

    def serve(self) -> Iterator:
        """Take a batch, send it down the stages, be free again after one interval."""
        number = self.instance.number
        while True:
            batch = yield self.given
            self.given = self.env.event()
            now = self.env.now
            host_s = self.host_s(batch)
            interval_s, staged_s = self.accelerator_s(batch)
            depth = self.instance.pool.pipeline_depth
            out_s = max(now + host_s + (interval_s * depth + staged_s), self.last_leave_s)
            leave_in_s = delay_to(now, out_s)
            self.last_leave_s = now + leave_in_s
            self.inside.append((now, out_s - now, batch))
            self.env.process(self.carry(leave_in_s))
            yield FleetTimeout(self.env, host_s + interval_s, freed_key(number, self.number))
            self.free = True
            self.instance.replica_freed()

    def carry(self, leave_in_s: float) -> Iterator:
        """The oldest batch inside leaves after ``leave_in_s`` (s)."""
        yield FleetTimeout(self.env, leave_in_s, leave_key(self.instance.number, self.number))
        start_s, time_inside_s, batch = self.inside.popleft()
        self.instance.finish(batch, start_s, time_inside_s, self.number)


class SimPyFleet:
    """Every instance of a fleet as SimPy processes in ``env``, fed by an arrival process.

    It is also the state behind the read-only ``sim.engine.view.FleetView``.

    Args:
        env: The run's environment.
        fleet: The fleet (pools, numbering, balancers).
        trace: Receives the records.

    """

    def __init__(self, env: RunEnvironment, fleet: Fleet, trace: RecordBuffer) -> None:
        self.env = env
        self.trace = trace
        self._occupancy = Occupancy(fleet.warmup_s)
        self.groups = [Group(balancer) for balancer in fleet.balancers]
        self.instances = [
            Instance(env, j, fleet.pool_of(j), self.groups[fleet.model[j]], trace, self._occupancy)
            for j in range(fleet.size)
        ]
        if fleet.warmup_s > 0:
            env.process(self.window())

    def window(self) -> Iterator:
        """The measured window starts at the end of the warm-up."""
        yield FleetTimeout(self.env, self._occupancy.start_s, WINDOW_START)
        self._occupancy.window_starts()

    def arrivals(
        self,
        chunks: Iterator[Chunk],
        until_s: float,
        progress: Callable[[float], None] | None = None,
    ) -> Iterator:
        """The arrival process: each request reaches its group's balancer at its time.

        The request stream guarantees that waiting ``t - now`` lands exactly on ``t``
        (``sim.workload.requests``). After each chunk the trace may flush a row group.
        """
        request_id = 0
        for times, models, seqs in chunks:
            for t, model, seq in zip(times.tolist(), models.tolist(), seqs.tolist(), strict=True):
                yield FleetTimeout(self.env, t - self.env.now, ARRIVAL)
                self.groups[model].route(Request(request_id, t, seq))
                request_id += 1
            self.trace.flush_if_full()
            if progress is not None and times.size and times[-1] < until_s:
                progress(float(times[-1]) / until_s)

    def occupancy(self) -> Occupancy:
        """The requests-in-system integral."""
        return self._occupancy

    def record_in_flight(self) -> None:
        """At the end of the run, record every unfinished request, instance by instance."""
        for instance in self.instances:
            instance.record_in_flight()

    # --- the state the FleetView reads (sim.engine.view.FleetState) -----------------------

    def waiting(self, instance: int) -> int:
        """Requests waiting for a replica at an instance."""
        return len(self.instances[instance].queue)

    def in_service(self, instance: int) -> int:
        """Requests inside an instance's replicas."""
        inst = self.instances[instance]
        return inst.group.outstanding[inst.slot] - len(inst.queue)

    def busy_replicas(self, instance: int) -> int:
        """Replicas of an instance that cannot take a batch now."""
        inst = self.instances[instance]
        return inst.pool.replicas - inst.free_replicas

    def arrivals_at(self, instance: int) -> int:
        """Requests routed to an instance so far (dropped ones included)."""
        return self.instances[instance].arrived

    def completions_at(self, instance: int) -> int:
        """Requests an instance has finished so far."""
        return self.instances[instance].completed

    def drops_at(self, instance: int) -> int:
        """Requests an instance has dropped so far."""
        return self.instances[instance].dropped
