"""Bad scenario files: one clear message naming field path and value, exit code 2, no output."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from helpers import BASE_SCENARIO as BASE
from typer.testing import CliRunner

from sim.cli.commands import app
from sim.scenario.errors import ScenarioError
from sim.scenario.loading import parse_scenario


def mutate(path, value=None, delete=False):
    data = copy.deepcopy(BASE)
    node = data
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return yaml.safe_dump(data, sort_keys=False)


# (id, yaml text, fragments that must all appear in the message)
CASES = [
    ("malformed-yaml", "name: x\nseed: [1, 2\nfleet: {", ["malformed YAML", ":3"]),
    ("duplicate-key", "name: a\nseed: 1\nseed: 2\n", ["bad.yaml:3: seed", "appears twice"]),
    ("not-a-mapping", "- just\n- a list\n", ["expected a mapping"]),
    (
        "unknown-key",
        mutate(["fleet", 0, "max_batchsize"], 8),
        ["fleet[0].max_batchsize", "unknown key 'max_batchsize'", "allowed keys"],
    ),
    (
        "unknown-top-key-did-you-mean",
        mutate(["balancr"], "random"),
        ["balancr", "did you mean 'balancer'"],
    ),
    ("missing-seed", mutate(["seed"], delete=True), ["seed", "required key is missing"]),
    ("wrong-type-count", mutate(["fleet", 0, "count"], "three"), ["fleet[0].count", "'three'"]),
    (
        "zero-rate",
        mutate(["workload", "arrivals", "rate"], 0),
        ["workload.arrivals.rate", "must be > 0", "0"],
    ),
    (
        "negative-rate",
        mutate(["workload", "arrivals", "rate"], -5),
        ["workload.arrivals.rate", "-5"],
    ),
    (
        "unknown-arrival-kind",
        mutate(["workload", "arrivals"], {"kind": "bursty", "rate": 3}),
        ["workload.arrivals", "'bursty'", "poisson", "diurnal"],
    ),
    (
        "unknown-instance",
        mutate(["fleet", 0, "instance"], "inf2.xlarg"),
        ["fleet[0].instance", "'inf2.xlarg'", "did you mean 'inf2.xlarge'"],
    ),
    (
        "unknown-model-did-you-mean",
        mutate(["fleet", 0, "model"], "bert-bsae"),
        ["fleet[0].model", "'bert-bsae'", "did you mean 'bert-base'"],
    ),
    (
        "mix-model-unknown",
        mutate(["workload", "mix", 0, "model"], "gpt-9"),
        ["workload.mix[0].model", "'gpt-9'"],
    ),
    (
        "max-batch-zero",
        mutate(["fleet", 0, "batching", "max_batch"], 0),
        ["fleet[0].batching.max_batch", "must be >= 1", "0"],
    ),
    ("warmup-not-shorter", mutate(["warmup"], "5s"), ["warmup", "shorter than duration"]),
    ("empty-fleet", mutate(["fleet"], []), ["fleet", "must not be empty"]),
    (
        "weights-zero",
        mutate(["workload", "mix", 0, "weight"], 0),
        ["workload.mix", "sum to a positive number"],
    ),
    ("bad-duration-unit", mutate(["duration"], "10 parsecs"), ["duration", "10 parsecs"]),
    ("bad-dtype", mutate(["fleet", 0, "dtype"], "fp64"), ["fleet[0].dtype", "'fp64'", "bf16"]),
    (
        "dtype-unsupported-on-chip",
        mutate(["fleet", 0], {**BASE["fleet"][0], "instance": "inf1.xlarge", "dtype": "fp8"}),
        ["fleet[0].dtype", "inf1.xlarge", "'fp8'"],
    ),
    (
        "model-does-not-fit",
        yaml.safe_dump(
            {
                **BASE,
                "models": {"giant": {"layers": 96, "hidden": 12288, "heads": 96, "ffn": 49152}},
                "workload": {**BASE["workload"], "mix": [{"model": "giant"}]},
                "fleet": [{**BASE["fleet"][0], "model": "giant"}],
            }
        ),
        ["fleet[0].model", "giant", "does not fit", "inf2.xlarge"],
    ),
    (
        "cores-per-replica-too-many",
        mutate(["fleet", 0, "cores_per_replica"], 3),
        ["fleet[0].cores_per_replica", "3", "inf2.xlarge"],
    ),
    (
        "mix-model-not-served",
        mutate(["workload", "mix", 0, "model"], "bert-large"),
        ["workload.mix[0].model", "no pool serves model 'bert-large'"],
    ),
    (
        "duplicate-pool-names",
        mutate(["fleet"], [BASE["fleet"][0], BASE["fleet"][0]]),
        ["fleet[1].name", "used twice"],
    ),
    (
        "balancer-kind",
        mutate(["balancer"], {"kind": "smart"}),
        ["balancer.kind", "'smart'", "round_robin"],
    ),
    ("slo-percentile-100", mutate(["slo", "percentile"], 100), ["slo.percentile", "100"]),
    (
        "seq-len-choice-weights-mismatch",
        mutate(
            ["workload", "mix", 0, "seq_len"],
            {"kind": "choice", "values": [64, 128], "weights": [1]},
        ),
        ["workload.mix[0].seq_len", "weights has 1 entries but values has 2"],
    ),
    (
        "seq-len-too-long",
        mutate(["workload", "mix", 0, "seq_len"], 4096),
        ["workload.mix[0].seq_len", "4096"],
    ),
    (
        "uniform-low-above-high",
        mutate(["workload", "mix", 0, "seq_len"], {"kind": "uniform", "low": 200, "high": 100}),
        ["workload.mix[0].seq_len", "low (200) must not exceed high (100)"],
    ),
    (
        "peak-to-mean-too-high",
        mutate(["workload", "arrivals"], {"kind": "diurnal", "mean_rate": 100, "peak_to_mean": 3}),
        ["workload.arrivals.peak_to_mean", "3"],
    ),
    ("bad-pool-name", mutate(["fleet", 0, "name"], "../evil"), ["fleet[0].name", "'../evil'"]),
    ("seed-negative", mutate(["seed"], -1), ["seed", "-1"]),
]


@pytest.mark.parametrize("text,fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_scenario_message(text, fragments):
    """parse_scenario raises one ScenarioError whose text names the field and the value."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="bad.yaml")
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert "Traceback" not in message


