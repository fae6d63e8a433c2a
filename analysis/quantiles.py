"""Exact percentiles of a stream too long to hold in memory, by two passes over it.

Pass 1 counts values into 65,536 logarithmic bins and keeps each bin's min and max. A
percentile needs one or two order statistics; if such a statistic falls in a bin whose min
equals its max (common: deterministic service makes many identical latencies), it is known at
once. Otherwise pass 2 keeps only the values of the few bins that matter, and sorts them.
The result equals ``numpy.percentile(values, q)`` (linear interpolation) up to rounding,
with memory proportional to the bins, not the stream.
"""

from __future__ import annotations

import math

import numpy as np

_BINS = 1 << 16
_LOG_LO, _LOG_HI = math.log(1e-9), math.log(1e7)  # seconds; values outside go to end bins
_SCALE = _BINS / (_LOG_HI - _LOG_LO)


class StreamingPercentiles:
    """Collects non-negative values (e.g. latencies in s) in up to two passes."""

    def __init__(self) -> None:
        self.n = 0
        self.total = 0.0
        self._counts = np.zeros(_BINS, dtype=np.int64)
        self._min = np.full(_BINS, np.inf)
        self._max = np.full(_BINS, -np.inf)
        self._wanted: set[int] = set()
        self._kept: dict[int, list[np.ndarray]] = {}

    @staticmethod
    def _bin(values: np.ndarray) -> np.ndarray:
        logs = np.log(np.maximum(values, 1e-300))
        return np.clip(((logs - _LOG_LO) * _SCALE).astype(np.int64), 0, _BINS - 1)

    def add(self, values: np.ndarray) -> None:
        """Pass 1: count values (finite, >= 0)."""
        values = np.asarray(values, dtype=float)
        if values.size == 0:
            return
        index = self._bin(values)
        self._counts += np.bincount(index, minlength=_BINS)
        np.minimum.at(self._min, index, values)
        np.maximum.at(self._max, index, values)
        self.n += values.size
        self.total += float(values.sum())

    @property
    def mean(self) -> float:
        """Mean of the values (NaN if none)."""
        return self.total / self.n if self.n else float("nan")

    def _ranks(self, q: tuple[float, ...]) -> list[tuple[int, int, float]]:
        out = []
        for percent in q:
            position = percent / 100.0 * (self.n - 1)
            low = int(math.floor(position))
            out.append((low, min(low + 1, self.n - 1), position - low))
        return out

    def _locate(self, rank: int) -> tuple[int, int]:
        """(bin, rank within the bin) of the 0-based order statistic ``rank``."""
        cumulative = np.cumsum(self._counts)
        b = int(np.searchsorted(cumulative, rank, side="right"))
        before = int(cumulative[b - 1]) if b else 0
        return b, rank - before

    def plan_second_pass(self, q: tuple[float, ...]) -> bool:
        """Decide which bins pass 2 must keep; False if every answer is already known."""
        self._wanted = set()
        if self.n:
            for low, high, _ in self._ranks(q):
                for rank in (low, high):
                    b, _ = self._locate(rank)
                    if self._min[b] != self._max[b]:
                        self._wanted.add(b)
        self._kept = {b: [] for b in self._wanted}
        return bool(self._wanted)

    def keep(self, values: np.ndarray) -> None:
        """Pass 2: keep the values that fall in the wanted bins."""
        if not self._wanted:
            return
        values = np.asarray(values, dtype=float)
        index = self._bin(values)
        for b in self._wanted:
            self._kept[b].append(values[index == b])

    def _value(self, rank: int) -> float:
        b, within = self._locate(rank)
        if self._min[b] == self._max[b]:
            return float(self._min[b])
        return float(np.sort(np.concatenate(self._kept[b]))[within])

    def percentiles(self, q: tuple[float, ...]) -> list[float]:
        """The percentiles ``q`` (in %), linear interpolation; NaN if there are no values."""
        if self.n == 0:
            return [float("nan")] * len(q)
        out = []
        for low, high, frac in self._ranks(q):
            a, b = self._value(low), self._value(high)
            out.append(a + (b - a) * frac)
        return out
