"""Claim verdicts: pure functions of hand-made figures (sim.claims.verdicts), every branch."""

from __future__ import annotations

import math

import pytest

from sim.claims import verdicts as v
from sim.claims.intervals import replication_interval

K = v.VerdictKind


def fig(estimate, low=math.nan, high=math.nan, unit="fraction"):
    return v.Figure("cost saving", estimate, low, high, unit, "replications (3), paired", 3)


@pytest.mark.parametrize(
    ("estimate", "low", "high", "kind", "borderline"),
    [
        (0.50, 0.48, 0.52, K.reproduced, False),  # clearly above 0.40
        (0.40, 0.39, 0.41, K.reproduced, False),  # at the claim
        (0.35, 0.30, 0.40, K.reproduced, True),  # exactly at the threshold 0.40 - 0.05
        (0.36, 0.33, 0.39, K.reproduced, True),  # above, interval reaches below
        (0.34, 0.33, 0.345, K.not_reproduced, False),  # just short, interval too
        (0.34, 0.30, 0.38, K.not_reproduced, True),  # short, interval reaches above
        (-0.2, -0.3, -0.1, K.not_reproduced, False),  # Inferentia dearer
        (0.90, math.nan, math.nan, K.reproduced, False),  # no interval (one replication)
    ],
)
def test_at_least(estimate, low, high, kind, borderline):
    """Reproduced iff the estimate reaches claimed - tolerance; borderline when straddling."""
    verdict = v.at_least(fig(estimate, low, high), 0.40, 0.05, "40%")
    assert verdict.kind is kind
    assert ("borderline" in verdict.explanation) is borderline
    assert fig(estimate).show() in verdict.explanation  # the simulated figure is given
    assert "40%" in verdict.explanation


def test_at_least_without_a_figure():
    """No figure (no fleet met the SLO) is not reproduced, and says so."""
    verdict = v.at_least(fig(math.nan), 0.40, 0.05, "40%")
    assert verdict.kind is K.not_reproduced
    assert "no simulated" in verdict.explanation


def test_at_least_in_requests_per_second():
    """A throughput claim: 10,000 req/s with a 10% tolerance (threshold 9,000)."""
    made = v.Figure("largest rate", 9_000.0, 9_000.0, 9_500.0, "req/s")
    assert v.at_least(made, 10_000, 1_000, "10,000 req/s").kind is K.reproduced
    short = v.Figure("largest rate", 8_999.0, 8_999.0, 9_500.0, "req/s")
    verdict = v.at_least(short, 10_000, 1_000, "10,000 req/s")
    assert verdict.kind is K.not_reproduced
    assert "8,999 req/s" in verdict.explanation


@pytest.mark.parametrize(
    ("estimate", "kind"), [(1.5, K.reproduced), (2.0, K.reproduced), (2.01, K.not_reproduced)]
)
def test_at_most(estimate, kind):
    """A latency bound: reproduced iff the estimate is at most the claim."""
    verdict = v.at_most(v.Figure("p99", estimate, unit="ms"), 2.0, "under 2 ms")
    assert verdict.kind is kind
    assert f"{estimate:.2f} ms" in verdict.explanation
    assert v.at_most(v.Figure("p99", math.nan, unit="ms"), 2.0, "x").kind is K.not_reproduced


def test_impossible_gives_the_figure_and_the_reason():
    """Not plausible as stated names the figure that makes it so and why."""
    floor = v.Figure("latency floor", 27.49, unit="ms")
    verdict = v.impossible(floor, "under 2 ms", "one request alone takes longer")
    assert verdict.kind is K.not_plausible
    assert "27.49 ms" in verdict.explanation and "under 2 ms" in verdict.explanation
    assert "one request alone" in verdict.explanation


def test_untestable_keeps_the_reason():
    """Not testable carries its reason verbatim."""
    verdict = v.untestable("no published watts for inferentia3")
    assert verdict == v.Verdict(K.not_testable, "no published watts for inferentia3")


@pytest.mark.parametrize(
    ("kinds", "worst"),
    [
        ([K.reproduced, K.reproduced], K.reproduced),
        ([K.reproduced, K.not_reproduced], K.not_reproduced),
        ([K.not_reproduced, K.not_plausible, K.reproduced], K.not_plausible),
        ([K.not_plausible, K.not_testable], K.not_testable),
    ],
)
def test_combine_takes_the_worst_part(kinds, worst):
    """A claim of several parts takes its worst part's verdict and names the failing parts."""
    parts = [(f"part{i}", v.Verdict(k, f"why{i}")) for i, k in enumerate(kinds)]
    verdict = v.combine(parts)
    assert verdict.kind is worst
    for i, k in enumerate(kinds):
        shown = f"part{i}: why{i}" in verdict.explanation
        assert shown is (k is not K.reproduced or worst is K.reproduced)


def test_combine_needs_a_part():
    """An empty claim is a programming error."""
    with pytest.raises(ValueError, match="at least one part"):
        v.combine([])


def test_flips():
    """The sensitivity line flips exactly when the verdict kind changes."""
    a, b = v.Verdict(K.reproduced, "x"), v.Verdict(K.reproduced, "y")
    assert not v.flips(a, b)
    assert v.flips(a, v.Verdict(K.not_reproduced, "x"))


@pytest.mark.parametrize(
    ("unit", "value", "text"),
    [
        ("fraction", 0.4512, "45.1%"),
        ("req/s", 10250.4, "10,250 req/s"),
        ("ms", 27.4912, "27.49 ms"),
        ("USD/h", 0.362, "$0.362/h"),
        ("x", 2.587, "2.59 x"),
    ],
)
def test_figure_text(unit, value, text):
    """Figures print in their unit, with the interval in brackets when there is one."""
    assert str(v.Figure("f", value, unit=unit)) == text
    assert str(v.Figure("f", value, value, value, unit)) == f"{text} [{text}, {text}]"


def test_replication_interval_against_a_hand_computation():
    """Student t with n-1 degrees of freedom: values 1, 2, 3 -> 2 +/- t(0.975, 2) / sqrt(3)."""
    estimate, low, high, method, n = replication_interval([1.0, 2.0, 3.0])
    p = 0.975  # the t quantile with 2 degrees of freedom in closed form: (2p-1)/sqrt(2p(1-p))
    half = (2 * p - 1) / math.sqrt(2 * p * (1 - p)) / math.sqrt(3)
    assert (estimate, n, method) == (2.0, 3, "replications (3)")
    assert low == pytest.approx(2.0 - half, rel=1e-12)
    assert high == pytest.approx(2.0 + half, rel=1e-12)
    one = replication_interval([5.0, math.nan])
    assert one[0] == 5.0 and math.isnan(one[1]) and one[4] == 1
    assert math.isnan(replication_interval([])[0])


def test_exact_figures_are_called_hardware_model_figures():
    """A figure from the hardware model is not called simulated."""
    exact = v.Figure("full-load throughput", 1284.0, unit="req/s")
    assert v.at_least(exact, 1500, 0, "1,500/s").explanation.startswith("hardware-model ")
    assert v.at_least(fig(0.5, 0.4, 0.6), 0.4, 0.05, "40%").explanation.startswith("simulated ")
