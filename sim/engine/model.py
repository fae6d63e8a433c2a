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
* **Stages.** A request of a pipeline leaving a stage's batch in time is handed to the next
  stage's balancer at that instant (``sim.engine.routes``; ``SimPyFleet.hand_on``).
* **End.** At the end of the run, requests in service or waiting are recorded ``in_flight``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

from analysis.schema import FAILED, IN_FLIGHT, OK, TIMED_OUT
from sim.engine.lifecycle import InstanceState
from sim.engine.occupancy import Occupancy
from sim.engine.phases import FleetTimeout, RunEnvironment, deadline_key, decision_key, delay_to
from sim.engine.pool import Pool
from sim.engine.records import Record, RecordBuffer, Request
from sim.engine.replicas import PipelinedReplica, Replica

if TYPE_CHECKING:
    from sim.engine.simpy_fleet import SimPyFleet

NAN = math.nan


class Group:
    """The instances in service for one model, with the counts their balancer reads.

    ``instances``, ``outstanding``, ``queued`` and ``weights`` are aligned: position i is the
    balancer's index i, the instances in service in instance-number order. An instance out
    of service (draining, failed) keeps its counts itself (``Instance.held``).
    """

    def __init__(self, balancer) -> None:
        self.balancer = balancer
        self.instances: list[Instance] = []
        self.outstanding: list[int] = []  # waiting or in service
        self.queued: list[int] = []  # waiting for a replica
        self.weights: list[float] = []  # capacity weights (Pool.capacity_per_s; NaN: none)

    def route(self, request: Request) -> bool:
        """Send a request to the instance the balancer picks; False if none is in service."""
        if not self.instances:
            return False
        self.instances[self.balancer.pick(self.outstanding, self.queued)].admit(request)
        return True

    def join(self, instance: Instance) -> None:
        """An instance goes into service: it takes its place by number."""
        at = sum(1 for other in self.instances if other.number < instance.number)
        self.instances.insert(at, instance)
        self.outstanding.insert(at, instance.held[0])
        self.queued.insert(at, instance.held[1])
        capacity = instance.pool.capacity_per_s
        self.weights.insert(at, NAN if capacity is None else capacity)
        self._renumber()

    def leave(self, instance: Instance) -> None:
        """An instance leaves service; it keeps its counts."""
        at = instance.slot
        instance.held = [self.outstanding.pop(at), self.queued.pop(at)]
        self.instances.pop(at)
        self.weights.pop(at)
        instance.slot = -1
        self._renumber()

    def _renumber(self) -> None:
        for at, instance in enumerate(self.instances):
            instance.slot = at
        self.balancer.resize(len(self.instances), self.weights)


