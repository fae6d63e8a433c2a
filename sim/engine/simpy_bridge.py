"""SimPy processes in a run's environment, stepped from the fleet's calendar.

The Python event loop (``sim.engine.loop``) keeps the fleet's own calendar; a SimPy process started
in the run's environment (an observer, say) has its events in SimPy's queue. The bridge
mirrors each SimPy event as a calendar entry so that both run in one time order, as one
SimPy queue would run them.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop

import simpy
from simpy.core import URGENT

from sim.engine.fleet import SimPyDue


class SimPyBridge:
    """SimPy's own events, mirrored into the fleet calendar: one ``SimPyDue`` per event.

    An event's entry is scheduled when the event is (before the loop, or right after the
    SimPy step that created it), so at a shared instant SimPy events and fleet entries run in
    the order they were scheduled, as they would in one SimPy queue. Popping an entry steps
    SimPy's next event, which is due at the same time (the two hold the same times). What
    SimPy schedules with URGENT priority at the current instant (a process starting, an
    interrupt) runs at once, before anything else at the instant, as SimPy runs it.
    """

    def __init__(self, env: simpy.Environment, schedule: Callable[[float, object], None]):
        self.env = env
        self.queue = env._queue  # SimPy's heap of (time, priority, id, event)
        self.schedule = schedule
        self.entry = SimPyDue()
        self.seen = -1  # the highest SimPy event id mirrored so far
        self.mirror()

    def mirror(self) -> None:
        """Schedule an entry for every SimPy event not yet mirrored, in SimPy's id order."""
        new = sorted((eid, when) for when, _, eid, _ in self.queue if eid > self.seen)
        for _, when in new:
            self.schedule(when, self.entry)
        if new:
            self.seen = new[-1][0]

    def step(self, now: float) -> None:
        """Process SimPy's next event, due at ``now`` (s), then what it made urgent."""
        self.env._now = now
        when, _, _, event = heappop(self.queue)
        if when != now:
            raise RuntimeError(f"SimPy event due at {when} s stepped at {now} s")
        _step_simpy(event)
        queue = self.queue
        # made urgent by that step (not yet mirrored): SimPy runs these before all else now
        while queue and queue[0][0] == now and queue[0][1] == URGENT and queue[0][2] > self.seen:
            _step_simpy(heappop(queue)[3])
        self.mirror()


def _step_simpy(event) -> None:
    """Process one SimPy event as ``simpy.Environment.step`` does."""
    callbacks, event.callbacks = event.callbacks, None
    for callback in callbacks:
        callback(event)
    if not event._ok and not hasattr(event, "_defused"):
        exc = type(event._value)(*event._value.args)
        exc.__cause__ = event._value
        raise exc
