"""The checks that need the hardware catalog, as exact (field, sentence) problems: run
length, names of built-in models, instance types, cores, sparsity, dtypes, memory fit at the
longest length and largest batch, and custom models as written."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml
from helpers import BASE_SCENARIO, problems_after, scenario

from hardware import catalog
from sim.scenario.errors import ScenarioError
from sim.scenario.loading import load_scenario
from sim.scenario.models import resolve_model, seq_len_bounds_by_model

TINY = {"layers": 1, "hidden": 8, "heads": 1, "ffn": 8}


def problems(change) -> list[tuple[str, str]]:
    """The (field, message) problems of BASE_SCENARIO after ``change(data)``."""
    return problems_after(BASE_SCENARIO, change)


def pool(**changes):
    return lambda data: data["fleet"][0].update(changes)


def serving(model: str, seq_len, **changes):
    """The one pool serves ``model``, asked for at ``seq_len``."""

    def change(data):
        data["fleet"][0].update(model=model, **changes)
        data["workload"]["mix"] = [{"model": model, "seq_len": seq_len}]

    return change


def test_a_warmup_as_long_as_the_run_is_refused():
    """warmup == duration leaves no measured window."""
    assert problems(lambda d: d.update(warmup="2s")) == [
        ("warmup", "warmup (2 s) must be shorter than duration (2 s)")
    ]


def test_a_custom_model_may_not_take_a_built_in_name_wherever_it_is_listed():
    """Every ``models:`` entry is checked, after one with a name of its own too."""
    assert problems(lambda d: d.update(models={"mine": TINY, "bert-base": TINY})) == [
        ("models.bert-base",
         "'bert-base' is the name of a built-in model; give your own model another name")
    ]  # fmt: skip


def test_an_unknown_instance_type_lists_the_known_ones():
    """A did-you-mean, then every instance type of the catalog."""
    known = ", ".join(catalog.instance_type_names())
    assert problems(pool(instance="inf2.xlargee")) == [
        ("fleet[0].instance",
         f"unknown instance type 'inf2.xlargee' (did you mean 'inf2.xlarge'?); known: {known}")
    ]  # fmt: skip


def test_cores_per_replica_must_divide_the_instance_cores():
    """5 of 12 cores is refused though 5 <= 12."""
    assert problems(pool(instance="inf2.24xlarge", cores_per_replica=5)) == [
        ("fleet[0].cores_per_replica",
         "cores_per_replica 5 must divide the 12 cores of inf2.24xlarge")
    ]  # fmt: skip


def test_sparsity_and_dtype_need_chip_support():
    """Sparsity only on the projected inf3; each chip's dtypes are listed."""
    assert problems(pool(sparsity="2:4")) == [
        ("fleet[0].sparsity",
         "inf2.xlarge (inferentia2) has no structured-sparsity support; only the projected "
         "inf3 family has it")
    ]  # fmt: skip
    assert problems(pool(instance="inf1.xlarge", dtype="fp8")) == [
        ("fleet[0].dtype",
         "inf1.xlarge (inferentia) does not run dtype 'fp8'; supported: fp32, bf16, fp16, int8")
    ]  # fmt: skip


def test_memory_fit_is_checked_at_the_largest_batch_and_the_range_edges():
    """A batch of 4096 of bert-large at lengths 1..512 (both ends of its range) does not fit
    one 2 GiB core, nor all four; the advice depends on whether cores were set."""
    lengths = {"kind": "uniform", "low": 1, "high": 512}
    fixed = serving("bert-large", lengths, instance="inf1.xlarge", cores_per_replica=1,
                    batching={"max_batch": 4096})  # fmt: skip
    assert problems(fixed) == [
        ("fleet[0].model",
         "bert-large in bf16 (weights 0.62 GiB, plus activations for a batch of 4096 at length "
         "512) does not fit the 2.00 GiB of device memory of a 1-core replica on inf1.xlarge; "
         "set cores_per_replica: auto (a pipeline over more cores), lower max_batch, or pick a "
         "larger instance")
    ]  # fmt: skip
    auto = serving("bert-large", lengths, instance="inf1.xlarge", cores_per_replica="auto",
                   batching={"max_batch": 4096})  # fmt: skip
    assert problems(auto) == [
        ("fleet[0].model",
         "bert-large in bf16 (weights 0.62 GiB, plus activations for a batch of 4096 at length "
         "512) does not fit the 8.00 GiB of device memory of a 4-core replica on inf1.xlarge; "
         "pick a larger instance or a smaller dtype")
    ]  # fmt: skip


