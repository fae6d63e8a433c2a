"""Running one side of a claim: its capacity plan, or its one-instance rate search.

Every side runs on the sweep machinery into its own directory under the claims output
(``plans/<claim>/<side>``), so a second ``fleetsim claims`` re-uses every count already
simulated. A side whose scenario is changed (the sensitivity alternative, ``--quick``'s
short runs) is planned from a derived scenario file written beside its plan.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from analysis.sweeps import SUMMARY_PARQUET
from hardware import catalog
from sim.claims.spec import Side
from sim.engine.pool import plan_pools
from sim.planning.bounds import best_work_per_request_s, seq_len_pmf, unloaded_latency_s
from sim.planning.candidates import Candidate, candidate_point, candidates
from sim.planning.planner import run_plan
from sim.scenario.loading import load_scenario
from sim.scenario.models import default_seq_len, model_names
from sim.scenario.schema import Scenario
from sim.sweep.dataset import summary_rows, write_manifest, write_summary
from sim.sweep.points import Point, apply_setting, load_base, make_point
from sim.sweep.runner import SweepProgress, SweepSession


@dataclass(frozen=True)
class RunOptions:
    """How every side runs.

    Attributes:
        replications: Replications of every count (or rate).
        quick: Short runs, the first candidate of each side only (for tests).
        scheduler: An existing Dask scheduler's address (None: a local cluster).
        workers: Local worker processes (None: one per core).
        progress: Called as tasks end.
        serial: Run in this process (no cluster to start: what --quick's tiny runs want).

    """

    replications: int = 3
    quick: bool = False
    scheduler: str | None = None
    workers: int | None = None
    progress: Callable[[SweepProgress], None] | None = None
    serial: bool = False


QUICK_SETTINGS = {"duration": "3s", "warmup": "0.5s"}  # --quick: 2.5 measured seconds a run


@dataclass
class SideRun:
    """A side's result: the cheapest fleet that met the SLO, or the best one tried.

    Attributes:
        scenario_file: The scenario planned (derived when settings were applied).
        scenario: It, validated.
        out_dir: The plan (sweep) directory.
        rows: The plan's rows, best first (``sim.planning.report.plan_rows``).
        reps: The chosen fleet's replication rows of ``summary.parquet`` (by replication).
        floor_s: The pool's latency floor at the SLO percentile (s), when above the target.

    """

    scenario_file: Path
    scenario: Scenario
    out_dir: Path
    rows: list[dict[str, Any]]
    reps: pd.DataFrame
    floor_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> dict[str, Any]:
        """The cheapest row that met the SLO, else the row with the best p99."""
        return self.rows[0]

    @property
    def met(self) -> bool:
        """True if some candidate met the SLO in every replication."""
        return bool(self.rows and self.rows[0]["slo_met"])

    def column(self, name: str) -> list[float]:
        """A metric of the chosen fleet, one value per replication (NaN where missing)."""
        if name not in self.reps:
            return []
        return [math.nan if pd.isna(v) else float(v) for v in self.reps[name]]

    def fleet(self) -> str:
        """``13 x g6.xlarge (fp16, tensorrt, batch 8)``; PROJECTED marked."""
        row = self.best
        if row["count"] is None:
            return f"no {row['instance']} fleet met the SLO"
        stack = self.reps.filter(like=".stack").iloc[0].dropna() if len(self.reps) else []
        stack_text = f", {stack.iloc[0]}" if len(stack) else ""
        tag = " PROJECTED" if row["projected"] else ""
        return (
            f"{row['count']} x {row['instance']}{tag} ({row['dtype']}{stack_text}, "
            f"batch {row['max_batch']})"
        )


def derive(base_file: Path, settings: dict[str, Any], out_file: Path, why: str) -> Path:
    """Write ``base_file`` with ``settings`` applied (dotted paths) to ``out_file``.

    Raises:
        ScenarioError: a setting cannot be applied, or the result is not a valid scenario.

    """
    data = load_base(base_file)
    for path, value in settings.items():
        apply_setting(data, path, value, str(base_file), why)
    make_point(copy.deepcopy(data), base_file.parent)  # valid, or a ScenarioError
    header = f"# Derived by fleetsim claims from {base_file}: {why}.\n# Set: " + ", ".join(
        f"{k} = {v}" for k, v in settings.items()
    )
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(f".{out_file.name}.{os.getpid()}.tmp")
    tmp.write_text(header + "\n" + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    os.replace(tmp, out_file)
    return out_file


def scenario_for(
    base_file: Path, settings: dict[str, Any], out_dir: Path, name: str, why: str, quick: bool
) -> Path:
    """The scenario a side runs: the file itself, or a derived one when anything is set."""
    settings = ({**QUICK_SETTINGS} if quick else {}) | settings
    if not settings:
        return base_file
    return derive(base_file, settings, out_dir / "scenarios" / f"{name}.yaml", why)


def plan_side(side: Side, scenario_file: Path, out_dir: Path, options: RunOptions) -> SideRun:
    """Size every candidate of a side with ``fleetsim plan``'s planner; read the cheapest.

    Raises:
        ScenarioError, OutputExistsError, OutputBusyError, ClusterError: as ``run_plan``.

    """
    instances = side.instances[:1] if options.quick else side.instances
    batches = side.max_batches[:1] if options.quick and side.max_batches else side.max_batches
    plan = run_plan(
        scenario_file,
        instances,
        replications=options.replications,
        max_count=side.max_count,
        max_batches=batches,
        out=out_dir,
        scheduler=options.scheduler,
        workers=options.workers,
        serial=options.serial,
        command="fleetsim claims",
        progress=options.progress,
    )
    floors = [r.floor_s for r in plan.results if r.floor_s is not None]
    return SideRun(
        scenario_file,
        load_scenario(scenario_file),
        plan.out_dir,
        plan.rows,
        _replications(plan.out_dir, plan.rows[0]["point_id"]),
        floor_s=min(floors) if len(floors) == len(plan.results) else None,
    )


def _replications(out_dir: Path, point_id: str | None) -> pd.DataFrame:
    """The ``summary.parquet`` rows of one point, by replication (empty if none)."""
    summary = pd.read_parquet(out_dir / SUMMARY_PARQUET)
    rows = summary[(summary["point_id"] == point_id) & (summary["status"] == "ok")]
    return rows.sort_values("replication").reset_index(drop=True)


def capacity_search(
    side: Side,
    scenario_file: Path,
    out_dir: Path,
    claimed_per_s: float,
    factors: list[float],
    options: RunOptions,
) -> SideRun:
    """The largest Poisson rate one instance sustains at the scenario's SLO.

    Round 1 runs ``claimed_per_s`` times each factor, for every largest batch of the side;
    round 2 runs three rates evenly inside the bracket of the best batch (the largest rate met
    in every replication and the next rate missed). ``extra`` holds ``rate_per_s`` (the
    answer), ``missed_per_s`` (the smallest rate above it that missed; NaN if none) and
    ``max_batch``; ``reps`` the replication rows at the answer (empty if no rate was met).
    """
    instance = side.instances[0]
    batches = (side.max_batches or [None])[: 1 if options.quick else None]
    base = load_base(scenario_file)
    if base["workload"]["arrivals"].get("kind") != "poisson":
        raise ValueError(f"{scenario_file}: a capacity claim needs Poisson arrivals")
    design = candidates([instance], None)[0]
    points: dict[str, Point] = {}
    met: dict[tuple[int | None, float], bool] = {}
    session = SweepSession(
        out_dir,
        scheduler=options.scheduler,
        workers=options.workers,
        serial=options.serial,
        progress=options.progress,
    )
    varied = ["fleet.0.batching.max_batch", "workload.arrivals.rate"]

    def run(wanted: list[tuple[int | None, float]]) -> None:
        batch = {}
        for max_batch, rate in wanted:
            data = copy.deepcopy(base)
            fields = {"fleet.0.batching.max_batch": max_batch, "workload.arrivals.rate": rate}
            fields = {k: v for k, v in fields.items() if v is not None}
            for path, value in fields.items():
                apply_setting(data, path, value, "claims", "capacity search")
            point = candidate_point(data, scenario_file.parent, 0, design, 1)
            point = Point(
                point.point_id, 0, {**point.settings, **fields}, point.scenario, point.text
            )
            batch[max_batch, rate] = point
        unique = list({p.point_id: p for p in batch.values()}.values())
        points.update({p.point_id: p for p in unique})
        session.run(unique, session.tasks(unique, options.replications, "summary", 0.01))
        for key, point in batch.items():
            rows = summary_rows(
                out_dir, [{"point_id": point.point_id, "settings": {}}], options.replications
            )
            met[key] = len(rows) == options.replications and all(
                r["status"] == "ok" and bool(r["slo_met"]) for r in rows
            )

    def best() -> tuple[int | None, float, float]:
        found = [(rate, b) for (b, rate), ok in met.items() if ok]
        if not found:
            return batches[0], math.nan, min(rate for _, rate in met)
        rate, b = max(found, key=lambda f: f[0])
        above = [r for (bb, r), ok in met.items() if bb == b and not ok and r > rate]
        return b, rate, min(above, default=math.nan)

    with session:
        try:
            run([(b, claimed_per_s * f) for b in batches for f in factors])
            b, low, high = best()
            if not math.isnan(low) and not math.isnan(high):
                run([(b, round(low + (high - low) * i / 4)) for i in (1, 2, 3)])
        finally:
            manifest = [{"point_id": p.point_id, "settings": p.settings} for p in points.values()]
            write_manifest(
                session.out_dir,
                name="claims-capacity",
                replications=options.replications,
                trace="summary",
                sample_fraction=None,
                varied=varied,
                points=list(points.values()),
                source="fleetsim claims",
            )
            write_summary(
                session.out_dir,
                varied,
                summary_rows(session.out_dir, manifest, options.replications),
            )
    b, rate, missed = best()
    chosen = [
        p
        for p in points.values()
        if p.settings.get("workload.arrivals.rate") == rate
        and p.settings.get("fleet.0.batching.max_batch") == b
    ]
    reps = _replications(session.out_dir, chosen[0].point_id if chosen else None)
    row = {
        "instance": instance,
        "count": 1,
        "dtype": design.dtype,
        "max_batch": b,
        "projected": design.projected,
        "slo_met": not math.isnan(rate),
    }
    return SideRun(
        scenario_file,
        load_scenario(scenario_file),
        session.out_dir,
        [row],
        reps,
        extra={"rate_per_s": rate, "missed_per_s": missed, "max_batch": b},
    )


def best_capacity_per_s(
    scenario: Scenario, instance: str, max_batch: int | None = None
) -> tuple[float, int]:
    """An instance's largest throughput on the scenario's pool at full load (requests/s).

    The hardware model's best batching up to ``max_batch`` (default: the scenario's;
    ``sim.planning.bounds``), every replica busy, no queueing delay counted: an upper bound on
    what any SLO allows. Returns (requests/s, the largest batch allowed).
    """
    point = _at(scenario, instance, max_batch)
    pool = plan_pools(point.scenario, model_names(point.scenario))[0]
    return pool.replicas / best_work_per_request_s(point.scenario, 0, pool), pool.max_batch


def accelerator_capacity_per_s(scenario: Scenario, instance: str, max_batch: int) -> float:
    """An instance's accelerators' throughput at full batches of ``max_batch`` (requests/s).

    Service time only (no host stage, no queueing), averaged over the mix's sequence
    lengths: what a chip's throughput per watt would rest on.
    """
    point = _at(scenario, instance, max_batch)
    config = point.scenario.fleet[0]
    pool = plan_pools(point.scenario, model_names(point.scenario))[0]
    entry = next(e for e in point.scenario.workload.mix if e.model == config.model)
    lengths, pmf = seq_len_pmf(entry, default_seq_len(point.scenario, config.model))
    per_request_s = sum(
        float(p) * pool.service_s(max_batch, int(n)) / max_batch
        for n, p in zip(lengths, pmf, strict=True)
    )
    return pool.replicas / per_request_s


def latency_floor_s(
    scenario: Scenario, instance: str, max_batch: int | None = None
) -> float | None:
    """The SLO percentile of an idle ``instance`` pool's latency (s): no fleet does better.

    With ``max_batch`` 1 there is no batching wait and no padding to a larger compiled batch.
    """
    point = _at(scenario, instance, max_batch)
    return unloaded_latency_s(point.scenario, point.scenario.fleet[0].name)


def _at(scenario: Scenario, instance: str, max_batch: int | None = None) -> Point:
    """The scenario with its (only) pool on one ``instance``, natural dtype and cores."""
    data = scenario.model_dump(mode="json")
    design = Candidate(instance, catalog_dtype(instance), "auto", max_batch)
    return candidate_point(data, Path("."), 0, design, 1)


def catalog_dtype(instance: str) -> str:
    """The instance's natural dtype (bf16 on NeuronCores, fp16 on GPUs)."""
    return candidates([instance], None)[0].dtype


def instance_facts(instance: str) -> catalog.InstanceType:
    """The catalog entry of an instance type."""
    return catalog.instance_type(instance)
