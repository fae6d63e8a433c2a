"""The fleet as a SimPy process sees it: a read-only view, the same in both engines.

A process added to a run (``sim.run(..., processes=[f])``) is a SimPy generator function
``f(env, fleet)``; ``fleet`` is a ``FleetView``. It reads the state at the process's own
instant, before the fleet's events at that instant (``sim.engine.phases``)::

    def observer(env, fleet):
        while True:
            yield env.timeout(1.0)
            print(env.now, fleet.waiting, [p.busy_replicas for p in fleet.pools])

Each engine supplies the numbers through the ``FleetState`` protocol: the SimPy model from
its objects, the compiled kernel from its arrays. Actions on the fleet (adding, draining or
failing an instance) are meant to join this seam as methods of ``FleetView`` backed by new
``FleetState`` methods.
"""

from __future__ import annotations

from typing import Protocol

import simpy

from sim.engine.fleet import Fleet
from sim.engine.occupancy import Occupancy


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


class _Counts:
    """Sums of per-instance numbers over ``self._numbers`` (mixed into the views)."""

    _state: FleetState
    _numbers: range | list[int]

    def _sum(self, name: str) -> int:
        read = getattr(self._state, name)
        return sum(read(j) for j in self._numbers)

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
        return self._sum("arrivals_at")

    @property
    def completions(self) -> int:
        """Requests finished so far."""
        return self._sum("completions_at")

    @property
    def drops(self) -> int:
        """Requests dropped so far (a full queue)."""
        return self._sum("drops_at")


class InstanceView(_Counts):
    """One instance: ``pool``, ``index`` in the pool (trace ``instance_id``), ``number``."""

    def __init__(self, state: FleetState, pool: str, index: int, number: int, replicas: int):
        self._state = state
        self._numbers = [number]
        self.pool = pool
        self.index = index
        self.number = number
        self.replicas = replicas

    def __repr__(self) -> str:
        return f"<instance {self.pool}[{self.index}]: {self.outstanding} outstanding>"


class PoolView(_Counts):
    """One pool: its ``name``, ``instance_type``, ``model``, ``instances`` and their sums."""

    def __init__(self, state: FleetState, name: str, instance_type: str, model: str,
                 replicas: int, instances: list[InstanceView]) -> None:  # fmt: skip
        self._state = state
        self._numbers = [i.number for i in instances]
        self.name = name
        self.instance_type = instance_type
        self.model = model
        self.replicas_per_instance = replicas
        self.instances = tuple(instances)

    def __repr__(self) -> str:
        return f"<pool {self.name}: {len(self.instances)} x {self.instance_type}>"


class FleetView(_Counts):
    """The whole fleet, read-only: ``now``, ``pools`` (by name too), ``instances``, sums.

    Args:
        env: The run's environment (``now`` is its clock, in seconds).
        fleet: The fleet's layout.
        state: The engine's numbers.

    """

    def __init__(self, env: simpy.Environment, fleet: Fleet, state: FleetState) -> None:
        self._env = env
        self._state = state
        self._numbers = range(fleet.size)
        views = [
            InstanceView(
                state,
                fleet.pools[fleet.pool_code[j]].name,
                fleet.pool_index[j],
                j,
                fleet.pools[fleet.pool_code[j]].replicas,
            )  # fmt: skip
            for j in range(fleet.size)
        ]
        self.instances = tuple(views)
        self.pools = tuple(
            PoolView(
                state,
                pool.name,
                str(pool.facts.get("instance_type", "")),
                fleet.model_names[pool.model],
                pool.replicas,
                sorted(
                    (v for v in views if fleet.pool_code[v.number] == code), key=lambda v: v.index
                ),  # fmt: skip
            )
            for code, pool in enumerate(fleet.pools)
        )

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
