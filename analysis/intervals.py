"""Confidence intervals for simulated metrics: across replications, or by batch means.

Two ways to put an interval on a metric (a latency percentile, a throughput, a cost):

* **Replications** (``replication_interval``): independent runs of the same scenario
  (different ``replication`` numbers, hence independent random streams) each give one
  value; the interval is the Student-t interval of their mean, ``mean +/- t_{n-1} s /
  sqrt(n)``. It is exact for normal values and good for a handful of replications of
  averages and percentiles of long runs.
* **Batch means within one run** (``batch_means_interval``): the measured window
  ``[warmup, duration)`` is cut into ``k`` equal windows of arrival time ("batches"); the
  metric is computed on each batch's requests alone, and the spread of those ``k`` values
  gives the standard error. The interval is centred on the estimate from the whole run
  (not on the mean of the batch values, which for a percentile is biased by the smaller
  samples): ``estimate +/- t_{k-1} s_batch / sqrt(k)``, the *sectioning* form of batch
  means (Asmussen & Glynn, *Stochastic Simulation*, 2007, III.5; Nakayama, "Confidence
  intervals for quantiles using sectioning", 2014). It rests on batches long enough to be
  nearly independent of each other and on a metric whose run estimate is close to normal:
  true for long runs of a stable fleet, not for a fleet that is overloaded (the queue
  grows through the run) or a run shorter than a few relaxation times of its queues.

The default is ``k = 10`` batches (``analysis.estimates.DEFAULT_BATCHES``), with at least
``50 / (1 - q/100)`` completed requests per batch for a percentile (fewer batches in a
shorter run). Measured on M/M/1, whose p99 is known: coverage depends on the requests per
batch; at utilisation 0.7 a p99 interval covers 93-95% from about 5,000 per batch (80%
with 1,000), at utilisation 0.9 it needs about 40,000 (20,000 cover 87.5%). Ten batches
make each batch twice as long as twenty for the same run, which keeps busy fleets closer
to 95%, for intervals about 10% wider (t_9 = 2.26 against t_19 = 2.09). See
docs/analysis.md, "Coverage", and tests/statistical/test_interval_coverage.py.

An ``Interval`` carries its method and the number of batches or replications it rests on;
when an interval cannot be given (one replication, too few requests per batch) its ends
are NaN and ``reason`` says why.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
"""The default confidence level of every interval."""


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval (units of the metric).

    Attributes:
        estimate: The point estimate.
        low: Lower end of the interval (NaN when there is none: see ``reason``).
        high: Upper end of the interval.
        method: How it was made: ``"batch means (10 batches)"``, ``"replications (5)"``,
            ``"exact"`` (a quantity without sampling error, such as the cost of a fixed fleet).
        n: The batches or replications it rests on (0 for ``exact``).
        confidence: The confidence level (0.95 for 95%).
        reason: Why the interval is NaN, or why it rests on fewer batches than asked;
            empty otherwise.

    """

    estimate: float
    low: float
    high: float
    method: str
    n: int
    confidence: float = CONFIDENCE
    reason: str = ""

    @property
    def half_width(self) -> float:
        """Half the interval's width (NaN if there is no interval)."""
        return (self.high - self.low) / 2.0

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in ``[low, high]`` (False if there is no interval)."""
        return bool(self.low <= value <= self.high)

    def __str__(self) -> str:
        """``"11.215 [11.1, 11.33]"``: the estimate (5 significant digits), then the ends."""
        if math.isnan(self.low) or math.isnan(self.high):
            return f"{self.estimate:.5g} [no interval]"
        return f"{self.estimate:.5g} [{self.low:.4g}, {self.high:.4g}]"

    @classmethod
    def exact(cls, value: float) -> Interval:
        """A quantity without sampling error: its interval is the value itself."""
        return cls(value, value, value, "exact", 0)

    @classmethod
    def missing(cls, estimate: float, method: str, n: int, reason: str,
                confidence: float = CONFIDENCE) -> Interval:  # fmt: skip
        """An estimate without an interval (NaN ends), and why."""
        return cls(estimate, math.nan, math.nan, method, n, confidence, reason)


def t_half_width(values: np.ndarray, confidence: float) -> float:
    """Student-t half-width ``t_{n-1} s / sqrt(n)`` of the mean of ``values`` (n >= 2)."""
    from scipy import stats  # imported where used: a run that never asks stays light

    n = values.size
    t = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1))
    return t * float(np.std(values, ddof=1)) / math.sqrt(n)


def check_confidence(confidence: float) -> None:
    """Raise ValueError unless 0 < confidence < 1."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}")


def replication_interval(values: Iterable[float], confidence: float = CONFIDENCE) -> Interval:
    """Student-t interval of the mean of independent replications' values.

    Args:
        values: One value per replication (units of the metric).
        confidence: Confidence level, in (0, 1).

    Returns:
        The mean with its interval (method ``"replications (n)"``); NaN ends with a
        reason when there are fewer than 2 values or a value is NaN (a failed run).

    Raises:
        ValueError: ``confidence`` is not in (0, 1), or there are no values.

    """
    check_confidence(confidence)
    array = np.asarray(list(values), dtype=float)
    if array.size == 0:
        raise ValueError("replication_interval needs at least one value, got none")
    method = f"replications ({array.size})"
    if np.isnan(array).any():
        missing = int(np.isnan(array).sum())
        return Interval.missing(float("nan"), method, array.size,
                                f"{missing} of {array.size} replications have no value",
                                confidence)  # fmt: skip
    mean = float(array.mean())
    if array.size < 2:
        return Interval.missing(mean, method, 1, "one replication: no spread to measure",
                                confidence)  # fmt: skip
    half = t_half_width(array, confidence)
    return Interval(mean, mean - half, mean + half, method, array.size, confidence)


def batch_means_interval(
    batch_values: Iterable[float],
    estimate: float,
    confidence: float = CONFIDENCE,
    reason: str = "",
) -> Interval:
    """Interval of a whole-run estimate from the same metric on ``k`` batches of the run.

    ``estimate +/- t_{k-1} s / sqrt(k)``, with ``s`` the standard deviation of the batch
    values (sectioning: see the module docstring).

    Args:
        batch_values: The metric on each batch (units of the metric).
        estimate: The metric on the whole measured window.
        confidence: Confidence level, in (0, 1).
        reason: A note kept on the interval (e.g. why there are fewer batches than asked).

    Returns:
        The interval (method ``"batch means (k batches)"``); NaN ends with a reason when
        there are fewer than 2 batches or a batch has no value (no completed request).

    Raises:
        ValueError: ``confidence`` is not in (0, 1).

    """
    check_confidence(confidence)
    array = np.asarray(list(batch_values), dtype=float)
    method = f"batch means ({array.size} batches)"
    if array.size < 2:
        why = f"{array.size} batch: no spread to measure" + (f"; {reason}" if reason else "")
        return Interval.missing(estimate, method, array.size, why, confidence)
    if np.isnan(array).any():
        empty = int(np.isnan(array).sum())
        why = f"{empty} of {array.size} batches have no value (no completed request in them)"
        return Interval.missing(estimate, method, array.size, why, confidence)
    half = t_half_width(array, confidence)
    return Interval(estimate, estimate - half, estimate + half, method, array.size,
                    confidence, reason)  # fmt: skip
