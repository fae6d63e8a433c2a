"""Cold start (sim.policies.coldstart): parts by hand for bert-base on inf2.xlarge, overrides,
bandwidth units and the family defaults."""

from __future__ import annotations

import pytest
from helpers import scenario
from pydantic import ValidationError

from hardware import catalog, zoo
from sim.policies.coldstart import (
    FAMILY_DEFAULTS,
    ColdStartConfig,
    cold_start_parts,
    cold_start_s,
    family_defaults,
    parse_bytes_per_s,
    pool_cold_start,
)

# BERT-base by hand (Hugging Face bert-base-uncased: vocab 30522, 512 positions, 2 token
# types, hidden 768, 12 layers, FFN 3072, pooler): embeddings + LayerNorm, 12 layers of
# Q/K/V/O + FFN + two LayerNorms, pooler.
H, F = 768, 3072
BERT_BASE_PARAMS = (
    (30522 + 512 + 2) * H + 2 * H
    + 12 * (4 * (H * H + H) + (H * F + F) + (F * H + H) + 2 * 2 * H)
    + H * H + H
)  # fmt: skip


def bert_inf2(**pool) -> tuple:
    """A one-pool scenario on inf2.xlarge serving bert-base (or ``pool``'s changes)."""
    model = pool.get("model", "bert-base")
    sc = scenario({
        "name": "cold", "seed": 1, "duration": "10s",
        "workload": {"arrivals": {"kind": "poisson", "rate": 10},
                     "mix": [{"model": model}]},
        "fleet": [{"name": "nlu", "instance": "inf2.xlarge", "count": 1,
                   **{"model": model, **pool}}],
        "slo": {"percentile": 99, "target": "100ms"},
    })  # fmt: skip
    return sc.fleet[0], sc


def test_bert_base_on_inf2_xlarge_by_hand():
    """bf16 weights 2 x 109,482,240 B = 218,964,480 B at 1 GB/s: 0.21896448 s; + 40 s + 10 s."""
    assert BERT_BASE_PARAMS == 109_482_240 == zoo.model("bert-base").params
    pool, sc = bert_inf2()
    parts = pool_cold_start(pool, sc)
    assert parts.weight_bytes == 2 * BERT_BASE_PARAMS == 218_964_480
    assert parts.load_bytes_per_s == 1e9
    assert parts.load_s == pytest.approx(0.21896448, rel=1e-15)
    assert (parts.provision_s, parts.runtime_init_s) == (40.0, 10.0)
    assert parts.total_s == pytest.approx(50.21896448, rel=1e-15)
    assert cold_start_s(pool, sc) == parts.total_s
    assert "nrt_init" in parts.source and "gp3" in parts.source


def test_configured_parts_override_the_defaults_one_by_one():
    """fp32 at 125 MiB/s, provision 90 s, runtime init left at 10 s."""
    pool, sc = bert_inf2(dtype="fp32")
    config = ColdStartConfig.model_validate({"provision": "90s", "load_bandwidth": "125MiB/s"})
    parts = pool_cold_start(pool, sc, config)
    assert parts.weight_bytes == 4 * BERT_BASE_PARAMS
    assert parts.load_s == pytest.approx(4 * BERT_BASE_PARAMS / (125 * 2**20), rel=1e-15)
    assert (parts.provision_s, parts.runtime_init_s) == (90.0, 10.0)
    zero = ColdStartConfig.model_validate({"provision": 0, "runtime_init": "0s"})
    assert pool_cold_start(pool, sc, zero).total_s == parts.weight_bytes / 1e9


def test_a_synthetic_label_loads_nothing():
    """A model known only to synthetic pools has no weights: provision + runtime init only."""
    pool, sc = bert_inf2(model="echo", service={"kind": "exponential", "mean": "10ms"})
    parts = pool_cold_start(pool, sc)
    assert (parts.weight_bytes, parts.load_s, parts.total_s) == (0, 0.0, 50.0)


@pytest.mark.parametrize(
    ("text", "bytes_per_s"),
    [("1GB/s", 1e9), ("500 MB/s", 5e8), ("2GiB/s", 2 * 2**30), ("125MiB / s", 125 * 2**20)],
)
def test_bandwidths_parse(text, bytes_per_s):
    """Decimal and binary units, spaces allowed."""
    assert parse_bytes_per_s(text) == bytes_per_s


@pytest.mark.parametrize("text", ["1GB", "1 GB/h", "-1GB/s", "0GB/s", "fast", 1e9])
def test_bad_bandwidths_are_rejected_with_the_value(text):
    """A bandwidth needs bytes with a unit, per second, positive; the error names it."""
    with pytest.raises(ValidationError) as caught:
        ColdStartConfig.model_validate({"load_bandwidth": text})
    assert "load_bandwidth" in str(caught.value) and "1GB/s" in str(caught.value)


def test_config_round_trips_and_rejects_unknown_keys():
    """model_dump gives values the validator reads back; a typo names the right key."""
    config = ColdStartConfig.model_validate(
        {"provision": "40s", "runtime_init": "10s", "load_bandwidth": "1GB/s"}
    )
    assert ColdStartConfig.model_validate(config.model_dump()) == config
    with pytest.raises(ValidationError, match="did you mean 'provision'"):
        ColdStartConfig.model_validate({"provisioning": "40s"})


def test_every_catalog_family_has_sourced_defaults():
    """Every instance family in the catalog has defaults, each with its reasoning."""
    families = {catalog.instance_type(n).family for n in catalog.instance_type_names()}
    assert families <= set(FAMILY_DEFAULTS)
    for family, defaults in FAMILY_DEFAULTS.items():
        assert defaults.source and defaults.provision_s > 0, family
    assert family_defaults("g5.xlarge").runtime_init_s == 5.0
    parts = cold_start_parts(None, "inf1.xlarge", zoo.model("bert-base"), "fp16")
    assert parts.total_s == 50.0 + 2 * BERT_BASE_PARAMS / 1e9
