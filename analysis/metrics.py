"""Fleet metrics from a trace: latency percentiles, SLO attainment, utilisation and cost.

Every metric is computed from the per-request facts in the trace plus the run facts in its
metadata, so a user can recompute the summary of any run. ``summarize`` works on a loaded
DataFrame; ``summarize_trace`` streams a file row group by row group with the same
accumulator, so summarising a 10-million-request trace does not need it all in memory.

Definitions (all over the measured window [warmup, duration), by arrival time):

* ``requests`` - requests that arrived (first attempt) in the window; ``completed`` (status
  ``ok``), ``dropped``, ``in_flight``, ``timed_out`` and ``failed`` split them by status
  (``analysis.schema.STATUSES``), so they add up to ``requests``.
* ``retried`` - requests that made more than one attempt; ``attempts_per_request`` - mean
  attempts (the load the clients offer over the load they ask for; 1 without retries, and
  for traces without the ``attempts`` column).
* ``throughput_per_s`` - completed / window length.
* ``latency_p*_s`` - percentiles (linear interpolation) of completed requests' latency.
* ``slo_attainment`` - completed within target / requests whose outcome is known: a
  dropped, timed-out or failed request is a miss, and so is one still in flight at the end
  that had already waited longer than the target; in-flight requests younger than the target
  are left out (``analysis.outcomes``).
* ``utilisation`` per pool - accelerator busy time inside the window / (replicas x window);
  a batch's accelerator time (``service_s - host_s``, after its host stage) is shared
  equally among its requests, so no batch is counted twice. A pipelined replica
  (``pipeline_depth`` stages) holds several batches at once; each occupies it for its time
  in the pipeline divided by the depth. A replica that stages its next batch's input while
  one runs (pool fact ``staged_share``: NeuronCore-v1) is busy for a batch's interval, not
  for the staged tail after it took the next batch.
* ``host_utilisation`` per pool - host-stage time inside the window / (replicas x window):
  the share of the instances' vCPUs busy preparing batches (``sim.policies.host``).
* ``padding_waste`` per pool - the share of the (batch x sequence) token slots computed
  for completed measured requests that held padding: ``1 - sum(seq_len) /
  sum(padded_batch x padded_seq_len / batch_size)``; 0 without compiled shapes, NaN for a
  pool that completed nothing.
* ``cost_usd`` - instance-hours over the window x on-demand price;
  ``cost_per_million_usd`` - cost_usd per million completed requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.outcomes import masks_of, slo_counts, status_masks
from analysis.pool_usage import busy_time_s as busy_time_s  # re-exported
from analysis.pool_usage import cost_usd, pool_usage, staged_shares
from analysis.quantiles import StreamingPercentiles
from analysis.schema import ATTEMPTS, STATUSES
from analysis.stage_latency import served_rows

if TYPE_CHECKING:  # pandas is imported where it is used: runs never need it
    import pandas as pd

PERCENTILES = (50.0, 90.0, 99.0, 99.9)
SUMMARY_KEYS = (
    "requests",
    "completed",
    "dropped",
    "in_flight",
    "timed_out",
    "failed",
    "retried",
    "attempts_per_request",
    "throughput_per_s",
    "latency_mean_s",
    "latency_p50_s",
    "latency_p90_s",
    "latency_p99_s",
    "latency_p999_s",
    "slo_percentile",
    "slo_target_s",
    "slo_attainment",
    "slo_met",
    "utilisation",
    "host_utilisation",
    "padding_waste",
    "cost_usd",
    "cost_per_million_usd",
)
NEEDED_COLUMNS = ["arrival_s", "start_s", "latency_s", "service_s", "batch_size", "pool",
                  "status", "warmup"]  # fmt: skip
"""The trace columns the summary metrics read."""
STAGE_COLUMNS = ["host_s", "seq_len", "padded_batch", "padded_seq_len", ATTEMPTS]
"""Columns of the host stage, padding and retries, read when present (traces before them
lack them: their host utilisation is 0, their padding waste NaN and every request made one
attempt)."""
STAGE_USAGE_COLUMNS = ["pool", "status", "warmup", "start_s", "service_s", "batch_size",
                       "host_s", "seq_len", "padded_batch", "padded_seq_len"]  # fmt: skip
"""The ``stages.parquet`` columns a pipeline run's pool usage is counted from."""


