"""``sim.run``: the public Python API of a run, and what ``fleetsim run`` calls.

::

    import sim

    result = sim.run("scenarios/alexa.yaml", "runs/alexa-10s", duration="10s", force=True)
    print(result.engine, result.summary["latency_p99_s"], result.trace_path)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.engine.engines import Engine, EngineUnavailable, why_not_compiled
from sim.engine.estimate import RunEstimate, check_fits, estimate_run
from sim.engine.output import staged_dir, write_json
from sim.engine.runner import Process, simulate
from sim.engine.summary import run_summary
from sim.engine.trace_writer import TraceMode
from sim.policies.balancers import BALANCERS
from sim.scenario.errors import ScenarioError
from sim.scenario.loading import parse_scenario, read_scenario_text, with_overrides
from sim.scenario.schema import Scenario
from sim.scenario.units import parse_bytes, parse_duration_s
from sim.streams import stream

TRACE_FILE = "requests.parquet"
SUMMARY_FILE = "summary.json"


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run wrote and what ran it.

    Attributes:
        summary: The dict written to ``summary.json`` (``sim.engine.summary.run_summary``).
        trace_path: The published ``requests.parquet`` (None with ``trace="summary"``).
        out_dir: The published run directory.
        engine: The engine that ran: ``Engine.compiled`` or ``Engine.simpy``.
        engine_reason: Why ``auto`` did not pick the compiled engine (None if it did, or if
            an engine was asked for by name).
        trace_rows: Requests in the trace (warm-up included).

    """

    summary: dict[str, Any]
    trace_path: Path | None
    out_dir: Path
    engine: Engine
    engine_reason: str | None
    trace_rows: int


def default_out_dir(scenario: Scenario) -> Path:
    """Where a run goes when no directory is given: ``runs/<scenario name>``."""
    return Path("runs") / scenario.name


def prepare(
    scenario: str | Path | Scenario,
    *,
    seed: int | None = None,
    duration: str | None = None,
) -> tuple[Scenario, str | None]:
    """The scenario to run (loaded if a path, with overrides) and its file text, if any.

    Raises:
        ScenarioError: the file, an override or the overridden scenario is not valid.

    """
    source_text = None
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ScenarioError.single("seed", f"expected a whole number, got {seed!r}", source="run")
    if not isinstance(scenario, Scenario):
        if not isinstance(scenario, str | Path):
            raise ScenarioError.single(
                "scenario", f"expected a file path or a Scenario, got {scenario!r}", source="run"
            )
        path = Path(scenario)
        source_text = read_scenario_text(path)  # once: /dev/stdin can be read only once
        scenario = parse_scenario(source_text, source=str(path), base_dir=path.parent)
    duration_s = None
    if duration is not None:
        if not isinstance(duration, str):
            raise ScenarioError.single(
                "duration", f"write it with its unit, e.g. '20s', got {duration!r}", source="run"
            )
        try:
            duration_s = parse_duration_s(duration)
        except ValueError as exc:
            raise ScenarioError.single("duration", str(exc), source="run") from None
        if duration_s <= 0:
            raise ScenarioError.single("duration", f"must be > 0, got {duration!r}", source="run")
    if duration_s is not None or seed is not None:
        scenario = with_overrides(scenario, duration_s, seed)
    return scenario, source_text


