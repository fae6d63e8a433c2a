"""Random fleet actions and client rules for the engine-agreement tests.

``chaos`` is a user process acting on the fleet at random; ``clients_of`` gives one of three
client setups by seed. Both engines must agree whatever these do.
"""

from __future__ import annotations

import numpy as np

from sim.engine.clients import ClientRules


def chaos(seed: int, pools: list[str]):
    """A process taking random actions every ~0.3 s, chosen from the view's state."""

    def act(env, fleet):
        rng = np.random.default_rng(seed)
        while True:
            yield env.timeout(float(rng.exponential(0.3)))
            kind = int(rng.integers(6))
            live = fleet.instances
            if kind == 0 or not live:
                fleet.add_instance(pools[int(rng.integers(len(pools)))],
                                   ready_in_s=float(rng.choice([0.0, 0.2, 1.0])))  # fmt: skip
                continue
            target = live[int(rng.integers(len(live)))]
            state = target.state
            if kind == 1 and state != "failed":
                fleet.drain(target)
            elif kind == 2 and state != "failed":
                fleet.fail(target)
            elif kind == 3 and state == "failed":
                fleet.restore(target)
            elif kind == 4:
                fleet.terminate(target, "failure")
            elif kind == 5:  # read what controllers read
                for pool in fleet.pools:
                    log.append((env.now, pool.name, len(pool.serving), pool.outstanding,
                                pool.busy_replica_s, pool.outstanding_request_s))  # fmt: skip

    log: list = []
    return act, log


def clients_of(seed: int) -> ClientRules:
    """No clients, a fixed timeout with retries, or drawn patience with jittered retries."""
    kind = seed % 3
    if kind == 0:
        return ClientRules()
    if kind == 1:
        return ClientRules(timeout_s=0.4, max_attempts=3, backoff_caps_s=(0.05, 0.1))
    rng = np.random.default_rng(seed)
    return ClientRules(patience=lambda: rng.exponential(0.3, 64), max_attempts=4,
                       backoff_caps_s=(0.02, 0.04, 0.08),
                       jitter=lambda: rng.random(64))  # fmt: skip
