"""``fleetsim claims``: the table end to end (--quick), its files, and its errors."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from helpers import ROOT, needs_kernel
from typer.testing import CliRunner

from sim.claims.verdicts import VerdictKind
from sim.cli.commands import app

IDS = ["bert-large-inf1", "inferentia-cost", "alexa", "airbnb", "snap", "amazon-search",
       "inferentia3-efficiency"]  # fmt: skip
VERDICTS = {str(k) for k in VerdictKind}


def _check_table(out, rows_expected=7):
    """Every claim has a verdict, a figure, what was simulated, and a sensitivity line."""
    df = pd.read_parquet(out / "claims.parquet")
    assert list(df["id"]) == IDS[:rows_expected]
    assert set(df["verdict"]) <= VERDICTS
    for _, row in df.iterrows():
        assert row["explanation"], row["id"]
        assert math.isfinite(row["estimate"]), (row["id"], row["figure_text"])
        assert row["sensitivity_verdict"] in VERDICTS, row["id"]
        for column in ("model", "seq_lens", "load", "slo", "dtype", "hardware_model_version"):
            assert row[column], (row["id"], column)
    by_id = df.set_index("id")
    # findings that hold whatever the run length: the latency floor and the missing watts
    assert by_id.loc["bert-large-inf1", "verdict"] == "not plausible as stated"
    assert "27." in by_id.loc["bert-large-inf1", "explanation"]  # the ~27 ms batch-1 floor
    assert by_id.loc["inferentia3-efficiency", "verdict"] == "not testable"
    assert bool(by_id.loc["inferentia3-efficiency", "projected"])
    assert by_id.loc["airbnb", "gpu_stack"] == "tensorrt"
    text = (out / "claims.md").read_text()
    assert "## Method" in text and "Reproduce: `" in text
    assert all(f"### {claim_id}" in text for claim_id in IDS[:rows_expected])
    return df


@needs_kernel
def test_quick_claims_end_to_end(tmp_path):
    """--quick gives all seven claims a verdict and figures, prints the table, writes both files."""
    out = tmp_path / "claims"
    result = CliRunner().invoke(app, ["claims", "--quick", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "fleetsim claims" in result.output and "PROJECTED" in result.output
    _check_table(out)
    first = pd.read_parquet(out / "claims.parquet")
    again = CliRunner().invoke(app, ["claims", "--quick", "--quiet", "--out", str(out)])
    assert again.exit_code == 0, again.output  # re-uses every plan: the same table
    second = pd.read_parquet(out / "claims.parquet")
    assert second["figure_text"].tolist() == first["figure_text"].tolist()


@pytest.mark.slow
def test_full_claims_table(tmp_path):
    """The full table (about 10 minutes on 2 cores): every claim has a verdict with figures."""
    out = tmp_path / "claims"
    result = CliRunner().invoke(app, ["claims", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    df = _check_table(out)
    assert (df["replications"] >= 1).all()


def test_a_bad_claims_file_is_refused_and_nothing_is_written(tmp_path):
    """A broken claims file: exit 2, one message naming file, line and field; no claims.md."""
    bad = tmp_path / "claims.yaml"
    bad.write_text((ROOT / "scenarios" / "claims" / "claims.yaml").read_text()
                   .replace("    claimed: 0.45\n", "    claimed: -1\n"))  # fmt: skip
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["claims", "--claims", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert "claims[5].claimed" in result.output and "Traceback" not in result.output
    assert not (out / "claims.md").exists()


def test_scheduler_and_workers_together_are_refused(tmp_path):
    """--scheduler brings its own workers."""
    result = CliRunner().invoke(
        app, ["claims", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2", "--out",
              str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--scheduler" in result.output and "--workers" in result.output
