"""A run minute by minute: arrivals, throughput, latency percentiles, drops, utilisation.

``time_series`` cuts the whole run ``[0, duration)`` into windows of ``window_s`` seconds
(the last one shorter if the duration is not a multiple) and counts, per window:

* ``arrivals`` by (first) arrival time;
* ``dropped``, ``timed_out`` and ``failed``: requests ending so, at the time they left the
  fleet: their ``finish_s`` where the trace gives one (a timed-out request served after its
  deadline), else their arrival (a drop without retries happens on arrival);
* ``completed``, ``goodput_per_s`` (completed within the SLO target) and the latency
  percentiles ``latency_p50_s``/``latency_p99_s`` of the requests *finishing* in the
  window; ``throughput_per_s`` = completed / window length;
* ``in_flight_at_end``: requests that arrived before the window's end and had not
  completed, been dropped, timed out or failed by then;
* ``utilisation.<pool>``: accelerator busy time inside the window / (replicas x window
  length), the summary's definition (``analysis.pool_usage.accelerator_busy``, shared per
  request by batch size, divided by the pipeline depth) with busy intervals clipped to the
  window instead of to the measured window. So the windows' utilisations, weighted by
  their lengths over the measured window, add up to the summary's ``utilisation`` when
  the warm-up ends on a window boundary.

Windows that start before the warm-up ends have ``warmup`` True. Given a path, the trace
is read one row group at a time (twice at most, for exact percentiles): memory grows with
the number of windows, not with the trace.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq

from analysis.metrics import STAGE_COLUMNS, STAGE_USAGE_COLUMNS, _labels
from analysis.outcomes import MISSES, masks_of
from analysis.pool_usage import accelerator_busy, staged_shares
from analysis.quantiles import GroupedPercentiles
from analysis.schema import STAGES_FILE
from analysis.sources import open_source

if TYPE_CHECKING:  # pandas is imported where it is used: runs never need it
    import pandas as pd

COLUMNS = ["arrival_s", "finish_s", "latency_s", "start_s", "service_s", "batch_size",
           "pool", "status"]  # fmt: skip
PERCENTILES = (50.0, 99.0)
ENDED = MISSES
"""The unsuccessful final statuses, counted per window (``analysis.outcomes.MISSES``)."""


def window_index(times_s: np.ndarray, window_s: float, windows: int) -> np.ndarray:
    """The window (0 .. windows - 1) of each time (s); times at the run's end go to the last."""
    return np.clip(np.floor(times_s / window_s).astype(np.int64), 0, windows - 1)


def spread_s(
    begin_s: np.ndarray, length_s: np.ndarray, weight: np.ndarray, window_s: float,
    end_s: float,
) -> np.ndarray:  # fmt: skip
    """Weighted busy time (s) of intervals ``[begin, begin + length)`` in each window.

    Intervals are clipped to ``[0, end_s)``; one spanning several windows puts its part in
    each. NaN or empty intervals add nothing.
    """
    windows = math.ceil(end_s / window_s - 1e-12)
    begin = np.maximum(np.asarray(begin_s, dtype=float), 0.0)
    end = np.minimum(np.asarray(begin_s, dtype=float) + length_s, end_s)
    valid = np.isfinite(begin) & np.isfinite(end) & (end > begin)
    begin, end, weight = begin[valid], end[valid], np.asarray(weight, dtype=float)[valid]
    first = window_index(begin, window_s, windows)
    last = window_index(end, window_s, windows)
    one = first == last
    out = np.bincount(first[one], weights=(end - begin)[one] * weight[one], minlength=windows)
    f, la, b, e, w = first[~one], last[~one], begin[~one], end[~one], weight[~one]
    out += np.bincount(f, weights=((f + 1) * window_s - b) * w, minlength=windows)
    out += np.bincount(la, weights=(e - la * window_s) * w, minlength=windows)
    full = np.bincount(f + 1, weights=window_s * w, minlength=windows + 1)
    full -= np.bincount(la, weights=window_s * w, minlength=windows + 1)
    out += np.cumsum(full)[:windows]
    return out


