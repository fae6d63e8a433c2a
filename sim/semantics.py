"""Checks that need the hardware catalog: names that must exist, memory fit, consistency.

``check_references`` returns problems instead of raising so the loader can attach YAML
line numbers; ``resolve_model`` and ``seq_len_support`` are shared with the engine so the
checks and the run agree on what a name and a sequence-length distribution mean.
"""

from __future__ import annotations

import numpy as np

import hardware
from hardware import catalog, zoo
from sim.scenario import (
    ChoiceSeqLen,
    FixedSeqLen,
    MixEntry,
    Scenario,
    UniformSeqLen,
    did_you_mean,
)

Problem = tuple[tuple[str | int, ...], str]


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


def seq_len_support(entry: MixEntry, model: zoo.ModelSpec) -> np.ndarray:
    """Every sequence length a mix entry can produce (int64, ascending)."""
    dist = entry.seq_len
    if dist is None:
        return np.array([model.default_seq_len], dtype=np.int64)
    if isinstance(dist, FixedSeqLen):
        return np.array([dist.value], dtype=np.int64)
    if isinstance(dist, ChoiceSeqLen):
        return np.unique(np.asarray(dist.values, dtype=np.int64))
    if isinstance(dist, UniformSeqLen):
        return np.arange(dist.low, dist.high + 1, dtype=np.int64)
    raise TypeError(f"unknown seq_len distribution {dist!r}")


def _known_model_names(scenario: Scenario) -> list[str]:
    return sorted(set(zoo.model_names()) | set(scenario.models))


def check_references(scenario: Scenario) -> list[Problem]:
    """Find what pydantic cannot: dangling names, unsupported dtypes, models that do not fit.

    Returns:
        (field path, message) pairs; empty when the scenario can run.

    """
    problems: list[Problem] = []
    if scenario.warmup >= scenario.duration:
        problems.append(
            (
                ("warmup",),
                f"warmup ({scenario.warmup:g} s) must be shorter than duration "
                f"({scenario.duration:g} s)",
            )
        )
    models: dict[str, zoo.ModelSpec] = {}
    for name in {e.model for e in scenario.workload.mix} | {p.model for p in scenario.fleet}:
        try:
            models[name] = resolve_model(scenario, name)
        except KeyError:
            pass
    known = _known_model_names(scenario)

    seen_pools: set[str] = set()
    served: set[str] = set()
    for i, pool in enumerate(scenario.fleet):
        where = ("fleet", i)
        if pool.name in seen_pools:
            problems.append(((*where, "name"), f"pool name {pool.name!r} is used twice"))
        seen_pools.add(pool.name)
        served.add(pool.model)
        model = models.get(pool.model)
        if model is None:
            problems.append(
                (
                    (*where, "model"),
                    f"unknown model {pool.model!r}{did_you_mean(pool.model, known)}; known "
                    f"models: {', '.join(known)} (or define one under 'models:')",
                )
            )
        try:
            instance = catalog.instance_type(pool.instance)
        except KeyError:
            names = catalog.instance_type_names()
            problems.append(
                (
                    (*where, "instance"),
                    f"unknown instance type {pool.instance!r}"
                    f"{did_you_mean(pool.instance, names)}; known: {', '.join(names)}",
                )
            )
            continue
        if not hardware.dtype_supported(instance, pool.dtype):
            allowed = [
                d
                for d in ("fp32", "bf16", "fp16", "int8", "fp8", "fp4")
                if hardware.dtype_supported(instance, d)
            ]
            problems.append(
                (
                    (*where, "dtype"),
                    f"{pool.instance} ({instance.chip.name}) does not run dtype {pool.dtype!r}; "
                    f"supported: {', '.join(allowed)}",
                )
            )
            continue
        if pool.cores_per_replica > instance.cores or instance.cores % pool.cores_per_replica:
            problems.append(
                (
                    (*where, "cores_per_replica"),
                    f"cores_per_replica {pool.cores_per_replica} must divide the "
                    f"{instance.cores} NeuronCores of {pool.instance}",
                )
            )
            continue
        if model is None:
            continue
        lengths = [
            int(seq_len_support(e, model).max())
            for e in scenario.workload.mix
            if e.model == pool.model
        ] or [model.default_seq_len]
        if max(lengths) > model.max_seq_len:
            continue  # reported against the mix entry below
        if not hardware.fits(
            model,
            instance,
            pool.dtype,
            cores=pool.cores_per_replica,
            batch_size=pool.batching.max_batch,
            seq_len=max(lengths),
        ):
            need_gib = model.weight_bytes(pool.dtype) / 2**30
            have_gib = hardware.replica_memory_bytes(instance, pool.cores_per_replica) / 2**30
            problems.append(
                (
                    (*where, "model"),
                    f"{pool.model} in {pool.dtype} (weights {need_gib:.2f} GiB, plus activations "
                    f"for a batch of {pool.batching.max_batch} at length {max(lengths)}) does not "
                    f"fit the {have_gib:.2f} GiB of device memory of a {pool.cores_per_replica}-"
                    f"core replica on {pool.instance}; raise cores_per_replica, lower "
                    "max_batch, or pick a larger instance",
                )
            )

    for j, entry in enumerate(scenario.workload.mix):
        where = ("workload", "mix", j)
        model = models.get(entry.model)
        if model is None:
            problems.append(
                (
                    (*where, "model"),
                    f"unknown model {entry.model!r}{did_you_mean(entry.model, known)}; known "
                    f"models: {', '.join(known)} (or define one under 'models:')",
                )
            )
            continue
        if entry.model not in served:
            problems.append(
                (
                    (*where, "model"),
                    f"no pool serves model {entry.model!r}; pools serve: "
                    f"{', '.join(sorted(served))}",
                )
            )
        support = seq_len_support(entry, model)
        low, high = model.min_seq_len, model.max_seq_len
        if support.min() < low or support.max() > high:
            problems.append(
                (
                    (*where, "seq_len"),
                    f"{entry.model} takes sequence lengths {low}..{high}, got "
                    f"{int(support.min())}..{int(support.max())}",
                )
            )
    return problems
