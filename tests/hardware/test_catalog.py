import dataclasses
import math

import pytest

from hardware import catalog
from hardware.catalog import GIB

EXPECTED = [
    "inf1.xlarge",
    "inf1.2xlarge",
    "inf1.6xlarge",
    "inf1.24xlarge",
    "inf2.xlarge",
    "inf2.8xlarge",
    "inf2.24xlarge",
    "inf2.48xlarge",
    "inf3.xlarge",
    "inf3.8xlarge",
    "inf3.24xlarge",
    "inf3.48xlarge",
]


GPU_EXPECTED = [
    "g4dn.xlarge",
    "g4dn.2xlarge",
    "g5.xlarge",
    "g5.2xlarge",
    "g6.xlarge",
    "g6.2xlarge",
    "p3.2xlarge",
]


def test_catalog_lists_all_instance_types():
    """The catalog loads the inf1, inf2 and projected inf3 sizes in order, the GPU types last."""
    names = catalog.instance_type_names()
    assert [n for n in names if n.startswith("inf")] == EXPECTED
    assert names[-len(GPU_EXPECTED) :] == GPU_EXPECTED
    gpus = {"nvidia-t4", "nvidia-a10g", "nvidia-l4", "nvidia-v100"}
    assert {"inferentia", "inferentia2", "inferentia3"} | gpus <= set(catalog.chip_names())


@pytest.mark.parametrize("name", EXPECTED)
def test_every_instance_has_price_and_source(name):
    """Each instance has a positive On-Demand price, a source and consistent core counts."""
    inst = catalog.instance_type(name)
    assert inst.usd_per_hour > 0
    assert inst.source.strip()
    assert inst.chip.source.strip()
    assert inst.cores == inst.chips * inst.chip.cores_per_chip
    assert inst.accel_mem_bytes == inst.chips * inst.chip.mem_bytes_per_chip


def test_inf3_is_flagged_projected():
    """Every inf3 row and the Inferentia3 chip are projected; inf1/inf2 are not."""
    for name in EXPECTED:
        inst = catalog.instance_type(name)
        assert inst.projected == (inst.family == "inf3")
        assert inst.chip.projected == (inst.family == "inf3")
        if inst.projected:
            assert "PROJECTED" in inst.source


def test_published_prices_match_sources():
    """A few On-Demand us-east-1 prices equal the Karpenter table values."""
    assert catalog.instance_type("inf1.xlarge").usd_per_hour == 0.228
    assert catalog.instance_type("inf2.xlarge").usd_per_hour == 0.7582
    assert catalog.instance_type("inf2.48xlarge").usd_per_hour == 12.98127
    assert catalog.instance_type("inf2.xlarge").host_mem_bytes == 16 * GIB


def test_unknown_names_raise_keyerror():
    """Unknown instance or chip names raise KeyError carrying the name."""
    with pytest.raises(KeyError, match="p9.huge"):
        catalog.instance_type("p9.huge")
    with pytest.raises(KeyError, match="tpu"):
        catalog.chip("tpu")


@pytest.mark.parametrize("name", ["inferentia", "inferentia2", "inferentia3"])
def test_array_and_clock_give_the_bf16_peak(name):
    """rows x cols x 2 FLOP x clock equals the listed bf16 peak per core."""
    c = catalog.chip(name)
    peak = c.array_rows * c.array_cols * 2 * c.clock_hz
    assert math.isclose(peak, c.bf16_flop_per_s_per_core, rel_tol=1e-6)


def test_chip_peaks_agree_with_published_chip_totals():
    """Per-core peaks times cores reproduce the published chip TFLOPS (Inf2 within 4%)."""
    inf1 = catalog.chip("inferentia")
    assert inf1.cores_per_chip * inf1.bf16_flop_per_s_per_core == pytest.approx(64e12)
    assert inf1.cores_per_chip * inf1.int8_flop_per_s_per_core == pytest.approx(128e12)
    inf2 = catalog.chip("inferentia2")
    assert inf2.cores_per_chip * inf2.bf16_flop_per_s_per_core == pytest.approx(190e12, rel=0.04)
    assert inf2.cores_per_chip * inf2.fp32_flop_per_s_per_core == pytest.approx(47.5e12, rel=0.04)


def test_dtype_rates():
    """inf1 autocasts fp32 to bf16; NC-v2 runs fp8 at bf16 and fp32 at 1/4; Inf3 fp4 = fp8 = 4x."""
    inf1, inf2, inf3 = (catalog.chip(n) for n in ("inferentia", "inferentia2", "inferentia3"))
    assert inf1.compute_dtype("fp32") == "bf16"
    assert inf1.rate_vs_bf16("fp32") == 1.0
    assert not inf1.supports("fp8")
    assert inf2.rate_vs_bf16("fp8") == 1.0
    assert inf2.rate_vs_bf16("fp32") == pytest.approx(0.25)
    assert not inf2.supports("fp4")
    assert inf3.rate_vs_bf16("fp8") == pytest.approx(4.0)
    assert inf3.rate_vs_bf16("fp4") == inf3.rate_vs_bf16("fp8")
    with pytest.raises(ValueError):
        inf2.compute_dtype("fp4")


def test_derived_helpers():
    """Per-core memory, price and bandwidth helpers follow from the row values."""
    inst = catalog.instance_type("inf2.48xlarge")
    assert inst.mem_bytes_per_core == 16 * GIB
    assert inst.usd_per_core_hour == pytest.approx(12.98127 / 24)
    assert inst.mem_bw_bytes_per_s == pytest.approx(12 * 820 * GIB)
    assert inst.peak_flop_per_s("bf16") == pytest.approx(24 * 91.7504e12)


def test_catalog_objects_are_frozen_and_hashable():
    """Chip and InstanceType are immutable values usable as dict keys."""
    inst = catalog.instance_type("inf1.xlarge")
    with pytest.raises(dataclasses.FrozenInstanceError):
        inst.usd_per_hour = 0.0  # type: ignore[misc]
    assert {inst: 1}[catalog.instance_type("inf1.xlarge")] == 1
    assert hash(inst.chip) == hash(catalog.chip("inferentia"))
