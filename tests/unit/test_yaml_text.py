"""Scenario YAML at its edges: YAML 1.2 integers, anchors that contain themselves, the cap
on what aliases expand to (exactly at the limit and one over), and the line of every key,
including keys written as ``~``, ``true`` or ``1.5`` and content reached through aliases."""

from __future__ import annotations

import copy

import pytest
import yaml
from helpers import BASE_SCENARIO

from sim.scenario.errors import ScenarioError
from sim.scenario.loading import parse_scenario, scenario_data
from sim.scenario.yaml_text import MAX_DOCUMENT_BYTES, MAX_EXPANDED_NODES


def problems(text: str) -> list[tuple[str, str, int | None]]:
    with pytest.raises(ScenarioError) as error:
        scenario_data(text)
    return error.value.problems


def test_integers_follow_yaml_1_2():
    """Hex and octal by prefix; a leading zero is still decimal; 1_000 is text."""
    data, _ = scenario_data("a: 0x1F\nb: 0o17\nc: 010\nd: 1_000\ne: -7\n")
    assert data == {"a": 31, "b": 15, "c": 10, "d": "1_000", "e": -7}


def test_an_anchor_inside_itself_is_refused_at_its_line():
    """``&x`` ... ``*x`` within the anchored node: refused at the anchor's line."""
    assert problems("name: x\nfleet: &x\n  - 1\n  - *x\n") == [
        ("<yaml>", "a YAML anchor refers to itself (&name ... *name inside it)", 2)
    ]


def aliased(values: int) -> str:
    """A document of exactly ``values`` nodes once its aliases are expanded."""
    n, m = 999, 198  # x-b repeats x-a (1 + 999 nodes) 198 times
    k = values - (1 + (2 + n) + (2 + m * (1 + n)) + 2)
    return (
        f"x-a: &a [{', '.join(['0'] * n)}]\n"
        f"x-b: [{', '.join(['*a'] * m)}]\n"
        f"x-c: [{', '.join(['0'] * k)}]\n"
    )


def test_aliases_may_expand_to_the_limit_and_not_one_value_more():
    """The cap counts every value aliases repeat: 200,000 is accepted, 200,001 refused."""
    assert scenario_data(aliased(MAX_EXPANDED_NODES))[0] == {}
    assert problems(aliased(MAX_EXPANDED_NODES + 1)) == [
        ("<yaml>",
         "this document holds more than 200,000 values, counting what YAML aliases repeat; a "
         "scenario holds a few hundred", None)
    ]  # fmt: skip


def test_a_duplicate_key_inside_an_anchor_is_reported_once():
    """Content reached through aliases is not walked again: one problem, at the anchor."""
    assert problems("x-m: &m {a: 1, a: 2}\nb: *m\nc: *m\n") == [
        ("x-m.a", "key appears twice in one mapping", 1)
    ]


def test_merge_keys_may_repeat():
    """``<<`` twice in one mapping merges both; it is not a duplicate key."""
    data, _ = scenario_data("x-a: &a {p: 1}\nx-b: &b {q: 2}\nc:\n  <<: *a\n  <<: *b\n")
    assert data == {"c": {"p": 1, "q": 2}}


@pytest.mark.parametrize("key,shown", [("~", "None"), ("true", "True"), ("1.5", "1.5")])
def test_keys_that_load_as_values_keep_their_line(key, shown):
    """An unknown key written ``~``, ``true`` or ``1.5`` is reported at its own line."""
    text = yaml.safe_dump(BASE_SCENARIO, sort_keys=False) + f"{key}: 1\n"
    line = text.count("\n")
    with pytest.raises(ScenarioError) as error:
        parse_scenario(text)
    ((field, message, where),) = error.value.problems
    assert (field, where) == (shown, line)
    assert message.startswith("unknown key ")


def test_a_list_item_problem_is_reported_at_the_item():
    """A mix entry that is not a mapping is reported at its own line."""
    data = copy.deepcopy(BASE_SCENARIO)
    data["workload"]["mix"] = [{"model": "bert-base"}, 7]
    text = yaml.safe_dump(data, sort_keys=False)
    line = text.splitlines().index("  - 7") + 1
    with pytest.raises(ScenarioError) as error:
        parse_scenario(text)
    assert error.value.problems == [("workload.mix[1]", "expected a mapping of keys, got 7", line)]


@pytest.mark.parametrize(
    "text,message,line",
    [
        ("a: [1, 2\n", "malformed YAML: did not find expected ',' or ']'", 2),
        ("a: 1\n  b: 2\n", "malformed YAML: mapping values are not allowed in this context", 2),
        ("a: 1\nb: 2\nc: \x07\n", "malformed YAML: the character '\\x07' is not allowed in YAML "
         "text", 3),
        ("\na: 1\nc: \x07\n", "malformed YAML: the character '\\x07' is not allowed in YAML "
         "text", 3),
        ("a: " + "[" * 600 + "]" * 600, "the YAML document is nested too deeply", None),
        ("x-a: &x [*x]\n", "a YAML anchor refers to itself (&name ... *name inside it)", 1),
    ],
    ids=["unclosed", "indent", "control-character", "after-a-blank-line", "deep", "self-anchor"],
)  # fmt: skip
def test_malformed_yaml_is_one_problem_at_its_line_in_its_file(text, message, line):
    """The parser's own reason, on one line, with the line and the file it is in."""
    with pytest.raises(ScenarioError) as error:
        scenario_data(text, "f.yaml")
    assert error.value.problems == [("<yaml>", message, line)]
    assert error.value.source == "f.yaml"


def test_a_document_of_exactly_the_cap_is_read_and_one_more_character_is_not():
    """The size cap is inclusive; over it, the message says what to do instead."""
    cap = MAX_DOCUMENT_BYTES
    assert scenario_data("a: 1\n" + "#" * (cap - 5))[0] == {"a": 1}
    with pytest.raises(ScenarioError) as error:
        scenario_data("a: 1\n" + "#" * (cap - 4), "f.yaml")
    assert error.value.problems == [(
        "<file>",
        "the document has 4,194,305 characters; a scenario is a few kilobytes (at most "
        "4,194,304): put request data in a trace file (arrivals: {kind: trace, path: ...})",
        None,
    )]  # fmt: skip
    assert error.value.source == "f.yaml"


def test_a_document_that_is_not_a_mapping_is_refused_at_line_one_of_its_file():
    """A list at the top is not a scenario."""
    with pytest.raises(ScenarioError) as error:
        scenario_data("- 1\n", "f.yaml")
    assert str(error.value) == (
        "f.yaml:1: <scenario>: expected a mapping of keys (name, seed, workload, fleet, ...), "
        "got [1]"
    )
