"""Host cost: the shipped defaults, the accessor, and the measurement that writes them."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from hardware.calibration import host_fit
from hardware.catalog.data_files import data_file
from hardware.timing.host import HOST_FILE, HostCost, host_cost, host_parameters


def shipped() -> dict[str, float]:
    text = data_file(HOST_FILE).read_text("utf-8").splitlines()
    rows = csv.DictReader(line for line in text if not line.startswith("#"))
    return {r["parameter"]: float(r["value"]) for r in rows}


def test_accessor_matches_the_csv():
    """host_cost(n) = fixed + per_token * n + request overhead; per batch as shipped."""
    p = shipped()
    for n in (16, 128, 512):
        per_request, per_batch = host_cost(n)
        expected = p["tokenise_fixed_s"] + p["tokenise_per_token_s"] * n + p["request_overhead_s"]
        assert per_request == pytest.approx(expected, rel=1e-12)
        assert per_batch == p["per_batch_s"]


def test_per_request_cost_grows_with_tokens_and_is_vectorised():
    """Longer requests cost more; an array of lengths gives an array of the same shape."""
    lengths = np.array([16, 32, 64, 128, 256, 512])
    per_request, _ = host_cost(lengths)
    assert per_request.shape == lengths.shape
    assert np.all(np.diff(per_request) > 0)
    assert per_request[2] == host_cost(64)[0]
    assert isinstance(host_cost(64)[0], float)
    with pytest.raises(ValueError):
        host_cost(-1)


def test_defaults_are_plausible_host_times():
    """Per request 0.05-5 ms at 128 tokens, per batch 10 us-2 ms (seconds of one vCPU)."""
    per_request, per_batch = host_cost(128)
    assert 5e-5 < per_request < 5e-3
    assert 1e-5 < per_batch < 2e-3


def test_measured_points_lie_on_the_fitted_line():
    """The shipped line is fitted to the shipped points (within 35% at each length)."""
    p = shipped()
    points = {int(k.rsplit("_", 1)[1]): v for k, v in p.items() if k.startswith("tokenise_s_at")}
    assert sorted(points) == list(host_fit.SEQ_LENS)
    params = host_parameters()
    for n, seconds in points.items():
        line = params.tokenise_fixed_s + params.tokenise_per_token_s * n
        assert line == pytest.approx(seconds, rel=0.35), n


def test_csv_names_the_machine_and_the_published_figures_reproduce():
    """The header names CPU, tokenizers version and date; the overheads follow from the rows."""
    header = [line for line in data_file(HOST_FILE).read_text("utf-8").splitlines() if "#" in line]
    assert any("tokenizers" in line and "machine:" in line for line in header)
    published = host_fit.triton_overheads()
    p = shipped()
    assert p["request_overhead_s"] == pytest.approx(published["request_overhead_s"], rel=1e-3)
    assert p["per_batch_s"] == pytest.approx(published["per_batch_s"], rel=1e-3)
    assert published["ensemble_host_s"] > p["request_overhead_s"]  # the whole-path cross-check


def test_fit_line_recovers_a_line():
    """A noiseless a + b * tokens gives back a and b."""
    tokens = np.array(host_fit.SEQ_LENS, dtype=float)
    points = pd.DataFrame({"tokens": tokens, "tokenise_s": 5e-6 + 1.5e-6 * tokens})
    a, b = host_fit.fit_line(points)
    assert a == pytest.approx(5e-6, rel=1e-6) and b == pytest.approx(1.5e-6, rel=1e-6)


def test_host_cost_rejects_negative_parameters():
    """A negative cost is a data error."""
    with pytest.raises(ValueError):
        HostCost(1e-6, -1e-6, 1e-4, 1e-4)


def test_measurement_runs_in_fast_mode(tmp_path):
    """python -m hardware.calibration.host_fit --fast writes a readable host_cost file."""
    pytest.importorskip("tokenizers", reason="tokenizers is in the calibrate extra, not test")
    out = tmp_path / "host_cost.csv"
    assert host_fit.main(["--fast", "--out", str(out)]) == 0
    text = out.read_text("utf-8").splitlines()
    rows = {r["parameter"]: float(r["value"]) for r in csv.DictReader(text[5:])}
    assert rows["tokenise_per_token_s"] > 0
    times = [rows[f"tokenise_s_at_{n}"] for n in host_fit.SEQ_LENS]
    assert times[-1] > 4 * times[0]  # 512 tokens take longer than 16
