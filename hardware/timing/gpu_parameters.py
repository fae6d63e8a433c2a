"""Parameters of the GPU timing model, loaded from ``hardware/data/gpu_parameters.csv``.

Long form ``stack, chip, parameter, value, unit, source``: one set per serving stack
(:data:`hardware.timing.gpu_stacks.STACKS`). Later scopes override earlier ones: stack ``*`` and
chip ``*`` (every GPU, every stack), stack ``*`` and the GPU (a property of the chip under any
stack), the stack and chip ``*``, the stack and the GPU. The FITTED values come from
``python -m hardware.calibration.gpu_fit --write`` on the published rows of each stack; the
others are ASSUMED with their reasoning. Changing a value
changes predictions: bump ``HARDWARE_MODEL_VERSION``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache, lru_cache

from hardware.catalog.data_files import data_rows
from hardware.timing.gpu_stacks import DEFAULT_STACK, STACKS

PARAMETER_FILE = "gpu_parameters.csv"
"""The GPU parameter file in hardware/data."""


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
        int8_efficiency: Achieved fraction of the INT8 peak relative to ``compute_efficiency``
            (INT8 engines keep softmax and layernorm in FP16) (0-1].
        half_rate_rows: GEMM rows (tokens) at which a GEMM reaches half its rate on a GPU of
            100 dense TFLOP/s in the dtype; scaled by the GPU's peak (a bigger GPU needs more
            rows to fill its SMs): the rate ramps as ``m / (m + rows)``; >= 0.
        unfused_elementwise: Share of the elementwise passes (softmax, layernorm, activation,
            residual adds) that run as separate memory-bound kernels; fused stacks fold them
            into GEMM epilogues and fused attention [0-1].
        chip_efficiency_scale: The GPU's sustained share of its peak relative to the stack's
            shared ``compute_efficiency`` (a 70 W T4 throttles its clock under load); a property
            of the chip, the same under every stack; > 0.

    """

    compute_efficiency: float
    bandwidth_efficiency: float
    launch_s: float
    overhead_s: float
    kernels_per_step_encoder: float
    kernels_per_step_cnn: float
    kernels_per_step_other: float
    int8_efficiency: float
    half_rate_rows: float
    unfused_elementwise: float
    chip_efficiency_scale: float

    def __post_init__(self) -> None:
        """Reject values outside their physical range."""
        for name in (
            "compute_efficiency",
            "bandwidth_efficiency",
            "int8_efficiency",
        ):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.unfused_elementwise > 1.0:
            raise ValueError(f"unfused_elementwise must be <= 1, got {self.unfused_elementwise}")
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} must be >= 0, got {getattr(self, f.name)}")

    def kernels_per_step(self, kind: str) -> float:
        """Kernels launched per layer step for a model ``kind`` (``"encoder"``, ``"cnn"``...).

        Args:
            kind: :attr:`hardware.models.workload.ModelSpec.kind`.

        Returns:
            Kernels per step (dimensionless).

        """
        if kind == "encoder":
            return self.kernels_per_step_encoder
        if kind == "cnn":
            return self.kernels_per_step_cnn
        return self.kernels_per_step_other


@lru_cache(maxsize=1)
def _parameter_table() -> tuple[tuple[str, str, str, float], ...]:
    rows = data_rows(PARAMETER_FILE)
    return tuple((r["stack"], r["chip"], r["parameter"], float(r["value"])) for r in rows)


@cache
def gpu_parameters(chip_name: str, stack: str = DEFAULT_STACK) -> GpuParameters:
    """Parameters for one GPU under one stack: its own rows over the stack's ``*`` rows.

    Args:
        chip_name: GPU chip name, e.g. ``"nvidia-a10g"``.
        stack: A name of :data:`hardware.timing.gpu_stacks.STACKS`.

    Returns:
        The parameter set.

    Raises:
        ValueError: An unknown stack, or a parameter missing, unknown or out of range.

    """
    if stack not in STACKS:
        raise ValueError(f"unknown GPU stack {stack!r}; choose one of {', '.join(STACKS)}")
    known = {f.name for f in fields(GpuParameters)}
    values: dict[str, float] = {}
    for scope in (("*", "*"), ("*", chip_name), (stack, "*"), (stack, chip_name)):
        for stack_, chip_, name, value in _parameter_table():
            if (stack_, chip_) != scope:
                continue
            if name not in known:
                raise ValueError(f"gpu_parameters.csv: unknown parameter {name!r}")
            values[name] = value
    missing = known - values.keys()
    if missing:
        raise ValueError(f"gpu_parameters.csv: {stack} {chip_name} lacks {sorted(missing)}")
    return GpuParameters(**values)
