"""The SimPy engine: every instance of ``sim.engine.model`` in one environment, and its state.

``SimPyFleet`` builds the instances, runs the arrival process, and is the ``FleetState``
behind ``sim.engine.view.FleetView``: the numbers processes read and the fleet actions they
take, with the same meaning as the compiled kernel's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from analysis.schema import DROPPED
from sim.engine.fleet import Fleet
from sim.engine.lifecycle import InstanceState
from sim.engine.model import Group, Instance
from sim.engine.occupancy import Occupancy
from sim.engine.phases import ARRIVAL, WINDOW_START, FleetTimeout, RunEnvironment
from sim.engine.records import Record, RecordBuffer, Request
from sim.workload.requests import Chunk

NAN = math.nan


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
        self.pools = fleet.pools
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
                self._gone,
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
        """The arrival process: each request reaches its group's balancer at its time.

        The request stream guarantees that waiting ``t - now`` lands exactly on ``t``
        (``sim.workload.requests``). After each chunk the trace may flush a row group.
        """
        request_id = 0
        for times, models, seqs in chunks:
            for t, model, seq in zip(times.tolist(), models.tolist(), seqs.tolist(), strict=True):
                yield FleetTimeout(self.env, t - self.env.now, ARRIVAL)
                request = Request(request_id, t, seq)
                if not self.groups[model].route(request):  # none in service: refused
                    self.trace.add(Record(NAN, NAN, NAN, 0, -1, -1, DROPPED, [request]))
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
                self._gone,
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

    def _gone(self, instance: int, now: float) -> None:
        if self.gone is not None:
            self.gone(instance, now)
