"""Large models as pipelines over several cores, structured sparsity, dtypes in scenarios."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

import analysis
import hardware
from sim.engine.runner import simulate as run
from sim.scenario.errors import ScenarioError
from sim.scenario.loading import parse_scenario

GIANT = {"layers": 48, "hidden": 2048, "heads": 16, "ffn": 8192}  # ~2.4 B parameters


def scenario(pool_changes, models=None, model="bert-base"):
    pool = {
        "name": "p",
        "instance": "inf2.xlarge",
        "count": 2,
        "model": model,
        "batching": {"max_batch": 4, "max_wait": "1ms"},
        "jitter": "none",  # exact hardware-model times, unpadded, no host stage
        "shapes": "none",
        "host": "none",
        **pool_changes,
    }
    return yaml.safe_dump(
        {
            "name": "part",
            "seed": 4,
            "duration": "3s",
            "warmup": "500ms",
            "workload": {
                "arrivals": {"kind": "poisson", "rate": 60},
                "mix": [{"model": model, "seq_len": 128}],
            },
            "models": models or {},
            "fleet": [pool],
            "slo": {"target": "1s"},
        }
    )


def test_auto_cores_partitions_a_model_too_big_for_one_core(tmp_path):
    """cores_per_replica: auto picks the fewest dividing cores that hold the model; the
    replica is a pipeline of that depth, and batches take depth x the interval."""
    text = scenario(
        {"instance": "inf1.6xlarge", "cores_per_replica": "auto"}, {"giant": GIANT}, "giant"
    )
    sc = parse_scenario(text)
    run(sc, tmp_path / "t.parquet")
    info = json.loads(pq.read_schema(tmp_path / "t.parquet").metadata[b"fleetsim.run"])
    pool = info["pools"][0]
    depth = pool["cores_per_replica"]
    giant = sc.models["giant"]
    from sim.scenario.models import resolve_model

    model = resolve_model(sc, "giant")
    assert depth > 1 and pool["pipeline_depth"] == depth
    assert not hardware.fits(
        model, "inf1.6xlarge", "bf16", cores=depth // 2, batch_size=4, seq_len=128
    )
    assert pool["replicas_per_instance"] == 16 // depth and giant.layers == 48
    df = analysis.load_trace(tmp_path / "t.parquet")
    ok = df[(df.status == "ok")]
    interval = hardware.service_time(
        model, "inf1.6xlarge", ok.batch_size.to_numpy(), 128, "bf16", depth
    )
    assert (ok.service_s.to_numpy() >= depth * interval * (1 - 1e-12)).all()


def test_model_too_big_for_the_instance_is_a_scenario_error():
    """A model that no number of cores of the instance can hold is a clear error."""
    with pytest.raises(ScenarioError, match="does not fit .* pick a larger instance"):
        parse_scenario(
            scenario(
                {"instance": "inf1.xlarge", "cores_per_replica": "auto"},
                {"giant": {**GIANT, "layers": 96}},
                "giant",
            )
        )
    with pytest.raises(ScenarioError, match="cores_per_replica: auto"):
        parse_scenario(scenario({"instance": "inf1.6xlarge"}, {"giant": GIANT}, "giant"))


def test_sparsity_only_where_the_chip_has_it(tmp_path):
    """2:4 sparsity runs on projected inf3 and is faster than dense; on inf2 it is an error."""
    with pytest.raises(ScenarioError, match="fleet\\[0\\].sparsity.*no structured-sparsity"):
        parse_scenario(scenario({"sparsity": "2:4"}))
    dense = hardware.service_time("bert-base", "inf3.xlarge", 4, 128, "bf16")
    sparse = hardware.service_time("bert-base", "inf3.xlarge", 4, 128, "bf16", sparsity="2:4")
    assert sparse < dense
    sc = parse_scenario(scenario({"instance": "inf3.xlarge", "sparsity": "2:4"}))
    run(sc, tmp_path / "t.parquet")
    df = analysis.load_trace(tmp_path / "t.parquet")
    ok = df[df.status == "ok"]
    expected = hardware.service_time(
        "bert-base", "inf3.xlarge", ok.batch_size.to_numpy(), 128, "bf16", sparsity="2:4"
    )
    assert ok.service_s.to_numpy() == pytest.approx(expected, rel=1e-12)


def test_sparsity_speedup_capped_and_weight_side_only():
    """1:4 and 4:16 give the same (4x-capped) weight speed-up; fp8 already runs at the sparse
    rate so sparsity adds nothing; attention matmuls do not speed up (so < 4x overall)."""
    t = {
        sp: hardware.service_breakdown(
            "bert-large", "inf3.xlarge", 8, 512, "bf16", sparsity=sp
        ).compute_s
        for sp in (None, "1:4", "4:16")
    }
    assert t["1:4"] == pytest.approx(t["4:16"])
    assert t[None] / 4 < t["1:4"] < t[None] / 2
    fp8 = [
        hardware.service_time("bert-large", "inf3.xlarge", 8, 128, "fp8", sparsity=sp)
        for sp in (None, "2:4")
    ]
    assert fp8[0] == pytest.approx(fp8[1])


@pytest.mark.parametrize(
    "instance,dtype,ok",
    [
        ("inf2.xlarge", "fp8", True),
        ("inf2.xlarge", "fp4", False),
        ("inf3.xlarge", "fp4", True),
        ("inf1.xlarge", "fp8", False),
        ("inf3.xlarge", "int8", False),
        ("inf1.xlarge", "int8", True),
    ],
)
def test_dtypes_per_generation(instance, dtype, ok):
    """Each generation accepts exactly its sourced dtypes (fp8 on NC-v2, fp4 only on inf3)."""
    text = scenario({"instance": instance, "dtype": dtype})
    if ok:
        parse_scenario(text)
    else:
        with pytest.raises(ScenarioError, match="does not run dtype"):
            parse_scenario(text)


@pytest.mark.parametrize(
    "instance,natural",
    [
        ("inf1.xlarge", "bf16"),
        ("inf2.xlarge", "bf16"),
        ("trn1.2xlarge", "bf16"),
        ("inf3.xlarge", "bf16"),
        ("g4dn.xlarge", "fp16"),
        ("g5.xlarge", "fp16"),
        ("g6.xlarge", "fp16"),
        ("p3.2xlarge", "fp16"),
    ],
)
def test_dtype_auto_is_the_default_and_runs_the_natural_dtype(instance, natural):
    """A pool without dtype (or dtype: auto) runs its instance's natural dtype (bf16 on
    NeuronCores, fp16 on GPUs): its service table is that dtype's and its facts name it."""
    from sim.engine.pool import plan_pools

    assert hardware.natural_dtype(instance) == natural
    for pool in ({"instance": instance}, {"instance": instance, "dtype": "auto"}):
        sc = parse_scenario(scenario(pool))
        assert sc.fleet[0].dtype == "auto"
        (planned,) = plan_pools(sc, ["bert-base"])
        assert planned.facts["dtype"] == natural
        # the table holds the interval a batch holds its replica; a staging replica's batch
        # stays for the rest of its service time
        expected = hardware.service_interval("bert-base", instance, [1, 2, 3, 4], 128, natural)
        assert planned.service_by_size_s[1:] == pytest.approx(expected.tolist(), rel=1e-12)
        total = hardware.service_time("bert-base", instance, [1, 2, 3, 4], 128, natural)
        staged = planned.staged_by_size_s or [0.0] * 5
        assert (instance == "inf1.xlarge") == (planned.staged_s is not None)
        assert np.add(planned.service_by_size_s[1:], staged[1:]) == pytest.approx(total, rel=1e-12)


