"""Arrival processes: absolute arrival times generated in vectorised chunks.

Each process states its theory (``rate_per_s(t)`` and ``mean_rate_per_s``) so tests can
compare the generated stream with it. Chunks have a fixed candidate size, so a longer run
sees exactly the same first arrivals as a shorter one with the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

CHUNK = 8192  # candidate arrivals drawn per vectorised step


@dataclass(slots=True)
class PoissonProcess:
    """Homogeneous Poisson process: i.i.d. exponential gaps with mean 1/rate.

    Theory: mean rate ``rate_per_s``; inter-arrival coefficient of variation 1.
    """

    rate: float
    rng: np.random.Generator

    @property
    def mean_rate_per_s(self) -> float:
        """Time-average arrival rate (requests/s)."""
        return self.rate

    def rate_per_s(self, t_s: np.ndarray | float) -> np.ndarray:
        """Instantaneous rate (requests/s) at times ``t_s`` (s)."""
        return np.full_like(np.asarray(t_s, dtype=float), self.rate)

    def chunks(self, until_s: float) -> Iterator[np.ndarray]:
        """Yield ascending arrival times (s) in [0, until_s), chunk by chunk."""
        last = 0.0
        while True:
            times = last + np.cumsum(self.rng.exponential(1.0 / self.rate, CHUNK))
            last = float(times[-1])
            if last >= until_s:
                yield times[times < until_s]
                return
            yield times


@dataclass(slots=True)
class DiurnalProcess:
    """Poisson process with a sinusoidal rate, generated exactly by thinning (Lewis-Shedler).

    rate(t) = mean * (1 + (peak_to_mean - 1) * cos(2*pi*(t - phase) / period)). Candidates
    come from a Poisson process at the peak rate; each is kept with probability
    rate(t) / peak, which gives exactly the non-homogeneous process.
    """

    mean: float
    peak_to_mean: float
    period_s: float
    phase_s: float
    rng: np.random.Generator

    @property
    def mean_rate_per_s(self) -> float:
        """Rate averaged over a whole period (requests/s)."""
        return self.mean

    def rate_per_s(self, t_s: np.ndarray | float) -> np.ndarray:
        """Instantaneous rate (requests/s) at times ``t_s`` (s)."""
        t = np.asarray(t_s, dtype=float)
        amplitude = self.peak_to_mean - 1.0
        return self.mean * (
            1.0 + amplitude * np.cos(2 * math.pi * (t - self.phase_s) / self.period_s)
        )

    def expected_count(self, start_s: float, end_s: float) -> float:
        """Expected number of arrivals in [start_s, end_s): the integral of the rate."""
        w = 2 * math.pi / self.period_s
        amplitude = self.mean * (self.peak_to_mean - 1.0)
        integral_cos = (
            math.sin(w * (end_s - self.phase_s)) - math.sin(w * (start_s - self.phase_s))
        ) / w
        return self.mean * (end_s - start_s) + amplitude * integral_cos

    def chunks(self, until_s: float) -> Iterator[np.ndarray]:
        """Yield ascending arrival times (s) in [0, until_s), chunk by chunk."""
        peak = self.mean * self.peak_to_mean
        last = 0.0
        while True:
            candidates = last + np.cumsum(self.rng.exponential(1.0 / peak, CHUNK))
            keep = self.rng.random(CHUNK) * peak < self.rate_per_s(candidates)
            last = float(candidates[-1])
            times = candidates[keep]
            if last >= until_s:
                yield times[times < until_s]
                return
            yield times
