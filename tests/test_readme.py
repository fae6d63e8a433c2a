"""The README is tested: its annotated scenario validates, its pandas lines run."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from sim.cli import app
from sim.loading import parse_scenario

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_annotated_scenario_validates():
    """The README's annotated scenario is a valid scenario."""
    (scenario_yaml,) = blocks("yaml")
    scenario = parse_scenario(scenario_yaml, source="README.md")
    assert scenario.fleet[0].batching.max_batch == 8


def test_two_setup_commands():
    """Exactly two set-up commands: one runs alexa.yaml, the other installs [test] and tests."""
    commands = [b.strip() for b in blocks("bash")]
    assert len(commands) == 2
    assert commands[0].endswith("fleetsim run scenarios/alexa.yaml")
    assert "'.[test]'" in commands[1] and commands[1].endswith("pytest")


def test_pandas_lines_run(tmp_path, monkeypatch):
    """The README's python snippet runs on a fresh alexa trace, in the README's paths."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["run", str(ROOT / "scenarios" / "alexa.yaml"), "--duration", "11s", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    (snippet,) = blocks("python")
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    assert len(namespace["df"]) > 0
