"""Property tests of the scenario loader: round trips, and only ScenarioErrors for bad input."""

from __future__ import annotations

import copy

import yaml
from helpers import BASE_SCENARIO as BASE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.scenario.errors import ScenarioError
from sim.scenario.loading import parse_scenario
from sim.scenario.schema import Scenario

durations = st.sampled_from(["1ms", "250us", "2s", "5m", "0.5s", 0, "1h"])


@st.composite
def valid_scenarios(draw):
    data = copy.deepcopy(BASE)
    data["seed"] = draw(st.integers(0, 2**62))
    data["duration"] = draw(st.sampled_from(["2s", "1m", "1h"]))
    data["warmup"] = draw(st.sampled_from(["0s", "100ms", "1s"]))
    data["workload"]["arrivals"] = draw(
        st.one_of(
            st.builds(lambda r: {"kind": "poisson", "rate": r}, st.floats(0.1, 1e6)),
            st.builds(
                lambda m, p, ph: {
                    "kind": "diurnal",
                    "mean_rate": m,
                    "peak_to_mean": p,
                    "period": "24h",
                    "phase": ph,
                },
                st.floats(0.1, 1e5),
                st.floats(1, 2),
                durations,
            ),
        )
    )
    data["workload"]["mix"][0]["seq_len"] = draw(
        st.one_of(
            st.integers(1, 512),
            st.builds(
                lambda lo, span: {"kind": "uniform", "low": lo, "high": lo + span},
                st.integers(1, 256),
                st.integers(0, 256),
            ),
            st.builds(
                lambda v: {"kind": "choice", "values": v},
                st.lists(st.integers(1, 512), min_size=1, max_size=4),
            ),
        )
    )
    pool = data["fleet"][0]
    pool["instance"] = draw(
        st.sampled_from(["inf1.xlarge", "inf2.xlarge", "inf2.48xlarge", "inf3.xlarge"])
    )
    pool["count"] = draw(st.integers(1, 100))
    pool["batching"] = {"max_batch": draw(st.integers(1, 32)), "max_wait": draw(durations)}
    data["balancer"] = draw(
        st.sampled_from(
            ["round_robin", "random", "least_outstanding", "power_of_two", "join_shortest_queue"]
        )
    )
    return data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_scenarios())
def test_valid_scenarios_round_trip(data):
    """Dumping a validated scenario and loading it again gives the same frozen value."""
    scenario = parse_scenario(yaml.safe_dump(data))
    again = parse_scenario(yaml.safe_dump(scenario.model_dump(mode="json")))
    assert again == scenario
    assert isinstance(again, Scenario)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


PATHS = [p for p in _paths(BASE) if p]
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATHS), JUNK, st.booleans())
def test_mutated_scenarios_raise_only_scenario_errors(path, junk, delete):
    """Any one field replaced by junk (or deleted) is accepted or a ScenarioError, nothing else."""
    data = copy.deepcopy(BASE)
    node = data
    for key in path[:-1]:
        node = node[key]
    if delete and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = junk
    try:
        parse_scenario(yaml.safe_dump(data), source="fuzz.yaml")
    except ScenarioError as exc:
        assert str(exc).startswith("fuzz.yaml")
        assert "Traceback" not in str(exc)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_scenario_errors(text):
    """Arbitrary text is never a crash: valid scenario or ScenarioError."""
    try:
        parse_scenario(text)
    except ScenarioError:
        pass