def test_memory_fit_uses_the_longest_length_not_the_default():
    """gpt2-medium in batches of 64 fits one inf1 core at its default length 128, not at
    1024, the length the mix asks for."""
    assert problems(serving("gpt2-medium", 1024, instance="inf1.xlarge", cores_per_replica=1,
                            batching={"max_batch": 64})) == [  # fmt: skip
        ("fleet[0].model",
         "gpt2-medium in bf16 (weights 0.66 GiB, plus activations for a batch of 64 at length "
         "1024) does not fit the 2.00 GiB of device memory of a 1-core replica on inf1.xlarge; "
         "set cores_per_replica: auto (a pipeline over more cores), lower max_batch, or pick a "
         "larger instance")
    ]  # fmt: skip


def test_a_custom_model_is_the_architecture_written():
    """Its name, its max_positions (the longest sequence) and its vocabulary (weights)."""
    small = {**TINY, "hidden": 64, "heads": 2, "ffn": 128, "max_positions": 64}

    def custom(data):
        data["models"] = {"mine": small}
        serving("mine", 100)(data)

    assert problems(custom) == [
        ("workload.mix[0].seq_len", "mine takes sequence lengths 1..64, got 100..100")
    ]
    data = copy.deepcopy(BASE_SCENARIO)
    data["models"] = {"mine": small}
    serving("mine", 64)(data)
    model = resolve_model(scenario(data), "mine")
    assert (model.name, model.max_seq_len) == ("mine", 64)
    wide = {"layers": 2, "hidden": 1024, "heads": 2, "ffn": 128, "vocab": 10_000_000}

    def huge_vocabulary(data):
        data["models"] = {"mine": wide}
        serving("mine", 128)(data)

    assert problems(huge_vocabulary) == [
        ("fleet[0].model",
         "mine in bf16 (weights 19.09 GiB, plus activations for a batch of 4 at length 128) "
         "does not fit the 16.00 GiB of device memory of a 1-core replica on inf2.xlarge; set "
         "cores_per_replica: auto (a pipeline over more cores), lower max_batch, or pick a "
         "larger instance")
    ]  # fmt: skip


def test_length_bounds_span_every_mix_entry_of_a_model():
    """Two entries for one model: the bounds cover both, whatever their order."""
    data = copy.deepcopy(BASE_SCENARIO)
    data["workload"]["mix"] = [
        {"model": "bert-base", "seq_len": 5},
        {"model": "bert-base", "seq_len": {"kind": "uniform", "low": 10, "high": 20}},
        {"model": "bert-base", "seq_len": 30},
    ]
    assert seq_len_bounds_by_model(scenario(data)) == {"bert-base": (5, 30)}


def test_a_replayed_trace_does_not_hide_other_problems(tmp_path):
    """With a trace, the run-length problem is still reported."""
    pd.DataFrame({"arrival_s": [0.0, 0.5]}).to_csv(tmp_path / "arrivals.csv", index=False)
    data = copy.deepcopy(BASE_SCENARIO)
    data["warmup"] = "2s"
    data["workload"]["arrivals"] = {"kind": "trace", "path": "arrivals.csv"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert [p[:2] for p in error.value.problems] == [
        ("warmup", "warmup (2 s) must be shorter than duration (2 s)")
    ]


def test_mix_lengths_at_the_ends_of_the_range_are_accepted():
    """bert-base takes 1..512: a mix asking for exactly 1 or 512 loads."""
    for length in (1, 512):
        data = copy.deepcopy(BASE_SCENARIO)
        data["workload"]["mix"] = [{"model": "bert-base", "seq_len": length}]
        assert scenario(data).workload.mix[0].seq_len.value == length


def test_a_mix_model_no_pool_serves_lists_the_served_ones():
    """Every served model is named, sorted."""

    def change(data):
        data["fleet"].append({**data["fleet"][0], "name": "gpt", "model": "gpt2"})
        data["workload"]["mix"].append({"model": "bert-large"})

    assert problems(change) == [
        ("workload.mix[1].model", "no pool serves model 'bert-large'; pools serve: bert-base, gpt2")
    ]
