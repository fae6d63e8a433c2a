"""Scenario problems read as exact sentences: the kinds of mistake the CLI error tests do
not spell out, the rendering of several problems, and overrides checked again."""

from __future__ import annotations

import pytest
from helpers import BASE_SCENARIO, problems_after, scenario

from hardware import zoo
from sim.scenario.errors import ScenarioError, format_path
from sim.scenario.loading import parse_scenario, with_overrides


def problems(change) -> list[tuple[str, str]]:
    """The (field, message) problems of BASE_SCENARIO after ``change(data)``."""
    return problems_after(BASE_SCENARIO, change)


def put(*path, value):
    def change(data):
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    "change,field,message",
    [
        (put("workload", "arrivals", "rate", value=float("inf")), "workload.arrivals.rate",
         "must be a finite number, got inf"),
        (put("models", value=[1]), "models", "expected a mapping of keys, got [1]"),
        (put("zzzzzz", value=1), "zzzzzz",
         "unknown key 'zzzzzz'; allowed keys: name, seed, duration, warmup, workload, models, "
         "fleet, balancer, slo, events, pipelines, clients, description"),
        (put("seed", value="x" * 78), "seed", "expected a whole number, got '" + "x" * 78 + "'"),
        (put("seed", value="x" * 79), "seed", "expected a whole number, got '" + "x" * 76
         + "..."),
        (put("fleet", 0, "cores_per_replica", value=0), "fleet[0].cores_per_replica",
         "must be >= 1 or 'auto', got 0"),
        (put("fleet", 0, "cores_per_replica", value="a, got b"), "fleet[0].cores_per_replica",
         "expected a whole number or 'auto', got 'a, got b'"),
    ],
    ids=["inf", "models-list", "unknown-key", "80-chars", "81-chars", "or-auto",
         "got-in-value"],
)  # fmt: skip
def test_each_problem_reads_as_one_exact_sentence(change, field, message):
    """The field path and the whole sentence, value included (cut at 80 characters)."""
    assert problems(change) == [(field, message)]


def test_an_unknown_model_lists_the_known_ones():
    """An unknown model gets a did-you-mean, every known model, and the two ways out."""
    known = ", ".join(sorted(zoo.model_names()))
    assert problems(put("fleet", 0, "model", value="bert-bas")) == [
        ("fleet[0].model",
         f"unknown model 'bert-bas' (did you mean 'bert-base'?); known models: {known} (or "
         "define one under 'models:', or give every pool serving it a synthetic 'service')"),
        ("workload.mix[0].model", "no pool serves model 'bert-base'; pools serve: bert-bas"),
    ]  # fmt: skip


def test_several_problems_render_one_per_line_with_source_and_line():
    """One line per problem: ``source:line: field: message``; ``scenario`` without a source,
    no line number where none is known; an empty path is the whole scenario."""
    error = ScenarioError([("a", "first", 3), ("b", "second", None)])
    assert str(error) == "scenario:3: a: first\nscenario: b: second"
    assert ScenarioError.single("a", "m", 2, "f.yaml").render() == "f.yaml:2: a: m"
    assert format_path(()) == "<scenario>"
    assert format_path(("fleet", 0, "batching", "max_batch")) == "fleet[0].batching.max_batch"
    with pytest.raises(ScenarioError) as parsed:
        parse_scenario("[1, 2]")
    assert str(parsed.value) == "scenario:1: <scenario>: expected a mapping of keys (name, " \
        "seed, workload, fleet, ...), got [1, 2]"  # fmt: skip


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"duration_s": 0.1}, "warmup", "warmup (0.2 s) must be shorter than duration (0.1 s)"),
        ({"seed": -1}, "seed", "must be >= 0, got -1"),
        ({"duration_s": 0.0}, "duration", "must be > 0, got '0.0s'"),
    ],
)
def test_overrides_are_checked_again_and_reported_under_their_source(overrides, field, message):
    """A new duration or seed is validated like the file was; problems name the field and
    the source given (``run`` by default), without a line."""
    base = scenario(BASE_SCENARIO)
    with pytest.raises(ScenarioError) as error:
        with_overrides(base, **overrides)
    assert error.value.problems == [(field, message, None)]
    assert error.value.source == "run"
    assert str(error.value) == f"run: {field}: {message}"
    with pytest.raises(ScenarioError) as named:
        with_overrides(base, **overrides, source="--duration")
    assert str(named.value) == f"--duration: {field}: {message}"


def test_overrides_change_only_what_is_given():
    """Duration and seed change; everything else is the validated scenario as it was."""
    base = scenario(BASE_SCENARIO)
    changed = with_overrides(base, duration_s=5.0, seed=3)
    assert (changed.duration, changed.seed) == (5.0, 3)
    assert changed.model_dump() == {**base.model_dump(), "duration": "5.0s", "seed": 3}
    assert with_overrides(base) == base
