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
from sim.instance import Group, Instance, delay_until
from sim.mix import RequestMix
from sim.scenario import Pool, Scenario
from sim.semantics import resolve_model, seq_len_support
from sim.streams import stream
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


def plan_pool(scenario: Scenario, pool: Pool) -> PoolPlan:
    """Resolve a pool against the catalog and tabulate its batch service times."""
    instance = catalog.instance_type(pool.instance)
    model = resolve_model(scenario, pool.model)
    supports = [seq_len_support(e, model) for e in scenario.workload.mix if e.model == pool.model]
    seq_lens = (
        np.unique(np.concatenate(supports))
        if supports
        else np.array([model.default_seq_len], dtype=np.int64)
    )
    batch = np.arange(1, pool.batching.max_batch + 1)
    table = np.asarray(
        hardware.service_time(
            model, instance, batch[:, None], seq_lens[None, :], pool.dtype, pool.cores_per_replica
        ),
        dtype=float,
    )
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
        service_table_s=np.broadcast_to(table, (len(batch), len(seq_lens))).copy(),
    )


def _service_lookup(plan: PoolPlan) -> Callable[[int, int], float]:
    """O(1) ``(batch_size, seq_len) -> seconds`` from the pool's precomputed table."""
    rows = plan.service_table_s.tolist()
    column = {int(s): j for j, s in enumerate(plan.seq_lens)}

    def service_s(batch_size: int, seq_len: int) -> float:
        return rows[batch_size - 1][column[seq_len]]

    return service_s


def run_metadata(scenario: Scenario, plans: list[PoolPlan], replication: int) -> dict[str, str]:
    """Key/value strings stored in the trace: scenario, seed, versions and fleet facts."""
    run_info = {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "replication": replication,
        "duration_s": scenario.duration,
        "warmup_s": scenario.warmup,
        "slo_percentile": scenario.slo.percentile,
        "slo_target_s": scenario.slo.target,
        "balancer": scenario.balancer.kind.value,
        "pools": [p.info() for p in plans],
    }
    return {
        "fleetsim.scenario_yaml": yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False),
        "fleetsim.seed": str(scenario.seed),
        "fleetsim.version": __version__,
        "fleetsim.hardware_model_version": hardware.HARDWARE_MODEL_VERSION,
        "fleetsim.run": json.dumps(run_info),
    }


class Fleet:
    """The simulated system for one run: groups of instances behind balancers."""

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
        self.groups: dict[str, Group] = {}
        for code, (pool, plan) in enumerate(zip(scenario.fleet, plans, strict=True)):
            group = self.groups.setdefault(pool.model, Group())
            lookup = _service_lookup(plan)
            for index in range(pool.count):
                group.instances.append(
                    Instance(
                        env,
                        writer,
                        code,
                        index,
                        model_names.index(pool.model),
                        group,
                        len(group.instances),
                        plan.replicas_per_instance,
                        pool.batching.max_batch,
                        pool.batching.max_wait,
                        pool.queue_limit,
                        lookup,
                    )  # fmt: skip
                )
                group.outstanding.append(0)
                group.queued.append(0)
        self.balancers: dict[str, Balancer] = {
            model: make_balancer(
                scenario.balancer.kind,
                len(group.instances),
                stream(scenario.seed, "balancer", g, replication=replication),
            )
            for g, (model, group) in enumerate(sorted(self.groups.items()))
        }

    def route(self, model: str, request_id: int, arrival_s: float, seq_len: int) -> None:
        """Send one request to the instance its group's balancer picks."""
        group = self.groups[model]
        pick = self.balancers[model].pick(group.outstanding, group.queued)
        group.instances[pick].arrive(request_id, arrival_s, seq_len)

    def record_in_flight(self) -> None:
        """At the end of the run, record every unfinished request."""
        for group in self.groups.values():
            for instance in group.instances:
                instance.record_in_flight()


def request_stream(
    scenario: Scenario, replication: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Chunks of (arrival times s, mix entry index, sequence length), ascending in time.

    Depends only on the workload and the seed, never on the fleet or the balancer.
    """
    seed = scenario.seed
    process = scenario.workload.arrivals.build(stream(seed, "arrivals", replication=replication))
    entries = scenario.workload.mix
    mix = RequestMix(
        entries,
        [resolve_model(scenario, e.model).default_seq_len for e in entries],
        stream(seed, "mix", replication=replication),
        [stream(seed, "seq_len", i, replication=replication) for i in range(len(entries))],
    )
    for times in process.chunks(scenario.duration):
        entry, seq = mix.sample(len(times))
        yield times, entry, seq


def _arrivals(env: simpy.Environment, fleet: Fleet, scenario: Scenario, replication: int):
    """SimPy process: one timeout per distinct arrival instant, requests routed inline."""
    models = [e.model for e in scenario.workload.mix]
    request_id = 0
    for times, entries, seqs in request_stream(scenario, replication):
        for t, e, s in zip(times.tolist(), entries.tolist(), seqs.tolist(), strict=True):
            now = env.now
            if t > now:
                yield env.timeout(delay_until(now, t))
            fleet.route(models[e], request_id, env.now, s)
            request_id += 1


def run(
    scenario: Scenario,
    trace_path: str | Path,
    replication: int = 0,
    progress: Callable[[float], None] | None = None,
) -> RunStats:
    """Simulate ``scenario`` and write its per-request trace to ``trace_path`` (parquet).

    Args:
        scenario: A validated scenario.
        trace_path: Output file; written atomically.
        replication: Independent replication number (0 for a single run).
        progress: Called with the simulated fraction done (0..1) as the run goes.

    Returns:
        The trace path, the number of requests recorded and the wall time (s).

    """
    wall_start = time.perf_counter()
    plans = [plan_pool(scenario, pool) for pool in scenario.fleet]
    model_names = sorted(
        {p.model for p in scenario.fleet} | {e.model for e in scenario.workload.mix}
    )
    writer = TraceWriter(
        trace_path,
        pools=[p.name for p in scenario.fleet],
        models=model_names,
        warmup_s=scenario.warmup,
        metadata=run_metadata(scenario, plans, replication),
    )
    try:
        env = simpy.Environment()
        fleet = Fleet(env, scenario, plans, writer, model_names, replication)
        env.process(_arrivals(env, fleet, scenario, replication))
        steps = 100 if progress else 1
        for k in range(1, steps + 1):
            env.run(until=scenario.duration * k / steps)
            if progress:
                progress(k / steps)
        fleet.record_in_flight()
        path = writer.close()
    except BaseException:
        writer.abort()
        raise
    return RunStats(path, writer.rows_written, time.perf_counter() - wall_start)
