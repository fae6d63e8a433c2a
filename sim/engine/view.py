"""The fleet as a SimPy process sees it: a read-only view, the same in both engines.

A process added to a run (``sim.run(..., processes=[f])``) is a SimPy generator function
``f(env, fleet)``; ``fleet`` is a ``FleetView``. It reads the state at the process's own
instant, before the fleet's events at that instant (``sim.engine.phases``)::

    def observer(env, fleet):
        while True:
            yield env.timeout(1.0)
            print(env.now, fleet.waiting, [p.busy_replicas for p in fleet.pools])

Each engine supplies the numbers through the ``FleetState`` protocol: the SimPy model from
its objects, the compiled kernel from its arrays. Processes also act on the fleet through
the view (``add_instance``, ``drain``, ``fail``, ``restore``, ``terminate``; the rules are in
``sim.engine.actions``): the built-in controllers (``sim.control``) use the same calls, and
hear of every instance added (``watch_added``).
"""

from __future__ import annotations

from typing import Protocol

import simpy

from sim.engine.actions import FleetActions
from sim.engine.fleet import Fleet
from sim.engine.lifecycle import InstanceState
from sim.engine.occupancy import Occupancy
from sim.engine.roster import Lifetime, Roster


class FleetState(Protocol):
    """Per-instance numbers an engine provides, by fleet-wide instance number."""

    def waiting(self, instance: int) -> int:
        """Requests waiting for a replica."""
        ...

    def in_service(self, instance: int) -> int:
        """Requests inside the instance's replicas."""
        ...

    def busy_replicas(self, instance: int) -> int:
        """Replicas that cannot take a batch now."""
        ...

    def arrivals_at(self, instance: int) -> int:
        """Requests routed to the instance so far (dropped ones included)."""
        ...

    def completions_at(self, instance: int) -> int:
        """Requests the instance has finished so far."""
        ...

    def drops_at(self, instance: int) -> int:
        """Requests the instance has dropped so far (its queue was full)."""
        ...

    def occupancy(self) -> Occupancy:
        """The requests-in-system integral so far."""
        ...

    def busy_replica_s(self, instance: int, now: float) -> float:
        """Replica-seconds the instance's replicas were busy up to ``now`` (s)."""
        ...

    def outstanding_request_s(self, instance: int, now: float) -> float:
        """Request-seconds outstanding at the instance up to ``now`` (s)."""
        ...

    def state_of(self, instance: int) -> int:
        """The instance's ``sim.engine.lifecycle.InstanceState`` code."""
        ...

    gone: object  # called (instance, time s) when a draining instance ends

    def add_instance(self, pool_code: int) -> int:
        """A new, starting instance of the pool; its number."""
        ...

    def activate(self, instance: int, now: float) -> None:
        """A starting or failed instance goes into service, empty."""
        ...

    def drain(self, instance: int, now: float) -> bool:
        """No new requests for the instance; True if it ended at once."""
        ...

    def fail(self, instance: int, now: float) -> None:
        """The instance is lost with its requests."""
        ...

    def terminate(self, instance: int, now: float) -> None:
        """The instance ends now, with its requests."""
        ...


