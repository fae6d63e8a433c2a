"""``fleetsim sweep``: run a sweep file on Dask distributed (``sim.sweep``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from sim.cli.consoles import fail, stderr, stdout, wide_stdout
from sim.cli.progress import SweepDisplay
from sim.cli.signals import sweep_job_exits

if TYPE_CHECKING:  # imported when a sweep runs: a run need not load dask or sim.sweep
    from sim.sweep import Point, SweepResult, SweepSpec

SchedulerOption = Annotated[
    str | None,
    typer.Option(
        help="Address of an existing Dask scheduler (tcp://HOST:PORT); its workers must have "
        "this fleetsim installed and see the output directory. Default: a local cluster."
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        min=1, max=1024, help="Worker processes of the local cluster (default: one per core)."
    ),
]


def sweep(
    sweep_file: Annotated[Path, typer.Argument(help="Sweep YAML file.", metavar="SWEEP")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output directory (default: runs/sweeps/<sweep name>)."),
    ] = None,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    serial: Annotated[
        bool, typer.Option(help="Run the points one by one in this process (for debugging).")
    ] = False,
    force: Annotated[
        bool, typer.Option(help="Run every point again, even those already complete.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress and no table.")] = False,
) -> None:
    """Run every point of a sweep; write DIR/summary.parquet and DIR/points/ (resumable)."""
    from sim.sweep import run_sweep

    if scheduler is not None and (workers is not None or serial):
        raise fail("--scheduler uses the cluster's workers: drop --workers and --serial")
    display = SweepDisplay(f"sweep {sweep_file.stem}", enabled=not quiet)

    def started(where: str, dashboard: str | None) -> None:
        if not quiet:
            shown = f"; dashboard: {dashboard}" if dashboard else ""
            stderr().print(escape(f"running on {where}{shown}"), highlight=False, soft_wrap=True)

    def announce(spec: SweepSpec, points: list[Point]) -> None:
        display.label = f"sweep {spec.name}"
        if not quiet:
            reps = spec.replications
            stderr().print(
                escape(f"sweep {spec.name}: {len(points)} points x {reps} replications"),
                highlight=False,
                soft_wrap=True,
            )

    with sweep_job_exits(display, "the sweep", lambda why: _interrupted(out_dir, why)):
        result = run_sweep(
            sweep_file,
            out_dir,
            scheduler=scheduler,
            workers=workers,
            serial=serial,
            force=force,
            progress=display,
            on_start=started,
            on_points=announce,
        )
    _report(result, quiet)
    if result.failed:
        raise typer.Exit(1)


def _interrupted(out_dir: Path | None, why: str) -> str:
    """What an interrupted sweep kept, and how to finish it."""
    return (
        f"{why}; the points already complete are kept (summary.parquet lists them); run the "
        "same command again to finish the rest"
    )


def _report(result: SweepResult, quiet: bool) -> None:
    """The table of points, failures, and where the summary is."""
    import analysis.sweeps
    from sim.cli.tables import sweep_table

    df = analysis.sweeps.load_sweep(result.summary_path)
    manifest = analysis.sweeps.manifest(result.out_dir)
    if not quiet and not df.empty:
        title = f"fleetsim sweep: {manifest['name']}"
        wide_stdout().print(sweep_table(title, df, manifest["varied"]))
    for outcome in result.failed[:10]:
        stderr().print(
            f"[bold red]failed:[/] point {outcome.point_id} replication {outcome.replication}: "
            f"{escape(outcome.error or '')}",
            highlight=False,
            soft_wrap=True,
        )
    ran, skipped, failed = (result.count(s) for s in ("ok", "skipped", "failed"))
    stdout().print(
        escape(
            f"wrote {result.summary_path} ({len(df)} rows): {ran} replications run, "
            f"{skipped} already complete, {failed} failed, in {result.wall_s:.1f} s"
        ),
        highlight=False,
        soft_wrap=True,
    )
