"""What a run will cost before it starts: requests, memory, wall time, trace size.

The figures come from the scenario alone (rates x duration, instances x replicas, queue
limits) and from per-unit costs measured on this project's benchmarks (``bench/``; the
constants below say where each comes from). They are estimates, rounded up: a run is refused
when the estimate does not fit the machine (memory) or the disk (trace), and announced when
it will take a while. ``docs/limits.md`` lists every refusal and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from sim.engine.engines import Engine, why_not_compiled
from sim.engine.trace_writer import FULL_TRACE, TraceMode
from sim.machine import available_memory_bytes, free_disk_bytes
from sim.policies.balancers import BALANCERS
from sim.scenario.checks import replica_cores
from sim.scenario.groups import fleet_groups
from sim.scenario.models import seq_len_bounds_by_model, seq_lens_of
from sim.scenario.schema import Scenario
from sim.streams import stream
from sim.workload.replay import TraceArrivals

GB = 1e9
# Measured with tracemalloc and peak RSS on 20,000-instance fleets (2026-12-01): Python
# objects and C arrays per instance and per replica, and per request waiting or in service.
BASE_BYTES = 300e6  # interpreter, numpy/pandas/pyarrow, one row group and a chunk of records
PER_INSTANCE_BYTES = {Engine.compiled: 1_000, Engine.simpy: 4_500}
PER_REPLICA_BYTES = {Engine.compiled: 500, Engine.simpy: 2_000}
PER_WAITING_BYTES = {Engine.compiled: 50, Engine.simpy: 250}
VIEW_BYTES_PER_INSTANCE = 700  # the FleetView, built when processes are added
TABLE_BYTES_PER_CELL = 40  # a hardware service table, held as Python floats
# Requests per second of wall time (bench/engine_speed.py, case (b) and (g), rounded down),
# trace writing and the summary's first pass included; and of what is left once the last
# request is simulated: the last row group, the exact percentiles' second pass over the
# spilled latencies (bench/run_end_to_end.py: 0.09 s for 7.7 million requests).
SIMULATED_PER_S = {Engine.compiled: 1.5e6, Engine.simpy: 6e4}
FINISHED_PER_S = 5e7
# Setting up the fleet (s per instance, per replica): 100,000 inf2.48xlarge take 0.3 s on the
# kernel, 10,000 take 1.7 s on the SimPy engine (a process per replica).
SETUP_S = {Engine.compiled: (3e-6, 2e-7), Engine.simpy: (2e-5, 6e-6)}
# Trace bytes per request (zstd parquet): about 22 with hardware-model service (few distinct
# service times), about 46 with synthetic service (random floats compress less).
TRACE_BYTES_PER_REQUEST = {"hardware": 30, "synthetic": 50}
SPILL_BYTES_PER_REQUEST = 8  # the completed latencies, kept on disk for the second pass
# pipelines: stages.parquet has a row per request per stage (more columns than a trace row;
# measured 31 bytes on scenarios/alexa_pipeline.yaml), and each stage's latency is spilled
# with its stage (16 bytes) for the exact per-stage percentiles, in every trace mode
STAGE_BYTES_PER_ROW = 35
STAGE_SPILL_BYTES_PER_ROW = 16
LONG_RUN_S = 30.0  # a run estimated longer than this is announced before it starts
MAX_WALL_S = 30 * 86_400.0  # a run estimated longer than a month is surely a mistake
REPLAYED_BYTES_PER_ROW = 100  # a replayed trace held in memory: times, models, lengths


class RunRefused(Exception):
    """The run cannot fit the machine or its disk; the message gives the estimate."""


@dataclass(frozen=True, slots=True)
class RunEstimate:
    """What a run is expected to need.

    Attributes:
        requests: Expected arrivals over the run.
        engine: The engine expected to run it.
        memory_bytes: Peak memory of the run (bytes).
        engine_state_bytes: The part of it that grows with instances and replicas (bytes).
        waiting_bytes: The part for requests waiting or in service at most (bytes).
        trace_bytes: Size of ``requests.parquet`` (bytes; 0 without a per-request file), with
            pipelines plus ``stages.parquet`` and the stage latencies spilled beside it.
        wall_s: Wall time of the simulation and the summary (s).
        simulation_s: The simulation's part of it (s), set-up included.
        trace_kind: ``full``, ``sample`` or ``summary`` (``TraceMode.kind``).

    """

    requests: int
    engine: Engine
    memory_bytes: float
    engine_state_bytes: float
    waiting_bytes: float
    trace_bytes: float
    wall_s: float
    simulation_s: float
    trace_kind: str = "full"

    @property
    def disk_bytes(self) -> float:
        """Disk the run needs while it runs: the trace and the spilled latencies (bytes)."""
        return self.trace_bytes + self.requests * SPILL_BYTES_PER_REQUEST

    def describe(self) -> str:
        """One line: ``~N requests, ~T on the E engine, ~M of memory, a ~S trace``."""
        trace = f"{_bytes(self.trace_bytes)} of trace on disk" if self.trace_bytes else "no trace"
        return (
            f"about {self.requests:,} requests, {_duration(self.wall_s)} on the {self.engine} "
            f"engine, {_bytes(self.memory_bytes)} of memory, {trace}"
        )


def expected_requests(scenario: Scenario) -> int:
    """Arrivals expected over the run: mean rate x duration, or the trace's rows before it."""
    arrivals = scenario.workload.arrivals
    if isinstance(arrivals, TraceArrivals):
        data = arrivals.load()
        return int((data.times_s < scenario.duration).sum())
    process = arrivals.build(stream(scenario.seed, "arrivals"))
    if hasattr(process, "expected_count"):  # a rate that varies in time: its integral
        return math.ceil(process.expected_count(0.0, scenario.duration))
    return math.ceil(process.mean_rate_per_s * scenario.duration)


