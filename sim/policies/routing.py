"""Routing ahead of the loop: each chunk of requests with its balancer candidates drawn.

Balancers whose randomness does not depend on the state (round robin, random, power of two)
draw the candidates of a whole chunk in one numpy call (``Balancer.draw``); the event loop
then routes a request with one comparison. For a balancer that must see the state at the
arrival (least outstanding, join-shortest-queue) the candidates are ``-1 - model`` and the
loop chooses when the request arrives.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from sim.engine.fleet import Fleet
from sim.workload.requests import Chunk

Candidates = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""(arrival times s float64, sequence lengths int64, first candidates int64, second int64)."""


def candidates(fleet: Fleet, chunks: Iterator[Chunk]) -> Iterator[Candidates]:
    """Per chunk, (arrival times s, sequence lengths, first candidates, second candidates).

    Candidates are fleet instance numbers; for a balancer that must see the state at the
    arrival, both are ``-1 - model``. The arrays are contiguous float64 and int64.
    """
    balancers = fleet.balancers
    starts = fleet.group_start
    for times, models, seqs in chunks:
        n = times.size
        if n == 0:
            continue
        # the compiled loop trusts these: a model index picks a balancer and an instance
        # range, and a sequence length is held as a float64 (exact below 2**53)
        if models.min() < 0 or models.max() >= len(balancers):
            raise ValueError(f"model indexes outside 0..{len(balancers) - 1} in a chunk")
        if seqs.min() < 0 or seqs.max() >= 2**53:
            raise ValueError("sequence lengths outside 0..2**53 - 1 in a chunk")
        first = np.empty(n, dtype=np.int64)
        second = np.empty(n, dtype=np.int64)
        single = models[0] == models[-1] and bool((models == models[0]).all())
        for m in [int(models[0])] if single else np.unique(models).tolist():
            mask = slice(None) if single else models == m
            count = n if single else int(np.count_nonzero(mask))
            balancer = balancers[m]
            if balancer is None:
                raise ValueError(f"requests for model {m}, which no pool serves")
            drawn = balancer.draw(count)
            if drawn is None:
                first[mask] = second[mask] = -1 - m
            else:
                first[mask] = drawn[0] + starts[m]
                second[mask] = drawn[1] + starts[m]
        yield (
            np.ascontiguousarray(times, dtype=np.float64),
            np.ascontiguousarray(seqs, dtype=np.int64),
            first,
            second,
        )
