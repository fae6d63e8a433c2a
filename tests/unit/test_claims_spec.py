"""The claims file (sim.claims.spec): the shipped one validates; bad ones fail at file:line."""

from __future__ import annotations

import shutil

import pytest
from helpers import ROOT

from sim.claims.spec import load_claims
from sim.scenario.errors import ScenarioError

CLAIMS = ROOT / "scenarios" / "claims" / "claims.yaml"


def test_the_shipped_claims_file_validates_with_every_scenario():
    """Seven claims, every scenario named validates, and each cites its claim in its header."""
    claims, scenarios = load_claims(CLAIMS)
    assert [c.id for c in claims.claims] == [
        "bert-large-inf1", "inferentia-cost", "alexa", "airbnb", "snap", "amazon-search",
        "inferentia3-efficiency",
    ]  # fmt: skip
    assert {c.kind for c in claims.claims} == {
        "headline", "cost_saving", "latency_reduction", "capacity", "efficiency",
    }  # fmt: skip
    for name in scenarios:
        text = (CLAIMS.parent / name).read_text()
        assert text.startswith("# Claim "), name
        assert "Public claim" in text and "Assumptions" in text, name
    assert all(c.sensitivity is not None for c in claims.claims)


def _copy(tmp_path):
    """The shipped claims and scenarios in a scratch directory, to break on purpose."""
    target = tmp_path / "claims"
    shutil.copytree(CLAIMS.parent, target)
    return target / "claims.yaml"


def _break(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _line_of(path, needle):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("    claimed: 0.40\n", "    claimed: 1.40\n", "claims[1].claimed", "got 1.4"),
        ("      instances: [g4dn.xlarge, g5.xlarge, g6.xlarge]\n      max_batches: [4, 8, 16]",
         "      instances: [g4dn.xlarge, g5.xlarge, g6.xlargee]\n      max_batches: [4, 8, 16]",
         "claims[1].comparison", "g6.xlargee"),
        ("    kind: capacity\n", "    kind: capacity\n    colour: red\n", "claims[4].colour",
         "unknown key"),
        ("    kind: efficiency\n", "    kind: efficency\n", "claims[6].kind", "efficency"),
        ("  - id: alexa\n", "  - id: Alexa!\n", "claims[2].id", "got 'Alexa!'"),
    ],
)  # fmt: skip
def test_a_bad_field_is_named_with_its_line(tmp_path, old, new, field, message):
    """Each problem reads file:line: field: message, like the scenario loader's."""
    path = _copy(tmp_path)
    _break(path, old, new)
    with pytest.raises(ScenarioError) as raised:
        load_claims(path)
    text = str(raised.value)
    assert f"{path}:" in text and field in text and message in text, text
    line = _line_of(path, new.strip().splitlines()[-1].strip())
    assert any(p[2] is not None and abs(p[2] - line) <= 2 for p in raised.value.problems), text


def test_repeated_ids_are_refused(tmp_path):
    """Claim ids name output directories: they must be unique."""
    path = _copy(tmp_path)
    _break(path, "  - id: airbnb\n", "  - id: alexa\n")
    with pytest.raises(ScenarioError, match="repeated: alexa"):
        load_claims(path)


def test_sides_that_differ_in_load_are_refused(tmp_path):
    """Both sides of a claim must run the same offered load, mix, SLO and run length."""
    path = _copy(tmp_path)
    _break(path.parent / "search_gpu.yaml", "    rate: 20000\n", "    rate: 19000\n")
    with pytest.raises(ScenarioError) as raised:
        load_claims(path)
    assert "claims[5].comparison.scenario" in str(raised.value)
    assert "differ in workload" in str(raised.value)


def test_a_bad_scenario_is_reported_under_its_claim(tmp_path):
    """A scenario that does not validate is named, with the claim that uses it."""
    path = _copy(tmp_path)
    _break(path.parent / "snap_inf2.yaml", "    count: 1\n", "    count: 0\n")
    with pytest.raises(ScenarioError) as raised:
        load_claims(path)
    text = str(raised.value)
    assert "claims[4].inferentia.scenario" in text and "snap_inf2.yaml" in text, text


def test_a_sensitivity_must_change_something(tmp_path):
    """A sensitivity with neither set: nor watts: is refused."""
    path = _copy(tmp_path)
    _break(path, "      set: {fleet.0.stack: eager}\n", "      set: {}\n")
    with pytest.raises(ScenarioError, match="sets scenario fields"):
        load_claims(path)
