"""GPU service time: a per-kernel roofline behind a host that launches the kernels.

A replica owns one whole GPU (``cores`` must be 1). For one batch of a zoo model, the same
:class:`~hardware.workload.ModelSpec` work the NeuronCore model times (``gemms``,
``vector_ops``) is timed as GPU kernels:

.. code-block:: text

    device_s = sum over GEMMs  count * max(flops / (peak * compute_efficiency),
                                           bytes / (bandwidth * bandwidth_efficiency))
             + elementwise bytes / (bandwidth * bandwidth_efficiency)
    launch_s = launch_s_per_kernel * kernels_per_step(kind) * layer_steps
    t        = overhead_s + max(launch_s, device_s)

* ``peak`` is the GPU's dense peak for the dtype (fp32 on CUDA cores; fp16/bf16/int8/fp8 on
  tensor cores) from ``data/gpus.csv``; ``bandwidth`` its device-memory bandwidth.
* GEMM bytes are the A operand, the B operand (weights in the dtype, or activations) and the
  output, each once per kernel. Elementwise kernels (softmax, layernorm, activation, adds) read
  and write every element once (2 x activation bytes per element).
* The host issues kernels asynchronously, so launch time and device time overlap: a small batch
  is launch-bound (flat latency, as PyTorch eager on the A10G shows up to 256 tokens), a large
  one device-bound. ``overhead_s`` is the rest of a call (input/output copies, synchronisation).

Parameters live in ``data/gpu_parameters.csv``: ``compute_efficiency``, ``launch_s`` and
``overhead_s`` are fitted on the g5 (A10G) rows by :mod:`hardware.gpu_fit`; the others are
assumptions. Every GPU uses the same fitted values (only g5 data exist) with its own peaks and
bandwidth. The calibration data are PyTorch eager fp32, so the overheads describe an eager
stack; an optimised stack (TensorRT, CUDA graphs) would shrink ``launch_s``.

:func:`breakdown` returns the fields of :class:`hardware.performance.ServiceBreakdown`:
``compute_s`` = GEMM kernel time, ``vector_s`` = elementwise kernel time, ``memory_s`` = all
kernel bytes over bandwidth (already inside the per-kernel roofline, so never the maximum),
``transfer_s`` = 0, ``overhead_s`` = fixed cost plus the launch time not hidden behind device
work. Their ``total_s`` is ``t`` above.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, fields
from functools import cache, lru_cache
from importlib import resources

import numpy as np
from numpy.typing import ArrayLike

from hardware.catalog.chips import Chip, InstanceType
from hardware.catalog.dtypes import activation_bytes_per_element, bytes_per_element, check_dtype
from hardware.models.workload import ModelSpec
from hardware.planning.capacity import resolve_instance, resolve_model


@dataclass(frozen=True, slots=True)
class GpuParameters:
    """Knobs of the GPU roofline for one GPU.

    Attributes:
        compute_efficiency: Achieved fraction of the dtype's dense peak FLOP/s in GEMMs (0-1].
        bandwidth_efficiency: Achieved fraction of peak device-memory bandwidth (0-1].
        launch_s: Host time to issue one kernel, seconds.
        overhead_s: Fixed host cost per batch (copies, synchronisation), seconds.
        kernels_per_step_encoder: Kernels per layer step of a transformer (``kind`` encoder).
        kernels_per_step_cnn: Kernels per layer step (one convolution) of a CNN.
        kernels_per_step_other: Kernels per layer step of any other model kind.

    """

    compute_efficiency: float
    bandwidth_efficiency: float
    launch_s: float
    overhead_s: float
    kernels_per_step_encoder: float
    kernels_per_step_cnn: float
    kernels_per_step_other: float

    def __post_init__(self) -> None:
        """Reject values outside their physical range."""
        for name in ("compute_efficiency", "bandwidth_efficiency"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} must be >= 0, got {getattr(self, f.name)}")

    def kernels_per_step(self, kind: str) -> float:
        """Kernels launched per layer step for a model ``kind`` (``"encoder"``, ``"cnn"``...).

        Args:
            kind: :attr:`hardware.workload.ModelSpec.kind`.

        Returns:
            Kernels per step (dimensionless).

        """
        if kind == "encoder":
            return self.kernels_per_step_encoder
        if kind == "cnn":
            return self.kernels_per_step_cnn
        return self.kernels_per_step_other


def _data_rows(filename: str) -> list[dict[str, str]]:
    text = resources.files("hardware").joinpath("data", filename).read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


@lru_cache(maxsize=1)
def gpu_chip_names() -> frozenset[str]:
    """Names of the GPU chips (rows of ``data/gpus.csv``), e.g. ``"nvidia-a10g"``."""
    return frozenset(row["name"] for row in _data_rows("gpus.csv"))


@lru_cache(maxsize=1)
def _parameter_table() -> tuple[tuple[str, str, float], ...]:
    rows = _data_rows("gpu_parameters.csv")
    return tuple((r["chip"], r["parameter"], float(r["value"])) for r in rows)


@cache
def gpu_parameters(chip_name: str) -> GpuParameters:
    """Parameters for one GPU: its own rows of ``data/gpu_parameters.csv`` over the ``*`` rows.

    Args:
        chip_name: GPU chip name, e.g. ``"nvidia-a10g"``.

    Returns:
        The parameter set.

    Raises:
        ValueError: If a parameter is missing, unknown or out of range.

    """
    known = {f.name for f in fields(GpuParameters)}
    values: dict[str, float] = {}
    for scope in ("*", chip_name):
        for chip_, name, value in _parameter_table():
            if chip_ != scope:
                continue
            if name not in known:
                raise ValueError(f"gpu_parameters.csv: unknown parameter {name!r}")
            values[name] = value
    missing = known - values.keys()
    if missing:
        raise ValueError(f"gpu_parameters.csv: {chip_name} lacks {sorted(missing)}")
    return GpuParameters(**values)


def is_gpu(instance: str | InstanceType) -> bool:
    """Whether an instance type's accelerator is a GPU (timed here, not by the NeuronCore model).

    Args:
        instance: Instance-type name or object.

    Returns:
        True for g4dn, g5, g6 and p3 instance types.

    Raises:
        KeyError: Unknown instance name.

    """
    return resolve_instance(instance).chip.name in gpu_chip_names()


def components(
    spec: ModelSpec,
    chip: Chip,
    params: GpuParameters,
    dtype: str,
    batch: np.ndarray,
    seq_len: np.ndarray,
) -> dict[str, np.ndarray]:
    """Service-time components on one GPU for a validated (batch, seq_len) grid.

    Args:
        spec: The model.
        chip: A GPU chip (``chip.supports(dtype)`` already checked).
        params: Its parameters.
        dtype: Compiled dtype.
        batch: Batch sizes, broadcastable with ``seq_len``.
        seq_len: Sequence lengths (image sides for CNNs).

    Returns:
        ``compute_s, vector_s, memory_s, transfer_s, overhead_s`` arrays, seconds (the fields
        of :class:`hardware.performance.ServiceBreakdown`).

    """
    gemms = spec.gemms(batch, seq_len)
    act_bpe = activation_bytes_per_element(dtype)
    weight_bpe = bytes_per_element(dtype)
    flop_rate = chip.peak_flop_per_s_per_core(dtype) * params.compute_efficiency
    byte_rate = chip.mem_bw_bytes_per_s_per_chip * params.bandwidth_efficiency

    is_weight = gemms.weight.reshape((-1,) + (1,) * (gemms.m.ndim - 1))
    m, k, n = (x.astype(np.float64) for x in (gemms.m, gemms.k, gemms.n))
    b_bytes = np.where(is_weight, weight_bpe, act_bpe) * k * n
    kernel_bytes = act_bpe * gemms.a_elems + b_bytes + act_bpe * m * n
    kernel_s = np.maximum(2.0 * m * k * n / flop_rate, kernel_bytes / byte_rate)
    compute_s = (kernel_s * gemms.count).sum(axis=0)

    elems = spec.vector_ops(batch, seq_len).passes(1.0, 1.0, 1.0, 1.0)
    vector_bytes = 2.0 * act_bpe * elems
    vector_s = vector_bytes / byte_rate
    memory_s = ((kernel_bytes * gemms.count).sum(axis=0) + vector_bytes) / byte_rate

    launch_s = params.launch_s * params.kernels_per_step(spec.kind) * spec.layer_steps
    exposed_launch_s = np.maximum(launch_s - (compute_s + vector_s), 0.0)
    return {
        "compute_s": compute_s,
        "vector_s": vector_s,
        "memory_s": memory_s,
        "transfer_s": np.zeros(compute_s.shape),
        "overhead_s": params.overhead_s + exposed_launch_s,
    }


def _check(inst: InstanceType, dtype: str, cores: int) -> None:
    check_dtype(dtype)
    if not inst.chip.supports(dtype):
        raise ValueError(f"{inst.name} ({inst.chip.name}) does not support dtype {dtype!r}")
    if isinstance(cores, bool) or not isinstance(cores, int | np.integer) or cores != 1:
        raise ValueError(f"cores must be 1 on {inst.name} (a replica owns the GPU), got {cores!r}")


def breakdown(
    model: str | ModelSpec,
    instance: str | InstanceType,
    batch_size: ArrayLike,
    seq_len: ArrayLike | None = None,
    dtype: str = "bf16",
    cores: int = 1,
) -> dict[str, np.ndarray]:
    """Service-time components of one batch on a GPU replica, validated.

    Args:
        model: Zoo name or spec.
        instance: A GPU instance-type name or object.
        batch_size: Sequences (images) per batch, >= 1; broadcasts with ``seq_len``.
        seq_len: Tokens per sequence (image side for CNNs); None = model default.
        dtype: Compiled dtype.
        cores: Must be 1 (a replica is one whole GPU).

    Returns:
        The fields of :class:`hardware.performance.ServiceBreakdown`, seconds.

    Raises:
        KeyError: Unknown model or instance.
        ValueError: Not a GPU instance, unsupported dtype, cores != 1, bad batch or seq_len.

    """
    spec = resolve_model(model)
    inst = resolve_instance(instance)
    if not is_gpu(inst):
        raise ValueError(f"{inst.name} is not a GPU instance type")
    _check(inst, dtype, cores)
    seq = spec.default_seq_len if seq_len is None else seq_len
    b, s = np.broadcast_arrays(np.asarray(batch_size), np.asarray(seq))
    return components(spec, inst.chip, gpu_parameters(inst.chip.name), dtype, b, s)


def service_time(
    model: str | ModelSpec,
    instance: str | InstanceType,
    batch_size: ArrayLike,
    seq_len: ArrayLike | None = None,
    dtype: str = "bf16",
    cores: int = 1,
) -> np.ndarray | float:
    """Seconds to serve one batch on one GPU; arguments as :func:`breakdown`.

    Returns:
        A float for scalar inputs, else an array of the broadcast shape.

    """
    parts = breakdown(model, instance, batch_size, seq_len, dtype, cores)
    engines = np.maximum(parts["compute_s"] + parts["vector_s"], parts["memory_s"])
    total = parts["overhead_s"] + engines + parts["transfer_s"]
    return float(total) if total.ndim == 0 else total


def grid(
    spec: ModelSpec,
    inst: InstanceType,
    dtype: str,
    batch_sizes: np.ndarray,
    seq_lens: np.ndarray,
    cores: int,
) -> np.ndarray:
    """Service times on a ``batch_sizes x seq_lens`` grid; NaN where the GPU cannot run.

    Used by :func:`hardware.performance.service_time_array`.

    Args:
        spec: The model.
        inst: A GPU instance type.
        dtype: Compiled dtype.
        batch_sizes: 1-D batch sizes.
        seq_lens: 1-D sequence lengths, all inside the model's range.
        cores: Cores per replica; anything but 1 gives NaN.

    Returns:
        Seconds, shape ``(len(batch_sizes), len(seq_lens))``.

    """
    shape = (np.size(batch_sizes), np.size(seq_lens))
    if not inst.chip.supports(dtype) or cores != 1 or 0 in shape:
        return np.full(shape, np.nan)
    parts = components(
        spec,
        inst.chip,
        gpu_parameters(inst.chip.name),
        dtype,
        np.reshape(batch_sizes, (-1, 1)),
        np.reshape(seq_lens, (1, -1)),
    )
    engines = np.maximum(parts["compute_s"] + parts["vector_s"], parts["memory_s"])
    return np.broadcast_to(parts["overhead_s"] + engines, shape).copy()
