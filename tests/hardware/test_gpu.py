"""GPU instance types, the GPU roofline, power figures and the cost report (stacks and their fit:
test_gpu_stacks.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hardware
from hardware import catalog
from hardware.calibration import gpu_fit_choices
from hardware.planning import cost_tables
from hardware.timing.gpu_parameters import gpu_parameters
from hardware.timing.gpu_stacks import STACKS

DATA = Path(__file__).resolve().parents[2] / "hardware" / "data"
GPU_INSTANCES = {
    "g4dn.xlarge": 0.526,
    "g4dn.2xlarge": 0.752,
    "g5.xlarge": 1.006,
    "g5.2xlarge": 1.212,
    "g6.xlarge": 0.8048,
    "g6.2xlarge": 0.9776,
    "p3.2xlarge": 3.06,
}
BATCHES = np.array([1, 2, 4, 8, 16, 32, 64, 128])
SEQS = np.array([8, 32, 128, 256, 512])


@pytest.mark.parametrize("name,price", GPU_INSTANCES.items())
def test_gpu_instances_have_prices_sources_and_one_core(name, price):
    """Each GPU instance has its Karpenter On-Demand price, a source, one GPU and one core."""
    inst = catalog.instance_type(name)
    assert inst.usd_per_hour == price
    assert "karpenter" in inst.source and inst.chip.source.strip()
    assert inst.chips == 1 and inst.cores == 1 and inst.chip.cores_per_chip == 1
    assert not inst.projected and inst.chip.is_gpu and inst.chip.kind == "gpu"
    assert gpu_parameters(inst.chip.name).compute_efficiency > 0


def test_neuron_instances_are_not_gpus():
    """Inferentia instance types stay with the NeuronCore model."""
    names = [n for n in catalog.instance_type_names() if n.startswith(("inf", "trn"))]
    assert all(catalog.instance_type(n).chip.kind == "neuroncore" for n in names)


@pytest.mark.parametrize(
    "name",
    [
        "gpus.csv",
        "gpu_instances.csv",
        "gpu_parameters.csv",
        "gpu_published_calibration.csv",
        "power.csv",
    ],
)
def test_gpu_data_files_carry_sources(name):
    """Every row of every GPU and power data file names its source."""
    table = pd.read_csv(DATA / name, comment="#")
    assert table.source.notna().all() and (table.source.str.strip() != "").all()


def test_gpu_assumptions_are_labelled():
    """The A10G tensor peak and the non-fitted GPU parameters are flagged as assumptions."""
    chips = pd.read_csv(DATA / "gpus.csv", comment="#").set_index("name")
    assert "ASSUMED" in chips.loc["nvidia-a10g", "assumptions"]
    params = pd.read_csv(DATA / "gpu_parameters.csv")
    assert set(params["stack"]) == {"*", *STACKS}
    for row in params.itertuples():
        fitted = row.chip != "*" or (
            row.stack != "*" and row.parameter in gpu_fit_choices.FREE[row.stack]
        )
        assert row.source.startswith("FITTED" if fitted else "ASSUMED"), row


@pytest.mark.parametrize("name", sorted(GPU_INSTANCES))
@pytest.mark.parametrize("model", ["bert-base", "resnet-50"])
def test_gpu_service_time_positive_and_monotone(name, model):
    """Service time is positive and never falls as batch size or sequence length grows."""
    seqs = SEQS if model == "bert-base" else np.array([112, 160, 224, 320])
    dtype = "fp16"
    t = hardware.service_time(model, name, BATCHES[:, None], seqs[None, :], dtype)
    assert t.shape == (BATCHES.size, seqs.size)
    assert np.all(t > 0)
    tol_s = 1e-12  # the launch/device max is flat, up to rounding
    assert np.all(np.diff(t, axis=0) >= -tol_s) and np.all(np.diff(t, axis=1) >= -tol_s)
    assert t[-1, -1] > 2 * t[0, 0]  # device-bound at the far corner


@pytest.mark.parametrize("name", sorted(GPU_INSTANCES))
def test_fp16_faster_than_fp32(name):
    """Tensor-core fp16 is never slower than fp32, and faster once compute-bound."""
    fp32 = hardware.service_time("bert-base", name, BATCHES, 128, "fp32")
    fp16 = hardware.service_time("bert-base", name, BATCHES, 128, "fp16")
    assert np.all(fp16 <= fp32) and fp16[-1] < 0.5 * fp32[-1]


def test_gpu_broadcasting_and_array_agree():
    """Scalar calls, broadcast grids, service_breakdown and service_time_array agree."""
    grid = hardware.service_time("bert-large", "g6.xlarge", BATCHES[:, None], SEQS[None, :], "bf16")
    for i, b in enumerate(BATCHES[::3]):
        for j, s in enumerate(SEQS[::2]):
            one = hardware.service_time("bert-large", "g6.xlarge", int(b), int(s), "bf16")
            assert isinstance(one, float)
            assert one == pytest.approx(grid[3 * i, 2 * j])
    parts = hardware.service_breakdown("bert-large", "g6.xlarge", 8, 128, "bf16")
    assert float(parts.total_s) == pytest.approx(grid[3, 2])
    assert float(parts.memory_s) <= float(parts.compute_s + parts.vector_s)
    arr = hardware.service_time_array(["bert-large"], ["g6.xlarge", "g4dn.xlarge"], BATCHES, SEQS)
    np.testing.assert_allclose(arr[0, 0], grid)
    assert np.isnan(arr[0, 1]).all()  # the T4 has no bf16


def test_gpu_rejects_what_it_cannot_run():
    """bf16 on a T4, int8 on a V100 and cores != 1 on a GPU are errors."""
    with pytest.raises(ValueError, match="bf16"):
        hardware.service_time("bert-base", "g4dn.xlarge", 1, 128, "bf16")
    assert not hardware.dtype_supported("p3.2xlarge", "int8")
    assert hardware.dtype_supported("g6.xlarge", "fp8")
    with pytest.raises(ValueError, match="cores"):
        hardware.service_time("bert-base", "g5.xlarge", 1, 128, "fp16", cores=2)


def test_gpu_memory_fit():
    """A replica gets the whole GPU's memory; an oversized batch does not fit."""
    assert (
        hardware.replica_memory_bytes("g5.xlarge", 1)
        == catalog.instance_type("g5.xlarge").accel_mem_bytes
    )
    assert hardware.fits("bert-large", "g4dn.xlarge", "fp16", 1, 32, 512)
    assert not hardware.fits("bert-base", "g4dn.xlarge", "fp32", 1, 4096, 512)


