"""The projected Inferentia3 power figure, derived from public Trainium figures or not at all.

The projection makes an Inferentia3 chip **half a Trainium3** (4 of its 8 NeuronCore-v4 cores,
2 of its 4 HBM stacks; ``data/inferentia3_projection.md``), so its power is
:data:`INF3_SHARE_OF_TRAINIUM3` x the Trainium3 chip power in ``data/power.csv``. AWS publishes
no Trainium3 power (nor any Trainium or Inferentia power), so that row is ``unavailable`` and so
is Inferentia3's: every inf3 perf/W is reported as not available.

The only public statement on Inferentia3 power, "up to 2x throughput per watt over
Inferentia2", is the claim the projection should test. It is never used to make the figure;
:func:`claim_break_even_watts` only says what chip power the claim would imply, for comparison.
``python -m hardware.calibration.power_projection`` prints every chip's figure, the derivation
(copy its row into ``power.csv`` if it moved) and the claim's break-even power.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardware.catalog.instances import InstanceType, instance_of
from hardware.catalog.power import UNAVAILABLE, ChipPower, chip_power, power_names
from hardware.timing.service_times import service_time

INF3_CHIP = "inferentia3"
"""The projected chip whose power is derived here."""

TRAINIUM3_CHIP = "trainium3"
"""The published chip the projection halves (a reference row of ``power.csv``)."""

INF3_SHARE_OF_TRAINIUM3 = 0.5
"""Share of a Trainium3 chip that the projected Inferentia3 is: 4 of 8 cores, 2 of 4 HBM stacks."""

CLAIMED_INF3_PERF_PER_WATT_RATIO = 2.0
"""The overview's "up to 2x throughput per watt over Inferentia2" (unverified secondary source).
Used only by :func:`claim_break_even_watts`, never by :func:`derive_inf3_power`."""


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
"""The workload perf/W is compared on (as in inferentia3_projection.md)."""


def derive_inf3_power() -> ChipPower:
    """The Inferentia3 power row as the Trainium3 row makes it: half its watts, or none.

    Returns:
        A :class:`ChipPower` for ``inferentia3``: ``projected`` with half the Trainium3 watts
        when that row has a figure, else ``unavailable`` (watts None) with the reason.

    """
    trn3 = chip_power(TRAINIUM3_CHIP)
    if trn3.watts is None:
        reasoning = (
            "NOT AVAILABLE: the projection is half a Trainium3, whose power is not available: "
            + trn3.summary
        )
        return ChipPower(INF3_CHIP, None, UNAVAILABLE, True, reasoning, trn3.source)
    watts = INF3_SHARE_OF_TRAINIUM3 * trn3.watts
    reasoning = (
        f"PROJECTED: half a Trainium3 (4 of 8 cores, 2 of 4 HBM stacks): "
        f"{INF3_SHARE_OF_TRAINIUM3:g} x {trn3.watts:g} W ({trn3.basis})"
    )
    return ChipPower(INF3_CHIP, watts, "projected", True, reasoning, trn3.source)


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


def inferences_per_joule(
    instance: str | InstanceType, workload: Workload = REFERENCE
) -> float | None:
    """Throughput per watt of an instance's chip on ``workload``.

    Args:
        instance: Instance-type name or object.
        workload: The workload.

    Returns:
        Inferences per joule (= inferences per second per watt), or None when the chip's
        power is not available.

    """
    inst = instance_of(instance)
    watts = chip_power(inst.chip.name).watts
    return None if watts is None else chip_throughput_per_s(inst, workload) / watts


def perf_per_watt_ratio(
    instance: str = "inf3.xlarge", baseline: str = "inf2.xlarge", workload: Workload = REFERENCE
) -> float | None:
    """Ratio of throughput per watt, ``instance`` over ``baseline``, on ``workload``.

    Args:
        instance: Instance type measured.
        baseline: Instance type compared against.
        workload: The workload.

    Returns:
        Dimensionless ratio, or None when either chip's power is not available.

    """
    mine, base = inferences_per_joule(instance, workload), inferences_per_joule(baseline, workload)
    return None if mine is None or base is None else mine / base


def claim_break_even_watts(
    instance: str = "inf3.xlarge",
    baseline: str = "inf2.xlarge",
    claimed_ratio: float = CLAIMED_INF3_PERF_PER_WATT_RATIO,
    workload: Workload = REFERENCE,
) -> float | None:
    """Chip watts at which ``instance`` has exactly ``claimed_ratio`` x the baseline's perf/W.

    What the claim implies, to compare with a figure once one is published; never stored.

    Args:
        instance: Projected instance type.
        baseline: Instance type the claim is relative to.
        claimed_ratio: Claimed throughput-per-watt ratio.
        workload: The workload.

    Returns:
        Watts per chip (None when the baseline chip has no power figure).

    """
    base_watts = chip_power(instance_of(baseline).chip.name).watts
    if base_watts is None:
        return None
    speedup = chip_throughput_per_s(instance, workload) / chip_throughput_per_s(baseline, workload)
    return base_watts * speedup / claimed_ratio


def main() -> None:
    """Print every chip's power figure, the Inferentia3 derivation and the claim's break-even."""
    for name in power_names():
        p = chip_power(name)
        watts = "   n/a" if p.watts is None else f"{p.watts:6.0f}"
        print(f"{name:14s} {watts} W  {p.basis:11s}  {p.reasoning}")
    derived = derive_inf3_power()
    watts = "" if derived.watts is None else f"{derived.watts:g}"
    print(f"\nderived {INF3_CHIP} row: watts_per_chip={watts!r}, basis={derived.basis}")
    print(f"  {derived.reasoning}")
    w, ratio = REFERENCE, perf_per_watt_ratio()
    shown = "not available" if ratio is None else f"{ratio:.2f}"
    print(
        f"reference: {w.model} batch {w.batch_size} seq {w.seq_len} {w.dtype}; "
        f"inf3/inf2 perf per watt: {shown}. The claim "
        f"({CLAIMED_INF3_PERF_PER_WATT_RATIO:g}x, not used) would need an inferentia3 chip of "
        f"<= {claim_break_even_watts():.0f} W against the inferentia2 estimate"
    )


if __name__ == "__main__":
    main()
