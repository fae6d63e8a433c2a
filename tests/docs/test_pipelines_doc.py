"""docs/pipelines.md is executed: its python block prints exactly the text block after it,
and its YAML example is the pipeline of scenarios/alexa_pipeline.yaml."""

from __future__ import annotations

import contextlib
import io
import re

import yaml
from helpers import ROOT

DOC = ROOT / "docs" / "pipelines.md"
BLOCK = re.compile(r"```python\n(.*?)```\n\n```text\n(.*?)```\n", re.S)


def test_example_prints_what_the_doc_shows(tmp_path, monkeypatch):
    """The block runs the scenario and prints each stage's p99 and the end-to-end p99."""
    monkeypatch.chdir(tmp_path)  # its run directory goes here
    (code, shown), *_ = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    code = code.replace('"scenarios/', f'"{ROOT}/scenarios/')
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, DOC.name, "exec"), {})
    assert printed.getvalue() == shown


def test_yaml_example_is_the_case_study_pipeline():
    """The doc's ``pipelines`` block says what the case study runs."""
    block = re.search(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    shown = yaml.safe_load(block)["pipelines"]
    scenario = yaml.safe_load((ROOT / "scenarios" / "alexa_pipeline.yaml").read_text())
    assert shown == scenario["pipelines"]
