"""The trace's batch-level columns a record does not carry: host time and padded shape.

The engines record a batch's start, finish, service time, size and requests. What its
host stage took and which compiled shape it ran at follow from those and the pool
(``sim.policies.host``, ``sim.policies.shapes``), so the trace writer derives them here,
vectorised over a row group's records, with the expressions the engines time batches by.
"""

from __future__ import annotations

import math

import numpy as np

from sim.policies.shapes import padded_sizes

NAN = math.nan


def batch_columns(
    numbers: np.ndarray,
    requests: np.ndarray,
    instance_pool: np.ndarray,
    shapes: list | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per record: host-stage seconds, compiled batch size and compiled sequence length.

    Host over the batch's real tokens; the batch padded to its compiled batch size and its
    longest sequence to its bucket. Drops and requests still queued have no batch: NaN, 0, 0.

    Args:
        numbers: The records, rows of ``sim.engine.trace_writer.FIELDS`` numbers.
        requests: Their requests, rows of (request_id, arrival_s, seq_len).
        instance_pool: Pool code per fleet-wide instance number.
        shapes: Per pool code, an object with ``host``, ``seq_buckets`` and
            ``batch_shapes`` (``sim.engine.pool.Pool``); None: no host stage, no padding.

    """
    counts = numbers[:, 7].astype(np.int64)
    size = numbers[:, 3]
    batched = size > 0
    seq = requests[:, 2]
    starts = np.cumsum(counts) - counts
    nonempty = counts > 0
    tokens = np.zeros(len(counts))
    longest = np.zeros(len(counts))
    if nonempty.any():
        tokens[nonempty] = np.add.reduceat(seq, starts[nonempty])
        longest[nonempty] = np.maximum.reduceat(seq, starts[nonempty])
    host = np.full(len(counts), NAN)
    padded_batch = np.where(batched, size, 0).astype(np.int32)
    padded_seq = np.where(batched, longest, 0).astype(np.int32)
    if shapes is None:
        host[batched] = 0.0
        return host, padded_batch, padded_seq
    pool = instance_pool[numbers[:, 4].astype(np.int64)]
    for code, spec in enumerate(shapes):
        mine = batched & (pool == code)
        if not mine.any():
            continue
        h = spec.host  # as sim.policies.host.HostCoefficients.seconds
        host[mine] = h.batch_s + h.request_s * size[mine] + h.token_s * tokens[mine]
        padded_batch[mine] = padded_sizes(size[mine], spec.batch_shapes)
        padded_seq[mine] = padded_sizes(longest[mine], spec.seq_buckets)
    return host, padded_batch, padded_seq
