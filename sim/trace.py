"""The per-request trace: records flushed to parquet in row groups as the run goes.

Memory stays bounded: about ``rows_per_group`` rows are held before they are written. The
file is written under a temporary name and renamed on ``close``, so a killed run never
leaves a truncated file under the final name. Compressing and writing a row group happens
on a background thread (Arrow releases the GIL while it does), overlapping the simulation;
row groups are written one at a time, in order, so the file does not depend on timing.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import chain
from operator import itemgetter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

STATUSES = ("ok", "dropped", "in_flight")
OK, DROPPED, IN_FLIGHT = 0, 1, 2
NAN = math.nan

COLUMNS = (
    "request_id",
    "arrival_s",
    "start_s",
    "finish_s",
    "latency_s",
    "queue_s",
    "service_s",
    "batch_size",
    "pool",
    "instance_id",
    "replica_id",
    "model",
    "seq_len",
    "status",
    "warmup",
)

_CATEGORY = pa.dictionary(pa.int32(), pa.string())
_CATEGORIES = ["pool", "model", "status"]  # dictionary-encoded; the rest would not shrink
SCHEMA = pa.schema(
    [
        ("request_id", pa.int64()),
        ("arrival_s", pa.float64()),
        ("start_s", pa.float64()),
        ("finish_s", pa.float64()),
        ("latency_s", pa.float64()),
        ("queue_s", pa.float64()),
        ("service_s", pa.float64()),
        ("batch_size", pa.int32()),
        ("pool", _CATEGORY),
        ("instance_id", pa.int32()),
        ("replica_id", pa.int32()),
        ("model", _CATEGORY),
        ("seq_len", pa.int32()),
        ("status", _CATEGORY),
        ("warmup", pa.bool_()),
    ]
)

Request = tuple[int, float, int]
"""(request_id, arrival_s, seq_len) as held in queues."""

Record = tuple[float, float, float, int, int, int, int, list[Request]]
"""One fate shared by some requests: (start_s, finish_s, service_s, batch_size, instance,
replica_id, status, requests), where ``instance`` is the fleet-wide instance number. A batch,
a drop (batch_size 0, NaN times, replica -1, one request) or requests left in flight."""


class TraceWriter:
    """Writes one row per request to a parquet file, a row group at a time.

    The engine hands over one ``Record`` per batch (or drop); rows are expanded from them in
    vectorised form when a row group is written, so the per-request cost stays small. A hot
    loop may append to ``records`` directly and call ``flush_if_full`` now and then.

    Args:
        path: Final file name; data goes to a temporary sibling until ``close``.
        pools: Pool names, indexed by pool code.
        models: Model names, indexed by model code.
        instances: Per fleet-wide instance number (the ``instance`` of a record): its pool
            code, its position in the pool (``instance_id``) and its model code.
        warmup_s: Requests arriving before this time (s) are flagged ``warmup``.
        metadata: Key/value strings stored in the file's schema metadata.
        rows_per_group: Rows buffered before they are written; also the largest row group.

    """

    def __init__(
        self,
        path: str | Path,
        pools: list[str],
        models: list[str],
        instances: tuple[np.ndarray, np.ndarray, np.ndarray],
        warmup_s: float,
        metadata: dict[str, str],
        rows_per_group: int = 131_072,
    ) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._pools = pa.array(pools, type=pa.string())
        self._models = pa.array(models, type=pa.string())
        self._statuses = pa.array(STATUSES, type=pa.string())
        self._instance_pool, self._instance_index, self._instance_model = (
            np.asarray(a, dtype=np.int32) for a in instances
        )
        self._warmup_s = warmup_s
        self._schema = SCHEMA.with_metadata({k.encode(): v.encode() for k, v in metadata.items()})
        self.rows_per_group = rows_per_group
        self.records: list[Record] = []
        self.pending_rows = 0  # rows in ``records[:self._counted]``
        self._counted = 0
        self.rows_written = 0
        self._writer = pq.ParquetWriter(
            self._tmp, self._schema, compression="zstd", use_dictionary=_CATEGORIES
        )
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trace")
        self._writing: Future | None = None

    def add(self, record: Record) -> None:
        """Record the shared fate of ``record``'s requests (times in s, NaN if none)."""
        self.records.append(record)
        self.flush_if_full()

    def flush_if_full(self) -> None:
        """Flush if ``rows_per_group`` rows are pending (counting records appended since)."""
        records = self.records
        if self._counted < len(records):
            new = map(itemgetter(7), records[self._counted :])
            self.pending_rows += sum(map(len, new))
            self._counted = len(records)
        if self.pending_rows >= self.rows_per_group:
            self.flush()

    def flush(self) -> None:
        """Expand the pending records into rows and hand them to the background writer."""
        records = self.records
        if not records:
            return
        n = len(records)
        # one pass per field: np.fromiter over itemgetter is the cheapest way out of tuples
        start, finish, service = (
            np.fromiter(map(itemgetter(k), records), dtype=np.float64, count=n) for k in range(3)
        )
        size, instance, replica, status = (
            np.fromiter(map(itemgetter(k), records), dtype=np.int64, count=n) for k in range(3, 7)
        )
        batches = list(map(itemgetter(7), records))
        records.clear()  # in place: a loop may hold ``records.append``
        self.pending_rows = self._counted = 0
        counts = np.fromiter(map(len, batches), dtype=np.int64, count=n)
        requests = list(chain.from_iterable(batches))  # (request_id, arrival_s, seq_len)
        rows = len(requests)
        request_id = np.fromiter(map(itemgetter(0), requests), dtype=np.int64, count=rows)
        arrival = np.fromiter(map(itemgetter(1), requests), dtype=np.float64, count=rows)
        seq_len = np.fromiter(map(itemgetter(2), requests), dtype=np.int32, count=rows)
        start, finish, service, size, instance, replica, status = (
            np.repeat(column, counts)
            for column in (start, finish, service, size, instance, replica, status)
        )
        arrays = {
            "request_id": pa.array(request_id),
            "arrival_s": pa.array(arrival),
            "start_s": pa.array(start),
            "finish_s": pa.array(finish),
            "latency_s": pa.array(finish - arrival),
            "queue_s": pa.array(start - arrival),
            "service_s": pa.array(service),
            "batch_size": pa.array(size.astype(np.int32)),
            "pool": pa.DictionaryArray.from_arrays(
                pa.array(self._instance_pool[instance]), self._pools
            ),
            "instance_id": pa.array(self._instance_index[instance]),
            "replica_id": pa.array(replica.astype(np.int32)),
            "model": pa.DictionaryArray.from_arrays(
                pa.array(self._instance_model[instance]), self._models
            ),
            "seq_len": pa.array(seq_len),
            "status": pa.DictionaryArray.from_arrays(
                pa.array(status.astype(np.int32)), self._statuses
            ),
            "warmup": pa.array(arrival < self._warmup_s),
        }
        table = pa.Table.from_arrays([arrays[name] for name in COLUMNS], schema=self._schema)
        self._wait()
        self._writing = self._background.submit(
            self._writer.write_table, table, row_group_size=self.rows_per_group
        )
        self.rows_written += rows

    def _wait(self) -> None:
        """Wait for the row group being written; raise what writing it raised."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            writing.result()

    def close(self, extra_metadata: dict[str, str] | None = None) -> Path:
        """Flush, finish the file and move it to its final name; returns that name.

        Args:
            extra_metadata: Key/value strings known only at the end of the run.

        """
        self.flush()
        self._wait()
        self._background.shutdown()
        if extra_metadata:
            self._writer.add_key_value_metadata(extra_metadata)
        self._writer.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Discard the partial file (after an error)."""
        try:
            self._background.shutdown(wait=True, cancel_futures=True)
            self._writer.close()
        finally:
            self._tmp.unlink(missing_ok=True)
