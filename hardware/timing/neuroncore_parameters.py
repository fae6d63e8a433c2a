"""Service-model parameters, loaded from ``hardware/data/*_parameters.csv``.

Two long-form files (``scope, parameter, value, unit, source``):

* ``model_parameters.csv``: assumed constants (vector-engine passes per op, SRAM split,
  collective latency) and the projected Inferentia3 values that are not derived from a fit.
* ``calibrated_parameters.csv``: written by ``python -m hardware.calibration``; the parameters
  fitted per NeuronCore generation on the published Neuron benchmarks, and the Inferentia3
  values the projection derives from them.

A ``scope`` is ``*`` (every chip), a NeuronCore generation (``NeuronCore-v2`` covers both
Inferentia2 and Trainium) or a chip name. For one chip the rows apply in the order
model file then calibrated file, each ``*`` then core generation then chip, later rows winning.
Changing a value changes predictions: bump ``HARDWARE_MODEL_VERSION``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, fields
from functools import cache, lru_cache
from importlib import resources

from hardware.catalog import chip as catalog_chip

PARAMETER_FILES = ("model_parameters.csv", "calibrated_parameters.csv")
"""The parameter files, lowest precedence first."""


@dataclass(frozen=True, slots=True)
class ServiceParameters:
    """Calibration knobs of the service-time model for one chip.

    Attributes:
        tensor_efficiency: Achieved fraction of the TensorE cycle model (0-1].
        vector_efficiency: Achieved fraction of peak VectorE element throughput (0-1].
        core_bandwidth_share: Fraction of one chip's device-memory bandwidth that one busy
            core achieves (the achieved memory bandwidth per core over the chip's peak).
        activation_spill_fraction: Fraction of the activation bytes that overflow on-chip
            working space (SRAM not holding weights) and round-trip through device memory.
        weight_cache_fraction: Fraction of a core's on-chip SRAM that keeps weights resident
            between batches (those bytes are not re-streamed).
        overhead_s: Fixed cost per batch (runtime call, launch, synchronisation), seconds.
        step_overhead_s: Fixed cost per dependent layer step (instruction issue and
            semaphore latency), seconds.
        host_transfer_s_per_byte: Host-to-device transfer time per input byte (token ids or
            image pixels), seconds per byte; the inverse of the achieved PCIe/DMA rate.
        input_overlap: Fraction of a batch's host input transfer that a second batch queued on
            the same core hides (the runtime stages it while the core runs the batch ahead).
            Used where several batches are in flight per core (the published benchmarks'
            mapping); a replica serving one batch at a time never overlaps [0-1].
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
    host_transfer_s_per_byte: float
    input_overlap: float
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
        for name in ("activation_spill_fraction", "weight_cache_fraction", "input_overlap"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} must be >= 0")


def parameter_names() -> tuple[str, ...]:
    """Names of every :class:`ServiceParameters` field, in declaration order."""
    return tuple(f.name for f in fields(ServiceParameters))


@lru_cache(maxsize=4)
def parameter_table(filename: str) -> tuple[tuple[str, str, float], ...]:
    """Rows ``(scope, parameter, value)`` of one parameter file (empty if it does not exist).

    Args:
        filename: One of :data:`PARAMETER_FILES`.

    Returns:
        The rows in file order.

    """
    path = resources.files("hardware").joinpath("data").joinpath(filename)
    if not path.is_file():
        return ()
    text = path.read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return tuple((r["scope"], r["parameter"], float(r["value"])) for r in rows)


def resolve_parameters(
    chip_name: str, core_name: str, tables: tuple[tuple[tuple[str, str, float], ...], ...]
) -> ServiceParameters:
    """Apply parameter rows for one chip: per table, ``*`` then core generation then chip.

    Args:
        chip_name: Chip name, e.g. ``"inferentia2"``.
        core_name: Its NeuronCore generation, e.g. ``"NeuronCore-v2"``.
        tables: Parameter tables, lowest precedence first.

    Returns:
        The parameter set.

    Raises:
        ValueError: If a parameter is missing, unknown or out of range.

    """
    known = set(parameter_names())
    values: dict[str, float] = {}
    for table in tables:
        for scope in ("*", core_name, chip_name):
            for scope_, name, value in table:
                if scope_ != scope:
                    continue
                if name not in known:
                    raise ValueError(f"parameter files: unknown parameter {name!r}")
                values[name] = value
    missing = known - values.keys()
    if missing:
        raise ValueError(f"parameter files: {chip_name} lacks {sorted(missing)}")
    return ServiceParameters(**values)


@cache
def service_parameters(chip_name: str) -> ServiceParameters:
    """Parameters for one chip from the shipped parameter files.

    Args:
        chip_name: Chip name from the catalog, e.g. ``"inferentia2"``.

    Returns:
        The parameter set.

    Raises:
        KeyError: Unknown chip.
        ValueError: If a parameter is missing, unknown or out of range.

    """
    core = catalog_chip(chip_name).core_name
    return resolve_parameters(chip_name, core, tuple(parameter_table(f) for f in PARAMETER_FILES))
