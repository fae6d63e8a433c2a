"""The controllers' YAML: the issue's example validates; bad values name field and value."""

from __future__ import annotations

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from sim.control.config import (
    AutoscalingConfig,
    EventConfig,
    FailuresConfig,
    ScheduledConfig,
    SpotConfig,
    StepConfig,
    TargetTrackingConfig,
)

ISSUE_POOL = """
autoscaling:                          # optional
  kind: target_tracking               # or step, or scheduled
  metric: utilisation                 # replica busy share; or in_flight_per_instance
  target: 0.6
  min: 2
  max: 40
  period: 60s                         # evaluation period
  scale_out_cooldown: 60s
  scale_in_cooldown: 300s
failures: {mtbf: 30d, mttr: 10m, distribution: exponential}              # or weibull with shape
spot: {share: 0.5, interruptions_per_hour: 0.05, usd_per_hour: 0.30}     # 2-minute notice
events:
  - {kind: zone_outage, zone: us-east-1a, at: 10m, duration: 30m}
"""

AUTOSCALING = TypeAdapter(AutoscalingConfig)


def test_the_issue_yaml_validates_to_seconds():
    """Every block of the issue's example parses, durations in seconds, AWS defaults filled."""
    raw = yaml.safe_load(ISSUE_POOL)
    scaling = AUTOSCALING.validate_python(raw["autoscaling"])
    assert isinstance(scaling, TargetTrackingConfig)
    assert (scaling.period, scaling.scale_out_cooldown, scaling.scale_in_cooldown) == (60, 60, 300)
    assert (scaling.scale_out_datapoints, scaling.scale_in_datapoints) == (3, 15)
    failures = FailuresConfig.model_validate(raw["failures"])
    assert (failures.mtbf, failures.mttr, failures.action) == (30 * 86400, 600, "repair")
    spot = SpotConfig.model_validate(raw["spot"])
    assert spot.interruptions_per_s == pytest.approx(0.05 / 3600)
    (event,) = TypeAdapter(list[EventConfig]).validate_python(raw["events"])
    assert (event.zone, event.at, event.duration) == ("us-east-1a", 600, 1800)


def test_step_and_scheduled_examples_validate():
    """The documented step and scheduled blocks parse."""
    step = AUTOSCALING.validate_python(
        yaml.safe_load("""
kind: step
metric: in_flight_per_instance
min: 2
max: 40
scale_out: {threshold: 8, steps: [{beyond: 0, change: 1}, {beyond: 4, change: 4}]}
scale_in: {threshold: 2, steps: [{beyond: 0, change: -1}], cooldown: 10m}
""")
    )
    assert isinstance(step, StepConfig) and step.scale_in.cooldown == 600
    daily = AUTOSCALING.validate_python(
        yaml.safe_load("""
kind: scheduled
every: 24h
schedule: [{at: 8h, min: 10, max: 40}, {at: 20h, min: 2, max: 10}]
""")
    )
    assert isinstance(daily, ScheduledConfig) and daily.schedule[1].at == 72000


@pytest.mark.parametrize(
    ("model", "data", "says"),
    [
        (FailuresConfig, {"mtbf": "1h", "mttr": "1m", "distribution": "weibull"}, "shape"),
        (FailuresConfig, {"mtbf": "1h"}, "mttr"),
        (FailuresConfig, {"mtbf": "1h", "mttr": "1m", "shape": 2.0}, "got 2.0"),
        (FailuresConfig, {"mtbf": 3600, "mttr": "1m"}, "needs a unit"),
        (SpotConfig, {"share": 0.5, "interruptions_per_hour": 0.1}, "usd_per_hour"),
        (SpotConfig, {"share": 1.5, "interruptions_per_hour": 0.1, "usd_per_hour": 1.0}, "1.5"),
        (AUTOSCALING, {"kind": "target_tracking", "target": 0.6, "min": 5, "max": 2}, "min (5)"),
        (AUTOSCALING, {"kind": "target_tracking", "target": 60, "min": 1, "max": 2}, "60"),
        (
            AUTOSCALING,
            {"kind": "target_traking", "target": 0.6, "min": 1, "max": 2},
            "target_traking",
        ),
        (
            AUTOSCALING,
            {"kind": "target_tracking", "target": 0.6, "min": 1, "max": 2, "cooldown": "1s"},
            "cooldown",
        ),
        (AUTOSCALING, {"kind": "step", "min": 1, "max": 2}, "scale_out"),
        (
            AUTOSCALING,
            {
                "kind": "step",
                "min": 1,
                "max": 2,
                "scale_in": {"threshold": 0.2, "steps": [{"beyond": 0, "change": 1}]},
            },
            "scale_in.steps.0.change",
        ),
        (
            AUTOSCALING,
            {
                "kind": "step",
                "min": 1,
                "max": 2,
                "scale_out": {"threshold": 0.2, "steps": [{"beyond": 0.1, "change": 1}]},
            },
            "beyond: 0",
        ),
        (
            AUTOSCALING,
            {"kind": "scheduled", "every": "1h", "schedule": [{"at": "2h", "min": 1, "max": 2}]},
            "every",
        ),
        (
            AUTOSCALING,
            {
                "kind": "scheduled",
                "schedule": [{"at": "2h", "min": 1, "max": 2}, {"at": "1h", "min": 1, "max": 2}],
            },
            "increase",
        ),
        (
            AUTOSCALING,
            {"kind": "target_tracking", "target": 0.5, "min": 1, "max": 4, "every": "1d"},
            "every (86400.0 s) repeats a schedule",
        ),
        (
            AUTOSCALING,
            {
                "kind": "target_tracking",
                "target": 0.5,
                "min": 1,
                "max": 4,
                "schedule": [{"at": "8h", "min": 0, "max": 3}],
            },
            "schedule.0.min: a metric-driven autoscaler needs min >= 1 while max > 0, got min 0",
        ),
        (
            AUTOSCALING,
            {
                "kind": "step",
                "min": 1,
                "max": 4,
                "scale_out": {"threshold": 0.5, "steps": [{"beyond": 0, "change": 1}]},
                "schedule": [{"at": "2h", "min": 1, "max": 2}],
                "every": "1h",
            },
            "schedule.0.at (7200.0 s) must be less than every (3600.0 s)",
        ),
        (
            AUTOSCALING,
            {
                "kind": "target_tracking",
                "target": 0.5,
                "min": 1,
                "max": 4,
                "schedule": [{"at": "2h", "min": 3, "max": 2}],
            },
            "min (3) must not exceed max (2)",
        ),
        (
            AUTOSCALING,
            {"kind": "target_tracking", "target": 0.5, "min": 1, "max": 4, "schedule": []},
            "at least 1 item",
        ),
    ],
)
def test_bad_values_name_the_field_and_value(model, data, says):
    """Each bad block raises a validation error that names the field or the value."""
    validate = model.validate_python if isinstance(model, TypeAdapter) else model.model_validate
    with pytest.raises(ValidationError) as err:
        validate(data)
    assert says in str(err.value)


