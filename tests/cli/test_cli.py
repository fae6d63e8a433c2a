"""The run command: outputs, refusal to overwrite, --force, overrides, summary agreement."""

from __future__ import annotations

import json

import pytest
from helpers import ROOT, needs_kernel
from typer.testing import CliRunner

import analysis
from sim.cli.commands import app
from sim.engine.engines import kernel_built

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
    assert sorted(p.name for p in out.iterdir()) == [
        "instances.parquet",
        "requests.parquet",
        "summary.json",
    ]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_existing_output_refused_without_force(tmp_path):
    """An existing run directory is refused (exit 2, untouched); --force replaces it."""
    out = tmp_path / "run"
    assert invoke("run", ALEXA, "--out", out, "--duration", "11s", "--quiet").exit_code == 0
    before = (out / "summary.json").read_text()
    result = invoke("run", ALEXA, "--out", out, "--duration", "12s", "--quiet")
    assert result.exit_code == 2 and "--force" in result.output
    assert (out / "summary.json").read_text() == before
    result = invoke("run", ALEXA, "--out", out, "--duration", "12s", "--quiet", "--force")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "instances.parquet",
        "requests.parquet",
        "summary.json",
    ]
    assert (out / "summary.json").read_text() != before


def test_force_never_deletes_other_files(tmp_path):
    """--force refuses a directory that holds anything but a previous run's two files."""
    out = tmp_path / "project"
    (out / "src").mkdir(parents=True)
    (out / "src" / "code.py").write_text("precious")
    result = invoke("run", ALEXA, "--out", out, "--duration", "11s", "--quiet", "--force")
    assert result.exit_code == 2 and "not a fleetsim run directory" in result.output
    assert (out / "src" / "code.py").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


@pytest.mark.parametrize("target", ["a-file", "/proc/fleetsim-cannot-write/x"])
def test_bad_output_paths_are_clear_errors(tmp_path, target):
    """An output path that is a file, or cannot be written, is exit 2 without a traceback."""
    (tmp_path / "a-file").write_text("x")
    out = tmp_path / target if not target.startswith("/") else target
    result = invoke("run", ALEXA, "--out", out, "--duration", "11s", "--quiet", "--force")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert (tmp_path / "a-file").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_out_dot_writes_into_a_named_directory(tmp_path, monkeypatch):
    """--out . is the current directory itself: refused unless it is a run directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    result = invoke("run", ALEXA, "--out", ".", "--duration", "11s", "--quiet", "--force")
    assert result.exit_code == 2 and "not a fleetsim run directory" in result.output


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


def start_long_run(out, *extra):
    """A ``fleetsim run`` in a subprocess that lasts a while; returns once it is writing."""
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", "run", str(ROOT / "scenarios" / "amazon_search.yaml"),
         "--out", str(out), "--duration", "10m", "--quiet", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    pattern = f".fleetsim-staging-{out.name}-*/.requests.parquet.*.tmp"
    while not list(out.parent.glob(pattern)):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    return proc


def test_killed_run_leaves_nothing_and_the_next_run_cleans_up(tmp_path):
    """SIGKILL mid-run: no output directory; the next run in the same parent directory -
    into another folder - removes the dead run's staging (its lock is free), whatever PID
    the machine gives out next."""
    import signal

    out = tmp_path / "killed"
    proc = start_long_run(out)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    assert list(tmp_path.glob(".fleetsim-staging-killed-*"))
    result = invoke(
        "run", ROOT / "scenarios" / "alexa.yaml", "--out", tmp_path / "other", "--duration",
        "11s", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["other"]


def test_terminated_survives_simpy_re_raising_it():
    """SIGTERM during a SimPy-engine run raises ``Terminated`` inside a process; SimPy
    re-raises it as ``type(exc)(*exc.args)``, which once failed with a ValueError (exit 1
    and a traceback instead of 143)."""
    import signal

    import simpy

    from sim.cli.signals import Terminated

    env = simpy.Environment()

    def process(env):
        yield env.timeout(1)
        raise Terminated(signal.SIGTERM)

    env.process(process(env))
    with pytest.raises(Terminated) as info:
        env.run()
    assert info.value.signum == signal.SIGTERM and str(info.value) == "terminated (SIGTERM)"


def test_sigterm_is_handled_like_an_interrupt(tmp_path):
    """SIGTERM: exit 143, one line, nothing written and no staging left behind."""
    import signal

    out = tmp_path / "terminated"
    proc = start_long_run(out)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "terminated" in stderr and "Traceback" not in stderr
    assert [p.name for p in tmp_path.iterdir() if "fleetsim-lock" not in p.name] == []


def test_a_second_run_into_the_same_directory_is_refused(tmp_path):
    """Two runs never write one directory: the second is refused at once, naming the
    first (its PID); the first completes untouched. With --force too."""
    import signal

    out = tmp_path / "shared"
    first = start_long_run(out)
    try:
        for extra in ([], ["--force"]):
            result = invoke(
                "run", ROOT / "scenarios" / "alexa.yaml", "--out", out, "--duration", "11s",
                "--quiet", *extra,
            )  # fmt: skip
            assert result.exit_code == 2, result.output
            assert "is being written by fleetsim process" in result.output
            assert str(first.pid) in result.output
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert not out.exists()
    result = invoke(
        "run", ROOT / "scenarios" / "alexa.yaml", "--out", out, "--duration", "11s", "--quiet"
    )
    assert result.exit_code == 0, result.output


def test_a_run_published_meanwhile_is_never_overwritten(tmp_path, monkeypatch):
    """The target is checked again when the run publishes: a directory that appeared during
    the run (not through fleetsim's lock) is kept, and the run fails with exit 2."""
    import sim.engine.api as api

    out = tmp_path / "raced"
    real = api.simulate

    def simulate_then_race(*args, **kwargs):
        stats = real(*args, **kwargs)
        out.mkdir()
        (out / "summary.json").write_text("{}")
        return stats

    monkeypatch.setattr(api, "simulate", simulate_then_race)
    result = invoke("run", ROOT / "scenarios" / "alexa.yaml", "--out", out, "--duration", "11s")
    assert result.exit_code == 2 and "already exists" in result.output
    assert (out / "summary.json").read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir() if "fleetsim-lock" not in p.name] == ["raced"]


