"""Requests in the system (waiting or in service), integrated over time by the engine.

The engine keeps this independently of the trace, so that Little's law (L = lambda W)
compares two separate computations. The compiled kernel does the same arithmetic in the same
order (``sim/engine/_kernel.pyx``), so both engines report the same value to the last bit.
"""

from __future__ import annotations

import math


class Occupancy:
    """The time integral of requests in the system over the measured window.

    To keep an arrival cheap it only counts itself and adds its time to ``arrived_sum_s``;
    the sums are folded into the integral whenever requests leave (and when the window
    starts), using that n requests arriving at a_i and still present at t add
    ``n * t - sum(a_i)`` to the area.

    Args:
        start_s: Start of the measured window (s); time before it is not integrated.

    """

    __slots__ = ("in_system", "last_s", "area", "start_s", "arrived", "arrived_sum_s")

    def __init__(self, start_s: float = 0.0) -> None:
        self.in_system = 0  # requests present at last_s
        self.last_s = start_s  # time of the last fold, never before the window (s)
        self.area = 0.0  # requests x seconds, inside the window
        self.start_s = start_s
        self.arrived = 0  # arrivals since the last fold
        self.arrived_sum_s = 0.0  # the sum of their arrival times (s)

    def arrive(self, now_s: float) -> None:
        """A request enters the system at ``now_s`` (s)."""
        self.arrived += 1
        self.arrived_sum_s += now_s

    def depart(self, now_s: float, count: int) -> None:
        """``count`` requests leave at ``now_s`` (s): fold the arrivals since the last fold."""
        if now_s > self.start_s:
            self.area += self.in_system * (now_s - self.last_s) + (
                self.arrived * now_s - self.arrived_sum_s
            )
            self.last_s = now_s
        self.in_system += self.arrived - count
        self.arrived = 0
        self.arrived_sum_s = 0.0

    def window_starts(self) -> None:
        """The measured window starts now: earlier arrivals count from here on."""
        self.in_system += self.arrived
        self.arrived = 0
        self.arrived_sum_s = 0.0

    def time_average(self, end_s: float) -> float:
        """Time-average number in system over [start, end_s]."""
        if end_s <= self.start_s:
            return math.nan
        area = (
            self.area
            + self.in_system * (end_s - self.last_s)
            + (self.arrived * end_s - self.arrived_sum_s)
        )
        return area / (end_s - self.start_s)
