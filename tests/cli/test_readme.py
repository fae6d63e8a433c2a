"""The README is tested: its annotated scenario validates, its pandas lines run."""

from __future__ import annotations

import re

from helpers import ROOT
from typer.testing import CliRunner

from sim.cli.commands import app
from sim.scenario.loading import parse_scenario

README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_annotated_scenario_validates():
    """The README's annotated scenario is a valid scenario."""
    scenario_yaml = blocks("yaml")[0]
    scenario = parse_scenario(scenario_yaml, source="README.md")
    assert scenario.fleet[0].batching.max_batch == 8


def test_workload_and_service_options_validate(tmp_path):
    """Each arrivals/service line of the README's options block works in a scenario."""
    import pandas as pd
    import yaml

    pd.DataFrame({"arrival_s": [0.0, 0.1]}).to_csv(tmp_path / "arrivals.csv", index=False)
    pd.DataFrame({"service_s": [0.001, 0.002]}).to_csv(tmp_path / "measured.csv", index=False)
    base = yaml.safe_load(blocks("yaml")[0])
    lines = [
        ln for ln in blocks("yaml")[1].splitlines() if ln.startswith(("arrivals:", "service:"))
    ]
    assert len(lines) == 7
    for line in lines:
        data = yaml.safe_load(yaml.safe_dump(base))
        option = yaml.safe_load(line.split("#")[0])
        if "arrivals" in option:
            data["workload"]["arrivals"] = option["arrivals"]
        else:
            data["fleet"][0]["service"] = option["service"]
        parse_scenario(yaml.safe_dump(data), source=line, base_dir=tmp_path)


def test_two_setup_commands():
    """Exactly two set-up commands: one runs alexa.yaml, the other installs [test] and tests."""
    commands = [b.strip() for b in blocks("bash")]
    assert len(commands) == 2
    assert commands[0].endswith("fleetsim run scenarios/alexa.yaml")
    assert "'.[test]'" in commands[1] and commands[1].endswith("pytest")


def test_pandas_lines_run(tmp_path, monkeypatch):
    """The README's pandas and interval snippets run on a fresh alexa trace, in its paths."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["run", str(ROOT / "scenarios" / "alexa.yaml"), "--duration", "11s", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    processes, actions, pandas_lines, interval_lines, _ = blocks("python")
    namespace: dict = {}
    exec(compile(pandas_lines, "README.md", "exec"), namespace)
    assert len(namespace["df"]) > 0
    exec(compile(interval_lines, "README.md", "exec"), namespace)
    assert namespace["s"]["latency_p99_s_ci"].estimate == namespace["s"]["latency_p99_s"]
    assert list(namespace["runs"]["run"]) == ["runs/alexa"]


def test_processes_example_runs(tmp_path, monkeypatch, capsys):
    """The README's SimPy-process example runs and its observer sees the fleet each second."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    processes = blocks("python")[0]
    namespace: dict = {}
    exec(compile(processes, "README.md", "exec"), namespace)
    assert [t for t, _ in namespace["peaks"]] == [float(s) for s in range(1, 20)]
    assert namespace["result"].summary["duration_s"] == 20.0
    assert namespace["result"].engine in capsys.readouterr().out


def test_sweep_file_and_sweep_lines(tmp_path, monkeypatch):
    """The README's sweep file is a valid sweep, the shipped sweeps build every point, and
    the README's sweep snippet runs on a sweep of that name (shortened)."""
    import yaml

    from sim.sweep import build_points, load_sweep_spec, run_sweep
    from sim.sweep.spec import parse_sweep_spec

    spec = parse_sweep_spec(blocks("yaml")[3], "README.md")
    assert spec.varied()[:2] == ["fleet.0.count", "fleet.0.batching.max_batch"]
    assert len(spec.settings()) == 9 * 2 * 20
    for path in sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml")):
        assert build_points(load_sweep_spec(path), path)
    monkeypatch.chdir(tmp_path)
    short = {
        "name": "search-sizing",
        "base": str(ROOT / "scenarios" / "amazon_search.yaml"),
        "duration": "6s",
        "axes": [{"grid": {"fleet.0.count": [8, 10], "fleet.0.batching.max_batch": [4, 8]}}],
    }
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(short))
    run_sweep(tmp_path / "sweep.yaml", serial=True)
    namespace: dict = {}
    exec(compile(blocks("python")[4], "README.md", "exec"), namespace)
    assert len(namespace["sweep"]) == 4


def test_actions_example_runs(tmp_path, monkeypatch):
    """The README's fleet-action example fails and restores an instance: requests it held
    are recorded failed, and its lost service time shows in the availability."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    namespace: dict = {}
    exec(compile(blocks("python")[1], "README.md", "exec"), namespace)
    summary = namespace["result"].summary
    assert summary["failed"] > 0 and summary["fleet_changed"]
    assert 0.9 < summary["availability"] < 1.0


def test_living_fleet_scenario_validates_and_runs(tmp_path):
    """The README's fleet-dynamics scenario is valid and every key it shows is in effect."""
    from sim.engine.runner import simulate

    scenario = parse_scenario(blocks("yaml")[2], source="README.md")
    nlu = scenario.fleet[0]
    assert nlu.autoscaling.target == 0.6 and nlu.failures.mttr == 600.0
    assert nlu.spot.share == 0.5 and nlu.cold_start.provision == 40.0
    assert scenario.clients.retries.max_attempts == 3 and scenario.events[0].at == 600.0
    short = scenario.model_copy(update={"duration": 120.0})
    metrics = simulate(short, tmp_path / "requests.parquet").metrics
    assert metrics["requests"] > 0 and metrics["fleet_size_peak"] >= 4
