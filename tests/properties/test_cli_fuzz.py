"""Fuzzing the command line: a valid scenario with one field broken is refused cleanly.

Every input starts as a valid scenario (``helpers.scenario_dicts``); one field becomes a
wrong type, a non-finite or extreme number, or - for a duration - a number without its
unit. ``fleetsim validate`` and ``fleetsim run`` must both answer exit 2 with one
``file:line: field: message`` per problem, no traceback, and nothing written.
"""

from __future__ import annotations

import copy
import re
import tempfile
from pathlib import Path

import yaml
from helpers import scenario_dicts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sim.cli.commands import app

DURATIONS = {"duration", "warmup", "max_wait", "target", "period", "phase", "mean",
             "base", "per_request", "mean_sojourn"}  # fmt: skip
BROKEN = {
    "wrong type": "[[1]]",
    "extreme": "-1.0e+308",
    "not a number": ".nan",
    "infinite": ".inf",
}
LINE = re.compile(r"^error: \S*s\.yaml:(\d+): (\S+): ", re.M)


def leaves(node, prefix=()):
    """Paths to every value of a nested dict/list (lists of durations count as values)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*prefix, key))
    elif isinstance(node, list) and node and isinstance(node[0], dict | list):
        for i, value in enumerate(node):
            yield from leaves(value, (*prefix, i))
    else:
        yield prefix


def broken_text(data: dict, path: tuple, raw: str) -> str:
    """The scenario as YAML with the value at ``path`` written as ``raw``."""
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = "@@BROKEN@@"
    return yaml.safe_dump(data, sort_keys=False).replace("'@@BROKEN@@'", raw)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(), st.data())
def test_one_broken_field_is_exit_2_with_file_line_field(generated, draw):
    """validate and run: exit 2, ``file:line: field`` naming the broken field, no traceback,
    nothing written."""
    data, _ = generated
    path = draw.draw(st.sampled_from(list(leaves(data))))
    kinds = list(BROKEN) + (["no unit"] if DURATIONS & {p for p in path if isinstance(p, str)}
                            else [])  # fmt: skip
    kind = draw.draw(st.sampled_from(kinds))
    raw = "'5'" if kind == "no unit" else BROKEN[kind]
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as directory:
        directory = Path(directory)
        scenario = directory / "s.yaml"
        scenario.write_text(broken_text(data, path, raw))
        for args in (["validate", scenario], ["run", scenario, "--out", directory / "out"]):
            result = runner.invoke(app, [str(a) for a in args])
            assert result.exit_code == 2, (path, kind, result.output)
            assert "Traceback" not in result.output
            lines = LINE.findall(result.output)
            assert lines, (path, kind, result.output)
            named = [str(p) for p in path if isinstance(p, str)][-1]
            assert any(named in field for _, field in lines), (path, kind, result.output)
        assert sorted(p.name for p in directory.iterdir()) == ["s.yaml"]
