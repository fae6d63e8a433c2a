"""The trace writer: the engines' records, flushed to parquet in row groups as the run goes.

Memory stays bounded: about ``rows_per_group`` rows (plus what the engine records between
two checks) are held before they are written. The file is written under a temporary name
and renamed on ``close``, so a killed run never leaves a truncated file under the final
name. Compressing and writing a row group happens on a background thread
(``sim.engine.background_writer``: Arrow releases the GIL while it does), overlapping the
simulation; row groups are written one at a time, in order, so the file does not depend on
timing.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.metrics import MetricsAccumulator
from analysis.schema import (
    CATEGORIES,
    COLUMNS,
    IN_FLIGHT,
    OK,
    PASSED,
    SCHEMA,
    STAGES_FILE,
    STATUSES,
    TIMED_OUT,
)
from analysis.stage_latency import served_rows
from sim.engine import arrow_arrays as arrow
from sim.engine.background_writer import BackgroundWriter
from sim.engine.batch_columns import batch_columns
from sim.engine.records import FIELDS as FIELDS  # re-exported
from sim.engine.records import REQUEST_FIELDS, RecordBuffer
from sim.engine.records import Record as Record
from sim.engine.records import Request as Request
from sim.engine.routes import Routes
from sim.engine.stage_writer import StageWriter

NAN = math.nan
# Writing the trace is half a run's work (on a thread beside the simulation), so its codec
# and encodings are chosen by measurement (bench/run_end_to_end.py, 7.7 M rows): zstd at
# level 1 compresses times (near-random doubles) as well as the default level 3 in three
# quarters of the time; delta encoding suits ascending ids and small integers, and byte-
# stream-split the arrival, latency and queue times (columns of distinct doubles). Together
# 18% less writing time and a smaller file than the defaults (24 against 25 bytes a
# request). pandas, pyarrow and DuckDB read these encodings.
ZSTD_LEVEL = 1
ROWS_PER_GROUP = 131_072  # rows of a row group (the largest); what is buffered at most
ENCODINGS = {
    "request_id": "DELTA_BINARY_PACKED",
    "batch_size": "DELTA_BINARY_PACKED",
    "replica_id": "DELTA_BINARY_PACKED",
    "arrival_s": "BYTE_STREAM_SPLIT",
    "latency_s": "BYTE_STREAM_SPLIT",
    "queue_s": "BYTE_STREAM_SPLIT",
}
_CATEGORIES = list(CATEGORIES)


@dataclass(frozen=True, slots=True)
class TraceMode:
    """Which rows go to ``requests.parquet``.

    ``full``: every request. ``sample``: a seeded fraction of the requests, chosen by a hash
    of their id (the same requests in every engine and rerun). ``summary``: none - no file.
    In every mode the summary metrics are computed from every request as the run goes,
    exactly (``analysis.MetricsAccumulator``).
    """

    kind: Literal["full", "sample", "summary"] = "full"
    fraction: float = 1.0
    key: int = 0  # sample: the hash key, from the scenario's ``trace_sample`` stream

    def sampled(self, request_ids: np.ndarray) -> np.ndarray:
        """Which of these requests (int64 ids) the sample keeps."""
        z = request_ids.astype(np.uint64) ^ np.uint64(self.key)
        with np.errstate(over="ignore"):  # splitmix64: wrapping uint64 arithmetic
            z = z + np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
        return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53 < self.fraction


FULL_TRACE = TraceMode()


class TraceWriter(RecordBuffer):
    """Writes one row per request to a parquet file, a row group at a time.

    The engine records one ``Record`` per batch (or drop) into the buffers of
    ``RecordBuffer``; rows are expanded from them in vectorised form when a row group is
    written, so the per-request cost stays small.

    Args:
        path: Final file name; data goes to a temporary sibling until ``close``.
        pools: Pool names, indexed by pool code.
        models: Model names, indexed by model code.
        instances: Per fleet-wide instance number (the ``instance`` of a record): its pool
            code, its position in the pool (``instance_id``) and its model code; or an
            object whose ``instance_columns()`` gives them as they grow during the run
            (``sim.engine.roster.Roster``; its refused rows name no pool).
        warmup_s: Requests arriving before this time (s) are flagged ``warmup``.
        metadata: Key/value strings stored in the file's schema metadata.
        rows_per_group: Rows buffered before they are written; also the largest row group
            (default ``ROWS_PER_GROUP``).
        mode: Which rows the file keeps (``TraceMode``). In every mode the summary metrics
            are computed from every row as it comes (``metrics``), and the completed
            latencies spilled to a raw file beside ``path`` for the exact percentiles'
            second pass (8 bytes each, removed on close).
        info: The run facts for those metrics (``analysis.info_from_metadata``).
        shapes: Per pool code, what the batch-level columns are derived from: an object
            with ``host`` (``sim.policies.host.HostCoefficients``), ``seq_buckets`` and
            ``batch_shapes`` (``sim.engine.pool.Pool`` has them); None: no host stage and no
            padding.
        end_s: End of the run (s): a request unfinished then whose client's deadline had
            passed is written ``timed_out`` rather than ``in_flight``.
        routes: The run's routes (``sim.engine.routes``; default: each model alone). The
            ``model`` column names a request's route (its model, or its pipeline); with
            pipelines, the stages requests pass go to ``stages.parquet`` beside ``path``
            (``sim.engine.stage_writer``), not to this file.

    """

    def __init__(
        self,
        path: str | Path,
        pools: list[str],
        models: list[str],
        instances: tuple[np.ndarray, np.ndarray, np.ndarray] | Any,
        warmup_s: float,
        metadata: dict[str, str],
        rows_per_group: int | None = None,
        mode: TraceMode = FULL_TRACE,
        info: dict | None = None,
        shapes: list | None = None,
        end_s: float = math.inf,
        routes: Routes | None = None,
    ) -> None:
        super().__init__()
        routes = routes or Routes.build(list(models))
        self._staged = routes.staged
        self._hop_route = np.asarray(routes.route, dtype=np.int32)
        self._hop_onward = np.asarray(routes.next, dtype=np.int64) >= 0
        self._stages = (
            StageWriter(
                Path(path).with_name(STAGES_FILE),
                pools,
                list(models),
                routes,
                metadata,
                write_file=mode.kind != "summary",
            )  # fmt: skip
            if routes.staged
            else None
        )
        self.end_s = end_s
        self._shapes = list(shapes) if shapes is not None else None
        self.mode = mode
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._pools = arrow.strings(pools)
        self._models = arrow.strings(routes.names)
        self._statuses = arrow.strings(STATUSES)
        if hasattr(instances, "instance_columns"):
            self._instance_columns = instances.instance_columns
        else:
            fixed = tuple(np.asarray(a, dtype=np.int32) for a in instances)
            self._instance_columns = lambda: fixed
        self._warmup_s = warmup_s
        self._schema = SCHEMA.with_metadata({k.encode(): v.encode() for k, v in metadata.items()})
        self.rows_per_group = rows_per_group or ROWS_PER_GROUP
        self.rows_written = 0  # rows in the file
        self.rows_recorded = 0  # every request's row, written or not
        self._pool_names = np.array(pools, dtype=object)
        self._status_names = np.array(STATUSES, dtype=object)
        self.metrics = MetricsAccumulator(info or {})
        self._spill = self.path.with_name(f".{self.path.name}.{os.getpid()}.latencies")
        self._spill.write_bytes(b"")
        self._writer = (
            None
            if mode.kind == "summary"
            else pq.ParquetWriter(
                self._tmp,
                self._schema,
                compression="zstd",
                compression_level=ZSTD_LEVEL,
                use_dictionary=_CATEGORIES,
                column_encoding=ENCODINGS,
            )
        )
        self._background = (
            None if self._writer is None else BackgroundWriter(self._writer, self.rows_per_group)
        )

    @property
    def writes_stages(self) -> bool:
        """Whether the run writes ``stages.parquet`` (pipelines, and a trace file)."""
        return self._stages is not None and self.mode.kind != "summary"

    def stage_latencies(self) -> list[dict[str, Any]] | None:
        """After ``close``: per stage of each pipeline, its latency figures; None: none."""
        return None if self._stages is None else self._stages.latencies.result()

    def flush_if_full(self) -> None:
        """Flush if ``rows_per_group`` rows are pending."""
        if len(self.requests) >= REQUEST_FIELDS * self.rows_per_group // 2:
            self.flush()

    def flush(self) -> None:
        """Expand the pending records into rows and hand them to the background writer."""
        if not self.numbers:
            return
        numbers, requests = self.take()
        instance_pool, instance_index, _ = self._instance_columns()
        counts = numbers[:, 7].astype(np.int64)
        per_row = np.repeat(numbers[:, :7], counts, axis=0)
        start, finish, service = (np.ascontiguousarray(per_row[:, k]) for k in range(3))
        size, instance, replica, status = (per_row[:, k].astype(np.int32) for k in range(3, 7))
        # served after its deadline: the client had given up (sim.engine.clients)
        status[(status == OK) & (finish > requests[:, 4])] = TIMED_OUT
        # unfinished at the end, its deadline passed: the client had given up
        status[(status == IN_FLIGHT) & (requests[:, 4] <= self.end_s)] = TIMED_OUT
        host, padded_batch, padded_seq = (
            np.repeat(column, counts)
            for column in batch_columns(numbers, requests, instance_pool, self._shapes)
        )
        hop = requests[:, 6].astype(np.int64)
        entered = np.ascontiguousarray(requests[:, 7])
        if self._staged:  # pipelines: a served stage with a next one was passed
            served = (status == OK) & self._hop_onward[hop]
            status[served] = np.where(finish[served] < requests[served, 4], PASSED, TIMED_OUT)
            columns = (requests, start, finish, service, size, instance, replica, status,
                       host, padded_batch, padded_seq, hop, entered)  # fmt: skip
            rows = self._stage_rows(*columns, instance_pool, instance_index)
            ids = rows["request_id"]
            self._stages.write(rows, self.mode.sampled(ids) if self.mode.kind == "sample" else None)
            # every stage's batches count toward its pool's usage (the summary's usage=False)
            done = served_rows(status, PASSED, OK, rows["warmup"])
            self.metrics.add_usage(start, service, size, self._pool_code(rows["pool"]),
                                   self._pool_names, done, host, rows["seq_len"], padded_batch,
                                   padded_seq)  # fmt: skip
            final = status != PASSED
            if not final.all():
                (requests, start, finish, service, size, instance, replica, status, host,
                 padded_batch, padded_seq, hop, entered) = (c[final] for c in columns)  # fmt: skip
        rows = len(requests)
        arrival = np.ascontiguousarray(requests[:, 1])  # Arrow copies strided views slowly
        latency = finish - arrival
        pool = instance_pool[instance]
        warmup = arrival < self._warmup_s
        arrays = {
            "request_id": arrow.numbers(requests[:, 0].astype(np.int64)),
            "arrival_s": arrow.numbers(arrival),
            "start_s": arrow.numbers(start),
            "finish_s": arrow.numbers(finish),
            "latency_s": arrow.numbers(latency),
            "queue_s": arrow.numbers(start - entered),
            "service_s": arrow.numbers(service),
            "host_s": arrow.numbers(host),
            "batch_size": arrow.numbers(size),
            "padded_batch": arrow.numbers(padded_batch),
            "pool": arrow.labels(pool, self._pools),
            "instance_id": arrow.numbers(instance_index[instance]),
            "replica_id": arrow.numbers(replica),
            "model": pa.DictionaryArray.from_arrays(
                arrow.numbers(self._hop_route[hop]), self._models
            ),
            "seq_len": arrow.numbers(seq := requests[:, 2].astype(np.int32)),
            "padded_seq_len": arrow.numbers(padded_seq),
            "status": pa.DictionaryArray.from_arrays(arrow.numbers(status), self._statuses),
            "warmup": arrow.booleans(warmup),
            "attempts": arrow.numbers(attempts := requests[:, 3].astype(np.int32)),
        }
        table = pa.Table.from_arrays([arrays[name] for name in COLUMNS], schema=self._schema)
        self.rows_recorded += rows
        self._count(arrival, latency, start, service, size, self._pool_code(pool), status,
                    warmup, (host, seq, padded_batch, padded_seq, attempts),
                    usage=not self._staged)  # fmt: skip
        if self.mode.kind == "sample":
            table = table.filter(arrow.booleans(self.mode.sampled(requests[:, 0].astype(np.int64))))
        if self._background is None:
            return
        self._background.submit(table)
        self.rows_written += table.num_rows

    def _pool_code(self, pool: np.ndarray) -> np.ndarray:
        """Pool codes for the metrics: a refused row (no pool, -1) gets ``len(pools)``."""
        return np.where(pool < 0, len(self._pool_names), pool)

    def _stage_rows(self, requests, start, finish, service, size, instance, replica, status,
                    host, padded_batch, padded_seq, hop, entered, instance_pool,
                    instance_index) -> dict[str, np.ndarray]:  # fmt: skip
        """Every row, passed stages included, as ``stages.parquet``'s columns and ``hop``."""
        return {
            "request_id": requests[:, 0].astype(np.int64), "hop": hop,
            "pool": instance_pool[instance],
            "instance_id": instance_index[instance], "replica_id": replica,
            "entered_s": entered, "start_s": start, "finish_s": finish, "service_s": service,
            "host_s": host, "batch_size": size, "padded_batch": padded_batch,
            "seq_len": requests[:, 2].astype(np.int32), "padded_seq_len": padded_seq,
            "status": status,
            "attempts": requests[:, 3].astype(np.int32),
            "warmup": requests[:, 1] < self._warmup_s,
        }  # fmt: skip

    def _count(
        self,
        arrival: np.ndarray,
        latency: np.ndarray,
        start: np.ndarray,
        service: np.ndarray,
        size: np.ndarray,
        pool: np.ndarray,
        status: np.ndarray,
        warmup: np.ndarray,
        stages: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        usage: bool = True,
    ) -> None:
        """Feed the rows to the metrics, in the pieces the file's row groups are cut into.

        The arrays the file gets, in the pieces ``analysis.summarize_trace`` would read back
        (its row groups): the summary is that function's result, bit for bit, without the
        re-read. The completed latencies are spilled for the exact percentiles' second pass.
        """
        step = self.rows_per_group
        host, seq, padded_batch, padded_seq, attempts = stages
        for lo in range(0, len(arrival), step):
            hi = lo + step
            self.metrics.add_columns(
                status_code=status[lo:hi], status_names=self._status_names,
                warmup=warmup[lo:hi], arrival_s=arrival[lo:hi], latency_s=latency[lo:hi],
                start_s=start[lo:hi], service_s=service[lo:hi], batch_size=size[lo:hi],
                pool_code=pool[lo:hi], pool_names=self._pool_names, host_s=host[lo:hi],
                seq_len=seq[lo:hi], padded_batch=padded_batch[lo:hi],
                padded_seq_len=padded_seq[lo:hi], attempts=attempts[lo:hi], usage=usage,
            )  # fmt: skip
        completed = (status == OK) & ~warmup
        with self._spill.open("ab") as spill:
            latency[completed].tofile(spill)

    def close(self, extra_metadata: dict[str, str] | None = None) -> Path | None:
        """Flush, finish the file and move it to its final name; returns that name.

        Without a file (``summary``) returns None. With ``metrics``, their second pass runs
        here, over the spilled latencies.

        Args:
            extra_metadata: Key/value strings known only at the end of the run.

        """
        self.flush()
        if self._background is not None:
            self._background.wait()
        if self.metrics.needs_second_pass():
            with self._spill.open("rb") as spill:
                while (part := np.fromfile(spill, dtype=np.float64, count=1 << 20)).size:
                    self.metrics.keep(part)
        self._spill.unlink()
        if self._stages is not None:
            self._stages.close()
        if self._background is None:
            return None
        if extra_metadata:
            self._writer.add_key_value_metadata(extra_metadata)
        self._background.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Discard the partial file (after an error)."""
        try:
            if self._background is not None:
                self._background.abort()  # safe whatever signal interrupted the run
        finally:
            self._tmp.unlink(missing_ok=True)
            self._spill.unlink(missing_ok=True)
            if self._stages is not None:
                self._stages.abort()
