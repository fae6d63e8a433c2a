"""What the engines record: requests, the records of their fates, and a buffer of them.

A record is one fate shared by some requests (a batch served, a drop, requests lost with an
instance or left in flight). ``RecordBuffer`` keeps them as flat float64 arrays;
``sim.engine.trace_writer.TraceWriter`` is the buffer that writes them to parquet.
"""

from __future__ import annotations

from array import array
from itertools import chain
from typing import NamedTuple

import numpy as np


class Request(NamedTuple):
    """A request as it waits in a queue (``REQUEST_FIELDS`` numbers in a record).

    ``arrival_s`` is its first arrival; ``attempts`` counts the times it was sent (1: never
    retried); ``deadline_s`` is when its client gives up (inf: never,
    ``sim.engine.clients``); ``queued_s`` when this attempt joined the queue (what the
    batching deadline counts from); ``hop`` the stage of its route it is at and
    ``entered_s`` when it reached that stage (its first arrival at the first stage;
    ``sim.engine.routes``).
    """

    request_id: int
    arrival_s: float
    seq_len: int
    attempts: int
    deadline_s: float
    queued_s: float
    hop: int
    entered_s: float


class Served(NamedTuple):
    """A request as ``RecordBuffer.records`` gives it back: its identity in the trace."""

    request_id: int
    arrival_s: float
    seq_len: int


REQUEST_FIELDS = 8  # numbers per request in RecordBuffer.requests: a Request's


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
    replica_id, status, number of requests) go to ``numbers``; per request, the
    ``REQUEST_FIELDS`` of a ``Request`` go to ``requests``. Converting a record when it is made,
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
        """Empty the buffer: (records as rows of ``FIELDS``, requests of ``REQUEST_FIELDS``)."""
        numbers = np.frombuffer(self.numbers, dtype=np.float64).reshape(-1, FIELDS).copy()
        requests = np.frombuffer(self.requests, dtype=np.float64)
        requests = requests.reshape(-1, REQUEST_FIELDS).copy()
        del self.numbers[:]  # in place: a loop may hold the bound ``extend``
        del self.requests[:]
        return numbers, requests

    def records(self, full: bool = False) -> list[Record]:
        """Empty the buffer and return its records (for tests and tools).

        Each request as ``Served`` (id, first arrival, sequence length), or with ``full`` as
        the whole ``Request``.
        """
        numbers, requests = self.take()
        out: list[Record] = []
        row = 0
        for start, finish, service, size, instance, replica, status, count in numbers.tolist():
            rows = requests[row : row + int(count)].tolist()
            batch: list = (
                [
                    Request(int(r[0]), r[1], int(r[2]), int(r[3]), r[4], r[5], int(r[6]), r[7])
                    for r in rows
                ]
                if full
                else [Served(int(r[0]), r[1], int(r[2])) for r in rows]
            )
            row += int(count)
            out.append(Record(start, finish, service, int(size), int(instance), int(replica),
                              int(status), batch))  # fmt: skip
        return out
