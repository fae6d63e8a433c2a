"""What fits on an instance: the dtype it runs, replica layouts and device memory per replica."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from hardware.catalog import InstanceType, instance_of
from hardware.catalog.dtypes import check_dtype
from hardware.models.workload import ModelSpec
from hardware.models.zoo import model_spec
from hardware.timing.predictor import predictor_for

AUTO_DTYPE = "auto"
"""The dtype setting that means each instance's :func:`natural_dtype`."""


def natural_dtype(instance: str | InstanceType) -> str:
    """The dtype a model is usually compiled for on this instance.

    bf16 on NeuronCores (the Neuron compiler's default cast, and what the published Neuron
    benchmarks run); fp16 on GPUs (TensorRT's and PyTorch AMP's usual precision, native on
    every GPU in the catalog, T4 and V100 included, which lack bf16).

    Raises:
        KeyError: Unknown instance name.

    """
    chip = instance_of(instance).chip
    preferred = "fp16" if chip.is_gpu else "bf16"
    return preferred if chip.supports(preferred) else chip.dtypes[0]


def resolve_dtype(instance: str | InstanceType, dtype: str = AUTO_DTYPE) -> str:
    """The dtype a model runs in on ``instance``: ``dtype`` itself, or ``auto``'s natural one.

    Args:
        instance: Instance-type name or object.
        dtype: ``"auto"`` (:func:`natural_dtype`) or a dtype name, returned as given (callers
            check unknown or unsupported names and report them in their own terms).

    Returns:
        A dtype name.

    Raises:
        KeyError: Unknown instance name (for ``"auto"``).

    """
    return natural_dtype(instance) if dtype == AUTO_DTYPE else dtype


def replica_layouts(instance: str | InstanceType) -> tuple[int, ...]:
    """Every number of cores one replica may span on ``instance``, fewest first.

    A layout divides the instance's cores into equal replicas (``cores // c`` of them, none
    left idle) and is one the chip's timing model runs: 1, 2, 4, ... NeuronCores up to all of
    them on a Neuron instance; 1 on a GPU instance (a replica owns the GPU).

    Raises:
        KeyError: Unknown instance name.

    """
    inst = instance_of(instance)
    predictor = predictor_for(inst.chip)
    layouts = []
    for cores in range(1, inst.cores + 1):
        if inst.cores % cores:
            continue
        try:
            layouts.append(predictor.replica_cores(inst, cores))
        except ValueError:  # a layout this kind of chip does not run
            continue
    return tuple(layouts)


def pipeline_depth(cores: int) -> int:
    """Pipeline stages of a replica spanning ``cores`` cores (1: not a pipeline).

    A replica over several NeuronCores is a pipeline with one stage per core; its service time
    (:func:`~hardware.timing.service_times.service_time`) is the interval between batches,
    and a batch leaves ``pipeline_depth`` intervals after it starts. One core (or one GPU):
    depth 1.

    Raises:
        ValueError: ``cores`` < 1.

    """
    if cores < 1:
        raise ValueError(f"cores must be >= 1, got {cores}")
    return int(cores)


def dtype_supported(instance: str | InstanceType, dtype: str) -> bool:
    """Whether models compiled for ``dtype`` run on this instance (natively or autocast).

    fp32 on Inferentia (inf1) counts as supported: neuron-cc autocasts it to bf16, and the
    service time is then the bf16 one.

    Args:
        instance: Instance-type name or object.
        dtype: One of ``fp32, bf16, fp16, int8, fp8, fp4``.

    Returns:
        True if supported.

    Raises:
        ValueError: If ``dtype`` is not a known dtype name.
        KeyError: Unknown instance name.

    """
    check_dtype(dtype)
    return instance_of(instance).chip.supports(dtype)


def replica_memory_bytes(instance: str | InstanceType, cores: int) -> float:
    """Device memory available to a replica spanning ``cores`` NeuronCores.

    Each chip's memory is shared evenly among its cores, so a replica owns ``cores`` shares.

    Args:
        instance: Instance-type name or object.
        cores: NeuronCores the replica spans (1 .. instance cores).

    Returns:
        Bytes.

    Raises:
        ValueError: If ``cores`` is out of range.

    """
    inst = instance_of(instance)
    if not 1 <= cores <= inst.cores:
        raise ValueError(f"cores must be in [1, {inst.cores}] on {inst.name}, got {cores}")
    return cores * inst.mem_bytes_per_core


def fits(
    model: str | ModelSpec,
    instance: str | InstanceType,
    dtype: str,
    cores: int,
    batch_size: ArrayLike = 1,
    seq_len: ArrayLike | None = None,
) -> bool | np.ndarray:
    """Whether weights plus peak activations fit the replica's device memory.

    Weights are counted in the dtype the chip executes (fp32 on inf1 is stored as bf16).
    Unsupported dtypes do not fit.

    Args:
        model: Zoo name or spec.
        instance: Instance-type name or object.
        dtype: Compiled dtype.
        cores: NeuronCores the replica spans.
        batch_size: Sequences (images) per batch; broadcasts with ``seq_len``.
        seq_len: Tokens per sequence (image side for CNNs); None = model default.

    Returns:
        A bool for scalar inputs, else a bool array of the broadcast shape.

    """
    spec = model_spec(model)
    inst = instance_of(instance)
    check_dtype(dtype)
    seq = spec.default_seq_len if seq_len is None else seq_len
    if not inst.chip.supports(dtype):
        result = np.zeros(np.broadcast(np.asarray(batch_size), np.asarray(seq)).shape, bool)
    else:
        stored = inst.chip.compute_dtype(dtype)
        need = spec.weight_bytes(stored) + spec.activation_bytes(batch_size, seq, stored)
        result = np.asarray(need <= replica_memory_bytes(inst, cores))
    return bool(result) if result.ndim == 0 else result
