"""Balancer decisions on hand-made states: exact, ties to the lowest index."""

from __future__ import annotations

import numpy as np
import pytest

from sim.policies.balancers import (
    JoinShortestQueue,
    LeastOutstanding,
    PowerOfTwo,
    Random,
    RoundRobin,
)
from sim.streams import stream


def rng():
    return stream(0, "balancer")


def test_round_robin_cycles():
    """0, 1, 2, 0, 1 whatever the load."""
    b = RoundRobin(3, rng())
    assert [b.pick([9, 0, 0], [9, 0, 0]) for _ in range(5)] == [0, 1, 2, 0, 1]


def test_least_outstanding_lowest_index_on_ties():
    """Fewest outstanding wins; ties go to the lowest index."""
    assert LeastOutstanding(4, rng()).pick([3, 1, 1, 2], [0, 0, 0, 0]) == 1


def test_jsq_uses_queue_then_outstanding():
    """Shortest waiting queue first; among equals, fewest outstanding; then lowest index."""
    b = JoinShortestQueue(4, rng())
    assert b.pick([5, 3, 4, 2], [1, 0, 0, 1]) == 1
    assert b.pick([5, 4, 3, 2], [1, 0, 0, 1]) == 2  # tie on queue 0: fewer outstanding wins
    assert b.pick([2, 2, 2, 2], [0, 0, 0, 0]) == 0


def test_random_is_uniform():
    """Uniform over instances: chi-square within bounds over 40k picks."""
    b = Random(8, rng())
    picks = np.array([b.pick([0] * 8, [0] * 8) for _ in range(40_000)])
    counts = np.bincount(picks, minlength=8)
    chi2 = ((counts - 5000) ** 2 / 5000).sum()
    assert chi2 < 24.3  # 99.9% point of chi-square with 7 dof


def test_power_of_two_picks_less_loaded_of_two_distinct():
    """Never the most loaded of two; with one clearly idle instance it is chosen often."""
    b = PowerOfTwo(4, rng())
    load = [10, 10, 0, 10]
    picks = [b.pick(load, [0] * 4) for _ in range(10_000)]
    # instance 2 is in the sampled pair with probability 1/2 and then always wins
    assert abs(picks.count(2) / 10_000 - 0.5) < 0.03
    assert PowerOfTwo(1, rng()).pick([5], [5]) == 0


def test_power_of_two_ties_go_to_the_first_sampled():
    """With equal loads the first of the two sampled instances is chosen."""
    probe, b = PowerOfTwo(4, rng()), PowerOfTwo(4, rng())
    for _ in range(200):
        first = probe._draw(4)
        probe._draw(3)
        assert b.pick([1, 1, 1, 1], [0, 0, 0, 0]) == first


@pytest.mark.parametrize("kind", [RoundRobin, Random, PowerOfTwo])
@pytest.mark.parametrize("size", [1, 2, 7])
def test_vectorised_draw_routes_as_pick(kind, size):
    """draw(n) plus the candidate rule chooses exactly what pick would, request by request,
    whatever the loads and however the requests are split into blocks."""
    loads = np.random.default_rng(size).integers(0, 4, size=(5000, size)).tolist()
    picker, drawer = kind(size, rng()), kind(size, rng())
    want = [picker.pick(load, load) for load in loads]
    got, done = [], 0
    for n in [1, 3, 4096, 900]:  # blocks that straddle pick's internal 4096-variate block
        first, second = drawer.draw(n)
        for a, b, load in zip(first.tolist(), second.tolist(), loads[done : done + n], strict=True):
            got.append(b if load[b] < load[a] else a)
        done += n
    assert got == want[:done]


def test_state_dependent_balancers_have_no_draw():
    """Least outstanding and JSQ must see the state at each arrival: no vectorised form."""
    assert LeastOutstanding(3, rng()).draw(5) is None
    assert JoinShortestQueue(3, rng()).draw(5) is None


def test_a_subclass_keeps_its_compiled_form_only_if_its_policy_is_unchanged():
    """A subclass that changes neither ``pick`` nor ``draw`` is still its parent's policy:
    it keeps the compiled form; changing either one drops it (the kernel would run the
    parent's); stating ``compiled`` again keeps it."""
    from sim.policies.balancers import CompiledPick

    class Tuned(PowerOfTwo):
        def __init__(self, size, rng):
            super().__init__(size, rng)

    class NewDraw(RoundRobin):
        def draw(self, n):
            return super().draw(n)

    class Declared(RoundRobin):
        compiled = CompiledPick.DRAWN

        def pick(self, outstanding, queued):
            return super().pick(outstanding, queued)

    assert Tuned.compiled is CompiledPick.POWER_OF_TWO
    assert NewDraw.compiled is None
    assert Declared.compiled is CompiledPick.DRAWN
