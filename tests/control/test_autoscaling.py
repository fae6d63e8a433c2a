"""Autoscalers on the fake fleet: exact decisions on a scripted load."""

from __future__ import annotations

import simpy
from fakefleet import FakeFleet, run_fleet
from helpers_control import actions, pool, scenario

from sim.control.autoscaling import desired_capacity
from sim.control.capacity import Capacity
from sim.control.controllers import controllers_for
from sim.control.health import Health
from sim.control.launches import Launcher


def script(pool_name, steps):
    """A process setting every serving instance's busy replicas at the given times."""

    def process(env, fleet):
        for at_s, busy in steps:
            yield env.timeout(at_s - env.now)
            fleet.set_pool_load(pool_name, busy)

    return process


TRACKING = {
    "kind": "target_tracking",
    "target": 0.5,
    "min": 1,
    "max": 8,
    "period": "60s",
    "scale_out_cooldown": "180s",
    "scale_in_cooldown": "360s",
    "scale_out_datapoints": 1,
    "scale_in_datapoints": 2,
}


def test_desired_capacity_is_the_aws_formula_clamped():
    """ceil(serving * metric / target) in [min, max], exact at integers despite float noise."""
    assert desired_capacity(4, 0.6, 0.6, 1, 10) == 4  # 4 * 0.6 / 0.6 = 4.000000000000001
    assert desired_capacity(8, 0.7, 0.5, 1, 20) == 12  # 11.2 rounds up
    assert desired_capacity(2, 1.0, 0.5, 1, 3) == 3
    assert desired_capacity(2, 0.0, 0.5, 2, 3) == 2


def test_target_tracking_scales_out_in_with_cooldowns():
    """Scale-out at 60 s, blocked by the 180 s cooldown at 180 s, again at 240 s; scale-in
    waits for two low datapoints and 360 s since the last activity; drains newest first."""
    processes = controllers_for(scenario([pool("a", autoscaling=TRACKING)]))
    pools = [("a", 2, None, 90.0, 10, None)]
    fleet = run_fleet(pools, [script("a", [(0, 10), (400, 1)]), *processes], 1000)
    got = [(t, w, i) for t, w, _, i, _ in actions(fleet, "add", "drain")]
    assert got == [
        (60, "add", 2),
        (60, "add", 3),  # 2 serving at utilisation 1.0: ceil(2 * 1 / 0.5) = 4
        (240, "add", 4),  # 180 s: 4 wanted 8 but the scale-out cooldown (180 s) runs to 240
        (240, "add", 5),
        (240, "add", 6),
        (240, "add", 7),  # 16 clamped to max 8
        # 420: datapoint 0.7 (above); 480 and 540: 0.1 below, but 540 - 240 < 360 s
        (600, "drain", 7),  # ceil(8 * 0.1 / 0.5) = 2: newest first, ties by index
        (600, "drain", 6),
        (600, "drain", 5),
        (600, "drain", 4),
        (600, "drain", 3),
        (600, "drain", 2),
        (960, "drain", 1),  # ceil(2 * 0.1 / 0.5) = 1, 360 s after the scale-in at 600
    ]


def test_metric_counts_instances_ready_inside_the_window():
    """An instance ready 10 s before the end of a period counts 10 s, not 60, in the
    utilisation: the metric stays 1.0 (4 wanted), not 700 / 1200 (3 wanted)."""
    config = dict(TRACKING, scale_out_cooldown="0s", max=40)
    processes = controllers_for(scenario([pool("a", autoscaling=config)]))
    pools = [("a", 1, None, 110.0, 10, None)]
    fleet = run_fleet(pools, [script("a", [(0, 10)]), *processes], 181)
    # 60: 1 serving at 1.0 -> ceil(2) = 2, one added (ready at 170); 120: 2 wanted, 2 there;
    # 180: (60 s + 10 s) * 10 busy / (10 * 70 s) = 1.0 on 2 serving -> 4
    assert [(t, i) for t, _, _, i, _ in actions(fleet, "add")] == [(60, 1), (180, 2), (180, 3)]


def test_min_is_kept_after_failures_and_max_clamps():
    """A failed instance no longer counts: the next evaluation launches a replacement."""
    config = dict(TRACKING, min=2, max=2)

    def breaker(env, fleet):
        yield env.timeout(30)
        fleet.fail(fleet.pool("a").instances[0])

    processes = controllers_for(scenario([pool("a", autoscaling=config)]))
    fleet = run_fleet([("a", 2, None, 10.0, 10, None)], [breaker, *processes], 200)
    assert [(t, w, i) for t, w, _, i, _ in actions(fleet, "add", "fail", "drain")] == [
        (30, "fail", 0),
        (60, "add", 2),
    ]


def _capacity(pools):
    env = simpy.Environment()
    fleet = FakeFleet(env, pools)
    launcher = Launcher(fleet, "a", Health(fleet), spot_share=0.5)
    return fleet, launcher, Capacity(fleet, launcher)


