"""The request stream: arrival times, models and sequence lengths, in vectorised chunks.

It depends only on the workload section and the seed - never on the fleet or the balancer -
so policies and hardware are always compared on the same requests.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from sim.scenario.checks import default_seq_len
from sim.scenario.schema import Scenario
from sim.streams import name_index, stream
from sim.workload.mix import RequestMix
from sim.workload.replay import TraceArrivals

Chunk = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(arrival times s float64, model index int64, sequence length int64), ascending in time."""


def request_stream(
    scenario: Scenario, model_names: list[str], replication: int = 0
) -> Iterator[Chunk]:
    """Yield the run's requests chunk by chunk.

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
        yield from _replayed(scenario, arrivals, mix, model_names, entry_model)
        return
    process = arrivals.build(stream(seed, "arrivals", replication=replication))
    for times in process.chunks(scenario.duration):
        entry, seq = mix.sample(times.size)
        yield times, entry_model[entry], seq


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
