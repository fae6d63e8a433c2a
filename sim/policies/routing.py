"""Routing ahead of the compiled kernel: each chunk of requests with its candidates drawn.

Balancers whose randomness does not depend on the state (``CompiledPick.DRAWN``: round
robin, random, power of two) draw the candidates of a whole chunk in one numpy call
(``Balancer.draw``, the same variates as ``pick``); the kernel then routes a request with one
comparison. For a balancer that must see the state at the arrival (least outstanding,
join-shortest-queue) the candidates are ``-1 - model`` and the kernel chooses when the
request arrives. The SimPy model calls ``Balancer.pick`` instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from sim.policies.balancers import Balancer, CompiledPick
from sim.workload.requests import Chunk

Candidates = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""(arrival times s float64, sequence lengths int64, first candidates int64, second int64,
routes int64: each request's first hop, ``sim.engine.routes``)."""


def candidates(
    balancers: list[Balancer | None],
    group_start: list[int],
    chunks: Iterator[Chunk],
    until_s: float,
    hop_model: list[int] | None = None,
) -> Iterator[Candidates]:
    """Per chunk: arrival times s, sequence lengths, both candidates, and routes.

    Candidates are fleet instance numbers; for a balancer that must see the state at the
    arrival, both are ``-1 - model``. The arrays are contiguous float64 and int64. A
    chunk's second array is each request's route (its first hop); ``hop_model`` maps a hop
    to its model (default: hops are models).
    """
    starts = group_start
    to_model = None if hop_model is None else np.asarray(hop_model, dtype=np.int64)
    for times, routes, seqs in checked(chunks, balancers, until_s, hop_model):
        models = routes if to_model is None else to_model[routes]
        n = times.size
        first = np.empty(n, dtype=np.int64)
        second = np.empty(n, dtype=np.int64)
        single = models[0] == models[-1] and bool((models == models[0]).all())
        for m in [int(models[0])] if single else np.unique(models).tolist():
            mask = slice(None) if single else models == m
            count = n if single else int(np.count_nonzero(mask))
            balancer = balancers[m]
            if balancer.compiled is CompiledPick.DRAWN:
                drawn = balancer.draw(count)
                first[mask] = drawn[0] + starts[m]
                second[mask] = drawn[1] + starts[m]
            else:
                first[mask] = second[mask] = -1 - m
        yield (
            np.ascontiguousarray(times, dtype=np.float64),
            np.ascontiguousarray(seqs, dtype=np.int64),
            first,
            second,
            np.ascontiguousarray(routes, dtype=np.int64),
        )


def checked(
    chunks: Iterator[Chunk],
    balancers: list[Balancer | None],
    until_s: float,
    hop_model: list[int] | None = None,
) -> Iterator[Chunk]:
    """The non-empty chunks, each checked before any of its requests is applied.

    Both engines trust these: arrival times ascend from 0, stay before ``until_s`` (s) and
    are each reached exactly by a SimPy wait from the one before
    (``sim.workload.requests.reachable``); a route (a model, or with ``hop_model`` any first
    hop) picks a balancer and an instance range; a sequence length is held as a float64 in
    the kernel (exact below 2**53).
    """
    previous = 0.0
    to_model = None if hop_model is None else np.asarray(hop_model, dtype=np.int64)
    routes = len(balancers) if to_model is None else len(to_model)
    for times, hops, seqs in chunks:
        if times.size == 0:
            continue
        before = np.concatenate(([previous], times[:-1]))
        if not ((times >= before) & (before + (times - before) == times)).all():
            raise ValueError(
                "arrival times must ascend from 0, each reached exactly from the one before"
            )
        if not times[-1] < until_s:
            raise ValueError(f"arrival times must be before the end of the run ({until_s} s)")
        previous = float(times[-1])
        if hops.min() < 0 or hops.max() >= routes:
            raise ValueError(f"model indexes outside 0..{routes - 1} in a chunk")
        models = hops if to_model is None else to_model[hops]
        if seqs.min() < 0 or seqs.max() >= 2**53:
            raise ValueError("sequence lengths outside 0..2**53 - 1 in a chunk")
        served = models[:1] if bool((models == models[0]).all()) else np.unique(models)
        for m in served.tolist():
            if balancers[m] is None:
                raise ValueError(f"requests for model {m}, which no pool serves")
        yield times, hops, seqs
