"""The models a scenario names and the sequence lengths each is asked for.

A model is the scenario's own (``models:``), a zoo model, or - when only synthetic pools
serve it - a label. Sequence-length ranges are read from the configs (``seq_len_bounds``:
no list is built); only hardware service tables list every length (``seq_lens_of``).
"""

from __future__ import annotations

import numpy as np

from hardware import zoo
from sim.scenario.groups import pool_models, served_models
from sim.scenario.pipelines import PipelineConfig, next_seq_len, next_seq_lens
from sim.scenario.schema import ChoiceSeqLen, FixedSeqLen, MixEntry, Scenario, UniformSeqLen
from sim.workload.replay import TraceArrivals

SYNTHETIC_DEFAULT_SEQ_LEN = 1  # length recorded for a model known only to synthetic pools


def resolve_model(scenario: Scenario, name: str) -> zoo.ModelSpec:
    """The model a scenario means by ``name``: its own ``models:`` entry, else the zoo.

    Raises:
        KeyError: no such model.

    """
    custom = scenario.models.get(name)
    if custom is not None:
        return zoo.TransformerEncoder(
            name=name,
            layers=custom.layers,
            hidden=custom.hidden,
            heads=custom.heads,
            ffn=custom.ffn,
            vocab=custom.vocab,
            max_positions=custom.max_positions,
        )
    return zoo.model(name)


def synthetic_only(scenario: Scenario, name: str) -> bool:
    """True if every pool serving ``name`` uses a synthetic service model.

    Such a model needs no architecture: its name is just a label.
    """
    pools = [p for p in scenario.fleet if name in pool_models(p)]
    return bool(pools) and all(p.service is not None for p in pools)


def pipeline_named(scenario: Scenario, name: str) -> PipelineConfig | None:
    """The scenario's pipeline called ``name``, or None (then ``name`` is a model)."""
    return next((p for p in scenario.pipelines if p.name == name), None)


def first_model(scenario: Scenario, name: str) -> str:
    """The model a mix entry's requests go to first: ``name``, or its pipeline's first stage."""
    pipeline = pipeline_named(scenario, name)
    return name if pipeline is None else pipeline.stages[0].model


def default_seq_len(scenario: Scenario, name: str) -> int:
    """Sequence length used when none is given: the model's default, or 1 for a label.

    For a pipeline, its first stage model's.
    """
    name = first_model(scenario, name)
    try:
        return resolve_model(scenario, name).default_seq_len
    except KeyError:
        return SYNTHETIC_DEFAULT_SEQ_LEN


def seq_len_bounds(entry: MixEntry, default: int) -> tuple[int, int]:
    """The shortest and longest sequence length a mix entry can produce (O(1): no list)."""
    dist = entry.seq_len
    if dist is None:
        return default, default
    if isinstance(dist, FixedSeqLen):
        return dist.value, dist.value
    if isinstance(dist, ChoiceSeqLen):
        return min(dist.values), max(dist.values)
    if isinstance(dist, UniformSeqLen):
        return dist.low, dist.high
    raise TypeError(f"unknown seq_len distribution {dist!r}")


def seq_len_support(entry: MixEntry, default: int) -> np.ndarray:
    """Every sequence length a mix entry can produce (int64, ascending).

    Only for models with a hardware service table, whose lengths were checked against the
    model's range (a few thousand values at most).
    """
    dist = entry.seq_len
    if isinstance(dist, ChoiceSeqLen):
        return np.unique(np.asarray(dist.values, dtype=np.int64))
    low, high = seq_len_bounds(entry, default)
    return np.arange(low, high + 1, dtype=np.int64)


def model_names(scenario: Scenario) -> list[str]:
    """The models of a run, sorted: a request's model index points into this list.

    Pipelines are not models: their stages' models are (``sim.engine.routes``).
    """
    asked = {first_model(scenario, e.model) for e in scenario.workload.mix}
    stages = {stage.model for p in scenario.pipelines for stage in p.stages}
    return sorted(served_models(scenario) | asked | stages)


def seq_len_bounds_by_model(scenario: Scenario) -> dict[str, tuple[int, int]]:
    """Per model, the shortest and longest sequence length it can be asked for (O(mix))."""
    bounds: dict[str, tuple[int, int]] = {}

    def widen(name: str, low: int, high: int) -> None:
        old = bounds.get(name, (low, high))
        bounds[name] = (min(old[0], low), max(old[1], high))

    for entry in scenario.workload.mix:
        low, high = seq_len_bounds(entry, default_seq_len(scenario, entry.model))
        pipeline = pipeline_named(scenario, entry.model)
        if pipeline is None:
            widen(entry.model, low, high)
            continue
        for stage in pipeline.stages:  # next_seq_len never decreases with its input
            low, high = next_seq_len(stage.seq_len, low), next_seq_len(stage.seq_len, high)
            widen(stage.model, low, high)
    arrivals = scenario.workload.arrivals
    if isinstance(arrivals, TraceArrivals):
        for name, lengths in _replayed_seq_lens(scenario, arrivals).items():
            widen(name, int(lengths.min()), int(lengths.max()))
    for name in model_names(scenario):
        if name not in bounds:
            default = default_seq_len(scenario, name)
            bounds[name] = (default, default)
    return bounds


def seq_lens_of(scenario: Scenario, name: str) -> np.ndarray:
    """Every sequence length model ``name`` can be asked for (int64, ascending).

    From the mix and a replayed trace: the columns of a hardware service table.
    """
    parts = []
    for entry in scenario.workload.mix:
        pipeline = pipeline_named(scenario, entry.model)
        if pipeline is None:
            if entry.model == name:
                parts.append(seq_len_support(entry, default_seq_len(scenario, name)))
            continue
        support = seq_len_support(entry, default_seq_len(scenario, entry.model))
        for stage in pipeline.stages:
            support = np.unique(next_seq_lens(stage.seq_len, support))
            if stage.model == name:
                parts.append(support)
    arrivals = scenario.workload.arrivals
    if isinstance(arrivals, TraceArrivals):
        replayed = _replayed_seq_lens(scenario, arrivals).get(name)
        if replayed is not None:
            parts.append(replayed)
    if not parts:
        return np.array([default_seq_len(scenario, name)], dtype=np.int64)
    return np.unique(np.concatenate(parts)).astype(np.int64)


def _replayed_seq_lens(scenario: Scenario, arrivals: TraceArrivals) -> dict[str, np.ndarray]:
    """Per model, the distinct lengths a replayed trace asks for.

    A model the trace names without lengths, and no mix entry gives, gets its default.
    """
    data = arrivals.load()
    out: dict[str, np.ndarray] = {}
    for name in model_names(scenario):
        mine = data.models == name if data.models is not None else slice(None)
        if data.seq_lens is not None:
            values = np.unique(data.seq_lens[mine])
            if values.size:
                out[name] = values.astype(np.int64)
        elif data.models is not None and not any(e.model == name for e in scenario.workload.mix):
            out[name] = np.array([default_seq_len(scenario, name)], dtype=np.int64)
    return out
