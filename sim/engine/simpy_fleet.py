"""The SimPy engine: every instance of ``sim.engine.model`` in one environment, and its state.

``SimPyFleet`` builds the instances, runs the arrival process, and is the ``FleetState``
behind ``sim.engine.view.FleetView``: the numbers processes read and the fleet actions they
take, with the same meaning as the compiled kernel's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from analysis.schema import DROPPED, IN_FLIGHT, TIMED_OUT
from sim.engine.clients import NO_CLIENTS, ClientRules, Draws
from sim.engine.fleet import Fleet
from sim.engine.lifecycle import InstanceState
from sim.engine.model import Group, Instance
from sim.engine.occupancy import Occupancy
from sim.engine.phases import ARRIVAL, RETRY, WINDOW_START, FleetTimeout, RunEnvironment
from sim.engine.records import Record, RecordBuffer, Request
from sim.scenario.pipelines import apply_seq_rule
from sim.workload.requests import Chunk

NAN = math.nan
INF = math.inf


class SimPyFleet:
    """Every instance of a fleet as SimPy processes in ``env``, fed by an arrival process.

    It is also the state behind the read-only ``sim.engine.view.FleetView``.

    Args:
        env: The run's environment.
        fleet: The fleet (pools, numbering, balancers).
        trace: Receives the records.
        clients: The client rules (``sim.engine.clients``): deadlines and retries.

    """

    def __init__(
        self,
        env: RunEnvironment,
        fleet: Fleet,
        trace: RecordBuffer,
        clients: ClientRules = NO_CLIENTS,
    ) -> None:
        self.env = env
        self.trace = trace
        self.clients = clients
        self._patience = None if clients.patience is None else Draws(clients.patience)
        self._jitter = None if clients.jitter is None else Draws(clients.jitter)
        self.waiting_to_retry: dict[int, Request] = {}  # by id
        self._occupancy = Occupancy(fleet.warmup_s)
        self.pools = fleet.pools
        self.routes = fleet.routes
        self.staged = fleet.routes.staged  # some request passes through several stages
        self.groups = [Group(balancer) for balancer in fleet.balancers]
        self.gone: Callable[[int, float], None] | None = None  # (instance, time s) after a drain
        self.instances = [
            Instance(
                env,
                j,
                fleet.pool_of(j),
                self.groups[fleet.model[j]],
                trace,
                self._occupancy,
                self,
            )  # fmt: skip
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
        """The arrival process: each request reaches its first stage's balancer at its time.

        Each chunk gives, per request, its route (``sim.engine.routes``: its first hop). The
        request stream guarantees that waiting ``t - now`` lands exactly on ``t``
        (``sim.workload.requests``). After each chunk the trace may flush a row group.
        """
        request_id = 0
        timeout_s, patience = self.clients.timeout_s, self._patience
        for times, hops, seqs in chunks:
            for t, hop, seq in zip(times.tolist(), hops.tolist(), seqs.tolist(), strict=True):
                yield FleetTimeout(self.env, t - self.env.now, ARRIVAL)
                if timeout_s is not None:
                    deadline = t + timeout_s
                elif patience is not None:
                    deadline = t + patience.next()
                else:
                    deadline = INF
                self.send(Request(request_id, t, seq, 1, deadline, t, hop, t))
                request_id += 1
            self.trace.flush_if_full()
            if progress is not None and times.size and times[-1] < until_s:
                progress(float(times[-1]) / until_s)

    def occupancy(self) -> Occupancy:
        """The requests-in-system integral."""
        return self._occupancy

    def record_in_flight(self) -> None:
        """At the end of the run, record every unfinished request.

        Instance by instance, then those waiting to be sent again (no instance), in the
        order their retries were set.
        """
        for instance in self.instances:
            instance.record_in_flight()
        for request in self.waiting_to_retry.values():
            model = self.routes.model[request.hop]
            self.trace.add(Record(NAN, NAN, NAN, 0, -1 - model, -1, IN_FLIGHT, [request]))

    # --- the client rules (sim.engine.clients) --------------------------------------------

    def refused(self, request: Request, instance: int) -> None:
        """A request its queue or its balancer refused: sent again, or recorded dropped.

        ``instance``: the one whose queue was full, or ``-1 - model`` if none served.
        """
        if not self.resend(request, instance):
            self.trace.add(Record(NAN, NAN, NAN, 0, instance, -1, DROPPED, [request]))

    def resend(self, request: Request, instance: int) -> bool:
        """Send ``request`` again after its backoff if it may; False if no attempts are left.

        The caller records a request not sent again. One whose deadline has passed, or whose
        retry would come at or after it, is recorded ``timed_out`` here.
        """
        clients = self.clients
        now = self.env.now
        if request.deadline_s <= now:  # its client has already given up
            self.trace.add(Record(NAN, NAN, NAN, 0, instance, -1, TIMED_OUT, [request]))
            return True
        if request.attempts >= clients.max_attempts:
            return False
        cap_s = clients.backoff_caps_s[request.attempts - 1]
        delay_s = cap_s if self._jitter is None else cap_s * self._jitter.next()
        if now + delay_s >= request.deadline_s:
            self.trace.add(Record(NAN, NAN, NAN, 0, instance, -1, TIMED_OUT, [request]))
            return True
        self.waiting_to_retry[request.request_id] = request
        retry = FleetTimeout(self.env, delay_s, RETRY)
        retry.callbacks.append(lambda _event: self._retried(request.request_id))
        return True

    def _retried(self, request_id: int) -> None:
        """A retry arrives: its balancer chooses again."""
        request = self.waiting_to_retry.pop(request_id)
        self.send(request._replace(attempts=request.attempts + 1, queued_s=self.env.now))

    def send(self, request: Request) -> None:
        """A request reaches its hop's balancer now: an arrival, a retry or a hand-off.

        Refused (``refused``) if none of its hop's instances is in service.
        """
        model = self.routes.model[request.hop]
        if not self.groups[model].route(request):
            self.refused(request, -1 - model)

    def hand_on(self, batch: list[Request]) -> None:
        """A batch left its stage: hand each request on that has a next stage.

        Each whose client still waits reaches that stage's balancer now, in batch order
        (``sim.engine.routes``).
        """
        now = self.env.now
        routes = self.routes
        for request in batch:
            hop = routes.next[request.hop]
            if hop < 0 or not now < request.deadline_s:
                continue
            seq = apply_seq_rule(routes.seq[hop], request.seq_len)
            self.send(request._replace(seq_len=seq, queued_s=now, hop=hop, entered_s=now))

    # --- the state the FleetView reads (sim.engine.view.FleetState) -----------------------

    def waiting(self, instance: int) -> int:
        """Requests waiting for a replica at an instance."""
        return len(self.instances[instance].queue)

    def in_service(self, instance: int) -> int:
        """Requests inside an instance's replicas."""
        inst = self.instances[instance]
        return inst.outstanding - len(inst.queue)

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

    def busy_replica_s(self, instance: int, now: float) -> float:
        """Replica-seconds an instance's replicas were busy up to ``now`` (s)."""
        inst = self.instances[instance]
        busy = inst.pool.replicas - inst.free_replicas
        return inst.busy_s + busy * (now - inst.busy_last_s)

    def outstanding_request_s(self, instance: int, now: float) -> float:
        """Request-seconds outstanding at an instance up to ``now`` (s)."""
        inst = self.instances[instance]
        return inst.outstanding_s + inst.outstanding * (now - inst.outstanding_last_s)

    def state_of(self, instance: int) -> int:
        """An instance's ``sim.engine.lifecycle.InstanceState`` code."""
        return int(self.instances[instance].state)

    # --- fleet actions (sim.engine.lifecycle; the view checks and records them) -----------

    def add_instance(self, pool_code: int) -> int:
        """A new instance of pool ``pool_code``, starting (not in service); its number."""
        pool = self.pools[pool_code]
        number = len(self.instances)
        self.instances.append(
            Instance(
                self.env,
                number,
                pool,
                self.groups[pool.model],
                self.trace,
                self._occupancy,
                self,
                InstanceState.STARTING,
            )  # fmt: skip
        )
        return number

    def activate(self, instance: int, now: float) -> None:
        """A starting or failed instance goes into service, empty."""
        self.instances[instance].activate()

    def drain(self, instance: int, now: float) -> bool:
        """No new requests for an instance; True if it ended at once."""
        return self.instances[instance].drain()

    def fail(self, instance: int, now: float) -> None:
        """An instance is lost: its requests are recorded ``failed``."""
        inst = self.instances[instance]
        inst.lose()
        inst.state = InstanceState.FAILED

    def terminate(self, instance: int, now: float) -> None:
        """An instance ends now; requests inside it are lost as in ``fail``."""
        inst = self.instances[instance]
        inst.lose()
        inst.end()

    def ended(self, instance: int, now: float) -> None:
        """A draining instance ended at ``now`` (s): tell the view."""
        if self.gone is not None:
            self.gone(instance, now)
