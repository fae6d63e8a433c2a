"""Simulate a scenario: build its fleet, run it on an engine, write its parquet trace.

``simulate`` is a pure function of (scenario, replication): the same inputs give the same
trace, whichever engine runs it. Random streams are named (``sim.streams``) so that changing
the balancer or the hardware leaves the arrivals bit-identical. ``drive`` is the step in
between for a fleet built by hand: it runs request chunks through either engine.
"""

from __future__ import annotations

import gc
import inspect
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import simpy
import yaml
from simpy.events import URGENT

import hardware
from analysis.fleet_figures import INSTANCES_FILE, with_fleet
from analysis.reader import info_from_metadata
from analysis.schema import (
    META_ENGINE,
    META_HARDWARE_VERSION,
    META_RUN,
    META_SCENARIO_SOURCE,
    META_SCENARIO_YAML,
    META_SEED,
    META_TRACE,
    META_VERSION,
    STAGES_FILE,
)
from sim import __version__
from sim.control.controllers import controllers_for
from sim.control.launches import initial_lifecycles
from sim.engine import engines
from sim.engine.clients import NO_CLIENTS, ClientRules, client_rules
from sim.engine.engines import Engine, choose_engine
from sim.engine.fleet import Fleet
from sim.engine.occupancy import Occupancy
from sim.engine.phases import FleetTimeout, RunEnvironment
from sim.engine.roster import Roster
from sim.engine.simpy_fleet import SimPyFleet
from sim.engine.trace_writer import FULL_TRACE, RecordBuffer, TraceMode, TraceWriter
from sim.engine.view import FleetState, FleetView
from sim.policies.coldstart import cold_start_s
from sim.policies.routing import candidates, checked
from sim.scenario.schema import Scenario
from sim.workload.requests import Chunk, request_stream

Process = Callable[[simpy.Environment, FleetView], Iterator]
"""A SimPy generator function ``f(env, fleet)`` added to a run (``fleet``: a FleetView)."""


@dataclass(frozen=True, slots=True)
class Driven:
    """What ``drive`` did.

    The engine that ran, why ``auto`` did not pick the compiled one, the requests-in-system
    integral, the run's environment and the engine's state at the end (a ``FleetState``).
    """

    engine: Engine
    reason: str | None
    occupancy: Occupancy
    env: RunEnvironment
    state: FleetState
    roster: Roster


@dataclass(frozen=True, slots=True)
class RunStats:
    """What ``simulate`` produced: the trace, the work it took, the engine that ran.

    ``trace_path`` is None when no trace file was written (``TraceMode("summary")``);
    ``metrics`` holds the exact summary metrics, computed from every request as the run went
    (None only from code that builds a RunStats without them), ``info`` the run facts
    (``analysis.run_info``).
    """

    trace_path: Path | None
    requests: int
    wall_s: float
    time_avg_in_system: float  # requests waiting or in service, averaged over [warmup, end]
    engine: Engine
    engine_reason: str | None  # why ``auto`` did not pick the compiled engine
    metrics: dict | None = None
    info: dict | None = None


def drive(
    fleet: Fleet,
    writer: RecordBuffer,
    chunks: Iterable[Chunk],
    until_s: float,
    *,
    engine: Engine | str = Engine.auto,
    processes: Iterable[Process] = (),
    progress: Callable[[float], None] | None = None,
    roster: Roster | None = None,
    cold_start_s: list[float] | None = None,
    clients: ClientRules = NO_CLIENTS,
) -> Driven:
    """Run request chunks through ``fleet`` until ``until_s`` (s); record every request.

    Events at exactly ``until_s`` are not processed (SimPy's ``run(until)`` rule); requests
    unfinished then are recorded ``in_flight``, and instances still up end (reason ``end``).

    Args:
        fleet: The fleet.
        writer: Receives one record per batch, drop and unfinished request; its
            ``flush_if_full`` is called after each chunk.
        chunks: The requests, ascending in time, all before ``until_s``, each time reachable
            by a SimPy wait from the one before (``sim.workload.requests``).
        until_s: End of the run (s).
        engine: ``auto``, ``compiled`` or ``simpy`` (``sim.engine.engines``).
        processes: SimPy generator functions ``f(env, fleet_view)`` started in the run's
            environment before the run begins.
        progress: Called with the simulated fraction done (0..1) after each chunk.
        roster: Where added instances are numbered and lifetimes recorded (the writer's
            ``instances`` too, if it names added instances); default: a new one.
        cold_start_s: Per pool code, seconds from an instance's request to service.
        clients: Deadlines and retries (``sim.engine.clients``).

    """
    if not until_s > 0:
        raise ValueError(f"the run must end after 0 s, got until_s={until_s!r}")
    processes = list(processes)
    roster = roster if roster is not None else Roster(fleet)
    chosen, reason = choose_engine(engine, fleet, changing=changing(fleet, processes, clients))
    env = RunEnvironment()
    collecting = gc.isenabled()
    gc.disable()  # the engines make no reference cycles, and scanning their many objects costs
    # time; cycles made by user processes are collected when the run ends
    try:
        run = _run_compiled if chosen is Engine.compiled else _run_simpy
        views = (roster, cold_start_s)
        state = run(env, fleet, writer, iter(chunks), until_s, processes, progress, views,
                    clients)  # fmt: skip
    finally:
        if collecting:
            gc.enable()
    roster.close_all(until_s)
    if progress is not None:
        progress(1.0)
    return Driven(chosen, reason, state.occupancy(), env, state, roster)


