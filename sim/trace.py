"""The per-request trace: column buffers flushed to parquet in row groups as the run goes.

Memory stays bounded: at most about ``rows_per_group`` rows are held before a row group is
written. The file is written under a temporary name and renamed on ``close``, so a killed
run never leaves a truncated file under the final name.
"""

from __future__ import annotations

import math
import os
from itertools import chain
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
    vectorised form when a row group is written, so the per-request cost stays small.

    Args:
        path: Final file name; data goes to a temporary sibling until ``close``.
        pools: Pool names, indexed by pool code.
        models: Model names, indexed by model code.
        instances: Per fleet-wide instance number (the ``instance`` of a record): its pool
            code, its position in the pool (``instance_id``) and its model code.
        warmup_s: Requests arriving before this time (s) are flagged ``warmup``.
        metadata: Key/value strings stored in the file's schema metadata.
        rows_per_group: Rows buffered before a row group is written.

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
        self.pending_rows = 0
        self.rows_written = 0
        self._writer = pq.ParquetWriter(self._tmp, self._schema, compression="zstd")

    def add(self, record: Record) -> None:
        """Record the shared fate of ``record``'s requests (times in s, NaN if none)."""
        n = len(record[7])
        if self.pending_rows + n > self.rows_per_group:
            self.flush()
        self.records.append(record)
        self.pending_rows += n

    def flush(self) -> None:
        """Expand the pending records into rows and write them as one row group."""
        records = self.records
        if not records:
            return
        columns = zip(*records, strict=True)
        start, finish, service, size, instance, replica, status, batches = columns
        counts = np.fromiter(map(len, batches), dtype=np.int64, count=len(records))
        rows = int(counts.sum())
        # (request_id, arrival_s, seq_len) of every request, flattened in record order
        flat = np.fromiter(
            chain.from_iterable(chain.from_iterable(batches)), dtype=np.float64, count=3 * rows
        ).reshape(rows, 3)

        def per_row(values: tuple, dtype: type) -> np.ndarray:
            return np.repeat(np.array(values, dtype=dtype), counts)

        arrival = flat[:, 1]
        start_s, finish_s = per_row(start, np.float64), per_row(finish, np.float64)
        instance_n = per_row(instance, np.int64)
        arrays = {
            "request_id": pa.array(flat[:, 0].astype(np.int64)),
            "arrival_s": pa.array(arrival),
            "start_s": pa.array(start_s),
            "finish_s": pa.array(finish_s),
            "latency_s": pa.array(finish_s - arrival),
            "queue_s": pa.array(start_s - arrival),
            "service_s": pa.array(per_row(service, np.float64)),
            "batch_size": pa.array(per_row(size, np.int32)),
            "pool": pa.DictionaryArray.from_arrays(
                pa.array(self._instance_pool[instance_n]), self._pools
            ),
            "instance_id": pa.array(self._instance_index[instance_n]),
            "replica_id": pa.array(per_row(replica, np.int32)),
            "model": pa.DictionaryArray.from_arrays(
                pa.array(self._instance_model[instance_n]), self._models
            ),
            "seq_len": pa.array(flat[:, 2].astype(np.int32)),
            "status": pa.DictionaryArray.from_arrays(
                pa.array(per_row(status, np.int32)), self._statuses
            ),
            "warmup": pa.array(arrival < self._warmup_s),
        }
        table = pa.Table.from_arrays([arrays[name] for name in COLUMNS], schema=self._schema)
        self._writer.write_table(table)
        self.rows_written += rows
        self.records = []
        self.pending_rows = 0

    def close(self, extra_metadata: dict[str, str] | None = None) -> Path:
        """Flush, finish the file and move it to its final name; returns that name.

        Args:
            extra_metadata: Key/value strings known only at the end of the run.

        """
        self.flush()
        if extra_metadata:
            self._writer.add_key_value_metadata(extra_metadata)
        self._writer.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Discard the partial file (after an error)."""
        try:
            self._writer.close()
        finally:
            self._tmp.unlink(missing_ok=True)
