"""The trace schema, in one place: columns, statuses and metadata keys of ``requests.parquet``.

The engine (``sim.engine.trace_writer``) writes traces with this schema and ``analysis``
reads them with it. One row per request; times in simulated seconds.
"""

from __future__ import annotations

import pyarrow as pa

STATUSES = ("ok", "dropped", "in_flight", "timed_out", "failed")
"""Status names, indexed by their code in the engine's records (append-only: a code never
changes meaning). A request's status is its final outcome, over all its attempts:

* ``ok``: served, finished by its deadline (if it has one);
* ``dropped``: its last allowed attempt found the queue full;
* ``in_flight``: not finished when the run ended (waiting, in service, or between attempts),
  its deadline (if any) not yet passed;
* ``timed_out``: its deadline passed before it finished (client timeouts,
  ``sim.policies.clients``);
* ``failed``: its last allowed attempt was lost with its instance (failure, termination).
"""
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
    "attempts",
)

ATTEMPTS = "attempts"
"""The attempts a request made, int32, 1 if never retried (the last column).

Its row is the outcome of its last attempt; ``arrival_s`` stays the first attempt's arrival.
Readers treat a trace written before it existed as every request making one attempt
(``analysis.reader.with_attempts``).
"""
ATTEMPTS_FIELD = pa.field(ATTEMPTS, pa.int32())
"""The Arrow field of ``ATTEMPTS``."""

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
        ("attempts", pa.int32()),  # times the request was sent (1: never retried)
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

# --- stages.parquet: one row per request per stage it reached (runs with pipelines) --------

STAGES_FILE = "stages.parquet"
"""Written beside ``requests.parquet`` when some route has several stages (a pipeline,
``sim.scenario.pipelines``); rows of the sampled requests of a sampled trace; none with
``--trace summary``."""

PASSED = 5
"""Status code of a stage a request finished and left for the next (``stages.parquet``
only; ``requests.parquet`` has the request's final row)."""
STAGES_STATUSES = (*STATUSES, "passed")
"""Status names in ``stages.parquet``: a request's last stage has its final status."""

STAGES_SCHEMA = pa.schema(
    [
        ("request_id", pa.int64()),
        ("route", _CATEGORY),  # the pipeline (or model) asked for: requests.parquet's model
        ("stage", pa.int32()),  # position in the route, from 0
        ("model", _CATEGORY),  # the model serving this stage
        ("pool", _CATEGORY),
        ("instance_id", pa.int32()),
        ("replica_id", pa.int32()),
        ("entered_s", pa.float64()),  # reached this stage (its first arrival at stage 0)
        ("start_s", pa.float64()),
        ("finish_s", pa.float64()),
        ("latency_s", pa.float64()),  # finish_s - entered_s: the stage's own latency
        ("queue_s", pa.float64()),  # start_s - entered_s (retries within the stage included)
        ("service_s", pa.float64()),
        ("host_s", pa.float64()),
        ("batch_size", pa.int32()),
        ("padded_batch", pa.int32()),
        ("seq_len", pa.int32()),  # this stage's input length
        ("padded_seq_len", pa.int32()),
        ("status", _CATEGORY),  # passed, or the request's final status at its last stage
        ("attempts", pa.int32()),  # times sent so far, over all stages
        ("warmup", pa.bool_()),  # first arrival before the end of the warm-up
    ]
)
STAGES_COLUMNS = tuple(STAGES_SCHEMA.names)
