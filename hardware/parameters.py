"""Provisional service-model parameters, loaded from ``hardware/data/model_parameters.csv``.

The file is long-form (``chip, parameter, value, unit, source``); a ``*`` chip row is the
default for every chip. v1 values were set by hand against the published anchors in
``hardware/data/anchors.csv``; a later issue fits them with scipy on the full published
calibration set. Changing a value changes predictions: bump ``HARDWARE_MODEL_VERSION``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, fields
from functools import cache, lru_cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class ServiceParameters:
    """Calibration knobs of the service-time model for one chip.

    Attributes:
        tensor_efficiency: Achieved fraction of the TensorE cycle model (0-1].
        vector_efficiency: Achieved fraction of peak VectorE element throughput (0-1].
        core_bandwidth_share: Fraction of one chip's device-memory bandwidth that one busy
            core achieves when uncontended (Inf2/Inf3 from the NKI DMA guides: 16 DMA engines
            per core at 17 resp. 33 B/ns).
        activation_spill_fraction: Fraction of the activation bytes that overflow on-chip
            working space (SRAM not holding weights) and round-trip through device memory.
        weight_cache_fraction: Fraction of a core's on-chip SRAM that keeps weights resident
            between batches (those bytes are not re-streamed).
        overhead_s: Fixed cost per batch (runtime call, input/output DMA), seconds.
        step_overhead_s: Fixed cost per dependent layer step (instruction issue and
            semaphore latency), seconds.
        collective_latency_s: Latency of one cross-core exchange when a replica spans
            several cores, seconds.
        elementwise_passes: VectorE passes per elementwise element.
        softmax_passes: VectorE passes per softmax element (max, exp, sum, scale).
        layernorm_passes: VectorE passes per layernorm element (mean, var, normalise, affine).
        activation_passes: VectorE passes per GELU/ReLU element.

    """

    tensor_efficiency: float
    vector_efficiency: float
    core_bandwidth_share: float
    activation_spill_fraction: float
    weight_cache_fraction: float
    overhead_s: float
    step_overhead_s: float
    collective_latency_s: float
    elementwise_passes: float
    softmax_passes: float
    layernorm_passes: float
    activation_passes: float

    def __post_init__(self) -> None:
        """Reject values outside their physical range."""
        for name in ("tensor_efficiency", "vector_efficiency", "core_bandwidth_share"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        for name in ("activation_spill_fraction", "weight_cache_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} must be >= 0")


@lru_cache(maxsize=1)
def _table() -> tuple[tuple[str, str, float], ...]:
    text = (
        resources.files("hardware")
        .joinpath("data")
        .joinpath("model_parameters.csv")
        .read_text(encoding="utf-8")
    )
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return tuple((r["chip"], r["parameter"], float(r["value"])) for r in rows)


@cache
def service_parameters(chip_name: str) -> ServiceParameters:
    """Parameters for one chip: its own rows over the ``*`` defaults.

    Args:
        chip_name: Chip name from the catalog, e.g. ``"inferentia2"``.

    Returns:
        The parameter set.

    Raises:
        ValueError: If a parameter is missing, unknown or out of range.

    """
    known = {f.name for f in fields(ServiceParameters)}
    values: dict[str, float] = {}
    for scope in ("*", chip_name):
        for chip_, name, value in _table():
            if chip_ != scope:
                continue
            if name not in known:
                raise ValueError(f"model_parameters.csv: unknown parameter {name!r}")
            values[name] = value
    missing = known - values.keys()
    if missing:
        raise ValueError(f"model_parameters.csv: {chip_name} lacks {sorted(missing)}")
    return ServiceParameters(**values)
