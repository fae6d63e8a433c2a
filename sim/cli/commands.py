"""The ``fleetsim`` command line: thin typer commands over ``sim`` and ``analysis``."""

from __future__ import annotations

import signal
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.exceptions import Abort

import hardware
from hardware import catalog
from sim import __version__
from sim.cli.claims import claims
from sim.cli.consoles import (
    EXIT_IO_ERROR,
    StdoutFailed,
    fail,
    silence_stdout,
    stderr,
    stdout,
)
from sim.cli.hardware import app as hardware_app
from sim.cli.plan import plan
from sim.cli.progress import LazyProgress
from sim.cli.report import report
from sim.cli.signals import Terminated, terminated_as_exception
from sim.cli.sweep import sweep
from sim.cli.tables import summary_table
from sim.engine.api import default_out_dir, prepare
from sim.engine.api import run as sim_run
from sim.engine.engines import EngineUnavailable, kernel_built
from sim.engine.estimate import LONG_RUN_S, RunEstimate, RunRefused, check_fits, estimate_run
from sim.engine.output import OutputExistsError
from sim.scenario.errors import ScenarioError
from sim.scenario.loading import load_scenario
from sim.scenario.units import DURATION_HELP, parse_bytes

app = typer.Typer(
    name="fleetsim",
    help="Simulate ML-inference fleets on AWS Inferentia: latency, capacity and cost.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(hardware_app, name="hardware")
app.command()(sweep)
app.command()(plan)
app.command()(report)
app.command()(claims)


def _print_version(value: bool) -> None:
    if value:
        version()
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the versions."
        ),
    ] = False,
) -> None:
    """Simulate ML-inference fleets on AWS Inferentia: latency, capacity and cost."""


MaxMemoryOption = Annotated[
    str | None,
    typer.Option(
        help="Memory the run may use (e.g. 64GB); by default what the machine has available. "
        "A run estimated to need more is refused."
    ),
]


def _as_options(exc: ScenarioError) -> ScenarioError:
    """An error about a ``sim.run`` argument, named as its command-line option."""
    if exc.source != "run":
        return exc
    options = {"seed", "duration", "max_memory", "engine", "trace", "sample_fraction"}
    problems = [
        (f"--{p.replace('_', '-')}" if p in options else p, m, line) for p, m, line in exc.problems
    ]
    return ScenarioError(problems, "command line")


def _announce(estimate: RunEstimate) -> None:
    """Say what a long run will take before it starts."""
    if estimate.wall_s > LONG_RUN_S:
        stderr().print(escape(f"estimate: {estimate.describe()}"), highlight=False,
                        soft_wrap=True)  # fmt: skip


class TraceChoice(StrEnum):
    """What ``fleetsim run --trace`` writes (``sim.engine.trace_writer.TraceMode``)."""

    full = "full"
    sample = "sample"
    summary = "summary"


