"""Spot interruptions: a two-minute notice, a drain and a replacement, then the reclaim.

Which instances are spot is decided by the pool's ``Launcher`` (a deterministic share rule,
``sim.control.launches``; ``initial_lifecycles`` for the initial ones). Each spot instance is
interrupted after a time ~ exponential with rate ``interruptions_per_hour`` from its launch
(``requested_s``), a Poisson process per instance. At the interruption notice ``t``:

- an instance in service is drained (``fleet.drain``, reason ``spot_interruption``): it takes
  no new request and finishes its queue if it can;
- one still starting is drained too, which terminates it at once; one down (failed) is
  terminated at once, as there is no work to finish;
- a replacement spot instance is launched at ``t`` (cold start), unless the instance was
  already draining for a scale-in (it was leaving anyway);
- at ``t + 120 s`` (EC2's two-minute warning) an instance not yet terminated is terminated
  (reason ``spot_interruption``): the requests still inside are lost as in ``fleet.fail``.

Every spot instance of the pool has a clock: those present at the start, and every one added
later by a controller or by any other process (``FleetView.watch_added``).

Random draws: one per spot instance, from its own stream ``stream(seed, "spot",
name_index(pool), index, replication=r)``, so interruption times never depend on the order of
events at one instant.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from sim.control.config import SpotConfig
from sim.control.launches import Launcher
from sim.streams import name_index, stream

NOTICE_S = 120.0
"""EC2's Spot Instance interruption notice: two minutes before the instance is reclaimed."""


class SpotInterruptions:
    """The interruption clocks of one pool's spot instances.

    Args:
        config: The pool's ``spot`` block.
        pool: The pool's name.
        seed: The scenario seed.
        replication: The replication number.

    """

    def __init__(self, config: SpotConfig, pool: str, seed: int, replication: int) -> None:
        self.config = config
        self.pool = pool
        self._seed = seed
        self._replication = replication
        self._env: Any = None
        self._fleet: Any = None
        self._launcher: Launcher | None = None
        self._watched: set[int] = set()  # fleet numbers of the spot instances with a clock

    def bind(self, env: Any, fleet: Any, launcher: Launcher) -> None:
        """Attach to a run and hear of every instance added to the pool, by any process."""
        self._env, self._fleet, self._launcher = env, fleet, launcher
        fleet.watch_added(self._added)

    def _added(self, instance: Any, ready_at_s: float) -> None:
        if instance.pool == self.pool:
            self.watch(instance, ready_at_s)

    def run(self, env: Any, fleet: Any) -> Generator[Any, Any, None]:
        """The process: start the clocks of the pool's spot instances present at the start."""
        for inst in fleet.pool(self.pool).instances:
            if inst.state != "terminated":
                self.watch(inst, 0.0)
        yield env.timeout(0)

    def watch(self, instance: Any, ready_at_s: float = 0.0) -> None:
        """Start the interruption clock of ``instance`` if it is spot (once per instance)."""
        if instance.lifecycle != "spot" or self.config.interruptions_per_hour == 0:
            return
        if instance.number in self._watched:
            return
        self._watched.add(instance.number)
        rng = stream(
            self._seed, "spot", name_index(self.pool), instance.index,
            replication=self._replication,
        )  # fmt: skip
        after_s = float(rng.exponential(1.0 / self.config.interruptions_per_s))
        self._env.process(self._clock(instance, instance.requested_s + after_s))

    def _clock(self, inst: Any, notice_at_s: float) -> Generator[Any, Any, None]:
        env, fleet = self._env, self._fleet
        assert self._launcher is not None
        yield env.timeout(max(0.0, notice_at_s - env.now))
        state = inst.state
        if state == "terminated":
            return
        if state == "failed":
            fleet.terminate(inst, "spot_interruption")
        elif state != "draining":
            fleet.drain(inst, "spot_interruption")
        if state != "draining":
            self._launcher.launch("spot_interruption", "spot")
        yield env.timeout(NOTICE_S)
        if inst.state != "terminated":
            fleet.terminate(inst, "spot_interruption")
