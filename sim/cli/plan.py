"""``fleetsim plan``: the cheapest fleet that holds the SLO, per instance type."""

from __future__ import annotations

import math
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from sim.cli.consoles import fail, stderr, stdout, wide_stdout
from sim.cli.progress import SweepDisplay
from sim.cli.signals import sweep_job_exits
from sim.cli.sweep import SchedulerOption, WorkersOption

if TYPE_CHECKING:  # imported when a plan runs: a run need not load dask or sim.planning
    from sim.planning.candidates import Candidate


def _numbers(text: str | None, option: str) -> list[int] | None:
    """``1,4,8`` as integers >= 1."""
    if text is None:
        return None
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise fail(f"{option}: expected whole numbers separated by commas, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise fail(f"{option}: expected whole numbers >= 1, got {text!r}")
    return list(dict.fromkeys(values))


def plan(
    scenario_file: Annotated[Path, typer.Argument(help="Scenario YAML file.", metavar="SCENARIO")],
    instances: Annotated[
        str, typer.Option(help="Candidate instance types, comma-separated (inf2.xlarge,g5.xlarge).")
    ],
    pool: Annotated[
        str | None, typer.Option(help="The pool to size (default: the scenario's only pool).")
    ] = None,
    replications: Annotated[
        int, typer.Option(min=1, max=100, help="Replications per count; the SLO must hold in each.")
    ] = 3,
    max_count: Annotated[
        int, typer.Option(min=1, max=100_000, help="The largest instance count to try.")
    ] = 1000,
    max_batch: Annotated[
        str | None,
        typer.Option(help="Largest batch sizes to search too, comma-separated (e.g. 1,4,8)."),
    ] = None,
    dtype: Annotated[
        str | None,
        typer.Option(help="dtype for every candidate (default: bf16 on Neuron, fp16 on GPUs)."),
    ] = None,
    cores_per_replica: Annotated[
        str | None, typer.Option(help="Cores per replica (default auto: the fewest that fit).")
    ] = None,
    duration: Annotated[
        str | None, typer.Option(help="Override the scenario's duration (with its unit).")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output directory (default: runs/plans/<scenario name>)."),
    ] = None,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    serial: Annotated[bool, typer.Option(help="Run in this process (for debugging).")] = False,
    force: Annotated[
        bool, typer.Option(help="Simulate every count again, even those already done.")
    ] = False,
    plot: Annotated[bool, typer.Option(help="Also write the cost-vs-p99 frontier as PNG.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress.")] = False,
) -> None:
    """Size each candidate: the smallest count that meets the SLO in every replication."""
    from sim.planning.planner import run_plan

    if scheduler is not None and (workers is not None or serial):
        raise fail("--scheduler uses the cluster's workers: drop --workers and --serial")
    names = [name.strip() for name in instances.split(",") if name.strip()]
    if not names:
        raise fail(f"--instances: expected instance types separated by commas, got {instances!r}")
    cores: int | str | None = cores_per_replica
    if cores_per_replica is not None and cores_per_replica != "auto":
        cores = (_numbers(cores_per_replica, "--cores-per-replica") or [1])[0]
    display = SweepDisplay("plan", enabled=not quiet)

    def started(where: str, dashboard: str | None) -> None:
        if not quiet:
            shown = f"; dashboard: {dashboard}" if dashboard else ""
            stderr().print(escape(f"running on {where}{shown}"), highlight=False, soft_wrap=True)

    def on_round(number: int, wanted: dict[Candidate, list[int]]) -> None:
        display.close()
        display.label = f"plan round {number}"
        if not quiet:
            tried = "; ".join(
                f"{c.instance}{f' b{c.max_batch}' if c.max_batch else ''}: "
                f"{', '.join(map(str, counts))}"
                for c, counts in wanted.items()
            )
            stderr().print(escape(f"round {number}: {tried}"), highlight=False, soft_wrap=True)

    with sweep_job_exits(display, "the plan", _interrupted):
        result = run_plan(
            scenario_file, names, pool=pool, replications=replications,
            max_count=max_count, max_batches=_numbers(max_batch, "--max-batch"),
            dtype=dtype, cores_per_replica=cores, duration=duration, out=out_dir,
            scheduler=scheduler, workers=workers, serial=serial, force=force, plot=plot,
            command=shlex.join(["fleetsim", *sys.argv[1:]]), progress=display,
            on_start=started, on_round=on_round,
        )  # fmt: skip
    wide_stdout().print(plan_table(f"fleetsim plan: {result.pool} ({result.slo})", result.rows))
    for row in result.rows:
        stdout().print(
            escape(f"{row['instance']} (batch {row['max_batch']}): {row['note']}"),
            highlight=False,
            soft_wrap=True,
        )
    if any(row["projected"] for row in result.rows):
        stdout().print(
            "[yellow]note:[/] PROJECTED hardware (inf3): its performance and price are "
            "projections, not published figures."
        )
    stdout().print(
        escape(f"wrote {', '.join(str(f) for f in result.files)} in {result.wall_s:.1f} s"),
        highlight=False,
        soft_wrap=True,
    )


def _interrupted(why: str) -> str:
    return (
        f"{why}; every count simulated so far is kept; run the same command again to "
        "continue (finished counts are not simulated again)"
    )


def plan_table(title: str, rows: list[dict[str, Any]]) -> Table:
    """The plan, cheapest first: instance, count, batch, p99 (worst and range), cost."""
    table = Table(title=title, header_style="bold")
    for column in ("instance", "count", "batch", "p99 ms", "range", "util", "$/hour",
                   "$/million", "SLO"):  # fmt: skip
        table.add_column(column, justify="left" if column == "instance" else "right",
                         no_wrap=column != "instance")  # fmt: skip
    for row in rows:
        tag = " PROJECTED" if row["projected"] else ""
        low, high = row["latency_p99_min_s"] * 1e3, row["latency_p99_s"] * 1e3
        table.add_row(
            escape(row["instance"] + tag),
            str(row["count"]) if row["count"] is not None else "-",
            str(row["max_batch"]),
            "-" if math.isnan(high) else f"{high:.3f}",
            "-" if math.isnan(high) else f"{low:.2f}-{high:.2f}",
            "-" if math.isnan(row["utilisation"]) else f"{row['utilisation']:.1%}",
            "-" if math.isnan(row["usd_per_hour"]) else f"${row['usd_per_hour']:,.2f}",
            "-"
            if math.isnan(row["cost_per_million_usd"])
            else f"${row['cost_per_million_usd']:,.4f}",
            "met" if row["slo_met"] else "NOT MET",
        )
    return table


def _ms(seconds: float) -> str:
    return "-" if seconds is None or math.isnan(seconds) else f"{seconds * 1e3:.3f} ms"
