"""An analytic lower bound on a pool's instance count: its utilisation must stay below 1.

A pool of ``n`` instances with ``r`` replicas each can do at most ``n * r`` replica-seconds of
work per second. A request of length ``s`` costs a replica at least ``min_b t(b, s) / b``
seconds, where ``t(b, s)`` is the hardware model's time per batch of ``b`` (a pipeline's
interval) at the pool's largest batch or any smaller one: the best batching the pool could
ever achieve, with no padding to a longer request. So the pool needs more than
``rate * E[min_b t(b, s) / b] / r`` instances, ``rate`` being the mean rate of requests for
its model over the run. The search (``sim.planning.search``) starts there and checks by
simulation that one instance fewer than its answer misses the SLO.
"""

from __future__ import annotations

import math

import numpy as np

from sim.engine.estimate import expected_requests
from sim.engine.pool import Pool, plan_pools
from sim.scenario.groups import pool_models
from sim.scenario.models import default_seq_len, model_names, pipeline_named
from sim.scenario.pipelines import next_seq_lens
from sim.scenario.schema import ChoiceSeqLen, FixedSeqLen, MixEntry, Scenario, UniformSeqLen
from sim.workload.arrivals import TraceArrivals


def seq_len_pmf(entry: MixEntry, default: int) -> tuple[np.ndarray, np.ndarray]:
    """A mix entry's sequence lengths and their probabilities."""
    dist = entry.seq_len
    if dist is None:
        return np.array([default]), np.array([1.0])
    if isinstance(dist, FixedSeqLen):
        return np.array([dist.value]), np.array([1.0])
    if isinstance(dist, ChoiceSeqLen):
        weights = np.asarray(dist.weights or [1.0] * len(dist.values), dtype=float)
        return np.asarray(dist.values), weights / weights.sum()
    assert isinstance(dist, UniformSeqLen)
    values = np.arange(dist.low, dist.high + 1)
    return values, np.full(len(values), 1.0 / len(values))


def demand(scenario: Scenario, model: str) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """What the mix asks of ``model``: (weight, lengths, probabilities) per mix entry.

    One tuple per entry whose requests reach the model, directly or as a stage of a
    pipeline (``sim.scenario.pipelines``), with the lengths they have at that model.
    """
    out = []
    for entry in scenario.workload.mix:
        pipeline = pipeline_named(scenario, entry.model)
        lengths, probabilities = seq_len_pmf(entry, default_seq_len(scenario, entry.model))
        if pipeline is None:
            if entry.model == model:
                out.append((entry.weight, lengths, probabilities))
            continue
        for stage in pipeline.stages:
            lengths = next_seq_lens(stage.seq_len, np.asarray(lengths, dtype=np.int64))
            if stage.model == model:
                out.append((entry.weight, lengths, probabilities))
    return out


def best_work_per_request_s(scenario: Scenario, index: int, pool: Pool) -> float:
    """Replica-seconds (s) a request of pool ``index`` costs at the best possible batching.

    Averaged over the sequence lengths the mix sends to the pool's model (``demand``).

    Args:
        scenario: The scenario.
        index: The pool's position in the fleet.
        pool: The pool as the engines run it (``sim.engine.pool.plan_pools``).

    """
    config = scenario.fleet[index]
    batches = range(1, pool.max_batch + 1)
    entries = demand(scenario, config.model)
    total = sum(weight for weight, _, _ in entries)
    work = 0.0
    for weight, lengths, probabilities in entries:
        if config.service is not None:  # a synthetic service: its mean per batch size
            work += weight / total * min(config.service.mean_s(b) / b for b in batches)
            continue
        per_length = [  # the host stage holds the replica too (sim.policies.host)
            min((pool.host.seconds(b, b * int(s)) + pool.service_s(b, int(s))) / b for b in batches)
            for s in lengths
        ]
        work += weight / total * float(np.dot(probabilities, per_length))
    return work


def lower_bound_count(scenario: Scenario, pool_name: str) -> tuple[int, str]:
    """The fewest instances that keep the pool's utilisation below 1, and how it was found.

    Returns:
        (count, reason). The count is 1, with the reason, when no bound can be computed: the
        pool's model is served by other pools too (the balancer splits its traffic), or its
        requests come from a replayed trace.

    """
    index = next(i for i, p in enumerate(scenario.fleet) if p.name == pool_name)
    config = scenario.fleet[index]
    if isinstance(scenario.workload.arrivals, TraceArrivals):
        return 1, "no bound: the arrivals are a replayed trace"
    if sum(config.model in pool_models(p) for p in scenario.fleet) > 1:
        return 1, f"no bound: other pools serve {config.model} too"
    share = sum(weight for weight, _, _ in demand(scenario, config.model)) / sum(
        e.weight for e in scenario.workload.mix
    )
    rate_per_s = expected_requests(scenario) / scenario.duration * share
    if rate_per_s <= 0:
        return 1, "no bound: no request needs this pool"
    pool = plan_pools(scenario, model_names(scenario))[index]
    busy = rate_per_s * best_work_per_request_s(scenario, index, pool) / pool.replicas
    return math.floor(busy) + 1, f"utilisation < 1 needs more than {busy:.2f} instances"


def unloaded_latency_s(scenario: Scenario, pool_name: str) -> float | None:
    """The SLO percentile of a request's latency in an idle pool (s): no count does better.

    An idle replica serves a request alone: after ``max_wait`` when it may batch (nobody
    joins), then for its host stage and ``pipeline_depth`` intervals of a batch of one, plus
    the tail a replica staging its next input leaves after the interval (at
    its padded shape; jitter has mean 1 and is left out). None for a synthetic
    service (its draws have no fixed floor) or when no mix entry needs the pool. For a
    pipeline's stage, the stage's own: the other stages only add to it.
    """
    index = next(i for i, p in enumerate(scenario.fleet) if p.name == pool_name)
    config = scenario.fleet[index]
    entries = demand(scenario, config.model)
    if config.service is not None or not entries:
        return None
    pool = plan_pools(scenario, model_names(scenario))[index]
    wait_s = pool.max_wait_s if pool.max_batch > 1 else 0.0
    total = sum(weight for weight, _, _ in entries)
    latencies, probabilities = [], []
    for weight, lengths, pmf in entries:
        latencies += [
            wait_s
            + pool.host.seconds(1, int(s))
            + pool.pipeline_depth * pool.service_s(1, int(s))
            + (0.0 if pool.staged_s is None else pool.staged_s(1, int(s)))  # its staged tail
            for s in lengths
        ]
        probabilities += list(pmf * weight / total)
    order = np.argsort(latencies)
    cumulative = np.cumsum(np.asarray(probabilities)[order])
    at = int(np.searchsorted(cumulative, scenario.slo.percentile / 100 - 1e-12))
    return float(np.asarray(latencies)[order][min(at, len(order) - 1)])
