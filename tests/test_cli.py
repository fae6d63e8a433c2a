"""The run command: outputs, refusal to overwrite, --force, overrides, summary agreement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import analysis
from sim.cli import app

ROOT = Path(__file__).resolve().parent.parent
ALEXA = ROOT / "scenarios" / "alexa.yaml"


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_run_writes_trace_and_summary_that_agree(tmp_path):
    """summary.json equals analysis.summarize on the loaded trace."""
    out = tmp_path / "run"
    result = invoke("run", ALEXA, "--out", out, "--duration", "12s")
    assert result.exit_code == 0, result.output
    assert "latency p99" in result.output
    summary = json.loads((out / "summary.json").read_text())
    again = analysis.summarize(analysis.load_trace(out / "requests.parquet"))
    for key in ("requests", "completed", "dropped", "latency_p99_s", "cost_usd", "slo_attainment"):
        assert summary[key] == pytest.approx(again[key]), key
    assert sorted(p.name for p in out.iterdir()) == ["requests.parquet", "summary.json"]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_existing_output_refused_without_force(tmp_path):
    """An existing directory is refused (exit 2, untouched); --force replaces it."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = invoke("run", ALEXA, "--out", out, "--duration", "11s", "--quiet")
    assert result.exit_code == 2 and "--force" in result.output
    assert (out / "keep.txt").read_text() == "mine"
    result = invoke("run", ALEXA, "--out", out, "--duration", "11s", "--quiet", "--force")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["requests.parquet", "summary.json"]


def test_seed_and_duration_overrides(tmp_path):
    """--seed and --duration change the run and are recorded in the summary."""
    result = invoke(
        "run", ALEXA, "--out", tmp_path / "a", "--duration", "11s", "--seed", "9", "--quiet"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["seed"] == 9 and summary["duration_s"] == 11.0


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--duration", "soon"], "--duration"),
        (["--duration", "0s"], "--duration"),
        (["--duration", "1s"], "warmup"),
    ],
)
def test_bad_overrides_exit_2(tmp_path, args, fragment):
    """Bad command-line overrides are clear errors with exit code 2 and no output."""
    result = invoke("run", ALEXA, "--out", tmp_path / "x", *args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_validate_ok():
    """validate prints ok and exits 0 for a good file."""
    result = invoke("validate", ALEXA)
    assert result.exit_code == 0 and "ok" in result.output


def test_projected_hardware_is_flagged(tmp_path):
    """A pool on inf3 is marked PROJECTED by validate, in the run output and summary.json."""
    text = (ROOT / "scenarios" / "amazon_search.yaml").read_text()
    text = text.replace("instance: inf2.xlarge", "instance: inf3.xlarge")
    path = tmp_path / "inf3.yaml"
    path.write_text(text)
    result = invoke("validate", path)
    assert result.exit_code == 0 and "PROJECTED" in result.output
    result = invoke("run", path, "--out", tmp_path / "out", "--duration", "6s")
    assert result.exit_code == 0, result.output
    assert "PROJECTED" in result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["pools"][0]["projected"] is True


def test_killed_run_leaves_nothing_under_the_final_name(tmp_path):
    """SIGKILL mid-run: no output directory; the next run cleans the leftover staging."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim",
            "run",
            str(ROOT / "scenarios" / "amazon_search.yaml"),
            "--out",
            str(out),
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".killed.partial-*/.requests.parquet.*.tmp")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    assert list(tmp_path.glob(".killed.partial-*"))
    result = invoke(
        "run", ROOT / "scenarios" / "alexa.yaml", "--out", out, "--duration", "11s", "--quiet"
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed"]
