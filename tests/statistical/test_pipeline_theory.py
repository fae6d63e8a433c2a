"""A two-stage pipeline in the engine against queueing theory: tandem M/M/1 queues.

Poisson arrivals at rate lambda pass through stage a (one replica, exponential service at
rate mu_a, max_batch 1), then stage b (rate mu_b). By Burke's theorem the departures of an
M/M/1 queue are Poisson, and a request's sojourn times at the two stations of a tandem are
independent (Reich 1957): each stage's latency is exponential with rate mu - lambda, and the
end-to-end latency is their sum (hypoexponential). Checked here, within 99.9% batch-means
intervals (20 batches by arrival time) narrow enough to fail:

* each stage's mean latency and the end-to-end mean;
* the end-to-end latency's distribution at three quantiles of the closed form;
* the two stages' latencies uncorrelated.

The run engine is the one built (the compiled kernel, or the SimPy model without a
compiler); ``tests/oracle/test_pipelines.py`` holds the engines to identical records.
"""

from __future__ import annotations

import math

import numpy as np
from helpers import chunk, exponential_service, reached

from analysis.schema import OK
from sim.engine.fleet import Fleet
from sim.engine.pool import Pool
from sim.engine.records import RecordBuffer
from sim.engine.routes import Routes
from sim.engine.runner import drive
from sim.policies.balancers import RoundRobin
from sim.scenario.pipelines import PipelineConfig
from sim.streams import stream

LAM, MU_A, MU_B = 70.0, 100.0, 120.0  # 70% and 58% busy
T_CRIT = 3.883  # Student t, 19 degrees of freedom, two-sided 99.9%


def tandem(seed: int, requests: int):
    """Per request served end to end: (arrival s, stage a latency s, stage b latency s)."""
    rng = np.random.default_rng(seed)
    times = reached(np.cumsum(rng.exponential(1 / LAM, requests)).tolist())
    pools = [
        Pool(1, 0, 1, 1, 0.0, 10**9, exponential_service(np.random.default_rng(seed + 1), MU_A),
             name="a"),
        Pool(1, 1, 1, 1, 0.0, 10**9, exponential_service(np.random.default_rng(seed + 2), MU_B),
             name="b"),
    ]  # fmt: skip
    pipeline = PipelineConfig(name="ab", stages=[{"model": "a"}, {"model": "b"}])
    routes = Routes.build(["a", "b"], [pipeline])
    balancers = [RoundRobin(1, stream(seed, "balancer", m)) for m in range(2)]
    fleet = Fleet(pools, balancers, model_names=["a", "b"], routes=routes)
    writer = RecordBuffer()
    drive(fleet, writer, [chunk(times, models=[2] * len(times))], times[-1] + 1e-9)
    numbers, rows = writer.take()
    per = np.repeat(numbers, numbers[:, 7].astype(int), axis=0)
    finish, status = per[:, 1], per[:, 6]
    ids, hop, entered = rows[:, 0].astype(np.int64), rows[:, 6].astype(int), rows[:, 7]
    a_done = (hop == 2) & (status == OK)
    b_done = (hop == 3) & (status == OK)
    a_latency = dict(zip(ids[a_done].tolist(), (finish - entered)[a_done].tolist(), strict=True))
    out = [
        (arrival, a_latency[i], b)
        for i, arrival, b in zip(
            ids[b_done].tolist(), rows[b_done, 1].tolist(), (finish - entered)[b_done].tolist(),
            strict=True,
        )
    ]  # fmt: skip
    out.sort()
    return np.array(out)


def hypoexponential_cdf(t: float, a: float, b: float) -> float:
    """P(X + Y <= t) for independent X ~ Exp(a), Y ~ Exp(b), a != b."""
    return 1.0 - (b * math.exp(-a * t) - a * math.exp(-b * t)) / (b - a)


def interval(values: np.ndarray, batch: np.ndarray) -> tuple[float, float]:
    """Mean and 99.9% half-width of ``values`` by batch means over 20 batches."""
    means = np.array([values[batch == k].mean() for k in range(20)])
    return float(means.mean()), T_CRIT * float(means.std(ddof=1)) / math.sqrt(20)


def test_tandem_mm1_latencies_match_burke_and_reich():
    """Stage and end-to-end latencies of a tandem M/M/1 pipeline match their closed forms."""
    data = tandem(20261202, 200_000)
    data = data[data[:, 0] >= 30.0]  # warm-up: both queues start empty
    arrival, a, b = data.T
    edges = np.linspace(arrival.min(), arrival.max(), 21)
    batch = np.clip(np.searchsorted(edges, arrival, side="right") - 1, 0, 19)
    rate_a, rate_b = MU_A - LAM, MU_B - LAM
    checks = [
        ("stage a mean", a, 1 / rate_a),
        ("stage b mean", b, 1 / rate_b),
        ("end-to-end mean", a + b, 1 / rate_a + 1 / rate_b),
    ]
    # quantiles of the closed form: the share at or below each must be its level
    total = a + b
    for level in (0.5, 0.9, 0.99):
        lo, hi = 0.0, 10.0
        for _ in range(100):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if hypoexponential_cdf(mid, rate_a, rate_b) < level else (lo, mid)
        checks.append((f"P(end to end <= q{level})", (total <= lo).astype(float), level))
    for name, values, want in checks:
        mean, half = interval(values, batch)
        assert abs(mean - want) <= half, f"{name}: {mean:.5f} +- {half:.5f}, theory {want:.5f}"
        assert half < 0.1 * want, f"{name}: interval +- {half:.5f} too wide to test {want:.5f}"
    centred = (a - a.mean()) * (b - b.mean())
    corr, half = interval(centred / (a.std() * b.std()), batch)
    assert abs(corr) <= half < 0.1, f"stage latencies correlated: {corr:.4f} +- {half:.4f}"
