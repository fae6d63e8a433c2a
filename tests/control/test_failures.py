"""Failures, spot interruptions and zone outages on the fake fleet: exact event logs."""

from __future__ import annotations

import math

import simpy
from fakefleet import FakeFleet, run_fleet
from helpers_control import actions, pool, scenario

from sim.control.controllers import controllers_for
from sim.control.failures import UpTimes
from sim.control.health import Health
from sim.control.launches import Launcher, initial_lifecycles
from sim.streams import name_index, stream

SEED = 11


def _log(fleet, *what):
    return [(t, w, p, i, d) for t, w, p, i, d in actions(fleet, *what)]


def test_repair_fails_and_restores_at_the_streams_times():
    """Instance 0's up and down times are its own stream's draws, in order: up, down, up..."""
    failures = {"mtbf": "100s", "mttr": "10s"}
    processes = controllers_for(scenario([pool("a", failures=failures)], seed=SEED))
    fleet = run_fleet([("a", 2, None, 5.0, 1, None)], processes, 2000)
    rng = stream(SEED, "failures", name_index("a"), 0, replication=0)
    expected, t = [], 0.0
    while True:
        t += rng.exponential(100.0)
        if t >= 2000:
            break
        expected.append((t, "fail", "a", 0, "failure"))
        t += rng.exponential(10.0)
        if t >= 2000:
            break
        expected.append((t, "restore", "a", 0, None))
    got = [e for e in _log(fleet, "fail", "restore") if e[3] == 0]
    assert len(expected) >= 4
    assert got == expected  # the same sums in the same order: exact


def test_replace_terminates_and_launches_one_with_a_clock_from_ready():
    """action replace: terminate (failure) and launch a replacement of the same lifecycle;
    the replacement's first failure is its own first draw after its cold start."""
    failures = {"mtbf": "100s", "action": "replace"}
    processes = controllers_for(scenario([pool("a", failures=failures)], seed=SEED))
    fleet = run_fleet([("a", 1, None, 30.0, 1, None)], processes, 400)
    first = stream(SEED, "failures", name_index("a"), 0).exponential(100.0)
    second = stream(SEED, "failures", name_index("a"), 1).exponential(100.0)
    log = _log(fleet, "terminate", "add", "ready")
    assert log[:3] == [
        (first, "terminate", "a", 0, "failure"),
        (first, "add", "a", 1, "on_demand"),
        (first + 30.0, "ready", "a", 1, None),
    ]
    assert log[3][:2] == (first + 30.0 + second, "terminate")


def test_weibull_up_times_have_mean_mtbf():
    """Weibull(shape 1.5) up times scaled to mean 100 s: sample mean within 4 standard errors."""
    from analysis.abandonment import weibull_cv2
    from sim.control.config import FailuresConfig

    config = FailuresConfig(mtbf="100s", mttr="1s", distribution="weibull", shape=1.5)
    n, seed = 20_000, 3
    times = UpTimes(config, stream(seed, "failures", 0))
    draws = [times.up_s() for _ in range(n)]
    se = 100.0 * math.sqrt(weibull_cv2(1.5) / n)
    mean = math.fsum(draws) / n
    assert abs(mean - 100.0) < 4 * se, f"seed {seed}: mean {mean:.3f} s, 4 SE = {4 * se:.3f} s"


def test_spot_notice_drains_replaces_and_reclaims_after_120_s():
    """At the notice: drain + spot replacement; 120 s later the busy instance is terminated."""
    spot = {"share": 1.0, "interruptions_per_hour": 36.0, "usd_per_hour": 0.3}
    processes = controllers_for(scenario([pool("a", spot=spot)], seed=SEED))

    def busy(env, fleet):
        fleet.set_pool_load("a", 1, outstanding=3)
        yield env.timeout(0)

    notice = stream(SEED, "spot", name_index("a"), 0).exponential(100.0)
    fleet = run_fleet([("a", 1, None, 30.0, 1, ("spot",))], [busy, *processes], notice + 121)
    assert [e for e in _log(fleet, "drain", "terminate") if e[3] == 0] == [
        (notice, "drain", "a", 0, "spot_interruption"),
        (notice + 120.0, "terminate", "a", 0, "spot_interruption"),
    ]
    assert _log(fleet, "add")[0] == (notice, "add", "a", 1, "spot")


