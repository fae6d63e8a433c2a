"""The controllers on the real engines: identical runs on the SimPy model and the kernel."""

from __future__ import annotations

import numpy as np
from helpers import chunk, needs_kernel, one_pool_fleet, reached, same_records
from helpers_control import pool, scenario

from sim.control.controllers import controllers_for
from sim.engine.records import RecordBuffer
from sim.engine.roster import Roster
from sim.engine.runner import drive
from sim.streams import name_index, stream

SEED = 5
CONTROLLED = pool(
    "pool",
    autoscaling={
        "kind": "target_tracking",
        "target": 0.6,
        "min": 2,
        "max": 10,
        "period": "10s",
        "scale_out_cooldown": "20s",
        "scale_in_cooldown": "60s",
        "scale_out_datapoints": 1,
        "scale_in_datapoints": 3,
    },
    failures={"mtbf": "2m", "mttr": "20s"},
    spot={"share": 0.5, "interruptions_per_hour": 30.0, "usd_per_hour": 0.1},
)
OUTAGE = [{"kind": "zone_outage", "zone": "z1", "at": "200s", "duration": "50s"}]


def _run(engine: str, pools=(CONTROLLED,), events=OUTAGE, processes=()):
    rng = np.random.default_rng(SEED)
    rate = np.where(np.arange(4000) < 1500, 6.0, 2.0)  # a busy start, then a quiet end
    times = [t for t in np.cumsum(rng.exponential(1 / rate)).tolist() if t < 590.0]
    fleet = one_pool_fleet(count=3, service=lambda b, s: 0.4)
    roster = Roster(fleet, zones=["z1"])
    writer = RecordBuffer()
    processes = [*controllers_for(scenario(list(pools), events, seed=SEED)), *processes]
    driven = drive(fleet, writer, [chunk(reached(times))], 600.0, engine=engine,
                   processes=processes, roster=roster, cold_start_s=[15.0])  # fmt: skip
    lifetimes = [
        (r.number, r.lifecycle, r.requested_s, r.ready_s, r.terminated_s, r.reason)
        for r in driven.roster.lifetimes
    ]
    return writer.records(), lifetimes


@needs_kernel
def test_controllers_give_identical_runs_on_both_engines():
    """Target tracking, failures, spot and a zone outage together: the same records and
    instance lifetimes on both engines, and every controller acted."""
    compiled, simpy_ = _run("compiled"), _run("simpy")
    assert same_records(compiled[0], simpy_[0])
    assert same_records(compiled[1], simpy_[1])  # lifetimes, NaN equal to NaN
    reasons = {reason for *_, reason in compiled[1]}
    assert {"failure", "spot_interruption", "zone_outage", "scale_in"} <= reasons, reasons
    assert len({number for number, *_ in compiled[1]}) > 3  # the autoscaler launched
    assert "spot" in {lifecycle for _, lifecycle, *_ in compiled[1]}


@needs_kernel
def test_scheduled_bounds_on_target_tracking_give_identical_runs():
    """A schedule on a target-tracking pool: min 7 at 100 s launches at once, max 2 at 300 s
    drains at once (newest first), the same records and lifetimes on both engines."""
    scheduled = pool(
        "pool",
        autoscaling=dict(
            CONTROLLED.autoscaling.model_dump(),
            schedule=[{"at": "100s", "min": 7, "max": 10}, {"at": "300s", "min": 2, "max": 2}],
        ),
    )
    compiled, simpy_ = _run("compiled", [scheduled], []), _run("simpy", [scheduled], [])
    assert same_records(compiled[0], simpy_[0])
    assert same_records(compiled[1], simpy_[1])
    lifetimes = compiled[1]
    up_at_100 = [n for n, _, req, _, end, _ in lifetimes if req <= 100.0 and not end < 100.0]
    assert len(up_at_100) == 7  # scaled out to the new min at 100 s, not at an evaluation
    assert any(req == 100.0 for _, _, req, *_ in lifetimes)
    ended = sorted(n for n, _, _, _, end, why in lifetimes if end == 300.0 and why == "scale_in")
    still = [n for n, _, req, _, end, _ in lifetimes if req <= 300.0 and end > 300.0]
    assert len(still) == 2 and ended and min(ended) > max(still)  # the newest drained
    assert not [n for n, _, req, *_ in lifetimes if req > 300.0]  # max 2 from then on


@needs_kernel
def test_instances_a_process_adds_fail_and_are_interrupted_on_both_engines():
    """A process adds an on-demand and a spot instance to a pool with failures and spot:
    each gets its clocks (a failure, an interruption) from its own stream, on both engines
    the same."""
    config = {"share": 0.0, "interruptions_per_hour": 30.0, "usd_per_hour": 0.1}
    plain = pool("pool", failures={"mtbf": "2m", "mttr": "20s"}, spot=config)

    def adds(env, fleet):
        yield env.timeout(30.0)
        fleet.add_instance("pool")  # number 3, ready at 45 s
        fleet.add_instance("pool", lifecycle="spot", ready_in_s=5.0)  # number 4, ready at 35 s

    compiled = _run("compiled", [plain], [], [adds])
    simpy_ = _run("simpy", [plain], [], [adds])
    assert same_records(compiled[0], simpy_[0])
    assert same_records(compiled[1], simpy_[1])
    up = stream(SEED, "failures", name_index("pool"), 3, replication=0).exponential(120.0)
    first = next(life for life in compiled[1] if life[0] == 3)
    assert first[2:] == (30.0, 45.0, 30.0 + (15.0 + up), "failure")
    notice = 30.0 + stream(SEED, "spot", name_index("pool"), 4).exponential(120.0)
    (spot,) = [life for life in compiled[1] if life[0] == 4]
    assert spot[1:4] == ("spot", 30.0, 35.0) and spot[5] == "spot_interruption"
    assert notice <= spot[4] <= notice + 120.0  # drained at the notice, reclaimed by its end
    assert (5, "spot", notice) in [life[:3] for life in compiled[1]]  # its replacement
