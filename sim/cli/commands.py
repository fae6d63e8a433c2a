"""The ``fleetsim`` command line: thin typer commands over ``sim`` and ``analysis``."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

import analysis
import hardware
from hardware import catalog
from sim import __version__
from sim.cli.hardware import app as hardware_app
from sim.cli.tables import summary_table
from sim.engine.output import OutputExistsError, staged_dir, write_json
from sim.engine.runner import run as run_scenario
from sim.scenario.errors import ScenarioError
from sim.scenario.loading import load_scenario, with_overrides
from sim.scenario.units import DURATION_HELP, parse_duration_s

app = typer.Typer(
    name="fleetsim",
    help="Simulate ML-inference fleets on AWS Inferentia: latency, capacity and cost.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(hardware_app, name="hardware")


def _stderr() -> Console:
    return Console(stderr=True)


def _stdout() -> Console:
    return Console()


PROGRESS_AFTER_S = 2.0


def _fail(message: str, code: int = 2) -> typer.Exit:
    _stderr().print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


class _LazyProgress:
    """A progress bar that appears only once a run has taken more than a couple of seconds."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled
        self.started = time.perf_counter()
        self.bar: Progress | None = None
        self.task = None

    def __call__(self, fraction: float) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.perf_counter() - self.started < PROGRESS_AFTER_S:
                return
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}% of simulated time"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=_stderr(),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=1.0)
        self.bar.update(self.task, completed=fraction)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command()
def run(
    scenario_file: Annotated[Path, typer.Argument(help="Scenario YAML file.", metavar="SCENARIO")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output directory (default: runs/<scenario name>)."),
    ] = None,
    duration: Annotated[
        str | None, typer.Option(help=f"Override the scenario duration: {DURATION_HELP}.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override the scenario seed.", min=0)] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output directory.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar and no summary table.")] = False,
) -> None:
    """Run a scenario; write DIR/requests.parquet and DIR/summary.json; print the summary."""
    try:
        scenario = load_scenario(scenario_file)
        duration_s = None
        if duration is not None:
            try:
                duration_s = parse_duration_s(duration)
            except ValueError as exc:
                raise ScenarioError.single("--duration", str(exc), source="command line") from None
            if duration_s <= 0:
                raise ScenarioError.single(
                    "--duration", f"must be > 0, got {duration!r}", source="command line"
                )
        if duration_s is not None or seed is not None:
            scenario = with_overrides(scenario, duration_s, seed)
    except ScenarioError as exc:
        raise _fail(str(exc)) from None
    target = out_dir if out_dir is not None else Path("runs") / scenario.name
    progress = _LazyProgress(f"{scenario.name}", enabled=not quiet and sys.stderr.isatty())
    try:
        with staged_dir(target, force=force) as staging:
            stats = run_scenario(
                scenario,
                staging / "requests.parquet",
                progress=progress,
                source_text=scenario_file.read_text(encoding="utf-8"),
            )
            progress.close()
            summary = analysis.summarize_trace(staging / "requests.parquet")
            info = analysis.run_info(staging / "requests.parquet")
            write_json(
                staging / "summary.json",
                {
                    "scenario": scenario.name,
                    "seed": scenario.seed,
                    "duration_s": scenario.duration,
                    "warmup_s": scenario.warmup,
                    "fleetsim_version": __version__,
                    "hardware_model_version": info["hardware_model_version"],
                    "pools": info["pools"],
                    **summary,
                    "wall_s": stats.wall_s,
                },
            )
    except OutputExistsError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        progress.close()
        raise _fail("interrupted; no output was written", code=130) from None
    finally:
        progress.close()
    if not quiet:
        _stdout().print(summary_table(f"fleetsim: {scenario.name}", summary, info["pools"]))
        if any(p["projected"] for p in info["pools"]):
            _stdout().print(
                "[yellow]note:[/] PROJECTED hardware in this fleet (inf3): its performance "
                "and price are projections, not published figures."
            )
    _stdout().print(
        escape(
            f"wrote {target / 'requests.parquet'} ({stats.requests:,} requests) and "
            f"{target / 'summary.json'} in {stats.wall_s:.1f} s"
        ),
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def validate(
    scenario_file: Annotated[Path, typer.Argument(help="Scenario YAML file.", metavar="FILE")],
) -> None:
    """Check a scenario file without running it (exit code 2 if it is invalid)."""
    try:
        scenario = load_scenario(scenario_file)
    except ScenarioError as exc:
        raise _fail(str(exc)) from None
    pools = ", ".join(
        f"{p.name} ({p.count} x {p.instance}"
        f"{', PROJECTED hardware' if catalog.instance_type(p.instance).projected else ''})"
        for p in scenario.fleet
    )
    _stdout().print(
        escape(f"{scenario_file}: ok - scenario {scenario.name!r}, pools: {pools}"),
        highlight=False,
        soft_wrap=True,
    )


class Profile(StrEnum):
    """How much simulation a selfcheck does."""

    fast = "fast"
    full = "full"


@app.command()
def selfcheck(
    profile: Annotated[
        Profile, typer.Option(help="fast: the test suite's checks; full: all, high power.")
    ] = Profile.full,
    workers: Annotated[int, typer.Option(min=1, help="Parallel replications.")] = 2,
    only: Annotated[
        str | None,
        typer.Option(help="Run only the checks whose name contains this text (e.g. 'M/M/8')."),
    ] = None,
) -> None:
    """Check the engine against queueing theory (M/M/c, P-K, balancing, Little's law)."""
    from sim import selfcheck as sc

    table = Table(title=f"fleetsim selfcheck ({profile.value})", header_style="bold")
    for column in ("check", "theory", "simulated (99% interval)", "reps", "result"):
        table.add_column(column, justify="left" if column == "check" else "right")
    failed = 0

    def show(result: sc.CheckResult) -> None:
        nonlocal failed
        failed += not result.passed
        table.add_row(
            result.name,
            f"{result.theory:.5g} {result.unit}",
            f"{result.mean:.5g} +/- {result.half_width:.2g}",
            str(result.replications),
            "pass" if result.passed else ("FAIL (wide)" if result.inside else "FAIL"),
        )
        _stderr().print(result.describe(), highlight=False, soft_wrap=True)

    chosen = [c for c in sc.checks(profile.value) if only is None or only in c.name]
    policy = only is None or only in "policy order"
    if not chosen and not policy:
        raise _fail(f"--only {only!r} matches no check")
    sc.run_checks(chosen, workers=workers, on_result=show)
    if policy:
        waits = sc.policy_waits()
        ordered = list(waits.values()) == sorted(waits.values())
        failed += not ordered
        table.add_row(
            "policy order at rho=0.9 (same arrivals): JSQ <= P2 <= RR <= random",
            "ordered",
            " <= ".join(f"{w * 1e3:.3f} ms" for w in waits.values()),
            "4",
            "pass" if ordered else "FAIL",
        )
    _stdout().print(table)
    if failed:
        raise _fail(f"{failed} check(s) failed", code=1)


@app.command()
def version() -> None:
    """Print the fleetsim and hardware-model versions, and which event loop runs."""
    from sim.engine.loop import compiled_available

    loop = "compiled" if compiled_available() else "pure Python (sim.engine._kernel not built)"
    _stdout().print(
        f"fleetsim {__version__}, hardware model {hardware.HARDWARE_MODEL_VERSION}, "
        f"event loop: {loop}"
    )


def main() -> None:
    """Console-script entry point."""
    app()
