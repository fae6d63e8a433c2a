"""Pipelines at the edges: scenario checks that name the field, engines that cannot route a
pipeline, and analysis of a pipeline run from a frame (which lacks the stages' rows)."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml
from helpers import ROOT, needs_kernel, problems_after

import analysis
from sim.engine.engines import EngineUnavailable, choose_engine
from sim.engine.fleet import Fleet
from sim.engine.pool import Pool
from sim.engine.routes import Routes
from sim.policies.balancers import CompiledPick, RoundRobin
from sim.scenario.pipelines import PipelineConfig
from sim.streams import stream

PIPELINE = yaml.safe_load((ROOT / "scenarios" / "alexa_pipeline.yaml").read_text())


def problems(change) -> list[tuple[str, str]]:
    """The (field, message) problems of scenarios/alexa_pipeline.yaml after ``change``."""
    return problems_after(PIPELINE, change)


def stage(data: dict, index: int) -> dict:
    return data["pipelines"][0]["stages"][index]


def test_a_pipeline_named_as_a_model_is_refused():
    found = problems(lambda d: d["pipelines"][0].update(name="bert-base"))
    assert (
        "pipelines[0].name",
        "'bert-base' is the name of a model; a pipeline needs a name "
        "of its own (the mix and the trace's model column tell them apart by name)",
    ) in found


def test_a_stage_no_pool_serves_names_the_served_models():
    found = problems(lambda d: stage(d, 1).update(model="bert-bas"))
    assert (
        "pipelines[0].stages[1].model",
        "no pool serves model 'bert-bas' (did you mean "
        "'bert-base'?); pools serve: bert-base, wav2vec2-base-960h",
    ) in found


def test_the_first_stage_takes_the_mix_length():
    found = problems(lambda d: stage(d, 0).update(seq_len=16))
    assert found == [("pipelines[0]", "stages[0].seq_len: the first stage's length is the mix "
                      "entry's seq_len; give it there")]  # fmt: skip


def test_a_later_stage_length_outside_its_model_is_refused():
    found = problems(lambda d: stage(d, 1).update(seq_len={"scale": 0.2, "max": 2000}))
    assert found == [("pipelines[0].stages[1].seq_len", "bert-base takes sequence lengths "
                      "1..512; stage 1 of alexa_voice gets 240..1200")]  # fmt: skip


@pytest.mark.parametrize(
    "seq_len, field, message",
    [
        (0, "pipelines[0].stages[1].seq_len", "must be >= 1, got 0"),
        ({"scale": -1, "max": 9}, "pipelines[0].stages[1].seq_len.scale", "must be > 0.0, got -1"),
        ({"scale": 1}, "pipelines[0].stages[1].seq_len.max", "required key is missing"),
    ],
)
def test_a_bad_stage_length_names_its_field(seq_len, field, message):
    assert problems(lambda d: stage(d, 1).update(seq_len=seq_len)) == [(field, message)]


def test_each_pipeline_is_checked_whatever_the_others_hold():
    """A problem in one pipeline does not hide another pipeline's length problem."""

    def two(data):
        second = copy.deepcopy(data["pipelines"][0])
        second["name"] = "second"
        second["stages"][1]["seq_len"] = 1000
        data["pipelines"][0]["stages"][1]["model"] = "nope"
        data["pipelines"].append(second)
        data["workload"]["mix"].append({**data["workload"]["mix"][0], "model": "second"})

    fields = [field for field, _ in problems(two)]
    assert "pipelines[0].stages[1].model" in fields
    assert "pipelines[1].stages[1].seq_len" in fields


