"""RecordBuffer: records survive the round trip through flat float64 arrays exactly."""

from __future__ import annotations

import math

from analysis.schema import DROPPED, IN_FLIGHT, OK
from sim.engine.trace_writer import RecordBuffer


def test_records_round_trip_exactly():
    """Times (NaN included), integer fields up to 2**53 and request tuples come back equal."""
    records = [
        (0.1, 0.30000000000000004, 0.2, 3, 7, 1, OK, [(0, 0.05, 128), (1, 0.07, 16), (5, 0.09, 1)]),
        (math.nan, math.nan, math.nan, 0, 2, -1, DROPPED, [(2**53, 1e-300, 512)]),
        (4.0, math.nan, 1.5, 1, 0, 0, IN_FLIGHT, [(9, 3.999999999999999, 64)]),
    ]
    # a Request also carries attempts, deadline, queue time, hop and stage entry; records()
    # gives back the identity (id, first arrival, sequence length), records(full=True) all
    extra = [(1, math.inf, 0.05, 0, 0.05), (2, 9.5, 0.07, 7, 0.06), (3, 0.2, 0.09, 2**20, 0.0)]
    records = [(*r[:7], [(*q, *extra[i % 3]) for i, q in enumerate(r[7])]) for r in records]
    buffer = RecordBuffer()
    full = [[tuple(q) for q in r[7]] for r in records]
    short = [(*r[:7], [tuple(q[:3]) for q in r[7]]) for r in records]
    for record in records:
        buffer.add(record)
    assert [[tuple(q) for q in r[7]] for r in buffer.records(full=True)] == full
    for record in records:
        buffer.add(record)
    back = buffer.records()
    assert len(back) == len(records)
    for got, want in zip(back, short, strict=True):
        for g, w in zip(got, want, strict=True):
            assert g == w or (isinstance(w, float) and math.isnan(w) and math.isnan(g))
            assert type(g) is type(w) or isinstance(w, float)
    assert buffer.records() == []  # taking empties the buffer
