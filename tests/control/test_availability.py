"""Theory: the failure controller's long-run availability is MTBF / (MTBF + MTTR)."""

from __future__ import annotations

from fakefleet import run_fleet
from helpers_control import pool, scenario

from analysis.abandonment import availability, availability_standard_error
from sim.control.controllers import controllers_for

Z = 3.29  # two-sided 99.9%: a correct controller fails this 1 time in 1000 seeds


def test_exponential_failures_give_the_renewal_availability():
    """40 instances over 10 days with MTBF 1 h, MTTR 10 min: the in-service share of time is
    within 3.29 standard errors (delta method) of 6/7. One SE is about 0.002, so an MTTR off
    by 10% (A = 0.8451) would fail."""
    mtbf_s, mttr_s, units, horizon_s, seed = 3600.0, 600.0, 40, 10 * 86400.0, 2026
    for replication in (0, 1):
        failures = {"mtbf": "1h", "mttr": "10m"}
        processes = controllers_for(
            scenario([pool("a", failures=failures)], seed=seed), replication
        )
        fleet = run_fleet([("a", units, None, 60.0, 1, None)], processes, horizon_s)
        instances = fleet.pool("a").all
        assert len(instances) == units  # repair never launches
        up_s = sum(_in_service_s(inst) for inst in instances)
        measured = up_s / (units * horizon_s)
        expected = availability(mtbf_s, mttr_s)
        se = availability_standard_error(mtbf_s, mttr_s, horizon_s, units=units)
        assert abs(measured - expected) < Z * se, (
            f"seed {seed} replication {replication}: availability {measured:.5f}, "
            f"expected {expected:.5f} +- {Z * se:.5f}"
        )


def _in_service_s(inst):
    inst._advance()  # account the time up to the end of the run
    return inst.in_service_s
