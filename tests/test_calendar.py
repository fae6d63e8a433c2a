"""The fleet calendar pops entries exactly as a (time, insertion) tuple heap would."""

from __future__ import annotations

import itertools
import math
from heapq import heappop, heappush

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.calendar import Calendar

# operations: schedule at one of a few times (many ties), or pop
OPS = st.lists(st.one_of(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 7.25]), st.none()), max_size=200)


@settings(max_examples=300, deadline=None)
@given(OPS)
def test_pop_order_is_time_then_first_scheduled(ops):
    """Any interleaving of schedules and pops: the same entries in the same order as SimPy's
    queue ordering (time, then insertion id)."""
    calendar, reference, ids = Calendar(), [], itertools.count()
    for op in ops:
        if op is None:
            if reference:
                when, _, entry = heappop(reference)
                assert calendar.pop() == (when, entry)
            else:
                assert calendar.next_s() == math.inf
        else:
            entry = object()
            calendar.schedule(op, entry)
            heappush(reference, (op, next(ids), entry))
        assert len(calendar) == len(reference)
        assert calendar.next_s() == (reference[0][0] if reference else math.inf)


def test_entries_scheduled_while_popping_a_tied_time_come_last():
    """An entry added at the time being popped runs after those already there."""
    calendar = Calendar()
    for name in "abc":
        calendar.schedule(1.0, name)
    assert calendar.pop() == (1.0, "a")
    calendar.schedule(1.0, "d")
    assert [calendar.pop()[1] for _ in range(3)] == ["b", "c", "d"]
