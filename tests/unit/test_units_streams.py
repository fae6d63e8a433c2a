"""Durations with units, and named random streams."""

from __future__ import annotations

import numpy as np
import pytest

from sim.scenario.units import format_duration, parse_duration_s
from sim.streams import STREAM_ID, stream


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("250us", 250e-6),
        ("2ms", 2e-3),
        ("1.5s", 1.5),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("2d", 172800.0),
        ("0", 0.0),
        (0, 0.0),
        ("0.0", 0.0),
        ("100ns", 1e-7),
        ("1e3ms", 1.0),
    ],
)
def test_parse_duration(text, seconds):
    """Each unit converts to seconds once, at load."""
    assert parse_duration_s(text) == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize("bad", ["", "ms", "5 parsecs", "-1s", "1..2s", None, True, "nan", [1]])
def test_parse_duration_rejects(bad):
    """Malformed, negative or unit-less garbage is a ValueError that quotes the input."""
    with pytest.raises(ValueError):
        parse_duration_s(bad)


@pytest.mark.parametrize("bare", ["2", "10", " 1e-3 ", "0.5", 3, 0.25, 1e1])
def test_a_duration_without_its_unit_is_refused(bare):
    """Every duration needs its unit, written as a number or as text; only 0 may be bare."""
    with pytest.raises(ValueError, match="needs a unit"):
        parse_duration_s(bare)


def test_format_duration_round_trips():
    """format_duration output parses back to the same value."""
    for value in (2e-3, 1.5, 300.0, 7200.0, 250e-6):
        assert parse_duration_s(format_duration(value)) == pytest.approx(value)


def test_streams_are_named_and_independent():
    """Same name and index give the same numbers; different names or replications differ."""
    a = stream(1, "arrivals").random(5)
    assert np.array_equal(a, stream(1, "arrivals").random(5))
    assert not np.array_equal(a, stream(1, "mix").random(5))
    assert not np.array_equal(a, stream(1, "arrivals", replication=1).random(5))
    assert not np.array_equal(stream(1, "pool", 0).random(5), stream(1, "pool", 1).random(5))
    assert not np.array_equal(a, stream(2, "arrivals").random(5))


def test_stream_ids_are_append_only():
    """Existing stream ids never change (changing one would change every trace)."""
    fixed = {"arrivals": 0, "mix": 1, "seq_len": 2, "balancer": 3, "pool": 4, "trace_sample": 5}
    assert list(STREAM_ID.items())[: len(fixed)] == list(fixed.items())