def latency_percentiles_s(latency_s: np.ndarray, q: tuple[float, ...] = PERCENTILES) -> list[float]:
    """Percentiles ``q`` (in %) of latencies (s), linear interpolation; NaN if empty."""
    latency_s = np.asarray(latency_s, dtype=float)
    if latency_s.size == 0:
        return [float("nan")] * len(q)
    return [float(v) for v in np.percentile(latency_s, q)]


def slo_attainment(
    status: np.ndarray,
    latency_s: np.ndarray,
    arrival_s: np.ndarray,
    target_s: float,
    end_s: float,
) -> tuple[int, int]:
    """Count SLO hits and known outcomes for requests (see ``analysis.outcomes``).

    Args:
        status: A name of ``analysis.schema.STATUSES`` per request.
        latency_s: Latency (s), NaN unless ok.
        arrival_s: Arrival time (s).
        target_s: Latency target (s).
        end_s: Time the run ended (s).

    Returns:
        (met, known): attainment is met / known.

    """
    masks = masks_of(status)
    return slo_counts(masks, np.asarray(latency_s), np.asarray(arrival_s), target_s, end_s)


@dataclass
class MetricsAccumulator:
    """The summary metrics of a trace, from its rows chunk by chunk, in bounded memory.

    ``add`` every chunk (a DataFrame with the trace's columns); then, if
    ``needs_second_pass()``, ``keep`` the completed latencies of every chunk again
    (``completed_latencies``); then ``result()``. The engine feeds one as it runs when no
    full trace is written (``fleetsim run --trace summary``).
    """

    info: dict[str, Any]
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("requests", *STATUSES, "retried", "attempts", "slo_met", "slo_known"), 0))  # fmt: skip
    latencies: StreamingPercentiles = field(default_factory=StreamingPercentiles)
    busy_s: dict[str, float] = field(default_factory=dict)
    host_busy_s: dict[str, float] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)  # real, completed measured
    token_slots: dict[str, float] = field(default_factory=dict)  # padded, the same requests

    def add(self, chunk: pd.DataFrame, usage: bool = True) -> None:
        """First pass: count a chunk of rows (``NEEDED_COLUMNS`` at least).

        ``usage``: as in ``add_columns``.
        """
        status_code, status_names = _labels(chunk["status"])
        pool_code, pool_names = _labels(chunk["pool"])
        self.add_columns(
            status_code=status_code,
            status_names=status_names,
            warmup=chunk["warmup"].to_numpy(dtype=bool),
            arrival_s=chunk["arrival_s"].to_numpy(dtype=float),
            latency_s=chunk["latency_s"].to_numpy(dtype=float),
            start_s=chunk["start_s"].to_numpy(dtype=float),
            service_s=chunk["service_s"].to_numpy(dtype=float),
            batch_size=chunk["batch_size"].to_numpy(),
            pool_code=pool_code,
            pool_names=pool_names[:-1],  # the trailing name stands for missing: not a pool
            **{c: chunk[c].to_numpy() for c in STAGE_COLUMNS if c in chunk},
            usage=usage,
        )

    def add_stage_rows(self, chunk: pd.DataFrame) -> None:
        """Count a chunk of ``stages.parquet`` rows toward the pools' usage (``add_usage``)."""
        pool_code, pool_names = _labels(chunk["pool"])
        status = chunk["status"].to_numpy(dtype=object)
        done = served_rows(status, "passed", "ok", chunk["warmup"].to_numpy(dtype=bool))
        self.add_usage(
            chunk["start_s"].to_numpy(dtype=float), chunk["service_s"].to_numpy(dtype=float),
            chunk["batch_size"].to_numpy(), pool_code, pool_names[:-1], done,
            chunk["host_s"].to_numpy(dtype=float), chunk["seq_len"].to_numpy(),
            chunk["padded_batch"].to_numpy(), chunk["padded_seq_len"].to_numpy(),
        )  # fmt: skip

    def add_columns(
        self,
        *,
        status_code: np.ndarray,
        status_names: np.ndarray,
        warmup: np.ndarray,
        arrival_s: np.ndarray,
        latency_s: np.ndarray,
        start_s: np.ndarray,
        service_s: np.ndarray,
        batch_size: np.ndarray,
        pool_code: np.ndarray,
        pool_names: np.ndarray,
        host_s: np.ndarray | None = None,
        seq_len: np.ndarray | None = None,
        padded_batch: np.ndarray | None = None,
        padded_seq_len: np.ndarray | None = None,
        attempts: np.ndarray | None = None,
        usage: bool = True,
    ) -> None:
        """First pass, from columns as arrays: what ``add`` does without a DataFrame.

        The engine's trace writer calls this with the arrays it writes, so a run's summary
        is the one ``summarize_trace`` computes from its file, without reading it back.

        Args:
            status_code: Each row's status, as an index into ``status_names``.
            status_names: The status names (of ``analysis.schema.STATUSES``).
            warmup: Arrived before the warm-up ended (bool).
            arrival_s: Arrival time (s).
            latency_s: Latency (s; NaN unless completed).
            start_s: Service start (s; NaN if never started).
            service_s: Service time of the row's batch (s; NaN if none).
            batch_size: Requests in the row's batch (0 for a drop).
            pool_code: Each row's pool, as an index into ``pool_names``; the code
                ``len(pool_names)`` marks a row with no pool.
            pool_names: The pool names.
            host_s: Host-stage time of the row's batch (s; NaN if none); None: no host stage.
            seq_len: Sequence length (tokens); with the two below, for the padding waste.
            padded_batch: The batch's compiled batch size (0 for a drop).
            padded_seq_len: The batch's compiled sequence length (0 for a drop).
            attempts: Attempts each request made (``analysis.schema.ATTEMPTS``); None: one.
            usage: Count the rows' batches toward the pools' busy time and padding; False
                when ``add_usage`` is given every stage's rows instead (pipelines: a
                request's row is its last stage only, ``analysis.schema.STAGES_FILE``).

        Raises:
            ValueError: a status not in ``analysis.schema.STATUSES``.

        """
        info = self.info
        measured = ~warmup
        masks = {k: m & measured for k, m in status_masks(status_code, status_names).items()}
        is_ok = masks["ok"]
        c = self.counts
        c["requests"] += int(measured.sum())
        for name, mask in masks.items():
            c[name] += int(mask.sum())
        if attempts is None:  # a trace without retries: one attempt each
            c["attempts"] += int(measured.sum())
        else:
            tries = np.asarray(attempts, dtype=np.int64)[measured]
            c["retried"] += int((tries > 1).sum())
            c["attempts"] += int(tries.sum())
        self.latencies.add(latency_s[is_ok])
        met, known = slo_counts(
            masks, latency_s, arrival_s, info["slo_target_s"], info["duration_s"]
        )
        c["slo_met"] += met
        c["slo_known"] += known
        if usage:
            self.add_usage(start_s, service_s, batch_size, pool_code, pool_names, is_ok,
                           host_s, seq_len, padded_batch, padded_seq_len)  # fmt: skip

    def add_usage(
        self,
        start_s: np.ndarray,
        service_s: np.ndarray,
        batch_size: np.ndarray,
        pool_code: np.ndarray,
        pool_names: np.ndarray,
        measured_ok: np.ndarray,
        host_s: np.ndarray | None = None,
        seq_len: np.ndarray | None = None,
        padded_batch: np.ndarray | None = None,
        padded_seq_len: np.ndarray | None = None,
    ) -> None:
        """Count rows' batches toward their pools' busy time, host time and padding.

        The arguments are ``add_columns``'s; ``measured_ok``: served (or passed on, for a
        stage row) after the warm-up.
        """
        info = self.info
        staged = staged_shares(info["pools"], pool_names, pool_code, padded_batch, padded_seq_len)
        usage = pool_usage(
            info, start_s, service_s, batch_size, pool_code, len(pool_names), measured_ok,
            host_s, seq_len, padded_batch, padded_seq_len, staged,
        )  # fmt: skip
        depth = {p["pool"]: p.get("pipeline_depth", 1) for p in info["pools"]}
        for code, name in enumerate(pool_names):
            if usage.present[code]:
                name = str(name)
                busy = float(usage.busy_s[code]) / depth.get(name, 1)
                self.busy_s[name] = self.busy_s.get(name, 0.0) + busy
                for totals, values in (
                    (self.host_busy_s, usage.host_busy_s),
                    (self.tokens, usage.tokens),
                    (self.token_slots, usage.token_slots),
                ):  # fmt: skip
                    totals[name] = totals.get(name, 0.0) + float(values[code])

    def needs_second_pass(self) -> bool:
        """Whether the exact percentiles need the completed latencies a second time."""
        return self.latencies.plan_second_pass(PERCENTILES)

    def keep(self, completed_latencies_s: np.ndarray) -> None:
        """Second pass: the latencies (s) of completed, measured requests, chunk by chunk."""
        self.latencies.keep(completed_latencies_s)

    def result(self) -> dict[str, Any]:
        """The summary metrics (keys ``SUMMARY_KEYS``; times in s, money in USD)."""
        info = self.info
        window = info["duration_s"] - info["warmup_s"]
        c = self.counts
        p50, p90, p99, p999 = self.latencies.percentiles(PERCENTILES)
        cost = cost_usd(info["pools"], window)
        utilisation = {
            p["pool"]: self.busy_s.get(p["pool"], 0.0)
            / (p["count"] * p["replicas_per_instance"] * window)
            for p in info["pools"]
        }
        host_utilisation = {
            p["pool"]: self.host_busy_s.get(p["pool"], 0.0)
            / (p["count"] * p["replicas_per_instance"] * window)
            for p in info["pools"]
        }
        padding_waste = {
            p["pool"]: 1.0 - self.tokens[p["pool"]] / self.token_slots[p["pool"]]
            if self.token_slots.get(p["pool"], 0.0) > 0
            else float("nan")
            for p in info["pools"]
        }
        attainment = c["slo_met"] / c["slo_known"] if c["slo_known"] else float("nan")
        return {
            "requests": c["requests"],
            "completed": c["ok"],
            "dropped": c["dropped"],
            "in_flight": c["in_flight"],
            "timed_out": c["timed_out"],
            "failed": c["failed"],
            "retried": c["retried"],
            "attempts_per_request": (
                c["attempts"] / c["requests"] if c["requests"] else float("nan")
            ),
            "throughput_per_s": c["ok"] / window,
            "latency_mean_s": self.latencies.mean,
            "latency_p50_s": p50,
            "latency_p90_s": p90,
            "latency_p99_s": p99,
            "latency_p999_s": p999,
            "slo_percentile": info["slo_percentile"],
            "slo_target_s": info["slo_target_s"],
            "slo_attainment": attainment,
            "slo_met": bool(attainment >= info["slo_percentile"] / 100.0)
            if c["slo_known"]
            else None,
            "utilisation": utilisation,
            "host_utilisation": host_utilisation,
            "padding_waste": padding_waste,
            "cost_usd": cost,
            "cost_per_million_usd": cost / c["ok"] * 1e6 if c["ok"] else float("nan"),
        }


def _labels(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A label column as (codes, names): ``names[codes]`` gives each row's label as a str.

    Trace columns load as categoricals, so this avoids a Python string per row; a missing
    label gets the code of a trailing empty name.
    """
    import pandas as pd

    categorical = (
        column if isinstance(column.dtype, pd.CategoricalDtype) else (column.astype("category"))
    )
    names = np.array([*map(str, categorical.cat.categories), ""])
    codes = categorical.cat.codes.to_numpy().astype(np.intp)
    codes[codes < 0] = len(names) - 1
    return codes, names
