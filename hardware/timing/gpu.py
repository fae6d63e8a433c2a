"""GPU service time: a per-kernel roofline behind a host that launches the kernels.

A replica owns one whole GPU (``cores`` must be 1). For one batch of a zoo model, the same
:class:`~hardware.models.workload.ModelSpec` work the NeuronCore model times (``gemms``,
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

Three refinements let one form describe every serving stack (:mod:`hardware.timing.gpu_stacks`):
the GEMM rate ramps as ``m / (m + half_rate_rows * peak / 100 TFLOP/s)`` (few rows fill few thread
blocks, and a bigger GPU has more to fill), only ``unfused_elementwise`` of the elementwise
traffic runs as separate kernels (a compiled engine fuses it into GEMM epilogues and fused
attention), and INT8 GEMMs reach ``int8_efficiency`` of the FP16 share of their peak. A GPU's
``chip_efficiency_scale`` multiplies ``compute_efficiency`` under every stack (a 70 W T4 throttles).

Parameters (:mod:`hardware.timing.gpu_parameters`) live in ``data/gpu_parameters.csv``, one set
per stack, fitted on published rows of that stack by :mod:`hardware.calibration.gpu_fit`
(TensorRT on T4, V100, A30, A100 and L40S; ONNX Runtime on T4, V100 and A30; eager on A10G and
T4); the values the rows cannot identify are assumptions, each with its reasoning.

:class:`GpuTiming` is this model behind :class:`hardware.timing.predictor.ServicePredictor`; its
:class:`~hardware.timing.breakdown.ServiceBreakdown` has
``compute_s`` = GEMM kernel time, ``vector_s`` = elementwise kernel time, ``memory_s`` = all
kernel bytes over bandwidth (already inside the per-kernel roofline, so never the maximum),
``transfer_s`` = 0, ``overhead_s`` = fixed cost plus the launch time not hidden behind device
work. Their ``total_s`` is ``t`` above.
"""

from __future__ import annotations

import numpy as np

from hardware.catalog import Chip, InstanceType
from hardware.catalog.dtypes import activation_bytes_per_element, bytes_per_element
from hardware.models.workload import ModelSpec
from hardware.timing.breakdown import ServiceBreakdown
from hardware.timing.gpu_parameters import GpuParameters, gpu_parameters
from hardware.timing.gpu_stacks import resolve_stack

HALF_RATE_REFERENCE_FLOP_PER_S = 1e14
"""Peak (dtype, dense) at which ``half_rate_rows`` applies unscaled: 100 TFLOP/s."""


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
        of :class:`hardware.timing.breakdown.ServiceBreakdown`).

    """
    gemms = spec.gemms(batch, seq_len)
    act_bpe = activation_bytes_per_element(dtype)
    weight_bpe = bytes_per_element(dtype)
    efficiency = params.compute_efficiency * params.chip_efficiency_scale
    if dtype == "int8":
        efficiency *= params.int8_efficiency
    peak = chip.peak_flop_per_s_per_core(dtype)
    flop_rate = peak * efficiency
    byte_rate = chip.mem_bw_bytes_per_s_per_chip * params.bandwidth_efficiency

    is_weight = gemms.weight.reshape((-1,) + (1,) * (gemms.m.ndim - 1))
    m, k, n = (x.astype(np.float64) for x in (gemms.m, gemms.k, gemms.n))
    b_bytes = np.where(is_weight, weight_bpe, act_bpe) * k * n
    kernel_bytes = act_bpe * gemms.a_elems + b_bytes + act_bpe * m * n
    # A GEMM with few rows fills few thread blocks, and a bigger GPU has more SMs to fill.
    half_rows = params.half_rate_rows * peak / HALF_RATE_REFERENCE_FLOP_PER_S
    gemm_rate = flop_rate * m / (m + half_rows)
    kernel_s = np.maximum(2.0 * m * k * n / gemm_rate, kernel_bytes / byte_rate)
    compute_s = (kernel_s * gemms.count).sum(axis=0)

    elems = spec.vector_ops(batch, seq_len).passes(1.0, 1.0, 1.0, 1.0)
    vector_bytes = 2.0 * act_bpe * elems * params.unfused_elementwise
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


class GpuTiming:
    """The GPU timing model as a :class:`~hardware.timing.predictor.ServicePredictor`.

    Stateless: parameters come from :func:`~hardware.timing.gpu_parameters.gpu_parameters`
    (cached per chip and stack).
    """

    def replica_cores(self, inst: InstanceType, cores: int) -> int:
        """Check that a replica owns exactly one whole GPU.

        Args:
            inst: A GPU instance type.
            cores: Requested cores per replica; must be 1.

        Returns:
            1.

        Raises:
            ValueError: Anything but 1.

        """
        if isinstance(cores, bool) or not isinstance(cores, int | np.integer) or cores != 1:
            raise ValueError(
                f"cores must be 1 on {inst.name} (a replica owns the GPU), got {cores!r}"
            )
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
        """Service-time components of one batch: :func:`components` under the shipped parameters.

        Args:
            spec: The model.
            chip: A GPU that supports ``dtype``.
            dtype: Compiled dtype.
            batch: Batch sizes, broadcast with ``seq_len``.
            seq_len: Sequence lengths (image sides for CNNs).
            cores: 1 (checked).
            sparsity: Must be None: structured sparsity is modelled for NeuronCores only.
            stack: Serving stack (:data:`hardware.timing.gpu_stacks.STACKS`); None = the
                default, :data:`~hardware.timing.gpu_stacks.DEFAULT_STACK`.

        Returns:
            The components in seconds.

        Raises:
            ValueError: Sparsity requested, an unknown stack, or a bad sequence length.

        """
        if sparsity is not None:
            raise ValueError("structured sparsity is modelled for NeuronCores only")
        params = gpu_parameters(chip.name, resolve_stack(chip, stack))
        return ServiceBreakdown(**components(spec, chip, params, dtype, batch, seq_len))
