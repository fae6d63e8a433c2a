"""A replayed trace checked at load: each problem is reported at ``workload.arrivals.path``
with its file, row and value; each model's lengths are read from its own rows only."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from sim.scenario.errors import ScenarioError
from sim.scenario.loading import load_scenario
from sim.scenario.models import seq_len_bounds_by_model, seq_lens_of

SYNTHETIC = {"kind": "deterministic", "base": "10ms"}


def pool(name: str, model: str) -> dict:
    return {"name": name, "instance": "inf2.xlarge", "count": 1, "model": model,
            "service": SYNTHETIC}  # fmt: skip


def write(tmp_path, frame: pd.DataFrame, fleet: list[dict], mix=None, duration="10s"):
    """A scenario replaying ``frame`` (as arrivals.csv) on synthetic pools."""
    frame.to_csv(tmp_path / "arrivals.csv", index=False)
    workload = {"arrivals": {"kind": "trace", "path": "arrivals.csv"}}
    if mix is not None:
        workload["mix"] = mix
    data = {"name": "t", "seed": 1, "duration": duration, "workload": workload,
            "fleet": fleet, "slo": {"target": "1s"}}  # fmt: skip
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def problems(path) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    return [(field, message) for field, message, _ in error.value.problems]


TWO_MODELS = [pool("bert", "bert-base"), pool("resnet", "resnet-18")]


def test_each_model_is_checked_against_its_own_range_edges_included(tmp_path):
    """bert-base takes 1..512 and resnet-18 32..1024: every edge is accepted, and bert's
    range is not applied to resnet's rows (nor the other way round)."""
    frame = pd.DataFrame({
        "arrival_s": [0.0, 1.0, 2.0, 3.0],
        "model": ["bert-base", "bert-base", "resnet-18", "resnet-18"],
        "seq_len": [1, 512, 32, 1024],
    })  # fmt: skip
    scenario = load_scenario(write(tmp_path, frame, TWO_MODELS))
    assert seq_lens_of(scenario, "bert-base").tolist() == [1, 512]
    assert seq_lens_of(scenario, "resnet-18").tolist() == [32, 1024]
    assert seq_len_bounds_by_model(scenario) == {"bert-base": (1, 512), "resnet-18": (32, 1024)}


def test_a_length_out_of_range_is_reported_after_a_label_model(tmp_path):
    """A model known only as a label (synthetic pools) has no range to check, and the
    check goes on to the next model: bert-base's 513 is refused with its row."""
    frame = pd.DataFrame({
        "arrival_s": [0.0, 1.0, 2.0],
        "model": ["a-label", "bert-base", "bert-base"],
        "seq_len": [5000, 8, 513],
    })  # fmt: skip
    path = write(tmp_path, frame, [pool("label", "a-label"), pool("bert", "bert-base")])
    assert problems(path) == [(
        "workload.arrivals.path",
        f"{tmp_path / 'arrivals.csv'}: data row 3: seq_len 513 is outside bert-base's range "
        "1..512",
    )]  # fmt: skip


def test_a_model_served_by_no_pool_is_named_with_its_row(tmp_path):
    """A trace row naming a model no pool serves is refused at the trace's path."""
    frame = pd.DataFrame({"arrival_s": [0.0, 1.0], "model": ["bert-base", "gpt2"]})
    path = write(tmp_path, frame, TWO_MODELS)
    assert problems(path) == [(
        "workload.arrivals.path",
        f"{tmp_path / 'arrivals.csv'}: data row 2: model 'gpt2' is served by no pool; pools "
        "serve: bert-base, resnet-18",
    )]  # fmt: skip


@pytest.mark.parametrize("first", [2.0, 2.5])
def test_a_trace_that_starts_at_or_after_the_end_is_refused(tmp_path, first):
    """A trace whose first arrival is at or after the end of the run would run nothing."""
    frame = pd.DataFrame({"arrival_s": [first], "model": ["bert-base"]})
    path = write(tmp_path, frame, [pool("bert", "bert-base")], duration="2s")
    assert problems(path) == [(
        "workload.arrivals.path",
        f"{tmp_path / 'arrivals.csv'}: every arrival is at or after the end of the run (the "
        f"first at {first:g} s, after time_scale; duration 2 s): the run would have no "
        "request; lengthen duration or lower time_scale",
    )]  # fmt: skip


def test_a_trace_with_one_arrival_inside_the_run_loads(tmp_path):
    """One row, before the end: a valid (tiny) replay."""
    frame = pd.DataFrame({"arrival_s": [1.5], "model": ["bert-base"]})
    scenario = load_scenario(write(tmp_path, frame, [pool("bert", "bert-base")], duration="2s"))
    assert scenario.workload.arrivals.load().times_s.tolist() == [1.5]


def test_lengths_without_a_model_column_belong_to_the_mix_models(tmp_path):
    """A trace with lengths but no model column: its lengths are the mix model's."""
    frame = pd.DataFrame({"arrival_s": [0.0, 1.0], "seq_len": [16, 300]})
    mix = [{"model": "bert-base", "seq_len": 64}]
    scenario = load_scenario(write(tmp_path, frame, [pool("bert", "bert-base")], mix))
    assert seq_lens_of(scenario, "bert-base").tolist() == [16, 64, 300]
    assert seq_len_bounds_by_model(scenario) == {"bert-base": (16, 300)}


def test_a_model_column_without_lengths_takes_lengths_from_the_mix_or_the_default(tmp_path):
    """Rows of a model the mix describes get the mix's lengths only; a model the mix does
    not list gets its default length (bert-base 128, resnet-18 224)."""
    frame = pd.DataFrame({"arrival_s": [0.0, 1.0], "model": ["bert-base", "resnet-18"]})
    mix = [{"model": "bert-base", "seq_len": 64}]
    scenario = load_scenario(write(tmp_path, frame, TWO_MODELS, mix))
    assert seq_lens_of(scenario, "bert-base").tolist() == [64]
    assert seq_lens_of(scenario, "resnet-18").tolist() == [224]
    assert seq_len_bounds_by_model(scenario) == {"bert-base": (64, 64), "resnet-18": (224, 224)}
