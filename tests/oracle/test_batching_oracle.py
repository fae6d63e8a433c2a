"""An independent reference model of the batching rule, compared request by request with
both engines.

The oracle (``batching_oracle`` in tests/support/helpers.py) steps through candidate
instants (next arrival, replica completions, the oldest waiting request's deadline). At each
instant it applies every completion and every arrival first (drops see the queue as it
stands), then starts batches while the rule allows. Events at ``until`` itself are not
processed, as with SimPy's ``run(until=...)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import ENGINES, batching_oracle, instance_log, reached
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.schema import DROPPED, IN_FLIGHT

NAN = math.nan


pytestmark = ENGINES


def run_engine(engine, times, seqs, *, replicas, max_batch, max_wait, queue_limit, service,
               until):  # fmt: skip
    """Drive an engine with the given arrivals; return rows sorted by id and its state."""
    return instance_log(
        list(zip(times, seqs, strict=True)),
        engine=engine,
        replicas=replicas,
        max_batch=max_batch,
        max_wait=max_wait,
        queue_limit=queue_limit,
        service=service,
        until=until,
    )


def same(a, b) -> bool:
    return all(
        (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
        or x == y
        for x, y in zip(a, b, strict=True)
    )


def check(engine, times, seqs, info, **cfg):
    """Assert the engine and the oracle agree on every request; print info on mismatch."""
    want = batching_oracle(times, seqs, **cfg)
    got, state = run_engine(engine, times, seqs, **cfg)
    ctx = f"{info} cfg={ {k: v for k, v in cfg.items() if k != 'service'} }"
    assert [r[0] for r in got] == list(range(len(want))), f"request ids differ; {ctx}"
    arrivals = reached(times)
    for rid, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g[1] == arrivals[rid], f"arrival of {rid}: {g[1]} != {arrivals[rid]}; {ctx}"
        assert same(g[2:], w), f"request {rid} (arrival {g[1]}): engine {g[2:]} oracle {w}; {ctx}"
    flying = [w for w in want if w[4] == IN_FLIGHT]
    assert state.waiting(0) + state.in_service(0) == len(flying), ctx
    assert state.waiting(0) == sum(math.isnan(w[0]) for w in flying), ctx
    return want


def affine(base, per, seq_coef=0.0):
    return lambda b, s: base + per * b + seq_coef * s


def grid_arrivals(rng, n, gaps=(0.0, 0.0, 0.0, 0.25, 0.25, 0.5, 1.0, 2.0)):
    """Non-decreasing times on a 0.25 grid with many exact ties (clumps of equal instants)."""
    times = np.cumsum(rng.choice(np.array(gaps), size=n)).tolist()
    seqs = rng.choice(np.array([16, 64, 128, 256]), size=n).tolist()
    return times, seqs


CONFIGS = [  # (max_batch, max_wait, replicas, queue_limit, service)
    (1, 0.0, 1, 100, affine(1.0, 0.0)),
    (1, 0.5, 2, 100, affine(0.5, 0.25)),
    (4, 0.0, 1, 100, affine(0.5, 0.25)),
    (4, 0.5, 2, 100, affine(0.25, 0.25, 1 / 256)),
    (3, 1.0, 3, 100, affine(1.0, 0.5)),
    (8, 2.0, 2, 100, affine(0.75, 0.25)),
    (2, 0.25, 8, 100, affine(2.0, 0.25)),
    (16, 0.75, 16, 100, affine(1.0, 0.125, 1 / 128)),
    (5, 0.25, 1, 3, affine(1.0, 0.5)),
    (3, 0.0, 2, 1, affine(1.5, 0.25)),
]


@pytest.mark.parametrize("cfg_index", range(len(CONFIGS)))
@pytest.mark.parametrize("seed", range(12))
def test_grid_arrivals_match_oracle(engine, cfg_index, seed):
    """Random tied grid arrivals: every request's start/finish/size/replica/status match."""
    max_batch, max_wait, replicas, queue_limit, service = CONFIGS[cfg_index]
    rng = np.random.default_rng(seed)
    times, seqs = grid_arrivals(rng, int(rng.integers(1, 120)))
    until = float(times[-1]) + 1000.0 if seed % 3 == 0 else float(rng.integers(1, 60)) * 0.25
    cfg = dict(max_batch=max_batch, max_wait=max_wait, replicas=replicas)
    cfg |= dict(queue_limit=queue_limit, service=service, until=until)
    check(engine, times, seqs, f"seed={seed} config#{cfg_index}", **cfg)


