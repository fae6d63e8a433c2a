"""A test double of the engines' FleetView: the fleet-action API over plain Python state.

Instances start, serve, drain, fail and terminate as the seam says; the test drives the load:
``set_load(inst, busy_replicas, outstanding)`` sets levels that the fake integrates over the
time the instance is in service (or draining), giving ``busy_replica_s`` and
``outstanding_request_s``. Every action and state change is appended to ``log`` as
``(time_s, what, pool, index, detail)``. Invalid actions raise, so a controller bug shows.
"""

from __future__ import annotations

import math

import simpy

REASONS = ("scale_out", "scale_in", "failure", "spot_interruption", "zone_outage", "end")


class FakeInstance:
    def __init__(self, fleet, pool, index, number, lifecycle, zone, requested_s):
        self._fleet = fleet
        self.pool, self.index, self.number = pool, index, number
        self.lifecycle, self.zone, self.requested_s = lifecycle, zone, requested_s
        self.state = "starting"
        self.ready_s = math.nan
        self.busy_replicas = 0
        self.outstanding = 0
        self._busy_s = self._outstanding_s = self.in_service_s = 0.0
        self._since = requested_s

    def _advance(self):
        dt = self._fleet.now - self._since
        if self.state in ("in_service", "draining"):
            self._busy_s += self.busy_replicas * dt
            self._outstanding_s += self.outstanding * dt
        if self.state == "in_service":
            self.in_service_s += dt
        self._since = self._fleet.now

    @property
    def busy_replica_s(self):
        self._advance()
        return self._busy_s

    @property
    def outstanding_request_s(self):
        self._advance()
        return self._outstanding_s

    def __repr__(self):
        return f"<fake {self.pool}[{self.index}] {self.state}>"


class FakePool:
    def __init__(self, fleet, name, zone, cold_start_s, replicas):
        self._fleet = fleet
        self.name, self.zone, self.cold_start_s = name, zone, cold_start_s
        self.replicas_per_instance = replicas
        self.all: list[FakeInstance] = []
        self.level = (0, 0)  # (busy replicas, outstanding) of instances becoming ready

    @property
    def instances(self):
        return tuple(i for i in self.all if i.state != "terminated")

    @property
    def serving(self):
        return tuple(i for i in self.all if i.state == "in_service")

    @property
    def busy_replica_s(self):
        return sum(i.busy_replica_s for i in self.all)

    @property
    def outstanding_request_s(self):
        return sum(i.outstanding_request_s for i in self.all)


class FakeFleet:
    """Pools given as ``(name, count, zone, cold_start_s, replicas, lifecycles)`` tuples; the
    initial instances are in service at time 0."""

    def __init__(self, env: simpy.Environment, pools):
        self._env = env
        self.log: list[tuple] = []
        self._watchers = []
        self.pools = tuple(FakePool(self, n, z, c, r) for n, _, z, c, r, _ in pools)
        self._number = 0
        for pool, (_, count, _, _, _, lifecycles) in zip(self.pools, pools, strict=True):
            for k in range(count):
                inst = self._new(pool, lifecycles[k] if lifecycles else "on_demand")
                inst.state, inst.ready_s = "in_service", 0.0

    @property
    def now(self):
        return self._env.now

    def pool(self, name):
        return next(p for p in self.pools if p.name == name)

    def _new(self, pool, lifecycle):
        inst = FakeInstance(self, pool.name, len(pool.all), self._number, lifecycle, pool.zone,
                            self.now)  # fmt: skip
        self._number += 1
        pool.all.append(inst)
        return inst

    def _set(self, inst, state, what, detail=None):
        inst._advance()
        inst.state = state
        self.log.append((self.now, what, inst.pool, inst.index, detail))

    def set_load(self, inst, busy_replicas, outstanding=0):
        inst._advance()
        inst.busy_replicas, inst.outstanding = busy_replicas, outstanding
        if inst.state == "draining" and outstanding == 0:
            self._set(inst, "terminated", "terminate", "drained")

    def set_pool_load(self, pool, busy_replicas, outstanding=0):
        p = self.pool(pool)
        p.level = (busy_replicas, outstanding)
        for inst in p.serving:
            self.set_load(inst, busy_replicas, outstanding)

    def add_instance(self, pool, *, lifecycle="on_demand", zone=None, ready_in_s=None):
        assert lifecycle in ("on_demand", "spot"), lifecycle
        p = self.pool(pool)
        inst = self._new(p, lifecycle)
        self.log.append((self.now, "add", pool, inst.index, lifecycle))
        after_s = p.cold_start_s if ready_in_s is None else ready_in_s
        self._env.process(self._ready(inst, after_s))
        for watcher in self._watchers:
            watcher(inst, self.now + after_s)
        return inst

    def watch_added(self, watcher):
        self._watchers.append(watcher)

    def _ready(self, inst, after_s):
        yield self._env.timeout(after_s)
        if inst.state == "starting":
            self._set(inst, "in_service", "ready")
            inst.ready_s = self.now
            inst.busy_replicas, inst.outstanding = self.pool(inst.pool).level

    def drain(self, inst, reason="scale_in"):
        assert inst.state in ("starting", "in_service") and reason in REASONS, (inst, reason)
        if inst.state == "starting" or inst.outstanding == 0:
            self._set(inst, "terminated", "drain", reason)
        else:
            self._set(inst, "draining", "drain", reason)

    def fail(self, inst, reason="failure"):
        assert inst.state in ("in_service", "draining") and reason in REASONS, (inst, reason)
        inst.busy_replicas = inst.outstanding = 0
        self._set(inst, "failed", "fail", reason)
        inst.requested_s, inst.ready_s = self.now, math.nan  # a repair is a new lifetime

    def restore(self, inst):
        assert inst.state == "failed", inst
        self._set(inst, "in_service", "restore")
        inst.ready_s = self.now
        inst.busy_replicas, inst.outstanding = self.pool(inst.pool).level

    def terminate(self, inst, reason):
        assert inst.state != "terminated" and reason in REASONS, (inst, reason)
        self._set(inst, "terminated", "terminate", reason)


def run_fleet(pools, processes, until_s):
    """Run ``processes`` (``f(env, fleet)``) on a fresh fake fleet until ``until_s``."""
    env = simpy.Environment()
    fleet = FakeFleet(env, pools)
    for process in processes:
        env.process(process(env, fleet))
    env.run(until=until_s)
    return fleet
