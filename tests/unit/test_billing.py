"""Exact checks of analysis.billing on hand-built instance lifetimes."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa
import pytest

from analysis import billing
from analysis.instance_schema import COLUMNS, SCHEMA

NAN = math.nan


def _lifetimes(rows):
    """A DataFrame in the instances.parquet schema from (id, lifecycle, req, ready, end, usd/h)."""
    records = [
        {
            "pool": "nlu",
            "instance_id": i,
            "zone": "us-east-1a",
            "lifecycle": kind,
            "requested_s": req,
            "ready_s": ready,
            "terminated_s": end,
            "reason": "end",
            "usd_per_hour": price,
        }
        for i, kind, req, ready, end, price in rows
    ]
    return pa.Table.from_pylist(records, schema=SCHEMA).to_pandas()


FLEET = _lifetimes(
    [
        (0, "on_demand", 0.0, 50.0, 3600.0, 0.76),  # the whole hour
        (1, "on_demand", 100.0, NAN, 130.0, 0.76),  # 30 s: failed before ready
        (2, "spot", 600.0, 650.0, 1800.0, 0.30),  # 20 min at spot price
        (3, "spot", 1800.0, 1850.0, 3600.0, 0.30),  # replaces 2 at the same instant
    ]
)


def test_schema_names_are_the_columns():
    """The pyarrow schema and the column tuple name the same columns in the same order."""
    assert tuple(SCHEMA.names) == COLUMNS


def test_billing_is_per_second_with_a_60_second_minimum():
    """Billed s: 3600, 60 (30 s rounded up to the minimum), 1200, 1800; cost by hand."""
    fleet = FLEET.copy()
    assert billing.billed_s(fleet).tolist() == [3600.0, 60.0, 1200.0, 1800.0]
    on_demand = (3600 + 60) / 3600 * 0.76
    spot = (1200 + 1800) / 3600 * 0.30
    assert billing.cost_by_lifecycle_usd(fleet) == pytest.approx(
        {"on_demand": on_demand, "spot": spot}, rel=1e-15
    )
    assert billing.cost_usd(fleet) == pytest.approx(on_demand + spot, rel=1e-15)


def test_instance_hours_and_fleet_size_are_exact_step_functions():
    """Instance-s 3600 + 30 + 1200 + 1800; peak 2 (#3 replaces #2 at 1800: never 3 at once)."""
    fleet = FLEET.copy()
    assert billing.instance_s(fleet) == 6630.0
    times, counts = billing.fleet_size_steps(fleet)
    assert times.tolist() == [0.0, 100.0, 130.0, 600.0, 1800.0, 3600.0]
    assert counts.tolist() == [1, 2, 1, 2, 2, 0]
    mean, peak = billing.fleet_size(fleet)
    assert (mean, peak) == (6630.0 / 3600.0, 2)
    # a window [1000, 2000): 1000 s of #0, 800 of #2, 200 of #3; peak 2
    assert billing.instance_s(fleet, 1000.0, 2000.0) == 2000.0
    assert billing.fleet_size(fleet, 1000.0, 2000.0) == (2.0, 2)
    # a window that starts inside the overlap: value at its start counts, at its end not
    assert billing.fleet_size(fleet, 110.0, 600.0)[1] == 2
    assert billing.fleet_size(fleet, 130.0, 600.0)[1] == 1
    # in service: #0 from 50, #2 from 650, #3 from 1850
    assert billing.instance_s(fleet, state="serving") == 3550.0 + 1150.0 + 1750.0


def test_availability_is_in_service_time_over_billed_time():
    """(3550 + 1150 + 1750) / (3600 + 30 + 1200 + 1800); never-ready time counts as down."""
    fleet = FLEET.copy()
    assert billing.availability_share(fleet) == pytest.approx(6450.0 / 6630.0, rel=1e-15)


def test_summary_keys_and_values():
    """fleet_summary gathers the figures the run summary adds."""
    fleet = FLEET.copy()
    out = billing.fleet_summary(fleet)
    assert out["instance_hours"] == 6630.0 / 3600.0
    assert out["fleet_size_peak"] == 2.0
    assert out["cost_usd"] == pytest.approx(out["cost_on_demand_usd"] + out["cost_spot_usd"])
    assert out["availability"] == pytest.approx(6450.0 / 6630.0)


def test_empty_fleet():
    """No instance: zero cost, zero size, NaN availability."""
    empty = pd.DataFrame({c: [] for c in COLUMNS})
    assert billing.cost_usd(empty) == 0.0
    assert billing.fleet_size(empty) == (0.0, 0)
    assert math.isnan(billing.availability_share(empty))


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("lifecycle", "reserved", "lifecycle"),
        ("terminated_s", -1.0, "terminated_s"),
        ("ready_s", 99999.0, "ready_s"),
        ("usd_per_hour", -0.1, "usd_per_hour"),
    ],
)
def test_malformed_lifetimes_are_rejected(column, value, match):
    """A bad value raises ValueError naming the column."""
    fleet = FLEET.astype({"lifecycle": str})
    fleet.loc[0, column] = value
    with pytest.raises(ValueError, match=match):
        billing.cost_usd(fleet)
