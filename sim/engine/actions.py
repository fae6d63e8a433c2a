"""Fleet actions: what a SimPy process (a controller, or yours) may do to the fleet.

``FleetActions`` is mixed into ``sim.engine.view.FleetView``. Each action checks that the
instance's state allows it (``sim.engine.lifecycle.ALLOWED``), has the engine apply it at
once (before any arrival at this instant: processes run first, ``sim.engine.phases``), and
records the instance's lifetimes in the run's roster (``instances.parquet``):

* ``add_instance(pool)`` - requested now (billed from now), *starting*; in service after
  ``ready_in_s`` (default: the pool's cold start), by a SimPy timeout at that instant.
* ``drain(instance)`` - out of its balancer now; its queued and in-service requests finish;
  terminated when the last leaves (at once if idle, starting or failed).
* ``fail(instance)`` - lost now with the requests it held (recorded ``failed``); its
  lifetime ends (reason ``failure`` or the one given) and a new one, not in service, begins:
  billed while down, until ``restore`` or ``terminate``.
* ``restore(instance)`` - a failed instance is in service again, empty.
* ``terminate(instance, reason)`` - ends now; requests it held are lost as in ``fail``.

``watch_added(watcher)`` has ``watcher(instance, ready_at_s)`` called for every instance
added from then on, by any process: the failure and spot controllers start the clocks of an
instance your process adds as they do for their own launches.

An action on an instance acts on all its core groups (a pool serving several models,
``sim.scenario.groups``), in number order; its lifetime is one. Two actions at one instant
apply in the order they are called. The same calls give the same
run on both engines (``tests/oracle/test_fleet_actions.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from sim.engine.lifecycle import ALLOWED, InstanceState

if TYPE_CHECKING:
    from sim.engine.view import InstanceView, PoolView


class FleetActions:
    """The actions of ``FleetView`` (see the module docstring for their rules)."""

    _added_watchers: list[Callable[[InstanceView, float], None]]  # set by FleetView

    def add_instance(
        self,
        pool: str,
        *,
        lifecycle: str = "on_demand",
        zone: str | None = None,
        ready_in_s: float | None = None,
    ) -> InstanceView:
        """Request a new instance of ``pool`` now; it serves ``ready_in_s`` s later.

        Args:
            pool: The pool's name.
            lifecycle: ``on_demand`` or ``spot`` (billed at the pool's spot price).
            zone: Its zone (default: the pool's).
            ready_in_s: Seconds until it serves (default: the pool's ``cold_start_s``).

        Returns:
            Its view (state ``starting``).

        """
        target: PoolView = self.pool(pool)
        delay = target.cold_start_s if ready_in_s is None else float(ready_in_s)
        if not (math.isfinite(delay) and delay >= 0):
            raise ValueError(f"ready_in_s = {ready_in_s!r}: must be a finite number >= 0 (s)")
        lead = None
        for code in self._layout.host_groups[target.code]:  # one engine instance per group
            number = self._state.add_instance(code)
            added = self._roster.add(code, self.now, lifecycle, lead)
            if added != number:  # both number instances in the order they are added
                raise RuntimeError(f"engine numbered the new instance {number}, roster {added}")
            lead = number if lead is None else lead
        assert lead is not None
        if zone is not None:
            self._roster.latest[lead].zone = zone
        view = self._view_of(lead)
        ready = self._env.timeout(delay)  # scheduled now: before what the caller waits for next
        ready.callbacks.append(lambda _event: self._ready(view))
        ready_at_s = self.now + delay
        for watcher in self._added_watchers:
            watcher(view, ready_at_s)
        return view

    def watch_added(self, watcher: Callable[[InstanceView, float], None]) -> None:
        """Call ``watcher(instance, ready_at_s)`` for every instance added from now on.

        Args:
            watcher: Called at the end of each ``add_instance``, by whichever process added
                it, with the new instance's view and the time (s) it will serve.

        """
        self._added_watchers.append(watcher)

    def _ready(self, view: InstanceView) -> None:
        """The cold start is over: in service now, if still starting."""
        if view.lifecycle_state is InstanceState.STARTING:
            for j in view.numbers:
                self._state.activate(j, self.now)
            self._roster.current[view.number].ready_s = self.now

    def drain(self, instance: InstanceView, reason: str = "scale_in") -> None:
        """Stop routing to ``instance``; it ends once its work is done (at once if idle)."""
        state = self._check("drain", instance)
        if state is InstanceState.DRAINING:
            return
        ended = [self._state.drain(j, self.now) for j in instance.numbers]
        if all(ended):
            self._roster.close(instance.number, self.now, reason)
        else:
            self._drain_reason[instance.number] = reason

    def fail(self, instance: InstanceView, reason: str = "failure") -> None:
        """``instance`` is lost now with its requests; it stays failed until restored.

        A multi-model instance that was draining and whose groups have partly ended is
        terminated instead (it was leaving; a group that ended cannot be restored).
        """
        self._check("fail", instance)
        live = self._live(instance)
        if len(live) < len(instance.numbers):
            self.terminate(instance, reason)
            return
        for j in live:
            self._state.fail(j, self.now)
        self._drain_reason.pop(instance.number, None)
        self._roster.close(instance.number, self.now, reason)
        self._roster.open(instance.number, self.now)

    def restore(self, instance: InstanceView) -> None:
        """A failed ``instance`` is in service again, empty."""
        self._check("restore", instance)
        for j in instance.numbers:
            self._state.activate(j, self.now)
        self._roster.current[instance.number].ready_s = self.now

    def terminate(self, instance: InstanceView, reason: str) -> None:
        """``instance`` ends now; requests it held are lost (recorded ``failed``)."""
        self._check("terminate", instance)
        for j in self._live(instance):
            self._state.terminate(j, self.now)
        self._drain_reason.pop(instance.number, None)
        self._roster.close(instance.number, self.now, reason)

    def _live(self, instance: InstanceView) -> list[int]:
        """The numbers of ``instance``'s core groups not yet terminated."""
        gone = InstanceState.TERMINATED
        return [j for j in instance.numbers if self._state.state_of(j) != gone]

    def _check(self, action: str, instance: InstanceView) -> InstanceState:
        """The instance's state, if ``action`` is allowed in it; else ValueError."""
        state = instance.lifecycle_state
        if state not in ALLOWED[action] and not (
            action == "drain" and state is InstanceState.DRAINING
        ):
            raise ValueError(
                f"cannot {action} instance {instance.pool}[{instance.index}]: it is {state.label}"
            )
        return state

    def _gone(self, number: int, now: float) -> None:
        """The engine ended a drained engine instance at ``now`` (s).

        The physical instance ends with its last core group.
        """
        lead = self._roster.lead[number]
        gone = InstanceState.TERMINATED
        if any(self._state.state_of(j) != gone for j in self._roster.members[lead] if j != number):
            return
        self._roster.close(lead, now, self._drain_reason.pop(lead))
