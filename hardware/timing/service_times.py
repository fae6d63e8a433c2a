"""Service time of one batch on one model replica, for any model and instance type.

The functions here validate what every timing model shares (model and instance names, dtype
support, sequence lengths, broadcasting) and leave the timing to the chip's model, chosen once
by :func:`hardware.timing.predictor.predictor_for` from the chip's kind: the systolic roofline
of :mod:`hardware.timing.neuroncore` for Inferentia and Trainium, the per-kernel roofline of
:mod:`hardware.timing.gpu` for GPUs. Service times are for an uncontended replica.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from hardware.catalog import InstanceType, instance_of
from hardware.catalog.dtypes import check_dtype
from hardware.models.workload import ModelSpec
from hardware.models.zoo import model_spec
from hardware.timing.breakdown import ServiceBreakdown
from hardware.timing.gpu_stacks import STACKS, resolve_stack
from hardware.timing.predictor import predictor_for

if TYPE_CHECKING:  # pandas is imported where it is used: runs never need it
    import pandas as pd

HARDWARE_MODEL_VERSION = "2.3"
"""Version of the service-time predictions; bumped whenever a prediction changes."""


def service_breakdown(
    model: str | ModelSpec,
    instance: str | InstanceType,
    batch_size: ArrayLike,
    seq_len: ArrayLike | None = None,
    dtype: str = "bf16",
    cores: int = 1,
    sparsity: str | None = None,
    *,
    stack: str | None = None,
) -> ServiceBreakdown:
    """Service-time components of one batch; see :func:`service_time`.

    Args:
        model: Zoo name or :class:`~hardware.models.workload.ModelSpec`.
        instance: Instance-type name or :class:`~hardware.catalog.InstanceType`.
        batch_size: Sequences (images) per batch, >= 1; broadcasts with ``seq_len``.
        seq_len: Tokens per sequence (image side in pixels for CNNs); None = model default.
        dtype: Compiled dtype.
        cores: NeuronCores the replica spans.
        sparsity: Structured weight sparsity ``"M:N"`` (projected Inferentia3 only), or None.
        stack: GPU serving stack, see :func:`service_time`.

    Returns:
        The components, in seconds.

    Raises:
        KeyError: Unknown model or instance name.
        ValueError: Unsupported dtype, bad cores, batch size or sequence length; an unknown
            stack, or a stack named for a NeuronCore instance.

    """
    spec = model_spec(model)
    inst = instance_of(instance)
    check_dtype(dtype)
    resolve_stack(inst.chip, stack)
    if not inst.chip.supports(dtype):
        raise ValueError(f"{inst.name} ({inst.chip.name}) does not support dtype {dtype!r}")
    predictor = predictor_for(inst.chip)
    cores = predictor.replica_cores(inst, cores)
    seq = spec.default_seq_len if seq_len is None else seq_len
    b, s = np.broadcast_arrays(np.asarray(batch_size), np.asarray(seq))
    return predictor.breakdown(spec, inst.chip, dtype, b, s, cores, sparsity, stack)


def service_time(
    model: str | ModelSpec,
    instance: str | InstanceType,
    batch_size: ArrayLike,
    seq_len: ArrayLike | None = None,
    dtype: str = "bf16",
    cores: int = 1,
    sparsity: str | None = None,
    *,
    stack: str | None = None,
) -> np.ndarray | float:
    """Seconds to serve one batch on one replica spanning ``cores`` NeuronCores.

    Args:
        model: Zoo name (e.g. ``"bert-base"``) or a :class:`~hardware.models.workload.ModelSpec`.
        instance: Instance-type name (e.g. ``"inf2.xlarge"``) or an
            :class:`~hardware.catalog.InstanceType`.
        batch_size: Sequences (images) per batch, >= 1. Broadcasts with ``seq_len``.
        seq_len: Tokens per sequence; for CNNs the image side in pixels. None = the model's
            default (128 tokens, 224 px).
        dtype: Compiled dtype: ``"fp32"``, ``"bf16"``, ``"fp16"``, ``"int8"``, ``"fp8"`` or
            ``"fp4"``. fp32 on Inferentia is autocast to bf16 (neuron-cc default).
        cores: NeuronCores the replica spans (1 .. instance cores).
        sparsity: Structured weight sparsity ``"M:N"`` (e.g. ``"2:4"``; projected
            Inferentia3 only, see :mod:`hardware.catalog.sparsity`), or None for dense weights.
        stack: GPU serving stack, one of :data:`hardware.timing.gpu_stacks.STACKS`
            (``"tensorrt"``, ``"onnxruntime"``, ``"eager"``); None = the chip's default (the best
            published stack, ``"tensorrt"``, on GPUs). Must be None on NeuronCore instances.

    Returns:
        Service time in seconds: a float for scalar inputs, else an array of the broadcast shape.

    Raises:
        KeyError: Unknown model or instance name.
        ValueError: Unsupported dtype, bad cores, batch size or sequence length; an unknown
            stack, or a stack named for a NeuronCore instance.

    """
    parts = service_breakdown(
        model, instance, batch_size, seq_len, dtype, cores, sparsity, stack=stack
    )
    total = parts.total_s
    return float(total) if total.ndim == 0 else total


def service_time_array(
    models: list[str | ModelSpec],
    instances: list[str | InstanceType],
    batch_sizes: ArrayLike,
    seq_lens: ArrayLike | None = None,
    dtype: str = "bf16",
    cores: int = 1,
    *,
    stack: str | None = None,
) -> np.ndarray:
    """Service times for every (model, instance, batch size, sequence length) combination.

    Entries that cannot run are NaN: dtype unsupported by the chip, ``cores`` larger than the
    instance, a sequence length outside the model's range (e.g. 8 px for a CNN), or a GPU
    ``stack`` named for a NeuronCore instance.

    Args:
        models: Zoo names or specs.
        instances: Instance-type names or objects.
        batch_sizes: 1-D batch sizes.
        seq_lens: 1-D sequence lengths (image sides for CNNs); None = each model's default.
        dtype: Compiled dtype.
        cores: NeuronCores per replica.
        stack: GPU serving stack (see :func:`service_time`); None = each chip's default.

    Returns:
        Seconds, float64 array of shape ``(models, instances, batch_sizes, seq_lens)``
        (last axis length 1 when ``seq_lens`` is None).

    Raises:
        ValueError: An unknown dtype or stack.

    """
    check_dtype(dtype)
    if stack is not None and stack not in STACKS:
        raise ValueError(f"unknown GPU stack {stack!r}; choose one of {', '.join(STACKS)}")
    specs = [model_spec(m) for m in models]
    insts = [instance_of(i) for i in instances]
    b = np.atleast_1d(np.asarray(batch_sizes))
    n_seq = 1 if seq_lens is None else np.atleast_1d(np.asarray(seq_lens)).size
    out = np.full((len(specs), len(insts), b.size, n_seq), np.nan)
    for mi, spec in enumerate(specs):
        seqs = np.atleast_1d(np.asarray(spec.default_seq_len if seq_lens is None else seq_lens))
        ok = (seqs >= spec.min_seq_len) & (seqs <= spec.max_seq_len)
        per_chip: dict[str, np.ndarray] = {}  # the timing depends on the chip, not the size
        for ii, inst in enumerate(insts):
            if not inst.chip.supports(dtype) or not ok.any():
                continue
            if stack is not None and not inst.chip.is_gpu:  # one stack on NeuronCores: NaN
                continue
            predictor = predictor_for(inst.chip)
            try:
                replica_cores = predictor.replica_cores(inst, cores)
            except ValueError:  # a layout this instance cannot run: NaN
                continue
            if inst.chip.name not in per_chip:
                grid = predictor.breakdown(
                    spec,
                    inst.chip,
                    dtype,
                    b[:, None],
                    seqs[ok][None, :],
                    replica_cores,
                    None,
                    stack,
                )
                per_chip[inst.chip.name] = grid.total_s
            out[mi, ii][:, ok] = per_chip[inst.chip.name]
    return out


def service_time_table(
    models: list[str | ModelSpec],
    instances: list[str | InstanceType],
    batch_sizes: ArrayLike,
    seq_lens: ArrayLike | None = None,
    dtype: str = "bf16",
    cores: int = 1,
    *,
    stack: str | None = None,
) -> pd.DataFrame:
    """Long-form table of :func:`service_time_array`, one row per combination.

    Args:
        models: Zoo names or specs.
        instances: Instance-type names or objects.
        batch_sizes: 1-D batch sizes.
        seq_lens: 1-D sequence lengths (image sides for CNNs); None = each model's default.
        dtype: Compiled dtype.
        cores: NeuronCores per replica.
        stack: GPU serving stack (see :func:`service_time_array`).

    Returns:
        Columns ``model, instance, batch_size, seq_len, dtype, cores, service_time_s,
        throughput_per_s`` (sequences per second of one replica) and ``fits`` (weights plus
        activations fit the replica's device memory). Unrunnable rows have NaN times.

    """
    import pandas as pd

    specs = [model_spec(m) for m in models]
    insts = [instance_of(i) for i in instances]
    b = np.atleast_1d(np.asarray(batch_sizes))
    times = service_time_array(specs, insts, b, seq_lens, dtype, cores, stack=stack)
    columns: dict[str, list[np.ndarray]] = {
        "model": [],
        "instance": [],
        "batch_size": [],
        "seq_len": [],
        "service_time_s": [],
        "fits": [],
    }
    for mi, spec in enumerate(specs):
        seqs = np.atleast_1d(np.asarray(spec.default_seq_len if seq_lens is None else seq_lens))
        bb, ss = np.meshgrid(b, seqs, indexing="ij")
        in_range = (ss >= spec.min_seq_len) & (ss <= spec.max_seq_len)
        safe_ss = np.where(in_range, ss, spec.default_seq_len)
        need: dict[str, np.ndarray] = {}  # bytes per stored dtype
        for ii, inst in enumerate(insts):
            fit = np.zeros(bb.shape, dtype=bool)
            if inst.chip.supports(dtype) and 1 <= cores <= inst.cores:
                stored = inst.chip.compute_dtype(dtype)
                if stored not in need:
                    need[stored] = spec.weight_bytes(stored) + spec.activation_bytes(
                        bb, safe_ss, stored
                    )
                fit = in_range & (need[stored] <= cores * inst.mem_bytes_per_core)
            columns["model"].append(np.full(bb.size, spec.name, dtype=object))
            columns["instance"].append(np.full(bb.size, inst.name, dtype=object))
            columns["batch_size"].append(bb.ravel())
            columns["seq_len"].append(ss.ravel())
            columns["service_time_s"].append(times[mi, ii].ravel())
            columns["fits"].append(fit.ravel())
    table = pd.DataFrame({name: np.concatenate(parts) for name, parts in columns.items()})
    table.insert(4, "dtype", dtype)
    table.insert(5, "cores", cores)
    table.insert(7, "throughput_per_s", table.batch_size / table.service_time_s)
    return table
