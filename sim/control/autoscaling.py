"""The three autoscalers: target tracking, step and scheduled (AWS Application Auto Scaling).

Each is a SimPy process ``run(env, fleet)`` that wakes every ``period`` seconds (the first time
one period after the start). At each wake it first keeps the pool within [min, max] - an
Auto Scaling group replaces failed and interrupted instances to stay at or above its minimum
- then takes the metric's datapoint over the period (``sim.control.metrics``) and decides.
Capacity and the instances a scale-in drains are defined once, in ``sim.control.capacity``.

Cooldowns (both metric-driven kinds): a scale-out waits ``scale_out_cooldown`` since the last
scale-out; a scale-in waits ``scale_in_cooldown`` since the last scaling activity of either
direction (the conservative reading of AWS; see docs/fleet-dynamics.md). A period with no
instance in service gives no datapoint, and, like a CloudWatch alarm with missing data, the
run of breaching datapoints starts over.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from typing import Any

from sim.control.capacity import Capacity
from sim.control.config import (
    ScheduledConfig,
    ScheduleEntry,
    StepConfig,
    StepPolicy,
    TargetTrackingConfig,
)
from sim.control.metrics import MetricWindow

_ROUNDING_S = 1e-9  # ceil(4 * 0.6 / 0.6) is 4, not 5: float noise is not demand


def desired_capacity(serving: int, metric: float, target: float, low: int, high: int) -> int:
    """AWS's target tracking capacity, ``ceil(serving * metric / target)`` in [low, high].

    ``serving * metric`` is the load in instances' worth at a metric of 1, measured on the
    instances in service; instances still starting are not in it but count against the
    result, as AWS counts capacity added during a cooldown as part of the next desired one.
    """
    raw = math.ceil(serving * metric / target - _ROUNDING_S)
    return min(high, max(low, raw))


class _Scaler:
    """Shared state of the metric-driven autoscalers: capacity, datapoints, cooldown clocks."""

    def __init__(self, capacity: Capacity, window: MetricWindow, history: int) -> None:
        self.capacity = capacity
        self.window = window
        self.values: deque[float] = deque(maxlen=history)
        self.last_out_s = -math.inf
        self.last_in_s = -math.inf

    def breach(
        self, datapoints: int, above: float | None = None, below: float | None = None
    ) -> bool:
        """Whether the last ``datapoints`` values are all above ``above`` / below ``below``."""
        if len(self.values) < datapoints:
            return False
        recent = list(self.values)[-datapoints:]
        if above is not None:
            return all(v > above for v in recent)
        assert below is not None
        return all(v < below for v in recent)

    def scale_out(self, desired: int, now: float, cooldown_s: float) -> bool:
        """Scale out to ``desired`` if it is more and the scale-out cooldown has passed."""
        if desired <= self.capacity.count() or now - self.last_out_s < cooldown_s:
            return False
        self.capacity.scale_to(desired)
        self.last_out_s = now
        return True

    def scale_in(self, desired: int, now: float, cooldown_s: float) -> bool:
        """Scale in to ``desired`` if it is less and no scaling happened within the cooldown."""
        if desired >= self.capacity.count():
            return False
        if now - max(self.last_in_s, self.last_out_s) < cooldown_s:
            return False
        self.capacity.scale_to(desired)
        self.last_in_s = now
        return True


class TargetTracking:
    """Target tracking: keep the metric near ``target`` (``TargetTrackingConfig``)."""

    def __init__(self, config: TargetTrackingConfig, capacity: Capacity, pool: str) -> None:
        self.config = config
        self.capacity = capacity
        self.pool = pool

    def run(self, env: Any, fleet: Any) -> Generator[Any, Any, None]:
        """The process: evaluate every period."""
        c = self.config
        scaler = _Scaler(
            self.capacity,
            MetricWindow(fleet, self.pool, c.metric),
            max(c.scale_out_datapoints, c.scale_in_datapoints),
        )
        while True:
            yield env.timeout(c.period)
            self.capacity.keep_within(c.min, c.max)
            point = scaler.window.sample()
            if point is None:
                scaler.values.clear()
                continue
            scaler.values.append(point.value)
            desired = desired_capacity(point.serving, point.value, c.target, c.min, c.max)
            if scaler.breach(c.scale_out_datapoints, above=c.target):
                scaler.scale_out(desired, env.now, c.scale_out_cooldown)
            elif scaler.breach(c.scale_in_datapoints, below=c.target):
                scaler.scale_in(desired, env.now, c.scale_in_cooldown)


def step_change(policy: StepPolicy, distance: float) -> int:
    """The change of the step whose interval [beyond, next beyond) holds ``distance``."""
    change = policy.steps[0].change
    for step in policy.steps:
        if distance >= step.beyond:
            change = step.change
    return change


class StepScaling:
    """Step scaling: fixed changes by how far past a threshold the metric is (``StepConfig``)."""

    def __init__(self, config: StepConfig, capacity: Capacity, pool: str) -> None:
        self.config = config
        self.capacity = capacity
        self.pool = pool

    def run(self, env: Any, fleet: Any) -> Generator[Any, Any, None]:
        """The process: evaluate every period."""
        c = self.config
        depth = max(p.datapoints for p in (c.scale_out, c.scale_in) if p is not None)
        scaler = _Scaler(self.capacity, MetricWindow(fleet, self.pool, c.metric), depth)
        while True:
            yield env.timeout(c.period)
            self.capacity.keep_within(c.min, c.max)
            point = scaler.window.sample()
            if point is None:
                scaler.values.clear()
                continue
            scaler.values.append(point.value)
            count = self.capacity.count()
            out, in_ = c.scale_out, c.scale_in
            if out is not None and scaler.breach(out.datapoints, above=out.threshold):
                change = step_change(out, point.value - out.threshold)
                desired = min(c.max, max(c.min, count + change))
                scaler.scale_out(desired, env.now, out.cooldown)
            elif in_ is not None and scaler.breach(in_.datapoints, below=in_.threshold):
                change = step_change(in_, in_.threshold - point.value)
                desired = min(c.max, max(c.min, count + change))
                scaler.scale_in(desired, env.now, in_.cooldown)


class ScheduledScaling:
    """Scheduled scaling: [min, max] bounds that change at set times (``ScheduledConfig``)."""

    def __init__(self, config: ScheduledConfig, capacity: Capacity, pool: str) -> None:
        self.config = config
        self.capacity = capacity
        self.pool = pool

    def changes(self) -> Generator[tuple[float, ScheduleEntry], None, None]:
        """The (time s, entry) at which each entry takes effect, in time order."""
        c = self.config
        cycle = 0
        while True:
            start = 0.0 if c.every is None else cycle * c.every
            for entry in c.schedule:
                yield start + entry.at, entry
            if c.every is None:
                return
            cycle += 1

    def run(self, env: Any, fleet: Any) -> Generator[Any, Any, None]:
        """The process: clamp at each entry's time and re-check every period."""
        c = self.config
        changes = self.changes()
        current = c.schedule[-1] if c.every is not None else None
        upcoming = next(changes, None)
        while True:
            while upcoming is not None and upcoming[0] <= env.now + _ROUNDING_S:
                current = upcoming[1]
                upcoming = next(changes, None)
            if current is not None:
                self.capacity.keep_within(current.min, current.max)
            wake = env.now + c.period
            if upcoming is not None and upcoming[0] < wake:
                wake = upcoming[0]
            yield env.timeout(wake - env.now)
