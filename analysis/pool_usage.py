"""What each pool's replicas did in a trace: accelerator and host busy time, token slots.

The per-pool sums behind the summary's ``utilisation``, ``host_utilisation`` and
``padding_waste`` (definitions in ``analysis.metrics``), and the fleet's cost.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


def busy_time_s(
    start_s: np.ndarray,
    service_s: np.ndarray,
    batch_size: np.ndarray,
    window_start_s: float,
    window_end_s: float,
) -> np.ndarray:
    """Each request's share of its batch's replica busy time inside a window (s).

    Summed over a batch's requests this gives the batch's busy time once. Requests that never
    started (NaN start) contribute 0.
    """
    start = np.asarray(start_s, dtype=float)
    end = start + np.asarray(service_s, dtype=float)
    overlap = np.minimum(end, window_end_s) - np.maximum(start, window_start_s)
    share = np.where(np.isfinite(overlap) & (overlap > 0), overlap, 0.0)
    size = np.maximum(np.asarray(batch_size, dtype=float), 1.0)
    return share / size


def accelerator_busy(
    start_s: np.ndarray,
    service_s: np.ndarray,
    host_s: np.ndarray | None = None,
    staged_share: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """When each row's batch held its replica's accelerator: (start (s), length (s)).

    The host stage comes first, then the accelerator; a staged tail (``staged_shares``) is
    not busy time. Divide by the batch size (``busy_time_s``) and the pool's pipeline depth
    for a request's share. ``utilisation`` in the summary and per window in
    ``analysis.timeseries`` both clip these intervals.
    """
    start_s = np.asarray(start_s, dtype=float)
    service_s = np.asarray(service_s, dtype=float)
    if host_s is None:
        return start_s, service_s
    host = np.where(np.isnan(host_s), 0.0, host_s)
    accelerator = service_s - host
    if staged_share is not None:
        accelerator = accelerator * (1.0 - staged_share)
    return start_s + host, accelerator


def staged_shares(
    pools: list[dict[str, Any]],
    pool_names: Any,
    pool_code: np.ndarray,
    padded_batch: np.ndarray | None,
    padded_seq_len: np.ndarray | None,
) -> np.ndarray | None:
    """Per row, the share of its batch's accelerator time spent after the batch freed its replica.

    A replica that stages its next batch's input while one runs (the pool fact
    ``staged_share``, tabulated by compiled shape: ``sim.engine.pool``) takes its next batch
    before this one leaves; that tail is not busy time. None when no pool stages.
    """
    tables = {p["pool"]: p["staged_share"] for p in pools if p.get("staged_share")}
    if not tables or padded_batch is None or padded_seq_len is None:
        return None
    share = np.zeros(len(pool_code))
    for code, name in enumerate(pool_names):
        table = tables.get(str(name))
        mine = (pool_code == code) & (padded_batch > 0)
        if table is None or not mine.any():
            continue
        rows = np.searchsorted(table["padded_batch"], padded_batch[mine])
        columns = np.searchsorted(table["padded_seq_len"], padded_seq_len[mine])
        values = np.asarray(table["share"], dtype=float)
        share[mine] = values[
            np.minimum(rows, values.shape[0] - 1), np.minimum(columns, values.shape[1] - 1)
        ]
    return share


def cost_usd(pools: list[dict[str, Any]], window_s: float) -> float:
    """On-demand cost (USD) of every pool's instances over ``window_s`` seconds."""
    return sum(p["count"] * p["usd_per_hour"] for p in pools) * window_s / 3600.0


class PoolUsage(NamedTuple):
    """Per pool code (the last code: rows with no pool), sums over a chunk of rows."""

    present: np.ndarray  # rows
    busy_s: np.ndarray  # accelerator busy time in the window (s), before dividing by depth
    host_busy_s: np.ndarray  # host-stage time in the window (s)
    tokens: np.ndarray  # real tokens of completed measured requests
    token_slots: np.ndarray  # the padded (batch x sequence) slots computed for them


def pool_usage(
    info: dict[str, Any],
    start_s: np.ndarray,
    service_s: np.ndarray,
    batch_size: np.ndarray,
    pool_code: np.ndarray,
    pools: int,
    measured_ok: np.ndarray,
    host_s: np.ndarray | None = None,
    seq_len: np.ndarray | None = None,
    padded_batch: np.ndarray | None = None,
    padded_seq_len: np.ndarray | None = None,
    staged_share: np.ndarray | None = None,
) -> PoolUsage:
    """Sum a chunk's rows per pool.

    Args:
        info: Run facts (``warmup_s``, ``duration_s``).
        start_s: The rows' batch start (s; NaN if never started).
        service_s: The batch's service time (s), host stage included.
        batch_size: The batch's size (0 for a drop).
        pool_code: Pool code per row (``pools`` marks a row with no pool).
        pools: Number of pools.
        measured_ok: Completed after the warm-up (bool).
        host_s: The batch's host stage (s; NaN if none), or None for traces without it.
        seq_len: Sequence lengths (tokens), for the token slots; None: no padding data.
        padded_batch: The batch's compiled batch size.
        padded_seq_len: The batch's compiled sequence length.
        staged_share: Per row, the share of the batch's accelerator time after it freed its
            replica (:func:`staged_shares`), or None: none.

    """
    window = (info["warmup_s"], info["duration_s"])
    accelerator_start, accelerator = accelerator_busy(start_s, service_s, host_s, staged_share)
    busy = busy_time_s(accelerator_start, accelerator, batch_size, *window)
    if host_s is None:
        host_busy = np.zeros_like(busy)
    else:
        host = np.where(np.isnan(host_s), 0.0, host_s)
        host_busy = busy_time_s(start_s, host, batch_size, *window)
    n = pools + 1
    present = np.bincount(pool_code, minlength=n)
    busy_s = np.bincount(pool_code, weights=busy, minlength=n)
    host_busy_s = np.bincount(pool_code, weights=host_busy, minlength=n)
    tokens = slots = np.zeros(n)
    if seq_len is not None and padded_batch is not None and padded_seq_len is not None:
        size = np.maximum(batch_size, 1).astype(float)
        per_row = padded_batch.astype(float) * padded_seq_len.astype(float) / size
        codes = pool_code[measured_ok]
        tokens = np.bincount(codes, weights=seq_len[measured_ok].astype(float), minlength=n)
        slots = np.bincount(codes, weights=per_row[measured_ok], minlength=n)
    return PoolUsage(present, busy_s, host_busy_s, tokens, slots)