def test_scale_in_keeps_the_spot_share_then_takes_the_newest():
    """Of [od, od, spot, spot] at share 0.5, scaling to 2 drains spot #3, then on-demand #1."""
    fleet, _, capacity = _capacity(
        [("a", 4, None, 10.0, 1, ("on_demand", "on_demand", "spot", "spot"))]
    )
    assert capacity.scale_to(2) == -2
    assert [(w, i, d) for _, w, _, i, d in fleet.log] == [
        ("drain", 3, "scale_in"),
        ("drain", 1, "scale_in"),
    ]


def test_scale_in_drains_starting_first_and_launches_alternate():
    """Newest first: a starting instance goes before those in service; share 0.5 launches
    alternate spot and on-demand."""
    fleet, launcher, capacity = _capacity([("a", 1, None, 10.0, 1, None)])
    assert capacity.scale_to(4) == 3
    assert [d for _, w, _, _, d in fleet.log if w == "add"] == [
        "spot",
        "on_demand",
        "spot",
    ]
    assert capacity.count() == 4
    capacity.scale_to(3)
    assert fleet.log[-1][1:5] == ("drain", "a", 3, "scale_in")  # the newest, still starting
    assert fleet.pool("a").all[3].state == "terminated"


def test_scheduled_bounds_change_at_their_times_and_repeat():
    """Entries at 0, 100, 200 s repeating every 300 s clamp the capacity at those times."""
    config = {
        "kind": "scheduled",
        "schedule": [
            {"at": "0s", "min": 1, "max": 2},
            {"at": "100s", "min": 4, "max": 6},
            {"at": "200s", "min": 0, "max": 1},
        ],
        "every": "300s",
        "period": "1000s",
    }
    processes = controllers_for(scenario([pool("a", autoscaling=config)]))
    fleet = run_fleet([("a", 3, None, 50.0, 1, None)], processes, 450)
    assert [(t, w, i) for t, w, _, i, _ in actions(fleet, "add", "drain")] == [
        (0, "drain", 2),
        (100, "add", 3),
        (100, "add", 4),
        (200, "drain", 4),
        (200, "drain", 3),
        (200, "drain", 1),
        (400, "add", 5),
        (400, "add", 6),
        (400, "add", 7),
    ]


def test_step_scaling_applies_the_step_for_the_distance_past_the_threshold():
    """Utilisation 1.0 is 0.5 past 0.5: the step from 0.3 (+3) applies; 0.1 is 0.2 below 0.3
    (-1 step); cooldowns gate repeats."""
    config = {
        "kind": "step",
        "min": 1,
        "max": 10,
        "period": "60s",
        "scale_out": {
            "threshold": 0.5,
            "steps": [{"beyond": 0, "change": 1}, {"beyond": 0.3, "change": 3}],
            "cooldown": "120s",
        },
        "scale_in": {"threshold": 0.3, "steps": [{"beyond": 0, "change": -1}], "cooldown": "60s"},
    }
    processes = controllers_for(scenario([pool("a", autoscaling=config)]))
    fleet = run_fleet(
        [("a", 1, None, 1000.0, 10, None)], [script("a", [(0, 10), (130, 1)]), *processes], 250
    )
    assert [(t, w, i) for t, w, _, i, _ in actions(fleet, "add", "drain")] == [
        (60, "add", 1),
        (60, "add", 2),
        (60, "add", 3),  # 1 + 3
        # 120: 1.0 again but in cooldown; 180: (10 * 10 + 50 * 1) / 600 = 0.25 < 0.3
        (180, "drain", 3),  # scale-in cooldown counts from the last activity (60 s)
        (240, "drain", 2),
    ]


def test_target_tracking_with_a_schedule_takes_its_bounds_at_their_times():
    """A scheduled min of 5 at 90 s scales out at once and holds off the scale-in the low
    metric asks for; a max of 3 at 250 s scales in at once; neither starts a cooldown, so the
    policy scales in to its own desired capacity at the next evaluation (AWS: a scheduled
    action changes the scalable target's MinCapacity and MaxCapacity)."""
    config = dict(
        TRACKING,
        scale_in_cooldown="120s",
        schedule=[{"at": "90s", "min": 5, "max": 8}, {"at": "250s", "min": 1, "max": 3}],
    )
    processes = controllers_for(scenario([pool("a", autoscaling=config)]))
    pools = [("a", 2, None, 30.0, 10, None)]
    fleet = run_fleet(pools, [script("a", [(0, 2)]), *processes], 500)
    assert [(t, w, i) for t, w, _, i, _ in actions(fleet, "add", "drain")] == [
        # 60: 0.2 on 2 serving wants 1, but one datapoint below is not the 2 the alarm needs
        (90, "add", 2),  # min 5 > capacity 2: scaled out at once, not at the 120 s evaluation
        (90, "add", 3),
        (90, "add", 4),
        # 120-240: two datapoints at 0.2 want ceil(5 * 0.2 / 0.5) = 2, clamped to min 5
        (250, "drain", 4),  # max 3 < capacity 5: scaled in at once, newest first
        (250, "drain", 3),
        (300, "drain", 2),  # ceil(3 * 0.2 / 0.5) = 2 in [1, 3]: the clamp started no cooldown
        (420, "drain", 1),  # ceil(2 * 0.2 / 0.5) = 1, 120 s after the scale-in at 300
    ]


