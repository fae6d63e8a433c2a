"""The trace schema, in one place: columns, statuses and metadata keys of ``requests.parquet``.

The engine (``sim.engine.trace_writer``) writes traces with this schema and ``analysis``
reads them with it. One row per request; times in simulated seconds.
"""

from __future__ import annotations

import pyarrow as pa

STATUSES = ("ok", "dropped", "in_flight", "timed_out", "failed")
"""Status names, indexed by their code in the engine's records."""
OK, DROPPED, IN_FLIGHT, TIMED_OUT, FAILED = 0, 1, 2, 3, 4

COLUMNS = (
    "request_id",
    "arrival_s",
    "start_s",
    "finish_s",
    "latency_s",
    "queue_s",
    "service_s",
    "host_s",
    "batch_size",
    "padded_batch",
    "pool",
    "instance_id",
    "replica_id",
    "model",
    "seq_len",
    "padded_seq_len",
    "status",
    "warmup",
)

MAX_SEQ_LEN = 2**31 - 1  # seq_len is int32 in the trace
"""The longest sequence length a trace can hold."""

CATEGORIES = ("pool", "model", "status")
"""Dictionary-encoded columns (categoricals in pandas); the others would not shrink."""

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
        ("host_s", pa.float64()),
        ("batch_size", pa.int32()),
        ("padded_batch", pa.int32()),
        ("pool", _CATEGORY),
        ("instance_id", pa.int32()),
        ("replica_id", pa.int32()),
        ("model", _CATEGORY),
        ("seq_len", pa.int32()),
        ("padded_seq_len", pa.int32()),
        ("status", _CATEGORY),
        ("warmup", pa.bool_()),
    ]
)

# Keys of the file's schema metadata (UTF-8 strings).
META_SCENARIO_YAML = "fleetsim.scenario_yaml"  # the scenario as validated (seconds)
META_SCENARIO_SOURCE = "fleetsim.scenario_source"  # the scenario file as written, if any
META_SEED = "fleetsim.seed"
META_VERSION = "fleetsim.version"
META_HARDWARE_VERSION = "fleetsim.hardware_model_version"
META_RUN = "fleetsim.run"  # JSON: durations, SLO, balancer, pools with prices
META_ENGINE = "fleetsim.engine"  # JSON: engine, why, time-average in system, window (s)
META_TRACE = "fleetsim.trace"  # JSON: which rows the file keeps, if not all (mode, fraction)
