"""The controllers of one run, built from the scenario's configs.

``controllers_for(scenario, replication)`` returns SimPy processes ``f(env, fleet)`` to add to
the run. They share one ``ControlPlane``, bound to the run by the first of them to start
(all start at time 0, before anything else happens), which holds the run's ``Health`` and
each pool's ``Launcher`` - so a launch deferred by a zone outage is counted by the
autoscaler. Every instance added to a pool - a replacement, a scale-out, or one a process of
yours adds with ``fleet.add_instance`` - gets the pool's failure and spot clocks
(``FleetView.watch_added``).

Per pool, in this order: failures, spot, autoscaling; then the events in the order listed.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from sim.control.autoscaling import ScheduledScaling, StepScaling, TargetTracking
from sim.control.capacity import Capacity
from sim.control.config import ScheduledConfig, StepConfig
from sim.control.events import ZoneOutage
from sim.control.failures import Failures
from sim.control.health import Health
from sim.control.launches import Launcher
from sim.control.spot import SpotInterruptions

Process = Callable[[Any, Any], Generator[Any, Any, None]]
"""A SimPy process function ``f(env, fleet)``."""

_AUTOSCALERS = {StepConfig: StepScaling, ScheduledConfig: ScheduledScaling}


class ControlPlane:
    """The controllers of one run and the state they share.

    Args:
        scenario: Anything with ``seed``, ``fleet`` (pools with ``name`` and optional
            ``autoscaling``, ``failures``, ``spot``) and optional ``events``.
        replication: The replication number (selects the random streams).

    """

    def __init__(self, scenario: Any, replication: int = 0) -> None:
        self.failures: dict[str, Failures] = {}
        self.spot: dict[str, SpotInterruptions] = {}
        self.autoscalers: dict[str, Any] = {}
        self.spot_share: dict[str, float] = {}
        self.launchers: dict[str, Launcher] = {}
        self.health: Health | None = None
        self._pools = [pool.name for pool in scenario.fleet]
        for pool in scenario.fleet:
            failures = getattr(pool, "failures", None)
            spot = getattr(pool, "spot", None)
            self.spot_share[pool.name] = spot.share if spot is not None else 0.0
            if failures is not None:
                self.failures[pool.name] = Failures(failures, pool.name, scenario.seed, replication)
            if spot is not None:
                self.spot[pool.name] = SpotInterruptions(
                    spot, pool.name, scenario.seed, replication
                )
            self.autoscalers[pool.name] = getattr(pool, "autoscaling", None)
        self.events = [ZoneOutage(event) for event in getattr(scenario, "events", None) or []]
        self._bound = False

    def bind(self, env: Any, fleet: Any) -> None:
        """Create the shared state for this run (once; later calls do nothing)."""
        if self._bound:
            return
        self._bound = True
        self.health = Health(fleet)
        for name in self._pools:
            launcher = Launcher(fleet, name, self.health, self.spot_share[name])
            self.launchers[name] = launcher
            if name in self.failures:
                self.failures[name].bind(env, fleet, self.health, launcher)
            if name in self.spot:
                self.spot[name].bind(env, fleet, launcher)
            config = self.autoscalers[name]
            if config is not None:
                kind = _AUTOSCALERS.get(type(config), TargetTracking)
                self.autoscalers[name] = kind(config, Capacity(fleet, launcher), name)
        for event in self.events:
            event.bind(self.health, list(self.launchers.values()))

    def processes(self) -> list[Process]:
        """The run's processes, each binding the plane when it starts."""
        runs: list[Callable[[Any, Any], Generator[Any, Any, None]]] = []
        for name in self._pools:
            for controller in (self.failures.get(name), self.spot.get(name)):
                if controller is not None:
                    runs.append(controller.run)
            if self.autoscalers[name] is not None:
                runs.append(self._autoscaler_run(name))
        runs.extend(event.run for event in self.events)
        return [self._bound_process(run) for run in runs]

    def _autoscaler_run(self, name: str) -> Process:
        def run(env: Any, fleet: Any) -> Generator[Any, Any, None]:
            return self.autoscalers[name].run(env, fleet)

        return run

    def _bound_process(self, run: Process) -> Process:
        def process(env: Any, fleet: Any) -> Generator[Any, Any, None]:
            self.bind(env, fleet)
            yield from run(env, fleet)

        return process


def controllers_for(scenario: Any, replication: int = 0) -> list[Process]:
    """The processes that run a scenario's autoscaling, failures, spot and events.

    Args:
        scenario: A ``Scenario`` (pools may carry ``autoscaling``, ``failures``, ``spot``;
            the scenario may carry ``events``).
        replication: The replication number.

    Returns:
        Process functions ``f(env, fleet)``; empty when nothing is configured.

    """
    return ControlPlane(scenario, replication).processes()
