"""Service time of one batch on one model replica: a systolic roofline with fixed overheads.

For a replica of ``model`` spanning ``cores`` NeuronCores of one instance type, one batch takes

.. code-block:: text

    t = overhead_s + step_overhead_s * layer_steps / cores      fixed costs
        + max(compute_s + vector_s, memory_s)                   engines vs. DMA
        + host_s                                                 inputs from the host
        + transfer_s                                             only when cores > 1

* ``compute_s``: TensorE cycles of every GEMM from
  :func:`hardware.systolic.neuroncore_gemm_cycles`, divided by the clock, the dtype's rate
  relative to bf16 (fp32 1/4 and fp8 = bf16 on NeuronCore-v2; fp8/fp4 4x on the projected
  Inferentia3), ``tensor_efficiency`` and ``cores``.
* ``vector_s``: vector-engine element-passes (softmax, layernorm, activations, adds) over
  VectorE throughput x ``vector_efficiency`` x ``cores``. TensorE and VectorE work is
  serialised because each layer's vector ops depend on its matmuls.
* ``memory_s``: matmul weights not resident in on-chip SRAM (``weight_cache_fraction`` of it
  keeps weights; ALBERT's shared layer is re-read by every layer), plus spilled activations
  (the part of a GEMM's input+output that exceeds the rest of SRAM is written out and read
  back), over the bandwidth the replica's cores achieve (``core_bandwidth_share`` of a chip's
  bandwidth per core, capped at the chips spanned). DMA overlaps the engines, hence the ``max``.
* ``host_s``: the batch's input bytes (int64 token ids; image pixels in the model's dtype) times
  ``host_transfer_s_per_byte``.
* ``transfer_s`` (``cores > 1``): the replica is a pipeline of ``cores`` stages (see
  :mod:`hardware.roofline`); the service time is its per-batch interval, and each batch hands
  its boundary activations to the next stage once, over device memory or NeuronLink.

Parameters: assumed constants in ``hardware/data/model_parameters.csv``; per NeuronCore
generation the values fitted by ``python -m hardware.calibrate`` on the published Neuron
benchmarks, in ``hardware/data/calibrated_parameters.csv``. Service times are for an
uncontended replica: bandwidth contention between replicas sharing a chip is not modelled
separately (the fit absorbs its average effect on the published data-parallel rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from hardware.catalog.chips import Chip, InstanceType
from hardware.catalog.dtypes import check_dtype
from hardware.models.workload import ModelSpec
from hardware.planning.capacity import resolve_instance, resolve_model
from hardware.timing import gpu
from hardware.timing.neuroncore_parameters import ServiceParameters, service_parameters
from hardware.timing.roofline import ServiceBreakdown, service_work

HARDWARE_MODEL_VERSION = "2.0"
"""Version of the service-time predictions; bumped whenever a prediction changes."""


def _predict(
    spec: ModelSpec,
    chip: Chip,
    params: ServiceParameters,
    dtype: str,
    batch: np.ndarray,
    seq_len: np.ndarray,
    cores: int,
    sparsity: str | None = None,
) -> ServiceBreakdown:
    """Evaluate the model on a (batch, seq_len) grid for one chip; inputs already validated."""
    work = service_work(spec, chip, params, dtype, batch, seq_len, cores, sparsity=sparsity)
    return work.breakdown(params)


def _check_cores(inst: InstanceType, cores: int) -> int:
    if isinstance(cores, bool) or not isinstance(cores, int | np.integer):
        raise ValueError(f"cores must be an integer, got {cores!r}")
    if not 1 <= cores <= inst.cores:
        raise ValueError(f"cores must be in [1, {inst.cores}] on {inst.name}, got {cores}")
    return int(cores)


def service_breakdown(
    model: str | ModelSpec,
    instance: str | InstanceType,
    batch_size: ArrayLike,
    seq_len: ArrayLike | None = None,
    dtype: str = "bf16",
    cores: int = 1,
    sparsity: str | None = None,
) -> ServiceBreakdown:
    """Service-time components of one batch; see :func:`service_time`.

    Args:
        model: Zoo name or :class:`~hardware.workload.ModelSpec`.
        instance: Instance-type name or :class:`~hardware.catalog.InstanceType`.
        batch_size: Sequences (images) per batch, >= 1; broadcasts with ``seq_len``.
        seq_len: Tokens per sequence (image side in pixels for CNNs); None = model default.
        dtype: Compiled dtype.
        cores: NeuronCores the replica spans.
        sparsity: Structured weight sparsity ``"M:N"`` (projected Inferentia3 only), or None.

    Returns:
        The components, in seconds.

    Raises:
        KeyError: Unknown model or instance name.
        ValueError: Unsupported dtype, bad cores, batch size or sequence length.

    """
    if gpu.is_gpu(instance):  # GPU instance types: per-kernel roofline in hardware/gpu.py
        if sparsity is not None:
            raise ValueError("structured sparsity is modelled for NeuronCores only")
        return ServiceBreakdown(**gpu.breakdown(model, instance, batch_size, seq_len, dtype, cores))
    spec = resolve_model(model)
    inst = resolve_instance(instance)
    check_dtype(dtype)
    if not inst.chip.supports(dtype):
        raise ValueError(f"{inst.name} ({inst.chip.name}) does not support dtype {dtype!r}")
    cores = _check_cores(inst, cores)
    seq = spec.default_seq_len if seq_len is None else seq_len
    b, s = np.broadcast_arrays(np.asarray(batch_size), np.asarray(seq))
    return _predict(
        spec, inst.chip, service_parameters(inst.chip.name), dtype, b, s, cores, sparsity
    )


def service_time(
    model: str | ModelSpec,
    instance: str | InstanceType,
    batch_size: ArrayLike,
    seq_len: ArrayLike | None = None,
    dtype: str = "bf16",
    cores: int = 1,
    sparsity: str | None = None,
) -> np.ndarray | float:
    """Seconds to serve one batch on one replica spanning ``cores`` NeuronCores.

    Args:
        model: Zoo name (e.g. ``"bert-base"``) or a :class:`~hardware.workload.ModelSpec`.
        instance: Instance-type name (e.g. ``"inf2.xlarge"``) or an
            :class:`~hardware.catalog.InstanceType`.
        batch_size: Sequences (images) per batch, >= 1. Broadcasts with ``seq_len``.
        seq_len: Tokens per sequence; for CNNs the image side in pixels. None = the model's
            default (128 tokens, 224 px).
        dtype: Compiled dtype: ``"fp32"``, ``"bf16"``, ``"fp16"``, ``"int8"``, ``"fp8"`` or
            ``"fp4"``. fp32 on Inferentia is autocast to bf16 (neuron-cc default).
        cores: NeuronCores the replica spans (1 .. instance cores).
        sparsity: Structured weight sparsity ``"M:N"`` (e.g. ``"2:4"``; projected
            Inferentia3 only, see :mod:`hardware.sparsity`), or None for dense weights.

    Returns:
        Service time in seconds: a float for scalar inputs, else an array of the broadcast shape.

    Raises:
        KeyError: Unknown model or instance name.
        ValueError: Unsupported dtype, bad cores, batch size or sequence length.

    """
    total = service_breakdown(model, instance, batch_size, seq_len, dtype, cores, sparsity).total_s
    return float(total) if total.ndim == 0 else total


def service_time_array(
    models: list[str | ModelSpec],
    instances: list[str | InstanceType],
    batch_sizes: ArrayLike,
    seq_lens: ArrayLike | None = None,
    dtype: str = "bf16",
    cores: int = 1,
) -> np.ndarray:
    """Service times for every (model, instance, batch size, sequence length) combination.

    Entries that cannot run are NaN: dtype unsupported by the chip, ``cores`` larger than the
    instance, or a sequence length outside the model's range (e.g. 8 px for a CNN).

    Args:
        models: Zoo names or specs.
        instances: Instance-type names or objects.
        batch_sizes: 1-D batch sizes.
        seq_lens: 1-D sequence lengths (image sides for CNNs); None = each model's default.
        dtype: Compiled dtype.
        cores: NeuronCores per replica.

    Returns:
        Seconds, float64 array of shape ``(models, instances, batch_sizes, seq_lens)``
        (last axis length 1 when ``seq_lens`` is None).

    """
    check_dtype(dtype)
    specs = [resolve_model(m) for m in models]
    insts = [resolve_instance(i) for i in instances]
    b = np.atleast_1d(np.asarray(batch_sizes))
    n_seq = 1 if seq_lens is None else np.atleast_1d(np.asarray(seq_lens)).size
    out = np.full((len(specs), len(insts), b.size, n_seq), np.nan)
    for mi, spec in enumerate(specs):
        seqs = np.atleast_1d(np.asarray(spec.default_seq_len if seq_lens is None else seq_lens))
        ok = (seqs >= spec.min_seq_len) & (seqs <= spec.max_seq_len)
        per_chip: dict[str, np.ndarray] = {}
        for ii, inst in enumerate(insts):
            if gpu.is_gpu(inst):  # GPU instance types: hardware/gpu.py
                out[mi, ii][:, ok] = gpu.grid(spec, inst, dtype, b, seqs[ok], cores)
                continue
            if not inst.chip.supports(dtype) or not 1 <= cores <= inst.cores or not ok.any():
                continue
            if inst.chip.name not in per_chip:
                params = service_parameters(inst.chip.name)
                grid = _predict(
                    spec, inst.chip, params, dtype, b[:, None], seqs[ok][None, :], cores
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
) -> pd.DataFrame:
    """Long-form table of :func:`service_time_array`, one row per combination.

    Args:
        models: Zoo names or specs.
        instances: Instance-type names or objects.
        batch_sizes: 1-D batch sizes.
        seq_lens: 1-D sequence lengths (image sides for CNNs); None = each model's default.
        dtype: Compiled dtype.
        cores: NeuronCores per replica.

    Returns:
        Columns ``model, instance, batch_size, seq_len, dtype, cores, service_time_s,
        throughput_per_s`` (sequences per second of one replica) and ``fits`` (weights plus
        activations fit the replica's device memory). Unrunnable rows have NaN times.

    """
    specs = [resolve_model(m) for m in models]
    insts = [resolve_instance(i) for i in instances]
    b = np.atleast_1d(np.asarray(batch_sizes))
    times = service_time_array(specs, insts, b, seq_lens, dtype, cores)
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
