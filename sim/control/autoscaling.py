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

Scheduled bounds (``Schedule``): the scheduled kind, and a metric-driven one with a
``schedule``, change [min, max] at each entry's time and clamp the capacity into them at
that instant (scaled out to a raised min, in to a lowered max), as an AWS scheduled action
does to the scalable target; the clamp is no scaling activity of a policy, so it starts no
cooldown. A metric-driven autoscaler's evaluations stay on its period grid; at an instant
with both, the new bounds apply first.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
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
from sim.control.metrics import Datapoint, MetricWindow

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


class Schedule:
    """The [min, max] in force over time: each entry's from its time until the next one's.

    Args:
        entries: ``ScheduleEntry``s in increasing ``at`` (s); may be empty.
        every: The period (s) the entries repeat with, or None (once).
        before: The bounds before the first entry takes effect (None: none enforced).

    """

    def __init__(
        self,
        entries: list[ScheduleEntry],
        every: float | None,
        before: tuple[int, int] | None,
    ) -> None:
        self.bounds = before
        self._changes = self._times(entries, every)
        self._upcoming = next(self._changes, None)

    @staticmethod
    def _times(
        entries: list[ScheduleEntry], every: float | None
    ) -> Generator[tuple[float, tuple[int, int]], None, None]:
        """(time s, (min, max)) at which each entry takes effect, in time order."""
        cycle = 0
        while entries:
            start = 0.0 if every is None else cycle * every
            for entry in entries:
                yield start + entry.at, (entry.min, entry.max)
            if every is None:
                return
            cycle += 1

    @property
    def next_s(self) -> float | None:
        """When the next entry takes effect (s), or None if no entry is left."""
        return None if self._upcoming is None else self._upcoming[0]

    def advance(self, now: float) -> bool:
        """Take the entries due by ``now`` (s); return whether any was."""
        changed = False
        while self._upcoming is not None and self._upcoming[0] <= now + _ROUNDING_S:
            self.bounds = self._upcoming[1]
            self._upcoming = next(self._changes, None)
            changed = True
        return changed


class _MetricAutoscaler(ABC):
    """The loop of a metric-driven autoscaler: scheduled bounds, evaluations, a decision."""

    def __init__(self, config: TargetTrackingConfig | StepConfig, capacity: Capacity, pool: str):
        self.config = config
        self.capacity = capacity
        self.pool = pool

    @abstractmethod
    def history(self) -> int:
        """How many datapoints the decisions look back over."""

    @abstractmethod
    def decide(
        self, scaler: _Scaler, point: Datapoint, bounds: tuple[int, int], now: float
    ) -> None:
        """Scale on the datapoint ``point`` within ``bounds`` (min, max) at ``now`` (s)."""

    def run(self, env: Any, fleet: Any) -> Generator[Any, Any, None]:
        """The process: apply the schedule at its times, evaluate every period."""
        c = self.config
        schedule = Schedule(c.schedule or [], c.every, (c.min, c.max))
        scaler = _Scaler(self.capacity, MetricWindow(fleet, self.pool, c.metric), self.history())
        self._apply(schedule, env.now)  # entries at 0 s act at once
        last_s = env.now
        while True:
            yield from self._until(env, schedule, last_s)
            last_s = env.now
            assert schedule.bounds is not None
            self.capacity.keep_within(*schedule.bounds)
            point = scaler.window.sample()
            if point is None:
                scaler.values.clear()
                continue
            scaler.values.append(point.value)
            self.decide(scaler, point, schedule.bounds, env.now)

    def _until(self, env: Any, schedule: Schedule, last_s: float) -> Generator[Any, Any, None]:
        """Wait for the evaluation one period after ``last_s`` (s), applying the schedule."""
        due_s = last_s + self.config.period
        while (change_s := schedule.next_s) is not None and change_s < due_s - _ROUNDING_S:
            yield env.timeout(max(0.0, change_s - env.now))
            self._apply(schedule, env.now)
        # from an evaluation, the same wait as a plain periodic process (the same float times)
        yield env.timeout(self.config.period if env.now == last_s else due_s - env.now)
        self._apply(schedule, env.now)  # an entry due at the evaluation applies first

    def _apply(self, schedule: Schedule, now: float) -> None:
        if schedule.advance(now):
            assert schedule.bounds is not None
            self.capacity.keep_within(*schedule.bounds)


class TargetTracking(_MetricAutoscaler):
    """Target tracking: keep the metric near ``target`` (``TargetTrackingConfig``)."""

    config: TargetTrackingConfig

    def history(self) -> int:
        """The longer of the two alarms' datapoint counts."""
        return max(self.config.scale_out_datapoints, self.config.scale_in_datapoints)

    def decide(
        self, scaler: _Scaler, point: Datapoint, bounds: tuple[int, int], now: float
    ) -> None:
        """Scale to ``desired_capacity`` when an alarm breaches and its cooldown allows."""
        c = self.config
        desired = desired_capacity(point.serving, point.value, c.target, *bounds)
        if scaler.breach(c.scale_out_datapoints, above=c.target):
            scaler.scale_out(desired, now, c.scale_out_cooldown)
        elif scaler.breach(c.scale_in_datapoints, below=c.target):
            scaler.scale_in(desired, now, c.scale_in_cooldown)


def step_change(policy: StepPolicy, distance: float) -> int:
    """The change of the step whose interval [beyond, next beyond) holds ``distance``."""
    change = policy.steps[0].change
    for step in policy.steps:
        if distance >= step.beyond:
            change = step.change
    return change


class StepScaling(_MetricAutoscaler):
    """Step scaling: fixed changes by how far past a threshold the metric is (``StepConfig``)."""

    config: StepConfig

    def history(self) -> int:
        """The longer of the two alarms' datapoint counts."""
        c = self.config
        return max(p.datapoints for p in (c.scale_out, c.scale_in) if p is not None)

    def decide(
        self, scaler: _Scaler, point: Datapoint, bounds: tuple[int, int], now: float
    ) -> None:
        """Apply the step of the breaching alarm to the capacity, clamped to ``bounds``."""
        low, high = bounds
        count = self.capacity.count()
        out, in_ = self.config.scale_out, self.config.scale_in
        if out is not None and scaler.breach(out.datapoints, above=out.threshold):
            desired = min(high, max(low, count + step_change(out, point.value - out.threshold)))
            scaler.scale_out(desired, now, out.cooldown)
        elif in_ is not None and scaler.breach(in_.datapoints, below=in_.threshold):
            desired = min(high, max(low, count + step_change(in_, in_.threshold - point.value)))
            scaler.scale_in(desired, now, in_.cooldown)


class ScheduledScaling:
    """Scheduled scaling: [min, max] bounds that change at set times (``ScheduledConfig``).

    With ``every``, the time before the first entry takes the last entry's bounds (the
    previous cycle's); without it, nothing is enforced before the first entry.
    """

    def __init__(self, config: ScheduledConfig, capacity: Capacity, pool: str) -> None:
        self.config = config
        self.capacity = capacity
        self.pool = pool

    def run(self, env: Any, fleet: Any) -> Generator[Any, Any, None]:
        """The process: clamp at each entry's time and re-check every period."""
        c = self.config
        last = c.schedule[-1]
        schedule = Schedule(c.schedule, c.every, (last.min, last.max) if c.every else None)
        while True:
            schedule.advance(env.now)
            if schedule.bounds is not None:
                self.capacity.keep_within(*schedule.bounds)
            wake = env.now + c.period
            change_s = schedule.next_s
            if change_s is not None and change_s < wake:
                wake = change_s
            yield env.timeout(wake - env.now)
