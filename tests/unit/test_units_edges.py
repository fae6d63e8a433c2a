"""Units at their edges: memory amounts (``--max-memory``), durations as shown to users, and
the wording of the did-you-mean hint."""

from __future__ import annotations

import pytest

from sim.scenario.base import did_you_mean
from sim.scenario.units import format_duration, parse_bytes, parse_duration_s


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1B", 1),
        ("512MB", 512e6),
        ("16GB", 16e9),
        ("2GiB", 2 * 2**30),
        ("1.5 KiB", 1536),
        ("3TB", 3e12),
    ],
)
def test_parse_bytes_converts_each_unit(text, expected):
    """An amount with its unit is that many bytes (decimal and binary prefixes)."""
    assert parse_bytes(text) == expected


@pytest.mark.parametrize(
    "text,message",
    [
        ("0GB", "expected a positive amount, got '0GB'"),
        ("0.0B", "expected a positive amount, got '0.0B'"),
        ("16", "an amount of memory needs a unit: write e.g. '16GB' (got '16')"),
        ("16 parsecs", "unknown unit 'parsecs' in '16 parsecs'; expected an amount of memory"),
        ("-1GB", "expected an amount of memory such as 512MB, 16GB or 2GiB"),
    ],
)
def test_parse_bytes_refuses_with_the_reason(text, message):
    """Zero, a missing or unknown unit and malformed text are refused, quoting the input."""
    with pytest.raises(ValueError) as error:
        parse_bytes(text)
    assert str(error.value).startswith(message)


@pytest.mark.parametrize(
    "seconds,text",
    [
        (7200.0, "2h"),
        (90.0, "1.5m"),
        (60.0, "1m"),
        (1.0, "1s"),
        (1.5, "1.5s"),
        (0.25, "250ms"),
        (1e-3, "1ms"),
        (1e-6, "1us"),
        (2.5e-5, "25us"),
        (5e-7, "500ns"),
        (0.0, "0ns"),
    ],
)
def test_format_duration_picks_the_largest_readable_unit(seconds, text):
    """The largest unit in which the value is at least 1, so 1 s reads "1s", not "1000ms"."""
    assert format_duration(seconds) == text


def test_did_you_mean_names_the_closest_choice_or_nothing():
    """A close word gets the hint; a word close to nothing gets an empty string."""
    assert did_you_mean("max_bach", ["max_batch", "max_wait"]) == " (did you mean 'max_batch'?)"
    assert did_you_mean("qqqq", ["max_batch", "max_wait"]) == ""


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("3µs", 3e-6),
        ("7ns", 7e-9),
        ("2min", 120.0),
        (" 5 ms ", 5e-3),
        ("1E2ms", 0.1),
        (".5s", 0.5),
        (0.0, 0.0),
        ("0.0", 0.0),
    ],
)
def test_parse_duration_every_spelling(text, seconds):
    """Every unit the help lists (and µs, min), spaces, exponents, a bare zero."""
    assert parse_duration_s(text) == pytest.approx(seconds, rel=1e-15)


H = "a duration such as 250us, 2ms, 1.5s, 5m, 1h (units: ns, us, ms, s, m, h, d)"


@pytest.mark.parametrize(
    "value,message",
    [
        (-1, "a duration must be finite and non-negative, got -1"),
        (float("nan"), "a duration must be finite and non-negative, got nan"),
        (float("inf"), "a duration must be finite and non-negative, got inf"),
        ("1e400s", "a duration must be finite and non-negative, got '1e400s'"),
        (1, "a duration needs a unit: write e.g. '1s' or '1ms' (got 1; only 0 may be written "
         "without one)"),
        (" 2 ", "a duration needs a unit: write e.g. '2s' or '2ms' (got ' 2 '; only 0 may be "
         "written without one)"),
        ("5x", f"unknown unit 'x' in '5x'; expected {H}"),
        ("-1s", f"expected {H}, got '-1s'"),
        (True, f"expected {H}, got True"),
        (None, f"expected {H}, got None"),
    ],
)  # fmt: skip
def test_parse_duration_refusals_say_why(value, message):
    """Each refusal is one exact sentence quoting the value."""
    with pytest.raises(ValueError) as error:
        parse_duration_s(value)
    assert str(error.value) == message