def time_series(source: Any, window_s: float = 60.0) -> pd.DataFrame:
    """One row per window of the run (see the module docstring for the columns).

    Args:
        source: A trace path, a run directory, or a DataFrame from ``analysis.load_trace``.
        window_s: Window length (s), > 0.

    Returns:
        Columns ``window_start_s``, ``window_end_s``, ``warmup``, ``arrivals``,
        ``arrival_rate_per_s``, ``completed``, ``throughput_per_s``, ``goodput_per_s``,
        ``dropped``, ``timed_out``, ``failed``, ``in_flight_at_end``, ``latency_p50_s``,
        ``latency_p99_s`` (NaN for a window where nothing finished) and
        ``utilisation.<pool>`` for every pool.

    Raises:
        ValueError: ``window_s`` not a positive number; a sampled trace; a DataFrame
            without run facts.
        FileNotFoundError: no trace at ``source``.

    """
    import pandas as pd

    if (
        isinstance(window_s, bool)
        or not isinstance(window_s, int | float)
        or not (math.isfinite(window_s) and window_s > 0)
    ):
        raise ValueError(f"window_s must be a positive number of seconds, got {window_s!r}")
    src = open_source(source)
    src.require_full("time_series")
    info = src.info
    duration = info["duration_s"]
    windows = math.ceil(duration / window_s - 1e-12)
    present = set(src.columns())
    columns = COLUMNS + [c for c in STAGE_COLUMNS if c in present]
    pools = info["pools"]
    counts = {k: np.zeros(windows, dtype=np.int64)
              for k in ("arrivals", *ENDED, "completed", "met")}  # fmt: skip
    busy = {p["pool"]: np.zeros(windows) for p in pools}
    latencies = GroupedPercentiles(windows)
    stages = None if src.path is None else Path(src.path).with_name(STAGES_FILE)
    staged = stages is not None and stages.exists()
    if info.get("pipelines") and not staged:
        raise ValueError(
            f"this run has pipelines ({', '.join(info['pipelines'])}): each pool's usage needs "
            "every stage's rows, in stages.parquet beside the trace; pass the trace's path or "
            "run directory"
        )
    for chunk in src.chunks(columns):
        ok, finish_window = _count(chunk, info, window_s, windows, counts)
        latencies.add(finish_window, chunk["latency_s"].to_numpy(dtype=float)[ok])
        if not staged:
            _add_busy(chunk, pools, window_s, duration, busy)
    if staged:  # pipelines: a pool's busy time is its own stage's batches, passed ones too
        stage_file = pq.ParquetFile(stages)
        for i in range(stage_file.num_row_groups):
            chunk = stage_file.read_row_group(i, columns=STAGE_USAGE_COLUMNS).to_pandas()
            _add_busy(chunk, pools, window_s, duration, busy)
    if latencies.plan_second_pass(PERCENTILES):
        for chunk in src.chunks(["finish_s", "latency_s", "status"]):
            ok = (chunk["status"] == "ok").to_numpy()
            finish = chunk["finish_s"].to_numpy(dtype=float)[ok]
            latencies.keep(window_index(finish, window_s, windows),
                           chunk["latency_s"].to_numpy(dtype=float)[ok])  # fmt: skip
    start = np.arange(windows) * window_s
    end = np.minimum(start + window_s, duration)
    length = end - start
    p50, p99 = latencies.percentiles(PERCENTILES).T
    frame = {
        "window_start_s": start,
        "window_end_s": end,
        "warmup": start < info["warmup_s"],
        "arrivals": counts["arrivals"],
        "arrival_rate_per_s": counts["arrivals"] / length,
        "completed": counts["completed"],
        "throughput_per_s": counts["completed"] / length,
        "goodput_per_s": counts["met"] / length,
        **{name: counts[name] for name in ENDED},
        "in_flight_at_end": np.cumsum(
            counts["arrivals"] - counts["completed"] - sum(counts[name] for name in ENDED)
        ),
        "latency_p50_s": p50,
        "latency_p99_s": p99,
    }
    for p in pools:
        replicas = p["count"] * p["replicas_per_instance"]
        frame[f"utilisation.{p['pool']}"] = busy[p["pool"]] / (replicas * length)
    return pd.DataFrame(frame)


def _count(
    chunk: pd.DataFrame, info: dict[str, Any], window_s: float, windows: int,
    counts: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Add a chunk's arrivals, unsuccessful ends, completions and SLO hits per window.

    Returns:
        (completed rows mask, their finish windows).

    """
    masks = masks_of(chunk["status"])
    ok = masks["ok"]
    arrival_s = chunk["arrival_s"].to_numpy(dtype=float)
    finish_s = chunk["finish_s"].to_numpy(dtype=float)
    arrival = window_index(arrival_s, window_s, windows)
    left = window_index(np.where(np.isfinite(finish_s), finish_s, arrival_s), window_s, windows)
    finish = left[ok]
    met = chunk["latency_s"].to_numpy(dtype=float)[ok] <= info["slo_target_s"]
    counts["arrivals"] += np.bincount(arrival, minlength=windows)
    for name in ENDED:
        counts[name] += np.bincount(left[masks[name]], minlength=windows)
    counts["completed"] += np.bincount(finish, minlength=windows)
    counts["met"] += np.bincount(finish[met], minlength=windows)
    return ok, finish


def _add_busy(
    chunk: pd.DataFrame, pools: list[dict[str, Any]], window_s: float, duration_s: float,
    busy: dict[str, np.ndarray],
) -> None:  # fmt: skip
    """Add each pool's accelerator busy time per window (``analysis.pool_usage``)."""
    pool_code, pool_names = _labels(chunk["pool"])
    pool_names = pool_names[:-1]  # the trailing name stands for missing: not a pool
    stage = {c: chunk[c].to_numpy() for c in STAGE_COLUMNS if c in chunk}
    staged = staged_shares(pools, pool_names, pool_code, stage.get("padded_batch"),
                           stage.get("padded_seq_len"))  # fmt: skip
    begin, length = accelerator_busy(
        chunk["start_s"].to_numpy(dtype=float), chunk["service_s"].to_numpy(dtype=float),
        None if "host_s" not in stage else stage["host_s"].astype(float), staged,
    )  # fmt: skip
    share = 1.0 / np.maximum(chunk["batch_size"].to_numpy(dtype=float), 1.0)
    depth = {p["pool"]: p.get("pipeline_depth", 1) for p in pools}
    for code, name in enumerate(pool_names):
        name = str(name)
        if name not in busy:
            continue
        mine = pool_code == code
        busy[name] += spread_s(begin[mine], length[mine], share[mine] / depth[name],
                               window_s, duration_s)  # fmt: skip
