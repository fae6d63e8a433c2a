"""The phases of an instant: in which order things that happen at the same time happen.

Everything in a run - SimPy's own events, the events of processes the user adds, and the
fleet's - is ordered by (time, phase key, order scheduled). At one instant ``t``:

1. **SimPy's and the user's events** (priorities URGENT and NORMAL), in SimPy's own order;
   a process observing or acting on the fleet at ``t`` sees it before the fleet's events at
   ``t``.
2. **Arrivals** at ``t``, in arrival order (a balancer choosing for the second of two
   simultaneous requests sees the first one queued); then clients' retries at ``t``, in the
   order they were scheduled (``sim.engine.clients``).
3. **The fleet's timed events** at ``t``: the measured window starting; then, per instance
   by number, its ``max_wait`` deadline, then per replica by number a batch leaving it and a
   pipelined replica freed.
4. **Batching decisions**, per instance by number: every arrival, completion and deadline
   at ``t`` is known before any batch starts at ``t``.

What a phase does may add events at ``t`` (a zero service time, say): they take their place
by key, so an event of an earlier phase runs next. Only events with equal keys (batches
leaving one pipelined replica together) keep the order they were scheduled in. The result
never depends on the order in which simultaneous events were scheduled, which is what lets
the SimPy model (``sim.engine.model``) and the compiled kernel (``sim.engine._kernel``) agree
to the last bit.

The keys are integers above SimPy's priorities (URGENT 0, NORMAL 1): phase in the top bits,
then instance number, then a slot within the instance. The kernel uses the same numbers.
"""

from __future__ import annotations

import math

import simpy
from simpy.events import NORMAL, Event, EventPriority

ARRIVAL_PHASE = 1
FLEET_PHASE = 2
DECISION_PHASE = 3
_PHASE_SHIFT = 56
_INSTANCE_SHIFT = 20
MAX_INSTANCES = 1 << (_PHASE_SHIFT - _INSTANCE_SHIFT)
MAX_REPLICAS = ((1 << _INSTANCE_SHIFT) - 3) // 2

ARRIVAL = ARRIVAL_PHASE << _PHASE_SHIFT
RETRY = ARRIVAL | 1  # a client's retry: after the new arrivals of its instant, in order sent
WINDOW_START = FLEET_PHASE << _PHASE_SHIFT  # before every instance's events


def deadline_key(instance: int) -> int:
    """Key of an instance's ``max_wait`` deadline."""
    return (FLEET_PHASE << _PHASE_SHIFT) | (instance << _INSTANCE_SHIFT) | 1


def leave_key(instance: int, replica: int) -> int:
    """Key of a batch leaving a replica (its service done, or the last pipeline stage)."""
    return (FLEET_PHASE << _PHASE_SHIFT) | (instance << _INSTANCE_SHIFT) | (2 + 2 * replica)


def freed_key(instance: int, replica: int) -> int:
    """Key of a pipelined replica becoming free for its next batch."""
    return (FLEET_PHASE << _PHASE_SHIFT) | (instance << _INSTANCE_SHIFT) | (3 + 2 * replica)


def decision_key(instance: int) -> int:
    """Key of an instance's batching decision."""
    return (DECISION_PHASE << _PHASE_SHIFT) | (instance << _INSTANCE_SHIFT)


class RunEnvironment(simpy.Environment):
    """The run's SimPy environment: events of the fleet take their phase key as priority.

    User processes use it like any ``simpy.Environment``; their events keep SimPy's
    priorities and so come first at an instant (phase 1). A custom priority given to
    ``schedule`` must stay below ``ARRIVAL``.
    """

    def schedule(self, event: Event, priority: EventPriority = NORMAL, delay: float = 0) -> None:
        """Schedule ``event`` after ``delay`` s; a ``FleetTimeout`` with its phase key."""
        super().schedule(event, getattr(event, "key", priority), delay)


class FleetTimeout(simpy.Timeout):
    """A timeout of the fleet: fires ``delay`` s from now, ordered by ``key`` at its instant.

    Args:
        env: A ``RunEnvironment``.
        delay: Seconds from now (>= 0).
        key: Its phase key (``ARRIVAL``, ``deadline_key(...)``, ...).
        value: What the waiting process receives.

    """

    def __init__(self, env: RunEnvironment, delay: float, key: int, value: object = None):
        if not isinstance(env, RunEnvironment):
            raise TypeError("a FleetTimeout needs a RunEnvironment (its key is its priority)")
        self.key = key  # read by RunEnvironment.schedule, called by Timeout.__init__
        super().__init__(env, delay, value)


def delay_to(now: float, when: float) -> float:
    """Smallest delay ``d >= 0`` (s) with ``now + d >= when`` in floating point.

    SimPy's clock moves by ``now + delay``, which need not equal ``when`` for ``delay =
    when - now``; this delay never lands a ulp early (a request is never served before its
    deadline).
    """
    delay = when - now
    if delay <= 0:
        return 0.0
    while now + delay < when:
        delay = math.nextafter(delay, math.inf)
    return delay
