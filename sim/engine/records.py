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
