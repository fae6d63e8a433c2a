"""Sweep files and their points: axes, dotted paths, identity by resolved scenario, errors.

Nothing here runs a simulation; see test_sweep_runs.py for that.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from helpers import BASE_SCENARIO

from sim.scenario.errors import ScenarioError
from sim.scenario.loading import parse_scenario
from sim.sweep import build_points, load_sweep_spec, scenario_id


def write_sweep(tmp_path: Path, sweep: dict, base: dict | None = None) -> Path:
    """A base scenario and a sweep file beside it; the sweep file's path."""
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base or BASE_SCENARIO, sort_keys=False))
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "base": "base.yaml", **sweep}, sort_keys=False))
    return path


def points_of(tmp_path: Path, sweep: dict, base: dict | None = None):
    path = write_sweep(tmp_path, sweep, base)
    return build_points(load_sweep_spec(path), path)


def test_grid_zip_and_random_combine_as_a_product(tmp_path):
    """grid gives every combination, zip reads lists in step, blocks multiply."""
    points = points_of(
        tmp_path,
        {
            "axes": [
                {"grid": {"fleet.0.count": [1, 2, 3], "fleet.0.batching.max_batch": [1, 8]}},
                {"zip": {"fleet.0.instance": ["inf2.xlarge", "inf1.xlarge"],
                         "fleet.0.dtype": ["bf16", "fp16"]}},
            ]
        },
    )  # fmt: skip
    assert len(points) == 12
    assert [p.settings for p in points[:3]] == [
        {"fleet.0.count": 1, "fleet.0.batching.max_batch": 1,
         "fleet.0.instance": "inf2.xlarge", "fleet.0.dtype": "bf16"},
        {"fleet.0.count": 1, "fleet.0.batching.max_batch": 1,
         "fleet.0.instance": "inf1.xlarge", "fleet.0.dtype": "fp16"},
        {"fleet.0.count": 1, "fleet.0.batching.max_batch": 8,
         "fleet.0.instance": "inf2.xlarge", "fleet.0.dtype": "bf16"},
    ]  # fmt: skip
    third = points[2].scenario.fleet[0]
    assert (third.count, third.batching.max_batch, third.instance) == (1, 8, "inf2.xlarge")


def test_random_axis_is_seeded_and_typed(tmp_path):
    """random draws n points from its seed: integers from integer ranges, else reals."""
    sweep = {
        "axes": [
            {"random": {"n": 5, "seed": 7, "ranges": {
                "fleet.0.count": [1, 4], "workload.arrivals.rate": [100.0, 900.0]}}}
        ]
    }  # fmt: skip
    first = points_of(tmp_path, sweep)
    again = points_of(tmp_path, sweep)
    assert [p.settings for p in first] == [p.settings for p in again]
    counts = [p.settings["fleet.0.count"] for p in first]
    rates = [p.settings["workload.arrivals.rate"] for p in first]
    assert all(isinstance(c, int) and 1 <= c <= 4 for c in counts)
    assert all(isinstance(r, float) and 100 <= r <= 900 for r in rates)
    assert len(set(rates)) == 5


def test_sweep_wide_overrides_reach_every_point(tmp_path):
    """duration, warmup and set apply to every point; missing mappings are created."""
    base = copy.deepcopy(BASE_SCENARIO)
    del base["fleet"][0]["batching"]
    points = points_of(
        tmp_path,
        {
            "duration": "3s",
            "warmup": "500ms",
            "set": {"balancer": "round_robin", "fleet.0.batching.max_wait": "2ms"},
            "axes": [{"grid": {"fleet.0.batching.max_batch": [2, 4]}}],
        },
        base,
    )
    for point in points:
        sc = point.scenario
        assert (sc.duration, sc.warmup, sc.balancer.kind) == (3.0, 0.5, "round_robin")
        assert sc.fleet[0].batching.max_wait == 0.002


def test_identity_is_the_resolved_scenario(tmp_path):
    """Same scenario, same id, however it is written; any change of a field, a new id."""
    a = points_of(tmp_path, {"axes": [{"grid": {"duration": ["2s", "2000ms", "3s"]}}]})
    assert len(a) == 2  # 2s and 2000ms are one point
    assert a[0].point_id == scenario_id(parse_scenario(yaml.safe_dump(BASE_SCENARIO)))
    assert a[0].point_id != a[1].point_id
    assert len(a[0].point_id) == 16 and not a[0].point_id.isdigit()
    # the position in the sweep does not matter
    b = points_of(tmp_path, {"axes": [{"grid": {"duration": ["3s", "2s"]}}]})
    assert {p.point_id for p in b} == {p.point_id for p in a}


