"""NeuronCore timing: a systolic roofline with fixed overheads (Inferentia, Trainium).

For a replica of ``model`` spanning ``cores`` NeuronCores of one instance type, one batch takes

.. code-block:: text

    t = overhead_s + step_overhead_s * layer_steps / cores      fixed costs
        + max(compute_s + vector_s, memory_s)                   engines vs. DMA
        + host_s                                                 inputs from the host
        + transfer_s                                             only when cores > 1

* ``compute_s``: TensorE cycles of every GEMM from
  :func:`hardware.timing.systolic.neuroncore_gemm_cycles`, divided by the clock, the dtype's rate
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
  below); the service time is its per-batch interval, and each batch hands
  its boundary activations to the next stage once, over device memory or NeuronLink.

Parameters: assumed constants in ``hardware/data/model_parameters.csv``; per NeuronCore
generation the values fitted by ``python -m hardware.calibration`` on the published Neuron
benchmarks, in ``hardware/data/calibrated_parameters.csv``. Service times are for an
uncontended replica: bandwidth contention between replicas sharing a chip is not modelled
separately (the fit absorbs its average effect on the published data-parallel rows).

:func:`service_work` turns a model, a chip, a dtype and a grid of (batch, seq_len) into
:class:`ServiceWork`: TensorE seconds at full efficiency, VectorE element-passes, bytes moved to
and from device memory, layer steps, cross-core exchange bytes and host input bytes. Only the
SRAM split and the per-op vector passes (assumed constants) enter there.
:meth:`ServiceWork.breakdown` then applies the calibrated parameters (efficiencies, achieved
bandwidth, overheads, host transfer rate). The split lets the calibration
(:mod:`hardware.calibration.neuroncore_fit`) evaluate thousands of parameter sets without
recomputing GEMM cycles.

A replica spanning ``c > 1`` cores is a ``c``-stage pipeline (Inf1's NeuronCore Pipeline; the
partitioning of models too large for one core): the layers are split evenly, each stage keeps
its share of the weights in its own SRAM and streams the rest over the cores' combined
bandwidth, and hands the batch's boundary activations to the next stage over device memory
(cores of one chip) or NeuronLink. The service time is the pipeline's per-batch interval, what
bounds its throughput: ``1/c`` of the engine time and of the per-step overheads, one hand-off
and its latency. A batch crossing an idle pipeline takes about ``c`` intervals.

:class:`NeuronCoreTiming` is this model behind :class:`hardware.timing.predictor.ServicePredictor`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from hardware.catalog import Chip
from hardware.catalog.dtypes import activation_bytes_per_element
from hardware.catalog.instances import InstanceType
from hardware.catalog.sparsity import density, weight_speedup
from hardware.models.workload import ModelSpec
from hardware.timing.breakdown import ServiceBreakdown, hidden_host_s
from hardware.timing.gpu_stacks import resolve_stack
from hardware.timing.neuroncore_parameters import ServiceParameters, service_parameters
from hardware.timing.systolic import neuroncore_gemm_cycles


@dataclass(frozen=True, slots=True)
class ServiceWork:
    """What one batch asks of a replica, before calibrated efficiencies (arrays of one shape).

    Attributes:
        tensor_s: TensorE seconds at 100% efficiency (cycles over clock, dtype rate, cores).
        vector_s: VectorE seconds at 100% efficiency (element-passes over throughput, cores).
        memory_bytes: Weights streamed plus activations spilled, bytes.
        cores: NeuronCores the replica spans (scalar, or per element after
            :meth:`concatenate`; so are the next three).
        chips_spanned: Chips the replica spans (caps its achievable bandwidth).
        chip_bw_bytes_per_s: Device-memory bandwidth of one chip, bytes/s.
        steps: Dependent layer steps per forward pass.
        exchange_s: Seconds to hand one batch's activations to the next pipeline stage
            (0 for one core), excluding the hand-off latency.
        input_bytes: Host-to-device input bytes.

    """

    tensor_s: np.ndarray
    vector_s: np.ndarray
    memory_bytes: np.ndarray
    cores: np.ndarray | int
    chips_spanned: np.ndarray | int
    chip_bw_bytes_per_s: np.ndarray | float
    steps: np.ndarray | int
    exchange_s: np.ndarray
    input_bytes: np.ndarray

    def breakdown(self, params: ServiceParameters) -> ServiceBreakdown:
        """Seconds per component under one parameter set.

        Args:
            params: Calibrated parameters of the chip.

        Returns:
            The breakdown (arrays of the work's shape).

        """
        bandwidth = np.minimum(self.cores * params.core_bandwidth_share, self.chips_spanned)
        latency = np.where(np.asarray(self.cores) > 1, params.collective_latency_s, 0.0)
        steps_per_stage = self.steps / np.asarray(self.cores)
        shape = self.tensor_s.shape
        split = ServiceBreakdown(
            compute_s=self.tensor_s / params.tensor_efficiency,
            vector_s=self.vector_s / params.vector_efficiency,
            memory_s=self.memory_bytes / (bandwidth * self.chip_bw_bytes_per_s),
            transfer_s=np.broadcast_to(latency + self.exchange_s, shape),
            overhead_s=np.broadcast_to(
                params.overhead_s + params.step_overhead_s * steps_per_stage, shape
            ),
            host_s=self.input_bytes * params.host_transfer_s_per_byte,
        )
        if not params.input_overlap:
            return split
        # A one-core replica stages its next batch's input while this one runs (a pipeline's
        # interval already streams its stages).
        staged = params.input_overlap * hidden_host_s(split.total_s, split.host_s)
        return dataclasses.replace(
            split, staged_s=np.where(np.asarray(self.cores) == 1, staged, 0.0)
        )

    @classmethod
    def concatenate(cls, works: list[ServiceWork]) -> ServiceWork:
        """Flatten several works into one 1-D work (per-element cores, steps, bandwidth).

        Args:
            works: Works of any shapes.

        Returns:
            A work whose arrays are the flattened inputs, in order.

        """

        def cat(name: str) -> np.ndarray:
            return np.concatenate(
                [np.broadcast_to(getattr(w, name), w.tensor_s.shape).ravel() for w in works]
            )

        return cls(**{name: cat(name) for name in cls.__dataclass_fields__})


def service_work(
    spec: ModelSpec,
    chip: Chip,
    params: ServiceParameters,
    dtype: str,
    batch: np.ndarray,
    seq_len: np.ndarray,
    cores: int,
    input_dtype: str | None = None,
    sparsity: str | None = None,
) -> ServiceWork:
    """Work of one batch on a replica spanning ``cores`` cores of ``chip``; inputs validated.

    Only the assumed constants of ``params`` are used here (vector passes per op,
    ``weight_cache_fraction``, ``activation_spill_fraction``); the calibrated ones are applied
    by :meth:`ServiceWork.breakdown`.

    Args:
        spec: Model.
        chip: Chip of the instance.
        params: Parameters of the chip.
        dtype: Requested dtype (supported by the chip).
        batch: Batch sizes, broadcast with ``seq_len``.
        seq_len: Sequence lengths or image sides.
        cores: NeuronCores the replica spans.
        input_dtype: dtype of the framework model's inputs (default ``dtype``; an "fp32 model"
            whose matmuls the compiler casts to bf16 still receives fp32 pixels).
        sparsity: Structured weight sparsity ``"M:N"`` (see :mod:`hardware.catalog.sparsity`),
            or None.

    Returns:
        The work arrays.

    """
    gemms = spec.gemms(batch, seq_len)
    per_gemm = neuroncore_gemm_cycles(
        gemms.m, gemms.k, gemms.n, chip.array_rows, chip.array_cols, gemms.count
    )
    if sparsity is not None:  # only matmuls against (sparse) weights skip zeros
        speedup = weight_speedup(chip, dtype, sparsity)
        scale = np.where(gemms.weight, 1.0 / speedup, 1.0)
        per_gemm = per_gemm * scale.reshape((-1,) + (1,) * (per_gemm.ndim - 1))
    cycles = per_gemm.sum(axis=0)
    tensor_s = cycles / (chip.clock_hz * chip.rate_vs_bf16(dtype) * cores)

    passes = spec.vector_ops(batch, seq_len).passes(
        elementwise=params.elementwise_passes,
        softmax=params.softmax_passes,
        layernorm=params.layernorm_passes,
        activation=params.activation_passes,
    )
    vector_s = passes / (chip.vector_elems_per_s_per_core * cores)

    stored = chip.compute_dtype(dtype)
    act_bpe = activation_bytes_per_element(stored)
    resident = params.weight_cache_fraction * chip.sram_bytes_per_core * cores
    weight_bytes = spec.dense_weight_bytes(stored) * density(sparsity)
    streamed = spec.weight_reuse * max(0.0, weight_bytes - resident)
    both_activations = ~gemms.weight.reshape((-1,) + (1,) * (gemms.m.ndim - 1))
    act_elems = gemms.a_elems + gemms.m * gemms.n + both_activations * gemms.k * gemms.n
    working_space = (1.0 - params.weight_cache_fraction) * chip.sram_bytes_per_core * cores
    overflow = np.maximum(act_bpe * act_elems - working_space, 0.0)
    spilled = 2.0 * params.activation_spill_fraction * (overflow * gemms.count).sum(axis=0)

    if cores > 1:
        link = (
            chip.mem_bw_bytes_per_s_per_chip
            if cores <= chip.cores_per_chip
            else chip.link_bw_bytes_per_s_per_chip
        )
        exchange_s = spec.boundary_activation_elems(batch, seq_len) * act_bpe / link
    else:
        exchange_s = np.zeros(tensor_s.shape)
    return ServiceWork(
        tensor_s=tensor_s,
        vector_s=vector_s,
        memory_bytes=streamed + spilled,
        cores=cores,
        chips_spanned=math.ceil(cores / chip.cores_per_chip),
        chip_bw_bytes_per_s=chip.mem_bw_bytes_per_s_per_chip,
        steps=spec.layer_steps,
        exchange_s=exchange_s,
        input_bytes=np.broadcast_to(
            spec.input_bytes(batch, seq_len, input_dtype or dtype), tensor_s.shape
        ),
    )


class NeuronCoreTiming:
    """The NeuronCore timing model as a :class:`~hardware.timing.predictor.ServicePredictor`.

    Stateless: parameters come from
    :func:`~hardware.timing.neuroncore_parameters.service_parameters` (cached per chip).
    """

    def replica_cores(self, inst: InstanceType, cores: int) -> int:
        """Check that a replica spans 1 .. ``inst.cores`` NeuronCores.

        Args:
            inst: A NeuronCore instance type.
            cores: Requested cores per replica.

        Returns:
            ``cores`` as a Python int.

        Raises:
            ValueError: Not a whole number, or out of range.

        """
        if isinstance(cores, bool) or not isinstance(cores, int | np.integer):
            raise ValueError(f"cores must be an integer, got {cores!r}")
        if not 1 <= cores <= inst.cores:
            raise ValueError(f"cores must be in [1, {inst.cores}] on {inst.name}, got {cores}")
        return int(cores)

    def breakdown(
        self,
        spec: ModelSpec,
        chip: Chip,
        dtype: str,
        batch: np.ndarray,
        seq_len: np.ndarray,
        cores: int,
        sparsity: str | None = None,
        stack: str | None = None,
    ) -> ServiceBreakdown:
        """Service-time components of one batch: :func:`service_work` under the shipped parameters.

        Args:
            spec: The model.
            chip: A NeuronCore chip that supports ``dtype``.
            dtype: Compiled dtype.
            batch: Batch sizes, broadcast with ``seq_len``.
            seq_len: Sequence lengths (image sides for CNNs).
            cores: NeuronCores the replica spans (checked).
            sparsity: Structured weight sparsity ``"M:N"`` (see :mod:`hardware.catalog.sparsity`),
                or None.
            stack: Must be None: GPU serving stacks do not apply to NeuronCores.

        Returns:
            The components in seconds.

        Raises:
            ValueError: A bad sequence length, sparsity the chip does not run, or a stack.

        """
        resolve_stack(chip, stack)
        params = service_parameters(chip.name)
        work = service_work(spec, chip, params, dtype, batch, seq_len, cores, sparsity=sparsity)
        return work.breakdown(params)
