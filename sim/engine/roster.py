"""Every instance a run has had: its pool, number in the pool, model and lifetimes.

Instances are numbered as the engines number them (one number per core group: a pool
serving several models has one per model on each physical instance, ``sim.engine.fleet``);
lifetimes are per physical instance, kept under its *lead* (its first group's number), and
priced once at the instance's price.

The fleet (``sim.engine.fleet``) is the layout a run starts with; the roster grows as
instances are added (``sim.engine.view.FleetView.add_instance``) and records each
*lifetime* - the rows of ``instances.parquet`` (schema in ``analysis.instance_schema``): one
per instance from request to termination, and one more per repair (a failed instance's
lifetime ends at the failure; the repaired one is requested then and ready when restored,
so availability counts the repair as time not in service). The trace writer reads the
per-number columns from it, so requests served by added instances name their pool.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.instance_schema import CATEGORIES, LIFECYCLES, REASONS, SCHEMA
from sim.engine.arrow_arrays import labels, numbers, strings
from sim.engine.fleet import Fleet

NAN = math.nan


@dataclass(slots=True)
class Lifetime:
    """One row of ``instances.parquet`` (times in s; ``ready_s`` NaN until ready)."""

    number: int
    pool: str
    instance_id: int
    zone: str | None
    lifecycle: str
    requested_s: float
    ready_s: float
    terminated_s: float
    reason: str
    usd_per_hour: float


class Roster:
    """The instances of a run by number, and their lifetimes.

    Args:
        fleet: The fleet the run starts with; its instances are requested and ready at 0.
        zones: Per pool code, its zone (None: none named).
        prices: Per pool code, (on-demand, spot) USD per hour of a whole instance.
        lifecycles: Per instance number of the fleet, ``on_demand`` or ``spot`` (default:
            all on demand).

    """

    def __init__(
        self,
        fleet: Fleet,
        zones: list[str | None] | None = None,
        prices: list[tuple[float, float]] | None = None,
        lifecycles: list[str] | None = None,
    ) -> None:
        self.fleet = fleet
        self.zones = zones or [None] * len(fleet.pools)
        self.prices = prices or [
            (float(p.facts.get("instance_usd_per_hour", p.facts.get("usd_per_hour", 0.0))),) * 2
            for p in fleet.pools
        ]
        self.pool_code = list(fleet.pool_code)
        self.pool_index = list(fleet.pool_index)
        self.model = list(fleet.model)
        self.per_pool = [pool.count for pool in fleet.pools]
        self.lifetimes: list[Lifetime] = []
        self.current: dict[int, Lifetime] = {}  # lead number -> its open lifetime
        self.latest: dict[int, Lifetime] = {}  # lead number -> its latest lifetime
        self.lifecycle: list[str] = []
        self.lead: list[int] = []  # per number: its physical instance's first group's number
        self.members: dict[int, list[int]] = {}  # lead number -> its groups' numbers
        for number in range(fleet.size):
            code, index = fleet.pool_code[number], fleet.pool_index[number]
            lead = fleet.number(fleet.host_groups[fleet.host_code[code]][0], index)
            self.lead.append(lead)
            self.members.setdefault(lead, []).append(number)
            self.lifecycle.append("on_demand" if lifecycles is None else lifecycles[number])
        for lead in sorted(self.members):
            self.open(lead, 0.0).ready_s = 0.0
        self._columns: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def size(self) -> int:
        """Instances numbered so far."""
        return len(self.pool_code)

    def add(
        self, pool_code: int, now_s: float, lifecycle: str = "on_demand", lead: int | None = None
    ) -> int:
        """Number a new instance of pool ``pool_code``, requested at ``now_s``; its number.

        ``lead``: for another core group of a physical instance just added, the number of
        its first group (which holds the lifetime); None: a new physical instance.
        """
        if lifecycle not in LIFECYCLES:
            raise ValueError(f"lifecycle {lifecycle!r}: must be one of {', '.join(LIFECYCLES)}")
        number = self.size
        self.pool_code.append(pool_code)
        self.pool_index.append(self.per_pool[pool_code])
        self.per_pool[pool_code] += 1
        self.model.append(self.fleet.pools[pool_code].model)
        self.lifecycle.append(lifecycle)
        self._columns = None
        if lead is None:
            self.lead.append(number)
            self.members[number] = [number]
            self.open(number, now_s)
        else:
            self.lead.append(lead)
            self.members[lead].append(number)
        return number

    def open(self, number: int, requested_s: float) -> Lifetime:
        """Start a lifetime of (physical) instance ``number`` (a lead) at ``requested_s``."""
        code = self.pool_code[number]
        on_demand, spot = self.prices[code]
        lifecycle = self.lifecycle[number]
        row = Lifetime(number, self.fleet.pools[code].host_name, self.pool_index[number],
                       self.zones[code], lifecycle, requested_s, NAN, NAN, "",
                       spot if lifecycle == "spot" else on_demand)  # fmt: skip
        self.lifetimes.append(row)
        self.current[number] = row
        self.latest[number] = row
        return row

    def close(self, number: int, now_s: float, reason: str) -> None:
        """End instance ``number``'s open lifetime at ``now_s`` for ``reason``."""
        if reason not in REASONS:
            raise ValueError(f"reason {reason!r}: must be one of {', '.join(REASONS)}")
        row = self.current.pop(number)
        row.terminated_s = now_s
        row.reason = reason

    def close_all(self, end_s: float) -> None:
        """The run ends at ``end_s``: every open lifetime ends with reason ``end``."""
        for number in sorted(self.current):
            self.close(number, end_s, "end")

    def instance_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pool code, position in pool, model) per instance number, then refused rows.

        One row per model for requests refused with no instance in service (recorded as
        instance ``-1 - model``, so numpy's negative indexing finds them): pool code -1,
        position -1.
        """
        if self._columns is None:
            models = len(self.fleet.balancers)
            refused = list(range(models - 1, -1, -1))
            self._columns = (
                np.array(self.pool_code + [-1] * models, dtype=np.int32),
                np.array(self.pool_index + [-1] * models, dtype=np.int32),
                np.array(self.model + refused, dtype=np.int32),
            )
        return self._columns

    def columns(self) -> dict[str, np.ndarray]:
        """The lifetimes as arrays by ``instances.parquet`` column (labels as objects)."""
        rows = self.lifetimes
        out: dict[str, np.ndarray] = {}
        for name in ("pool", "zone", "lifecycle", "reason"):
            out[name] = np.array([getattr(r, name) for r in rows], dtype=object)
        for name in ("requested_s", "ready_s", "terminated_s", "usd_per_hour"):
            out[name] = np.array([getattr(r, name) for r in rows], dtype=float)
        out["instance_id"] = np.array([r.instance_id for r in rows], dtype=np.int32)
        return out

    def write(self, path: str | Path) -> Path:
        """Write ``instances.parquet`` to ``path`` atomically (a temporary file, renamed)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            pq.write_table(self.table(), tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def table(self) -> pa.Table:
        """The lifetimes as ``instances.parquet``'s table, in the order they started."""
        cols = self.columns()

        def category(name: str) -> pa.DictionaryArray:
            values = [v for v in cols[name].tolist()]
            names = sorted({v for v in values if v is not None})
            codes = np.array([-1 if v is None else names.index(v) for v in values], np.int32)
            return labels(codes, strings(names))

        arrays = [
            category(name)
            if name in CATEGORIES
            else numbers(cols[name].astype(SCHEMA.field(name).type.to_pandas_dtype()))
            for name in SCHEMA.names
        ]
        return pa.Table.from_arrays(arrays, schema=SCHEMA)