def test_step_scaling_with_a_repeating_schedule():
    """Entries at 0 and 120 s repeating every 300 s: the first acts at 0 s (min 2), max 3
    caps the step at 60 s, an entry at an evaluation's instant applies before it (120, 300,
    420 s), and the next cycle's max 3 scales in at once."""
    config = {
        "kind": "step",
        "min": 1,
        "max": 10,
        "period": "60s",
        "scale_out": {"threshold": 0.5, "steps": [{"beyond": 0, "change": 2}], "cooldown": "0s"},
        "schedule": [{"at": "0s", "min": 2, "max": 3}, {"at": "120s", "min": 2, "max": 6}],
        "every": "300s",
    }
    processes = controllers_for(scenario([pool("a", autoscaling=config)]))
    fleet = run_fleet([("a", 1, None, 10.0, 10, None)], [script("a", [(0, 10)]), *processes], 430)
    assert [(t, w, i) for t, w, _, i, _ in actions(fleet, "add", "drain")] == [
        (0, "add", 1),  # min 2 from the start
        (60, "add", 2),  # utilisation 1.0: 2 + 2 = 4, capped at max 3
        (120, "add", 3),  # max 6 first, then 3 + 2 = 5
        (120, "add", 4),
        (180, "add", 5),  # 5 + 2 = 7, capped at 6; 240: at max
        (300, "drain", 5),  # the next cycle's max 3, at once and before the evaluation,
        (300, "drain", 4),  # which then asks 3 + 2 = 5, capped at 3
        (300, "drain", 3),
        (420, "add", 6),  # max 6 again: 3 + 2 = 5
        (420, "add", 7),
    ]


def test_schedule_bounds_over_time():
    """Schedule: the autoscaler's own bounds until the first entry, then each entry's; with
    every, the last entry's hold into the next cycle until its first entry."""
    from sim.control.autoscaling import Schedule
    from sim.control.config import ScheduleEntry

    entries = [ScheduleEntry(at="10s", min=2, max=4), ScheduleEntry(at="20s", min=1, max=2)]
    seen = []
    schedule = Schedule(entries, 30.0, (1, 9))
    for now in (0.0, 9.0, 10.0, 25.0, 35.0, 40.0, 51.0):
        changed = schedule.advance(now)
        seen.append((now, schedule.bounds, changed, schedule.next_s))
    assert seen == [
        (0.0, (1, 9), False, 10.0),
        (9.0, (1, 9), False, 10.0),
        (10.0, (2, 4), True, 20.0),
        (25.0, (1, 2), True, 40.0),
        (35.0, (1, 2), False, 40.0),
        (40.0, (2, 4), True, 50.0),
        (51.0, (1, 2), True, 70.0),
    ]
    once = Schedule(entries, None, None)
    assert (once.advance(100.0), once.bounds, once.next_s) == (True, (1, 2), None)


def test_a_schedule_may_empty_a_target_tracking_pool_for_a_while():
    """max 0 at 100 s drains every instance at once; with none in service the evaluations
    give no datapoint (nothing is decided); min 2 at 200 s launches two at once, and the
    policy scales them after its alarm has seen its datapoints again."""
    config = dict(
        TRACKING,
        scale_out_cooldown="0s",
        schedule=[{"at": "100s", "min": 0, "max": 0}, {"at": "200s", "min": 2, "max": 4}],
    )
    processes = controllers_for(scenario([pool("a", autoscaling=config)]))
    load = script("a", [(0, 4), (250, 10)])
    fleet = run_fleet([("a", 2, None, 30.0, 10, None)], [load, *processes], 301)
    assert [(t, w, i) for t, w, _, i, _ in actions(fleet, "add", "drain")] == [
        (100, "drain", 1),  # 60: 0.4 on 2 wants 2, one datapoint below: nothing
        (100, "drain", 0),  # 120, 180: no instance in service, no datapoint
        (200, "add", 2),
        (200, "add", 3),  # ready at 230; 240: 0.4 over its 10 s in service, below the target
        (300, "add", 4),  # (10 s x 0.4 + 50 s x 1.0) / 60 s = 0.9: ceil(2 x 0.9 / 0.5) = 4
        (300, "add", 5),
    ]
