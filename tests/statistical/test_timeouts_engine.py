"""Client timeouts in the engine against queueing theory (``analysis.timeouts``).

M/M/c with client deadlines: one instance of c replicas, exponential service, max_batch 1,
Poisson arrivals. A request still waiting at its deadline never starts (abandoned); one in
service past it finishes but is timed out (served late). Both shares must match
``mmc_timeout_share`` within a 99.9% batch-means interval (20 batches by arrival time), for a
fixed timeout (M/M/c+D) and for exponential patience (Erlang-A). The run engine is the one
built (the compiled kernel, or the SimPy model on an install without a compiler).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import chunk, exponential_service, reached

from analysis.schema import TIMED_OUT
from analysis.timeouts import mmc_timeout_share
from sim.engine.clients import ClientRules
from sim.engine.fleet import Fleet
from sim.engine.pool import Pool
from sim.engine.records import RecordBuffer
from sim.engine.runner import drive
from sim.policies.balancers import RoundRobin
from sim.streams import stream

LAM, MU, C, T = 95.0, 10.0, 10, 0.2  # 95% busy: a fifth of requests time out
T_CRIT = 3.883  # Student t, 19 degrees of freedom, two-sided 99.9%


def run(seed: int, distribution: str, requests: int):
    """Rows (arrival, timed out before start, timed out in service) of one run."""
    rng = np.random.default_rng(seed)
    times = reached(np.cumsum(rng.exponential(1 / LAM, requests)).tolist())
    service = exponential_service(np.random.default_rng(seed + 1), MU)
    pool = Pool(1, 0, C, 1, 0.0, 10**9, service, name="mmc")
    fleet = Fleet([pool], [RoundRobin(1, stream(seed, "balancer"))])
    patience_rng = np.random.default_rng(seed + 2)
    rules = (
        ClientRules(timeout_s=T)
        if distribution == "fixed"
        else ClientRules(patience=lambda: patience_rng.exponential(T, 4096))
    )
    writer = RecordBuffer()
    until = times[-1] + 1e-9
    drive(fleet, writer, [chunk(times)], until, clients=rules)
    numbers, rows = writer.take()
    counts = numbers[:, 7].astype(int)
    per = np.repeat(numbers, counts, axis=0)
    start, finish, status = per[:, 0], per[:, 1], per[:, 6]
    deadline = rows[:, 4]
    late = (status == 0) & (finish > deadline)  # the writer turns these into timed_out
    abandoned = (status == TIMED_OUT) & np.isnan(start)
    return rows[:, 1], abandoned, late


@pytest.mark.parametrize("distribution", ["fixed", "exponential"])
def test_timed_out_shares_match_mmc_theory(distribution):
    """Abandoned and served-late shares within a 99.9% batch-means interval of theory."""
    seed, n = 20261202, 150_000
    arrival, abandoned, late = run(seed, distribution, n)
    keep = arrival >= 20.0  # warm-up: the queue starts empty
    arrival, abandoned, late = arrival[keep], abandoned[keep], late[keep]
    theory = mmc_timeout_share(LAM, MU, C, T, distribution)
    edges = np.linspace(arrival.min(), arrival.max(), 21)
    batch = np.clip(np.searchsorted(edges, arrival, side="right") - 1, 0, 19)
    for name, hit, want in (
        ("abandoned", abandoned, theory.p_abandon),
        ("served late", late, theory.p_served_late),
    ):
        shares = np.array([hit[batch == b].mean() for b in range(20)])
        half = T_CRIT * shares.std(ddof=1) / math.sqrt(20)
        assert abs(shares.mean() - want) <= half, (
            f"{distribution} {name}: {shares.mean():.4f} +- {half:.4f} vs theory {want:.4f} "
            f"(seed {seed})"
        )
        assert half < 0.3 * want, f"{name}: interval too wide to fail ({half:.4f})"
