"""The streaming percentiles' bins: values at both ends of the binned range stay exact, and
the second pass keeps only the few bins that hold the wanted order statistics."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.quantiles import StreamingPercentiles

Q = (0.0, 50.0, 90.0, 99.0, 99.9, 100.0)


def two_passes(values: np.ndarray) -> StreamingPercentiles:
    sp = StreamingPercentiles()
    sp.add(values)
    if sp.plan_second_pass(Q):
        sp.keep(values)
    return sp


def test_values_beyond_the_binned_range_stay_exact():
    """Below 1 ns and above 1e7 s values go to the end bins, and the answers stay exact."""
    values = np.array([0.0, 1e-12, 5e-10, 2e-9, 0.5, 3e7, 1e8, 1e9])
    sp = two_passes(values)
    assert sp.percentiles(Q) == pytest.approx(np.percentile(values, Q), rel=1e-12)
    assert sp.percentiles(Q)[0] == 0.0 and sp.percentiles(Q)[-1] == 1e9


def test_the_second_pass_keeps_a_few_values_not_the_stream():
    """Memory follows the bins: for 100,000 distinct latencies between 1 ms and 1 s the
    second pass keeps well under 1% of them."""
    values = np.random.default_rng(3).uniform(1e-3, 1.0, 100_000)
    sp = two_passes(values)
    kept = sum(part.size for parts in sp._kept.values() for part in parts)
    assert 0 < kept < 1000
    assert sp.percentiles(Q) == pytest.approx(np.percentile(values, Q), rel=1e-12)