def test_cost_table_arithmetic():
    """Replicas, instance throughput, $ per million and inferences per joule follow the formulas."""
    rows = cost_tables.table("bert-base", "inf2.xlarge", 128, "bf16", 1, [1, 8])
    assert list(rows.columns) == list(cost_tables.COLUMNS)
    r = rows.iloc[1]
    assert r.replicas == 2
    assert r.service_time_s == pytest.approx(hardware.service_time("bert-base", "inf2.xlarge", 8))
    assert r.instance_throughput_per_s == pytest.approx(2 * 8 / r.service_time_s)
    assert r.usd_per_million == pytest.approx(0.7582 / 3600 / r.instance_throughput_per_s * 1e6)
    assert r.inferences_per_j == pytest.approx(r.instance_throughput_per_s / 160.0)
    big = cost_tables.table("bert-base", "g4dn.xlarge", 512, "fp32", 1, [1, 4096])
    assert big.fits.tolist() == [True, False] and np.isnan(big.usd_per_million.iloc[1])


def test_cost_compare_sorted_with_skips_and_budget():
    """compare sorts by $ per million, skips unsupported dtypes, and honours the budget."""
    result = cost_tables.compare("bert-base", 128, "bf16", max_batch=16, latency_budget_s=0.01)
    best = result.best
    assert best.usd_per_million.is_monotonic_increasing
    assert (best.request_latency_s <= 0.01).all() and (best.batch_size <= 16).all()
    assert {"inf2.xlarge", "inf3.xlarge", "g5.xlarge"} <= set(best.instance)
    assert best.projected.tolist() == [n.startswith("inf3") for n in best.instance]
    skipped = dict(zip(result.skipped.instance, result.skipped.reason, strict=True))
    assert "bf16" in skipped["g4dn.xlarge"] and "bf16" in skipped["p3.2xlarge"]
    for _, row in best.iterrows():  # the winner is the cheapest admissible layout and batch
        rows = pd.concat(
            cost_tables.table("bert-base", row.instance, 128, "bf16", cores, np.arange(1, 17))
            for cores in hardware.replica_layouts(row.instance)
        )
        ok = rows[rows.fits & (rows.request_latency_s <= 0.01)]
        assert row.usd_per_million == pytest.approx(ok.usd_per_million.min())
