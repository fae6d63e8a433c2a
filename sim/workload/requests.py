"""The request stream: arrival times, models and sequence lengths, in vectorised chunks.

It depends only on the workload section and the seed - never on the fleet or the balancer -
so policies and hardware are always compared on the same requests.

Arrival times are the times an arrival process reaches by waiting, in SimPy, from one
arrival to the next: ``previous + (t - previous)``. That is ``t`` itself almost always
(exactly, whenever ``previous >= t / 2``); where floating point makes it differ, by a ulp or
so, the stream gives the reached time, so both engines see requests at the same instants.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from sim.scenario.models import default_seq_len
from sim.scenario.schema import Scenario
from sim.streams import name_index, stream
from sim.workload.mix import RequestMix
from sim.workload.replay import TraceArrivals

Chunk = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(arrival times s float64, model index int64, sequence length int64), ascending in time."""


def request_stream(
    scenario: Scenario, model_names: list[str], replication: int = 0
) -> Iterator[Chunk]:
    """Yield the run's requests chunk by chunk, at times a SimPy process reaches exactly.

    Args:
        scenario: A validated scenario.
        model_names: Names indexed by the model indexes this stream yields.
        replication: Independent replication number.

    """
    seed = scenario.seed
    entries = scenario.workload.mix
    mix = RequestMix(
        entries,
        [default_seq_len(scenario, e.model) for e in entries],
        stream(seed, "mix", replication=replication),
        [
            stream(
                seed,
                "seq_len",
                name_index(e.model),
                _occurrence(entries, i),
                replication=replication,
            )
            for i, e in enumerate(entries)
        ],
    )
    index = {name: i for i, name in enumerate(model_names)}
    entry_model = np.array([index[e.model] for e in entries], dtype=np.int64)
    arrivals = scenario.workload.arrivals
    if isinstance(arrivals, TraceArrivals):
        chunks = _replayed(scenario, arrivals, mix, model_names, entry_model)
    else:
        chunks = _generated(scenario, arrivals, mix, entry_model, replication)
    yield from reachable(chunks, scenario.duration)


def _generated(
    scenario: Scenario, arrivals, mix: RequestMix, entry_model: np.ndarray, replication: int
) -> Iterator[Chunk]:
    """Requests from an arrival process, each with a mix entry drawn for it."""
    process = arrivals.build(stream(scenario.seed, "arrivals", replication=replication))
    for times in process.chunks(scenario.duration):
        entry, seq = mix.sample(times.size)
        yield times, entry_model[entry], seq


def reachable(chunks: Iterator[Chunk], until_s: float) -> Iterator[Chunk]:
    """The chunks with each arrival time replaced by ``previous + (t - previous)`` (s).

    ``previous`` is the reached time of the request before (0 before the first): what a
    SimPy process that waits ``t - now`` from each arrival to the next lands on. Requests
    pushed to ``until_s`` or beyond by that (a ulp) are left out.
    """
    previous = 0.0
    for times, models, seqs in chunks:
        if times.size == 0:
            continue
        times = _reached(times, previous)
        previous = float(times[-1])
        keep = times < until_s
        if not keep[-1]:
            times, models, seqs = times[keep], models[keep], seqs[keep]
            if times.size == 0:
                continue
        yield times, models, seqs


def _occurrence(entries: list, i: int) -> int:
    """How many earlier mix entries name the same model as entry ``i``."""
    return sum(1 for e in entries[:i] if e.model == entries[i].model)


def _replayed(
    scenario: Scenario,
    arrivals: TraceArrivals,
    mix: RequestMix,
    model_names: list[str],
    entry_model: np.ndarray,
) -> Iterator[Chunk]:
    """Requests from a trace; what the file does not give comes from the mix."""
    data = arrivals.load()
    index = {name: i for i, name in enumerate(model_names)}
    # the mix entry that supplies lengths for a model named by the trace: its first entry
    first_entry = np.full(len(model_names), -1, dtype=np.int64)
    for i in range(len(entry_model) - 1, -1, -1):
        first_entry[entry_model[i]] = i
    defaults = np.array([default_seq_len(scenario, n) for n in model_names], dtype=np.int64)
    for part in data.chunks(scenario.duration):
        times = data.times_s[part]
        if data.models is not None:
            model = np.array([index[m] for m in data.models[part]], dtype=np.int64)
            entry = first_entry[model]
        else:
            entry = mix.choose(times.size)
            model = entry_model[entry]
        if data.seq_lens is not None:
            seq = data.seq_lens[part]
        else:
            seq = mix.seq_lens(entry, fallback=defaults[model])
        yield times, model, seq


def _reached(times: np.ndarray, previous: float) -> np.ndarray:
    """``times`` (s) with each replaced by its reached time (a copy if any differs).

    The first is waited for from ``previous`` (s), each next from the one before.
    """
    start = 0
    while True:
        before = np.empty(times.size - start)
        before[0] = previous if start == 0 else times[start - 1]
        before[1:] = times[start:-1]
        part = times[start:]
        off = np.flatnonzero(before + (part - before) != part)
        if off.size == 0:
            return times
        if start == 0:
            times = times.copy()
        i = start + int(off[0])
        last = previous if i == 0 else float(times[i - 1])
        times[i] = last + (float(times[i]) - last)
        start = i + 1
        if start == times.size:
            return times