def test_at_least_fifteen_distinct_mistakes():
    """The issue asks for at least 15 distinct mistakes to be covered."""
    assert len({c[0] for c in CASES}) >= 15


def test_error_points_at_yaml_line():
    """The message carries the line of the offending key in the file."""
    text = mutate(["fleet", 0, "batching", "max_batch"], 0)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "max_batch" in s)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="bad.yaml")
    assert f"bad.yaml:{line}: fleet[0].batching.max_batch" in str(info.value)


@pytest.mark.parametrize("case", ["unknown-instance", "max-batch-zero", "malformed-yaml"])
def test_cli_rejects_with_exit_2_and_writes_nothing(tmp_path: Path, case: str):
    """validate and run exit 2, print no traceback, and leave no output directory."""
    text = dict((c[0], c[1]) for c in CASES)[case]
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    runner = CliRunner()
    for args in (["validate", str(bad)], ["run", str(bad), "--out", str(tmp_path / "out")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert "error:" in result.output
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_missing_file_is_a_clear_error(tmp_path: Path):
    """A path that does not exist is exit 2 with the path in the message."""
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml" in result.output


def test_base_scenario_is_valid():
    """The unmutated base scenario used above validates (so each case tests one mistake)."""
    scenario = parse_scenario(yaml.safe_dump(BASE))
    assert scenario.fleet[0].batching.max_wait == pytest.approx(0.001)
    assert scenario.duration == 2.0 and scenario.warmup == pytest.approx(0.2)


def broken(path, value=None, delete=False) -> str:
    """The base scenario with one value replaced (or deleted), as YAML."""
    return mutate(list(path), value, delete)


# Each kind of problem pydantic reports, with the exact sentence the user reads.
MESSAGES = [
    (broken(("seed",), delete=True), "seed", "required key is missing"),
    (broken(("duration",), "5"), "duration",
     "a duration needs a unit: write e.g. '5s' or '5ms' (got '5'; only 0 may be written "
     "without one)"),
    (broken(("workload", "mix", 0, "seq_len"), {"kind": "uniform", "low": 9, "high": 3}),
     "workload.mix[0].seq_len", "low (9) must not exceed high (3)"),
    (broken(("workload", "arrivals"), {"kind": "burst"}), "workload.arrivals.kind",
     "unknown kind 'burst'; allowed kinds: 'poisson', 'diurnal', 'gamma', 'mmpp', 'trace'"),
    (broken(("workload", "arrivals"), {"rate": 5}), "workload.arrivals",
     "'kind' is required here; allowed kinds: poisson, diurnal, gamma, mmpp, trace"),
    (broken(("fleet", 0, "service"), {"mean": "1ms"}), "fleet[0].service",
     "'kind' is required here; allowed kinds: exponential, deterministic, lognormal, "
     "empirical"),
    (broken(("workload", "arrivals"), [1]), "workload.arrivals",
     "expected a mapping with a 'kind' (poisson, diurnal, gamma, mmpp, trace), got [1]"),
    (broken(("workload", "mix", 0, "seq_len"), [1]), "workload.mix[0].seq_len",
     "expected a mapping with a 'kind' (fixed, choice, uniform), got [1]"),
    (broken(("slo",), [1]), "slo", "expected a mapping of keys, got [1]"),
    (broken(("workload", "arrivals", "rate"), -1), "workload.arrivals.rate",
     "must be > 0.0, got -1"),
    (broken(("fleet", 0, "count"), 0), "fleet[0].count", "must be >= 1, got 0"),
    (broken(("slo", "percentile"), 100), "slo.percentile", "must be < 100.0, got 100"),
    (broken(("fleet", 0, "count"), 2_000_000), "fleet[0].count",
     "must be <= 1000000, got 2000000"),
    (broken(("fleet", 0, "dtype"), "fp3"), "fleet[0].dtype",
     "got 'fp3'; allowed: 'auto', 'fp32', 'bf16', 'fp16', 'int8', 'fp8' or 'fp4'"),
    (broken(("name",), "a b"), "name",
     "got 'a b'; use letters, digits, '_', '-' and '.', starting with a letter or digit"),
    (broken(("fleet",), []), "fleet", "must not be empty, got []"),
    (broken(("seed",), "x"), "seed", "expected a whole number, got 'x'"),
    (broken(("seed",), 1.5), "seed", "expected a whole number, got 1.5"),
    (broken(("workload", "arrivals", "rate"), "fast"), "workload.arrivals.rate",
     "expected a number, got 'fast'"),
    (broken(("workload", "arrivals", "rate"), True), "workload.arrivals.rate",
     "expected a number, got True"),
    (broken(("name",), 5), "name", "expected text, got 5"),
    (broken(("fleet",), {"a": 1}), "fleet",
     "expected a list (- item lines or [a, b]), got {'a': 1}"),
    (broken(("name",), "x" * 200), "name",
     "must have at most 100 characters, got '" + "x" * 76 + "..."),
    (broken(("fleet", 0, "cores_per_replica"), 0), "fleet[0].cores_per_replica",
     "must be >= 1 or 'auto', got 0"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "field", "message"), MESSAGES)
def test_each_kind_of_problem_reads_as_one_exact_sentence(text, field, message):
    """Every kind of problem pydantic reports becomes one sentence with the value as the
    user wrote it, at the field's line."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="bad.yaml")
    ((path, got, line),) = info.value.problems
    assert (path, got) == (field, message)
    key = str(field.rsplit(".", 1)[-1]).split("[")[0]
    assert line is not None and (key in text.splitlines()[line - 1] or field == "seed")
