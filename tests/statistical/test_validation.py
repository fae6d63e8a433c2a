"""The engine against queueing theory (fast profile of ``fleetsim selfcheck``).

Every statistical check asserts that theory lies inside the 99% interval of the replication
means *and* that the half-width is at most 3% of the value, and prints seed, replication
count and interval. Little's law is checked on every validation run.
"""

from __future__ import annotations

import pytest

from sim import selfcheck as sc

FAST = sc.checks("fast")


@pytest.fixture(scope="module")
def runs():
    """Each distinct validation scenario, simulated once: name -> replications."""
    out = {}
    for check in FAST:
        name = check.scenario["name"]
        if name not in out:
            out[name] = sc.run_replications(check.scenario, check.replications, workers=2)
    return out


@pytest.mark.parametrize("check", FAST, ids=[c.name for c in FAST])
def test_against_theory(check, runs):
    """Theory inside the 99% interval of replication means, and the interval is narrow."""
    values = [check.statistic(df, r) for df, r in runs[check.scenario["name"]]]
    mean, half = sc.interval(values)
    result = sc.CheckResult(
        check.name,
        check.unit,
        check.theory,
        mean,
        half,
        check.replications,
        check.scenario["seed"],
    )
    print(result.describe())
    assert result.inside, result.describe()
    assert result.narrow, result.describe()


def test_littles_law_on_every_validation_run(runs):
    """On every replication: the engine's L equals the trace's sample-path L (to rounding),
    and L = lambda W within 0.5% (the finite window biases it by about 1e-4)."""
    for name, replications in runs.items():
        for i, (df, result) in enumerate(replications):
            exact = sc.little_sample_path_ratio(df, result)
            assert abs(exact - 1) < 1e-9, (
                name,
                i,
                exact,
                f"seed {replications and sc.scenario_seed(name)}",
            )
            ratio = sc.little_ratio(df, result)
            assert abs(ratio - 1) < 0.005, (
                name,
                i,
                ratio,
                f"seed {replications and sc.scenario_seed(name)}",
            )


def test_policy_ordering_at_high_load():
    """Same arrivals, utilisation 0.9: JSQ <= power of two <= round robin <= random (mean wait)."""
    waits = sc.policy_waits(rho=0.9, instances=8, requests=120_000, replications=2)
    print(waits, f"seeds {[sc.scenario_seed(f'policy-{p}') for p in waits]}")
    values = list(waits.values())
    assert values == sorted(values), waits
    # random balancing is k independent M/M/1 queues: mean wait rho/(mu - lambda/k) = 9 ms
    assert waits["random"] == pytest.approx(0.009, rel=0.2)


def test_interval_is_a_t_interval():
    """interval() returns the mean and the 99% Student-t half-width."""
    mean, half = sc.interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert half == pytest.approx(9.925 * 1.0 / 3**0.5, rel=1e-3)
