"""Property tests of the scenario loader, from valid scenarios mutated one field at a time.

Every input starts as a valid scenario (``helpers.scenario_dicts``: every arrival kind,
1-3 pools, synthetic and hardware service, every balancer), so it reaches the schema;
one field is then replaced, deleted or renamed. The loader must accept it (and round-trip
it) or raise a ScenarioError that names the field - never anything else.
"""

from __future__ import annotations

import copy

import yaml
from helpers import scenario_dicts
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim.scenario.errors import ScenarioError
from sim.scenario.loading import parse_scenario
from sim.scenario.schema import Scenario


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts())
def test_valid_scenarios_round_trip(generated):
    """Dumping a validated scenario and loading it again gives the same frozen value."""
    data, _ = generated
    scenario = parse_scenario(yaml.safe_dump(data))
    again = parse_scenario(yaml.safe_dump(scenario.model_dump(mode="json")))
    assert again == scenario and isinstance(again, Scenario)


def paths(node, prefix=()):
    """Every path into a nested dict/list, leaves and inner nodes."""
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths(value, (*prefix, i))


NEAR_MISSES = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(
        [
            0,
            -1,
            1,
            2**63,
            1e309,
            -0.5,
            0.5,
            "",
            "5",
            "5ms",
            "-1ms",
            "2 parsecs",
            "1e5",
            "nan",
            "inf",
            "round_robin",
            "bert-base",
            "inf9.huge",
            "fp3",
            [],
            {},
            [1, 2],
            {"kind": "nope"},
        ]
    ),  # fmt: skip
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)


def mutate(data: dict, path: tuple, how: str, value) -> dict:
    """A copy of ``data`` with the node at ``path`` replaced, deleted or its key misspelt."""
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        node = node[key]
    last = path[-1]
    if how == "delete" and isinstance(node, dict):
        del node[last]
    elif how == "rename" and isinstance(node, dict):
        node[f"{last}x"] = node.pop(last)
    else:
        node[last] = value
    return data


def named(message: str, path: tuple) -> bool:
    """Whether an error message names the mutated field (its key, or its list's key)."""
    keys = [str(k) for k in path if isinstance(k, str)]
    return any(key in message for key in keys[-2:])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_dicts(), st.data())
def test_one_mutated_field_is_accepted_or_named_in_a_scenario_error(generated, draw):
    """Replace, delete or misspell one field of a valid scenario: the loader accepts it (and
    it round-trips) or raises a ScenarioError naming that field, with file and line."""
    data, _ = generated
    path = draw.draw(st.sampled_from(list(paths(data))))
    how = draw.draw(st.sampled_from(["replace", "replace", "replace", "delete", "rename"]))
    value = draw.draw(NEAR_MISSES)
    text = yaml.safe_dump(mutate(data, path, how, value))
    try:
        scenario = parse_scenario(text, source="fuzz.yaml")
    except ScenarioError as exc:
        message = str(exc)
        event("rejected")
        assert message.startswith("fuzz.yaml")
        assert "Traceback" not in message
        assert named(message, path), (path, how, value, message)
        return
    event("accepted")
    assert parse_scenario(yaml.safe_dump(scenario.model_dump(mode="json"))) == scenario


def test_mutations_reach_the_schema():
    """The mutation test exercises the schema: of 200 seeded mutations, every document is a
    mapping and most are rejected by a field-level check (not by YAML parsing)."""
    import numpy as np

    rng = np.random.default_rng(11)
    base = _sample_valid()
    all_paths = list(paths(base))
    rejected = 0
    for _ in range(200):
        path = all_paths[int(rng.integers(len(all_paths)))]
        text = yaml.safe_dump(mutate(base, path, "replace", [None, -1, "2 parsecs"][
            int(rng.integers(3))]))  # fmt: skip
        assert isinstance(yaml.safe_load(text), dict)
        try:
            parse_scenario(text, source="fuzz.yaml")
        except ScenarioError as exc:
            rejected += named(str(exc), path)
    assert rejected > 150


def _sample_valid() -> dict:
    """One fixed valid scenario with two pools, synthetic and hardware service."""
    return {
        "name": "sample",
        "seed": 3,
        "duration": "2s",
        "warmup": "100ms",
        "workload": {
            "arrivals": {"kind": "mmpp", "rates": [100, 900], "mean_sojourn": ["1s", "200ms"]},
            "mix": [
                {
                    "model": "bert-base",
                    "weight": 2,
                    "seq_len": {"kind": "choice", "values": [64, 128]},
                }
            ],  # fmt: skip
        },
        "fleet": [
            {
                "name": "hw",
                "instance": "inf2.xlarge",
                "count": 2,
                "model": "bert-base",
                "batching": {"max_batch": 4, "max_wait": "1ms"},
                "queue_limit": 50,
            },
            {
                "name": "syn",
                "instance": "inf1.xlarge",
                "count": 1,
                "model": "bert-base",
                "service": {"kind": "lognormal", "mean": "2ms", "cv": 0.5},
            },
        ],  # fmt: skip
        "balancer": "join_shortest_queue",
        "slo": {"percentile": 99, "target": "20ms"},
    }


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_scenario_errors(text):
    """Arbitrary text is never a crash: valid scenario or ScenarioError."""
    try:
        parse_scenario(text)
    except ScenarioError:
        pass