class Instance:
    r"""One instance: a FIFO queue, a batcher process and one process per replica.

    Its life (``sim.engine.lifecycle``): in service (in its group) from the start or once
    ``activate``\ d, then draining, failed or terminated. A failure ends an *epoch*: the
    queue, replicas and batcher are replaced, and the old processes end when they wake.

    Args:
        env: The run's environment.
        number: Its number in the fleet (``sim.engine.fleet``).
        pool: The pool it belongs to.
        group: The balancer group of its model.
        trace: Where finished, dropped and unfinished requests are recorded.
        occupancy: The fleet's requests-in-system integral.
        owner: The engine (``sim.engine.simpy_fleet.SimPyFleet``): it ends drains
            (``gone``) and applies the client rules to refused and lost requests
            (``resend``).
        state: ``IN_SERVICE`` (joins its group now) or ``STARTING``.

    """

    def __init__(
        self,
        env: RunEnvironment,
        number: int,
        pool: Pool,
        group: Group,
        trace: RecordBuffer,
        occupancy: Occupancy,
        owner: SimPyFleet,
        state: InstanceState = InstanceState.IN_SERVICE,
    ) -> None:
        self.env = env
        self.number = number
        self.pool = pool
        self.group = group
        self.slot = -1  # its index in the group, -1 out of service
        self.held = [0, 0]  # (outstanding, queued) while out of service
        self.trace = trace
        self.occupancy = occupancy
        self.owner = owner
        self.state = state
        self.epoch = 0
        self.arrived = self.completed = self.dropped = 0
        self.busy_s = self.busy_last_s = 0.0  # replica-seconds busy, and when last counted
        self.outstanding_s = self.outstanding_last_s = 0.0  # request-seconds outstanding
        self.fresh()
        if state is InstanceState.IN_SERVICE:
            group.join(self)

    def fresh(self) -> None:
        """An empty queue, free replicas and a batcher, for the current epoch."""
        pool = self.pool
        self.queue: deque[Request] = deque()
        staged = pool.pipeline_depth > 1 or pool.staged_s is not None
        replica = PipelinedReplica if staged else Replica
        self.replicas = [replica(self, r, self.epoch) for r in range(pool.replicas)]
        self.free_replicas = pool.replicas
        self.deciding = False  # a decision is due at the end of this instant
        self.deadline_armed = False
        self.wake = self.env.event()  # succeeds when a decision is asked for
        self.env.process(self.batcher(self.epoch))

    # --- counts --------------------------------------------------------------------------

    @property
    def outstanding(self) -> int:
        """Requests waiting or in service here."""
        return self.group.outstanding[self.slot] if self.slot >= 0 else self.held[0]

    def count(self, outstanding: int, queued: int) -> None:
        """Change the outstanding and queued counts (in the group while in service)."""
        if self.slot >= 0:
            self.group.outstanding[self.slot] += outstanding
            self.group.queued[self.slot] += queued
        else:
            self.held[0] += outstanding
            self.held[1] += queued

    def note_busy(self) -> None:
        """Add the busy replica-seconds since the last change (before replicas change)."""
        now = self.env.now
        self.busy_s += (self.pool.replicas - self.free_replicas) * (now - self.busy_last_s)
        self.busy_last_s = now

    def note_outstanding(self) -> None:
        """Add the outstanding request-seconds since the last change (before it changes)."""
        now = self.env.now
        self.outstanding_s += self.outstanding * (now - self.outstanding_last_s)
        self.outstanding_last_s = now

    # --- requests in ----------------------------------------------------------------------

    def admit(self, request: Request) -> None:
        """A request arrives: queue it, or drop it if ``queue_limit`` requests wait."""
        self.arrived += 1
        if len(self.queue) >= self.pool.queue_limit:
            self.dropped += 1
            self.owner.refused(request, self.number)
            return
        self.queue.append(request)
        self.note_outstanding()
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

    def batcher(self, epoch: int) -> Iterator:
        """The batching process: whenever asked, decide at the end of the instant."""
        while True:
            yield self.wake
            if self.epoch != epoch:
                return
            self.wake = self.env.event()
            yield FleetTimeout(self.env, 0, decision_key(self.number))
            if self.epoch != epoch:
                return
            self.decide()

    def decide(self) -> None:
        """The batching rule: start every batch it allows now, or arm the deadline."""
        self.deciding = False
        now = self.env.now
        pool = self.pool
        while self.queue and self.free_replicas:
            while self.queue and self.queue[0].deadline_s <= now:
                self.expire(self.queue.popleft())
            if not self.queue:
                return
            size = min(len(self.queue), pool.max_batch)
            if size < pool.max_batch:
                deadline = self.queue[0].queued_s + pool.max_wait_s
                if now < deadline:
                    if not self.deadline_armed:
                        self.deadline_armed = True
                        self.env.process(self.deadline(deadline, self.epoch))
                    return
            self.start(self.take(size, now))

    def take(self, size: int, now: float) -> list[Request]:
        """The ``size`` oldest requests whose clients still wait; the others are discarded."""
        batch: list[Request] = []
        while len(batch) < size and self.queue:
            request = self.queue.popleft()
            if request.deadline_s <= now:
                self.expire(request)
            else:
                batch.append(request)
        return batch

    def expire(self, request: Request) -> None:
        """Discard a waiting request whose client gave up (``sim.engine.clients``)."""
        self.note_outstanding()
        self.count(-1, -1)
        self.occupancy.depart(self.env.now, 1)
        self.trace.add(Record(NAN, NAN, NAN, 0, self.number, -1, TIMED_OUT, [request]))

    def deadline(self, deadline_s: float, epoch: int) -> Iterator:
        """The deadline timer: at ``deadline_s`` (s) the oldest request has waited enough.

        An armed timer fires no later than the deadline of any later head of the queue
        (heads only get younger); the decision it leads to re-arms it if needed.
        """
        yield FleetTimeout(self.env, delay_to(self.env.now, deadline_s), deadline_key(self.number))
        if self.epoch != epoch:
            return
        self.deadline_armed = False
        if self.free_replicas:
            self.consider()

    def start(self, batch: list[Request]) -> None:
        """Hand a batch to the lowest-numbered free replica."""
        self.count(0, -len(batch))
        self.note_busy()
        self.free_replicas -= 1
        next(r for r in self.replicas if r.free).take(batch)

    # --- requests out ---------------------------------------------------------------------

    def finish(self, batch: list[Request], start_s: float, service_s: float, replica: int):
        """A batch leaves replica ``replica``, served: record it."""
        size = len(batch)
        self.trace.add(Record(start_s, self.env.now, service_s, size, self.number, replica, OK,
                              batch))  # fmt: skip
        self.note_outstanding()
        self.count(-size, 0)
        self.completed += size
        self.occupancy.depart(self.env.now, size)
        if self.owner.staged:
            self.owner.hand_on(batch)

    def replica_done(self) -> None:
        """A replica's batch left and the replica is free: end a finished drain, or go on."""
        self.note_busy()
        self.free_replicas += 1
        if not self.left():
            self.consider()

    def replica_freed(self) -> None:
        """A pipelined replica can take a batch again."""
        self.note_busy()
        self.free_replicas += 1
        self.consider()

    def left(self) -> bool:
        """After a batch left: a draining instance with nothing left ends; True if it did."""
        if self.state is InstanceState.DRAINING and not self.outstanding:
            self.end()
            self.owner.ended(self.number, self.env.now)
            return True
        return False

    # --- life (sim.engine.lifecycle; the view checks which actions are allowed) -----------

    def activate(self) -> None:
        """Go into service (ready after a cold start, or repaired), empty."""
        self.busy_last_s = self.outstanding_last_s = self.env.now
        self.state = InstanceState.IN_SERVICE
        self.group.join(self)

    def drain(self) -> bool:
        """Take no new requests; True if it ended at once (nothing was left to finish)."""
        if self.slot >= 0:
            self.group.leave(self)
        if self.state is InstanceState.IN_SERVICE and self.outstanding:
            self.state = InstanceState.DRAINING
            return False
        self.end()
        return True

    def end(self) -> None:
        """Terminated: out of its group; its processes' pending wake-ups are stale."""
        if self.slot >= 0:
            self.group.leave(self)
        self.note_busy()  # frozen from now (a pipelined replica may still count as busy)
        self.note_outstanding()
        self.free_replicas = self.pool.replicas
        self.state = InstanceState.TERMINATED
        self.epoch += 1

    def lose(self) -> None:
        """Record every request here ``failed`` and start a new, empty epoch.

        In the order of ``record_in_flight``: per replica its batches, then the queue.
        """
        if self.slot >= 0:
            self.group.leave(self)
        self.note_busy()
        self.note_outstanding()
        lost = 0
        resend = self.owner.resend
        for replica in self.replicas:
            for start_s, service_s, batch in replica.inside:
                final = [r for r in batch if not resend(r, self.number)]
                if final:
                    self.trace.add(Record(start_s, NAN, service_s, len(batch), self.number,
                                          replica.number, FAILED, final))  # fmt: skip
                lost += len(batch)
        for request in self.queue:
            if not resend(request, self.number):
                self.trace.add(Record(NAN, NAN, NAN, 0, self.number, -1, FAILED, [request]))
            lost += 1
        if lost:
            self.occupancy.depart(self.env.now, lost)
        self.held = [0, 0]
        self.epoch += 1
        self.fresh()

    def record_in_flight(self) -> None:
        """At the end of the run: record the batches inside replicas, then the queue."""
        for replica in self.replicas:
            for start_s, service_s, batch in replica.inside:
                self.trace.add(Record(start_s, NAN, service_s, len(batch), self.number,
                                      replica.number, IN_FLIGHT, batch))  # fmt: skip
        for request in self.queue:
            self.trace.add(Record(NAN, NAN, NAN, 0, self.number, -1, IN_FLIGHT, [request]))
