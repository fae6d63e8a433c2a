"""Checks that need the hardware catalog: names that must exist, memory fit, consistency.

``check_references`` returns problems instead of raising so the loader can attach YAML
line numbers. The checks and the run read models and lengths through the same functions
(``sim.scenario.models``, and ``replica_cores`` here), so they agree on what a name and a
length distribution mean.
"""

from __future__ import annotations

import numpy as np

import hardware
from hardware import catalog, zoo
from hardware.catalog import sparsity
from sim.scenario.base import DTYPES, did_you_mean
from sim.scenario.groups import pool_groups, served_models
from sim.scenario.models import (
    resolve_model,
    seq_len_bounds,
    seq_len_bounds_by_model,
    synthetic_only,
)
from sim.scenario.pipeline_checks import check_pipelines
from sim.scenario.schema import (
    MixEntry,
    PoolConfig,
    Scenario,
)
from sim.workload.replay import TraceArrivals

Problem = tuple[tuple[str | int, ...], str]


def _unknown_model(scenario: Scenario, name: str) -> str:
    known = sorted(set(zoo.model_names()) | set(scenario.models))
    pipelines = [p.name for p in scenario.pipelines]
    named = f"; pipelines: {', '.join(pipelines)}" if pipelines else ""
    return (
        f"unknown model {name!r}{did_you_mean(name, known + pipelines)}; known models: "
        f"{', '.join(known)}{named} (or define one under 'models:', or give every pool "
        "serving it a synthetic 'service')"
    )


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
    zones = {pool.zone for pool in scenario.fleet if pool.zone is not None}
    for i, event in enumerate(scenario.events):
        if event.zone not in zones:
            known = ", ".join(sorted(zones)) or "none (give pools a 'zone')"
            problems.append(
                (
                    ("events", i, "zone"),
                    f"no pool is in zone {event.zone!r}{did_you_mean(event.zone, zones)}; "
                    f"pool zones: {known}",
                )
            )
    for name in scenario.models:
        try:
            zoo.model(name)
        except KeyError:
            continue
        problems.append(
            (
                ("models", name),
                f"{name!r} is the name of a built-in model; give your own model another name",
            )
        )
    bounds = seq_len_bounds_by_model(scenario)
    seen: set[str] = set()
    for i, pool in enumerate(scenario.fleet):
        if pool.name in seen:
            problems.append((("fleet", i, "name"), f"pool name {pool.name!r} is used twice"))
        seen.add(pool.name)
        problems += _check_groups(scenario, pool, ("fleet", i), bounds)
    served = served_models(scenario)
    problems += check_pipelines(scenario)
    pipelines = {p.name for p in scenario.pipelines}
    for j, entry in enumerate(scenario.workload.mix):
        if entry.model not in pipelines:  # a pipeline's stages are checked with it
            problems += _check_mix_entry(scenario, entry, ("workload", "mix", j), served)
    arrivals = scenario.workload.arrivals
    if isinstance(arrivals, TraceArrivals):
        problems += _check_trace_models(arrivals, served)
        problems += _check_trace_seq_lens(scenario, arrivals)
        problems += _check_trace_in_run(scenario, arrivals)
    return problems


def _check_trace_in_run(scenario: Scenario, arrivals: TraceArrivals) -> list[Problem]:
    """A replayed trace must put some arrivals inside the run (else it runs no request)."""
    times = arrivals.load().times_s
    if times.size and times[0] >= scenario.duration:
        return [
            (
                ("workload", "arrivals", "path"),
                f"{arrivals.path}: every arrival is at or after the end of the run (the first "
                f"at {times[0]:g} s, after time_scale; duration {scenario.duration:g} s): the "
                "run would have no request; lengthen duration or lower time_scale",
            )
        ]
    return []


def _check_trace_models(arrivals: TraceArrivals, served: set[str]) -> list[Problem]:
    """Every model a replayed trace names must be served by a pool."""
    problems: list[Problem] = []
    models = arrivals.load().models
    if models is not None:
        unserved = ~np.isin(models, sorted(served))
        if unserved.any():
            row = int(unserved.argmax())
            problems.append(
                (
                    ("workload", "arrivals", "path"),
                    f"{arrivals.path}: data row {row + 1}: model {models[row]!r} is served by no "
                    f"pool; pools serve: {', '.join(sorted(served))}",
                )
            )
    return problems


