"""Pools as the engines run them, resolved from the scenario against the hardware catalog.

Stages of a pool: the scenario's ``PoolConfig`` (what the user wrote, validated) becomes a
``Pool`` here (numbers the engines need, a service-time function, and the catalog facts
that go into the trace: price, replicas, projected hardware). Both engines take ``Pool``s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import hardware
from hardware import catalog
from sim.scenario.checks import pool_dtype, replica_cores
from sim.scenario.models import resolve_model, seq_len_bounds_by_model, seq_lens_of
from sim.scenario.schema import PoolConfig, Scenario
from sim.streams import name_index, stream

ServiceFn = Callable[[int, int], float]
"""``service_s(batch_size, longest_seq_len)`` -> seconds per batch (a pipeline's interval)."""

NAN = float("nan")


@dataclass(frozen=True, slots=True)
class Pool:
    """One pool of identical instances serving one model, as both engines run it.

    Attributes:
        count: Instances in the pool.
        model: Index of the model it serves (into the run's sorted model names).
        replicas: Replicas (NeuronCore groups, or GPUs) per instance.
        max_batch: Largest batch.
        max_wait_s: Longest time (s) the oldest request waits for a fuller batch.
        queue_limit: Waiting requests per instance beyond which arrivals are dropped.
        service_s: Batch service time (s), see ``ServiceFn``; a synthetic service draws
            from its own stream, in the order batches start.
        service_by_size_s: If the service time depends on the batch size only, the same
            times as a list indexed by batch size (entry 0 unused): the kernel's fast lookup.
        pipeline_depth: Stages of a pipelined replica (1: an ordinary replica).
        name: The pool's name (trace ``pool``).
        facts: JSON-able catalog facts stored in the trace metadata (``run_info``).

    """

    count: int
    model: int
    replicas: int
    max_batch: int
    max_wait_s: float
    queue_limit: int
    service_s: ServiceFn
    service_by_size_s: list[float] | None = None
    pipeline_depth: int = 1
    name: str = "pool"
    facts: dict[str, object] = field(default_factory=dict)

    def check(self) -> None:
        """Reject numbers neither engine can run (a scenario's pools always pass)."""
        for name in ("count", "replicas", "max_batch", "queue_limit", "pipeline_depth"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"pool {self.name!r}: {name} = {value!r}; must be an integer >= 1")
        if self.max_batch >= 2**31 or self.pipeline_depth >= 2**31:
            raise ValueError(f"pool {self.name!r}: max_batch and pipeline_depth must be < 2**31")
        table = self.service_by_size_s
        if table is not None and len(table) <= self.max_batch:
            raise ValueError(
                f"pool {self.name!r}: service_by_size_s has {len(table)} entries; max_batch "
                f"{self.max_batch} needs {self.max_batch + 1} (entry 0 unused)"
            )


def plan_pools(scenario: Scenario, model_names: list[str], replication: int = 0) -> list[Pool]:
    """The scenario's pools, in scenario order, resolved for one replication.

    Args:
        scenario: A validated scenario.
        model_names: The run's model names, sorted (a pool's ``model`` indexes them).
        replication: Independent replication number (seeds synthetic service streams).

    """
    bounds = seq_len_bounds_by_model(scenario)
    return [
        _plan(scenario, pool, bounds[pool.model], model_names, replication)
        for pool in scenario.fleet
    ]


def _plan(
    scenario: Scenario,
    pool: PoolConfig,
    bounds: tuple[int, int],
    model_names: list[str],
    replication: int,
) -> Pool:
    """Resolve one pool against the catalog; tabulate hardware-model service times.

    A synthetic pool needs no table: its lengths may be anything.
    """
    instance = catalog.instance_type(pool.instance)
    cores = replica_cores(scenario, pool, bounds[1])
    if cores is None:
        raise ValueError(f"pool {pool.name!r}: the model does not fit (validate the scenario)")
    max_batch = pool.batching.max_batch
    if pool.service is None:
        seq_lens = seq_lens_of(scenario, pool.model)  # checked against the model's range
        table = _service_table_s(scenario, pool, instance, seq_lens, cores)
        service = _table_lookup(table, seq_lens)
        by_size = [NAN, *table[:, 0].tolist()] if table.shape[1] == 1 else None
        depth = hardware.pipeline_depth(cores)
    else:
        rng = stream(scenario.seed, "pool", name_index(pool.name), replication=replication)
        service = pool.service.build(rng)
        by_size = None
        depth = 1
    facts = {
        "pool": pool.name,
        "instance_type": pool.instance,
        "count": pool.count,
        "model": pool.model,
        "dtype": pool_dtype(pool),  # resolved: 'auto' is shown as the dtype it picked
        "replicas_per_instance": instance.cores // cores,
        "cores_per_replica": cores,
        "usd_per_hour": float(instance.usd_per_hour),
        "projected": bool(instance.projected),
        "pipeline_depth": depth,
        "sparsity": pool.sparsity,
        "service": "hardware model" if pool.service is None else pool.service.kind,
        "max_batch": max_batch,
    }
    return Pool(
        count=pool.count,
        model=model_names.index(pool.model),
        replicas=instance.cores // cores,
        max_batch=max_batch,
        max_wait_s=pool.batching.max_wait,
        queue_limit=pool.queue_limit,
        service_s=service,
        service_by_size_s=by_size,
        pipeline_depth=depth,
        name=pool.name,
        facts=facts,
    )


def _service_table_s(
    scenario: Scenario,
    pool: PoolConfig,
    instance: catalog.InstanceType,
    seq_lens: np.ndarray,
    cores: int,
) -> np.ndarray:
    """Hardware-model seconds per batch, ``[batch_size - 1, index of seq_len]``."""
    batch = np.arange(1, pool.batching.max_batch + 1)
    model = resolve_model(scenario, pool.model)
    table = np.asarray(
        hardware.service_time(
            model, instance, batch[:, None], seq_lens[None, :], pool_dtype(pool), cores,
            sparsity=pool.sparsity,
        ),
        dtype=float,
    )  # fmt: skip
    return np.broadcast_to(table, (len(batch), len(seq_lens))).copy()


def _table_lookup(table: np.ndarray, seq_lens: np.ndarray) -> ServiceFn:
    """O(1) ``(batch_size, seq_len) -> seconds`` from a service table."""
    rows = table.tolist()
    column = {int(s): j for j, s in enumerate(seq_lens)}

    def service_s(batch_size: int, seq_len: int) -> float:
        return rows[batch_size - 1][column[seq_len]]

    return service_s
