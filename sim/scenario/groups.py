"""Core groups: the models a pool's instances serve, each on its own NeuronCores.

A pool with ``model`` has one group: every core of the instance serves that model. A pool
with ``models: [{model, cores}, ...]`` has one group per entry; the groups share the
physical instance (its price, lifetime and zone) but not its cores. Everything that is
per model - replicas, queue, batcher, balancer, memory fit, trace rows - is per group:
each group is resolved as a one-model pool (``config``) of ``cores`` cores. Everything that
is per instance - count, billing, lifetimes, actions, autoscaling, failures - is the
pool's.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardware import catalog
from sim.scenario.schema import PoolConfig, Scenario


@dataclass(frozen=True, slots=True)
class CoreGroup:
    """One model of a pool on its cores, as a one-model pool.

    Attributes:
        config: The pool as if it served this model only: ``model``, ``batching`` and
            ``queue_limit`` are the group's; everything else the pool's.
        pool: The pool as written.
        index: Position in the pool's ``models`` (0 for a one-model pool).
        cores: NeuronCores (or GPUs) the group has on each instance.
        vcpus: Host vCPUs its batches share (``host_vcpus``).
        shared: True if the instance has several groups (the pool gives ``models``).

    """

    config: PoolConfig
    pool: PoolConfig
    index: int
    cores: int
    vcpus: int
    shared: bool

    @property
    def name(self) -> str:
        """The group's name in the trace: the pool's, or ``pool/model`` when shared."""
        return f"{self.pool.name}/{self.config.model}" if self.shared else self.pool.name

    @property
    def core_share(self) -> float:
        """The group's share of the instance's price: its cores over all groups' cores."""
        return self.cores / sum(g.cores for g in self.pool.models) if self.shared else 1.0


def host_vcpus(vcpus: int, cores: int, instance_cores: int) -> int:
    """Host vCPUs of a group of ``cores`` of ``instance_cores``: its proportional share.

    The rule: the instance's vCPUs are split in proportion to cores, rounded down, at least
    one per group (a serving process per model, pinned to its share of the host).
    """
    return max(1, vcpus * cores // instance_cores)


def pool_groups(pool: PoolConfig) -> list[CoreGroup]:
    """The core groups of a validated pool, in the order written.

    Raises:
        KeyError: Unknown instance type (validate the scenario first).

    """
    instance = catalog.instance_type(pool.instance)
    if pool.models is None:
        return [CoreGroup(pool, pool, 0, instance.cores, instance.vcpus, False)]
    groups = []
    for i, group in enumerate(pool.models):
        update: dict[str, object] = {"model": group.model, "models": None}
        if group.batching is not None:
            update["batching"] = group.batching
        if group.queue_limit is not None:
            update["queue_limit"] = group.queue_limit
        vcpus = host_vcpus(instance.vcpus, group.cores, instance.cores)
        groups.append(CoreGroup(pool.model_copy(update=update), pool, i, group.cores, vcpus, True))
    return groups


def fleet_groups(scenario: Scenario) -> list[CoreGroup]:
    """Every pool's core groups, pool by pool in scenario order."""
    return [group for pool in scenario.fleet for group in pool_groups(pool)]


def pool_models(pool: PoolConfig) -> list[str]:
    """The models a pool serves (no catalog needed)."""
    return [pool.model] if pool.models is None else [g.model for g in pool.models]


def served_models(scenario: Scenario) -> set[str]:
    """Every model some pool serves."""
    return {name for pool in scenario.fleet for name in pool_models(pool)}