@pytest.mark.parametrize("column", ["model", "seq_len"])
def test_a_replayed_trace_naming_models_or_lengths_cannot_drive_a_pipeline(tmp_path, column):
    """Its rows are a model's requests; a trace of arrival times alone is replayed (the
    exact cases of tests/oracle/test_pipelines.py use one)."""
    values = {"model": ["bert-base"] * 2, "seq_len": [2000, 3000]}[column]
    pd.DataFrame({"arrival_s": [0.0, 0.5], column: values}).to_csv(tmp_path / "a.csv",
                                                                   index=False)  # fmt: skip
    found = problems(lambda d: d["workload"].update(
        arrivals={"kind": "trace", "path": str(tmp_path / "a.csv")}))  # fmt: skip
    assert (
        "pipelines",
        "a replayed trace that names models or lengths cannot drive a "
        "pipeline: it gives a model's requests, not a pipeline's stages (replay arrival "
        "times only, and let the mix choose the pipeline and its lengths)",
    ) in found


class DrawnAhead(RoundRobin):
    """A balancer that draws its candidates before the requests arrive."""

    compiled = CompiledPick.DRAWN


@needs_kernel
def test_a_balancer_drawing_ahead_does_not_run_compiled_with_pipelines():
    """A handed-on request is routed when it reaches its stage: not drawable ahead."""
    pools = [Pool(1, m, 1, 1, 0.0, 10, lambda b, s: 0.01, name=str(m)) for m in range(2)]
    routes = Routes.build(
        ["a", "b"], [PipelineConfig(name="ab", stages=[{"model": "a"}, {"model": "b"}])]
    )
    fleet = Fleet(pools, [DrawnAhead(1, stream(1, "balancer", m)) for m in range(2)],
                  model_names=["a", "b"], routes=routes)  # fmt: skip
    engine, reason = choose_engine("auto", fleet, changing=routes.staged)
    assert str(engine) == "simpy" and "a pipeline's stages" in reason
    with pytest.raises(EngineUnavailable):
        choose_engine("compiled", fleet, changing=routes.staged)


def test_a_frame_of_a_pipeline_run_needs_its_stages(tmp_path):
    """From a frame, the pools' usage needs stages.parquet's rows; with them, summarize gives
    the run's summary (to rounding: sums in another order)."""
    data = copy.deepcopy(PIPELINE)
    data.update(duration="10s", warmup="1s")
    result = analysis_run(data, tmp_path)
    tmp_path = tmp_path / "run"
    frame = analysis.load_trace(tmp_path / "requests.parquet")
    for refuses in (analysis.summarize, analysis.time_series, analysis.summarize_with_intervals):
        with pytest.raises(ValueError, match="this run has pipelines"):
            refuses(frame)
    stages = pd.read_parquet(tmp_path / "stages.parquet")
    summary = analysis.summarize(frame, stages=stages)
    for pool, share in result.summary["utilisation"].items():
        assert summary["utilisation"][pool] == pytest.approx(share, rel=1e-12)
    for mine, theirs in zip(summary["stages"], result.summary["stages"], strict=True):
        assert mine.keys() == theirs.keys()
        for key, value in theirs.items():
            assert mine[key] == (
                pytest.approx(value, rel=1e-12) if key.startswith("lat") else value
            )
    series = analysis.time_series(tmp_path, window_s=9.0)
    assert series["utilisation.asr"].iloc[-1] > 0.5  # the first stage's pool is busy


def analysis_run(data: dict, directory):
    """``sim.run`` of scenario data into ``directory/run``."""
    import sim

    path = directory / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return sim.run(path, directory / "run")


def test_the_run_table_shows_each_stage_and_costs_per_request(tmp_path):
    """``fleetsim run``'s table: a row per stage, and the cost per request end to end."""
    import io

    from rich.console import Console

    from sim.cli.tables import summary_table

    data = copy.deepcopy(PIPELINE)
    data.update(duration="5s", warmup="1s")
    result = analysis_run(data, tmp_path)
    printed = io.StringIO()
    Console(file=printed, width=200).print(
        summary_table("t", result.summary, result.summary["pools"])
    )
    text = printed.getvalue()
    assert "stage 0 of alexa_voice (wav2vec2-base-960h)" in text
    assert "stage 1 of alexa_voice (bert-base)" in text
    assert "cost per million requests, all stages" in text
