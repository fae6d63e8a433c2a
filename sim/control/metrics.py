"""The metric an autoscaler reads: a time average over one period, on the instances in service.

At each sample, for every instance in service, the increase of its cumulative integrals since
the previous sample (``busy_replica_s``, ``outstanding_request_s``; from 0 for an instance new
since then) is divided by the time it was in service in the window: the whole period, or
``now - ready_s`` for an instance that became ready inside it. Pooled over the instances:

- utilisation = sum of busy replica-seconds / (replicas_per_instance * sum of in-service s);
- in-flight per instance = sum of outstanding request-seconds / sum of in-service s.

With every instance in service for the whole period this is the issue's definition, busy
replica-seconds / (replicas * serving instances * period). Like CloudWatch's average over an
Auto Scaling group, instances that left during the window (failed, drained, terminated) stop
reporting; an instance restored inside the window counts the whole period (its restore time is
not visible), which understates its share slightly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

_INTEGRAL = {"utilisation": "busy_replica_s", "in_flight_per_instance": "outstanding_request_s"}


@dataclass(frozen=True, slots=True)
class Datapoint:
    """One sample: the metric ``value`` over the window and the ``serving`` instances."""

    value: float
    serving: int


class MetricWindow:
    """Samples one pool's metric.

    Args:
        fleet: The run's ``FleetView``.
        pool: The pool's name.
        metric: ``utilisation`` or ``in_flight_per_instance``.

    """

    def __init__(self, fleet: Any, pool: str, metric: str) -> None:
        self._fleet = fleet
        self._pool = pool
        self._metric = metric
        self._integral = _INTEGRAL[metric]
        self._last: dict[int, float] = {}  # instance number -> integral at the last sample
        self._last_s = fleet.now

    def sample(self) -> Datapoint | None:
        """The metric since the previous sample; None when no instance was in service."""
        now = self._fleet.now
        pool = self._fleet.pool(self._pool)
        total = 0.0
        served_s = 0.0
        serving = 0
        readings: dict[int, float] = {}
        for inst in pool.instances:
            if inst.state == "terminated":
                continue
            reading = getattr(inst, self._integral)
            readings[inst.number] = reading
            if inst.state != "in_service":
                continue
            since = self._last_s
            if not math.isnan(inst.ready_s):
                since = max(since, inst.ready_s)
            total += reading - self._last.get(inst.number, 0.0)
            served_s += now - since
            serving += 1
        self._last = readings
        self._last_s = now
        if serving == 0 or served_s <= 0:
            return None
        if self._metric == "utilisation":
            return Datapoint(total / (pool.replicas_per_instance * served_s), serving)
        return Datapoint(total / served_s, serving)
