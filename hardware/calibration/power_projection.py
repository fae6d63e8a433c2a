"""The projected Inferentia3 power figure, derived from the timing model and a public claim.

The only public claim on Inferentia3 power is "up to 2x throughput per watt over Inferentia2".
So the projected chip watts in ``data/power.csv`` are: Inferentia2 watts x (modelled inf3 / inf2
throughput per chip) / 2 on :data:`REFERENCE`. ``python -m hardware.calibration.power_projection``
prints every chip's figure and re-derives the projected one (after a recalibration, copy the
printed value into ``power.csv`` if it moved).
"""

from __future__ import annotations

from dataclasses import dataclass

from hardware.catalog import chip_names
from hardware.catalog.instances import InstanceType, instance_of
from hardware.catalog.power import chip_power
from hardware.timing.service_times import service_time

CLAIMED_INF3_PERF_PER_WATT_RATIO = 2.0
"""The overview's "up to 2x throughput per watt over Inferentia2" (unverified secondary source)."""


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


def chip_throughput_per_s(instance: str | InstanceType, workload: Workload = REFERENCE) -> float:
    """Modelled throughput of one chip: every core serves its own replica at full load.

    Args:
        instance: Instance type whose chip is measured (one-core replicas).
        workload: The workload.

    Returns:
        Inferences per second per chip.

    """
    inst = instance_of(instance)
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
    inst = instance_of(instance)
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
    base_chip = instance_of(baseline).chip.name
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
