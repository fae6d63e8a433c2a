"""Arrival processes against their theory (seeded, with confidence bounds)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.streams import stream
from sim.workload.arrivals import DiurnalProcess, PoissonProcess


def collect(process, until):
    return np.concatenate(list(process.chunks(until)))


def test_poisson_rate_and_cv():
    """Poisson: count within 4 sd of rate*T; gaps have CV 1 and are exponential (KS)."""
    from scipy import stats

    rate, until = 2000.0, 100.0
    times = collect(PoissonProcess(rate, stream(11, "arrivals")), until)
    n = times.size
    assert abs(n - rate * until) < 4 * math.sqrt(rate * until), (n, "seed 11")
    gaps = np.diff(times)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.02)
    assert stats.kstest(gaps, "expon", args=(0, 1 / rate)).pvalue > 0.001
    assert np.all(np.diff(times) > 0) and times[0] >= 0 and times[-1] < until


def test_poisson_prefix_does_not_depend_on_duration():
    """A longer run sees exactly the same first arrivals as a shorter one."""
    short = collect(PoissonProcess(500.0, stream(3, "arrivals")), 10.0)
    long = collect(PoissonProcess(500.0, stream(3, "arrivals")), 50.0)
    assert np.array_equal(short, long[: short.size])


def test_diurnal_counts_follow_the_rate_in_each_phase_window():
    """Thinning: counts in each eighth of the period match the integral of rate(t)."""
    proc = DiurnalProcess(1000.0, 1.8, 80.0, 10.0, stream(5, "arrivals"))
    times = collect(proc, 160.0)
    edges = np.linspace(0, 160.0, 17)
    counts, _ = np.histogram(times, edges)
    for lo, hi, count in zip(edges[:-1], edges[1:], counts, strict=True):
        expected = proc.expected_count(lo, hi)
        assert abs(count - expected) < 4.5 * math.sqrt(expected), (lo, hi, count, expected)


def test_diurnal_total_count_is_tight():
    """Over two whole periods the count is within 3.5 sd (~0.4%) of the integral of the rate."""
    proc = DiurnalProcess(5000.0, 1.9, 100.0, 30.0, stream(6, "arrivals"))
    n = collect(proc, 200.0).size
    expected = proc.expected_count(0.0, 200.0)
    assert abs(n - expected) < 3.5 * math.sqrt(expected), (n, expected, "seed 6")


def test_diurnal_peak_and_trough():
    """rate(phase) = mean*peak_to_mean and half a period later mean*(2-peak_to_mean)."""
    proc = DiurnalProcess(100.0, 1.5, 3600.0, 600.0, stream(1, "arrivals"))
    assert proc.rate_per_s(600.0) == pytest.approx(150.0)
    assert proc.rate_per_s(2400.0) == pytest.approx(50.0)
    assert proc.expected_count(0.0, 7200.0) == pytest.approx(100.0 * 7200.0)
