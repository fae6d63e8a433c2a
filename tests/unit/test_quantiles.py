"""Streaming exact percentiles equal numpy's, in any chunking, with few or many ties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.quantiles import StreamingPercentiles

Q = (0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0)


def streamed(values, chunk):
    sp = StreamingPercentiles()
    for i in range(0, len(values), chunk):
        sp.add(values[i : i + chunk])
    if sp.plan_second_pass(Q):
        for i in range(0, len(values), chunk):
            sp.keep(values[i : i + chunk])
    return sp


@pytest.mark.parametrize("kind", ["lognormal", "ties", "mixed", "tiny"])
def test_matches_numpy_percentile(kind):
    """Same answers as numpy.percentile (linear) on continuous, tied and mixed data."""
    rng = np.random.default_rng(1)
    values = {
        "lognormal": rng.lognormal(-6, 1, 200_001),
        "ties": np.repeat([0.009365, 0.0074, 0.011], [50_000, 30_000, 7]),
        "mixed": np.concatenate([rng.exponential(0.002, 10_000), np.full(10_000, 0.005)]),
        "tiny": np.array([0.003]),
    }[kind]
    rng.shuffle(values)
    sp = streamed(values, 4096)
    assert sp.percentiles(Q) == pytest.approx(np.percentile(values, Q), rel=1e-12, abs=0)
    assert sp.mean == pytest.approx(values.mean(), rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1e3, allow_nan=False), min_size=1, max_size=300), st.integers(1, 50))
def test_any_values_any_chunking(values, chunk):
    """Property: any non-negative values, any chunk size: equals numpy."""
    arr = np.array(values)
    sp = streamed(arr, chunk)
    assert sp.percentiles(Q) == pytest.approx(np.percentile(arr, Q), rel=1e-12, abs=1e-300)


def test_empty_is_nan():
    """No values: NaN percentiles and mean."""
    sp = StreamingPercentiles()
    assert sp.plan_second_pass(Q) is False
    assert all(np.isnan(sp.percentiles(Q))) and np.isnan(sp.mean)
