"""Confidence intervals: Student t over replications, batch means around a whole-run estimate.

Every expected number is written out (t quantiles from tables), so a wrong formula fails.
"""

from __future__ import annotations

import math

import pytest

from analysis import Interval, batch_means_interval, replication_interval

T_975 = {2: 4.302653, 3: 3.182446, 4: 2.776445, 19: 2.093024}  # t_{df, 0.975}, from tables


def test_replication_interval_is_the_t_interval_of_the_mean():
    """[1, 2, 3]: mean 2, s = 1, half-width t_2 / sqrt(3) = 2.4841."""
    interval = replication_interval([1.0, 2.0, 3.0])
    assert interval.estimate == 2.0
    assert interval.half_width == pytest.approx(T_975[2] / math.sqrt(3), rel=1e-6)
    assert (interval.method, interval.n, interval.confidence) == ("replications (3)", 3, 0.95)
    assert interval.reason == ""


def test_replication_interval_at_another_confidence():
    """At 90% the quantile is t_{2, 0.95} = 2.919986."""
    interval = replication_interval([1.0, 2.0, 3.0], confidence=0.9)
    assert interval.half_width == pytest.approx(2.919986 / math.sqrt(3), rel=1e-6)
    assert interval.confidence == 0.9


def test_one_replication_has_no_interval_and_says_why():
    """One value: the estimate, NaN ends, and the reason."""
    interval = replication_interval([5.0])
    assert interval.estimate == 5.0 and math.isnan(interval.low) and math.isnan(interval.high)
    assert "one replication" in interval.reason
    assert str(interval) == "5 [no interval]"


def test_a_failed_replication_makes_the_interval_missing():
    """A NaN value (a failed run) is not silently dropped."""
    interval = replication_interval([1.0, math.nan, 3.0])
    assert math.isnan(interval.low) and "1 of 3 replications have no value" in interval.reason


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, -0.1])
def test_confidence_outside_zero_one_is_refused(confidence):
    """The error names the argument and the value."""
    with pytest.raises(ValueError, match=rf"confidence must be between 0 and 1.*{confidence}"):
        replication_interval([1.0, 2.0], confidence=confidence)
    with pytest.raises(ValueError, match="confidence"):
        batch_means_interval([1.0, 2.0], 1.5, confidence=confidence)


def test_no_values_is_refused():
    """An empty list is an error, not a NaN."""
    with pytest.raises(ValueError, match="at least one value"):
        replication_interval([])


def test_batch_means_interval_is_centred_on_the_estimate():
    """Batches [1, 2, 3, 4] (s = 1.2910), estimate 2.6: 2.6 +/- t_3 s / 2."""
    interval = batch_means_interval([1.0, 2.0, 3.0, 4.0], 2.6)
    half = T_975[3] * math.sqrt(5.0 / 3.0) / 2.0
    assert interval.estimate == 2.6
    assert interval.low == pytest.approx(2.6 - half, rel=1e-6)
    assert interval.high == pytest.approx(2.6 + half, rel=1e-6)
    assert (interval.method, interval.n) == ("batch means (4 batches)", 4)


def test_batch_means_with_an_empty_batch_or_one_batch_has_no_interval():
    """A NaN batch (no completed request) or a single batch: NaN ends, with the reason."""
    empty = batch_means_interval([1.0, math.nan, 2.0], 1.5)
    assert math.isnan(empty.high) and "1 of 3 batches have no value" in empty.reason
    one = batch_means_interval([1.0], 1.0)
    assert math.isnan(one.low) and "no spread" in one.reason


def test_interval_text_and_membership():
    """str gives the estimate to 5 digits and the ends to 4; contains is inclusive."""
    interval = Interval(11.2149, 11.1, 11.3349, "batch means (20 batches)", 20)
    assert str(interval) == "11.215 [11.1, 11.33]"
    assert interval.contains(11.1) and interval.contains(11.3349)
    assert not interval.contains(11.0)
    assert not Interval.missing(1.0, "x", 0, "why").contains(1.0)


def test_an_exact_quantity_has_a_zero_width_interval():
    """Interval.exact: low = high = estimate, method exact."""
    interval = Interval.exact(4.5)
    assert (interval.low, interval.high, interval.half_width, interval.method) == (
        4.5, 4.5, 0.0, "exact")  # fmt: skip
