"""Accelerator power per chip, so throughput per watt can be compared across instance types.

``data/power.csv`` holds one figure per chip: ``watts_per_chip`` with a ``basis`` of
``published`` (vendor board power / TDP), ``estimate`` (no published figure; the reasoning is in
the row) or ``projected`` (Inferentia3). Power is the accelerators' only: host CPUs, memory and
network are not counted, and chips are assumed to draw their full figure at full load.

The projected Inferentia3 figure follows the only public claim, "up to 2x throughput per watt
over Inferentia2": watts = Inferentia2 watts x (modelled inf3 / inf2 throughput per chip) / 2
on :data:`REFERENCE`. ``python -m hardware.power`` prints every figure and re-derives it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

from hardware.catalog.chips import InstanceType, chip_names
from hardware.planning.capacity import resolve_instance
from hardware.timing.service_times import service_time

BASES: tuple[str, ...] = ("published", "estimate", "projected")
"""Allowed ``basis`` values of a power figure."""

CLAIMED_INF3_PERF_PER_WATT_RATIO = 2.0
"""The overview's "up to 2x throughput per watt over Inferentia2" (unverified secondary source)."""


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


@dataclass(frozen=True, slots=True)
class Workload:
    """A fixed workload for perf-per-watt comparisons.

    Attributes:
        model: Zoo model name.
        seq_len: Tokens per sequence.
        batch_size: Sequences per batch.
        dtype: Compiled dtype.

    """

    model: str
    seq_len: int
    batch_size: int
    dtype: str


REFERENCE = Workload(model="bert-base", seq_len=128, batch_size=8, dtype="bf16")
"""The workload the projected Inferentia3 power is derived on (as in inferentia3_projection.md)."""


@lru_cache(maxsize=1)
def _table() -> MappingProxyType[str, ChipPower]:
    text = resources.files("hardware").joinpath("data", "power.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    table = {}
    for row in rows:
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
    inst = resolve_instance(instance)
    return inst.chips * chip_power(inst.chip.name).watts


def chip_throughput_per_s(instance: str | InstanceType, workload: Workload = REFERENCE) -> float:
    """Modelled throughput of one chip: every core serves its own replica at full load.

    Args:
        instance: Instance type whose chip is measured (one-core replicas).
        workload: The workload.

    Returns:
        Inferences per second per chip.

    """
    inst = resolve_instance(instance)
    seconds = service_time(
        workload.model, inst, workload.batch_size, workload.seq_len, workload.dtype
    )
    return inst.chip.cores_per_chip * workload.batch_size / float(seconds)


def inferences_per_joule(instance: str | InstanceType, workload: Workload = REFERENCE) -> float:
    """Throughput per watt of an instance's chip on ``workload``.

    Args:
        instance: Instance-type name or object.
        workload: The workload.

    Returns:
        Inferences per joule (= inferences per second per watt).

    """
    inst = resolve_instance(instance)
    return chip_throughput_per_s(inst, workload) / chip_power(inst.chip.name).watts


def perf_per_watt_ratio(
    instance: str = "inf3.xlarge", baseline: str = "inf2.xlarge", workload: Workload = REFERENCE
) -> float:
    """Ratio of throughput per watt, ``instance`` over ``baseline``, on ``workload``.

    Args:
        instance: Instance type measured.
        baseline: Instance type compared against.
        workload: The workload.

    Returns:
        Dimensionless ratio (the overview claims up to 2 for inf3 over inf2).

    """
    return inferences_per_joule(instance, workload) / inferences_per_joule(baseline, workload)


def derive_projected_watts(
    instance: str = "inf3.xlarge",
    baseline: str = "inf2.xlarge",
    claimed_ratio: float = CLAIMED_INF3_PERF_PER_WATT_RATIO,
    workload: Workload = REFERENCE,
) -> float:
    """Chip watts that make ``instance`` exactly ``claimed_ratio`` x ``baseline`` per watt.

    Args:
        instance: Projected instance type.
        baseline: Instance type the claim is relative to.
        claimed_ratio: Claimed throughput-per-watt ratio.
        workload: The workload.

    Returns:
        Watts per chip (the value ``power.csv`` should hold for the projected chip).

    """
    speedup = chip_throughput_per_s(instance, workload) / chip_throughput_per_s(baseline, workload)
    base_chip = resolve_instance(baseline).chip.name
    return chip_power(base_chip).watts * speedup / claimed_ratio


def main() -> None:
    """Print every chip's power figure and the Inferentia3 derivation."""
    for name in chip_names():
        p = chip_power(name)
        print(f"{name:14s} {p.watts:6.0f} W  {p.basis:9s}  {p.reasoning}")
    w = REFERENCE
    print(
        f"\nreference: {w.model} batch {w.batch_size} seq {w.seq_len} {w.dtype}; "
        f"inf3/inf2 perf per watt = {perf_per_watt_ratio():.2f} "
        f"(claim {CLAIMED_INF3_PERF_PER_WATT_RATIO:g}); "
        f"watts the claim implies for inferentia3: {derive_projected_watts():.0f}"
    )


if __name__ == "__main__":
    main()
