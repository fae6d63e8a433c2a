"""The fleet-dynamics case studies, scaled down, write identical traces on both engines.

Each of scenarios/alexa_day.yaml, search_zone_outage.yaml, spot_mix.yaml and multi_model.yaml
with less traffic and a shorter run in which its controllers still act (the autoscaler
scales, the zone is lost and comes back, Spot instances are interrupted, a shared instance
fails with both its models' requests); both engines must write the
same requests.parquet and instances.parquet, and the run must show the dynamics.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from helpers import ROOT, assert_engines_agree, needs_kernel, scenario

pytestmark = needs_kernel


def shrunk(name: str, changes) -> dict:
    """The scenario file as a dict, with ``changes(data)`` applied."""
    data = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text())
    changes(data)
    return data


def alexa_day(d: dict) -> None:
    d.update(duration="1h", warmup="1m")
    d["workload"]["arrivals"].update(mean_rate=60, period="1h", phase="30m")
    d["fleet"][0]["autoscaling"].update(min=1, target=0.25, scale_in_cooldown="60s",
                                        scale_out_datapoints=1, scale_in_datapoints=3)  # fmt: skip


def zone_outage(d: dict) -> None:
    d.update(duration="10m", warmup="30s")
    d["workload"]["arrivals"]["rate"] = 250
    d["events"][0].update(at="3m", duration="4m")


def spot(d: dict) -> None:
    d.update(duration="10m", warmup="30s")
    d["workload"]["arrivals"]["rate"] = 150
    d["fleet"][0]["spot"]["interruptions_per_hour"] = 20


def multi_model(d: dict) -> None:
    d.update(duration="5m", warmup="30s")
    d["workload"]["arrivals"]["rate"] = 100
    d["fleet"][0].update(
        count=3,
        autoscaling={"kind": "target_tracking", "metric": "utilisation", "target": 0.3,
                     "min": 1, "max": 6, "period": "30s", "scale_in_cooldown": "60s",
                     "scale_out_datapoints": 1, "scale_in_datapoints": 2},
        failures={"mtbf": "2m", "mttr": "30s"},
    )  # fmt: skip


@pytest.mark.parametrize(
    "name, changes, reasons",
    [
        ("alexa_day", alexa_day, {"scale_in"}),
        ("search_zone_outage", zone_outage, {"zone_outage"}),
        ("spot_mix", spot, {"spot_interruption"}),
        ("multi_model", multi_model, {"failure", "scale_in"}),
    ],
)
def test_dynamic_case_studies_identical(tmp_path, name, changes, reasons):
    """Identical requests and instance lifetimes on both engines, and the dynamics happen."""
    sc = scenario(shrunk(name, changes))
    trace = assert_engines_agree(sc, tmp_path)
    ids = trace["request_id"].sort_values().to_numpy()
    assert (ids == range(len(ids))).all()  # conservation: each request exactly once
    lifetimes = pd.read_parquet(tmp_path / "compiled" / "instances.parquet")
    assert reasons <= set(lifetimes["reason"].astype(str))
    assert len(lifetimes) > sum(pool.count for pool in sc.fleet)  # instances came and went