def test_spot_instance_that_finishes_its_work_is_not_reclaimed_again():
    """A drained spot instance that empties 30 s after the notice terminates then, once."""
    spot = {"share": 1.0, "interruptions_per_hour": 36.0, "usd_per_hour": 0.3}
    processes = controllers_for(scenario([pool("a", spot=spot)], seed=SEED))
    notice = stream(SEED, "spot", name_index("a"), 0).exponential(100.0)

    def load(env, fleet):
        inst = fleet.pool("a").instances[0]
        fleet.set_load(inst, 1, 2)
        yield env.timeout(notice + 30.0)
        fleet.set_load(inst, 0, 0)

    fleet = run_fleet([("a", 1, None, 30.0, 1, ("spot",))], [load, *processes], notice + 200)
    assert [e for e in _log(fleet, "terminate") if e[3] == 0] == [
        (notice + 30.0, "terminate", "a", 0, "drained")
    ]


def test_initial_lifecycles_follow_the_share_rule():
    """share 0.5 alternates starting on-demand; share 0.3 of 10 gives exactly 3 spot."""
    assert initial_lifecycles(0.5, 4) == ("on_demand", "spot", "on_demand", "spot")
    assert initial_lifecycles(0.3, 10).count("spot") == 3
    assert initial_lifecycles(0.0, 3) == ("on_demand",) * 3
    assert initial_lifecycles(1.0, 2) == ("spot", "spot")


OUTAGE = [{"kind": "zone_outage", "zone": "z1", "at": "100s", "duration": "50s"}]


def test_zone_outage_fails_exactly_the_zones_instances_and_restores_them():
    """z1's instances in service (pools a and c) fail at 100 s and are restored at 150 s; one
    starting there is terminated; pool b in z2 is untouched."""
    pools = [pool("a"), pool("b"), pool("c")]
    processes = controllers_for(scenario(pools, OUTAGE))

    def late_launch(env, fleet):
        yield env.timeout(90)
        fleet.add_instance("a")

    fleet = run_fleet(
        [
            ("a", 2, "z1", 30.0, 1, None),
            ("b", 1, "z2", 30.0, 1, None),
            ("c", 1, "z1", 30.0, 1, None),
        ],
        [late_launch, *processes],
        300,
    )
    assert _log(fleet, "fail", "restore", "terminate") == [
        (100, "fail", "a", 0, "zone_outage"),
        (100, "fail", "a", 1, "zone_outage"),
        (100, "terminate", "a", 2, "zone_outage"),  # launched at 90, ready at 120
        (100, "fail", "c", 0, "zone_outage"),
        (150, "restore", "a", 0, None),
        (150, "restore", "a", 1, None),
        (150, "restore", "c", 0, None),
    ]


def test_a_repair_ending_in_an_outage_waits_for_the_zone():
    """Holds add up: an instance failed on its own, then in a zone outage, comes back only
    when both are over, in either order."""
    env = simpy.Environment()
    fleet = FakeFleet(env, [("a", 2, "z1", 10.0, 1, None)])
    health = Health(fleet)
    first, second = fleet.pool("a").instances
    assert health.hold(first, "failure") and health.hold(second, "failure")
    health.hold(first, "zone_outage")
    health.hold(second, "zone_outage")
    health.release(first)  # repair over, zone still out
    assert first.state == "failed"
    health.release(first)  # zone back
    health.release(second)  # zone back, repair still going
    assert (first.state, second.state) == ("in_service", "failed")
    health.release(second)
    assert second.state == "in_service"


def test_launches_into_a_zone_that_is_out_are_deferred_then_made():
    """A launch while the zone is out is counted as pending and made when it is back."""
    env = simpy.Environment()
    fleet = FakeFleet(env, [("a", 1, "z1", 10.0, 1, None)])
    health = Health(fleet)
    launcher = Launcher(fleet, "a", health)
    health.zone_out("z1")
    assert launcher.launch("scale_out") is None and launcher.pending == [("on_demand", "scale_out")]
    launcher.resume()
    assert len(fleet.pool("a").instances) == 1
    health.zone_back("z1")
    launcher.resume()
    assert launcher.pending == [] and len(fleet.pool("a").instances) == 2


