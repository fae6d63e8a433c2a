"""Load balancers: a pure choice of instance from read-only per-instance counts.

A balancer serves one *group*: the instances in service (across pools) that serve one
model, in instance-number order. It sees two lists the engine keeps current, indexed by
position in the group:

* ``outstanding[i]`` - requests at instance i, waiting or in service;
* ``queued[i]`` - requests at instance i still waiting for a replica.

When the fleet changes (an instance joins or leaves service) the engine calls ``resize``
and the lists follow. Ties always go to the lowest index, so a run is reproducible. Random
choices come from the balancer's own stream.

The compiled kernel runs each built-in policy in its own form (``CompiledPick``), choosing
at the arrival from the same variates (``variates``: the blocks ``pick`` reads). A policy of
your own whose randomness does not depend on the state may instead give ``draw(n)``: for each
of the next n requests, two candidate indices, drawn in one numpy call; the request goes to
the second if it has strictly fewer outstanding requests, else to the first. Drawing ahead
needs a fixed group, so such a policy runs compiled only in a fleet that does not change.
``pick``, ``draw`` and ``variates`` take the same variates from the stream in the same order
(tested), but one balancer object should be driven through only one of them.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

import numpy as np

_BLOCK = 4096


class CompiledPick(IntEnum):
    """How the compiled kernel (``sim/engine/_kernel.pyx``) runs a policy.

    A balancer declares one as its ``compiled`` attribute; the kernel's equality tests hold
    that form to the class's ``pick``. A balancer without one runs on the SimPy engine.
    """

    DRAWN = 0  # candidates drawn in advance by ``draw``; the less loaded of the two wins
    LEAST_OUTSTANDING = 1  # lowest index among the fewest outstanding
    SHORTEST_QUEUE = 2  # lowest (queued, outstanding, index)
    ROUND_ROBIN = 3  # the next index, wrapping at the number in service
    RANDOM = 4  # one variate (``variates``) per request
    POWER_OF_TWO = 5  # two variates per request when two or more serve


class Balancer:
    """Base class: ``pick`` returns the group index of the instance for the next request.

    To add a policy: subclass, implement ``pick`` (and ``draw`` if its randomness does not
    depend on the state), set ``compiled`` if the kernel has its form, and add one line to
    ``BALANCERS``.
    """

    compiled: ClassVar[CompiledPick | None] = None  # the kernel's form, if it has one

    def __init_subclass__(cls, **kwargs: object) -> None:
        """A subclass that changes ``pick``, ``draw`` or ``variates`` states its compiled form.

        Otherwise it would inherit its parent's, and the kernel would run the parent's
        policy: a silent difference between the engines.
        """
        super().__init_subclass__(**kwargs)
        if "compiled" not in cls.__dict__ and {"pick", "draw", "variates"} & cls.__dict__.keys():
            cls.compiled = None

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size = size
        self.rng = rng

    def resize(self, size: int) -> None:
        """The group now has ``size`` instances in service (the fleet changed).

        Indexes are positions among the instances in service, in instance-number order.
        """
        self.size = size

    def pick(self, outstanding: list[int], queued: list[int]) -> int:
        """Choose an instance index in ``range(size)``."""
        raise NotImplementedError

    def draw(self, n: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Candidates (first, second) for the next ``n`` requests, vectorised.

        None if the choice needs the state at each arrival; the engine then calls ``pick``.
        """
        return None


