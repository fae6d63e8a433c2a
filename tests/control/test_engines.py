"""The controllers on the real engines: identical runs on the SimPy model and the kernel."""

from __future__ import annotations

import numpy as np
from helpers import chunk, needs_kernel, one_pool_fleet, reached, same_records
from helpers_control import pool, scenario

from sim.control.controllers import controllers_for
from sim.engine.records import RecordBuffer
from sim.engine.roster import Roster
from sim.engine.runner import drive

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


def _run(engine: str):
    rng = np.random.default_rng(SEED)
    rate = np.where(np.arange(4000) < 1500, 6.0, 2.0)  # a busy start, then a quiet end
    times = [t for t in np.cumsum(rng.exponential(1 / rate)).tolist() if t < 590.0]
    fleet = one_pool_fleet(count=3, service=lambda b, s: 0.4)
    roster = Roster(fleet, zones=["z1"])
    writer = RecordBuffer()
    processes = controllers_for(scenario([CONTROLLED], OUTAGE, seed=SEED))
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
