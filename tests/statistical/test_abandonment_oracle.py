"""Abandonment and availability theory against a deliberately simple numpy simulation.

The oracle is the FCFS recursion for c servers: customer i arrives at t_i and would start
at the earliest server-free time f, so its offered wait is max(0, f - t_i); it leaves if that
exceeds its patience (taking no server, so it delays nobody), else it holds that server for
its service time. This is exact for FCFS with any patience and shares no code with the
birth-death chain or the level-crossing formulas of ``analysis.abandonment``.

Each case: 200,000 customers from a seeded Generator, the first 5,000 dropped as warm-up, the
rest cut into 20 batches; theory must lie inside the 99.9% t-interval of the batch means
(t_{0.9995, 19} = 3.883) and the half-width must be under 8% of the value (power).
"""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from analysis.abandonment import (
    availability,
    availability_standard_error,
    erlang_a,
    mmc_d_abandonment,
    mmc_sojourn_timeout_share,
)
from analysis.timeouts import mmc_timeout_share

CUSTOMERS, WARMUP, BATCHES, T_999 = 200_000, 5_000, 20, 3.883


def _simulate(lam, mu, c, patience, seed, sojourn=False):
    """Per-customer outcome of M/M/c with the given patience: 0 served (in time), 1 abandoned.

    ``patience`` is a float (deterministic) or ('exp', theta). With ``sojourn`` the patience
    is a timeout on wait + service, service not interrupted (fleetsim's client-timeout rule,
    see analysis.timeouts): a customer served but finishing after it has outcome 2.
    """
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / lam, CUSTOMERS))
    services = rng.exponential(1.0 / mu, CUSTOMERS)
    if isinstance(patience, tuple):
        limits = rng.exponential(1.0 / patience[1], CUSTOMERS)
    else:
        limits = np.full(CUSTOMERS, float(patience))
    free = [0.0] * c
    out = np.zeros(CUSTOMERS)
    rows = zip(arrivals.tolist(), services.tolist(), limits.tolist(), strict=True)
    for i, (t, s, limit) in enumerate(rows):
        wait = max(0.0, free[0] - t)
        if wait > limit:
            out[i] = 1.0
            continue
        heapq.heapreplace(free, t + wait + s)
        if sojourn and wait + s > limit:
            out[i] = 2.0
    return out[WARMUP:]


def _interval(outcomes):
    means = np.array([b.mean() for b in np.array_split(outcomes, BATCHES)])
    return means.mean(), T_999 * means.std(ddof=1) / np.sqrt(BATCHES)


CASES = [
    # (name, lambda, mu, c, patience, sojourn, theory)
    ("erlang_a_c1", 0.9, 1.0, 1, ("exp", 0.5), False, erlang_a(0.9, 1.0, 1, 0.5).p_abandon),
    ("erlang_a_c4_over", 4.4, 1.0, 4, ("exp", 1.0), False, erlang_a(4.4, 1.0, 4, 1.0).p_abandon),
    ("mmc_d_c2", 1.9, 1.0, 2, 1.0, False, mmc_d_abandonment(1.9, 1.0, 2, 1.0).p_abandon),
    ("mmc_d_c8_over", 9.6, 1.0, 8, 0.5, False, mmc_d_abandonment(9.6, 1.0, 8, 0.5).p_abandon),
    ("sojourn_c4", 3.6, 1.0, 4, 2.0, True, mmc_sojourn_timeout_share(3.6, 1.0, 4, 2.0)),
]

TIMEOUT_CASES = [
    # (name, lambda, mu, c, patience as the oracle takes it, as mmc_timeout_share takes it)
    ("fixed_c4_over", 4.4, 1.0, 4, 1.0, (1.0, "fixed")),
    ("exponential_c4_over", 4.4, 1.0, 4, ("exp", 1.0), (1.0, "exponential")),
    ("exponential_c8_over", 9.6, 1.0, 8, ("exp", 2.0), (0.5, "exponential")),
]


@pytest.mark.parametrize("case", TIMEOUT_CASES, ids=[c[0] for c in TIMEOUT_CASES])
def test_timed_out_share_in_its_two_parts(case):
    """Client-timeout rule: the abandoned and the served-late shares each lie in the 99.9%
    interval of ``analysis.timeouts.mmc_timeout_share`` (fixed and exponential patience)."""
    name, lam, mu, c, patience, (mean_s, kind) = case
    seed = 1520 + TIMEOUT_CASES.index(case)
    theory = mmc_timeout_share(lam, mu, c, mean_s, kind)
    outcomes = _simulate(lam, mu, c, patience, seed, sojourn=True)
    for part, code, value in (("abandoned", 1, theory.p_abandon),
                              ("served late", 2, theory.p_served_late)):  # fmt: skip
        mean, half = _interval(outcomes == code)
        msg = f"{name} {part}: seed {seed}, theory {value:.5f}, simulated {mean:.5f} +- {half:.5f}"
        assert abs(mean - value) <= half, msg
        assert half <= 0.08 * value, msg


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_abandoned_share_matches_theory(case):
    """The simulated abandoned (timed-out) share lies in the 99.9% interval of the formula."""
    name, lam, mu, c, patience, sojourn, theory = case
    seed = 1500 + CASES.index(case)
    mean, half = _interval(_simulate(lam, mu, c, patience, seed, sojourn) > 0)
    msg = f"{name}: seed {seed}, theory {theory:.5f}, simulated {mean:.5f} +- {half:.5f}"
    assert abs(mean - theory) <= half, msg
    assert half <= 0.08 * theory, msg


def test_availability_interval_from_one_run_covers_theory():
    """Alternating renewal, exponential up/down: A +- 3.29 SE (99.9%) holds and SE is right.

    400 independent units over 2e5 s each (MTBF 1 h, MTTR 400 s); the spread of their
    availability estimates must match ``availability_standard_error`` within 15% (the sd of
    a sample sd of 400 is ~3.5%), and the pooled estimate must lie within 3.29 pooled SE.
    """
    seed, units, horizon_s, mtbf_s, mttr_s = 1510, 400, 2e5, 3600.0, 400.0
    rng = np.random.default_rng(seed)
    cycles = int(3 * horizon_s / (mtbf_s + mttr_s))
    up = rng.exponential(mtbf_s, (units, cycles))
    down = rng.exponential(mttr_s, (units, cycles))
    ends = np.cumsum(up + down, axis=1)
    starts = ends - up - down  # each cycle: up on [start, start + up), then down
    up_in = np.clip(np.minimum(starts + up, horizon_s) - starts, 0.0, None)
    estimates = up_in.sum(axis=1) / horizon_s
    assert (ends[:, -1] > horizon_s).all()
    theory = availability(mtbf_s, mttr_s)
    se_one = availability_standard_error(mtbf_s, mttr_s, horizon_s)
    se_all = availability_standard_error(mtbf_s, mttr_s, horizon_s, units=units)
    msg = (
        f"seed {seed}: theory {theory:.5f}, mean {estimates.mean():.5f}, "
        f"sd {estimates.std(ddof=1):.5f}, SE {se_one:.5f}"
    )
    assert abs(estimates.mean() - theory) <= 3.29 * se_all, msg
    assert estimates.std(ddof=1) == pytest.approx(se_one, rel=0.15), msg