def test_explicit_dtype_overrides_auto_and_the_summary_shows_the_resolved_one(tmp_path):
    """dtype: fp32 on a GPU runs fp32 (slower than the natural fp16); summary.json names the
    dtype a pool ran, never 'auto'."""
    import sim
    from sim.engine.pool import plan_pools

    def planned(pool):
        return plan_pools(parse_scenario(scenario(pool)), ["bert-base"])[0]

    fp32, auto = (
        planned({"instance": "g4dn.xlarge", "dtype": "fp32"}),
        planned({"instance": "g4dn.xlarge"}),
    )
    assert fp32.facts["dtype"] == "fp32" and auto.facts["dtype"] == "fp16"
    assert fp32.service_by_size_s[4] > auto.service_by_size_s[4]
    path = tmp_path / "auto.yaml"
    path.write_text(scenario({"instance": "g4dn.xlarge"}))
    sim.run(path, tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [p["dtype"] for p in summary["pools"]] == ["fp16"]


def test_a_gpu_pool_runs_its_serving_stack():
    """stack: auto is the best published (tensorrt); a named stack times the pool with that
    stack's fit; the per-batch framework cost is charged on compiled stacks only (the eager
    fit holds it); summary.json names the stack (None on NeuronCores)."""
    from sim.engine.pool import plan_pools

    times, hosts = {}, {}
    for stack in ("auto", "tensorrt", "onnxruntime", "eager"):
        sc = parse_scenario(scenario({"instance": "g4dn.xlarge", "stack": stack, "host": "auto"}))
        (planned,) = plan_pools(sc, ["bert-base"])
        expected = "tensorrt" if stack == "auto" else stack
        assert planned.facts["stack"] == expected
        seconds = hardware.service_time("bert-base", "g4dn.xlarge", [1, 2, 3, 4], 128, "fp16",
                                        stack=expected)  # fmt: skip
        assert planned.service_by_size_s[1:] == pytest.approx(seconds.tolist(), rel=1e-12)
        times[stack], hosts[stack] = planned.service_by_size_s[1], planned.host.batch_s
    assert times["auto"] == times["tensorrt"] < times["onnxruntime"] < times["eager"]
    assert hosts["tensorrt"] == hosts["onnxruntime"] > 0 == hosts["eager"]
    (neuron,) = plan_pools(parse_scenario(scenario({})), ["bert-base"])
    assert neuron.facts["stack"] is None


def test_a_stack_on_a_neuroncore_pool_is_refused():
    """stack names a GPU serving stack: on an inf2 pool it is an error naming the field."""
    with pytest.raises(ScenarioError) as err:
        parse_scenario(scenario({"stack": "tensorrt"}))
    assert "fleet[0].stack" in str(err.value) and "Neuron" in str(err.value)
    with pytest.raises(ScenarioError) as err:
        parse_scenario(scenario({"instance": "g5.xlarge", "stack": "tensor-rt"}))
    assert "fleet[0].stack" in str(err.value) and "tensor-rt" in str(err.value)
