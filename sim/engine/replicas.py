"""Replicas of the SimPy model (``sim.engine.model``): processes holding NeuronCores or GPUs.

A ``Replica`` serves one batch at a time; a ``PipelinedReplica`` spans several cores (or
stages its next input) and takes a new batch every interval. Each belongs to one *epoch* of
its instance: a failure starts a new epoch with new replicas, and the old processes, waking
from a wait, see that their epoch is over and end without touching the instance.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sim.engine.phases import FleetTimeout, delay_to, freed_key, leave_key
from sim.engine.records import Request

if TYPE_CHECKING:
    from sim.engine.model import Instance


class Replica:
    """A replica serving one batch at a time: a process that holds it for the service time.

    Args:
        instance: The instance it belongs to.
        number: Its number in the instance (trace ``replica_id``).
        epoch: The instance's epoch it serves in.

    """

    def __init__(self, instance: Instance, number: int, epoch: int) -> None:
        self.instance = instance
        self.env = instance.env
        self.number = number
        self.epoch = epoch
        self.free = True
        self.inside: deque[tuple[float, float, list[Request]]] = deque()  # (start, s, batch)
        self.given = self.env.event()  # succeeds with the next batch
        self.env.process(self.serve())

    def take(self, batch: list[Request]) -> None:
        """Start serving ``batch`` now."""
        self.free = False
        self.given.succeed(batch)

    def accelerator_s(self, batch: list[Request]) -> tuple[float, float]:
        """The batch's accelerator time holding the replica, and its staged time after (s).

        The pool's times for its size and longest sequence; one jitter factor scales both
        (``sim.policies.jitter``); staged is 0 unless the pool stages inputs (``Pool.staged_s``).
        """
        pool = self.instance.pool
        size, longest = len(batch), max(r.seq_len for r in batch)
        service_s = pool.service_s(size, longest)
        if not service_s >= 0:  # NaN too: a batch cannot take negative or no defined time
            raise ValueError(f"pool {pool.name!r}: a batch's service time is {service_s!r} s")
        staged_s = 0.0 if pool.staged_s is None else pool.staged_s(size, longest)
        if pool.jitter is not None:
            factor = pool.jitter.next()
            service_s *= factor
            staged_s *= factor
        return service_s, staged_s

    def host_s(self, batch: list[Request]) -> float:
        """Seconds of host work before the accelerator (``sim.policies.host``)."""
        host = self.instance.pool.host
        return 0.0 if host.free else host.seconds(len(batch), sum(r.seq_len for r in batch))

    def serve(self) -> Iterator:
        """Wait for a batch, serve it, hand its requests back; again."""
        instance = self.instance
        number = instance.number
        while True:
            batch = yield self.given
            self.given = self.env.event()
            start_s = self.env.now
            host_s = self.host_s(batch)
            service_s = host_s + self.accelerator_s(batch)[0]
            self.inside.append((start_s, service_s, batch))
            yield FleetTimeout(self.env, service_s, leave_key(number, self.number))
            if instance.epoch != self.epoch:
                return  # the instance failed meanwhile: the batch was lost with it
            self.inside.popleft()
            instance.finish(batch, start_s, service_s, self.number)
            self.free = True
            instance.replica_done()


class PipelinedReplica(Replica):
    """A replica over ``pipeline_depth`` cores: a new batch every interval, in-order exits.

    The host stage comes first: the replica is free again after host + one interval, and
    the batch leaves after host + ``pipeline_depth`` intervals (or after the batch before it).
    A one-core replica staging its next input (``Pool.staged_s``) runs here too, its batch
    leaving host + interval + staged after it started.
    """

    def __init__(self, instance: Instance, number: int, epoch: int) -> None:
        super().__init__(instance, number, epoch)
        self.last_leave_s = 0.0  # when the latest batch leaves (s)

    def serve(self) -> Iterator:
        """Take a batch, send it down the stages, be free again after one interval."""
        instance = self.instance
        number = instance.number
        while True:
            batch = yield self.given
            self.given = self.env.event()
            now = self.env.now
            host_s = self.host_s(batch)
            interval_s, staged_s = self.accelerator_s(batch)
            depth = instance.pool.pipeline_depth
            out_s = max(now + host_s + (interval_s * depth + staged_s), self.last_leave_s)
            leave_in_s = delay_to(now, out_s)
            self.last_leave_s = now + leave_in_s
            self.inside.append((now, out_s - now, batch))
            self.env.process(self.carry(leave_in_s))
            yield FleetTimeout(self.env, host_s + interval_s, freed_key(number, self.number))
            if instance.epoch != self.epoch:
                return
            self.free = True
            instance.replica_freed()

    def carry(self, leave_in_s: float) -> Iterator:
        """The oldest batch inside leaves after ``leave_in_s`` (s)."""
        instance = self.instance
        yield FleetTimeout(self.env, leave_in_s, leave_key(instance.number, self.number))
        if instance.epoch != self.epoch:
            return
        start_s, time_inside_s, batch = self.inside.popleft()
        instance.finish(batch, start_s, time_inside_s, self.number)
        instance.left()
