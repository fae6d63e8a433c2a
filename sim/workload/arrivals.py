"""Arrival processes with their configs: arrival times generated in vectorised chunks.

Each process states its theory (``rate_per_s(t)`` and ``mean_rate_per_s``) so tests can
compare the generated stream with it. Chunks have a fixed candidate size, so a longer run
sees exactly the same first arrivals as a shorter one with the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from sim.scenario.base import Config, Duration, PositiveDuration
from sim.scenario.units import format_duration
from sim.workload.replay import TraceArrivals

CHUNK = 8192  # candidate arrivals drawn per vectorised step


def renewal_chunks(draw_gaps: Callable[[int], np.ndarray], until_s: float) -> Iterator[np.ndarray]:
    """Arrival times (s) in [0, until_s) from i.i.d. gaps, ``CHUNK`` gaps at a time.

    Args:
        draw_gaps: ``draw_gaps(n)`` returns n gaps in seconds.
        until_s: End of the run (s).

    """
    last = 0.0
    while True:
        times = last + np.cumsum(draw_gaps(CHUNK))
        last = float(times[-1])
        if last >= until_s:
            yield times[times < until_s]
            return
        yield times


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
        yield from renewal_chunks(lambda n: self.rng.exponential(1.0 / self.rate, n), until_s)


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


@dataclass(slots=True)
class GammaProcess:
    """Renewal process with i.i.d. gamma gaps: mean 1/rate, coefficient of variation ``cv``.

    Theory: mean rate ``rate``; inter-arrival CV ``cv`` (cv < 1 smoother than Poisson, > 1
    burstier; cv = 1 is Poisson). Gap shape k = 1/cv^2, scale = cv^2/rate.
    """

    rate: float
    cv: float
    rng: np.random.Generator

    @property
    def mean_rate_per_s(self) -> float:
        """Long-run arrival rate (requests/s)."""
        return self.rate

    @property
    def interarrival_cv(self) -> float:
        """Coefficient of variation of the gaps."""
        return self.cv

    def chunks(self, until_s: float) -> Iterator[np.ndarray]:
        """Yield ascending arrival times (s) in [0, until_s), chunk by chunk."""
        shape = 1.0 / self.cv**2
        scale = self.cv**2 / self.rate
        yield from renewal_chunks(lambda n: self.rng.gamma(shape, scale, n), until_s)


@dataclass(slots=True)
class MMPPProcess:
    """Two-state Markov-modulated Poisson process (bursty traffic).

    The process stays in state i for an exponential time with mean ``mean_sojourn_s[i]``, then
    switches to the other state; while in state i arrivals are Poisson at ``rates[i]``. It
    starts in state 0. Sojourns are drawn a chunk at a time; each sojourn's arrivals are a
    Poisson count placed uniformly, which is exactly a Poisson process on that interval.
    """

    rates: tuple[float, float]
    mean_sojourn_s: tuple[float, float]
    rng: np.random.Generator

    @property
    def stationary(self) -> np.ndarray:
        """Long-run fraction of time in each state."""
        d = np.asarray(self.mean_sojourn_s, dtype=float)
        return d / d.sum()

    @property
    def mean_rate_per_s(self) -> float:
        """Long-run arrival rate (requests/s): time-weighted mean of the state rates."""
        return float(self.stationary @ np.asarray(self.rates, dtype=float))

    def interarrival_moments(self) -> tuple[float, float]:
        """First two moments of a stationary gap (s, s^2), from the phase-type form.

        Gaps are phase-type with D0 = Q - diag(rates) and the phase at an arrival epoch
        distributed as pi*diag(rates)/(pi.rates); E[X^k] = k! alpha (-D0)^-k 1.
        """
        lam = np.diag(np.asarray(self.rates, dtype=float))
        r0, r1 = 1.0 / self.mean_sojourn_s[0], 1.0 / self.mean_sojourn_s[1]
        q = np.array([[-r0, r0], [r1, -r1]])
        alpha = self.stationary @ lam
        alpha = alpha / alpha.sum()
        inv = np.linalg.inv(-(q - lam))
        ones = np.ones(2)
        return float(alpha @ inv @ ones), float(2 * alpha @ inv @ inv @ ones)

    @property
    def interarrival_cv(self) -> float:
        """Coefficient of variation of a stationary gap."""
        m1, m2 = self.interarrival_moments()
        return math.sqrt(m2 - m1 * m1) / m1

    def chunks(self, until_s: float) -> Iterator[np.ndarray]:
        """Yield ascending arrival times (s) in [0, until_s), chunk by chunk."""
        rates = np.asarray(self.rates, dtype=float)
        means = np.asarray(self.mean_sojourn_s, dtype=float)
        sojourns_per_chunk = 256
        state_of = np.arange(sojourns_per_chunk) % 2  # chunks hold an even count: 0,1,0,1...
        start = 0.0
        while start < until_s:
            lengths = self.rng.exponential(means[state_of])
            starts = start + np.concatenate(([0.0], np.cumsum(lengths)[:-1]))
            # only the part of each sojourn inside the run can hold arrivals: the same process
            # on [0, until_s), without Poisson means beyond what numpy can draw
            inside = np.clip(until_s - starts, 0.0, lengths)
            counts = self.rng.poisson(rates[state_of] * inside)
            offsets = self.rng.random(int(counts.sum())) * np.repeat(inside, counts)
            times = np.repeat(starts, counts) + offsets
            # uniform points within each sojourn must be sorted; sojourns are already ordered
            times.sort(kind="stable")
            start = float(starts[-1] + lengths[-1])
            yield times[times < until_s]


# --- configs: what a scenario's workload.arrivals validates into -----------------------


MAX_RATE = 1e9  # requests/s; beyond this a run could never finish, so it is surely a typo
MIN_GAMMA_CV = 1e-3  # gap shape 1e6: below, 1/cv^2 and cv^2/rate leave double precision
MAX_GAMMA_CV = 10.0  # gap shape 0.01: above, most gaps underflow to exactly 0
SOJOURN_GAPS = 0.01  # an MMPP sojourn this many mean gaps long at least, or it is Poisson


class PoissonArrivals(Config):
    """Homogeneous Poisson arrivals: exponential gaps, mean rate ``rate`` requests/s."""

    kind: Literal["poisson"]
    rate: float = Field(gt=0, le=MAX_RATE, description="requests per second")

    def build(self, rng: np.random.Generator) -> PoissonProcess:
        """The runtime process, drawing from ``rng``."""
        return PoissonProcess(self.rate, rng)


class DiurnalArrivals(Config):
    """Sinusoidal-rate Poisson arrivals, generated exactly by thinning.

    rate(t) = mean_rate * (1 + (peak_to_mean - 1) * cos(2*pi*(t - phase) / period)), so the
    rate peaks at ``phase`` (and every period after) and bottoms out half a period later.
    """

    kind: Literal["diurnal"]
    mean_rate: float = Field(gt=0, le=MAX_RATE, description="time-average requests per second")
    peak_to_mean: float = Field(ge=1, le=2, description="peak rate / mean rate, in [1, 2]")
    period: PositiveDuration = 86400.0
    phase: Duration = 0.0

    def build(self, rng: np.random.Generator) -> DiurnalProcess:
        """The runtime process, drawing from ``rng``."""
        return DiurnalProcess(self.mean_rate, self.peak_to_mean, self.period, self.phase, rng)


class GammaArrivals(Config):
    """Renewal arrivals with gamma gaps: mean rate ``rate``, gap coefficient of variation ``cv``."""

    kind: Literal["gamma"]
    rate: float = Field(gt=0, le=MAX_RATE, description="requests per second")
    cv: float = Field(
        ge=MIN_GAMMA_CV,
        le=MAX_GAMMA_CV,
        description="coefficient of variation of the gaps; the gap shape 1/cv^2 stays where "
        "numpy's gamma sampler is exact (no overflow, gaps that do not underflow to 0)",
    )

    def build(self, rng: np.random.Generator) -> GammaProcess:
        """The runtime process, drawing from ``rng``."""
        return GammaProcess(self.rate, self.cv, rng)


class MMPPArrivals(Config):
    """Two-state Markov-modulated Poisson arrivals (bursts): rates and mean sojourn per state."""

    kind: Literal["mmpp"]
    rates: list[Annotated[float, Field(ge=0, le=MAX_RATE)]] = Field(min_length=2, max_length=2)
    mean_sojourn: list[PositiveDuration] = Field(min_length=2, max_length=2)

    @field_validator("rates")
    @classmethod
    def _some_traffic(cls, rates: list[float]) -> list[float]:
        if max(rates) <= 0:
            raise ValueError(f"at least one state must have a rate > 0, got {list(rates)}")
        return rates

    @model_validator(mode="after")
    def _sojourns_longer_than_gaps(self) -> MMPPArrivals:
        # States that switch many times per arrival are Poisson at the mean rate, and the
        # generator would draw a sojourn per switch: minutes for seconds of traffic.
        process = self.build(np.random.default_rng(0))
        gap_s = 1.0 / process.mean_rate_per_s
        shortest = min(self.mean_sojourn)
        if shortest < SOJOURN_GAPS * gap_s:
            raise ValueError(
                f"mean_sojourn {format_duration(shortest)} is far below the mean gap between "
                f"arrivals ({format_duration(gap_s)}): the states would switch about "
                f"{gap_s / shortest:,.0f} times per arrival, which is Poisson at "
                f"{process.mean_rate_per_s:,.6g} requests/s; use kind: poisson, or sojourns "
                f"of at least {format_duration(SOJOURN_GAPS * gap_s)}"
            )
        return self

    def build(self, rng: np.random.Generator) -> MMPPProcess:
        """The runtime process, drawing from ``rng``."""
        return MMPPProcess(
            (self.rates[0], self.rates[1]), (self.mean_sojourn[0], self.mean_sojourn[1]), rng
        )


ArrivalsConfig = Annotated[
    PoissonArrivals | DiurnalArrivals | GammaArrivals | MMPPArrivals | TraceArrivals,
    Field(discriminator="kind"),
]
