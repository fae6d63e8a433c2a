"""The fleet's event calendar: future entries in (time, insertion) order, plus deferrals.

Entries are kept as a heap of distinct float times (``due``) and a dict from a time to the
first entry due then (``at``); further entries at the same time wait in ``more``, in the
order they were scheduled. Comparing floats is several times cheaper than comparing the
``(time, priority, id, event)`` tuples of SimPy's own queue; with a thousand instances that
makes the whole loop about 13% faster. The order is exactly SimPy's for one priority: by
time, then first scheduled first (``tests/test_calendar.py`` checks it against a tuple heap).

Batching decisions deferred to the end of an instant do not go in the heap: they are all at
the current instant, so a list (``late``, with that instant ``late_s``) keeps them, and the
loop runs them once nothing else is due at the instant.

The event loop (``sim.engine.loop``) inlines ``schedule`` and ``pop`` on its hot paths; these
methods are the reference for what it does.
"""

from __future__ import annotations

import math
from collections import deque
from heapq import heappop, heappush


class Calendar:
    """Future calendar entries by time (s), ties first-scheduled first; deferred decisions."""

    __slots__ = ("due", "at", "more", "late", "late_s")

    def __init__(self) -> None:
        # a time never reached keeps ``due[0]`` valid without testing for emptiness
        self.due: list[float] = [math.inf]
        self.at: dict[float, object] = {}
        self.more: dict[float, deque[object]] = {}
        self.late: list[int] = []  # instances whose decision waits for the instant's end
        self.late_s = -math.inf

    def schedule(self, when: float, entry: object) -> None:
        """Add ``entry`` at time ``when`` (s), after any entry already there."""
        if when in self.at:
            self.more.setdefault(when, deque()).append(entry)
        else:
            self.at[when] = entry
            heappush(self.due, when)

    def pop(self) -> tuple[float, object]:
        """Remove and return the earliest (time s, entry); the first scheduled among ties."""
        when = heappop(self.due)
        entry = self.at.pop(when)
        if self.more and when in self.more:
            waiting = self.more[when]
            self.at[when] = waiting.popleft()
            if not waiting:
                del self.more[when]
            heappush(self.due, when)
        return when, entry

    def next_s(self) -> float:
        """Time of the earliest entry (s); infinity if there is none."""
        return self.due[0]

    def __len__(self) -> int:
        return len(self.at) + sum(map(len, self.more.values()))
