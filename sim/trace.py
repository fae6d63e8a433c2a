"""The per-request trace: column buffers flushed to parquet in row groups as the run goes.

Memory stays bounded: at most ``rows_per_group`` rows are held before a row group is
written. The file is written under a temporary name and renamed on ``close``, so a killed
run never leaves a truncated file under the final name.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

STATUSES = ("ok", "dropped", "in_flight")
OK, DROPPED, IN_FLIGHT = 0, 1, 2

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

# Buffered columns (latency, queue and warmup are derived at flush).
_BUFFERS = (
    ("request_id", np.int64),
    ("arrival_s", np.float64),
    ("start_s", np.float64),
    ("finish_s", np.float64),
    ("service_s", np.float64),
    ("batch_size", np.int32),
    ("pool", np.int32),
    ("instance_id", np.int32),
    ("replica_id", np.int32),
    ("model", np.int32),
    ("seq_len", np.int32),
    ("status", np.int32),
)


class TraceWriter:
    """Writes one row per request to a parquet file, a row group at a time.

    Args:
        path: Final file name; data goes to a temporary sibling until ``close``.
        pools: Pool names, indexed by the pool codes passed to ``add``.
        models: Model names, indexed by model codes.
        warmup_s: Requests arriving before this time (s) are flagged ``warmup``.
        metadata: Key/value strings stored in the file's schema metadata.
        rows_per_group: Rows buffered before a row group is written.

    """

    def __init__(
        self,
        path: str | Path,
        pools: list[str],
        models: list[str],
        warmup_s: float,
        metadata: dict[str, str],
        rows_per_group: int = 131_072,
    ) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._pools = pa.array(pools, type=pa.string())
        self._models = pa.array(models, type=pa.string())
        self._statuses = pa.array(STATUSES, type=pa.string())
        self._warmup_s = warmup_s
        self._schema = SCHEMA.with_metadata({k.encode(): v.encode() for k, v in metadata.items()})
        self._capacity = rows_per_group
        self._cols = {name: np.empty(rows_per_group, dtype=dt) for name, dt in _BUFFERS}
        self._n = 0
        self.rows_written = 0
        self._writer = pq.ParquetWriter(self._tmp, self._schema, compression="zstd")

    def add(
        self,
        request_ids: list[int],
        arrivals_s: list[float],
        seq_lens: list[int],
        start_s: float,
        finish_s: float,
        service_s: float,
        batch_size: int,
        pool: int,
        instance_id: int,
        replica_id: int,
        model: int,
        status: int,
    ) -> None:
        """Record requests that share one fate (one batch, or one drop).

        Times are in seconds; NaN where a request never started or never finished.
        """
        n = len(request_ids)
        if self._n + n > self._capacity:
            self.flush()
            if n > self._capacity:  # a batch larger than a row group: grow once
                self._grow(n)
        i, j = self._n, self._n + n
        cols = self._cols
        cols["request_id"][i:j] = request_ids
        cols["arrival_s"][i:j] = arrivals_s
        cols["seq_len"][i:j] = seq_lens
        cols["start_s"][i:j] = start_s
        cols["finish_s"][i:j] = finish_s
        cols["service_s"][i:j] = service_s
        cols["batch_size"][i:j] = batch_size
        cols["pool"][i:j] = pool
        cols["instance_id"][i:j] = instance_id
        cols["replica_id"][i:j] = replica_id
        cols["model"][i:j] = model
        cols["status"][i:j] = status
        self._n = j

    def _grow(self, n: int) -> None:
        self._capacity = n
        self._cols = {name: np.empty(n, dtype=dt) for name, dt in _BUFFERS}

    def flush(self) -> None:
        """Write the buffered rows as one row group."""
        n = self._n
        if n == 0:
            return
        c = {name: col[:n] for name, col in self._cols.items()}
        arrays = {
            "request_id": pa.array(c["request_id"]),
            "arrival_s": pa.array(c["arrival_s"]),
            "start_s": pa.array(c["start_s"]),
            "finish_s": pa.array(c["finish_s"]),
            "latency_s": pa.array(c["finish_s"] - c["arrival_s"]),
            "queue_s": pa.array(c["start_s"] - c["arrival_s"]),
            "service_s": pa.array(c["service_s"]),
            "batch_size": pa.array(c["batch_size"]),
            "pool": pa.DictionaryArray.from_arrays(pa.array(c["pool"]), self._pools),
            "instance_id": pa.array(c["instance_id"]),
            "replica_id": pa.array(c["replica_id"]),
            "model": pa.DictionaryArray.from_arrays(pa.array(c["model"]), self._models),
            "seq_len": pa.array(c["seq_len"]),
            "status": pa.DictionaryArray.from_arrays(pa.array(c["status"]), self._statuses),
            "warmup": pa.array(c["arrival_s"] < self._warmup_s),
        }
        table = pa.Table.from_arrays([arrays[name] for name in COLUMNS], schema=self._schema)
        self._writer.write_table(table)
        self.rows_written += n
        self._n = 0

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