def _check_trace_seq_lens(scenario: Scenario, arrivals: TraceArrivals) -> list[Problem]:
    """Replayed sequence lengths must be within each model's range."""
    data = arrivals.load()
    if data.seq_lens is None:
        return []
    for name in sorted(served_models(scenario)):
        try:
            model = resolve_model(scenario, name)
        except KeyError:
            continue
        mine = data.models == name if data.models is not None else np.ones(data.times_s.size, bool)
        bad = mine & ((data.seq_lens < model.min_seq_len) | (data.seq_lens > model.max_seq_len))
        if bad.any():
            row = int(bad.argmax())
            return [
                (
                    ("workload", "arrivals", "path"),
                    f"{arrivals.path}: data row {row + 1}: seq_len {int(data.seq_lens[row])} is "
                    f"outside {name}'s range {model.min_seq_len}..{model.max_seq_len}",
                )
            ]
    return []


def _check_groups(
    scenario: Scenario, pool: PoolConfig, where: tuple, bounds: dict[str, tuple[int, int]]
) -> list[Problem]:
    """Check a pool: each of its core groups (``sim.scenario.groups``) as a one-model pool."""
    try:
        instance = catalog.instance_type(pool.instance)
    except KeyError:
        names = catalog.instance_type_names()
        return [
            (
                (*where, "instance"),
                f"unknown instance type {pool.instance!r}"
                f"{did_you_mean(pool.instance, names)}; known: {', '.join(names)}",
            )
        ]
    if pool.models is not None:
        total = sum(g.cores for g in pool.models)
        if total > instance.cores:
            return [
                (
                    (*where, "models"),
                    f"the groups' cores add up to {total}; {pool.instance} has "
                    f"{instance.cores} cores",
                )
            ]
    problems: list[Problem] = []
    for group in pool_groups(pool):
        at = (*where, "models", group.index) if group.shared else where
        problems += _check_pool(scenario, group.config, where, at, group.cores, bounds)
    return problems


def _check_pool(
    scenario: Scenario,
    pool: PoolConfig,
    where: tuple,
    group_at: tuple,
    group_cores: int,
    bounds: dict[str, tuple[int, int]],
) -> list[Problem]:
    """Check one core group (``pool`` as if it served its model only) of ``group_cores``.

    ``where`` is the pool's field path, ``group_at`` its group's (``model`` is found there).
    """
    try:
        model = resolve_model(scenario, pool.model)
    except KeyError:
        if not synthetic_only(scenario, pool.model):
            return [((*group_at, "model"), _unknown_model(scenario, pool.model))]
        model = None
    instance = catalog.instance_type(pool.instance)
    requested = pool.cores_per_replica
    if requested != "auto" and (requested > group_cores or group_cores % requested):
        whose = "its group's" if group_at != where else "the"
        return [
            (
                (*where, "cores_per_replica"),
                f"cores_per_replica {requested} must divide {whose} "
                f"{group_cores} cores of {pool.instance}",
            )
        ]
    batch_sizes = None if isinstance(pool.shapes, str) else pool.shapes.batch_sizes
    if batch_sizes is not None and batch_sizes[-1] < pool.batching.max_batch:
        return [
            (
                (*group_at, "batching", "max_batch"),
                f"the largest compiled batch size ({batch_sizes[-1]}) is smaller than "
                f"max_batch ({pool.batching.max_batch})",
            )
        ]
    if pool.service is not None:
        return []  # synthetic service: the hardware model is not consulted
    if pool.stack != "auto" and not instance.chip.is_gpu:
        return [
            (
                (*where, "stack"),
                f"stack {pool.stack!r} applies to GPU instances; {pool.instance} "
                f"({instance.chip.name}) runs the Neuron compiler (remove stack)",
            )
        ]
    if pool.sparsity is not None and not sparsity.supports(instance.chip):
        return [
            (
                (*where, "sparsity"),
                f"{pool.instance} ({instance.chip.name}) has no structured-sparsity support; "
                "only the projected inf3 family has it",
            )
        ]
    dtype = pool_dtype(pool)
    if not hardware.dtype_supported(instance, dtype):
        allowed = [d for d in DTYPES if hardware.dtype_supported(instance, d)]
        return [
            (
                (*where, "dtype"),
                f"{pool.instance} ({instance.chip.name}) does not run dtype {dtype!r}; "
                f"supported: {', '.join(allowed)}",
            )
        ]
    shortest, longest = bounds[pool.model]
    if model is None or longest > model.max_seq_len or shortest < model.min_seq_len:
        return []  # out-of-range lengths are reported where they are set
    buckets = None if isinstance(pool.shapes, str) else pool.shapes.seq_buckets
    if buckets is not None and (buckets[-1] < longest or buckets[-1] > model.max_seq_len):
        return [
            (
                (*where, "shapes", "seq_buckets"),
                f"the largest bucket ({buckets[-1]}) must hold the longest sequence the pool "
                f"gets ({longest}) and be at most {pool.model}'s longest ({model.max_seq_len})",
            )
        ]
    cores = replica_cores(scenario, pool, longest, group_cores)
    if cores is not None:
        return []
    tried = group_cores if requested == "auto" else requested
    need_gib = model.weight_bytes(dtype) / 2**30
    have_gib = hardware.replica_memory_bytes(instance, tried) / 2**30
    advice = (
        "pick a larger instance or a smaller dtype"
        if requested == "auto"
        else "set cores_per_replica: auto (a pipeline over more cores), lower max_batch, or "
        "pick a larger instance"
    )
    return [
        (
            (*group_at, "model"),
            f"{pool.model} in {dtype} (weights {need_gib:.2f} GiB, plus activations for a "
            f"batch of {pool.batching.max_batch} at length {longest}) does not fit the "
            f"{have_gib:.2f} GiB of device memory of a {tried}-core replica on {pool.instance}; "
            f"{advice}",
        )
    ]


