"""``run_plan``: size every candidate for a scenario and write the plan.

::

    from sim.planning.planner import run_plan
    plan = run_plan("scenarios/amazon_search.yaml", ["inf2.xlarge", "g5.xlarge"], workers=2)
    print(plan.rows[0]["instance"], plan.rows[0]["count"])

The plan directory is a sweep directory too (``analysis.load_sweep`` reads every count
simulated); ``plan.parquet``, ``plan.md`` and optionally ``plan.png`` hold the answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.planning.candidates import Candidate, candidates, settings
from sim.planning.report import plan_markdown, plan_rows, plot_frontier, write_plan_parquet
from sim.planning.report import write_text as write_text_file
from sim.planning.search import CandidateResult, plan_candidates
from sim.scenario.errors import ScenarioError
from sim.scenario.loading import validate_scenario
from sim.scenario.units import format_duration
from sim.sweep.dataset import summary_rows, write_manifest, write_summary
from sim.sweep.points import Point, apply_setting, load_base
from sim.sweep.runner import SweepProgress, SweepSession

PLAN_PARQUET = "plan.parquet"
PLAN_MARKDOWN = "plan.md"
PLAN_PLOT = "plan.png"


@dataclass
class PlanResult:
    """A finished plan.

    Attributes:
        rows: One per candidate (``sim.planning.report.plan_rows``), best first.
        results: The search's result for each candidate.
        out_dir: The plan directory.
        files: What was written (plan.parquet, plan.md, plan.png, summary.parquet).
        pool: The pool that was sized.
        slo: The SLO, in words.
        wall_s: Time the plan took (s).

    """

    rows: list[dict[str, Any]]
    results: list[CandidateResult]
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    pool: str = ""
    slo: str = ""
    wall_s: float = 0.0


def run_plan(
    scenario_file: str | Path,
    instances: list[str],
    *,
    pool: str | None = None,
    replications: int = 3,
    max_count: int = 1000,
    max_batches: list[int] | None = None,
    dtype: str | None = None,
    cores_per_replica: int | str | None = None,
    duration: str | None = None,
    out: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    force: bool = False,
    plot: bool = False,
    command: str = "",
    progress: Callable[[SweepProgress], None] | None = None,
    on_start: Callable[[str, str | None], None] | None = None,
    on_round: Callable[[int, dict[Candidate, list[int]]], None] | None = None,
) -> PlanResult:
    """Find, for each candidate instance type, the smallest count meeting the SLO.

    Args:
        scenario_file: The scenario; its ``slo`` is the target.
        instances: Candidate instance types (replacing the pool's).
        pool: The pool to size (default: the scenario's only pool).
        replications: Replications of every count; the SLO must hold in each.
        max_count: The largest count tried.
        max_batches: Largest batch sizes to search too (default: the scenario's).
        dtype: The dtype for every candidate (default: each instance's natural one).
        cores_per_replica: Cores per replica (default ``auto``: the fewest that fit).
        duration: Override the scenario's duration, with its unit.
        out: The plan directory (default ``runs/plans/<scenario name>``).
        scheduler: An existing Dask scheduler's address (default: a local cluster).
        workers: Worker processes of the local cluster (default: one per core).
        serial: Run in this process.
        force: Simulate every count again, even those already in the plan directory.
        plot: Also write the cost-vs-p99 frontier, ``plan.png``.
        command: The command line, recorded in ``plan.md``.
        progress: Called with a ``SweepProgress`` as each round's tasks end.
        on_start: Called with (where the tasks run, dashboard address).
        on_round: Called with each round's number and the counts it runs.

    Raises:
        ScenarioError: the scenario, the pool or an option is not valid (nothing written).
        OutputExistsError, OutputBusyError, ClusterError: as for ``sim.sweep.run_sweep``.

    """
    started = time.monotonic()
    scenario_file = Path(scenario_file)
    base = load_base(scenario_file)
    if duration is not None:
        apply_setting(base, "duration", duration, "command line", "--duration")
    try:
        scenario = validate_scenario(base, None, None, scenario_file.parent)
    except ScenarioError as exc:
        raise ScenarioError(exc.problems, "command line") from None
    index = _pool_index(scenario.fleet, pool)
    try:
        designs = candidates(instances, max_batches, dtype, cores_per_replica)
    except KeyError as exc:
        raise ScenarioError.single("--instances", str(exc.args[0]), source="command line") from None
    out_dir = Path(out) if out is not None else Path("runs") / "plans" / scenario.name
    session = SweepSession(out_dir, serial=serial, scheduler=scheduler, workers=workers,
                           force=force, progress=progress, on_start=on_start)  # fmt: skip
    varied = list(settings(index, designs[0], 1)) if designs else []
    if max_batches is None:
        varied = [v for v in varied if not v.endswith(".max_batch")]
    simulated: list[Point] = []

    def record(points: list[Point]) -> None:
        simulated.extend(points)
        write_manifest(session.out_dir, name=f"plan-{scenario.name}", replications=replications,
                       trace="summary", sample_fraction=None, varied=varied, points=simulated,
                       source=command)  # fmt: skip

    with session:
        record([])
        try:
            results, points = plan_candidates(
                session, base, scenario_file.parent, index, designs,
                replications=replications, max_count=max_count, on_round=on_round,
            )  # fmt: skip
            record(points)
        finally:  # interrupted too: every count simulated so far is in summary.parquet
            manifest_points = [{"point_id": p.point_id, "settings": p.settings} for p in simulated]
            write_summary(session.out_dir, varied,
                          summary_rows(session.out_dir, manifest_points, replications))  # fmt: skip
    slo = f"p{scenario.slo.percentile:g} <= {format_duration(scenario.slo.target)}"
    rows = plan_rows(results, scenario.fleet[index].batching.max_batch)
    plan = PlanResult(rows, results, session.out_dir, pool=scenario.fleet[index].name, slo=slo)
    facts = [
        f"scenario: {scenario.name} ({scenario_file}), pool {plan.pool} sized",
        f"{replications} replications of {format_duration(scenario.duration)} per count "
        f"(warm-up {format_duration(scenario.warmup)}); the SLO must hold in every one, drops "
        "counting as misses",
        f"counts tried up to {max_count}",
    ]
    files = [session.out_dir / PLAN_PARQUET, session.out_dir / PLAN_MARKDOWN]
    write_plan_parquet(files[0], rows)
    title = f"fleetsim plan: {scenario.name}"
    write_text_file(files[1], plan_markdown(title, facts, rows, slo, command or "fleetsim plan"))
    if plot:
        files.append(session.out_dir / PLAN_PLOT)
        plot_frontier(files[-1], results, scenario.slo.target, f"{title} ({slo})")
    plan.files = [*files, session.out_dir / "summary.parquet"]
    plan.wall_s = time.monotonic() - started
    return plan


def _pool_index(fleet: list[Any], name: str | None) -> int:
    """The position of the pool to size.

    Raises:
        ScenarioError: no pool of that name, or several pools and none named.

    """
    names = [p.name for p in fleet]
    if name is None:
        if len(names) == 1:
            return _pool_index(fleet, names[0])
        raise ScenarioError.single(
            "--pool", f"the scenario has {len(names)} pools ({', '.join(names)}): name one",
            source="command line",
        )  # fmt: skip
    if name not in names:
        raise ScenarioError.single(
            "--pool", f"no pool named {name!r}; the pools are {', '.join(names)}",
            source="command line",
        )  # fmt: skip
    index = names.index(name)
    if fleet[index].models is not None:
        raise ScenarioError.single(
            "--pool", f"pool {name!r} serves several models (models:); the planner sizes "
            "pools serving one model: plan each model with its own pool, then share instances",
            source="command line",
        )  # fmt: skip
    return index
