"""Instance availability in the engine against MTBF / (MTBF + MTTR).

A scenario with exponential failures and repairs (``failures: {mtbf, mttr}``) and nothing
else acting on the fleet, run end to end: the summary's ``availability`` (instance-time in
service over instance-time billed, from ``instances.parquet``) must be within 3.29 standard
errors (99.9%) of the renewal-reward value, and that interval must be tight enough to
fail if the repair time were 10% longer. Weibull up times (shape 2) have the same mean and
availability. Runs on whichever engine is built.
"""

from __future__ import annotations

import math

import pytest
from helpers import scenario

from analysis.abandonment import availability, availability_standard_error, weibull_cv2
from sim.engine.runner import simulate

MTBF_S, MTTR_S, UNITS, DAYS = 3600.0, 600.0, 40, 15


def run(tmp_path, failures: dict) -> dict:
    """The summary of 40 instances with these failures for 15 days of light traffic."""
    data = {
        "name": "availability",
        "seed": 31,
        "duration": f"{DAYS}d",
        "workload": {
            "arrivals": {"kind": "poisson", "rate": 0.02},
            "mix": [{"model": "m", "weight": 1, "seq_len": 16}],
        },
        "fleet": [
            {
                "name": "p",
                "instance": "inf2.xlarge",
                "count": UNITS,
                "model": "m",
                "service": {"kind": "deterministic", "base": "1ms"},
                "failures": failures,
            }
        ],
        "slo": {"target": "1s"},
    }
    return simulate(scenario(data), tmp_path / "requests.parquet").metrics


@pytest.mark.parametrize(
    "failures, up_cv2",
    [
        ({"mtbf": "1h", "mttr": "10m", "distribution": "exponential"}, 1.0),
        ({"mtbf": "1h", "mttr": "10m", "distribution": "weibull", "shape": 2.0}, weibull_cv2(2.0)),
    ],
    ids=["exponential", "weibull"],
)
def test_availability_matches_renewal_reward(tmp_path, failures, up_cv2):
    """Within 3.29 standard errors of MTBF/(MTBF+MTTR); the interval excludes a 10% MTTR
    error."""
    measured = run(tmp_path, failures)["availability"]
    want = availability(MTBF_S, MTTR_S)
    se = availability_standard_error(MTBF_S, MTTR_S, DAYS * 86400.0, up_cv2=up_cv2,
                                     units=UNITS)  # fmt: skip
    assert abs(measured - want) <= 3.29 * se, (measured, want, se)
    assert abs(availability(MTBF_S, 1.1 * MTTR_S) - want) > 2 * 3.29 * se
    assert math.isfinite(measured)
