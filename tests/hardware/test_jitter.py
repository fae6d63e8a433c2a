"""Service-time jitter: the fit that writes jitter.csv, and the mean-1 lognormal factors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hardware import catalog
from hardware.calibration import jitter_fit
from hardware.catalog import instance_type_names
from hardware.catalog.data_files import data_file, data_rows
from hardware.timing.jitter import (
    JITTER_FILE,
    Z99,
    jitter_factors,
    lognormal_cv,
    lognormal_sigma,
    p99_over_p50,
    service_cv,
)
from hardware.timing.jitter import (
    jitter_fit as fit_of,
)

SERVING_CHIPS = sorted({catalog.instance_type(i).chip.name for i in instance_type_names()})
"""Chips an instance type runs on (calibration-only GPUs have no jitter row)."""


def test_fit_reproduces_the_shipped_csv():
    """python -m hardware.calibration.jitter_fit writes exactly the shipped jitter.csv."""
    shipped = data_file(JITTER_FILE).read_text("utf-8")
    assert jitter_fit.render(jitter_fit.fit()) == shipped


def test_every_chip_and_instance_has_a_cv():
    """Each chip of an instance type has a row; an instance type reads its chip's row."""
    for name in SERVING_CHIPS:
        assert 0.0 < service_cv(name) < 0.5, name
    for name in instance_type_names():
        assert fit_of(name) is fit_of(fit_of(name).chip)
    with pytest.raises(KeyError):
        service_cv("no-such-chip")


def test_inferentia3_is_projected_from_pooled_neuroncore_v2():
    """inf3 is flagged projected and uses the inf2 + trn1 rows; fitted chips are not."""
    inf3 = fit_of("inf3.xlarge")
    assert inf3.projected and inf3.basis == "projected"
    assert inf3.n_rows == fit_of("inferentia2").n_rows + fit_of("trainium").n_rows
    assert not any(fit_of(c).projected for c in ("inferentia", "inferentia2", "nvidia-t4"))


def test_factor_p99_over_p50_matches_the_median_of_the_rows():
    """The shipped cv gives a factor whose p99/p50 is the rows' median p99/p50."""
    for name in SERVING_CHIPS:
        fit = fit_of(name)
        assert p99_over_p50(fit.cv) == pytest.approx(fit.median_p99_p50, rel=1e-5), name
        assert fit.sigma == pytest.approx(lognormal_sigma(fit.cv), rel=1e-4)


def test_neuron_medians_are_the_published_spreads():
    """inf1 ~1.05, inf2 ~1.08, trn1 ~1.02 (issue 13), and inf2 above trn1."""
    assert fit_of("inferentia").median_p99_p50 == pytest.approx(1.045, abs=0.01)
    assert fit_of("inferentia2").median_p99_p50 == pytest.approx(1.078, abs=0.01)
    assert fit_of("trainium").median_p99_p50 == pytest.approx(1.020, abs=0.01)
    rows = jitter_fit.neuron_ratios()
    band = rows.chip.value_counts()
    assert band["inferentia2"] == fit_of("inferentia2").n_rows


def test_sigma_and_cv_are_inverse():
    """lognormal_sigma and lognormal_cv invert each other; cv < 0 is rejected."""
    for cv in (0.0, 0.01, 0.2, 1.5):
        assert lognormal_cv(lognormal_sigma(cv)) == pytest.approx(cv, abs=1e-12)
    with pytest.raises(ValueError):
        lognormal_sigma(-0.1)


def test_zero_cv_gives_exactly_one_and_draws_nothing():
    """cv = 0: every factor is exactly 1.0 and the stream is left untouched."""
    rng = np.random.default_rng(7)
    before = rng.bit_generator.state
    assert np.array_equal(jitter_factors(rng, 5, 0.0), np.ones(5))
    assert rng.bit_generator.state == before


@pytest.mark.parametrize("cv", [0.03, 0.2, 0.6])
def test_factors_have_mean_one_cv_and_ratio(cv):
    """Seeded draws: mean 1 within 5 standard errors; cv and p99/p50 within 2% of theory."""
    seed, n = 20261201, 400_000
    f = jitter_factors(np.random.default_rng(seed), n, cv)
    stderr = cv / math.sqrt(n)
    assert abs(f.mean() - 1.0) < 5 * stderr, f"seed {seed}: mean {f.mean()}"
    assert f.std() / f.mean() == pytest.approx(cv, rel=0.02), f"seed {seed}"
    ratio = np.quantile(f, 0.99) / np.median(f)
    assert ratio == pytest.approx(p99_over_p50(cv), rel=0.02 * cv), f"seed {seed}"
    assert np.median(f) == pytest.approx(math.exp(-0.5 * lognormal_sigma(cv) ** 2), rel=0.01)


def test_factors_are_the_documented_transform_of_normals():
    """A twin that draws the same normals computes the same factors."""
    cv = 0.1
    sigma = lognormal_sigma(cv)
    z = np.random.default_rng(3).standard_normal(4)
    expected = np.exp(sigma * z - sigma**2 / 2)
    assert np.array_equal(jitter_factors(np.random.default_rng(3), 4, cv), expected)


def _gpu_row(**kw):
    row = {
        "source": "s",
        "gpu": "T4",
        "software_stack": "TensorRT",
        "latency_avg_ms": np.nan,
        "latency_p50_ms": 1.0,
        "latency_p99_ms": 1.1,
        "notes": "",
    }
    return {**row, **kw}


def test_gpu_selection_keeps_one_batch_in_flight_only():
    """Queued (Online, concurrency > 1), HTTP end-to-end and non-monotonic rows are dropped."""
    rows = pd.DataFrame(
        [
            _gpu_row(),
            _gpu_row(notes="scenario=Online; concurrency=16"),
            _gpu_row(notes="scenario=Offline; concurrency=4"),
            _gpu_row(software_stack="TorchServe in AWS DLC"),
            _gpu_row(software_stack="MXNet (NGC)"),
            _gpu_row(latency_p99_ms=0.9),
            _gpu_row(gpu="A100-40GB"),
            _gpu_row(notes="scenario=Offline; concurrency=1", latency_p99_ms=1.2),
        ]
    )
    got = jitter_fit.gpu_ratios(rows)
    assert got.p99_p50.round(6).tolist() == [1.1, 1.2]


def test_gpu_means_are_converted_and_polluted_tables_dropped():
    """A mean-only row gives the lognormal's p99/p50; a table with mean > p99 is dropped."""
    sigma = 0.05
    p99_over_mean = math.exp(Z99 * sigma - sigma**2 / 2)
    rows = pd.DataFrame(
        [
            _gpu_row(
                source="a", latency_p50_ms=np.nan, latency_avg_ms=1.0, latency_p99_ms=p99_over_mean
            ),
            _gpu_row(source="b", latency_p50_ms=np.nan, latency_avg_ms=1.0, latency_p99_ms=1.3),
            _gpu_row(source="b", latency_p50_ms=np.nan, latency_avg_ms=1.0, latency_p99_ms=0.8),
        ]
    )
    got = jitter_fit.gpu_ratios(rows)
    assert got.p99_p50.tolist() == pytest.approx([math.exp(Z99 * sigma)])
    assert got.statistic.tolist() == ["mean"]


@pytest.mark.parametrize("name", [JITTER_FILE, jitter_fit.GPU_ROWS_FILE])
def test_jitter_data_files_carry_sources(name):
    """Every row of the jitter table and of the GPU rows names its source."""
    table = pd.DataFrame(data_rows(name))
    assert table.source.notna().all() and (table.source.str.strip() != "").all()
