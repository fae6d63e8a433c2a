"""fleetsim plan: the search finds the smallest count, the bound is a bound, and the plan
written says which candidate is cheapest, with projected hardware flagged."""

from __future__ import annotations

import copy
import math

import pandas as pd
import pytest
import yaml
from helpers import BASE_SCENARIO
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sim.cli.commands import app
from sim.planning.bounds import lower_bound_count, unloaded_latency_s
from sim.planning.candidates import Candidate
from sim.planning.planner import run_plan
from sim.planning.search import CandidateResult, Evaluation
from sim.scenario.loading import parse_scenario


def drive(result: CandidateResult, needed: int, slots: int) -> list[list[int]]:
    """Run the search against a pool that meets the SLO from ``needed`` instances on."""
    rounds = []
    while counts := result.next_counts(slots):
        rounds.append(counts)
        for count in counts:
            assert count not in result.evaluations, "a count was tried twice"
            result.evaluations[count] = Evaluation(
                count, f"p{count}", [1.0 / count], count >= needed, 0.5, 1.0, 1.0, 1
            )
    return rounds


def fresh(lower_bound: int, max_count: int) -> CandidateResult:
    result = CandidateResult(Candidate("inf2.xlarge", "bf16", "auto", None), max_count=max_count)
    result.lower_bound = lower_bound
    result._assumed_below = min(lower_bound, max_count) - 1
    return result


@settings(max_examples=300, deadline=None)
@given(
    needed=st.integers(1, 400),
    bound=st.integers(1, 400),
    slots=st.integers(1, 8),
    max_count=st.integers(1, 500),
)
def test_the_search_finds_the_smallest_count_and_shows_one_fewer_misses(
    needed, bound, slots, max_count
):
    """Against any threshold, bound (right or wrong) and parallelism: the answer is the
    threshold, one fewer was simulated and missed, or None when beyond max_count."""
    result = fresh(bound, max_count)
    rounds = drive(result, needed, slots)
    assert all(len(r) <= slots for r in rounds)
    if needed > max_count:
        assert result.answer is None
        assert max_count in result.evaluations
    else:
        assert result.answer == needed
        assert needed == 1 or not result.evaluations[needed - 1].met
    tried = len(result.evaluations)
    assert tried <= 2 * (math.log2(max_count) + 2) * slots + 4 * math.log(max_count + 1) + 8


def test_parallel_rounds_take_fewer_rounds():
    """More slots, fewer rounds: the counts of a round are spread over the interval."""
    serial = len(drive(fresh(10, 1000), 87, 1))
    parallel = len(drive(fresh(10, 1000), 87, 6))
    assert parallel < serial


DETERMINISTIC = copy.deepcopy(BASE_SCENARIO)
DETERMINISTIC["fleet"][0] |= {
    "service": {"kind": "deterministic", "base": "4ms"},
    "batching": {"max_batch": 1, "max_wait": "0ms"},
}
DETERMINISTIC["workload"]["arrivals"]["rate"] = 3000


def test_the_lower_bound_is_the_utilisation_bound():
    """rate x work per request / replicas, rounded up past: 3000/s x 4 ms / 2 = 6 -> 7."""
    scenario = parse_scenario(yaml.safe_dump(DETERMINISTIC))
    count, reason = lower_bound_count(scenario, "bert")
    assert count == 7 and "6.00 instances" in reason


def test_a_pipeline_stage_pool_is_bounded_by_the_requests_reaching_it():
    """A pool serving a pipeline's second stage gets every pipeline request: 3000/s x 4 ms
    / 2 replicas = 6 -> 7, as if asked for directly; its idle floor is its own stage's."""
    data = copy.deepcopy(DETERMINISTIC)
    data["fleet"].append({**data["fleet"][0], "name": "first", "model": "distilbert-base"})
    data["pipelines"] = [
        {"name": "chain", "stages": [{"model": "distilbert-base"}, {"model": "bert-base"}]}
    ]
    data["workload"]["mix"] = [{**data["workload"]["mix"][0], "model": "chain"}]
    scenario = parse_scenario(yaml.safe_dump(data))
    count, reason = lower_bound_count(scenario, "bert")
    assert count == 7 and "6.00 instances" in reason
    assert lower_bound_count(scenario, "first")[0] == 7


def test_the_idle_latency_floor_is_batch_one_after_the_wait():
    """An idle pool: max_wait, then the host stage and one batch of one at its padded shape
    (the default Neuron shapes pad it to the compiled max_batch)."""
    import hardware
    from hardware.models.zoo import model_spec
    from hardware.timing.host import host_parameters

    scenario = parse_scenario(yaml.safe_dump(BASE_SCENARIO))
    compiled_batch = scenario.fleet[0].batching.max_batch
    host = host_parameters()
    host_s = (host.request_overhead_s + host.tokenise_fixed_s + host.tokenise_per_token_s * 128) / (
        4 / 2  # inf2.xlarge: 4 vCPUs shared by 2 replicas
    )
    expected = 0.001 + host_s + float(
        hardware.service_time(model_spec("bert-base"), "inf2.xlarge", compiled_batch, 128,
                              "bf16", 1)
    )  # fmt: skip
    assert unloaded_latency_s(scenario, "bert") == pytest.approx(expected, rel=1e-12)