def test_same_seed_same_log_other_replication_other_log():
    """All controllers together: the action log is a function of (seed, replication)."""
    pools = [
        pool(
            "a",
            autoscaling={
                "kind": "target_tracking",
                "target": 0.5,
                "min": 2,
                "max": 6,
                "scale_out_datapoints": 1,
                "scale_in_datapoints": 3,
            },  # fmt: skip
            failures={"mtbf": "20m", "mttr": "2m"},
            spot={"share": 0.5, "interruptions_per_hour": 2.0, "usd_per_hour": 0.2},
        ),
        pool("b", failures={"mtbf": "15m", "action": "replace"}),
    ]

    def load(env, fleet):
        for t, busy in ((0, 1), (1800, 4), (3600, 0)):
            yield env.timeout(t - env.now)
            fleet.set_pool_load("a", busy)

    def one(replication):
        processes = controllers_for(scenario(pools, OUTAGE, seed=SEED), replication)
        layout = [
            ("a", 3, "z1", 60.0, 4, initial_lifecycles(0.5, 3)),
            ("b", 2, "z2", 60.0, 1, None),
        ]
        return run_fleet(layout, [load, *processes], 3 * 3600).log

    first = one(0)
    assert len(first) > 30
    assert one(0) == first
    assert one(1) != first


def test_the_zones_return_restores_and_cancels_launches_standing_in_for_it():
    """An autoscaler at min 2 defers 2 launches during the outage of its 2 instances; their
    return cancels both, so nothing is launched."""
    config = {"kind": "target_tracking", "target": 0.5, "min": 2, "max": 4, "period": "20s"}
    processes = controllers_for(scenario([pool("a", autoscaling=config)], OUTAGE))
    fleet = run_fleet([("a", 2, "z1", 30.0, 1, None)], processes, 300)
    assert [(t, w, i) for t, w, _, i, _ in actions(fleet, "fail", "restore", "add")] == [
        (100, "fail", 0),
        (100, "fail", 1),
        (150, "restore", 0),
        (150, "restore", 1),
    ]


def test_instances_a_process_adds_get_the_pools_failure_and_spot_clocks():
    """fleet.add_instance by a process of the user's, before or after the controllers start:
    each added instance fails at its own stream's first up time after it is ready (its
    ready_in_s, else the cold start), and an added spot instance gets its interruption."""
    failures = {"mtbf": "100s", "mttr": "10s"}
    spot = {"share": 0.0, "interruptions_per_hour": 36.0}
    processes = controllers_for(
        scenario([pool("a", failures=failures), pool("b", spot=spot)], seed=SEED)
    )

    def early(env, fleet):  # runs before the controllers bind: they find it starting at 0 s
        fleet.add_instance("a")
        yield env.timeout(0)

    def later(env, fleet):
        yield env.timeout(50)
        fleet.add_instance("a", ready_in_s=12)
        fleet.add_instance("b", lifecycle="spot")
        yield env.timeout(10)
        fleet.add_instance("a")

    pools = [("a", 1, None, 30.0, 1, None), ("b", 1, None, 30.0, 1, None)]
    fleet = run_fleet(pools, [early, *processes, later], 1000)

    def up(index):
        return stream(SEED, "failures", name_index("a"), index).exponential(100.0)

    first_failures = {}
    for t, _, _, index, _ in _log(fleet, "fail"):
        first_failures.setdefault(index, t)
    # (added s, ready s): in service at 0 s; added at 0, 50 (ready_in_s 12) and 60 s; the clock
    # waits (ready - added) + up from the add
    times = {0: (0.0, 0.0), 1: (0.0, 30.0), 2: (50.0, 62.0), 3: (60.0, 90.0)}
    due = {i: added + ((ready - added) + up(i)) for i, (added, ready) in times.items()}
    assert first_failures == {i: t for i, t in due.items() if t < 1000}
    assert set(first_failures) >= {1, 2, 3}
    notice = 50.0 + stream(SEED, "spot", name_index("b"), 1).exponential(100.0)
    assert [e for e in _log(fleet, "drain", "add") if e[2] == "b"][:3] == [
        (50, "add", "b", 1, "spot"),  # the process's
        (notice, "drain", "b", 1, "spot_interruption"),
        (notice, "add", "b", 2, "spot"),
    ]
