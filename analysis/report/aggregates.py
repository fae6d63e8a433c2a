"""What the report plots from a trace, accumulated one row group at a time (bounded memory).

A trace larger than memory is never loaded whole: each row group adds to fixed-size
histograms, so memory depends on the number of bins, not on the number of requests.

* Latency and queue wait: counts in log-spaced bins (``BINS_PER_DECADE`` per decade from
  ``LOW_S`` to ``HIGH_S``; values outside go to the end bins; queue waits of exactly 0 are
  counted apart). The empirical CDF is exact at every bin edge.
* Batch sizes: requests per batch size; batches of size ``b`` = requests in them / ``b``.

Only measured (after the warm-up) requests count; latencies and batch sizes are of completed
requests, queue waits of requests that started service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

LOW_S = 1e-6
HIGH_S = 1e4
BINS_PER_DECADE = 200
EDGES_S = np.logspace(
    np.log10(LOW_S), np.log10(HIGH_S), int(np.log10(HIGH_S / LOW_S)) * BINS_PER_DECADE + 1
)
"""Bin edges (s) of the latency and queue-wait histograms."""

COLUMNS = ["latency_s", "queue_s", "batch_size", "status", "warmup"]
"""The trace columns the aggregates read."""


def _log_bins(values_s: np.ndarray) -> tuple[np.ndarray, int]:
    """Counts of values (s) per bin ``(EDGES_S[i], EDGES_S[i + 1]]``, and of values <= LOW_S.

    Values above ``HIGH_S`` are counted in the last bin.
    """
    index = np.searchsorted(EDGES_S, values_s, side="left") - 1
    below = index < 0
    index = np.minimum(index[~below], EDGES_S.size - 2)
    return np.bincount(index, minlength=EDGES_S.size - 1), int(below.sum())


@dataclass
class TraceAggregates:
    """Histograms of one trace's measured requests (see the module docstring)."""

    latency_counts: np.ndarray = field(default_factory=lambda: np.zeros(EDGES_S.size - 1, int))
    queue_counts: np.ndarray = field(default_factory=lambda: np.zeros(EDGES_S.size - 1, int))
    latency_below: int = 0
    queue_zero: int = 0
    queue_below: int = 0
    batch_requests: dict[int, int] = field(default_factory=dict)
    rows: int = 0

    def add(
        self,
        latency_s: np.ndarray,
        queue_s: np.ndarray,
        batch_size: np.ndarray,
        ok: np.ndarray,
        measured: np.ndarray,
    ) -> None:
        """Add a chunk of rows.

        Args:
            latency_s: Latency (s; NaN unless completed).
            queue_s: Time from arrival to service start (s; NaN if never started).
            batch_size: Requests in the row's batch (0 for a drop).
            ok: Completed (bool).
            measured: Arrived after the warm-up (bool).

        """
        done = ok & measured
        self.rows += int(measured.sum())
        latency = latency_s[done]
        counts, below = _log_bins(latency[np.isfinite(latency)])
        self.latency_counts += counts
        self.latency_below += below
        waits = queue_s[measured & np.isfinite(queue_s)]
        self.queue_zero += int((waits <= 0).sum())
        counts, below = _log_bins(waits[waits > 0])
        self.queue_counts += counts
        self.queue_below += below
        sizes, counts = np.unique(batch_size[done], return_counts=True)
        for size, count in zip(sizes.tolist(), counts.tolist(), strict=True):
            self.batch_requests[int(size)] = self.batch_requests.get(int(size), 0) + count

    @classmethod
    def from_trace(cls, path: str | Path) -> TraceAggregates:
        """Stream a ``requests.parquet`` row group by row group."""
        parquet = pq.ParquetFile(path)
        present = set(parquet.schema_arrow.names)
        missing = [c for c in COLUMNS if c not in present]
        if missing:
            raise ValueError(f"{path}: not a fleetsim trace (no column {', '.join(missing)})")
        agg = cls()
        for i in range(parquet.num_row_groups):
            table = parquet.read_row_group(i, columns=COLUMNS)
            status = pc.equal(table.column("status").cast(pa.string()), "ok")
            agg.add(
                latency_s=table.column("latency_s").to_numpy(zero_copy_only=False),
                queue_s=table.column("queue_s").to_numpy(zero_copy_only=False),
                batch_size=table.column("batch_size").to_numpy(zero_copy_only=False),
                ok=status.to_numpy(zero_copy_only=False).astype(bool),
                measured=~table.column("warmup").to_numpy(zero_copy_only=False).astype(bool),
            )
        return agg

    def latency_cdf(self) -> tuple[np.ndarray, np.ndarray]:
        """(edges_s, share of completed requests with latency <= edge), trimmed to the data."""
        return _cdf(self.latency_counts, self.latency_below)

    def queue_wait_cdf(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(edges_s, share of started requests waiting <= edge, share that waited 0)."""
        total = self.queue_counts.sum() + self.queue_zero + self.queue_below
        edges, cdf = _cdf(self.queue_counts, self.queue_zero + self.queue_below)
        return edges, cdf, (self.queue_zero / total if total else float("nan"))

    def batch_shares(self) -> tuple[np.ndarray, np.ndarray]:
        """(batch sizes, share of batches of that size) over completed measured requests."""
        sizes = np.array(sorted(s for s in self.batch_requests if s > 0), dtype=int)
        if sizes.size == 0:
            return sizes, np.zeros(0)
        batches = np.array([self.batch_requests[s] / s for s in sizes])
        return sizes, batches / batches.sum()


def _cdf(counts: np.ndarray, below: int) -> tuple[np.ndarray, np.ndarray]:
    """The CDF at the upper edges of the non-empty range of bins (plus one edge before)."""
    total = counts.sum() + below
    nonzero = np.flatnonzero(counts)
    if total == 0 or nonzero.size == 0:
        return np.zeros(0), np.zeros(0)
    first, last = nonzero[0], nonzero[-1]
    edges = EDGES_S[first : last + 2]
    cumulative = below + np.concatenate([[0], np.cumsum(counts[first : last + 1])])
    return edges, cumulative / total
