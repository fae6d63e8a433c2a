"""The fleet of a run: its pools' instances, numbered, behind one balancer per model.

This is what both engines are built from; it holds no simulation state (each engine keeps
its own). Instances are numbered across the whole fleet, grouped by the model they serve:
a *group* is a contiguous range of numbers behind one balancer, ordered by pool, then by
position in the pool, and a balancer's index i means instance ``group start + i``.

These numbers are *engine instances*: one model's queue, replicas and batcher. A pool
serving several models (``sim.scenario.groups``) has one ``Pool`` per core group, all with
the same ``host_name``; position i of each is one physical instance (``host_groups``),
which the roster bills and the fleet actions act on as a whole.
"""

from __future__ import annotations

from sim.engine.phases import MAX_INSTANCES, MAX_REPLICAS
from sim.engine.pool import Pool, plan_pools
from sim.engine.routes import Routes
from sim.policies.balancers import Balancer, make_balancer
from sim.scenario.models import model_names as scenario_model_names
from sim.scenario.schema import Scenario
from sim.streams import name_index, stream


class Fleet:
    """Every instance of a run, numbered, with the pool it belongs to and its balancer.

    Args:
        pools: The pools, in trace pool-code order (the scenario's order).
        balancers: One balancer per model index (None for a model no pool serves), each
            built for the number of instances serving that model.
        warmup_s: Start of the measured window (s).
        model_names: Names of the models, by index (default ``model0``, ``model1``, ...).
        routes: The routes requests take (``sim.engine.routes``); default: each model alone.

    """

    def __init__(
        self,
        pools: list[Pool],
        balancers: list[Balancer | None],
        warmup_s: float = 0.0,
        model_names: list[str] | None = None,
        routes: Routes | None = None,
    ) -> None:
        for pool in pools:
            pool.check()
        self.pools = pools
        self.balancers = balancers
        self.warmup_s = warmup_s
        models = len(balancers)
        self.model_names = model_names or [f"model{m}" for m in range(models)]
        self.routes = routes or Routes.build(self.model_names)
        if self.routes.model[:models] != list(range(models)) or any(
            not 0 <= m < models for m in self.routes.model
        ):
            raise ValueError(f"routes must start with the {models} models and stay inside them")
        if any(not 0 <= p.model < models for p in pools):
            raise ValueError(f"a pool serves a model outside 0..{models - 1}")
        # numbering: by model, then pool order, then position in the pool
        order = sorted(range(len(pools)), key=lambda code: pools[code].model)
        self.pool_code: list[int] = []  # per instance: index of its pool
        self.pool_index: list[int] = []  # per instance: position in its pool
        self._first: dict[int, int] = {}  # per pool code: the number of its instance 0
        for code in order:
            self._first[code] = len(self.pool_code)
            self.pool_code += [code] * pools[code].count
            self.pool_index += list(range(pools[code].count))
        self.size = len(self.pool_code)
        self.model = [pools[code].model for code in self.pool_code]  # per instance
        self.group_start = [0] * (models + 1)  # instances of model m: group_start[m]..[m+1]
        for m in range(models):
            self.group_start[m + 1] = self.group_start[m] + self.model.count(m)
        for m, balancer in enumerate(balancers):
            size = self.group_start[m + 1] - self.group_start[m]
            if (balancer is None) != (size == 0) or (balancer and balancer.size != size):
                raise ValueError(f"model {m}: balancer does not match its {size} instances")
        for code in order:
            balancer, pool = balancers[pools[code].model], pools[code]
            if balancer is not None and balancer.weighted and pool.capacity_per_s is None:
                raise ValueError(
                    f"pool {pool.name!r}: the {type(balancer).__name__} balancer weighs "
                    "instances by capacity_per_s, which this pool does not state"
                )
        # physical pools: a multi-model pool's core groups share its instances
        self.host_names: list[str] = list(dict.fromkeys(p.host_name for p in pools))
        self.host_code = [self.host_names.index(p.host_name) for p in pools]  # per pool code
        self.host_groups: list[list[int]] = [
            [c for c in range(len(pools)) if self.host_code[c] == h]
            for h in range(len(self.host_names))
        ]
        for codes in self.host_groups:
            if len({pools[c].count for c in codes}) != 1:
                raise ValueError(f"pool {pools[codes[0]].host_name!r}: groups differ in count")
        if self.size > MAX_INSTANCES or any(p.replicas > MAX_REPLICAS for p in pools):
            raise ValueError(
                f"at most {MAX_INSTANCES} instances and {MAX_REPLICAS} replicas per instance"
            )

    @classmethod
    def from_scenario(cls, scenario: Scenario, replication: int = 0) -> Fleet:
        """The fleet of a validated scenario, for one replication (seeds its streams)."""
        model_names = scenario_model_names(scenario)
        pools = plan_pools(scenario, model_names, replication)
        counts = [sum(p.count for p in pools if p.model == m) for m in range(len(model_names))]
        balancers: list[Balancer | None] = [
            make_balancer(
                scenario.balancer.kind,
                count,
                stream(scenario.seed, "balancer", name_index(name), replication=replication),
            )
            if count
            else None
            for name, count in zip(model_names, counts, strict=True)
        ]
        routes = Routes.build(model_names, scenario.pipelines)
        return cls(pools, balancers, scenario.warmup, model_names, routes)

    def pool_of(self, instance: int) -> Pool:
        """The pool instance number ``instance`` belongs to."""
        return self.pools[self.pool_code[instance]]

    def number(self, pool_code: int, index: int) -> int:
        """The number of instance ``index`` of pool ``pool_code`` (as numbered at the start)."""
        return self._first[pool_code] + index