def test_identity_follows_a_data_files_content_not_its_path(tmp_path):
    """An arrival trace counts by its content: moved, same id; edited, a new id."""
    base = copy.deepcopy(BASE_SCENARIO)
    base["workload"]["arrivals"] = {"kind": "trace", "path": "arrivals.csv"}
    for where in ("one", "two"):
        (tmp_path / where).mkdir()
        (tmp_path / where / "arrivals.csv").write_text("arrival_s\n0.1\n0.2\n0.3\n")
    ids = [points_of(tmp_path / w, {}, base)[0].point_id for w in ("one", "two")]
    assert ids[0] == ids[1]
    (tmp_path / "two" / "arrivals.csv").write_text("arrival_s\n0.1\n0.2\n0.4\n")
    assert points_of(tmp_path / "two", {}, base)[0].point_id != ids[0]


def test_point_scenario_file_runs_anywhere_and_keeps_its_identity(tmp_path):
    """scenario.yaml, loaded from another directory, is the same scenario (same id)."""
    base = copy.deepcopy(BASE_SCENARIO)
    base["workload"]["arrivals"] = {"kind": "trace", "path": "arrivals.csv"}
    (tmp_path / "arrivals.csv").write_text("arrival_s\n0.1\n0.2\n0.3\n")
    points = points_of(tmp_path, {"axes": [{"grid": {"fleet.0.count": [1, 3]}}]}, base)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for point in points:
        again = parse_scenario(point.text, base_dir=elsewhere)
        assert scenario_id(again) == point.point_id


@pytest.mark.parametrize(
    ("axes", "expected"),
    [
        ([{"grid": {"fleet.3.count": [1]}}],
         "point 1 of 1 (axis 1 grid: fleet.3.count=1): fleet.3.count: fleet has 1 entry, so "
         "no index 3"),
        ([{"grid": {"fleet.0.count": [2, 0]}}],
         "point 2 of 2 (axis 1 grid: fleet.0.count=0): fleet[0].count:"),
        ([{"grid": {"fleet.0.bathcing.max_batch": [2]}}],
         "fleet[0].bathcing: unknown key 'bathcing'"),
        ([{"grid": {"seed.x": [2]}}],
         "seed.x: seed is 7, not a mapping or a list"),
        ([{"grid": {"fleet.x.count": [2]}}],
         "fleet is a list: expected an index (0, 1, ...), got 'x'"),
        ([{"grid": {"fleet..count": [2]}}], "no empty parts"),
    ],
)  # fmt: skip
def test_a_bad_point_names_the_axis_the_point_and_the_field(tmp_path, axes, expected):
    """A bad path or value is one error naming where it was set and what is wrong."""
    with pytest.raises(ScenarioError) as caught:
        points_of(tmp_path, {"axes": axes})
    assert expected in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / "sweep.yaml"))


@pytest.mark.parametrize(
    ("sweep", "expected"),
    [
        ({"axes": [{"zip": {"a": [1, 2], "b": [1]}}]}, "zip lists must have one length"),
        ({"axes": [{"grid": {"a": []}}]}, "expected a non-empty list"),
        ({"axes": [{"grids": {"a": [1]}}]}, "unknown key 'grids' (did you mean 'grid'?)"),
        ({"axes": [{"random": {"n": 2, "seed": 1, "ranges": {"a": [1]}}}]},
         "a: expected [low, high], got [1]"),
        ({"axes": [{"grid": {"a": [1]}, "zip": {"b": [1]}}]},
         "exactly one of grid, zip or random; got grid, zip"),
        ({"axes": [{"random": {"n": 2, "seed": 1, "ranges": {"a": [5, 1]}}}]},
         "must not exceed high"),
        ({"replications": 0}, "replications"),
        ({"trace": "some"}, "trace"),
        ({"name": "../x"}, "name"),
        ({"axes": [{"grid": {f"fleet.0.count{i}": list(range(10)) for i in range(6)}}]},
         "more than 100,000 points"),
    ],
)  # fmt: skip
def test_a_bad_sweep_file_is_refused_with_its_field(tmp_path, sweep, expected):
    """Bad axes and settings are refused before any point is built."""
    with pytest.raises(ScenarioError) as caught:
        points_of(tmp_path, sweep)
    assert expected in str(caught.value)


def test_an_invalid_base_is_reported_at_its_own_line(tmp_path):
    """A problem in the base scenario is reported in the base file, at its line."""
    base = copy.deepcopy(BASE_SCENARIO)
    base["fleet"][0]["count"] = -1
    with pytest.raises(ScenarioError) as caught:
        points_of(tmp_path, {}, base)
    assert f"{tmp_path / 'base.yaml'}:" in str(caught.value)
    assert "fleet[0].count" in str(caught.value)


def test_duplicate_keys_in_a_sweep_file_are_refused(tmp_path):
    """A key written twice would silently lose one setting: refused at its line."""
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE_SCENARIO))
    path = tmp_path / "sweep.yaml"
    path.write_text("name: s\nbase: base.yaml\nreplications: 2\nreplications: 3\n")
    with pytest.raises(ScenarioError, match=r"sweep.yaml:4: replications: key appears twice"):
        load_sweep_spec(path)