@pytest.mark.parametrize("seed", range(25))
def test_overflowing_queue_with_bursts(engine, seed):
    """Bursts of simultaneous arrivals overflow a small queue_limit; drops match exactly."""
    rng = np.random.default_rng(1000 + seed)
    times, seqs = grid_arrivals(rng, 150, gaps=(0.0,) * 6 + (0.25, 1.0))
    cfg = dict(
        replicas=int(rng.integers(1, 4)),
        max_batch=int(rng.integers(1, 6)),
        max_wait=float(rng.integers(0, 5)) * 0.25,
        queue_limit=int(rng.integers(1, 8)),
        service=affine(float(rng.integers(1, 8)) * 0.25, 0.25),
        until=float(times[-1]) + 1.0,
    )
    rows = check(engine, times, seqs, f"seed={1000 + seed}", **cfg)
    assert any(r[4] == DROPPED for r in rows), "the scenario should overflow the queue"


@pytest.mark.parametrize("seed", range(25))
def test_run_ends_with_requests_in_flight(engine, seed):
    """A run cut short (until on the event grid) leaves in-service and waiting requests."""
    rng = np.random.default_rng(2000 + seed)
    times, seqs = grid_arrivals(rng, 80)
    until = float(times[len(times) // 2])  # an arrival instant: that arrival is not processed
    cfg = dict(replicas=2, max_batch=3, max_wait=0.5, queue_limit=50, until=until)
    rows = check(engine, times, seqs, f"seed={2000 + seed}", service=affine(1.0, 0.5), **cfg)
    assert any(r[4] == IN_FLIGHT for r in rows) or not rows


def test_hand_built_coincidences(engine):
    """Arrivals exactly at a completion and at a deadline join that instant's batch."""
    # Deadline 1.0 of requests 0, 1 = arrival of 2, 3: one batch of 3. At 2.0 the completion,
    # the arrival of 4 and the deadline of 3 coincide: batch (3, 4). At 3.0 a completion and
    # the arrival of 6 coincide, but 5 (arrived 2.5) only reaches its deadline at 3.5.
    times, seqs = [0.0, 0.0, 1.0, 1.0, 2.0, 2.5, 3.0], [64] * 7
    cfg = dict(replicas=1, max_batch=3, max_wait=1.0, queue_limit=10, until=10.0)
    rows = check(engine, times, seqs, "hand-built", service=affine(1.0, 0.0), **cfg)
    assert [(r[0], r[2]) for r in rows] == [(1.0, 3)] * 3 + [(2.0, 2)] * 2 + [(3.5, 2)] * 2


@pytest.mark.parametrize("seed", range(10))
def test_continuous_times_match_oracle(engine, seed):
    """Off-grid float arrivals and services: same float arithmetic, so exact agreement."""
    rng = np.random.default_rng(3000 + seed)
    times = np.cumsum(rng.exponential(0.3, size=200)).tolist()
    seqs = rng.integers(16, 512, size=200).tolist()
    cfg = dict(replicas=3, max_batch=4, max_wait=0.37, queue_limit=6, until=50.0)
    check(engine, times, seqs, f"seed={3000 + seed}", service=affine(0.3, 0.11, 0.001), **cfg)


@settings(max_examples=400, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 4), max_size=30),
    seq_codes=st.lists(st.sampled_from([16, 64, 256]), min_size=30, max_size=30),
    max_batch=st.integers(1, 5),
    wait_q=st.integers(0, 6),
    replicas=st.integers(1, 4),
    queue_limit=st.integers(1, 6),
    base_q=st.integers(1, 8),
    per_q=st.integers(0, 4),
    until_q=st.integers(1, 80),
)
def test_hypothesis_small_configs(
    engine, gaps, seq_codes, max_batch, wait_q, replicas, queue_limit, base_q, per_q, until_q
):
    """Hypothesis-drawn small configs and 0.25-grid arrival lists agree with the oracle."""
    times = (np.cumsum(gaps) * 0.25).tolist()
    cfg = dict(max_batch=max_batch, max_wait=wait_q * 0.25, replicas=replicas)
    cfg |= dict(queue_limit=queue_limit, until=until_q * 0.25)
    service = affine(base_q * 0.25, per_q * 0.25, 1 / 256)
    seqs = seq_codes[: len(times)]
    check(engine, times, seqs, f"times={times} seqs={seqs}", service=service, **cfg)
