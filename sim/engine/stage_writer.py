"""``stages.parquet``: one row per request per stage it reached, for runs with pipelines.

The trace writer (``sim.engine.trace_writer``) hands each row group's rows here before it
drops the stages requests passed (``PASSED``) from ``requests.parquet``; a request's last
stage has its final status in both files. Written under a temporary name and renamed on
``close``, as the trace is. Schema: ``analysis.schema.STAGES_SCHEMA``. In every trace mode
(no file with ``--trace summary``) each stage's latency is counted as the rows come, for
the summary's ``stages`` (``analysis.stage_latency``): its second pass reads the latencies
spilled beside the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.schema import OK, PASSED, STAGES_COLUMNS, STAGES_SCHEMA, STAGES_STATUSES
from analysis.stage_latency import STAGES_META, StageLatencies, served_rows
from sim.engine import arrow_arrays as arrow
from sim.engine.routes import Routes

# as the trace's (sim.engine.trace_writer): ascending ids and small integers delta-encoded,
# columns of distinct doubles byte-stream-split
ENCODINGS = {
    "request_id": "DELTA_BINARY_PACKED",
    "batch_size": "DELTA_BINARY_PACKED",
    "replica_id": "DELTA_BINARY_PACKED",
    "entered_s": "BYTE_STREAM_SPLIT",
    "latency_s": "BYTE_STREAM_SPLIT",
    "queue_s": "BYTE_STREAM_SPLIT",
}


class StageWriter:
    """Writes the stage rows of a run to ``path`` (atomically, on ``close``).

    Args:
        path: Final file name.
        pools: Pool names by pool code.
        model_names: Model names by model code.
        routes: The run's routes (``sim.engine.routes``).
        metadata: Key/value strings for the file's schema metadata (the trace's).
        write_file: False: count the stage latencies only (``--trace summary``).

    """

    def __init__(
        self,
        path: Path,
        pools: list[str],
        model_names: list[str],
        routes: Routes,
        metadata: dict[str, str],
        write_file: bool = True,
    ) -> None:
        self.path = path
        stages = [
            (routes.names[r], s, model_names[m])
            for r, s, m in zip(routes.route, routes.stage, routes.model, strict=True)
        ]
        self.latencies = StageLatencies(stages)
        # only a pipeline's stages are reported: a one-stage route's rows are not counted
        self._counted = np.isin(routes.route, [routes.route[h] for h, n in
                                               enumerate(routes.next) if n >= 0])  # fmt: skip
        self._spill = path.with_name(f".{path.name}.{os.getpid()}.latencies")
        self._spill.write_bytes(b"")
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self._pools = arrow.strings(pools)
        self._models = arrow.strings(model_names)
        self._routes = arrow.strings(routes.names)
        self._statuses = arrow.strings(STAGES_STATUSES)
        self._hop_route = np.asarray(routes.route, dtype=np.int32)
        self._hop_stage = np.asarray(routes.stage, dtype=np.int32)
        self._hop_model = np.asarray(routes.model, dtype=np.int32)
        metadata = {**metadata, STAGES_META: json.dumps(stages)}
        schema = STAGES_SCHEMA.with_metadata({k.encode(): v.encode() for k, v in metadata.items()})
        self._writer = (
            pq.ParquetWriter(
                self._tmp,
                schema,
                compression="zstd",
                compression_level=1,
                use_dictionary=["route", "model", "pool", "status"],
                column_encoding=ENCODINGS,
            )  # fmt: skip
            if write_file
            else None
        )
        self._schema = schema

    def write(self, rows: dict[str, np.ndarray], keep: np.ndarray | None = None) -> None:
        """Write one row group's rows: numpy columns, by ``STAGES_SCHEMA`` name and ``hop``.

        ``keep``: the rows a sampled trace keeps (None: all).
        """
        served = served_rows(rows["status"], PASSED, OK, rows["warmup"])
        served &= self._counted[rows["hop"]]
        hop, latency = rows["hop"][served], (rows["finish_s"] - rows["entered_s"])[served]
        self.latencies.add(hop, latency)
        with self._spill.open("ab") as spill:
            np.stack([hop.astype(np.float64), latency], axis=1).tofile(spill)
        if self._writer is None:
            return
        if keep is not None:
            rows = {name: values[keep] for name, values in rows.items()}
        hop = rows["hop"]
        start, finish, entered = rows["start_s"], rows["finish_s"], rows["entered_s"]
        arrays = {
            "request_id": arrow.numbers(rows["request_id"]),
            "route": pa.DictionaryArray.from_arrays(
                arrow.numbers(self._hop_route[hop]), self._routes
            ),
            "stage": arrow.numbers(self._hop_stage[hop]),
            "model": pa.DictionaryArray.from_arrays(
                arrow.numbers(self._hop_model[hop]), self._models
            ),
            "pool": arrow.labels(rows["pool"], self._pools),
            "instance_id": arrow.numbers(rows["instance_id"]),
            "replica_id": arrow.numbers(rows["replica_id"]),
            "entered_s": arrow.numbers(entered),
            "start_s": arrow.numbers(start),
            "finish_s": arrow.numbers(finish),
            "latency_s": arrow.numbers(finish - entered),
            "queue_s": arrow.numbers(start - entered),
            "service_s": arrow.numbers(rows["service_s"]),
            "host_s": arrow.numbers(rows["host_s"]),
            "batch_size": arrow.numbers(rows["batch_size"]),
            "padded_batch": arrow.numbers(rows["padded_batch"]),
            "seq_len": arrow.numbers(rows["seq_len"]),
            "padded_seq_len": arrow.numbers(rows["padded_seq_len"]),
            "status": pa.DictionaryArray.from_arrays(arrow.numbers(rows["status"]), self._statuses),
            "attempts": arrow.numbers(rows["attempts"]),
            "warmup": arrow.booleans(rows["warmup"]),
        }
        table = pa.Table.from_arrays([arrays[n] for n in STAGES_COLUMNS], schema=self._schema)
        self._writer.write_table(table, row_group_size=len(table) or 1)  # one group per flush

    def close(self) -> Path | None:
        """Finish the latencies and the file, and move it to its final name (None: no file)."""
        if self.latencies.needs_second_pass():
            with self._spill.open("rb") as spill:
                while (part := np.fromfile(spill, dtype=np.float64, count=1 << 20)).size:
                    pairs = part.reshape(-1, 2)
                    self.latencies.keep(pairs[:, 0].astype(np.int64), pairs[:, 1])
        self._spill.unlink()
        if self._writer is None:
            return None
        self._writer.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Discard the partial file."""
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            self._tmp.unlink(missing_ok=True)
            self._spill.unlink(missing_ok=True)