def test_the_docs_controller_yaml_validates():
    """Every YAML block of docs/fleet-dynamics.md's Controllers section validates."""
    import re

    from helpers import ROOT

    text = (ROOT / "docs" / "fleet-dynamics.md").read_text(encoding="utf-8")
    section = text[text.index("## Controllers") :]
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.S)]
    checks = {
        "autoscaling": AUTOSCALING.validate_python,
        "failures": FailuresConfig.model_validate,
        "spot": SpotConfig.model_validate,
    }
    validated = 0
    for block in blocks:
        pools = block.get("fleet", [block])
        for entry in pools:
            for key, check in checks.items():
                if key in entry:
                    check(entry[key])
                    validated += 1
        if "events" in block:
            TypeAdapter(list[EventConfig]).validate_python(block["events"])
            validated += 1
    assert len(blocks) == 4 and validated == 7


def test_metric_driven_autoscalers_need_one_instance():
    """min 0 would deadlock a metric-driven autoscaler (no instance, no metric)."""
    with pytest.raises(ValidationError, match="min >= 1, got 0"):
        AUTOSCALING.validate_python({"kind": "target_tracking", "target": 0.5, "min": 0, "max": 2})
    scheduled = {"kind": "scheduled", "schedule": [{"at": "0s", "min": 0, "max": 0}]}
    assert AUTOSCALING.validate_python(scheduled).schedule[0].max == 0  # scale to zero


def test_metric_driven_autoscalers_take_a_schedule():
    """target_tracking and step carry the scheduled kind's entries; max: 0 empties the pool
    for a while (min 0 only then: at 0 instances nothing would scale out)."""
    night = [{"at": "8h", "min": 4, "max": 20}, {"at": "22h", "min": 0, "max": 0}]
    tracking = AUTOSCALING.validate_python(
        {"kind": "target_tracking", "target": 0.6, "min": 2, "max": 10, "schedule": night,
         "every": "24h"}
    )  # fmt: skip
    assert [(e.at, e.min, e.max) for e in tracking.schedule] == [(28800, 4, 20), (79200, 0, 0)]
    assert (tracking.every, tracking.min, tracking.max) == (86400, 2, 10)
    step = AUTOSCALING.validate_python(
        {"kind": "step", "min": 1, "max": 9, "schedule": night[:1],
         "scale_out": {"threshold": 0.7, "steps": [{"beyond": 0, "change": 2}]}}
    )  # fmt: skip
    assert step.schedule[0].min == 4 and step.every is None


@pytest.mark.parametrize(
    "block",
    [
        {"kind": "target_tracking", "target": 0.6, "min": 2, "max": 40, "period": "90s"},
        {
            "kind": "step",
            "min": 1,
            "max": 9,
            "scale_out": {"threshold": 0.7, "steps": [{"beyond": 0, "change": 2}]},
        },
        {"kind": "scheduled", "every": "1d", "schedule": [{"at": "8h", "min": 1, "max": 3}]},
        {
            "kind": "target_tracking",
            "target": 0.6,
            "min": 2,
            "max": 40,
            "schedule": [{"at": "8h", "min": 10, "max": 40}],
            "every": "1d",
        },
    ],
)
def test_configs_round_trip(block):
    """A config dumped (durations as '60.0s') validates back to itself."""
    config = AUTOSCALING.validate_python(block)
    assert AUTOSCALING.validate_python(AUTOSCALING.dump_python(config)) == config
    failures = FailuresConfig(mtbf="30d", mttr="10m", distribution="weibull", shape=0.8)
    assert FailuresConfig.model_validate(failures.model_dump()) == failures