def changing(fleet: Fleet, processes: list, clients: ClientRules) -> bool:
    """Whether a balancer may route a request other than on a fixed fleet at its arrival.

    Processes act on the fleet; retries and a pipeline's hand-offs are routed later.
    """
    return bool(processes) or clients.max_attempts > 1 or fleet.routes.staged


def _run_compiled(env, fleet, writer, chunks, until_s, processes, progress, views, clients):
    """The compiled kernel runs the fleet; SimPy runs the added processes, in time order."""
    core = engines._kernel.Core(fleet, env if processes else None, clients)
    end = _start(env, processes, fleet, core, until_s, *views)
    chunks = candidates(fleet.balancers, fleet.group_start, chunks, until_s, fleet.routes.model)
    core.run(chunks, until_s, writer, progress)
    core.record_in_flight(writer)
    env.run(until=end)  # only the end is left: the clock stops at until_s, as in SimPy
    return core


def _run_simpy(env, fleet, writer, chunks, until_s, processes, progress, views, clients):
    """The SimPy model runs the fleet and the added processes in one environment."""
    model = SimPyFleet(env, fleet, writer, clients)
    end = _start(env, processes, fleet, model, until_s, *views)
    chunks = checked(chunks, fleet.balancers, until_s, fleet.routes.model)
    env.process(model.arrivals(chunks, until_s, progress))
    env.run(until=end)
    writer.flush_if_full()
    model.record_in_flight()
    return model


def _start(
    env: RunEnvironment,
    processes: list[Process],
    fleet: Fleet,
    state: FleetState,
    until_s: float,
    roster: Roster,
    cold_start_s: list[float] | None,
) -> FleetTimeout:
    """Start the added processes, each with the fleet's view (built only if needed).

    Returns the run's end: an URGENT event at ``until_s``, as SimPy's ``run(until)``
    schedules, so nothing at ``until_s`` itself is processed, in either engine.
    """
    if processes:
        view = FleetView(env, fleet, state, roster, cold_start_s)
        for process in processes:
            started = process(env, view)
            if not inspect.isgenerator(started):
                name = getattr(process, "__name__", repr(process))
                raise TypeError(
                    f"process {name} must be a SimPy generator function f(env, fleet) that "
                    f"yields events; calling it returned {type(started).__name__}"
                )
            env.process(started)
    return FleetTimeout(env, until_s, URGENT)


def scenario_roster(scenario: Scenario, fleet: Fleet) -> Roster:
    """The roster of a scenario's run: pools' zones, prices (spot too) and initial lifecycles.

    A pool with ``spot`` starts with the share of spot instances its launches keep
    (``sim.control.launches.initial_lifecycles``).
    """
    configs = [scenario.fleet[host] for host in fleet.host_code]  # per pool code (group)
    prices = []
    for config, pool in zip(configs, fleet.pools, strict=True):
        on_demand = float(pool.facts.get("instance_usd_per_hour", 0.0))
        spot = config.spot.usd_per_hour if config.spot is not None else None
        prices.append((on_demand, on_demand if spot is None else float(spot)))
    initial = [
        initial_lifecycles(config.spot.share if config.spot is not None else 0.0, config.count)
        for config in scenario.fleet
    ]
    lifecycles = [
        initial[fleet.host_code[code]][index]
        for code, index in zip(fleet.pool_code, fleet.pool_index, strict=True)
    ]
    return Roster(fleet, [config.zone for config in configs], prices, lifecycles)