def pool_dtype(pool: PoolConfig) -> str:
    """The dtype a pool's model runs in: its ``dtype``, or for ``auto`` the instance's natural one.

    ``auto`` is :func:`hardware.natural_dtype` (bf16 on NeuronCores, fp16 on GPUs), the rule
    ``fleetsim plan`` and ``fleetsim hardware compare`` use too.

    Raises:
        KeyError: Unknown instance type (validate the scenario first).

    """
    return hardware.resolve_dtype(pool.instance, pool.dtype)


def pool_stack(pool: PoolConfig, instance: catalog.InstanceType) -> str | None:
    """The serving stack a pool's GPUs run (``auto``: the best published); None off GPUs."""
    if not instance.chip.is_gpu:
        return None
    return hardware.resolve_stack(instance.chip, None if pool.stack == "auto" else pool.stack)


def replica_cores(
    scenario: Scenario, pool: PoolConfig, longest: int, group_cores: int | None = None
) -> int | None:
    """Cores per replica: as configured, or for ``auto`` the fewest that hold the model.

    Holding it means a batch of ``max_batch`` requests of length ``longest``; ``auto``
    tries only layouts that divide ``group_cores`` (default: the instance's cores).

    Returns:
        The core count, or None if the model does not fit (for ``auto``: not even on all the
        group's cores).

    """
    instance = catalog.instance_type(pool.instance)
    requested = pool.cores_per_replica
    if pool.service is not None:
        return 1 if requested == "auto" else requested
    model = resolve_model(scenario, pool.model)
    cap = instance.cores if group_cores is None else group_cores
    options = (
        [c for c in hardware.replica_layouts(instance) if c <= cap and cap % c == 0]
        if requested == "auto"
        else [requested]
    )
    dtype = pool_dtype(pool)
    for cores in options:
        if hardware.fits(
            model,
            instance,
            dtype,
            cores=cores,
            batch_size=pool.batching.max_batch,
            seq_len=longest,
        ):
            return cores
    return None


def _check_mix_entry(
    scenario: Scenario, entry: MixEntry, where: tuple, served: set[str]
) -> list[Problem]:
    try:
        model = resolve_model(scenario, entry.model)
    except KeyError:
        if not synthetic_only(scenario, entry.model):
            return [((*where, "model"), _unknown_model(scenario, entry.model))]
        model = None
    problems: list[Problem] = []
    if entry.model not in served:
        problems.append(
            (
                (*where, "model"),
                f"no pool serves model {entry.model!r}; pools serve: {', '.join(sorted(served))}",
            )
        )
    if model is not None:
        shortest, longest = seq_len_bounds(entry, model.default_seq_len)
        low, high = model.min_seq_len, model.max_seq_len
        if shortest < low or longest > high:
            problems.append(
                (
                    (*where, "seq_len"),
                    f"{entry.model} takes sequence lengths {low}..{high}, got "
                    f"{shortest}..{longest}",
                )
            )
    return problems
