"""What a scenario's pools resolve to: cores per replica (which sets replicas per instance,
so capacity) and the sequence lengths each model's service table must cover."""

from __future__ import annotations

import copy

from helpers import BASE_SCENARIO, scenario

from sim.scenario.checks import replica_cores
from sim.scenario.models import seq_lens_of

SYNTHETIC = {"kind": "deterministic", "base": "10ms"}


def with_pool(**changes) -> dict:
    data = copy.deepcopy(BASE_SCENARIO)
    data["fleet"][0].update(changes)
    return data


def cores(data: dict, longest: int) -> int | None:
    sc = scenario(data)
    return replica_cores(sc, sc.fleet[0], longest)


def test_auto_takes_the_fewest_cores_that_hold_the_model():
    """bert-base fits one core of an inf2.xlarge; gpt2-medium in batches of 64 at length
    1024 needs two of an inf1.xlarge's four 2 GiB cores, though at its default length (128)
    one would do: the longest length asked for decides."""
    assert cores(with_pool(cores_per_replica="auto"), 128) == 1
    data = with_pool(instance="inf1.xlarge", model="gpt2-medium", cores_per_replica="auto",
                     batching={"max_batch": 64})  # fmt: skip
    data["workload"]["mix"] = [{"model": "gpt2-medium", "seq_len": 1024}]
    assert cores(data, 1024) == 2


def test_configured_cores_are_kept_and_a_synthetic_pool_needs_no_memory_check():
    """A number is used as given; a synthetic pool's ``auto`` is one core per replica."""
    assert cores(with_pool(cores_per_replica=2), 128) == 2
    assert cores(with_pool(cores_per_replica="auto", service=SYNTHETIC), 128) == 1
    assert cores(with_pool(cores_per_replica=2, service=SYNTHETIC), 128) == 2


def test_service_tables_cover_exactly_the_lengths_asked_for():
    """A choice gives its values, a uniform range every length in it (ends included), and a
    model served but absent from the mix its default length."""
    data = copy.deepcopy(BASE_SCENARIO)
    data["workload"]["mix"] = [
        {"model": "bert-base", "seq_len": {"kind": "choice", "values": [256, 64, 256]}},
        {"model": "bert-base", "seq_len": {"kind": "uniform", "low": 500, "high": 503}},
    ]
    data["fleet"].append({**data["fleet"][0], "name": "resnet", "model": "resnet-18"})
    sc = scenario(data)
    assert seq_lens_of(sc, "bert-base").tolist() == [64, 256, 500, 501, 502, 503]
    assert seq_lens_of(sc, "resnet-18").tolist() == [224]