def estimate_run(
    scenario: Scenario,
    engine: Engine | str = Engine.auto,
    *,
    processes: bool = False,
    trace: TraceMode = FULL_TRACE,
) -> RunEstimate:
    """Estimate the requests, memory, wall time and trace size of a run of ``scenario``.

    Args:
        scenario: A validated scenario.
        engine: The engine asked for (``auto``: the compiled kernel when it can run it).
        processes: Whether SimPy processes are added (they build the fleet's view).
        trace: Which rows the trace keeps; without all of them the run spills 8 bytes per
            request for its exact percentiles (counted as trace bytes: they need the disk).

    """
    engine = Engine(engine)
    if engine is Engine.auto:
        kernel = why_not_compiled([BALANCERS[scenario.balancer.kind]]) is None
        engine = Engine.compiled if kernel else Engine.simpy
    requests = expected_requests(scenario)
    stage_rows = requests * _pipeline_stages_per_request(scenario)
    instances = replicas = waiting = table_cells = 0
    bounds = seq_len_bounds_by_model(scenario)
    for group in fleet_groups(scenario):  # engine instances: one per model per instance
        pool = group.config
        cores = replica_cores(scenario, pool, bounds[pool.model][1], group.cores) or 1
        per_instance = max(group.cores // cores, 1)
        # batches inside a replica at once: a pipeline's stages; a one-core replica staging
        # its next input (inf1) holds two
        depth = max(cores, 2) if pool.service is None else 1
        instances += pool.count
        replicas += pool.count * per_instance
        most_inside = pool.queue_limit + per_instance * pool.batching.max_batch * depth
        waiting += pool.count * most_inside
        if pool.service is None:
            # the interval and staged tables
            table_cells += 2 * pool.batching.max_batch * len(seq_lens_of(scenario, pool.model))
    waiting = min(waiting, requests)
    state = instances * PER_INSTANCE_BYTES[engine] + replicas * PER_REPLICA_BYTES[engine]
    state += instances * VIEW_BYTES_PER_INSTANCE if processes else 0
    waiting_bytes = waiting * PER_WAITING_BYTES[engine]
    memory = BASE_BYTES + state + waiting_bytes + table_cells * TABLE_BYTES_PER_CELL
    if isinstance(scenario.workload.arrivals, TraceArrivals):  # held whole while it replays
        memory += len(scenario.workload.arrivals.load().times_s) * REPLAYED_BYTES_PER_ROW
    synthetic = any(pool.service is not None for pool in scenario.fleet)
    per_row = TRACE_BYTES_PER_REQUEST["synthetic" if synthetic else "hardware"]
    per_instance_s, per_replica_s = SETUP_S[engine]
    simulation = instances * per_instance_s + replicas * per_replica_s
    simulation += (requests + stage_rows) / SIMULATED_PER_S[engine]  # each stage is served
    wall = simulation + requests / FINISHED_PER_S
    return RunEstimate(
        requests=requests,
        engine=engine,
        memory_bytes=memory,
        engine_state_bytes=state,
        waiting_bytes=waiting_bytes,
        trace_bytes=(requests * per_row + stage_rows * STAGE_BYTES_PER_ROW) * _kept(trace)
        + stage_rows * STAGE_SPILL_BYTES_PER_ROW,
        wall_s=wall,
        simulation_s=simulation,
        trace_kind=trace.kind,
    )


def _pipeline_stages_per_request(scenario: Scenario) -> float:
    """Stage rows a request makes on average: a pipeline's stages, 0 for a model alone."""
    entries = scenario.workload.mix
    total = sum(e.weight for e in entries)
    stages = {p.name: len(p.stages) for p in scenario.pipelines}
    return sum(e.weight * stages.get(e.model, 0) for e in entries) / total if total else 0.0


def _kept(trace: TraceMode) -> float:
    """The fraction of requests the trace file keeps."""
    return {"full": 1.0, "sample": trace.fraction, "summary": 0.0}[trace.kind]


def check_fits(
    estimate: RunEstimate,
    *,
    out_dir: Path | None = None,
    max_memory_bytes: float | None = None,
) -> None:
    """Refuse a run whose estimate does not fit the memory limit or the output's disk.

    Args:
        estimate: From ``estimate_run``.
        out_dir: Where the trace goes (its disk is checked); None to skip the disk check.
        max_memory_bytes: The memory limit; by default what the machine has available.

    Raises:
        RunRefused: with the estimate and what to change.

    """
    if estimate.wall_s > MAX_WALL_S:
        raise RunRefused(
            f"this run would take {_duration(estimate.wall_s)} ({estimate.requests:,} "
            f"requests on the {estimate.engine} engine); check the rates and the duration, or "
            "simulate a shorter window (a day at a time, say)"
        )
    limit = max_memory_bytes if max_memory_bytes is not None else available_memory_bytes()
    if estimate.memory_bytes > limit:
        where = (
            "allowed by --max-memory"
            if max_memory_bytes is not None
            else "available on this machine"
        )
        raise RunRefused(
            f"this run needs about {_bytes(estimate.memory_bytes)} of memory on the "
            f"{estimate.engine} engine ({_bytes(estimate.engine_state_bytes)} for the "
            f"instances and replicas, {_bytes(estimate.waiting_bytes)} for the requests that "
            f"can wait or be in service at once), more than the {_bytes(limit)} {where}; "
            "simulate fewer instances (a fleet's behaviour per instance scales), or pass "
            "--max-memory (e.g. 64GB) if you know the machine has more"
        )
    disk = estimate.disk_bytes
    if out_dir is not None and disk:
        free = free_disk_bytes(out_dir)
        if disk > 0.95 * free:
            kind = "" if estimate.trace_kind == "full" else f"{estimate.trace_kind} "
            what = (
                f"the run needs about {_bytes(disk)} of disk (its {kind}trace, and "
                f"{SPILL_BYTES_PER_REQUEST} bytes per request for exact percentiles)"
            )
            advice = (
                "use --trace summary (no per-request file) or --trace sample, or a shorter "
                "--duration"
                if estimate.trace_kind == "full"
                else "use a shorter --duration, or more disk"
            )
            raise RunRefused(
                f"{what} ({estimate.requests:,} requests); only {_bytes(free)} is free for "
                f"{out_dir}; {advice}"
            )


def _bytes(value: float) -> str:
    """1234567 -> '1.2 MB' (decimal units)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def _duration(seconds: float) -> str:
    """A wall time, roughly: '3 s', '4 min', '2.5 h'."""
    if seconds < 1:
        return "under a second"
    if seconds < 120:
        return f"~{seconds:.0f} s"
    if seconds < 7200:
        return f"~{seconds / 60:.0f} min"
    return f"~{seconds / 3600:.1f} h"
