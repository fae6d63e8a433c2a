"""Parsing of quantities written with units in scenario files.

Durations are written as ``"250us"``, ``"2ms"``, ``"1.5s"``, ``"5m"``, ``"1h"`` or ``"2d"``
and converted once, at load time, to seconds (float). ``parse_duration_s`` itself reads a
number, or a string without a unit, as seconds; scenario fields refuse a bare number
(``sim.scenario.base.Duration``: every duration needs its unit, only 0 may be bare).
"""

import math
import re

_DURATION_UNITS_S = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_DURATION_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zµ]+)?\s*$")

DURATION_HELP = "a duration such as 250us, 2ms, 1.5s, 5m, 1h (units: ns, us, ms, s, m, h, d)"


def parse_duration_s(value: object) -> float:
    """Convert a duration written with units to seconds.

    Args:
        value: ``"2ms"``-style string, or a number of seconds.

    Returns:
        The duration in seconds.

    Raises:
        ValueError: the value is not a finite non-negative duration with a known unit.

    """
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION_RE.match(value)
        if not match:
            raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
        number, unit = match.groups()
        unit = unit or "s"
        if unit not in _DURATION_UNITS_S:
            raise ValueError(f"unknown unit {unit!r} in {value!r}; expected {DURATION_HELP}")
        seconds = float(number) * _DURATION_UNITS_S[unit]
    else:
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be finite and non-negative, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Render a duration in seconds with the largest unit that keeps it readable."""
    for unit, scale in (("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:g}{unit}"
    return f"{seconds * 1e9:g}ns"