class EngineChoice(StrEnum):
    """Engines ``fleetsim run --engine`` accepts (``sim.engine.engines``)."""

    auto = "auto"
    compiled = "compiled"
    simpy = "simpy"


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
    engine: Annotated[
        EngineChoice,
        typer.Option(
            help="auto: the compiled kernel when it can run the scenario, else the SimPy "
            "model; compiled; simpy (the readable definition, slower)."
        ),
    ] = EngineChoice.auto,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output directory.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar and no summary table.")] = False,
    max_memory: MaxMemoryOption = None,
    trace: Annotated[
        TraceChoice,
        typer.Option(
            help="full: a row per request; sample: a row for a seeded fraction of them "
            "(--sample-fraction); summary: no trace file. summary.json is exact in every mode."
        ),
    ] = TraceChoice.full,
    sample_fraction: Annotated[
        float, typer.Option(help="The fraction of requests --trace sample keeps, in (0, 1].")
    ] = 0.01,
) -> None:
    """Run a scenario; write DIR/requests.parquet and DIR/summary.json; print the summary."""
    started = time.perf_counter()
    try:
        scenario, source_text = prepare(scenario_file, seed=seed, duration=duration)
    except ScenarioError as exc:
        raise fail(str(_as_options(exc))) from None
    progress = LazyProgress(scenario.name, enabled=not quiet)
    try:
        with terminated_as_exception():
            result = sim_run(scenario, out_dir, engine=engine.value, source_text=source_text,
                             force=force, progress=progress,
                             max_memory=max_memory, trace=trace.value,
                             sample_fraction=sample_fraction,
                             on_estimate=None if quiet else _announce)  # fmt: skip
    except ScenarioError as exc:  # --max-memory
        raise fail(str(_as_options(exc))) from None
    except (OutputExistsError, EngineUnavailable, RunRefused) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:  # the output's disk filled up, a file grew past a limit, ...
        progress.close()
        where = out_dir if out_dir is not None else f"runs/{scenario.name}"
        raise fail(
            f"could not write the run's output for {where}: {exc.strerror or exc}; nothing "
            "was written",
            code=EXIT_IO_ERROR,
        ) from None
    except KeyboardInterrupt:
        progress.close()
        raise fail("interrupted; no output was written", code=130) from None
    except Terminated as exc:
        progress.close()
        raise fail(f"{exc}; no output was written", code=128 + exc.signum) from None
    finally:
        progress.close()
    summary = result.summary
    if not quiet:
        stdout().print(summary_table(f"fleetsim: {scenario.name}", summary, summary["pools"]))
        if any(p["projected"] for p in summary["pools"]):
            stdout().print(
                "[yellow]note:[/] PROJECTED hardware in this fleet (inf3): its performance "
                "and price are projections, not published figures."
            )
    if summary["requests"] == 0:
        stderr().print(
            "[yellow]warning:[/] no request arrived after the warm-up, so every metric is "
            "empty; check the arrival rate, the duration and the warm-up",
            highlight=False,
            soft_wrap=True,
        )
    engine_line = f"engine: {result.engine}"
    if result.engine_reason:
        engine_line += f" ({result.engine_reason})"
    stdout().print(escape(engine_line), highlight=False, soft_wrap=True)
    written = {
        "full": f"{result.trace_path} ({result.trace_rows:,} requests) and ",
        "sample": f"{result.trace_path} (a {sample_fraction:g} sample of {result.trace_rows:,} "
        "requests) and ",
        "summary": "",
    }[trace.value]
    stdout().print(
        escape(
            f"wrote {written}{result.out_dir / 'summary.json'} in "
            f"{time.perf_counter() - started:.1f} s"
        ),
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def validate(
    scenario_file: Annotated[Path, typer.Argument(help="Scenario YAML file.", metavar="FILE")],
    max_memory: MaxMemoryOption = None,
) -> None:
    """Check a scenario without running it: valid, and fits this machine (else exit 2)."""
    try:
        scenario = load_scenario(scenario_file)
        limit = None
        if max_memory is not None:
            try:
                limit = parse_bytes(max_memory)
            except ValueError as exc:
                raise ScenarioError.single(
                    "--max-memory", str(exc), source="command line"
                ) from None
        estimate = estimate_run(scenario)
        check_fits(estimate, out_dir=default_out_dir(scenario).parent, max_memory_bytes=limit)
    except (ScenarioError, RunRefused) as exc:
        raise fail(str(exc)) from None
    pools = ", ".join(
        f"{p.name} ({p.count} x {p.instance}"
        f"{', PROJECTED hardware' if catalog.instance_type(p.instance).projected else ''})"
        for p in scenario.fleet
    )
    stdout().print(
        escape(
            f"{scenario_file}: ok - scenario {scenario.name!r}, pools: {pools}; "
            f"estimate: {estimate.describe()}"
        ),
        highlight=False,
        soft_wrap=True,
    )


POLICY_CHECK = "policy order at rho=0.9 (same arrivals): JSQ <= P2 <= RR <= random"


class Profile(StrEnum):
    """How much simulation a selfcheck does."""

    fast = "fast"
    full = "full"


@app.command()
def selfcheck(
    profile: Annotated[
        Profile, typer.Option(help="fast: the test suite's checks; full: all, high power.")
    ] = Profile.full,
    workers: Annotated[
        int, typer.Option(min=1, max=256, help="Parallel replications (processes).")
    ] = 2,
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
        stderr().print(result.describe(), highlight=False, soft_wrap=True)

    chosen = [c for c in sc.checks(profile.value) if only is None or only in c.name]
    policy = only is None or only in POLICY_CHECK
    if not chosen and not policy:
        raise fail(f"--only {only!r} matches no check")
    sc.run_checks(chosen, workers=workers, on_result=show)
    if policy:
        waits = sc.policy_waits()
        ordered = list(waits.values()) == sorted(waits.values())
        failed += not ordered
        table.add_row(
            POLICY_CHECK,
            "ordered",
            " <= ".join(f"{w * 1e3:.3f} ms" for w in waits.values()),
            "4",
            "pass" if ordered else "FAIL",
        )
    stdout().print(table)
    if failed:
        raise fail(f"{failed} check(s) failed", code=1)


@app.command()
def version() -> None:
    """Print the fleetsim and hardware-model versions, and whether the kernel is built."""
    kernel = "built" if kernel_built() else "not built (runs use the SimPy engine)"
    stdout().print(
        f"fleetsim {__version__}, hardware model {hardware.HARDWARE_MODEL_VERSION}, "
        f"compiled kernel: {kernel}"
    )


def main() -> None:
    """Console-script entry point.

    Standard output that cannot be written ends the command with one line and exit 74
    (141 for a pipe closed early: ``sim.cli.consoles``); a command-line usage error is one
    line and exit 2.
    """
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # a closed pipe ends us: exit 141, quietly
    try:
        result = app(standalone_mode=False)
    except StdoutFailed as exc:
        silence_stdout()
        stderr().print(
            f"[bold red]error:[/] cannot write to standard output ({escape(str(exc))})",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(EXIT_IO_ERROR)
    except NoArgsIsHelpError as exc:  # ``fleetsim`` alone: the help, as typer shows it
        stdout().print(exc.ctx.get_help() if exc.ctx is not None else "", highlight=False)
        sys.exit(0)
    except UsageError as exc:  # typer's own box takes many lines: one
        command = exc.ctx.command_path if exc.ctx is not None else "fleetsim"
        stderr().print(f"[bold red]error:[/] {escape(exc.format_message())} (see '{command} -h')",
                       highlight=False, soft_wrap=True)  # fmt: skip
        sys.exit(2)
    except Abort:
        stderr().print("[bold red]error:[/] interrupted", highlight=False)
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)
