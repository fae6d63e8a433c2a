"""Run a scenario: build the fleet, drive arrivals through balancers into instances.

``run`` is a pure function of (scenario, replication): the same inputs always give the same
trace. Everything lives in one ``simpy.Environment`` created here; random streams are named
(see ``sim.streams``) so that changing the balancer or the hardware leaves the arrivals
bit-identical.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simpy
import yaml

import hardware
from hardware import catalog
from sim import __version__
from sim.balancers import Balancer, make_balancer
from sim.instance import Group, Instance, Occupancy, delay_until
from sim.requests import Chunk, request_stream
from sim.scenario import Pool, Scenario
from sim.semantics import resolve_model, seq_lens_by_model
from sim.streams import name_index, stream
from sim.trace import TraceWriter


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
        }


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
    if pool.service is None:
        model = resolve_model(scenario, pool.model)
        table = np.asarray(
            hardware.service_time(
                model, instance, batch[:, None], seq_lens[None, :], pool.dtype,
                pool.cores_per_replica,
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
        replicas_per_instance=instance.cores // pool.cores_per_replica,
        cores_per_replica=pool.cores_per_replica,
        usd_per_hour=float(instance.usd_per_hour),
        projected=bool(instance.projected),
        seq_lens=seq_lens,
        service_table_s=table,
    )


def _service_lookup(plan: PoolPlan) -> Callable[[int, int], float]:
    """O(1) ``(batch_size, seq_len) -> seconds`` from the pool's precomputed table."""
    rows = plan.service_table_s.tolist()
    column = {int(s): j for j, s in enumerate(plan.seq_lens)}

    def service_s(batch_size: int, seq_len: int) -> float:
        return rows[batch_size - 1][column[seq_len]]

    return service_s


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


class Fleet:
    """The simulated system for one run: groups of instances behind balancers.

    A group is every instance serving one model; requests name their model by index into
    ``model_names``.
    """

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        plans: list[PoolPlan],
        writer: TraceWriter,
        model_names: list[str],
        replication: int,
    ) -> None:
        self.env = env
        self.occupancy = Occupancy(scenario.warmup)
        self.groups = [Group(occupancy=self.occupancy) for _ in model_names]
        for code, (pool, plan) in enumerate(zip(scenario.fleet, plans, strict=True)):
            model = model_names.index(pool.model)
            group = self.groups[model]
            if pool.service is None:
                service = _service_lookup(plan)
            else:
                service = pool.service.build(
                    stream(scenario.seed, "pool", name_index(pool.name), replication=replication)
                )
            for index in range(pool.count):
                group.instances.append(
                    Instance(
                        env,
                        writer,
                        code,
                        index,
                        model,
                        group,
                        len(group.instances),
                        plan.replicas_per_instance,
                        pool.batching.max_batch,
                        pool.batching.max_wait,
                        pool.queue_limit,
                        service,
                    )  # fmt: skip
                )
                group.outstanding.append(0)
                group.queued.append(0)
        self.balancers: list[Balancer | None] = [
            make_balancer(
                scenario.balancer.kind,
                len(group.instances),
                stream(scenario.seed, "balancer", name_index(name), replication=replication),
            )
            if group.instances
            else None
            for name, group in zip(model_names, self.groups, strict=True)
        ]

    def route(self, model: int, request_id: int, arrival_s: float, seq_len: int) -> None:
        """Send one request to the instance its group's balancer picks."""
        group = self.groups[model]
        pick = self.balancers[model].pick(group.outstanding, group.queued)  # type: ignore[union-attr]
        group.instances[pick].arrive(request_id, arrival_s, seq_len)

    def record_in_flight(self) -> None:
        """At the end of the run, record every unfinished request."""
        for group in self.groups:
            for instance in group.instances:
                instance.record_in_flight()


def _arrivals(env: simpy.Environment, fleet: Fleet, chunks: Iterator[Chunk]):
    """SimPy process: one timeout per distinct arrival instant, requests routed inline."""
    request_id = 0
    for times, models, seqs in chunks:
        for t, m, s in zip(times.tolist(), models.tolist(), seqs.tolist(), strict=True):
            now = env.now
            if t > now:
                yield env.timeout(delay_until(now, t))
            fleet.route(m, request_id, env.now, s)
            request_id += 1


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
    writer = TraceWriter(
        trace_path,
        pools=[p.name for p in scenario.fleet],
        models=model_names,
        warmup_s=scenario.warmup,
        metadata=run_metadata(scenario, plans, replication, source_text),
    )
    try:
        env = simpy.Environment()
        fleet = Fleet(env, scenario, plans, writer, model_names, replication)
        env.process(_arrivals(env, fleet, request_stream(scenario, model_names, replication)))
        steps = 100 if progress else 1
        # the last step ends exactly at the duration: k/steps*duration may round off
        ends = [scenario.duration * k / steps for k in range(1, steps)] + [scenario.duration]
        for k, end in enumerate(ends, start=1):
            if end > env.now:
                env.run(until=end)
            if progress:
                progress(k / steps)
        fleet.record_in_flight()
        engine_stats = {
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
