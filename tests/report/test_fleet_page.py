"""The report's instances-over-time plot and per-pool costs for a fleet that changed."""

from __future__ import annotations

import copy

import numpy as np
import yaml
from helpers import BASE_SCENARIO
from typer.testing import CliRunner

from analysis.report.fleet_page import _steps, pool_costs_usd
from sim.cli.commands import app


def lifetimes() -> dict:
    """Pool a: one instance 0-100 s; pool b: one 0-40 s, one requested at 40, ready at 50."""
    return {
        "pool": np.array(["a", "b", "b"], dtype=object),
        "requested_s": np.array([0.0, 0.0, 40.0]),
        "ready_s": np.array([0.0, 0.0, 50.0]),
        "terminated_s": np.array([100.0, 40.0, 100.0]),
        "usd_per_hour": np.array([3600.0, 3600.0, 7200.0]),
        "lifecycle": np.array(["on_demand"] * 3, dtype=object),
        "instance_id": np.array([0, 0, 1]),
        "zone": np.array([None] * 3, dtype=object),
        "reason": np.array(["end", "failure", "end"], dtype=object),
    }


def test_steps_and_costs_by_hand():
    """In service: 2 until 40, 1 until 50, 2 to the end (no drop at the run's end); billed
    stays at 2; costs in [10, 100): a 90 s x $1/s, b 30 s x $1/s + 60 s x $2/s."""
    times, counts = _steps(lifetimes(), "serving", 100.0)
    assert times.tolist() == [0.0, 40.0, 50.0, 100.0] and counts.tolist() == [2, 1, 2, 2]
    times, counts = _steps(lifetimes(), "billed", 100.0)
    assert counts.tolist() == [2, 2, 2]  # at 40 s one ends as the other is requested
    assert pool_costs_usd(lifetimes(), 10.0, 100.0) == {"a": 90.0, "b": 30.0 + 120.0}


def test_a_changing_fleet_gets_its_instances_plot(tmp_path):
    """A run with failures and repairs: the report plots its instances over time."""
    data = copy.deepcopy(BASE_SCENARIO)
    data["duration"] = "20s"
    data["fleet"][0]["failures"] = {"mtbf": "3s", "mttr": "1s"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    runner = CliRunner()
    run = tmp_path / "changing"
    result = runner.invoke(app, ["run", str(path), "--out", str(run), "--quiet"])
    assert result.exit_code == 0, result.output
    out, png = str(tmp_path / "r.html"), str(tmp_path / "png")
    result = runner.invoke(app, ["report", str(run), "-o", out, "--png", png])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text()
    assert "Instances over time" in page
    assert any("instances-over-time" in p.name for p in (tmp_path / "png").iterdir())
