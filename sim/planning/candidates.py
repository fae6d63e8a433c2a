"""Plan candidates: the scenario's pool with another instance type, batching or count.

A candidate replaces the planned pool's instance type; its dtype and cores per replica are
the instance's natural choice (``hardware.resolve_dtype``, as a pool's ``dtype: auto``;
``auto`` cores: the fewest that hold the model) unless given, and its largest batch is the
scenario's unless searched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hardware
from hardware import catalog
from sim.sweep.points import Point, apply_setting, make_point


@dataclass(frozen=True, slots=True)
class Candidate:
    """One fleet design to size.

    Attributes:
        instance: The instance type.
        dtype: The dtype the model runs in.
        cores_per_replica: Cores per replica, or ``"auto"``.
        max_batch: The largest batch (None: the scenario's).

    """

    instance: str
    dtype: str
    cores_per_replica: int | str
    max_batch: int | None

    @property
    def projected(self) -> bool:
        """True if the instance is projected hardware (Inf3), not a shipped product."""
        return catalog.instance_type(self.instance).projected

    @property
    def label(self) -> str:
        """``inf2.xlarge bf16 batch 8`` (``PROJECTED`` added for projected hardware)."""
        batch = f" batch {self.max_batch}" if self.max_batch is not None else ""
        tag = " PROJECTED" if self.projected else ""
        return f"{self.instance} {self.dtype}{batch}{tag}"


def candidates(
    instances: list[str],
    max_batches: list[int] | None = None,
    dtype: str | None = None,
    cores_per_replica: int | str | None = None,
) -> list[Candidate]:
    """Every (instance, max batch) to size, in the order given.

    Raises:
        KeyError: an unknown instance type (the message lists the known ones).

    """
    known = catalog.instance_type_names()
    unknown = [name for name in instances if name not in known]
    if unknown:
        raise KeyError(f"unknown instance type(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [
        Candidate(
            instance,
            hardware.resolve_dtype(instance, dtype or "auto"),
            cores_per_replica if cores_per_replica is not None else "auto",
            batch,
        )
        for instance in instances
        for batch in (max_batches or [None])
    ]


def settings(pool_index: int, candidate: Candidate, count: int) -> dict[str, Any]:
    """The fields a candidate sets, by dotted path (the sweep's varied columns)."""
    prefix = f"fleet.{pool_index}"
    fields: dict[str, Any] = {
        f"{prefix}.instance": candidate.instance,
        f"{prefix}.dtype": candidate.dtype,
        f"{prefix}.cores_per_replica": candidate.cores_per_replica,
    }
    if candidate.max_batch is not None:
        fields[f"{prefix}.batching.max_batch"] = candidate.max_batch
    fields[f"{prefix}.count"] = count
    return fields


def candidate_point(
    base: dict[str, Any], base_dir: Path, pool_index: int, candidate: Candidate, count: int
) -> Point:
    """The scenario of a candidate at ``count`` instances, as a sweep point.

    Raises:
        ScenarioError: the candidate cannot run this scenario (the model does not fit the
            instance, a dtype it lacks, ...).

    """
    data = copy.deepcopy(base)
    fields = settings(pool_index, candidate, count)
    for path, value in fields.items():
        apply_setting(data, path, value, "plan", candidate.label)
    return make_point(data, base_dir, settings=fields)