class _Counts:
    """Sums of per-instance numbers (mixed into the views).

    Counts of now (waiting, in service, busy replicas) are over the instances not yet
    terminated (``_numbers``); counts so far and integrals (arrivals, completions, drops,
    busy replica-seconds) over every instance there has been (``_all_numbers``).
    """

    _state: FleetState
    _numbers: range | list[int]  # the instances the counts sum over

    def _sum(self, name: str) -> int:
        read = getattr(self._state, name)
        return sum(read(j) for j in self._numbers)

    def _total(self, name: str) -> int:
        read = getattr(self._state, name)
        return sum(read(j) for j in self._all_numbers())

    @property
    def waiting(self) -> int:
        """Requests waiting for a replica."""
        return self._sum("waiting")

    @property
    def in_service(self) -> int:
        """Requests inside replicas."""
        return self._sum("in_service")

    @property
    def outstanding(self) -> int:
        """Requests waiting or in service (what the balancers read)."""
        return self.waiting + self.in_service

    @property
    def busy_replicas(self) -> int:
        """Replicas that cannot take a batch now."""
        return self._sum("busy_replicas")

    @property
    def arrivals(self) -> int:
        """Requests routed here so far, dropped ones included."""
        return self._total("arrivals_at")

    @property
    def completions(self) -> int:
        """Requests finished so far."""
        return self._total("completions_at")

    @property
    def drops(self) -> int:
        """Requests dropped so far (a full queue)."""
        return self._total("drops_at")

    @property
    def busy_replica_s(self) -> float:
        """Replica-seconds busy so far, over every instance here ever (cumulative).

        The difference of two readings over their interval is the mean busy replicas.
        """
        now = self._now()
        return sum(self._state.busy_replica_s(j, now) for j in self._all_numbers())

    @property
    def outstanding_request_s(self) -> float:
        """Request-seconds outstanding so far, over every instance here ever (cumulative)."""
        now = self._now()
        return sum(self._state.outstanding_request_s(j, now) for j in self._all_numbers())

    def _now(self) -> float:
        raise NotImplementedError

    def _all_numbers(self) -> list[int] | range:
        return self._numbers


class InstanceView(_Counts):
    """One (physical) instance: its pool, place and number, its ``state`` and its lifetime.

    ``pool``, ``index`` in the pool (trace ``instance_id``), ``number`` in the fleet (of its
    first core group; ``numbers``: all of them); its lifetime's ``zone``, ``lifecycle``,
    ``requested_s`` and ``ready_s``. Counts sum over its core groups.
    """

    def __init__(self, fleet: FleetView, pool: str, index: int, number: int, replicas: int):
        self._fleet = fleet
        self._state = fleet._state
        self._numbers = fleet._roster.members[number]  # its core groups (grows as added)
        self.pool = pool
        self.index = index
        self.number = number
        self.replicas = replicas

    @property
    def numbers(self) -> list[int]:
        """The engine numbers of its core groups (one unless its pool serves several models)."""
        return list(self._numbers)

    def _now(self) -> float:
        return self._fleet.now

    @property
    def state(self) -> str:
        """``starting``, ``in_service``, ``draining``, ``failed`` or ``terminated``."""
        return self.lifecycle_state.label

    @property
    def lifecycle_state(self) -> InstanceState:
        """The state as an ``InstanceState``: its groups' not yet terminated (all act together).

        A draining instance's groups end one by one as each runs dry; it is terminated when
        the last has.
        """
        gone = InstanceState.TERMINATED
        for j in self._numbers:
            code = self._state.state_of(j)
            if code != gone:
                return InstanceState(code)
        return gone

    def _lifetime(self) -> Lifetime:
        return self._fleet._roster.latest[self.number]

    @property
    def zone(self) -> str | None:
        """Its availability zone (None: its pool names none)."""
        return self._lifetime().zone

    @property
    def lifecycle(self) -> str:
        """``on_demand`` or ``spot``."""
        return self._lifetime().lifecycle

    @property
    def requested_s(self) -> float:
        """When its current lifetime was requested (s); a repair starts a new one."""
        return self._lifetime().requested_s

    @property
    def ready_s(self) -> float:
        """When it went into service in its current lifetime (s); NaN if not (yet)."""
        return self._lifetime().ready_s

    def __repr__(self) -> str:
        return f"<instance {self.pool}[{self.index}] {self.state}: {self.outstanding} outstanding>"


