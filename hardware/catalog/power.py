"""Accelerator power per chip, so throughput per watt can be compared across instance types.

``data/power.csv`` holds one row per chip: ``watts_per_chip`` with a ``basis`` of
``published`` (vendor board power / TDP, with its source), ``estimate`` (no published figure;
the reasoning is in the row), ``projected`` (a projected chip's figure derived from published
ones) or ``unavailable`` (no basis at all: no watts, and perf/W is reported as not available).
Power is the accelerators' only: host CPUs, memory and network are not counted, and chips are
assumed to draw their full figure at full load.

The projected Inferentia3 has no figure today: :mod:`hardware.calibration.power_projection`
derives it from Trainium3's power, which AWS does not publish, and never from the "2x perf/W"
claim it should test (``python -m hardware.calibration.power_projection`` prints every figure).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from hardware.catalog.data_files import data_rows
from hardware.catalog.instances import InstanceType, instance_of

BASES: tuple[str, ...] = ("published", "estimate", "projected", "unavailable")
"""Allowed ``basis`` values of a power figure."""

UNAVAILABLE = "unavailable"
"""The basis of a chip without a power figure."""


@dataclass(frozen=True, slots=True)
class ChipPower:
    """Power figure of one accelerator chip.

    Attributes:
        chip: Chip name (the catalog's, or a reference chip such as ``trainium3``).
        watts: Power per chip at full load, watts; None when not available.
        basis: One of :data:`BASES`.
        projected: True for a projected chip (Inferentia3).
        reasoning: How the figure was obtained, or why there is none.
        source: Where the inputs come from.

    """

    chip: str
    watts: float | None
    basis: str
    projected: bool
    reasoning: str
    source: str

    @property
    def available(self) -> bool:
        """Whether the chip has a power figure (so a perf/W can be reported)."""
        return self.watts is not None

    @property
    def summary(self) -> str:
        """The first sentence of :attr:`reasoning`, without a ``NOT AVAILABLE:`` tag."""
        return self.reasoning.split(". ")[0].rstrip(".").removeprefix("NOT AVAILABLE: ")


@lru_cache(maxsize=1)
def _table() -> MappingProxyType[str, ChipPower]:
    table = {}
    for row in data_rows("power.csv"):
        where = f"power.csv row {row['chip']!r}"
        if row["basis"] not in BASES:
            raise ValueError(f"{where}: basis must be one of {BASES}, got {row['basis']!r}")
        projected = row["projected"].strip().lower() == "true"
        if row["basis"] == "projected" and not projected:
            raise ValueError(f"{where}: a projected figure belongs to a projected chip")
        if not row["source"].strip() or not row["reasoning"].strip():
            raise ValueError(f"{where}: needs a reasoning and a source")
        cell = row["watts_per_chip"].strip()
        watts = float(cell) if cell else None
        if (row["basis"] == UNAVAILABLE) != (watts is None):
            raise ValueError(f"{where}: watts must be empty exactly when basis is {UNAVAILABLE}")
        if watts is not None and not watts > 0:
            raise ValueError(f"{where}: watts must be > 0, got {watts}")
        table[row["chip"]] = ChipPower(
            row["chip"], watts, row["basis"], projected, row["reasoning"], row["source"]
        )
    return MappingProxyType(table)


def chip_power(chip: str) -> ChipPower:
    """Power figure of a chip.

    Args:
        chip: Chip name, e.g. ``"inferentia2"`` or ``"nvidia-a10g"``.

    Returns:
        The figure with its basis and reasoning (``watts`` None when not available).

    Raises:
        KeyError: No figure for this chip.

    """
    try:
        return _table()[chip]
    except KeyError:
        raise KeyError(chip) from None


def power_names() -> tuple[str, ...]:
    """Chips with a row in ``power.csv`` (catalog chips and reference chips), in file order."""
    return tuple(_table())


def instance_watts(instance: str | InstanceType) -> float | None:
    """Accelerator power of a whole instance at full load: chips x watts per chip.

    Args:
        instance: Instance-type name or object.

    Returns:
        Watts (accelerators only; host excluded), or None when the chip's power is not
        available (``chip_power(chip).reasoning`` says why).

    Raises:
        KeyError: Unknown instance, or no row for its chip.

    """
    inst = instance_of(instance)
    watts = chip_power(inst.chip.name).watts
    return None if watts is None else inst.chips * watts