PLANNED = copy.deepcopy(BASE_SCENARIO)
PLANNED["workload"]["arrivals"]["rate"] = 3000
PLANNED["duration"] = "3s"
PLANNED["slo"] = {"percentile": 99, "target": "40ms"}


def test_a_plan_sizes_inferentia_and_a_gpu_and_one_fewer_misses(tmp_path):
    """Each candidate's count meets the SLO in every replication; one fewer does not; the
    plan is sorted by cost per million and written as parquet, markdown and PNG."""
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(PLANNED))
    plan = run_plan(path, ["inf2.xlarge", "g5.xlarge", "inf3.xlarge"], replications=2,
                    out=tmp_path / "plan", serial=True, plot=True)  # fmt: skip
    df = pd.read_parquet(tmp_path / "plan" / "plan.parquet")
    assert list(df.columns[:10]) == [
        "instance", "count", "dtype", "cores_per_replica", "max_batch", "latency_p99_s",
        "slo_met", "usd_per_hour", "cost_per_million_usd", "projected",
    ]  # fmt: skip
    assert set(df["instance"]) == {"inf2.xlarge", "g5.xlarge", "inf3.xlarge"}
    assert df["slo_met"].all()
    assert list(df["cost_per_million_usd"]) == sorted(df["cost_per_million_usd"])
    assert dict(zip(df["instance"], df["projected"], strict=True))["inf3.xlarge"]
    assert dict(zip(df["instance"], df["dtype"], strict=True))["g5.xlarge"] == "fp16"
    sweep = pd.read_parquet(tmp_path / "plan" / "summary.parquet")
    for result in plan.results:
        answer = result.answer
        at = sweep[(sweep["fleet.0.instance"] == result.candidate.instance)
                   & (sweep["fleet.0.count"] == answer)]  # fmt: skip
        assert len(at) == 2 and at["slo_met"].all()
        if answer > 1:
            fewer = sweep[(sweep["fleet.0.instance"] == result.candidate.instance)
                          & (sweep["fleet.0.count"] == answer - 1)]  # fmt: skip
            assert len(fewer) == 2 and not fewer["slo_met"].all()
        row = df[df["instance"] == result.candidate.instance].iloc[0]
        assert row["count"] == answer
        assert row["latency_p99_s"] == at["latency_p99_s"].max()
    markdown = (tmp_path / "plan" / "plan.md").read_text()
    assert "inf3.xlarge **PROJECTED**" in markdown and "PROJECTED hardware" in markdown
    assert (tmp_path / "plan" / "plan.png").read_bytes()[:4] == b"\x89PNG"
    again = run_plan(path, ["inf2.xlarge", "g5.xlarge", "inf3.xlarge"], replications=2,
                     out=tmp_path / "plan", serial=True)  # fmt: skip
    assert again.rows == plan.rows  # everything re-used from the plan directory


def test_a_candidate_that_cannot_meet_the_slo_says_so_with_its_best_p99(tmp_path):
    """A target below an idle pool's latency: the largest count is run once and reported."""
    tight = copy.deepcopy(PLANNED)
    tight["slo"]["target"] = "1ms"
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(tight))
    plan = run_plan(path, ["inf2.xlarge"], replications=1, max_count=20,
                    out=tmp_path / "plan", serial=True)  # fmt: skip
    (row,) = plan.rows
    assert not row["slo_met"] and row["count"] == 20
    assert "SLO not met with up to 20 instances; best p99" in row["note"]
    assert "no count can meet the target" in row["note"]
    assert list(plan.results[0].evaluations) == [20]


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--instances", "inf9.huge"], "unknown instance type(s) inf9.huge; known: inf1.xlarge"),
        (["--instances", "inf2.xlarge", "--max-batch", "1,x"], "--max-batch: expected whole"),
        (["--instances", "inf2.xlarge", "--pool", "nope"], "no pool named 'nope'"),
        (["--instances", ","], "--instances: expected instance types"),
        (["--instances", "inf2.xlarge", "--duration", "3"], "duration"),
    ],
)
def test_bad_plan_options_are_exit_2_and_write_nothing(tmp_path, options, expected):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(PLANNED))
    result = invoke("plan", path, *options, "--out", tmp_path / "plan", "--serial")
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert not (tmp_path / "plan").exists()


def test_several_pools_need_pool(tmp_path):
    two = copy.deepcopy(PLANNED)
    second = copy.deepcopy(two["fleet"][0]) | {"name": "other", "model": "resnet50"}
    second["dtype"] = "bf16"
    two["fleet"].append(second)
    two["workload"]["mix"].append({"model": "resnet50", "weight": 1, "seq_len": 224})
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(two))
    result = invoke("plan", path, "--instances", "inf2.xlarge", "--serial")
    assert result.exit_code == 2
    assert "the scenario has 2 pools (bert, other): name one" in result.output
