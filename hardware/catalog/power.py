"""Accelerator power per chip, so throughput per watt can be compared across instance types.

``data/power.csv`` holds one figure per chip: ``watts_per_chip`` with a ``basis`` of
``published`` (vendor board power / TDP), ``estimate`` (no published figure; the reasoning is in
the row) or ``projected`` (Inferentia3). Power is the accelerators' only: host CPUs, memory and
network are not counted, and chips are assumed to draw their full figure at full load.

The projected Inferentia3 figure is derived from the timing model and a published claim by
:mod:`hardware.calibration.power_projection` (``python -m hardware.calibration.power_projection``
prints every figure and re-derives it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from hardware.catalog.data_files import data_rows
from hardware.catalog.instances import InstanceType, instance_of

BASES: tuple[str, ...] = ("published", "estimate", "projected")
"""Allowed ``basis`` values of a power figure."""


@dataclass(frozen=True, slots=True)
class ChipPower:
    """Power figure of one accelerator chip.

    Attributes:
        chip: Chip name from the catalog.
        watts: Power per chip at full load, watts.
        basis: ``"published"``, ``"estimate"`` or ``"projected"``.
        projected: True for a projected chip (Inferentia3).
        reasoning: How the figure was obtained.
        source: Where the inputs come from.

    """

    chip: str
    watts: float
    basis: str
    projected: bool
    reasoning: str
    source: str


@lru_cache(maxsize=1)
def _table() -> MappingProxyType[str, ChipPower]:
    table = {}
    for row in data_rows("power.csv"):
        where = f"power.csv row {row['chip']!r}"
        if row["basis"] not in BASES:
            raise ValueError(f"{where}: basis must be one of {BASES}, got {row['basis']!r}")
        projected = row["projected"].strip().lower() == "true"
        if projected != (row["basis"] == "projected"):
            raise ValueError(f"{where}: projected must be true exactly when basis is projected")
        watts = float(row["watts_per_chip"])
        if not watts > 0 or not row["source"].strip() or not row["reasoning"].strip():
            raise ValueError(f"{where}: needs positive watts, a reasoning and a source")
        table[row["chip"]] = ChipPower(
            row["chip"], watts, row["basis"], projected, row["reasoning"], row["source"]
        )
    return MappingProxyType(table)


def chip_power(chip: str) -> ChipPower:
    """Power figure of a chip.

    Args:
        chip: Chip name, e.g. ``"inferentia2"`` or ``"nvidia-a10g"``.

    Returns:
        The figure with its basis and reasoning.

    Raises:
        KeyError: No figure for this chip.

    """
    try:
        return _table()[chip]
    except KeyError:
        raise KeyError(chip) from None


def instance_watts(instance: str | InstanceType) -> float:
    """Accelerator power of a whole instance at full load: chips x watts per chip.

    Args:
        instance: Instance-type name or object.

    Returns:
        Watts (accelerators only; host excluded).

    Raises:
        KeyError: Unknown instance, or no power figure for its chip.

    """
    inst = instance_of(instance)
    return inst.chips * chip_power(inst.chip.name).watts
