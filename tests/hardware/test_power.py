"""Power figures: a source or a basis flag each; inf3's derived from Trainium, not the claim."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hardware import catalog
from hardware.calibration import power_projection
from hardware.catalog import power
from hardware.planning import cost_tables

ROOT = Path(__file__).resolve().parents[2]
POWER_CSV = ROOT / "hardware" / "data" / "power.csv"
# The first word of the reasoning of each basis (a flag a reader sees in every report).
REASONING_TAG = {"estimate": "ESTIMATE", "projected": "PROJECTED", "unavailable": "NOT AVAILABLE"}


@pytest.fixture
def table_from(monkeypatch):
    """Replace power.csv's rows (as dicts) for one test; the cache is cleared both ways."""

    def use(rows: list[dict[str, str]]) -> None:
        monkeypatch.setattr(power, "data_rows", lambda name: rows)
        power._table.cache_clear()

    yield use
    power._table.cache_clear()


def _rows() -> list[dict[str, str]]:
    table = pd.read_csv(POWER_CSV, comment="#", dtype=str, keep_default_na=False)
    return table.to_dict("records")


@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["chip"])
def test_every_watt_figure_has_a_source_or_a_basis_flag(row):
    """A published figure cites a document (a URL); any other is flagged in basis and text."""
    assert row["source"].strip() and row["reasoning"].strip()
    assert row["basis"] in power.BASES
    if row["basis"] == "published":
        assert row["watts_per_chip"] and re.search(r"https?://", row["source"]), row
        assert "estimate" not in row["reasoning"].lower()
    else:
        assert row["reasoning"].startswith(REASONING_TAG[row["basis"]]), row
    assert (row["watts_per_chip"] == "") == (row["basis"] == "unavailable")


@pytest.mark.parametrize("name", catalog.instance_type_names())
def test_every_instance_type_has_a_power_row(name):
    """Each instance has a row for its chip: chips x watts, or None where not available."""
    inst = catalog.instance_type(name)
    figure = power.chip_power(inst.chip.name)
    assert figure.projected == inst.projected
    if figure.available:
        assert power.instance_watts(inst) == pytest.approx(inst.chips * figure.watts)
    else:
        assert power.instance_watts(inst) is None and figure.basis == "unavailable"


def test_no_neuron_chip_claims_a_published_figure():
    """AWS publishes no Inferentia or Trainium power: none of them may say published."""
    neuron = [n for n in power.power_names() if n.startswith(("inferentia", "trainium"))]
    assert {"inferentia", "inferentia2", "inferentia3", "trainium", "trainium3"} <= set(neuron)
    assert all(power.chip_power(n).basis != "published" for n in neuron)


def test_shipped_inf3_row_is_the_trainium_derivation():
    """power.csv's inferentia3 row is what derive_inf3_power makes of the Trainium3 row."""
    derived, stored = power_projection.derive_inf3_power(), power.chip_power("inferentia3")
    assert (derived.watts, derived.basis) == (stored.watts, stored.basis) == (None, "unavailable")
    assert stored.projected


def test_inf3_power_follows_a_trainium3_figure(table_from):
    """With a (hypothetical) Trainium3 figure the derivation is half of it, whatever inf2 draws."""
    rows = _rows()
    trn3 = next(r for r in rows if r["chip"] == "trainium3")
    trn3.update(watts_per_chip="1000", basis="estimate", reasoning="ESTIMATE: test figure")
    table_from(rows)
    derived = power_projection.derive_inf3_power()
    assert derived.watts == pytest.approx(500.0) and derived.basis == "projected"
    inf2 = next(r for r in rows if r["chip"] == "inferentia2")
    inf2["watts_per_chip"] = "999"
    table_from(rows)
    assert power_projection.derive_inf3_power().watts == pytest.approx(500.0)


@pytest.mark.parametrize("claim", [0.5, 2.0, 3.0, None])
def test_inf3_power_does_not_use_the_perf_per_watt_claim(monkeypatch, claim):
    """Changing the '2x perf/W' claim constant, or deleting it, leaves the figure unchanged."""
    before = power_projection.derive_inf3_power()
    if claim is None:
        monkeypatch.delattr(power_projection, "CLAIMED_INF3_PERF_PER_WATT_RATIO")
    else:
        monkeypatch.setattr(power_projection, "CLAIMED_INF3_PERF_PER_WATT_RATIO", claim)
    assert power_projection.derive_inf3_power() == before
    assert "CLAIMED" not in inspect.getsource(power_projection.derive_inf3_power)


def test_claim_break_even_is_reported_not_used():
    """The claim's break-even watts scale with the claim; the stored figure does not."""
    two = power_projection.claim_break_even_watts(claimed_ratio=2.0)
    assert power_projection.claim_break_even_watts(claimed_ratio=4.0) == pytest.approx(two / 2)
    assert 100.0 < two < 400.0  # 160 W x the modelled inf3/inf2 speed-up (~2.6) / 2
    assert power.chip_power("inferentia3").watts is None


def test_unavailable_power_is_nan_in_cost_tables_and_none_in_perf_per_watt():
    """inf3 rows carry NaN watts and inferences per joule with basis 'unavailable'."""
    rows = cost_tables.table("bert-base", "inf3.xlarge", 128, "bf16", 1, [1, 8])
    assert (rows.power_basis == "unavailable").all()
    assert rows.instance_watts.isna().all() and rows.inferences_per_j.isna().all()
    assert np.isfinite(rows.usd_per_million).all()  # cost is still reported
    assert power_projection.inferences_per_joule("inf3.xlarge") is None
    assert power_projection.perf_per_watt_ratio("inf3.xlarge", "inf2.xlarge") is None
    ok = power_projection.perf_per_watt_ratio("inf2.xlarge", "inf1.xlarge")
    assert ok is not None and ok > 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"basis": "unavailable"}, "empty exactly when"),
        ({"watts_per_chip": ""}, "empty exactly when"),
        ({"source": " "}, "a reasoning and a source"),
        ({"basis": "guess"}, "basis must be one of"),
        ({"basis": "projected"}, "projected chip"),
        ({"watts_per_chip": "-5"}, "must be > 0"),
    ],
)
def test_bad_power_rows_fail_at_load(table_from, change, message):
    """A figure without a source, with an unknown basis or inconsistent watts is refused."""
    rows = _rows()
    next(r for r in rows if r["chip"] == "nvidia-t4").update(change)
    table_from(rows)
    with pytest.raises(ValueError, match=message):
        power.chip_power("nvidia-t4")


def test_docs_power_table_matches_power_csv():
    """docs/hardware.md's power table shows every chip's watts and basis as power.csv has them."""
    text = (ROOT / "docs" / "hardware.md").read_text(encoding="utf-8")
    section = text[text.index("## Power") :]
    shown = {}
    table = section[section.index("| chip | watts | basis |") :]
    for line in table.splitlines()[2:]:
        if not line.startswith("| "):
            break
        chips, watts, basis = (cell.strip() for cell in line.strip("|").split("|")[:3])
        for chip in chips.split(", "):
            shown[chip] = (watts, basis.strip("*"))
    expected = {
        name: ("n/a" if p.watts is None else f"{p.watts:g}", p.basis)
        for name in power.power_names()
        for p in [power.chip_power(name)]
    }
    assert shown == expected
