"""Every scenario in scenarios/ validates, says what it is modelled on, and smoke-runs."""

from __future__ import annotations

import json

import pytest
from helpers import SCENARIOS
from typer.testing import CliRunner

import analysis
from sim.cli.commands import app
from sim.scenario.loading import load_scenario

CASE_STUDIES = {"alexa", "amazon_search", "airbnb", "snap", "bert_large_inf1"}


def test_case_studies_present():
    """The five case studies named in the foundation issue exist."""
    assert CASE_STUDIES <= {p.stem for p in SCENARIOS}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_validates_and_cites_its_claim(path):
    """Each file validates and opens with a comment quoting its public claim."""
    scenario = load_scenario(path)
    head = path.read_text().splitlines()[:3]
    assert all(line.startswith("#") for line in head), head
    assert "claim" in path.read_text().lower()
    assert scenario.warmup < scenario.duration


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_smoke_runs(path, tmp_path):
    """fleetsim run at a short duration writes the trace and a summary with every key."""
    out = tmp_path / "out"
    scenario = load_scenario(path)
    short = max(scenario.warmup + 0.5, 1.0)
    result = CliRunner().invoke(
        app, ["run", str(path), "--out", str(out), "--quiet", "--duration", f"{short}s"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    for key in analysis.SUMMARY_KEYS:
        assert key in summary
    assert summary["requests"] > 0
    df = analysis.load_trace(out / "requests.parquet")
    assert len(df) > 0 and (df.arrival_s < short).all()
