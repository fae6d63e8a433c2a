"""The trace writer: the engines' records, flushed to parquet in row groups as the run goes.

Memory stays bounded: about ``rows_per_group`` rows (plus what the engine records between
two checks) are held before they are written. The file is written under a temporary name
and renamed on ``close``, so a killed run never leaves a truncated file under the final
name. Compressing and writing a row group happens
on a background thread (Arrow releases the GIL while it does), overlapping the simulation;
row groups are written one at a time, in order, so the file does not depend on timing.
"""

from __future__ import annotations

import math
import os
from array import array
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.metrics import MetricsAccumulator
from analysis.schema import CATEGORIES, COLUMNS, OK, SCHEMA, STATUSES
from sim.engine.batch_columns import batch_columns

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


class Request(NamedTuple):
    """A request as it waits in a queue."""

    request_id: int
    arrival_s: float
    seq_len: int


class Record(NamedTuple):
    """One fate shared by some requests: a batch, a drop or requests left in flight.

    A drop has batch size 0, NaN times and replica -1; ``instance`` is the fleet-wide
    instance number; ``status`` a code of ``analysis.schema.STATUSES``.
    """

    start_s: float
    finish_s: float
    service_s: float
    batch_size: int
    instance: int
    replica_id: int
    status: int
    requests: list[Request]


FIELDS = 8  # numbers per record in RecordBuffer.numbers: a Record's, then its request count