def run(
    scenario: str | Path | Scenario,
    out: str | Path | None = None,
    *,
    engine: Engine | str = Engine.auto,
    seed: int | None = None,
    duration: str | None = None,
    replication: int = 0,
    force: bool = False,
    processes: Iterable[Process] = (),
    progress: Callable[[float, str], None] | None = None,
    max_memory: str | None = None,
    on_estimate: Callable[[RunEstimate], None] | None = None,
    trace: str = "full",
    sample_fraction: float = 0.01,
    source_text: str | None = None,
) -> RunResult:
    """Simulate a scenario; publish ``out/requests.parquet`` and ``out/summary.json``.

    The directory appears complete or not at all (``sim.engine.output``).

    Args:
        scenario: A scenario file, or a loaded ``Scenario``.
        out: The run directory (default ``runs/<scenario name>``); an existing one is
            refused unless ``force``.
        engine: ``"auto"`` (the compiled kernel when it can run the scenario, else the SimPy
            model), ``"compiled"`` or ``"simpy"``.
        seed: Override the scenario's seed.
        duration: Override its duration, written with a unit (``"20s"``).
        replication: Independent replication number (its random streams).
        force: Replace an existing run directory.
        processes: SimPy generator functions ``f(env, fleet)`` started in the run's
            environment (``fleet``: a read-only ``sim.engine.view.FleetView``).
        progress: Called as the run goes with the fraction of its work done (0..1) and the
            phase (``"simulating"``, then ``"summarising"`` the trace), weighed by the
            estimate.
        max_memory: The memory the run may use, with its unit (``"64GB"``); by default what
            the machine has available.
        on_estimate: Called with the run's estimate (``sim.engine.estimate``) before it
            starts.
        trace: ``"full"`` (a row per request), ``"sample"`` (a row for a seeded
            ``sample_fraction`` of the requests) or ``"summary"`` (no trace file); the
            summary's metrics are exact in every mode.
        sample_fraction: The fraction of requests ``"sample"`` keeps, in (0, 1].
        source_text: The scenario file as written, kept in the trace, when ``scenario`` is
            already loaded (a path is read for it).

    Raises:
        ScenarioError: the scenario or an override is not valid.
        sim.engine.engines.EngineUnavailable: ``engine="compiled"`` cannot run it.
        sim.engine.estimate.RunRefused: the run would not fit the memory or the disk.
        sim.engine.output.OutputExistsError: ``out`` exists (and not ``force``).

    """
    processes = list(processes) if hasattr(processes, "__iter__") else processes
    _check_arguments(engine, replication, force, trace, sample_fraction, processes)
    scenario, read_text = prepare(scenario, seed=seed, duration=duration)
    source_text = read_text if read_text is not None else source_text
    if Engine(engine) is Engine.compiled:  # refuse before anything is written
        reason = why_not_compiled([BALANCERS[scenario.balancer.kind]])
        if reason is not None:
            raise EngineUnavailable(f"the compiled engine cannot run this scenario: {reason}")
    target = Path(out) if out is not None else default_out_dir(scenario)
    limit = None
    if max_memory is not None:
        try:
            limit = parse_bytes(max_memory)
        except ValueError as exc:
            raise ScenarioError.single("max_memory", str(exc), source="run") from None
    mode = trace_mode(scenario, trace, sample_fraction, replication)
    processes = list(processes)
    estimate = estimate_run(scenario, engine, processes=bool(processes), trace=mode)
    check_fits(estimate, out_dir=target.parent, max_memory_bytes=limit)
    if on_estimate is not None:
        on_estimate(estimate)
    simulating, summarising = _phases(progress, estimate)
    with staged_dir(target, force=force) as staging:
        stats = simulate(
            scenario,
            staging / TRACE_FILE,
            engine=engine,
            replication=replication,
            progress=simulating,
            source_text=source_text,
            processes=processes,
            trace=mode,
        )
        summary = run_summary(scenario, stats, summarising)
        write_json(staging / SUMMARY_FILE, summary)
    out_dir = target.resolve()
    trace_path = out_dir / TRACE_FILE if stats.trace_path is not None else None
    return RunResult(
        summary, trace_path, out_dir, stats.engine, stats.engine_reason, stats.requests
    )


def _check_arguments(
    engine: object,
    replication: object,
    force: object,
    trace: object,
    sample_fraction: object,
    processes: object,
) -> None:
    """Refuse arguments of the wrong type or range, naming the argument.

    Raises:
        ScenarioError: the first bad argument (source ``run``).

    """

    def refuse(name: str, message: str) -> None:
        raise ScenarioError.single(name, message, source="run")

    if str(engine) not in {e.value for e in Engine}:
        refuse("engine", f"expected auto, compiled or simpy, got {engine!r}")
    if isinstance(replication, bool) or not isinstance(replication, int) or replication < 0:
        refuse("replication", f"expected a whole number >= 0, got {replication!r}")
    if not isinstance(force, bool):
        refuse("force", f"expected True or False, got {force!r}")
    if trace not in ("full", "sample", "summary"):
        refuse("trace", f"expected full, sample or summary, got {trace!r}")
    if (
        isinstance(sample_fraction, bool)
        or not isinstance(sample_fraction, int | float)
        or not 0 < sample_fraction <= 1
    ):
        refuse("sample_fraction", f"expected a number in (0, 1], got {sample_fraction!r}")
    if isinstance(processes, str | bytes) or not hasattr(processes, "__iter__"):
        refuse("processes", f"expected a list of generator functions, got {processes!r}")
    if not all(callable(p) for p in processes):  # type: ignore[union-attr]
        refuse("processes", f"expected a list of generator functions, got {processes!r}")


def _phases(
    progress: Callable[[float, str], None] | None, estimate: RunEstimate
) -> tuple[Callable[[float], None] | None, Callable[[float], None] | None]:
    """The simulation's and the summary's progress callbacks, as shares of the whole run."""
    if progress is None:
        return None, None
    share = estimate.simulation_s / max(estimate.wall_s, 1e-9)

    def simulating(fraction: float) -> None:
        progress(share * fraction, "simulating")

    def summarising(fraction: float) -> None:
        progress(share + (1.0 - share) * fraction, "summarising")

    return simulating, summarising


def trace_mode(
    scenario: Scenario, kind: str, sample_fraction: float = 0.01, replication: int = 0
) -> TraceMode:
    """The ``TraceMode`` for ``kind`` (full, sample, summary), its sample keyed by the seed.

    Raises:
        ScenarioError: an unknown kind, or a fraction outside (0, 1].

    """
    if kind not in ("full", "sample", "summary"):
        raise ScenarioError.single(
            "trace", f"expected full, sample or summary, got {kind!r}", source="run"
        )
    if kind != "sample":
        return TraceMode(kind, 1.0 if kind == "full" else 0.0)  # type: ignore[arg-type]
    if not 0 < sample_fraction <= 1:
        raise ScenarioError.single(
            "sample_fraction", f"must be in (0, 1], got {sample_fraction!r}", source="run"
        )
    key = int(stream(scenario.seed, "trace_sample", replication=replication).integers(2**63))
    return TraceMode("sample", float(sample_fraction), key)