def run_metadata(
    scenario: Scenario, fleet: Fleet, replication: int, source_text: str | None = None
) -> dict[str, str]:
    """Key/value strings stored in the trace: scenario, seed, versions and fleet facts."""
    run_info = {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "replication": replication,
        "duration_s": scenario.duration,
        "warmup_s": scenario.warmup,
        "slo_percentile": scenario.slo.percentile,
        "slo_target_s": scenario.slo.target,
        "balancer": scenario.balancer.kind,
        "pools": [pool.facts for pool in fleet.pools],
    }
    if scenario.pipelines:  # readers of a frame need stages.parquet for the pools' usage
        run_info["pipelines"] = [p.name for p in scenario.pipelines]
    metadata = {
        META_SCENARIO_YAML: yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False),
        META_SEED: str(scenario.seed),
        META_VERSION: __version__,
        META_HARDWARE_VERSION: hardware.HARDWARE_MODEL_VERSION,
        META_RUN: json.dumps(run_info),
    }
    if source_text is not None:
        metadata[META_SCENARIO_SOURCE] = source_text
    return metadata


def simulate(
    scenario: Scenario,
    trace_path: str | Path,
    *,
    engine: Engine | str = Engine.auto,
    replication: int = 0,
    progress: Callable[[float], None] | None = None,
    source_text: str | None = None,
    processes: Iterable[Process] = (),
    trace: TraceMode = FULL_TRACE,
) -> RunStats:
    """Simulate ``scenario`` and write its per-request trace to ``trace_path`` (parquet).

    Args:
        scenario: A validated scenario.
        trace_path: Output file; written atomically (nothing under this name on failure).
        engine: ``auto``, ``compiled`` or ``simpy`` (``sim.engine.engines``).
        replication: Independent replication number (0 for a single run).
        progress: Called with the simulated fraction done (0..1) as the run goes.
        source_text: The scenario file as written (comments included), kept in the trace.
        processes: SimPy generator functions ``f(env, fleet_view)`` added to the run.
        trace: Which rows the file keeps (``sim.engine.trace_writer.TraceMode``).

    Raises:
        sim.engine.engines.EngineUnavailable: ``compiled`` was asked for and cannot run it.

    """
    wall_start = time.perf_counter()
    fleet = Fleet.from_scenario(scenario, replication)
    processes = [*controllers_for(scenario, replication), *processes]
    clients = client_rules(scenario.clients, scenario.seed, replication)
    choose_engine(engine, fleet, changing(fleet, processes, clients))  # refuse before writing
    metadata = run_metadata(scenario, fleet, replication, source_text)
    if trace.kind != "full":
        metadata[META_TRACE] = json.dumps({"mode": trace.kind, "fraction": trace.fraction})
    info = info_from_metadata(metadata)
    roster = scenario_roster(scenario, fleet)
    writer = TraceWriter(
        trace_path,
        pools=[p.name for p in fleet.pools],
        models=fleet.model_names,
        instances=roster,
        warmup_s=scenario.warmup,
        metadata=metadata,
        mode=trace,
        info=info,
        shapes=fleet.pools,
        end_s=scenario.duration,
        routes=fleet.routes,
    )
    try:
        chunks = request_stream(scenario, fleet.routes.names, replication)
        driven = drive(fleet, writer, chunks, scenario.duration, engine=engine,
                       processes=processes, progress=progress, roster=roster,
                       cold_start_s=[cold_start_s(pool, scenario, pool.cold_start)
                                     for pool in scenario.fleet],
                       clients=clients,
                       )  # fmt: skip
        time_avg = driven.occupancy.time_average(scenario.duration)
        engine_stats = {
            "engine": str(driven.engine),
            "engine_reason": driven.reason,
            "time_avg_in_system": time_avg,
            "window_s": scenario.duration - scenario.warmup,
        }
        roster.write(Path(trace_path).with_name(INSTANCES_FILE))
        path = writer.close({META_ENGINE: json.dumps(engine_stats)})
        if not writer.writes_stages:  # a stale one from an earlier run would mislead
            Path(trace_path).with_name(STAGES_FILE).unlink(missing_ok=True)
    except BaseException:
        writer.abort()
        Path(trace_path).with_name(INSTANCES_FILE).unlink(missing_ok=True)
        Path(trace_path).with_name(STAGES_FILE).unlink(missing_ok=True)
        raise
    summary = with_fleet(writer.metrics.result(), roster.columns(), info)
    stages = writer.stage_latencies()
    if stages is not None:  # pipelines: each stage's own latency
        summary["stages"] = stages
    return RunStats(
        path,
        writer.rows_recorded,
        time.perf_counter() - wall_start,
        time_avg,
        driven.engine,
        driven.reason,
        summary,
        info,
    )