class RecordBuffer:
    """Records as flat arrays of float64, filled as the run goes.

    Per record, ``FIELDS`` numbers (start_s, finish_s, service_s, batch_size, instance,
    replica_id, status, number of requests) go to ``numbers``; per request, three
    (request_id, arrival_s, seq_len) go to ``requests``. Converting a record when it is made,
    while its objects are in the CPU cache, costs a fraction of reading millions of scattered
    tuples back later (measured: 0.5 us per row when converted at flush time). Integers up to
    2**53 are exact in float64. A hot loop may call ``numbers.extend`` and
    ``requests.extend`` itself, then ``flush_if_full`` now and then.
    """

    def __init__(self) -> None:
        self.numbers = array("d")
        self.requests = array("d")

    def add(self, record: Record) -> None:
        """Record the shared fate of ``record``'s requests (times in s, NaN if none)."""
        self.numbers.extend(record[:7])
        self.numbers.append(len(record[7]))
        self.requests.extend(chain.from_iterable(record[7]))

    def flush_if_full(self) -> None:
        """Called by the engines after each chunk of arrivals, and at the end of the run.

        At the end it comes before the unfinished requests are recorded. A plain buffer
        keeps everything.
        """

    def take(self) -> tuple[np.ndarray, np.ndarray]:
        """Empty the buffer: (records as rows of ``FIELDS``, requests as rows of 3)."""
        numbers = np.frombuffer(self.numbers, dtype=np.float64).reshape(-1, FIELDS).copy()
        requests = np.frombuffer(self.requests, dtype=np.float64).reshape(-1, 3).copy()
        del self.numbers[:]  # in place: a loop may hold the bound ``extend``
        del self.requests[:]
        return numbers, requests

    def records(self) -> list[Record]:
        """Empty the buffer and return its records (for tests and tools)."""
        numbers, requests = self.take()
        out: list[Record] = []
        row = 0
        for start, finish, service, size, instance, replica, status, count in numbers.tolist():
            batch = [
                Request(int(rid), arrival, int(seq))
                for rid, arrival, seq in requests[row : row + int(count)].tolist()
            ]
            row += int(count)
            out.append(Record(start, finish, service, int(size), int(instance), int(replica),
                              int(status), batch))  # fmt: skip
        return out


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
            code, its position in the pool (``instance_id``) and its model code.
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

    """

    def __init__(
        self,
        path: str | Path,
        pools: list[str],
        models: list[str],
        instances: tuple[np.ndarray, np.ndarray, np.ndarray],
        warmup_s: float,
        metadata: dict[str, str],
        rows_per_group: int | None = None,
        mode: TraceMode = FULL_TRACE,
        info: dict | None = None,
        shapes: list | None = None,
    ) -> None:
        super().__init__()
        self._shapes = list(shapes) if shapes is not None else None
        self.mode = mode
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._pools = _strings(pools)
        self._models = _strings(models)
        self._statuses = _strings(STATUSES)
        self._instance_pool, self._instance_index, self._instance_model = (
            np.asarray(a, dtype=np.int32) for a in instances
        )
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
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trace")
        self._writing: Future | None = None

    def flush_if_full(self) -> None:
        """Flush if ``rows_per_group`` rows are pending."""
        if len(self.requests) >= 3 * self.rows_per_group:
            self.flush()

    def flush(self) -> None:
        """Expand the pending records into rows and hand them to the background writer."""
        if not self.numbers:
            return
        numbers, requests = self.take()
        counts = numbers[:, 7].astype(np.int64)
        per_row = np.repeat(numbers[:, :7], counts, axis=0)
        start, finish, service = (np.ascontiguousarray(per_row[:, k]) for k in range(3))
        size, instance, replica, status = (per_row[:, k].astype(np.int32) for k in range(3, 7))
        rows = len(requests)
        host, padded_batch, padded_seq = (
            np.repeat(column, counts)
            for column in batch_columns(numbers, requests, self._instance_pool, self._shapes)
        )
        arrival = np.ascontiguousarray(requests[:, 1])  # Arrow copies strided views slowly
        latency = finish - arrival
        pool = self._instance_pool[instance]
        warmup = arrival < self._warmup_s
        arrays = {
            "request_id": _numbers(requests[:, 0].astype(np.int64)),
            "arrival_s": _numbers(arrival),
            "start_s": _numbers(start),
            "finish_s": _numbers(finish),
            "latency_s": _numbers(latency),
            "queue_s": _numbers(start - arrival),
            "service_s": _numbers(service),
            "host_s": _numbers(host),
            "batch_size": _numbers(size),
            "padded_batch": _numbers(padded_batch),
            "pool": pa.DictionaryArray.from_arrays(_numbers(pool), self._pools),
            "instance_id": _numbers(self._instance_index[instance]),
            "replica_id": _numbers(replica),
            "model": pa.DictionaryArray.from_arrays(
                _numbers(self._instance_model[instance]), self._models
            ),
            "seq_len": _numbers(seq := requests[:, 2].astype(np.int32)),
            "padded_seq_len": _numbers(padded_seq),
            "status": pa.DictionaryArray.from_arrays(_numbers(status), self._statuses),
            "warmup": _booleans(warmup),
        }
        table = pa.Table.from_arrays([arrays[name] for name in COLUMNS], schema=self._schema)
        self.rows_recorded += rows
        self._count(arrival, latency, start, service, size, pool, status, warmup,
                    (host, seq, padded_batch, padded_seq))  # fmt: skip
        if self.mode.kind == "sample":
            table = table.filter(_booleans(self.mode.sampled(requests[:, 0].astype(np.int64))))
        if self._writer is None:
            return
        self._wait()
        self._writing = self._background.submit(
            self._writer.write_table, table, row_group_size=self.rows_per_group
        )
        self.rows_written += table.num_rows

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
        stages: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    ) -> None:
        """Feed the rows to the metrics, in the pieces the file's row groups are cut into.

        The arrays the file gets, in the pieces ``analysis.summarize_trace`` would read back
        (its row groups): the summary is that function's result, bit for bit, without the
        re-read. The completed latencies are spilled for the exact percentiles' second pass.
        """
        step = self.rows_per_group
        host, seq, padded_batch, padded_seq = stages
        for lo in range(0, len(arrival), step):
            hi = lo + step
            self.metrics.add_columns(
                status_code=status[lo:hi], status_names=self._status_names,
                warmup=warmup[lo:hi], arrival_s=arrival[lo:hi], latency_s=latency[lo:hi],
                start_s=start[lo:hi], service_s=service[lo:hi], batch_size=size[lo:hi],
                pool_code=pool[lo:hi], pool_names=self._pool_names, host_s=host[lo:hi],
                seq_len=seq[lo:hi], padded_batch=padded_batch[lo:hi],
                padded_seq_len=padded_seq[lo:hi],
            )  # fmt: skip
        completed = (status == OK) & ~warmup
        with self._spill.open("ab") as spill:
            latency[completed].tofile(spill)

    def _wait(self) -> None:
        """Wait for the row group being written; raise what writing it raised."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            writing.result()

    def close(self, extra_metadata: dict[str, str] | None = None) -> Path | None:
        """Flush, finish the file and move it to its final name; returns that name.

        Without a file (``summary``) returns None. With ``metrics``, their second pass runs
        here, over the spilled latencies.

        Args:
            extra_metadata: Key/value strings known only at the end of the run.

        """
        self.flush()
        self._wait()
        self._background.shutdown()
        if self.metrics.needs_second_pass():
            with self._spill.open("rb") as spill:
                while (part := np.fromfile(spill, dtype=np.float64, count=1 << 20)).size:
                    self.metrics.keep(part)
        self._spill.unlink()
        if self._writer is None:
            return None
        if extra_metadata:
            self._writer.add_key_value_metadata(extra_metadata)
        self._writer.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Discard the partial file (after an error)."""
        try:
            self._background.shutdown(wait=True, cancel_futures=True)
            if self._writer is not None:
                self._writer.close()
        finally:
            self._tmp.unlink(missing_ok=True)
            self._spill.unlink(missing_ok=True)


# Arrow arrays straight from numpy buffers (zero-copy for numbers). ``pa.array`` would do,
# but its first call imports pandas to check for pandas types: a quarter of a second of
# every run's start, for a library a run never uses.


def _numbers(values: np.ndarray) -> pa.Array:
    """A numeric numpy array as an Arrow array sharing its memory (no nulls)."""
    values = np.ascontiguousarray(values)
    kind = pa.from_numpy_dtype(values.dtype)
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])


def _booleans(values: np.ndarray) -> pa.Array:
    """A boolean numpy array as an Arrow boolean array (bit-packed, no nulls)."""
    bits = np.packbits(np.asarray(values, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def _strings(names: list[str] | tuple[str, ...]) -> pa.Array:
    """Strings as an Arrow string array (a dictionary of pool, model or status names)."""
    encoded = [name.encode() for name in names]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(e) for e in encoded])
    data = pa.py_buffer(b"".join(encoded))
    return pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets), data)
