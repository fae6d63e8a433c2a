"""Weighted random routing against theory: two M/M/1 queues fed in proportion to capacity.

Two single-server instances with exponential service at rates mu_1 = 1000/s and
mu_2 = 3000/s (synthetic service, max_batch 1) behind ``weighted_random``: each instance's
capacity weight is its service rate, so a Poisson stream of rate lambda splits into
independent Poisson streams of rate lambda w_i / W, and instance i is an M/M/1 queue with mean
latency 1 / (mu_i - lambda w_i / W). At lambda = 2000/s both run at utilisation 0.5: mean
latencies 2 ms and 0.667 ms.

Theory must lie inside the 99% t-interval of the replication means (independent
replications 0..n-1, 5% warm-up deleted). Power: the default profile's half-width is under 10%
of the value; routing that ignored the weights (uniform split) would put instance 1 at
utilisation 1 and instance 2 at 0.5 ms, 25% off. The slow profile (``pytest -m slow``) runs
longer replications and requires a half-width under 3%.
"""

from __future__ import annotations

import pytest

from sim import selfcheck as sc

MU_PER_S = (1000.0, 3000.0)
LAMBDA_PER_S = 2000.0


def weighted_mm1(duration_s: float) -> dict:
    """The scenario: one single-server pool per service rate, one model, weighted random."""
    pools = [{"name": f"mu{i}", "instance": "inf2.xlarge", "count": 1, "model": "job",
              "cores_per_replica": 2,  # one replica
              "service": {"kind": "exponential", "mean": sc.seconds(1 / mu)},
              "batching": {"max_batch": 1, "max_wait": 0}, "queue_limit": 10_000_000}
             for i, mu in enumerate(MU_PER_S)]  # fmt: skip
    return {
        "name": "weighted_mm1",
        "seed": 1515,
        "duration": sc.seconds(duration_s),
        "warmup": sc.seconds(duration_s * 0.05),
        "workload": {
            "arrivals": {"kind": "poisson", "rate": LAMBDA_PER_S},
            "mix": [{"model": "job", "weight": 1}],
        },  # fmt: skip
        "fleet": pools,
        "balancer": "weighted_random",
        "slo": {"percentile": 99, "target": "1s"},
    }


def mean_latency(pool: str):
    """Mean latency (s) of the completed post-warm-up requests of one pool."""

    def statistic(df, _result) -> float:
        done = df[(~df.warmup) & (df.status == "ok") & (df.pool == pool)]
        return float(done.latency_s.mean())

    return statistic


@pytest.mark.parametrize(
    ("duration_s", "replications", "narrow"),
    [
        pytest.param(4.0, 10, 0.10, id="fast"),
        pytest.param(20.0, 20, 0.03, id="full", marks=pytest.mark.slow),
    ],
)
def test_weighted_random_splits_into_mm1_queues(duration_s, replications, narrow):
    """Each instance's mean latency is 1 / (mu_i - lambda w_i / W) within the interval."""
    data = weighted_mm1(duration_s)
    statistics = [mean_latency(f"mu{i}") for i in range(len(MU_PER_S))]
    values = sc.run_replications(data, replications, statistics=statistics)
    total = sum(MU_PER_S)
    for i, mu in enumerate(MU_PER_S):
        theory = 1 / (mu - LAMBDA_PER_S * mu / total)
        mean, half = sc.interval([v[i] for v in values])
        where = (f"instance {i}: theory {theory:.6g} s, mean {mean:.6g} s +- {half:.3g} "
                 f"(99%), seed {data['seed']}, replications 0..{replications - 1}")  # fmt: skip
        print(where)
        assert abs(mean - theory) <= half, where
        assert half <= narrow * theory, where
