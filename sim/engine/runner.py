"""Run a scenario: build the fleet, drive arrivals through balancers into instances.

``run`` is a pure function of (scenario, replication): the same inputs always give the same
trace. Everything lives in one ``simpy.Environment`` created here; random streams are named
(see ``sim.streams``) so that changing the balancer or the hardware leaves the arrivals
bit-identical.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simpy
import yaml

import hardware
from hardware import catalog
from sim import __version__
from sim.engine.fleet import Fleet
from sim.engine.loop import drive
from sim.engine.trace_writer import TraceWriter
from sim.scenario.checks import replica_cores, resolve_model, seq_lens_by_model
from sim.scenario.schema import Pool, Scenario
from sim.workload.requests import request_stream


@dataclass(frozen=True, slots=True)
class PoolPlan:
    """What the engine needs to know about one pool, resolved from the catalog."""

    name: str
    instance_type: str
    count: int
    model: str
    dtype: str
    replicas_per_instance: int
    cores_per_replica: int
    usd_per_hour: float
    projected: bool
    seq_lens: np.ndarray  # sequence lengths the service table covers
    service_table_s: np.ndarray  # [batch_size - 1, seq index] -> seconds
    pipeline_depth: int = 1  # stages of a pipelined replica (hardware model, cores > 1)
    sparsity: str | None = None  # structured weight sparsity M:N, if any

    def info(self) -> dict[str, object]:
        """JSON-able description stored in the trace metadata."""
        return {
            "pool": self.name,
            "instance_type": self.instance_type,
            "count": self.count,
            "model": self.model,
            "dtype": self.dtype,
            "replicas_per_instance": self.replicas_per_instance,
            "cores_per_replica": self.cores_per_replica,
            "usd_per_hour": self.usd_per_hour,
            "projected": self.projected,
            "pipeline_depth": self.pipeline_depth,
            "sparsity": self.sparsity,
        }

    def service_lookup(self) -> Callable[[int, int], float]:
        """O(1) ``(batch_size, seq_len) -> seconds`` from the precomputed table."""
        rows = self.service_table_s.tolist()
        column = {int(s): j for j, s in enumerate(self.seq_lens)}

        def service_s(batch_size: int, seq_len: int) -> float:
            return rows[batch_size - 1][column[seq_len]]

        return service_s


@dataclass(frozen=True, slots=True)
class RunStats:
    """What a run produced: the trace file and how much work it took."""

    trace_path: Path
    requests: int
    wall_s: float
    time_avg_in_system: float  # requests waiting or in service, averaged over [warmup, end]


def plan_pool(scenario: Scenario, pool: Pool, seq_lens: np.ndarray) -> PoolPlan:
    """Resolve a pool against the catalog and tabulate its batch service times.

    Args:
        scenario: The scenario the pool belongs to.
        pool: The pool.
        seq_lens: Every sequence length its model can be asked for.

    """
    instance = catalog.instance_type(pool.instance)
    batch = np.arange(1, pool.batching.max_batch + 1)
    cores = replica_cores(scenario, pool, seq_lens)
    if cores is None:
        raise ValueError(f"pool {pool.name!r}: the model does not fit (validate the scenario)")
    if pool.service is None:
        model = resolve_model(scenario, pool.model)
        table = np.asarray(
            hardware.service_time(
                model, instance, batch[:, None], seq_lens[None, :], pool.dtype, cores,
                sparsity=pool.sparsity,
            ),
            dtype=float,
        )  # fmt: skip
        table = np.broadcast_to(table, (len(batch), len(seq_lens))).copy()
    else:
        # synthetic: the table holds the mean, for reports; batches draw from pool.service
        means = np.array([pool.service.mean_s(int(b)) for b in batch], dtype=float)
        table = np.repeat(means[:, None], len(seq_lens), axis=1)
    return PoolPlan(
        name=pool.name,
        instance_type=pool.instance,
        count=pool.count,
        model=pool.model,
        dtype=pool.dtype,
        replicas_per_instance=instance.cores // cores,
        cores_per_replica=cores,
        usd_per_hour=float(instance.usd_per_hour),
        projected=bool(instance.projected),
        seq_lens=seq_lens,
        service_table_s=table,
        pipeline_depth=cores if pool.service is None else 1,
        sparsity=pool.sparsity,
    )


def run_metadata(
    scenario: Scenario, plans: list[PoolPlan], replication: int, source_text: str | None = None
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
        "pools": [p.info() for p in plans],
    }
    return {
        "fleetsim.scenario_yaml": yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False),
        "fleetsim.seed": str(scenario.seed),
        "fleetsim.version": __version__,
        "fleetsim.hardware_model_version": hardware.HARDWARE_MODEL_VERSION,
        "fleetsim.run": json.dumps(run_info),
        **({"fleetsim.scenario_source": source_text} if source_text is not None else {}),
    }


def run(
    scenario: Scenario,
    trace_path: str | Path,
    replication: int = 0,
    progress: Callable[[float], None] | None = None,
    source_text: str | None = None,
) -> RunStats:
    """Simulate ``scenario`` and write its per-request trace to ``trace_path`` (parquet).

    Args:
        scenario: A validated scenario.
        trace_path: Output file; written atomically.
        replication: Independent replication number (0 for a single run).
        progress: Called with the simulated fraction done (0..1) as the run goes.
        source_text: The scenario file as written (comments included), kept in the trace.

    Returns:
        The trace path, the number of requests recorded and the wall time (s).

    """
    wall_start = time.perf_counter()
    lengths = seq_lens_by_model(scenario)
    plans = [plan_pool(scenario, pool, lengths[pool.model]) for pool in scenario.fleet]
    model_names = sorted(lengths)
    env = simpy.Environment()
    fleet = Fleet.from_scenario(env, scenario, plans, model_names, replication)
    writer = TraceWriter(
        trace_path,
        pools=[p.name for p in scenario.fleet],
        models=model_names,
        instances=fleet.instance_columns(),
        warmup_s=scenario.warmup,
        metadata=run_metadata(scenario, plans, replication, source_text),
    )
    try:
        loop = drive(fleet, writer, request_stream(scenario, model_names, replication),
                     scenario.duration, progress)  # fmt: skip
        fleet.record_in_flight(writer)
        engine_stats = {
            "loop": loop,
            "time_avg_in_system": fleet.occupancy.time_average(env.now),
            "window_s": env.now - scenario.warmup,
        }
        path = writer.close({"fleetsim.engine": json.dumps(engine_stats)})
    except BaseException:
        writer.abort()
        raise
    return RunStats(
        path,
        writer.rows_written,
        time.perf_counter() - wall_start,
        engine_stats["time_avg_in_system"],
    )
