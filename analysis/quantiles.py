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
_GROUP_BINS = 1 << 12  # per group: 1% wide, so a group holds a few hundred bins at most


def _bin_of(values: np.ndarray, bins: int) -> np.ndarray:
    """The logarithmic bin (0 .. bins - 1) of each value."""
    logs = np.log(np.maximum(values, 1e-300))
    scale = bins / (_LOG_HI - _LOG_LO)
    return np.clip(((logs - _LOG_LO) * scale).astype(np.int64), 0, bins - 1)


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
        return _bin_of(values, _BINS)

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


class GroupedPercentiles:
    """Exact percentiles of many groups of values at once (e.g. one per time window).

    The two passes of ``StreamingPercentiles``, with coarser bins (1% wide) kept sparse:
    memory grows with the (group, bin) pairs that occur (at most a few hundred per group
    for latencies spanning a decade or two), not with the values, plus in pass 2 the
    values of the few bins that hold a wanted order statistic. Values must be finite and
    >= 0; ``group`` is each value's group (0 .. groups - 1).
    """

    def __init__(self, groups: int) -> None:
        self.groups = groups
        self.n = np.zeros(groups, dtype=np.int64)
        self._keys = np.empty(0, dtype=np.int64)  # group * _BINS + bin, sorted, unique
        self._counts = np.empty(0, dtype=np.int64)
        self._min = np.empty(0)
        self._max = np.empty(0)
        self._wanted = np.empty(0, dtype=np.int64)
        self._kept: list[tuple[np.ndarray, np.ndarray]] = []

    def _composite(self, group: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.asarray(group, dtype=np.int64) * _GROUP_BINS + _bin_of(values, _GROUP_BINS)

    def add(self, group: np.ndarray, values: np.ndarray) -> None:
        """Pass 1: count values into their group's bins."""
        values = np.asarray(values, dtype=float)
        if values.size == 0:
            return
        group = np.asarray(group, dtype=np.int64)
        keys, inverse = np.unique(self._composite(group, values), return_inverse=True)
        counts = np.bincount(inverse, minlength=keys.size)
        low = np.full(keys.size, np.inf)
        high = np.full(keys.size, -np.inf)
        np.minimum.at(low, inverse, values)
        np.maximum.at(high, inverse, values)
        merged = np.union1d(self._keys, keys)
        old, new = np.searchsorted(merged, self._keys), np.searchsorted(merged, keys)
        total = np.zeros(merged.size, dtype=np.int64)
        lows, highs = np.full(merged.size, np.inf), np.full(merged.size, -np.inf)
        total[old], lows[old], highs[old] = self._counts, self._min, self._max
        total[new] += counts
        lows[new] = np.minimum(lows[new], low)
        highs[new] = np.maximum(highs[new], high)
        self._keys, self._counts, self._min, self._max = merged, total, lows, highs
        self.n += np.bincount(group, minlength=self.groups)

    def _ranks(self, g: int, q: tuple[float, ...]) -> list[tuple[int, int, float]]:
        out = []
        for percent in q:
            position = percent / 100.0 * (self.n[g] - 1)
            low = int(math.floor(position))
            out.append((low, min(low + 1, int(self.n[g]) - 1), position - low))
        return out

    def _locate(self, g: int, ranks: list[int]) -> list[tuple[int, int]]:
        """(index into the sparse bins, rank within the bin) of order statistics of group g."""
        start, end = np.searchsorted(self._keys, [g * _GROUP_BINS, (g + 1) * _GROUP_BINS])
        cumulative = np.cumsum(self._counts[start:end])
        out = []
        for rank in ranks:
            i = int(np.searchsorted(cumulative, rank, side="right"))
            out.append((int(start) + i, rank - (int(cumulative[i - 1]) if i else 0)))
        return out

    def plan_second_pass(self, q: tuple[float, ...]) -> bool:
        """Decide which bins pass 2 must keep; False if every answer is already known."""
        wanted = []
        for g in np.flatnonzero(self.n):
            ranks = [r for low, high, _ in self._ranks(int(g), q) for r in (low, high)]
            for index, _ in self._locate(int(g), ranks):
                if self._min[index] != self._max[index]:
                    wanted.append(self._keys[index])
        self._wanted = np.unique(np.asarray(wanted, dtype=np.int64))
        self._kept = []
        return bool(self._wanted.size)

    def keep(self, group: np.ndarray, values: np.ndarray) -> None:
        """Pass 2: keep the values that fall in the wanted bins (the same rows as pass 1)."""
        if not self._wanted.size:
            return
        values = np.asarray(values, dtype=float)
        keys = self._composite(group, values)
        mine = np.isin(keys, self._wanted)
        if mine.any():
            self._kept.append((keys[mine], values[mine]))

    def percentiles(self, q: tuple[float, ...]) -> np.ndarray:
        """The percentiles ``q`` (in %) of each group: shape (groups, len(q)); NaN if empty."""
        out = np.full((self.groups, len(q)), np.nan)
        kept: dict[int, np.ndarray] = {}
        if self._kept:
            keys = np.concatenate([k for k, _ in self._kept])
            values = np.concatenate([v for _, v in self._kept])
            order = np.lexsort((values, keys))
            keys, values = keys[order], values[order]
            bounds = np.flatnonzero(np.diff(keys)) + 1
            for part_keys, part in zip(np.split(keys, bounds), np.split(values, bounds),
                                       strict=True):  # fmt: skip
                kept[int(part_keys[0])] = part
        for g in np.flatnonzero(self.n):
            ranks = self._ranks(int(g), q)
            located = self._locate(int(g), [r for low, high, _ in ranks for r in (low, high)])
            for j, (_, _, frac) in enumerate(ranks):
                pair = located[2 * j : 2 * j + 2]
                a, b = (self._value(index, within, kept) for index, within in pair)
                out[g, j] = a + (b - a) * frac
        return out

    def _value(self, index: int, within: int, kept: dict[int, np.ndarray]) -> float:
        if self._min[index] == self._max[index]:
            return float(self._min[index])
        return float(kept[int(self._keys[index])][within])