class Terminal:
    """A stderr stand-in that says whether it is a terminal and keeps what is written."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.text = ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def test_progress_shows_only_after_the_delay_as_a_bar_or_lines(monkeypatch):
    """Nothing shows for short runs; then a bar on a terminal that tracks the whole run's
    fraction and its phase, or plain lines elsewhere (every LINE_EVERY_S, and at the end)."""
    import sim.cli.progress as cli

    quick = cli.LazyProgress("x", enabled=True, stream=Terminal(True))
    quick(0.5)
    assert quick.bar is None  # under PROGRESS_AFTER_S: nothing shown
    monkeypatch.setattr(cli, "PROGRESS_AFTER_S", 0.0)
    slow = cli.LazyProgress("x", enabled=True, stream=Terminal(True))
    slow(0.25)
    slow(0.75, "summarising")
    assert slow.bar is not None
    assert slow.bar.tasks[0].completed == 0.75
    assert slow.bar.tasks[0].fields["phase"] == "summarising"
    slow.close()
    piped = Terminal(False)
    lines = cli.LazyProgress("alexa", enabled=True, stream=piped)
    lines(0.25)
    lines(0.5)  # within LINE_EVERY_S of the last line: not shown
    lines(1.0, "summarising")
    assert piped.text.splitlines()[0].startswith("fleetsim: alexa:  25.0% (simulating)")
    assert len(piped.text.splitlines()) == 2 and "100.0% (summarising)" in piped.text
    disabled = cli.LazyProgress("x", enabled=False, stream=Terminal(True))
    disabled(0.5)
    assert disabled.bar is None


def test_selfcheck_only_runs_matching_checks(monkeypatch):
    """--only selects checks by name; a pattern matching nothing is exit 2."""
    from sim import selfcheck as sc

    ran = []
    monkeypatch.setattr(sc, "run_checks", lambda checks, workers, on_result: ran.extend(checks))
    result = invoke("selfcheck", "--profile", "fast", "--only", "M/D/1")
    assert result.exit_code == 0, result.output
    assert [c.name for c in ran] == ["M/D/1 rho=0.6 mean wait (P-K)"]
    assert invoke("selfcheck", "--only", "no such check").exit_code == 2


def test_version_says_whether_the_kernel_is_built():
    """``fleetsim version`` says whether the compiled kernel was built."""
    result = invoke("version")
    assert result.exit_code == 0, result.output
    built = "compiled kernel: built" if kernel_built() else "compiled kernel: not built"
    assert "fleetsim 0." in result.output and built in result.output


@pytest.mark.parametrize("engine", [pytest.param("compiled", marks=needs_kernel), "simpy"])
def test_run_names_the_engine(tmp_path, engine):
    """``fleetsim run --engine`` runs that engine and says so, in the output and in
    summary.json; both engines write the same numbers."""
    out = tmp_path / engine
    result = invoke("run", ROOT / "scenarios" / "alexa.yaml", "--out", out, "--duration",
                    "11s", "--engine", engine, "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"engine: {engine}" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["engine"] == engine and summary["engine_reason"] is None


def test_an_unknown_engine_is_refused():
    """``--engine`` takes auto, compiled or simpy."""
    result = invoke("run", ROOT / "scenarios" / "alexa.yaml", "--engine", "fast")
    assert result.exit_code == 2 and "fast" in result.output
