"""Capacity-weighted balancers on hand-made states: exact cycles, tie rules, frequencies."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.engine.fleet import Fleet
from sim.engine.pool import Pool, capacity_per_s
from sim.policies.balancers import (
    WeightedLeastOutstanding,
    WeightedRandom,
    WeightedRoundRobin,
)
from sim.streams import stream

IDLE = [0, 0, 0]


def rng():
    return stream(0, "balancer")


def weighted(kind, weights):
    """A balancer of ``kind`` told the weights of its group, as the engines do."""
    b = kind(len(weights), rng())
    b.resize(len(weights), weights)
    return b


def test_smooth_wrr_gives_nginx_sequence():
    """Weights 5, 1, 1: the sequence nginx documents, a a b a c a a, then again."""
    b = weighted(WeightedRoundRobin, [5.0, 1.0, 1.0])
    assert "".join("abc"[b.pick(IDLE, IDLE)] for _ in range(14)) == "aabacaa" * 2


@pytest.mark.parametrize("weights", [[3.0, 2.0], [1.0, 4.0, 2.0, 7.0], [2.0, 2.0, 2.0]])
def test_smooth_wrr_serves_each_weight_exactly_per_cycle(weights):
    """Over every cycle of W = sum of the (integer) weights requests, instance i is chosen
    exactly w_i times."""
    b = weighted(WeightedRoundRobin, weights)
    total = int(sum(weights))
    load = [0] * len(weights)
    picks = [b.pick(load, load) for _ in range(5 * total)]
    for cycle in range(5):
        counts = np.bincount(picks[cycle * total : (cycle + 1) * total], minlength=len(weights))
        assert counts.tolist() == [int(w) for w in weights]


def test_smooth_wrr_restarts_when_the_group_changes():
    """After a resize every current weight is 0 again: the heaviest instance goes first."""
    b = weighted(WeightedRoundRobin, [1.0, 3.0])
    assert [b.pick([0, 0], [0, 0]) for _ in range(3)] == [1, 0, 1]
    b.resize(3, [1.0, 3.0, 2.0])
    # by hand: c = 1 3 2 -> 1; 2 0 4 -> 2; 3 3 0 -> 0 (tie); -2 6 2 -> 1; -1 3 4 -> 2; 0 6 0 -> 1
    assert [b.pick(IDLE, IDLE) for _ in range(6)] == [1, 2, 0, 1, 2, 1]


def test_weighted_least_outstanding_per_unit_of_capacity():
    """Lowest outstanding / weight; ties go to the lowest index."""
    b = weighted(WeightedLeastOutstanding, [1.0, 4.0, 2.0])
    assert b.pick([1, 3, 2], IDLE) == 1  # 1.0, 0.75, 1.0
    assert b.pick([1, 4, 2], IDLE) == 0  # 1.0, 1.0, 1.0: a three-way tie
    assert b.pick([2, 8, 3], IDLE) == 2  # 2.0, 2.0, 1.5
    assert b.pick(IDLE, IDLE) == 0


def test_weighted_random_matches_the_cumulative_rule():
    """Each pick is the first index whose cumulative weight exceeds u * W for the next
    variate u of the balancer's stream (the rule the kernel applies)."""
    weights = [0.5, 2.0, 1.5]
    b, probe = weighted(WeightedRandom, weights), rng().random(5000)
    cumulative = np.cumsum(weights)
    want = np.searchsorted(cumulative, probe * cumulative[-1], side="right")
    assert [b.pick(IDLE, IDLE) for _ in range(5000)] == want.tolist()


def test_weighted_random_frequencies():
    """Share of picks per instance within 4.5 binomial standard deviations of w_i / W over
    60k picks (a false alarm has probability below 1e-5 per instance)."""
    weights = [1.0, 2.0, 3.0, 0.25]
    n = 60_000
    b = weighted(WeightedRandom, weights)
    counts = np.bincount([b.pick([0] * 4, [0] * 4) for _ in range(n)], minlength=4)
    for i, w in enumerate(weights):
        p = w / sum(weights)
        bound = 4.5 * math.sqrt(n * p * (1 - p))
        assert abs(counts[i] - n * p) < bound, (i, counts.tolist(), "seed 0 balancer stream")


def test_capacity_per_s():
    """Replicas x full batch / (host + batch time): 2 x 8 / (0.001 + 0.015) = 1000/s."""
    assert capacity_per_s(0.015, 8, 2, host_s=0.001) == pytest.approx(1000.0)


def test_a_weighted_balancer_needs_every_pool_capacity():
    """A pool without capacity_per_s cannot sit behind a weighted balancer: named."""
    pools = [Pool(1, 0, 1, 1, 0.0, 10, lambda b, s: 1.0, name="gpu", capacity_per_s=1.0),
             Pool(1, 0, 1, 1, 0.0, 10, lambda b, s: 1.0, name="inf")]  # fmt: skip
    with pytest.raises(ValueError, match="pool 'inf'.*capacity_per_s"):
        Fleet(pools, [WeightedRandom(2, rng())])
    with pytest.raises(ValueError, match="capacity_per_s = 0.0"):
        Fleet([Pool(1, 0, 1, 1, 0.0, 10, lambda b, s: 1.0, capacity_per_s=0.0)],
              [WeightedRandom(1, rng())])  # fmt: skip
