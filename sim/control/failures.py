"""Instance failures: after a random up time an instance fails, then is repaired or replaced.

Per instance, from the time it is ready (its cold start over), the up time is drawn from
``FailuresConfig.distribution`` with mean ``mtbf``. When it ends:

- an instance in service fails (``fleet.fail``: its requests go to the client retry policy);
  with ``repair`` it is down for a time ~ exponential(mean ``mttr``), then restored
  (``fleet.restore``) and its next up time starts; with ``replace`` it is terminated
  (reason ``failure``) and a new instance of the same purchase option is launched through the
  pool's ``Launcher`` (cold start, its own clock when ready);
- an instance that is down for another reason (its zone out) does not fail again: its next up
  time is drawn from then; an instance draining or terminated has no further failures.

Every instance of the pool has a clock: those present at the start, and every one added later
by a controller or by any other process (``FleetView.watch_added``), from the time it will be
ready (its request + ``ready_in_s``, by default the pool's cold start).

Random draws: each instance has its own stream, ``stream(seed, "failures", name_index(pool),
index, replication=r)`` (``index`` is its ``instance_id`` in the pool), drawn in the order of
that instance's own events: up, down, up, down... So the failure times of an instance depend
only on its index and its own history, never on what other instances or controllers do at
the same instant, and both engines draw the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np

from sim.control.config import FailuresConfig
from sim.control.health import Health
from sim.control.launches import Launcher
from sim.streams import name_index, stream


class UpTimes:
    """Up and down times of one instance (s), from its own stream.

    Args:
        config: The pool's failures config.
        rng: The instance's ``failures`` stream.

    """

    def __init__(self, config: FailuresConfig, rng: np.random.Generator) -> None:
        self._config = config
        self._rng = rng
        shape = config.shape or 1.0
        # Weibull(k, scale) has mean scale * Gamma(1 + 1/k)
        self._scale_s = config.mtbf / math.gamma(1.0 + 1.0 / shape)

    def up_s(self) -> float:
        """Time to the next failure (s): mean ``mtbf``."""
        if self._config.distribution == "weibull":
            return self._scale_s * float(self._rng.weibull(self._config.shape))
        return float(self._rng.exponential(self._config.mtbf))

    def down_s(self) -> float:
        """Time to repair (s): exponential with mean ``mttr``."""
        return float(self._rng.exponential(self._config.mttr))


class Failures:
    """The failure clocks of one pool's instances.

    Args:
        config: The pool's ``failures`` block.
        pool: The pool's name.
        seed: The scenario seed.
        replication: The replication number.

    """

    def __init__(self, config: FailuresConfig, pool: str, seed: int, replication: int) -> None:
        self.config = config
        self.pool = pool
        self._seed = seed
        self._replication = replication
        self._env: Any = None
        self._fleet: Any = None
        self._health: Health | None = None
        self._launcher: Launcher | None = None
        self._watched: set[int] = set()  # fleet numbers of the instances with a clock

    def bind(self, env: Any, fleet: Any, health: Health, launcher: Launcher) -> None:
        """Attach to a run and hear of every instance added to the pool, by any process."""
        self._env, self._fleet, self._health, self._launcher = env, fleet, health, launcher
        fleet.watch_added(self._added)

    def _added(self, instance: Any, ready_at_s: float) -> None:
        if instance.pool == self.pool:
            self.watch(instance, ready_at_s)

    def run(self, env: Any, fleet: Any) -> Generator[Any, Any, None]:
        """The process: start the clocks of the pool's instances present at the start."""
        pool = fleet.pool(self.pool)
        for inst in pool.instances:
            if inst.state in ("starting", "in_service"):
                ready = inst.ready_s
                if math.isnan(ready):
                    ready = inst.requested_s + pool.cold_start_s
                self.watch(inst, ready)
        yield env.timeout(0)

    def watch(self, instance: Any, ready_at_s: float) -> None:
        """Start the clock of ``instance``, which is (or will be) ready at ``ready_at_s`` (s).

        An instance has one clock for its whole life: a second call for it does nothing.
        """
        if instance.number in self._watched:
            return
        self._watched.add(instance.number)
        rng = stream(
            self._seed, "failures", name_index(self.pool), instance.index,
            replication=self._replication,
        )  # fmt: skip
        self._env.process(self._clock(instance, UpTimes(self.config, rng), ready_at_s))

    def _clock(self, inst: Any, times: UpTimes, ready_at_s: float) -> Generator[Any, Any, None]:
        env, health = self._env, self._health
        assert health is not None and self._launcher is not None
        up_s = times.up_s()
        yield env.timeout(max(0.0, ready_at_s - env.now) + up_s)
        while True:
            if inst.state in ("terminated", "draining"):
                return
            if inst.state == "in_service" and not health.held(inst):
                if self.config.action == "replace":
                    self._fleet.terminate(inst, "failure")
                    self._launcher.launch("failure", inst.lifecycle)
                    return
                health.hold(inst, "failure")
                yield env.timeout(times.down_s())
                health.release(inst)
            yield env.timeout(times.up_s())