class RoundRobin(Balancer):
    """Instances in turn: 0, 1, ..., size-1, 0, ...

    The next index wraps to 0 when it reaches the number of instances in service, so after
    the group shrinks the turn restarts at 0.
    """

    compiled = CompiledPick.ROUND_ROBIN

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        super().__init__(size, rng)
        self._next = 0

    def pick(self, outstanding: list[int], queued: list[int]) -> int:
        """Next instance in cyclic order."""
        choice = self._next if self._next < self.size else 0
        self._next = choice + 1
        return choice

    def draw(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``n`` indices in cyclic order, as both candidates."""
        start = self._next if self._next < self.size else 0
        choice = (start + np.arange(n, dtype=np.int64)) % self.size
        self._next = int((start + n - 1) % self.size) + 1
        return choice, choice


class _RandomBlock(Balancer):
    """Shared machinery: uniform variates drawn ``_BLOCK`` at a time, mapped to indices."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        super().__init__(size, rng)
        self._block: list[float] = []
        self._pos = 0

    def _draw(self, high: int) -> int:
        """A uniform integer in [0, high)."""
        if self._pos >= len(self._block):
            self._block = self.rng.random(_BLOCK).tolist()
            self._pos = 0
        value = self._block[self._pos]
        self._pos += 1
        return int(value * high)

    def variates(self) -> np.ndarray:
        """The next block of the uniform variates ``pick`` reads, for the compiled kernel.

        The kernel takes them in the order ``pick`` would; drive a balancer through only one
        of ``pick``, ``draw`` and ``variates``.
        """
        return self.rng.random(_BLOCK)


class Random(_RandomBlock):
    """Uniformly random instance, independent of load (k independent queues at rate λ/k)."""

    compiled = CompiledPick.RANDOM

    def pick(self, outstanding: list[int], queued: list[int]) -> int:
        """A uniform random index."""
        return self._draw(self.size)

    def draw(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` uniform random indices, as both candidates."""
        choice = (self.rng.random(n) * self.size).astype(np.int64)
        return choice, choice


class LeastOutstanding(Balancer):
    """Instance with the fewest outstanding (waiting + in-service) requests."""

    compiled = CompiledPick.LEAST_OUTSTANDING

    def pick(self, outstanding: list[int], queued: list[int]) -> int:
        """Lowest index among the least loaded."""
        return outstanding.index(min(outstanding))


class PowerOfTwo(_RandomBlock):
    """Two distinct instances sampled uniformly; the one with fewer outstanding requests wins.

    Ties go to the first sampled. With one instance it always picks it (drawing nothing).
    """

    compiled = CompiledPick.POWER_OF_TWO

    def pick(self, outstanding: list[int], queued: list[int]) -> int:
        """The less loaded of two random distinct instances."""
        size = self.size
        if size == 1:
            return 0
        position = self._pos
        if position + 2 > len(self._block):  # refill (same stream as _draw's blocks)
            first = self._draw(size)
            second = self._draw(size - 1)
        else:  # _draw, inlined for the hot path
            block = self._block
            first = int(block[position] * size)
            second = int(block[position + 1] * (size - 1))
            self._pos = position + 2
        if second >= first:
            second += 1
        return second if outstanding[second] < outstanding[first] else first

    def draw(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs of distinct uniform indices (the same variates ``pick`` uses)."""
        if self.size == 1:
            zero = np.zeros(n, dtype=np.int64)
            return zero, zero
        u = self.rng.random(2 * n)
        first = (u[0::2] * self.size).astype(np.int64)
        second = (u[1::2] * (self.size - 1)).astype(np.int64)
        second += second >= first
        return first, second


class JoinShortestQueue(Balancer):
    """Instance with the fewest waiting requests; ties by fewest outstanding, then index.

    With one replica per instance and no batching this is the classical JSQ (fewest in
    system).
    """

    compiled = CompiledPick.SHORTEST_QUEUE

    def pick(self, outstanding: list[int], queued: list[int]) -> int:
        """Lowest (queued, outstanding, index)."""
        shortest = min(queued)
        best = -1
        best_load = 0
        for i, q in enumerate(queued):
            if q == shortest and (best < 0 or outstanding[i] < best_load):
                best, best_load = i, outstanding[i]
        return best


BALANCERS: dict[str, type[Balancer]] = {
    "round_robin": RoundRobin,
    "random": Random,
    "least_outstanding": LeastOutstanding,
    "power_of_two": PowerOfTwo,
    "join_shortest_queue": JoinShortestQueue,
}


def make_balancer(kind: str, size: int, rng: np.random.Generator) -> Balancer:
    """Build the balancer of ``kind`` for a group of ``size`` instances."""
    return BALANCERS[kind](size, rng)
