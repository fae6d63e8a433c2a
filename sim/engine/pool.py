"""Pools as the engines run them, resolved from the scenario against the hardware catalog.

Stages of a pool: the scenario's ``PoolConfig`` (what the user wrote, validated) becomes a
``Pool`` here (numbers the engines need, a service-time function, and the catalog facts
that go into the trace: price, replicas, projected hardware). Both engines take ``Pool``s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import hardware
from hardware import catalog
from hardware.models.workload import ModelSpec
from hardware.timing.host import host_parameters
from hardware.timing.jitter import service_cv
from sim.policies.host import HostCoefficients, HostCosts, coefficients
from sim.policies.jitter import JitterDraws
from sim.policies.shapes import TOKEN_KINDS, padded_sizes, resolve_shapes
from sim.scenario.checks import pool_dtype, pool_stack, replica_cores
from sim.scenario.groups import CoreGroup, fleet_groups
from sim.scenario.models import resolve_model, seq_len_bounds_by_model, seq_lens_of
from sim.scenario.schema import PoolConfig, Scenario
from sim.streams import name_index, stream

ServiceFn = Callable[[int, int], float]
"""``service_s(batch_size, longest_seq_len)`` -> seconds per batch (a pipeline's interval)."""

NAN = float("nan")


@dataclass(frozen=True, slots=True)
class Pool:
    """One pool of identical instances serving one model, as both engines run it.

    For a pool serving several models: one core group of its instances (``instance_pool``).

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
        staged_s: Seconds a batch stays after it frees its replica (``ServiceFn`` form), or
            None: a one-core NeuronCore-v1 replica stages its next batch's input while this
            one runs (``hardware.service_interval``), so ``service_s`` is the interval and
            the batch leaves ``staged_s`` later (jittered alike). None for pipelines.
        staged_by_size_s: ``staged_s`` by batch size (entry 0 unused), as
            ``service_by_size_s``.
        pipeline_depth: Stages of a pipelined replica (1: an ordinary replica).
        jitter: The pool's service-time jitter factors (``sim.policies.jitter``), or None
            for exact service times; both engines multiply each batch's time by the next one.
        host: The host stage before the accelerator (``sim.policies.host``): a batch holds
            its replica for ``host.seconds(size, tokens)`` plus its (jittered) service time.
        seq_buckets: Compiled sequence buckets (``sim.policies.shapes``), or None (no
            padding); the service time already is the padded shape's.
        batch_shapes: Compiled batch sizes, or None (no padding).
        name: The pool's name (trace ``pool``): for one core group of a multi-model pool
            ``pool/model`` (``sim.scenario.groups``).
        facts: JSON-able catalog facts stored in the trace metadata (``run_info``).
        capacity_per_s: Requests/s one instance serves at full batches (``capacity_per_s``
            below): the weight capacity-weighted balancers give it. None for a hand-built
            pool that states none (such a pool cannot sit behind a weighted balancer).
        instance_pool: For a core group, the pool whose physical instances it shares with
            the other groups (they are added, drained, failed and billed together: position
            i of each group is one instance); None: the pool is its own.

    """

    count: int
    model: int
    replicas: int
    max_batch: int
    max_wait_s: float
    queue_limit: int
    service_s: ServiceFn
    service_by_size_s: list[float] | None = None
    staged_s: ServiceFn | None = None
    staged_by_size_s: list[float] | None = None
    pipeline_depth: int = 1
    jitter: JitterDraws | None = None
    host: HostCoefficients = HostCoefficients()
    seq_buckets: tuple[int, ...] | None = None
    batch_shapes: tuple[int, ...] | None = None
    name: str = "pool"
    facts: dict[str, object] = field(default_factory=dict)
    capacity_per_s: float | None = None
    instance_pool: str | None = None

    @property
    def host_name(self) -> str:
        """The pool whose instances it runs on (``instance_pool``, default its own name)."""
        return self.name if self.instance_pool is None else self.instance_pool

    def check(self) -> None:
        """Reject numbers neither engine can run (a scenario's pools always pass)."""
        for name in ("count", "replicas", "max_batch", "queue_limit", "pipeline_depth"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"pool {self.name!r}: {name} = {value!r}; must be an integer >= 1")
        if self.max_batch >= 2**31 or self.pipeline_depth >= 2**31:
            raise ValueError(f"pool {self.name!r}: max_batch and pipeline_depth must be < 2**31")
        for name in ("service_by_size_s", "staged_by_size_s"):
            table = getattr(self, name)
            if table is not None and len(table) <= self.max_batch:
                raise ValueError(
                    f"pool {self.name!r}: {name} has {len(table)} entries; max_batch "
                    f"{self.max_batch} needs {self.max_batch + 1} (entry 0 unused)"
                )
        if self.staged_s is not None and self.pipeline_depth > 1:
            raise ValueError(f"pool {self.name!r}: a pipelined replica stages no input")
        capacity = self.capacity_per_s
        if capacity is not None and not (0 < capacity < math.inf):
            raise ValueError(f"pool {self.name!r}: capacity_per_s = {capacity!r}; must be > 0")


def capacity_per_s(batch_s: float, max_batch: int, replicas: int, host_s: float = 0.0) -> float:
    """Requests/s an instance serves when every batch is full: its capacity weight.

    Each replica holds a batch of ``max_batch`` for ``host_s + batch_s`` - for a pipelined
    or staging replica ``batch_s`` is the service *interval*, after which it takes its next
    batch - so the instance serves ``replicas * max_batch / (host_s + batch_s)`` per second.

    Args:
        batch_s: Accelerator time of a full batch (s): the interval for a pipeline, the
            mean for a synthetic service (jitter factors have mean 1).
        max_batch: Requests in a full batch.
        replicas: Replicas per instance.
        host_s: Host stage of a full batch (s, ``HostCoefficients.seconds``).

    """
    return replicas * max_batch / (host_s + batch_s)


def plan_pools(scenario: Scenario, model_names: list[str], replication: int = 0) -> list[Pool]:
    """The scenario's pools, in scenario order, resolved for one replication.

    A pool serving several models (``models:``) gives one ``Pool`` per core group
    (``sim.scenario.groups``), named ``pool/model``, with ``instance_pool`` its name.

    Args:
        scenario: A validated scenario.
        model_names: The run's model names, sorted (a pool's ``model`` indexes them).
        replication: Independent replication number (seeds synthetic service streams).

    """
    bounds = seq_len_bounds_by_model(scenario)
    return [
        _plan(scenario, group, bounds[group.config.model], model_names, replication)
        for group in fleet_groups(scenario)
    ]


def _plan(
    scenario: Scenario,
    group: CoreGroup,
    bounds: tuple[int, int],
    model_names: list[str],
    replication: int,
) -> Pool:
    """Resolve one core group against the catalog; tabulate hardware-model service times.

    A synthetic pool needs no table: its lengths may be anything.
    """
    pool = group.config
    instance = catalog.instance_type(pool.instance)
    cores = replica_cores(scenario, pool, bounds[1], group.cores)
    if cores is None:
        raise ValueError(f"pool {group.name!r}: the model does not fit (validate the scenario)")
    max_batch = pool.batching.max_batch
    replicas = group.cores // cores
    buckets = batch_shapes = spec = staged = staged_by_size = None
    staged_share = None
    if pool.service is None:
        seq_lens = seq_lens_of(scenario, pool.model)  # checked against the model's range
        spec = resolve_model(scenario, pool.model)
        buckets, batch_shapes = resolve_shapes(
            pool.shapes, on_gpu=instance.chip.is_gpu, model_kind=spec.kind,
            max_seq_len=spec.max_seq_len, max_batch=max_batch,
        )  # fmt: skip
        table, extra = _service_tables_s(
            pool, spec, instance, seq_lens, cores, buckets, batch_shapes
        )
        service = _table_lookup(table, seq_lens)
        typical = int(seq_lens[-1])  # a full batch is padded to its longest request
        full_batch_s = service(max_batch, typical)
        by_size = [NAN, *table[:, 0].tolist()] if table.shape[1] == 1 else None
        if extra.any():
            staged = _table_lookup(extra, seq_lens)
            staged_by_size = [NAN, *extra[:, 0].tolist()] if extra.shape[1] == 1 else None
            staged_share = _staged_share(table, extra, seq_lens, buckets, batch_shapes)
        depth = hardware.pipeline_depth(cores)
        cv = jitter_cv(pool, instance)
        jitter = None
        if cv > 0:
            rng = stream(scenario.seed, "jitter", name_index(group.name), replication=replication)
            jitter = JitterDraws(rng, cv)
    else:
        rng = stream(scenario.seed, "pool", name_index(group.name), replication=replication)
        service = pool.service.build(rng)
        typical = bounds[1]
        full_batch_s = pool.service.mean_s(max_batch)
        by_size = None
        depth = 1
        cv, jitter = 0.0, None
    costs = host_costs(pool, spec, instance)
    host = coefficients(costs, group.vcpus, replicas)
    capacity = capacity_per_s(full_batch_s, max_batch, replicas,
                              host.seconds(max_batch, max_batch * typical))  # fmt: skip
    facts = {
        "pool": group.name,
        "instance_pool": pool.name,
        "instance_type": pool.instance,
        "count": pool.count,
        "model": pool.model,
        "dtype": pool_dtype(pool),  # resolved: 'auto' is shown as the dtype it picked
        "stack": pool_stack(pool, instance) if pool.service is None else None,
        "replicas_per_instance": replicas,
        "vcpus": group.vcpus,
        "cores": group.cores,
        "cores_per_replica": cores,
        "usd_per_hour": float(instance.usd_per_hour) * group.core_share,
        "instance_usd_per_hour": float(instance.usd_per_hour),
        "projected": bool(instance.projected),
        "pipeline_depth": depth,
        "sparsity": pool.sparsity,
        "service": "hardware model" if pool.service is None else pool.service.kind,
        "max_batch": max_batch,
        "capacity_per_s": capacity,
        "jitter_cv": cv,
        "seq_buckets": buckets,
        "batch_shapes": batch_shapes,
        "host_per_request_s": costs.per_request,
        "host_per_token_s": costs.per_token,
        "host_per_batch_s": costs.per_batch,
    }
    if staged_share is not None:  # analysis.pool_usage: the replica's busy share of a batch
        facts["staged_share"] = staged_share
    return Pool(
        count=pool.count,
        model=model_names.index(pool.model),
        replicas=replicas,
        max_batch=max_batch,
        max_wait_s=pool.batching.max_wait,
        queue_limit=pool.queue_limit,
        service_s=service,
        service_by_size_s=by_size,
        staged_s=staged,
        staged_by_size_s=staged_by_size,
        pipeline_depth=depth,
        jitter=jitter,
        host=host,
        seq_buckets=None if buckets is None else tuple(buckets),
        batch_shapes=None if batch_shapes is None else tuple(batch_shapes),
        name=group.name,
        instance_pool=pool.name,
        facts=facts,
        capacity_per_s=capacity,
    )


def jitter_cv(pool: PoolConfig, instance: catalog.InstanceType) -> float:
    """The coefficient of variation of a hardware-model pool's per-batch service factor.

    ``auto`` is the fit for the instance's chip family (``hardware.timing.jitter``);
    ``none`` is 0 (exact times).
    """
    if pool.jitter == "none":
        return 0.0
    if pool.jitter == "auto":
        return float(service_cv(instance.name))
    return float(pool.jitter.cv)


def host_costs(
    pool: PoolConfig, model: ModelSpec | None, instance: catalog.InstanceType
) -> HostCosts:
    """A pool's host CPU costs: ``auto`` the measured defaults, ``none`` free.

    The defaults (``hardware.timing.host``): every request pays the framework and network
    overhead, and a token model's its tokenisation (image decoding is not modelled). The
    per-batch framework cost is charged on GPUs running a compiled stack (TensorRT, ONNX
    Runtime) only: the NeuronCore and PyTorch-eager fits already hold it (their benchmark
    rows time Python loops around the framework call). Synthetic-service pools
    have no host stage unless one is given.
    """
    if pool.host == "none" or (pool.host == "auto" and pool.service is not None):
        return HostCosts()
    if pool.host == "auto":
        p = host_parameters()
        tokens = model is not None and model.kind in TOKEN_KINDS
        return HostCosts.model_construct(  # numbers in seconds already: no unit to parse
            per_request=p.request_overhead_s + (p.tokenise_fixed_s if tokens else 0.0),
            per_token=p.tokenise_per_token_s if tokens else 0.0,
            per_batch=p.per_batch_s if pool_stack(pool, instance) not in (None, "eager") else 0.0,
        )
    return pool.host


def _service_tables_s(
    pool: PoolConfig,
    model: ModelSpec,
    instance: catalog.InstanceType,
    seq_lens: np.ndarray,
    cores: int,
    buckets: list[int] | None,
    batch_shapes: list[int] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Hardware-model seconds per batch, ``[batch_size - 1, index of seq_len]``.

    Each entry is timed at its padded (compiled) shape.

    Returns:
        ``(interval, staged)``: the time a batch holds its replica
        (``hardware.service_interval``) and the time it stays after (its input staging
        overlap: ``staged_s`` of the breakdown; zeros where the runtime stages none).

    """
    batch = padded_sizes(np.arange(1, pool.batching.max_batch + 1), batch_shapes)
    seq = padded_sizes(seq_lens, buckets)
    split = hardware.service_breakdown(
        model, instance, batch[:, None], seq[None, :], pool_dtype(pool), cores,
        sparsity=pool.sparsity, stack=pool_stack(pool, instance),
    )  # fmt: skip
    shape = (len(batch), len(seq_lens))
    interval = np.broadcast_to(np.asarray(split.interval_s, dtype=float), shape).copy()
    staged = np.broadcast_to(np.asarray(split.staged_s, dtype=float), shape).copy()
    return interval, staged


def _staged_share(
    interval: np.ndarray,
    staged: np.ndarray,
    seq_lens: np.ndarray,
    buckets: list[int] | None,
    batch_shapes: list[int] | None,
) -> dict[str, list]:
    """Per compiled shape, the share of a batch's accelerator time after it freed its replica.

    ``analysis.pool_usage`` reads it (keyed by the trace's ``padded_batch`` and
    ``padded_seq_len``) to count only the time a batch held its replica as busy.
    """
    batch = padded_sizes(np.arange(1, interval.shape[0] + 1), batch_shapes)
    seq = padded_sizes(seq_lens, buckets)
    rows = np.unique(batch, return_index=True)
    columns = np.unique(seq, return_index=True)
    share = staged / (interval + staged)
    return {
        "padded_batch": rows[0].tolist(),
        "padded_seq_len": columns[0].tolist(),
        "share": share[np.ix_(rows[1], columns[1])].tolist(),
    }


def _table_lookup(table: np.ndarray, seq_lens: np.ndarray) -> ServiceFn:
    """O(1) ``(batch_size, seq_len) -> seconds`` from a service table."""
    rows = table.tolist()
    column = {int(s): j for j, s in enumerate(seq_lens)}

    def service_s(batch_size: int, seq_len: int) -> float:
        return rows[batch_size - 1][column[seq_len]]

    return service_s
