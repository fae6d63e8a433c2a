"""Parameters of the GPU timing model, loaded from ``hardware/data/gpu_parameters.csv``.

Long form ``chip, parameter, value, unit, source``; a GPU's own rows override the ``*`` rows.
``compute_efficiency``, ``launch_s`` and ``overhead_s`` are fitted on the g5 (A10G) rows by
``python -m hardware.calibration.gpu_fit --write``; the others are assumptions. Changing a value
changes predictions: bump ``HARDWARE_MODEL_VERSION``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache, lru_cache

from hardware.catalog.data_files import data_rows

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
def _parameter_table() -> tuple[tuple[str, str, float], ...]:
    rows = data_rows(PARAMETER_FILE)
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