class PoolView(_Counts):
    """One pool: what it is, its instances now, and their sums.

    ``name``, ``instance_type``, ``model`` (``models``: all it serves, one per core group;
    ``model`` joins them with ``+``), ``zone``, ``cold_start_s``; ``instances`` (not yet
    terminated, in number order) and ``serving`` (in service).
    """

    def __init__(self, fleet: FleetView, code: int, name: str, instance_type: str,
                 models: tuple[str, ...], replicas: int, zone: str | None,
                 cold_start_s: float) -> None:  # fmt: skip
        self._fleet = fleet
        self._state = fleet._state
        self.code = code
        self.name = name
        self.instance_type = instance_type
        self.models = models
        self.model = "+".join(models)
        self.replicas_per_instance = replicas
        self.zone = zone
        self.cold_start_s = cold_start_s  # from request to in service (s)
        self._members: list[InstanceView] = []

    def _now(self) -> float:
        return self._fleet.now

    @property
    def _numbers(self) -> list[int]:  # type: ignore[override]
        return [j for v in self.instances for j in v._numbers]

    def _all_numbers(self) -> list[int]:
        return [j for v in self._members for j in v._numbers]

    @property
    def instances(self) -> tuple[InstanceView, ...]:
        """Its instances not yet terminated, in number order."""
        gone = InstanceState.TERMINATED
        return tuple(v for v in self._members if self._state.state_of(v.number) != gone)

    @property
    def serving(self) -> tuple[InstanceView, ...]:
        """Its instances in service (its balancer routes to them)."""
        live = InstanceState.IN_SERVICE
        return tuple(v for v in self._members if self._state.state_of(v.number) == live)

    def __repr__(self) -> str:
        return f"<pool {self.name}: {len(self.instances)} x {self.instance_type}>"


class FleetView(FleetActions, _Counts):
    """The whole fleet: ``now``, ``pools`` (by name too), ``instances``, sums, and actions.

    Args:
        env: The run's environment (``now`` is its clock, in seconds).
        fleet: The fleet's layout at the start.
        state: The engine's numbers and actions.
        roster: The run's instances and lifetimes (default: a new one for ``fleet``).
        cold_start_s: Per pool code, seconds from request to service (default 0).

    """

    def __init__(
        self,
        env: simpy.Environment,
        fleet: Fleet,
        state: FleetState,
        roster: Roster | None = None,
        cold_start_s: list[float] | None = None,
    ) -> None:
        self._env = env
        self._state = state
        self._layout = fleet
        self._roster = roster if roster is not None else Roster(fleet)
        self._drain_reason: dict[int, str] = {}
        self._added_watchers = []
        state.gone = self._gone
        colds = cold_start_s or [0.0] * len(fleet.host_names)
        self.pools = tuple(
            PoolView(
                self,
                host,
                name,
                str(fleet.pools[codes[0]].facts.get("instance_type", "")),
                tuple(fleet.model_names[fleet.pools[c].model] for c in codes),
                sum(fleet.pools[c].replicas for c in codes),
                self._roster.zones[codes[0]],
                colds[host],
            )  # fmt: skip
            for host, (name, codes) in enumerate(
                zip(fleet.host_names, fleet.host_groups, strict=True)
            )  # fmt: skip
        )
        self._views: list[InstanceView] = []
        for number in range(fleet.size):
            if self._roster.lead[number] == number:
                self._view_of(number)

    def _view_of(self, number: int) -> InstanceView:
        """Make the view of physical instance ``number`` (a lead; the next one)."""
        code = self._roster.pool_code[number]
        pool = self.pools[self._layout.host_code[code]]
        view = InstanceView(self, pool.name, self._roster.pool_index[number], number,
                            pool.replicas_per_instance)  # fmt: skip
        self._views.append(view)
        pool._members.append(view)
        return view

    @property
    def _numbers(self) -> range:  # type: ignore[override]
        return range(self._roster.size)

    def _now(self) -> float:
        return self._env.now

    @property
    def instances(self) -> tuple[InstanceView, ...]:
        """Every instance not yet terminated, in number order."""
        gone = InstanceState.TERMINATED
        return tuple(v for v in self._views if self._state.state_of(v.number) != gone)

    @property
    def now(self) -> float:
        """The simulated time (s)."""
        return self._env.now

    def pool(self, name: str) -> PoolView:
        """The pool called ``name``."""
        for pool in self.pools:
            if pool.name == name:
                return pool
        raise KeyError(f"no pool {name!r}; pools: {', '.join(p.name for p in self.pools)}")

    def __repr__(self) -> str:
        return f"<fleet at {self.now:g} s: {len(self.instances)} instances>"
